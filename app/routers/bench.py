"""Benchmark-only baseline: the ticket list without authorization.

Mounted only when BENCH_ROUTES is on, which the settings refuse outside development. It
authenticates like every route, then runs the handler's query with no permission filter,
so `make bench` can measure what authorization adds to `GET /tickets`.
"""

from typing import Annotated, Any

from bson import ObjectId
from fastapi import APIRouter, Query

from app.deps import CurrentUser
from app.routers.tickets import render_ticket
from app.schemas import ObjectIdStr, TicketPage
from models import Ticket

router = APIRouter(prefix="/bench", tags=["bench"], include_in_schema=False)


@router.get("/tickets-unauthorized", response_model=TicketPage)
async def tickets_unauthorized(
    _: CurrentUser,
    company_id: Annotated[ObjectIdStr | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> TicketPage:
    """The same query as `GET /tickets`, minus the caller's facts and filter."""
    query: dict[str, Any] = {"company": ObjectId(company_id)} if company_id else {}
    docs = (
        await Ticket.get_pymongo_collection().find(query).sort([("_id", -1)]).limit(limit).to_list()
    )
    cursor = str(docs[-1]["_id"]) if len(docs) == limit else None
    return TicketPage(items=[render_ticket(d, True) for d in docs], next_cursor=cursor)
