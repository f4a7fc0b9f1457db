"""Registration, sign-in, tokens and identity, including every bad-input case."""

import time

import httpx
import jwt
import pytest

from app.config import Settings
from tests.utils.factories import PASSWORD, World
from tests.utils.tokens import claims, hmac_signed

GOOD = {"username": "lisa", "email": "Lisa@Acme.example", "password": "correct-horse-1"}


async def register(client: httpx.AsyncClient, **overrides: str) -> httpx.Response:
    return await client.post("/auth/register", json=GOOD | overrides)


async def test_register_login_me(client: httpx.AsyncClient) -> None:
    r = await register(client)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["email"] == "lisa@acme.example"
    assert set(body) == {"id", "username", "email"}

    r = await client.post(
        "/auth/login", json={"email": "LISA@acme.example", "password": GOOD["password"]}
    )
    assert r.status_code == 200, r.text
    token = r.json()
    assert token["token_type"] == "bearer"
    assert token["expires_in"] > 0

    r = await client.get("/auth/me", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert r.status_code == 200
    assert r.json() == {
        "id": body["id"],
        "username": "lisa",
        "email": "lisa@acme.example",
        "memberships": [],
    }


async def test_oauth2_form_token(client: httpx.AsyncClient) -> None:
    await register(client)
    r = await client.post(
        "/auth/token", data={"username": "lisa@acme.example", "password": GOOD["password"]}
    )
    assert r.status_code == 200, r.text
    assert r.json()["token_type"] == "bearer"
    r = await client.post("/auth/token", data={"username": "lisa", "password": "x"})
    assert r.status_code == 422


async def test_me_lists_memberships(client: httpx.AsyncClient, world: World) -> None:
    mark = await world.user("mark")
    acme = await world.company("Acme Corp")
    await world.member(acme, mark, "agent")
    r = await client.get("/auth/me", headers=world.auth(mark))
    assert r.json()["memberships"] == [
        {
            "company_id": str(acme.id),
            "company_name": "Acme Corp",
            "role": "agent",
            "ticket_access": "all",
        }
    ]


@pytest.mark.parametrize("field", ["username", "email"])
async def test_duplicate_is_409(client: httpx.AsyncClient, field: str) -> None:
    assert (await register(client)).status_code == 201
    other = {"username": "other", "email": "other@acme.example"}
    other.pop(field)
    r = await register(client, **other)
    assert r.status_code == 409
    assert field in r.json()["detail"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"password": "short"}, "password"),
        ({"password": "123456789"}, "password"),
        ({"username": ""}, "username"),
    ],
)
async def test_invalid_registration_is_422(
    client: httpx.AsyncClient, overrides: dict[str, str], field: str
) -> None:
    r = await register(client, **overrides)
    assert r.status_code == 422
    assert r.json()["code"] == "invalid"
    assert any(err["loc"][-1] == field for err in r.json()["errors"])


async def test_unknown_field_is_422(client: httpx.AsyncClient) -> None:
    r = await client.post("/auth/register", json=GOOD | {"is_admin": True})
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["body", "is_admin"]
    assert r.json()["detail"].startswith("body.is_admin: ")


async def test_bad_credentials_do_not_say_which(client: httpx.AsyncClient) -> None:
    await register(client)
    wrong_password = await client.post(
        "/auth/login", json={"email": GOOD["email"], "password": "wrong-password"}
    )
    unknown_email = await client.post(
        "/auth/login", json={"email": "nobody@acme.example", "password": GOOD["password"]}
    )
    assert wrong_password.status_code == unknown_email.status_code == 401
    assert wrong_password.json() == unknown_email.json()


async def test_bad_tokens_are_401(
    client: httpx.AsyncClient, world: World, settings: Settings
) -> None:
    user = await world.user("mark")
    good = world.token(user)
    key = settings.secret_key
    sub = str(user.id)
    header, payload, signature = good.split(".")
    tampered_payload = jwt.encode(
        claims(settings, sub=sub), "another-secret-of-enough-length-x", algorithm="HS256"
    ).split(".")[1]
    unsigned = jwt.encode(claims(settings, sub=sub), key, algorithm="HS256").rsplit(".", 1)[0]
    none_header = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0"  # {"alg":"none","typ":"JWT"}
    cases = {
        "missing": None,
        "garbage": "not-a-token",
        "tampered payload": f"{header}.{tampered_payload}.{signature}",
        "tampered signature": f"{header}.{payload}.{signature[:-2]}xx",
        "alg none": f"{none_header}.{payload}.",
        "no signature": unsigned + ".",
        "expired": jwt.encode(
            claims(settings, sub=sub, exp=int(time.time()) - 5), key, algorithm="HS256"
        ),
        "not yet valid": jwt.encode(
            claims(settings, sub=sub, nbf=int(time.time()) + 600), key, algorithm="HS256"
        ),
        "wrong issuer": jwt.encode(claims(settings, sub=sub, iss="evil"), key, algorithm="HS256"),
        "wrong audience": jwt.encode(
            claims(settings, sub=sub, aud="other"), key, algorithm="HS256"
        ),
        "HS512": hmac_signed(claims(settings, sub=sub), key, algorithm="HS512"),
        "no exp": jwt.encode(
            {k: v for k, v in claims(settings, sub=sub).items() if k != "exp"},
            key,
            algorithm="HS256",
        ),
        "unknown user": jwt.encode(claims(settings), key, algorithm="HS256"),
        "sub not an id": jwt.encode(claims(settings, sub="admin"), key, algorithm="HS256"),
    }
    assert (
        await client.get("/auth/me", headers={"Authorization": f"Bearer {good}"})
    ).status_code == 200
    for name, token in cases.items():
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        r = await client.get("/auth/me", headers=headers)
        assert r.status_code == 401, name
        assert r.headers["www-authenticate"] == "Bearer", name


async def test_deleted_user_token_is_401(client: httpx.AsyncClient, world: World) -> None:
    user = await world.user()
    headers = world.auth(user)
    await user.delete()
    assert (await client.get("/auth/me", headers=headers)).status_code == 401


async def test_password_hash_never_returned(client: httpx.AsyncClient, world: World) -> None:
    user = await world.user("emma")
    r = await client.post("/auth/login", json={"email": user.email, "password": PASSWORD})
    r = await client.get(
        "/auth/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"}
    )
    assert "argon2" not in r.text and "password" not in r.text


async def test_health(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    r = await client.get("/readyz")
    assert r.status_code == 200 and r.json()["status"] == "ready"
