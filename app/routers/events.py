"""`GET /events`: the caller's live updates, as Server-Sent Events (`app/live.py` decides
who receives what)."""

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated

import jwt
from bson import ObjectId
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse

from app.deps import CallerDep, SettingsDep, get_database, oauth2_scheme
from app.errors import EventsUnavailable
from app.live import END, LiveHub, Subscriber
from app.openapi import error_responses
from app.schemas import ObjectIdStr
from authz.errors import NotFound

router = APIRouter(tags=["events"])

HEARTBEAT = b": keep-alive\n\n"


@router.get(
    "/events",
    summary="Live updates of the tickets the caller may read (Server-Sent Events)",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "The event stream"},
        **error_responses(401, 404, 422, 503),
    },
)
async def events(
    request: Request,
    caller: CallerDep,
    settings: SettingsDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
    company_id: Annotated[ObjectIdStr | None, Query()] = None,
    last_event_id: Annotated[str | None, Header(max_length=512)] = None,
) -> StreamingResponse:
    """`ticket.created`, `ticket.updated` (the ticket as `GET /tickets/{id}` shows it to the
    caller), `ticket.removed` (deleted, or no longer readable by the caller) and
    `access.changed` (the caller's own rights in a company changed), each with an `id` to
    resume from (`Last-Event-ID`); `reset` when that position is too old: reload. A comment
    line keeps an idle stream open; the stream ends when the token expires. 503
    `events_unavailable` on a server without change streams (a standalone server)."""
    db = get_database(request)
    if not db.supports_change_streams:
        raise EventsUnavailable(
            "live updates need change streams, which this database server does not have (a "
            "standalone server): run it as a replica set, or reload to see changes"
        )
    company = ObjectId(company_id) if company_id else None
    if company is not None and company not in caller.principal.roles:
        raise NotFound("company not found")
    hub: LiveHub = request.app.state.live
    subscriber = await hub.subscribe(
        caller.principal.user_id, caller.principal, company, last_event_id
    )
    expires = _expiry(token)
    return StreamingResponse(
        _stream(hub, subscriber, expires, settings.events_heartbeat_seconds),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _stream(
    hub: LiveHub, subscriber: Subscriber, expires: float, heartbeat: float
) -> AsyncIterator[bytes]:
    try:
        yield HEARTBEAT  # sent at once: the client knows the stream is open
        while True:
            left = expires - time.time()
            if left <= 0:
                return
            try:
                event = await asyncio.wait_for(subscriber.queue.get(), min(heartbeat, left))
            except TimeoutError:
                yield HEARTBEAT
                continue
            if event is END:
                return
            yield event.wire
    finally:
        hub.unsubscribe(subscriber)


def _expiry(token: str | None) -> float:
    """When the (already verified) bearer token expires, as a Unix time."""
    claims = jwt.decode(token or "", options={"verify_signature": False})
    return float(claims["exp"])
