import os
import stat
from pathlib import Path

import pytest

from portal import config


def test_secret_key_generated_once_and_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = config.from_environment(str(tmp_path))["SECRET_KEY"]
    second = config.from_environment(str(tmp_path))["SECRET_KEY"]
    assert first == second
    assert len(first) == 64
    mode = stat.S_IMODE(os.stat(tmp_path / "secret_key").st_mode)
    assert mode == 0o600


def test_defaults_are_safe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    settings = config.from_environment(str(tmp_path))
    assert settings["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'clearfee.db'}"
    assert settings["SESSION_COOKIE_HTTPONLY"] is True
    assert settings["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_postgres_url_uses_psycopg3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://u@h/db")
    assert config.from_environment(str(tmp_path))["SQLALCHEMY_DATABASE_URI"] == (
        "postgresql+psycopg://u@h/db"
    )


def test_unusable_database_url_refused() -> None:
    with pytest.raises(RuntimeError, match="DATABASE_URL"):
        config.check({"SQLALCHEMY_DATABASE_URI": "mysql://x", "SECRET_KEY": "k"})


def test_unset_mode_is_production_without_sandbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CLEARFEE_ENV", raising=False)
    monkeypatch.delenv("PAYMENTS_SANDBOX", raising=False)
    settings = config.from_environment(str(tmp_path))
    assert settings["CLEARFEE_ENV"] == "production"
    assert settings["PAYMENTS_SANDBOX"] is False
    config.check(settings)  # a default install starts


@pytest.mark.parametrize("mode", ["demo", "development", "test"])
def test_other_modes_offer_the_sandbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setenv("CLEARFEE_ENV", mode)
    monkeypatch.delenv("PAYMENTS_SANDBOX", raising=False)
    assert config.from_environment(str(tmp_path))["PAYMENTS_SANDBOX"] is True
    monkeypatch.setenv("PAYMENTS_SANDBOX", "0")
    assert config.from_environment(str(tmp_path))["PAYMENTS_SANDBOX"] is False


def test_production_refuses_the_sandbox_and_a_pinned_clock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CLEARFEE_ENV", raising=False)
    monkeypatch.setenv("PAYMENTS_SANDBOX", "1")
    with pytest.raises(RuntimeError, match="PAYMENTS_SANDBOX"):
        config.check(config.from_environment(str(tmp_path)))
    monkeypatch.delenv("PAYMENTS_SANDBOX")
    monkeypatch.setenv("CLEARFEE_CLOCK_NOW", "2026-11-20T10:00+08:00")
    with pytest.raises(RuntimeError, match="CLOCK"):
        config.check(config.from_environment(str(tmp_path)))


def test_unknown_mode_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLEARFEE_ENV", "prod")
    with pytest.raises(RuntimeError, match="CLEARFEE_ENV"):
        config.check(config.from_environment(str(tmp_path)))
