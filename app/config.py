"""Service settings, read once from the environment (and `.env` in development)."""

import logging
import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal, Self
from urllib.parse import urlsplit

from pydantic import Field, FilePath, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from authz.listing import Strategy
from authz.policy import DEFAULT_POLICY_PATH

PLACEHOLDER_SECRETS = {"", "changeme", "change-me", "secret", "dev-secret"}
PDP_KEY_MIN_LENGTH = 16

# How far the identity provider's clock may be from ours: tokens it issues "now" and
# webhooks it signs "now" must not be refused because one clock runs a second ahead.
CLOCK_SKEW_SECONDS = 30
MIN_SECRET_LENGTH = 32

log = logging.getLogger("app")


def development_key(path: Path) -> str:
    """The signing key kept in `path`, created (readable by its owner only) when missing.

    Development only: tokens then survive a restart of the API, so a walkthrough can go on
    where it stopped. Two processes starting at once agree: only one can create the file.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text().strip()
        if len(key) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"{path} holds no usable development key: delete it and start again"
            ) from None
        return key
    key = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key


class Settings(BaseSettings):
    """Every knob of the service; each field is an environment variable of the same name."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    environment: Literal["development", "production"] = "production"
    mongodb_uri: str = "mongodb://127.0.0.1:27017"
    mongodb_db: str = "ticketing"
    db_timeout_ms: int = Field(default=2000, ge=100, le=60_000)

    jwt_secret: SecretStr | None = None
    dev_jwt_secret_file: Path | None = None
    jwt_issuer: str = "ticketing"
    jwt_audience: str = "ticketing-api"
    access_token_minutes: int = Field(default=60, ge=1, le=24 * 60)

    # The authorization policy the engine loads at start-up (validated, or start-up stops).
    policy_file: FilePath = DEFAULT_POLICY_PATH
    list_strategy: Strategy = "pushdown"
    bench_routes: bool = False

    # The Permit-compatible decision point (app/routers/pdp.py) exists only when this is set.
    pdp_api_key: SecretStr | None = None

    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    # A Permit SDK's bulk check carries every question of a list it filters (the tutorial
    # sends one per ticket it fetched): thousands of questions, about 200 bytes each.
    pdp_bulk_max_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)

    audit_retention_days: int = Field(default=90, ge=1)
    audit_flush_seconds: float = Field(default=0.5, gt=0)
    # A comment line on every live-updates stream at least this often keeps proxies from
    # closing an idle one (GET /events).
    events_heartbeat_seconds: float = Field(default=15.0, gt=0, le=60)

    login_max_failures: int = Field(default=5, ge=1)
    login_max_failures_per_ip: int = Field(default=50, ge=1)
    login_window_seconds: int = Field(default=900, ge=1)
    login_lock_seconds: int = Field(default=300, ge=1)
    account_lookups_per_ip: int = Field(default=50, ge=1)
    account_lookups_per_user: int = Field(default=20, ge=1)

    # An identity provider (Logto, or any OpenID Connect issuer) beside the local accounts.
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks_url: str | None = None
    logto_webhook_signing_key: SecretStr | None = None
    invitation_days: int = Field(default=7, ge=1, le=90)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        """CORS_ORIGINS is a comma-separated list in the environment."""
        if isinstance(value, str):
            return [o.strip() for o in value.split(",") if o.strip()]
        return value

    @field_validator(
        "oidc_issuer", "oidc_audience", "oidc_jwks_url", "logto_webhook_signing_key", mode="before"
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """`OIDC_ISSUER=` (as an `.env` template leaves it) means off, not an empty issuer."""
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("pdp_api_key", mode="after")
    @classmethod
    def _check_pdp_key(cls, value: SecretStr | None) -> SecretStr | None:
        """An empty PDP_API_KEY leaves the PDP off; a short one is refused, never served."""
        if value is None or not value.get_secret_value():
            return None
        if len(value.get_secret_value()) < PDP_KEY_MIN_LENGTH:
            raise ValueError(
                f"PDP_API_KEY must be at least {PDP_KEY_MIN_LENGTH} characters (e.g. "
                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`), or unset "
                "to turn the PDP off"
            )
        return value

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Self:
        secret = self.jwt_secret.get_secret_value() if self.jwt_secret else ""
        if self.environment != "development":
            if secret.strip().lower() in PLACEHOLDER_SECRETS or len(secret) < MIN_SECRET_LENGTH:
                raise ValueError(
                    "JWT_SECRET must be set to a random value of at least 32 characters "
                    "outside development (e.g. `python -c 'import secrets; "
                    "print(secrets.token_urlsafe(48))'`)"
                )
            if self.bench_routes:
                raise ValueError(
                    "BENCH_ROUTES turns authorization off and is refused outside development"
                )
        self._check_identity_provider()
        if self.environment == "development" and not secret:
            if self.dev_jwt_secret_file is not None:
                key = development_key(self.dev_jwt_secret_file)
            else:
                log.warning(
                    "JWT_SECRET is not set: using a random secret for this process; tokens "
                    "will not survive a restart and differ between workers"
                )
                key = secrets.token_urlsafe(48)
            object.__setattr__(self, "jwt_secret", SecretStr(key))
        return self

    def _check_identity_provider(self) -> None:
        if (self.oidc_issuer is None) != (self.oidc_audience is None):
            raise ValueError(
                "OIDC_ISSUER and OIDC_AUDIENCE go together: set both (the issuer's URL and "
                "the API resource indicator its access tokens name in `aud`), or neither"
            )
        if self.oidc_issuer is not None:
            if self.oidc_issuer == self.jwt_issuer:
                raise ValueError(
                    "OIDC_ISSUER must differ from JWT_ISSUER: tokens are told apart by issuer"
                )
            for name, url in (("OIDC_ISSUER", self.oidc_issuer), ("OIDC_JWKS_URL", self.jwks_url)):
                parts = urlsplit(url)
                if parts.scheme not in ("https", "http") or not parts.netloc:
                    raise ValueError(f"{name} must be an absolute URL, got {url!r}")
                if parts.scheme != "https" and self.environment != "development":
                    # Whoever can alter the key set in transit can sign any user's token.
                    raise ValueError(f"{name} must use https outside development")
        key = self.logto_webhook_signing_key
        if key is not None and len(key.get_secret_value().strip()) < 16:
            raise ValueError(
                "LOGTO_WEBHOOK_SIGNING_KEY looks truncated: paste the signing key shown on the "
                "webhook's page in the Logto console"
            )

    @property
    def jwks_url(self) -> str:
        """Where the identity provider publishes its signing keys (`OIDC_JWKS_URL`, by
        default `${OIDC_ISSUER}/jwks`, where Logto serves them)."""
        if self.oidc_jwks_url:
            return self.oidc_jwks_url
        assert self.oidc_issuer is not None  # noqa: S101 - only asked when an issuer is set
        return self.oidc_issuer.rstrip("/") + "/jwks"

    @property
    def secret_key(self) -> str:
        """The signing key (always set once the settings are validated)."""
        assert self.jwt_secret is not None  # noqa: S101 - guaranteed by the validator
        return self.jwt_secret.get_secret_value()


@lru_cache
def get_settings() -> Settings:
    """Build the settings once per process."""
    return Settings()
