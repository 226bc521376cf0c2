"""Clearfee (明账): the application factory. Importing portal has no side effects."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    """Build a configured app."""
    from portal import config, errors, extensions, jinja, models, security
    from portal.accounts import cli as accounts_cli
    from portal.accounts import service as accounts_service
    from portal.accounts import views as accounts_views
    from portal.api import bp as api_bp
    from portal.communities import views as communities_views
    from portal.demo import cli as demo_cli
    from portal.site import views as site_views

    del models  # imported for its side effect: every table is on the metadata
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
    for blueprint in (site_views.bp, accounts_views.bp, communities_views.bp, api_bp):
        app.register_blueprint(blueprint)
    extensions.csrf.exempt(api_bp)
    for group in (accounts_cli.users, demo_cli.demo):
        app.cli.add_command(group)
    security.install(app)
    errors.install(app)
    jinja.install(app)
    return app
