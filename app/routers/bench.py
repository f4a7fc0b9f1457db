"""Benchmark-only baseline: the ticket list without authorization.

Mounted only when BENCH_ROUTES is on, which the settings refuse outside development. It
authenticates like every route, then runs the handler's query with no facts and no
compilation (the caller's filter, when the benchmark passes one, arrives already compiled),
through the same typed documents and presenters as `GET /tickets`, so `make bench`
measures what authorization adds and nothing else.
"""

from typing import Annotated, Any

from bson import ObjectId, json_util
from fastapi import APIRouter, Query

from app.deps import CurrentUser
from app.presenters import ticket_out
from app.schemas import ObjectIdStr, TicketPage
from authz.listing import conjoin
from models import Ticket

router = APIRouter(prefix="/bench", tags=["bench"], include_in_schema=False)


@router.get("/tickets-unauthorized", response_model=TicketPage)
async def tickets_unauthorized(
    _: CurrentUser,
    company_id: Annotated[ObjectIdStr | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    compiled: Annotated[str | None, Query(alias="filter", max_length=4000)] = None,
) -> TicketPage:
    """The same query as `GET /tickets`, minus the caller's facts and the compilation of
    their filter (`filter`: one compiled beforehand, as MongoDB extended JSON)."""
    query: dict[str, Any] = {"company": ObjectId(company_id)} if company_id else {}
    if compiled is not None:
        query = conjoin(json_util.loads(compiled), query)
    raw = (
        await Ticket.get_pymongo_collection().find(query).sort([("_id", -1)]).limit(limit).to_list()
    )
    tickets = [Ticket.model_validate(d) for d in raw]
    cursor = str(tickets[-1].id) if len(tickets) == limit else None
    return TicketPage(items=[ticket_out(t, True) for t in tickets], next_cursor=cursor)
