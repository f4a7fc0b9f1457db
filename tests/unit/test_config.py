"""Settings refuse unsafe production configurations."""

import logging
import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.config import Settings

STRONG = "s" * 48


@pytest.mark.parametrize("secret", [None, "", "changeme", "short-secret"])
def test_production_requires_a_real_secret(secret: str | None) -> None:
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        Settings(environment="production", jwt_secret=secret)


def test_benchmark_routes_are_refused_outside_development() -> None:
    with pytest.raises(ValidationError, match="BENCH_ROUTES"):
        Settings(environment="production", jwt_secret=STRONG, bench_routes=True)


def test_development_generates_a_secret_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="app"):
        first = Settings(environment="development")
        second = Settings(environment="development")
    assert len(first.secret_key) >= 32
    assert first.secret_key != second.secret_key
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    # A log record, not a Python warning: the message alone, no source line of pydantic's.
    assert warnings[0].getMessage().startswith("JWT_SECRET is not set: using a random secret")
    assert warnings[0].name == "app"


def test_development_key_is_kept_across_restarts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "dev-jwt-secret"
    with caplog.at_level(logging.WARNING, logger="app"):
        first = Settings(environment="development", dev_jwt_secret_file=path)
        second = Settings(environment="development", dev_jwt_secret_file=path)
    assert first.secret_key == second.secret_key == path.read_text().strip()
    assert len(first.secret_key) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600, "readable by its owner only"
    assert caplog.records == [], "a kept key is no cause for a warning"
    explicit = Settings(environment="development", jwt_secret=STRONG, dev_jwt_secret_file=path)
    assert explicit.secret_key == STRONG, "JWT_SECRET always wins"


def test_development_key_file_is_never_used_in_production(tmp_path: Path) -> None:
    path = tmp_path / "dev-jwt-secret"
    Settings(environment="development", dev_jwt_secret_file=path)
    with pytest.raises(ValidationError, match="JWT_SECRET must be set"):
        Settings(environment="production", dev_jwt_secret_file=path)


def test_a_damaged_development_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "dev-jwt-secret"
    path.write_text("short\n")
    with pytest.raises(ValidationError, match="delete it"):
        Settings(environment="development", dev_jwt_secret_file=path)


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("JWT_SECRET", STRONG)
    monkeypatch.setenv("CORS_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("LIST_STRATEGY", "bulk")
    settings = Settings()
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert settings.list_strategy == "bulk"
    assert "s" * 48 not in repr(settings), "the secret never appears in a repr"
    monkeypatch.setenv("LIST_STRATEGY", "magic")
    with pytest.raises(ValidationError):
        Settings()
