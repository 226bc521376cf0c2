"""Every endpoint not marked public refuses an anonymous request."""

from __future__ import annotations

import re

from flask import Flask

from portal.security import is_public_endpoint


def _sample(rule: str) -> str:
    return re.sub(r"<(?:int:)?[^>]+>", "1", rule)


def test_every_private_endpoint_refuses_anonymous(app: Flask) -> None:
    client = app.test_client()
    checked = 0
    for rule in app.url_map.iter_rules():
        if is_public_endpoint(rule.endpoint):
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            response = client.open(_sample(rule.rule), method=method)
            if rule.rule.startswith("/api/"):
                assert response.status_code == 401, (rule.rule, method)
                assert response.is_json
            else:
                assert response.status_code in (302, 401), (rule.rule, method)
                if response.status_code == 302:
                    assert "/login" in response.headers["Location"]
            checked += 1
    assert checked >= 5


def test_public_endpoints_are_few_and_known(app: Flask) -> None:
    public = {r.endpoint for r in app.url_map.iter_rules() if is_public_endpoint(r.endpoint)}
    assert {"site.index", "site.healthz", "accounts.login", "api.auth_token"} <= public
    assert "communities.community_edit" not in public
