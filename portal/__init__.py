"""Clearfee (明账): the application factory. Importing portal has no side effects."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    """Build a configured app."""
    from portal import (
        backup,
        config,
        domains,
        errors,
        extensions,
        jinja,
        joblock,
        models,
        pagecache,
        replica,
        security,
    )
    from portal.accounts import service as accounts_service
    from portal.api import bp as api_bp
    from portal.demo import bench as demo_bench
    from portal.demo import cli as demo_cli

    models.load_all()
    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.from_mapping(config.from_environment(app.instance_path))
    if overrides:
        app.config.update(overrides)
    config.check(app.config)
    accounts_service.hasher.configure(
        time_cost=app.config["PASSWORD_HASH_TIME_COST"],
        memory_cost=app.config["PASSWORD_HASH_MEMORY_COST"],
    )
    extensions.init_app(app)
    pagecache.init_app(app)
    replica.init_app(app)
    pagecache.install_tracking(extensions.db.session)
    security.install_converters(app)
    nav: list[domains.NavItem] = []
    for views in domains.modules("views"):
        app.register_blueprint(views.bp)
        nav.extend(getattr(views, "NAV", []))
    app.extensions["clearfee_nav"] = sorted(nav, key=lambda item: item.order)
    app.register_blueprint(api_bp)
    extensions.csrf.exempt(api_bp)
    for cli in domains.modules("cli"):
        for group in getattr(cli, "groups", (cli.group,)):
            joblock.install(group)  # two runs of one job never overlap
            app.cli.add_command(group)
    app.cli.add_command(demo_cli.group)
    app.cli.add_command(demo_bench.group)
    app.cli.add_command(backup.group)
    security.install(app)
    errors.install(app)
    jinja.install(app)
    return app
