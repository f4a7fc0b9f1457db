"""Three interchangeable ways to list what a caller may see, for comparison.

- `pushdown` (the default): the caller's permissions compiled into the query itself; the
  database returns only what the caller may see, so cost follows the result size.
- `post`: fetch every document of the caller's companies, `check` each one in Python.
- `bulk`: the same fetch, decided with one `bulk_check` per batch.

All three return the same page for the same request; a property test holds them to it.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from bson import ObjectId
from pymongo.asynchronous.collection import AsyncCollection

from authz.engine import Engine, Principal

Strategy = Literal["pushdown", "bulk", "post"]
SortSpec = list[tuple[str, int]]
NEWEST_FIRST: SortSpec = [("_id", -1)]


@dataclass(frozen=True, slots=True)
class ListRequest:
    """One page request: the handler's own query, and where the page starts."""

    permission: str
    resource_type: str
    query: Mapping[str, Any]
    limit: int
    after: ObjectId | None = None
    projection: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Page:
    """A page of documents; `docs_received` counts what crossed the wire to produce it."""

    items: list[dict[str, Any]]
    next_cursor: ObjectId | None
    docs_received: int


class Lister(Protocol):
    """The shared interface of the strategies."""

    async def __call__(
        self,
        coll: AsyncCollection[dict[str, Any]],
        engine: Engine,
        principal: Principal,
        req: ListRequest,
    ) -> Page: ...


def conjoin(*clauses: Mapping[str, Any] | None) -> dict[str, Any]:
    """AND MongoDB filters, flattened into one document where their keys do not collide.

    Top-level keys of a filter are already ANDed; one flat document keeps the query shape
    (and its plan-cache entry) the same whether the clauses came as one filter or several,
    and reads as the index it is served by.
    """
    merged: dict[str, Any] = {}
    clashing: list[dict[str, Any]] = []
    for clause in clauses:
        if not clause:
            continue
        shared = merged.keys() & clause.keys()
        if any(merged[k] != clause[k] for k in shared):
            clashing.append(dict(clause))
        else:
            merged.update(clause)
    return {"$and": [merged, *clashing]} if clashing else merged


def _after(req: ListRequest) -> dict[str, Any] | None:
    return {"_id": {"$lt": req.after}} if req.after is not None else None


def _page(items: list[dict[str, Any]], limit: int, received: int) -> Page:
    # A full page may have a successor; fetching limit+1 to know for sure would make the
    # database send more documents than it returns, so the last page may come back empty.
    cursor = items[-1]["_id"] if len(items) == limit else None
    return Page(items, cursor, received)


async def pushdown(
    coll: AsyncCollection[dict[str, Any]], engine: Engine, principal: Principal, req: ListRequest
) -> Page:
    """AND the compiled permission filter into the query; the database does the rest."""
    allowed = engine.query_filter(principal, req.permission, req.resource_type)
    query = conjoin(allowed, req.query, _after(req))
    items = await coll.find(query, req.projection).sort(NEWEST_FIRST).limit(req.limit).to_list()
    return _page(items, req.limit, len(items))


def _candidates(
    coll: AsyncCollection[dict[str, Any]],
    engine: Engine,
    principal: Principal,
    req: ListRequest,
    batch: int,
) -> Any:
    tenant = engine.resource_type(req.resource_type).tenant
    companies = list(principal.roles)
    scope = {tenant: {"$in": companies}}
    return coll.find(conjoin(scope, req.query, _after(req)), req.projection, batch_size=batch).sort(
        NEWEST_FIRST
    )


async def post(
    coll: AsyncCollection[dict[str, Any]], engine: Engine, principal: Principal, req: ListRequest
) -> Page:
    """Fetch the caller's companies' documents and `check` each one."""
    items: list[dict[str, Any]] = []
    received = 0
    cursor = _candidates(coll, engine, principal, req, batch=max(req.limit, 100))
    async for doc in cursor:
        received += 1
        resource = engine.resource_of(req.resource_type, doc)
        if engine.check(principal, req.permission, resource).allowed:
            items.append(doc)
            if len(items) == req.limit:
                break
    await cursor.close()
    return _page(items, req.limit, received)


async def bulk(
    coll: AsyncCollection[dict[str, Any]], engine: Engine, principal: Principal, req: ListRequest
) -> Page:
    """Fetch the caller's companies' documents in batches; one `bulk_check` per batch."""
    size = max(req.limit * 4, 200)
    items: list[dict[str, Any]] = []
    received = 0
    cursor = _candidates(coll, engine, principal, req, batch=size)
    done = False
    while not done:
        batch = await cursor.to_list(size)
        if not batch:
            break
        received += len(batch)
        decisions = engine.bulk_check(
            principal,
            [(req.permission, engine.resource_of(req.resource_type, d)) for d in batch],
        )
        for doc, decision in zip(batch, decisions, strict=True):
            if decision.allowed:
                items.append(doc)
                if len(items) == req.limit:
                    done = True
                    break
    await cursor.close()
    return _page(items, req.limit, received)


STRATEGIES: dict[str, Lister] = {"pushdown": pushdown, "post": post, "bulk": bulk}
