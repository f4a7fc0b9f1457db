"""Webhooks from the identity provider: sign-ups become local accounts.

Mounted only when `LOGTO_WEBHOOK_SIGNING_KEY` is set. The signature is checked over the
raw bytes before anything is parsed; then the delivery's freshness; then the event, which
is synced if it is a sign-up and acknowledged (2xx, nothing done) if it is anything else,
or a sample from the console's "Send test payload".

A failure is answered with its real status (400, 401, 503), not the 200 Logto's guide
suggests: a 503 leaves nothing behind, so the retries recent Logto versions make after a
5xx are processed as new deliveries; and every failure shows in the webhook's recent
requests in the Logto console, where an operator sees what to re-sync (the sync is safe
to run again: docs/identity-provider.md, "Re-syncing a user").
"""

from typing import Annotated

from fastapi import APIRouter, Header, Request

from app import logto
from app.deps import SettingsDep, get_database
from app.openapi import error_responses
from app.schemas import WebhookOut
from app.services import idp_users
from models import utcnow

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

_EXAMPLE = {
    "hookId": "k9b7fa2mwsp1",
    "event": "User.Created",
    "createdAt": "2026-05-04T09:30:00.000Z",
    "data": {"id": "u7fq2ksl0a9x", "username": "nina", "primaryEmail": "nina@initech.example"},
}


@router.post(
    "/logto",
    response_model=WebhookOut,
    summary="Logto webhook: sync sign-ups",
    responses=error_responses(400, 401, 409),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "description": "A Logto webhook payload (PostRegister, User.Created, ...)",
                        "examples": [_EXAMPLE],
                    }
                }
            },
        }
    },
)
async def logto_webhook(
    request: Request,
    settings: SettingsDep,
    signature: Annotated[
        str | None,
        Header(
            alias=logto.SIGNATURE_HEADER,
            description="Lowercase hex HMAC-SHA256 of the raw body, keyed with the signing key",
        ),
    ] = None,
) -> WebhookOut:
    """Create the account of a `PostRegister` or `User.Created` event (once, whatever
    the number of deliveries); acknowledge other events without doing anything."""
    body = await request.body()
    key = settings.logto_webhook_signing_key
    assert key is not None  # noqa: S101 - the router is mounted only with a key
    logto.verify_signature(body, signature, key.get_secret_value())
    event = logto.read_event(body, utcnow())
    if logto.is_test(event):
        return WebhookOut(status="test", event=event.name)
    if event.name not in logto.SIGN_UP_EVENTS:
        return WebhookOut(status="ignored", event=event.name)
    sign_up = logto.sign_up(event)
    synced = await idp_users.sync_sign_up(get_database(request), event, sign_up, logto.digest(body))
    if synced is None:
        return WebhookOut(status="replayed", event=event.name)
    return WebhookOut(
        status="created" if synced.created else "already_synced",
        event=event.name,
        user_id=str(synced.user_id),
    )
