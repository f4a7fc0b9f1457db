"""`POST /webhooks/logto`: signed sign-ups become one local account each, and nothing else.

Signature (good, tampered, missing, wrong key), freshness, replay, both event shapes,
double deliveries, malformed bodies, name and address collisions with local accounts, and
a database failure in the middle of the sync.
"""

import asyncio
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pymongo.errors import AutoReconnect

from app.errors import Unauthorized
from app.logto import verify_signature
from models import User, WebhookDelivery
from tests.api.idp.conftest import Idp
from tests.utils.factories import PASSWORD, World
from tests.utils.idp import (
    WEBHOOK_KEY,
    encode,
    iso,
    post_register,
    sign_body,
    user_created,
)


async def synced(subject: str) -> list[User]:
    """The accounts synced for a provider user id."""
    return await User.find(User.idp_subject == subject).to_list()


async def test_a_signed_sign_up_creates_one_account(idp: Idp) -> None:
    r = await idp.deliver(
        post_register("u7fq2ksl0a9x", username="nina", email="Nina@Initech.example")
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "created" and body["event"] == "PostRegister"
    [user] = await synced("u7fq2ksl0a9x")
    assert str(user.id) == body["user_id"]
    assert (user.username, user.email, user.password_hash) == ("nina", "nina@initech.example", None)


async def test_signature_is_checked_over_the_raw_bytes(idp: Idp) -> None:
    body = encode(user_created("u1", username="nina", email="nina@initech.example"))
    good = sign_body(body)
    # The same JSON, re-serialised with spaces: equal as data, not as bytes.
    respaced = json.dumps(json.loads(body)).encode()
    cases = {
        "tampered body": (body.replace(b"nina@", b"mallory@"), good),
        "re-serialised body": (respaced, good),
        "tampered signature": (body, good[:-2] + ("00" if good[-2:] != "00" else "11")),
        "wrong key": (body, sign_body(body, key=WEBHOOK_KEY + "x")),
        "missing header": (body, ""),
        "not hex": (body, "g" * 64),
        "truncated": (body, good[:32]),
    }
    for name, (content, signature) in cases.items():
        r = await idp.deliver(content, signature=signature)
        assert r.status_code == 401, (name, r.text)
        assert r.json()["code"] == "unauthorized", name
    assert await User.find_all().to_list() == []
    assert (await idp.deliver(body, signature=good.upper())).status_code == 200


async def test_stale_or_future_deliveries_are_400(idp: Idp) -> None:
    now = datetime.now(UTC)
    for name, created_at in {
        "six minutes old": now - timedelta(minutes=6),
        "ten minutes ahead": now + timedelta(minutes=10),
    }.items():
        r = await idp.deliver(user_created("u1", email="a@b.example", created_at=created_at))
        assert r.status_code == 400, (name, r.text)
        assert r.json()["code"] == "malformed_request"
    for created_at_value in (None, "yesterday", 1714815000000, "2026-05-04T09:30:00"):
        payload = user_created("u1", email="a@b.example") | {"createdAt": created_at_value}
        r = await idp.deliver(payload)
        assert r.status_code == 400, (created_at_value, r.text)
        assert "createdAt" in r.json()["detail"]
    assert await User.find_all().to_list() == []
    # Within the window, and a few seconds ahead (clock skew): accepted.
    r = await idp.deliver(user_created("u2", created_at=now - timedelta(minutes=4)))
    assert r.json()["status"] == "created"
    r = await idp.deliver(user_created("u3", created_at=now + timedelta(seconds=5)))
    assert r.json()["status"] == "created"


async def test_a_replayed_delivery_does_nothing(idp: Idp) -> None:
    body = encode(post_register("u1", username="nina", email="nina@initech.example"))
    first = await idp.deliver(body)
    assert first.json()["status"] == "created"
    # A mark on the account (not an indexed field): the replays must leave it alone.
    marked = datetime(2020, 1, 1, tzinfo=UTC)
    await User.get_pymongo_collection().update_one(
        {"idp_subject": "u1"}, {"$set": {"updated_at": marked}}
    )
    for _ in range(3):
        again = await idp.deliver(body)
        assert again.status_code == 200
        assert again.json() == {"status": "replayed", "event": "PostRegister", "user_id": None}
    [user] = await synced("u1")
    assert user.updated_at == marked
    records = await WebhookDelivery.find_all().to_list()
    assert [r.subject for r in records] == ["u1"]
    # The record outlives the window in which the delivery is accepted, and not by much.
    created = datetime.fromisoformat(json.loads(body)["createdAt"])
    assert timedelta(minutes=5) < records[0].expires_at - created <= timedelta(minutes=7)


@pytest.mark.parametrize(
    "order", [("PostRegister", "User.Created"), ("User.Created", "PostRegister")]
)
async def test_both_events_of_one_sign_up_make_one_account(
    idp: Idp, order: tuple[str, str]
) -> None:
    shapes = {"PostRegister": post_register, "User.Created": user_created}
    statuses = []
    for event in order:
        r = await idp.deliver(shapes[event]("u1", username="nina", email="nina@initech.example"))
        assert r.status_code == 200, r.text
        statuses.append(r.json()["status"])
    assert statuses == ["created", "already_synced"]
    assert len(await synced("u1")) == 1


@pytest.mark.topologies
async def test_simultaneous_deliveries_make_one_account(idp: Idp) -> None:
    """Both events of a sign-up, each delivered several times, all at once."""
    bodies = [
        encode(shape("u1", username="nina", email="nina@initech.example"))
        for shape in (post_register, user_created)
    ]
    responses = await asyncio.gather(*(idp.deliver(b) for b in bodies * 5))
    assert {r.status_code for r in responses} == {200}, [r.text for r in responses]
    statuses = sorted(r.json()["status"] for r in responses)
    assert statuses.count("created") == 1
    assert statuses.count("replayed") == 8
    [user] = await synced("u1")
    assert user.username == "nina" and user.email == "nina@initech.example"
    assert {r.json()["user_id"] for r in responses} - {None} == {str(user.id)}


@pytest.mark.parametrize(
    "event", ["PostSignIn", "User.Deleted", "User.Data.Updated", "Role.Created"]
)
async def test_other_events_are_acknowledged_and_ignored(idp: Idp, event: str) -> None:
    r = await idp.deliver(user_created("u1", email="a@b.example") | {"event": event})
    assert r.status_code == 200
    assert r.json() == {"status": "ignored", "event": event, "user_id": None}
    assert await User.find_all().to_list() == []
    assert await WebhookDelivery.find_all().to_list() == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (b'"PostRegister"', "JSON object"),
        (encode({"createdAt": "2026-05-04T09:30:00.000Z"}), "event"),
    ],
    ids=["broken", "undecodable", "array", "string", "no event"],
)
async def test_malformed_bodies_are_400(idp: Idp, body: bytes, message: str) -> None:
    r = await idp.deliver(body)
    assert r.status_code == 400, r.text
    assert message in r.json()["detail"] and r.json()["code"] == "malformed_request"


@pytest.mark.parametrize(
    "mangle",
    [
        lambda p: p | {"data": {"username": "nina"}},
        lambda p: p | {"data": None},
        lambda p: p | {"data": {"id": 12345}},
        lambda p: p | {"data": {"id": ""}},
        lambda p: p | {"data": {"id": "../../etc/passwd"}},
        lambda p: p | {"data": {"id": {"$ne": None}}},
        lambda p: p | {"data": {"id": "x" * 129}},
    ],
    ids=["no id", "no data", "number", "empty", "path", "operator", "too long"],
)
async def test_a_missing_or_malformed_user_id_is_400(idp: Idp, mangle: object) -> None:
    payload = mangle(user_created("u1", email="a@b.example"))  # type: ignore[operator]
    r = await idp.deliver(payload)
    assert r.status_code == 400, r.text
    assert "user id" in r.json()["detail"]
    assert await User.find_all().to_list() == []
    assert await WebhookDelivery.find_all().to_list() == []


async def test_post_register_falls_back_on_user_id(idp: Idp) -> None:
    payload = post_register("u1", email="a@b.example")
    payload["user"].pop("id")
    assert (await idp.deliver(payload)).json()["status"] == "created"
    assert len(await synced("u1")) == 1


async def test_collisions_with_local_accounts_never_link_them(idp: Idp, world: World) -> None:
    """A local `lisa` exists. The provider's Lisa (same name, same address) gets an account
    of her own: the name gains her provider id, the address a placeholder, the local account
    is untouched. Deterministic: the same payload always yields the same account."""
    lisa = await world.user("lisa")
    r = await idp.deliver(post_register("lx01", username="lisa", email=lisa.email))
    assert r.json()["status"] == "created"
    [synced_lisa] = await synced("lx01")
    assert synced_lisa.id != lisa.id
    assert synced_lisa.username == "lisa:lx01"
    assert synced_lisa.email == "lx01@idp.invalid"
    local = await User.get(lisa.id)
    assert local is not None and local.idp_subject is None and local.username == "lisa"


async def test_names_and_addresses_when_the_payload_lacks_them(idp: Idp, world: World) -> None:
    await world.user("nina")  # takes the name the address would suggest
    cases = {
        # provider id: (username, email) sent -> (username, email) stored
        "p1": ((None, "Nina@Initech.example"), ("nina:p1", "nina@initech.example")),
        "p2": ((None, None), ("user", "p2@idp.invalid")),
        "p3": ((None, None), ("user:p3", "p3@idp.invalid")),
        "p4": (("bob", "not-an-address"), ("bob", "p4@idp.invalid")),
        "p5": (("ünï cøde/../x", "nina@initech.example"), ("ncde..x", "p5@idp.invalid")),
    }
    for subject, ((username, email), expected) in cases.items():
        r = await idp.deliver(user_created(subject, username=username, email=email))
        assert r.json()["status"] == "created", (subject, r.text)
        [user] = await synced(subject)
        assert (user.username, user.email) == expected, subject


async def test_synced_accounts_cannot_sign_in_with_a_password(
    idp: Idp, client: httpx.AsyncClient
) -> None:
    await idp.deliver(user_created("u1", username="nina", email="nina@initech.example"))
    bad = {"email": "nina@initech.example", "password": PASSWORD}
    unknown = bad | {"email": "nobody@initech.example"}
    for c in (idp.client, client):
        r = await c.post("/auth/login", json=bad)
        assert r.status_code == 401, r.text
        assert r.json() == (await c.post("/auth/login", json=unknown)).json()
        r = await c.post("/auth/token", data={"username": bad["email"], "password": "x"})
        assert r.status_code == 401


async def test_the_endpoint_is_off_without_a_signing_key(client: httpx.AsyncClient) -> None:
    body = encode(user_created("u1", email="a@b.example"))
    r = await client.post(
        "/webhooks/logto", content=body, headers={"logto-signature-sha-256": sign_body(body)}
    )
    assert r.status_code == 404
    assert await User.find_all().to_list() == []


@pytest.mark.topologies
async def test_a_failing_write_leaves_nothing_and_the_delivery_can_be_sent_again(
    idp: Idp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The account insert fails (the connection drops): 503, no account and no delivery
    record, so the very same delivery, sent again, is processed rather than taken for a
    replay."""
    users = User.get_pymongo_collection()
    original = users.insert_one
    failures = 0

    async def dropping(*args: object, **kwargs: object) -> object:
        nonlocal failures
        if not failures:
            failures += 1
            raise AutoReconnect("injected: connection dropped")
        return await original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(users, "insert_one", dropping)
    body = encode(post_register("u1", username="nina", email="nina@initech.example"))
    r = await idp.deliver(body)
    assert r.status_code == 503 and r.json()["code"] == "database_unavailable"
    assert await synced("u1") == []
    assert await WebhookDelivery.find_all().to_list() == []
    r = await idp.deliver(body)
    assert r.json()["status"] == "created"
    assert len(await synced("u1")) == 1


async def test_an_operator_resync_is_safe(idp: Idp) -> None:
    """README's re-sync: a fresh `User.Created` signed by hand. The account exists: nothing
    changes. It is missing (the sign-up's delivery failed): it is created."""
    first = await idp.deliver(user_created("u1", username="nina", email="nina@initech.example"))
    r = await idp.deliver(user_created("u1", email="nina@initech.example"))
    assert r.json() == {
        "status": "already_synced",
        "event": "User.Created",
        "user_id": first.json()["user_id"],
    }
    [user] = await synced("u1")
    assert user.username == "nina"
    assert (await idp.deliver(user_created("u2", email="o@initech.example"))).json()[
        "status"
    ] == "created"


async def test_webhook_is_documented(idp: Idp) -> None:
    op = idp.app.openapi()["paths"]["/webhooks/logto"]["post"]
    assert op["summary"] and op["tags"] == ["webhooks"]
    assert {"200", "400", "401", "413", "503"} <= set(op["responses"])
    assert op["requestBody"]["content"]["application/json"]["schema"]["examples"]
    assert any(p["name"] == "logto-signature-sha-256" for p in op["parameters"])


def test_signature_check_takes_any_header_bytes() -> None:
    """Header values arrive decoded as latin-1; a non-ASCII one is a bad signature, not a
    TypeError from `compare_digest`."""
    with pytest.raises(Unauthorized):
        verify_signature(b"{}", "\u00e9" * 64, WEBHOOK_KEY)


@pytest.mark.parametrize("event", ["PostRegister", "User.Created"])
async def test_the_consoles_test_payloads_are_verified_and_create_nothing(
    idp: Idp, event: str
) -> None:
    """The console's "Send test payload" signs samples about a user `fake-id` (shapes as
    in Logto's `generateHookTestPayload`): acknowledged, never an account."""
    now = iso(datetime.now(UTC))
    common: dict[str, object] = {"hookId": "hook-test-1", "event": event, "createdAt": now}
    if event == "PostRegister":
        payload = common | {
            "userAgent": "fake-user-agent",
            "sessionId": "fake-session-id",
            "userIp": "fake-user-ip",
            "userId": "fake-id",
            "user": {
                "id": "fake-id",
                "username": "fake-user",
                "primaryEmail": "fake-user@fake-service.com",
            },
        }
    else:
        payload = common | {
            "userAgent": "fake-user-agent",
            "path": "/fake-path/:id",
            "method": "POST",
            "status": 200,
            "params": {"id": "fake-id"},
            "data": {"result": "success"},
        }
    r = await idp.deliver(payload)
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "test", "event": event, "user_id": None}
    assert await User.find_all().to_list() == []
    r = await idp.deliver(
        payload, signature=sign_body(encode(payload), key="not-the-key-0123456789")
    )
    assert r.status_code == 401
