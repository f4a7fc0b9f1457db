"""Service settings, read once from the environment (and `.env` in development)."""

import secrets
import warnings
from functools import lru_cache
from typing import Annotated, Literal, Self

from pydantic import Field, FilePath, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from authz.policy import DEFAULT_POLICY_PATH

ListStrategy = Literal["pushdown", "bulk", "post"]

PLACEHOLDER_SECRETS = {"", "changeme", "change-me", "secret", "dev-secret"}


class Settings(BaseSettings):
    """Every knob of the service; each field is an environment variable of the same name."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    environment: Literal["development", "production"] = "production"
    mongodb_uri: str = "mongodb://127.0.0.1:27017"
    mongodb_db: str = "ticketing"
    db_timeout_ms: int = Field(default=2000, ge=100, le=60_000)

    jwt_secret: SecretStr | None = None
    jwt_issuer: str = "ticketing"
    jwt_audience: str = "ticketing-api"
    access_token_minutes: int = Field(default=60, ge=1, le=24 * 60)

    # The authorization policy the engine loads at start-up (validated, or start-up stops).
    policy_file: FilePath = DEFAULT_POLICY_PATH
    list_strategy: ListStrategy = "pushdown"
    bench_routes: bool = False

    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)

    audit_retention_days: int = Field(default=90, ge=1)
    audit_flush_seconds: float = Field(default=0.5, gt=0)

    login_max_failures: int = Field(default=5, ge=1)
    login_max_failures_per_ip: int = Field(default=50, ge=1)
    login_window_seconds: int = Field(default=900, ge=1)
    login_lock_seconds: int = Field(default=300, ge=1)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        """CORS_ORIGINS is a comma-separated list in the environment."""
        if isinstance(value, str):
            return [o.strip() for o in value.split(",") if o.strip()]
        return value

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Self:
        secret = self.jwt_secret.get_secret_value() if self.jwt_secret else ""
        if self.environment != "development":
            if secret.strip().lower() in PLACEHOLDER_SECRETS or len(secret) < 32:
                raise ValueError(
                    "JWT_SECRET must be set to a random value of at least 32 characters "
                    "outside development (e.g. `python -c 'import secrets; "
                    "print(secrets.token_urlsafe(48))'`)"
                )
            if self.bench_routes:
                raise ValueError(
                    "BENCH_ROUTES turns authorization off and is refused outside development"
                )
        elif not secret:
            warnings.warn(
                "JWT_SECRET is not set: using a random secret for this process; tokens will "
                "not survive a restart and differ between workers",
                stacklevel=2,
            )
            object.__setattr__(self, "jwt_secret", SecretStr(secrets.token_urlsafe(48)))
        return self

    @property
    def secret_key(self) -> str:
        """The signing key (always set once the settings are validated)."""
        assert self.jwt_secret is not None  # noqa: S101 - guaranteed by the validator
        return self.jwt_secret.get_secret_value()


@lru_cache
def get_settings() -> Settings:
    """Build the settings once per process."""
    return Settings()
