"""The identity provider's access tokens, verified against a JWKS served on loopback.

Good ES384 and RS256 tokens; every hostile variant (wrong `aud` or issuer, expired, not
yet valid, unknown `kid`, HS256 keyed with the public key, `alg: none`, an ID token, a
curve that does not match the algorithm, a weak RSA key); an unknown subject; the local
tokens beside them; and the key-set cache: fetched once, refetched once on rotation, not
hammered by forged `kid`s, never blocking the event loop, 503 while unreachable.
"""

import asyncio
import json
import time
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from jwt.warnings import InsecureKeyLengthWarning

from app.oidc import parse_key_set
from models import User
from tests.api.idp.conftest import Idp
from tests.utils.factories import World
from tests.utils.idp import SigningKey, access_claims, encode, user_created
from tests.utils.tokens import b64url, hmac_signed

SUB = "u7fq2ksl0a9x"


async def sign_up(idp: Idp, sub: str = SUB, email: str = "nina@initech.example") -> str:
    """Sync `sub` through the webhook, as Logto would; return the local user id."""
    r = await idp.deliver(user_created(sub, username="nina", email=email))
    assert r.status_code == 200, r.text
    user_id: str = r.json()["user_id"]
    return user_id


async def me(idp: Idp, token: str) -> httpx.Response:
    return await idp.client.get("/auth/me", headers=idp.auth(token))


async def test_a_good_es384_token_is_the_synced_user(idp: Idp) -> None:
    user_id = await sign_up(idp)
    r = await me(idp, idp.token(SUB))
    assert r.status_code == 200, r.text
    assert r.json() == {
        "id": user_id,
        "username": "nina",
        "email": "nina@initech.example",
        "memberships": [],
    }


async def test_a_good_rs256_token_after_a_rotation_to_rsa(idp: Idp) -> None:
    await sign_up(idp)
    rsa_key = SigningKey.rs256()
    idp.jwks.publish(idp.key, rsa_key)
    assert (await me(idp, idp.token(SUB, key=rsa_key))).status_code == 200
    assert (await me(idp, idp.token(SUB))).status_code == 200


async def test_an_unsynced_subject_is_told_why(idp: Idp) -> None:
    r = await me(idp, idp.token("never-synced"))
    assert r.status_code == 401
    assert "sign-up sync" in r.json()["detail"] and "has not arrived" in r.json()["detail"]
    assert r.headers["www-authenticate"] == "Bearer"


def _signed_by_hand(header: dict[str, Any], payload: dict[str, Any], key: Any, digest: Any) -> str:
    """An ECDSA-signed JWT built without a JWT library, so nothing refuses to make it."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(encode(payload))}"
    r, s = utils.decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(digest)))
    size = (key.curve.key_size + 7) // 8
    return f"{signing_input}.{b64url(r.to_bytes(size, 'big') + s.to_bytes(size, 'big'))}"


async def test_hostile_tokens_are_401(idp: Idp) -> None:
    await sign_up(idp)
    issuer, key = idp.jwks.issuer, idp.key
    now = int(time.time())
    good = access_claims(issuer, SUB)
    public_pem = (
        key.private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    p256 = SigningKey.es256("p256-1")
    weak_rsa = SigningKey.rs256("rsa-1024", bits=1024)
    idp.jwks.publish(key, p256, weak_rsa)
    with pytest.warns(InsecureKeyLengthWarning):  # PyJWT signs it, under protest
        weak_rsa_token = weak_rsa.sign(good)
    header, payload, _ = idp.token(SUB).split(".")
    none_header = b64url(json.dumps({"alg": "none", "typ": "at+jwt", "kid": key.kid}).encode())
    missing = {
        claim: {k: v for k, v in good.items() if k != claim}
        for claim in ("exp", "iat", "aud", "sub")
    }
    cases = {
        "wrong aud": idp.token(SUB, aud="https://other-api.example"),
        "aud list without ours": idp.token(SUB, aud=["https://a.example", "https://b.example"]),
        "wrong issuer, same keys": idp.token(SUB, iss=issuer + "/other"),
        "issuer with a trailing slash": idp.token(SUB, iss=issuer + "/"),
        "expired": idp.token(SUB, iat=now - 7200, exp=now - 60),
        "not yet valid (nbf)": idp.token(SUB, nbf=now + 600),
        "issued in the future": idp.token(SUB, iat=now + 600),
        "unknown kid": key.sign(good, kid="no-such-key"),
        "no kid": jwt.encode(good, key.private, algorithm="ES384", headers={"typ": "at+jwt"}),
        "HS256 keyed with the public key": hmac_signed(
            good, public_pem, headers={"kid": key.kid, "typ": "at+jwt"}
        ),
        "HS256 keyed with the JWK": hmac_signed(
            good, json.dumps(key.jwk()), headers={"kid": key.kid, "typ": "at+jwt"}
        ),
        "alg none": f"{none_header}.{payload}.",
        "alg none with the signature": f"{none_header}.{payload}.{idp.token(SUB).split('.')[2]}",
        "an ID token (typ JWT)": key.sign(good, typ="JWT"),
        "no typ": jwt.encode(good, key.private, algorithm="ES384", headers={"kid": key.kid}),
        "ES384 header over a P-256 key": _signed_by_hand(
            {"alg": "ES384", "typ": "at+jwt", "kid": p256.kid}, good, p256.private, hashes.SHA384()
        ),
        "ES256 header, P-384 key's kid": _signed_by_hand(
            {"alg": "ES256", "typ": "at+jwt", "kid": key.kid}, good, key.private, hashes.SHA256()
        ),
        "RSA key of 1024 bits": weak_rsa_token,
        "signed by a key the provider does not publish": SigningKey.es384(key.kid).sign(good),
        "tampered payload": f"{header}.{b64url(encode(good | {'sub': 'someone-else'}))}."
        + idp.token(SUB).split(".")[2],
        **{f"no {claim}": key.sign(claims) for claim, claims in missing.items()},
    }
    assert (await me(idp, idp.token(SUB))).status_code == 200
    for name, token in cases.items():
        r = await me(idp, token)
        assert r.status_code == 401, (name, r.text)
        assert r.headers["www-authenticate"] == "Bearer", name
        assert "Traceback" not in r.text


async def test_local_tokens_work_beside_and_never_pass_as_the_providers(
    idp: Idp, world: World
) -> None:
    local = await world.user("sara")
    assert (await me(idp, world.token(local))).status_code == 200
    await sign_up(idp)
    synced = await User.find_one(User.idp_subject == SUB)
    assert synced is not None
    # A local HS256 token claiming the provider's issuer is routed there, and refused.
    forged = world.token(synced)  # a valid local token for the synced account...
    parts = jwt.decode(forged, options={"verify_signature": False})
    as_idp = hmac_signed(parts | {"iss": idp.jwks.issuer, "sub": SUB}, world.settings.secret_key)
    assert (await me(idp, as_idp)).status_code == 401
    # ...while the provider's token claiming the local issuer is routed to the local path.
    as_local = idp.token(SUB, iss=world.settings.jwt_issuer, aud=world.settings.jwt_audience)
    assert (await me(idp, as_local)).status_code == 401
    assert (await me(idp, forged)).status_code == 200  # local tokens of synced users: fine


async def test_the_key_set_is_fetched_once_and_refetched_on_rotation(idp: Idp) -> None:
    await sign_up(idp)
    for _ in range(3):
        assert (await me(idp, idp.token(SUB))).status_code == 200
    assert idp.jwks.fetches == 1
    rotated = SigningKey.es384("es384-2")
    idp.jwks.publish(idp.key, rotated)
    assert (await me(idp, idp.token(SUB, key=rotated))).status_code == 200
    assert idp.jwks.fetches == 2
    assert (await me(idp, idp.token(SUB, key=rotated))).status_code == 200
    assert idp.jwks.fetches == 2


async def test_forged_kids_refetch_once_per_cooldown(idp: Idp) -> None:
    await sign_up(idp)
    assert (await me(idp, idp.token(SUB))).status_code == 200
    bogus = [
        idp.key.sign(access_claims(idp.jwks.issuer, SUB), kid=f"forged-{i}") for i in range(20)
    ]
    responses = await asyncio.gather(*(me(idp, t) for t in bogus))
    assert {r.status_code for r in responses} == {401}
    assert idp.jwks.fetches == 2  # the first fetch, and one refetch for all twenty
    assert "does not publish" in responses[0].json()["detail"]
    # A key rotated in during the cool-down waits for it to end (then is fetched once).
    rotated = SigningKey.es384("es384-2")
    idp.jwks.publish(idp.key, rotated)
    assert (await me(idp, idp.token(SUB, key=rotated))).status_code == 401
    assert idp.jwks.fetches == 2
    idp.app.state.idp.keys._unknown_kid_refetch_at = 0.0  # the cool-down has passed
    assert (await me(idp, idp.token(SUB, key=rotated))).status_code == 200
    assert idp.jwks.fetches == 3


async def test_fetching_the_key_set_never_blocks_the_event_loop(idp: Idp) -> None:
    """The provider answers slowly: meanwhile other requests are served at once, and the
    requests waiting for the keys share one fetch."""
    await sign_up(idp)
    idp.jwks.delay = 0.6
    waiting = asyncio.gather(*(me(idp, idp.token(SUB)) for _ in range(5)))
    await asyncio.sleep(0.1)  # the fetch is in flight
    started = time.perf_counter()
    assert (await idp.client.get("/healthz")).status_code == 200
    assert time.perf_counter() - started < 0.3
    assert not waiting.done()
    assert {r.status_code for r in await waiting} == {200}
    assert idp.jwks.fetches == 1


@pytest.mark.parametrize("failure", ["status", "not a key set"])
async def test_an_unreachable_key_set_is_503_then_recovers(idp: Idp, failure: str) -> None:
    await sign_up(idp)
    if failure == "status":
        idp.jwks.status = 500
    else:
        idp.jwks.publish()  # an empty key set: nothing usable
    r = await me(idp, idp.token(SUB))
    assert r.status_code == 503, r.text
    assert r.json()["code"] == "identity_provider_unavailable"
    assert int(r.headers["retry-after"]) >= 1
    # Within the cool-down, no new attempt: the provider is not hammered while it is down.
    assert (await me(idp, idp.token(SUB))).status_code == 503
    assert idp.jwks.fetches == 1
    idp.jwks.status = 200
    idp.jwks.publish(idp.key)
    idp.app.state.idp.keys._retry_at = 0.0  # the cool-down has passed
    assert (await me(idp, idp.token(SUB))).status_code == 200
    assert idp.jwks.fetches == 2


async def test_local_sign_in_is_unchanged_with_a_provider(idp: Idp, world: World) -> None:
    user = await world.user("sara")
    r = await idp.client.post(
        "/auth/login", json={"email": user.email, "password": "demo-pass-2026"}
    )
    assert r.status_code == 200
    assert (await me(idp, r.json()["access_token"])).status_code == 200
    assert idp.jwks.fetches == 0  # local tokens never touch the provider


def test_only_usable_signing_keys_are_kept() -> None:
    """RFC 7517: a reader skips the keys it cannot use; a set with none usable is refused."""
    good = SigningKey.es384().jwk()
    unusable = [
        {"kty": "RSA", "kid": "no-modulus"},
        {"kty": "EC", "kid": "bad-point", "crv": "P-384", "x": "!!", "y": "??"},
        {
            "kty": "EC",
            "kid": "p521",
            **{k: v for k, v in good.items() if k in ("x", "y")},
            "crv": "P-521",
        },
        {"kty": "oct", "kid": "hmac", "k": b64url(b"secret")},
        SigningKey.es256("for-encryption").jwk() | {"use": "enc"},
        SigningKey.es256("declared-hs256").jwk() | {"alg": "HS256"},
        SigningKey.rs256("ps256").jwk() | {"alg": "PS256"},
        {k: v for k, v in SigningKey.es256().jwk().items() if k != "kid"},
        "not an object",
        None,
    ]
    assert list(parse_key_set({"keys": [*unusable, good]})) == [good["kid"]]
    for document in ({"keys": unusable}, {"keys": "all"}, [good], None):
        with pytest.raises(ValueError, match=r"no usable signing key|not a JWKS document"):
            parse_key_set(document)
