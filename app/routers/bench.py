"""Benchmark-only baselines of the ticket list: what authorization adds, and what the whole
stack adds.

Mounted only when BENCH_ROUTES is on, which the settings refuse outside development.

- `GET /bench/tickets-unauthorized` (`authz_overhead`) authenticates like every route, then
  runs the handler's query with no facts and no compilation (the caller's filter, when the
  benchmark passes one, arrives already compiled), through the same presenters as `GET
  /tickets`: what authorization adds, and nothing else.
- `GET /bench/tickets-raw` (`api_cpu_ratio`) is the floor of the request path: the same
  precompiled filter sent through PyMongo and the documents encoded with orjson, with no
  authentication, validation or authorization.
"""

import functools
from typing import Annotated, Any

import orjson
from bson import ObjectId, json_util
from fastapi import APIRouter, Query, Response

from app.deps import CurrentUser
from app.presenters import tickets_out
from app.schemas import ObjectIdStr, TicketPage
from authz.listing import conjoin
from models import Ticket

router = APIRouter(prefix="/bench", tags=["bench"], include_in_schema=False)

Compiled = Annotated[str | None, Query(alias="filter", max_length=4000)]
Projection = Annotated[str | None, Query(max_length=4000)]


@functools.lru_cache(maxsize=64)
def _precompiled(text: str) -> dict[str, Any]:
    """A filter or projection compiled beforehand, as MongoDB extended JSON: parsed once,
    as a compiled filter would be cached."""
    parsed: dict[str, Any] = json_util.loads(text)
    return parsed


def _query(company_id: str | None, compiled: str | None, cached: bool) -> dict[str, Any]:
    query: dict[str, Any] = {"company": ObjectId(company_id)} if company_id else {}
    if compiled is None:
        return query
    allowed = _precompiled(compiled) if cached else json_util.loads(compiled)
    return conjoin(allowed, query)


async def _newest(
    query: dict[str, Any], projection: str | None, limit: int
) -> list[dict[str, Any]]:
    fields = _precompiled(projection) if projection is not None else None
    found = Ticket.get_pymongo_collection().find(query, fields)
    return await found.sort([("_id", -1)]).limit(limit).to_list()


@router.get("/tickets-unauthorized", response_model=TicketPage)
async def tickets_unauthorized(
    _: CurrentUser,
    compiled: Compiled = None,
    projection: Projection = None,
    company_id: Annotated[ObjectIdStr | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> TicketPage:
    """The same query as `GET /tickets`, minus the caller's facts and the compilation of
    their filter (`filter` and `projection`: compiled beforehand, as MongoDB extended
    JSON)."""
    raw = await _newest(_query(company_id, compiled, cached=False), projection, limit)
    cursor = str(raw[-1]["_id"]) if len(raw) == limit else None
    return TicketPage(items=tickets_out(raw, lambda _: True), next_cursor=cursor)


@router.get("/tickets-raw")
async def tickets_raw(
    compiled: Compiled = None,
    projection: Projection = None,
    company_id: str | None = None,
    limit: int = 50,
) -> Response:
    """The documents `GET /tickets` would answer, as PyMongo decodes them, in orjson."""
    raw = await _newest(_query(company_id, compiled, cached=True), projection, limit)
    cursor = str(raw[-1]["_id"]) if len(raw) == limit else None
    body = orjson.dumps({"items": raw, "next_cursor": cursor}, default=str)
    return Response(body, media_type="application/json")


@router.post("/pdp/allowed")
async def constant_verdict() -> Response:
    """The floor of `pdp_p50_vs_floor`: the Permit SDK's check, answered with a constant
    verdict (the SDK, HTTP and the framework, with no decision and no body read)."""
    return Response(_CONSTANT_VERDICT, media_type="application/json")


_CONSTANT_VERDICT = orjson.dumps({"allow": True, "reason": "constant"})
