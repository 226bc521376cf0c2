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
