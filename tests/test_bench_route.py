"""The benchmark's baseline route exists only in bench mode, never in production."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

from portal import config
from tests import factories


def test_baseline_route_only_when_asked(make_app: Callable[..., Flask], app: Flask) -> None:
    assert app.test_client().get("/_bench/baseline").status_code == 404
    bench = make_app(BENCH_ROUTES=True)
    with bench.app_context():
        from portal.extensions import db

        factories.make_community(db.session, code="DEMO1", name="基准小区")
        db.session.commit()
    page = bench.test_client().get("/_bench/baseline?code=DEMO1")
    assert page.status_code == 200
    assert "基准小区" in page.get_data(as_text=True)


def test_refused_in_production() -> None:
    with pytest.raises(RuntimeError, match="BENCH_ROUTES"):
        config.check(
            {
                "SQLALCHEMY_DATABASE_URI": "sqlite://",
                "SECRET_KEY": "x",
                "CLEARFEE_ENV": "production",
                "BENCH_ROUTES": True,
            }
        )
