"""Settings refuse unsafe production configurations."""

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


def test_development_generates_a_secret_with_a_warning() -> None:
    with pytest.warns(UserWarning, match="JWT_SECRET is not set"):
        first = Settings(environment="development")
    with pytest.warns(UserWarning, match="JWT_SECRET"):
        second = Settings(environment="development")
    assert len(first.secret_key) >= 32
    assert first.secret_key != second.secret_key


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
