from __future__ import annotations

import pytest
from flask import Flask


@pytest.fixture
def configured(app: Flask) -> Flask:
    """SMS, WeChat and e-mail count as configured (tests pass their own fake adapters)."""
    app.config.update(
        SMS_WEBHOOK_URL="http://127.0.0.1:9/sms",
        WECHAT_WEBHOOK_URL="http://127.0.0.1:9/wechat",
        NOTIFY_WEBHOOK_SECRET="webhook-test-secret",
        SMTP_URL="smtp://127.0.0.1:9",
    )
    return app
