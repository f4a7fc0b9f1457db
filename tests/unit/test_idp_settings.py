"""The identity provider's settings refuse what would be unsafe or cannot work."""

import pytest
from pydantic import ValidationError

from app.config import Settings

STRONG = "s" * 48


def test_issuer_and_audience_go_together() -> None:
    with pytest.raises(ValidationError, match="OIDC_ISSUER and OIDC_AUDIENCE"):
        Settings(environment="production", jwt_secret=STRONG, oidc_issuer="https://t.example/oidc")
    with pytest.raises(ValidationError, match="OIDC_ISSUER and OIDC_AUDIENCE"):
        Settings(environment="production", jwt_secret=STRONG, oidc_audience="https://api")


def test_the_jwks_url_defaults_to_the_issuers() -> None:
    settings = Settings(
        environment="production",
        jwt_secret=STRONG,
        oidc_issuer="https://tenant.logto.app/oidc",
        oidc_audience="https://api.example",
    )
    assert settings.jwks_url == "https://tenant.logto.app/oidc/jwks"
    given = settings.model_copy(update={"oidc_jwks_url": "https://keys.example/jwks"})
    assert given.jwks_url == "https://keys.example/jwks"


@pytest.mark.parametrize(
    ("issuer", "jwks", "message"),
    [
        ("http://tenant.logto.app/oidc", None, "https"),
        ("https://tenant.logto.app/oidc", "http://keys.example/jwks", "https"),
        ("tenant.logto.app", None, "absolute URL"),
        ("ticketing", None, "must differ from JWT_ISSUER"),
    ],
)
def test_unsafe_or_unusable_issuers_are_refused(
    issuer: str, jwks: str | None, message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(
            environment="production",
            jwt_secret=STRONG,
            oidc_issuer=issuer,
            oidc_audience="https://api.example",
            oidc_jwks_url=jwks,
        )


def test_plain_http_is_for_development_only() -> None:
    settings = Settings(
        environment="development",
        jwt_secret=STRONG,
        oidc_issuer="http://127.0.0.1:3001/oidc",
        oidc_audience="https://api.example",
    )
    assert settings.jwks_url == "http://127.0.0.1:3001/oidc/jwks"


def test_a_truncated_webhook_key_is_refused() -> None:
    with pytest.raises(ValidationError, match="LOGTO_WEBHOOK_SIGNING_KEY"):
        Settings(environment="production", jwt_secret=STRONG, logto_webhook_signing_key="short")


def test_empty_variables_mean_off(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OIDC_ISSUER", "OIDC_AUDIENCE", "OIDC_JWKS_URL", "LOGTO_WEBHOOK_SIGNING_KEY"):
        monkeypatch.setenv(name, "")
    settings = Settings(environment="production", jwt_secret=STRONG)
    assert settings.oidc_issuer is None and settings.logto_webhook_signing_key is None


def test_variables_are_read_and_the_key_never_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    key = "whsec-" + "k" * 32
    monkeypatch.setenv("OIDC_ISSUER", "https://tenant.logto.app/oidc")
    monkeypatch.setenv("OIDC_AUDIENCE", "https://api.example")
    monkeypatch.setenv("LOGTO_WEBHOOK_SIGNING_KEY", key)
    monkeypatch.setenv("INVITATION_DAYS", "3")
    settings = Settings(environment="production", jwt_secret=STRONG)
    assert settings.oidc_issuer == "https://tenant.logto.app/oidc"
    assert settings.invitation_days == 3
    assert settings.logto_webhook_signing_key is not None
    assert settings.logto_webhook_signing_key.get_secret_value() == key
    assert key not in repr(settings)
