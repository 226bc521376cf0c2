"""Settings from the environment, with safe defaults for a zero-setup run."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

TRUE = {"1", "true", "yes", "on"}
# CLEARFEE_ENV: unset means production (DESIGN.md §3). Only the other modes may offer the
# sandbox gateway, seed demo accounts or pin the clock.
MODES = ("production", "demo", "development", "test")
NON_PRODUCTION = frozenset({"demo", "development", "test"})
GATEWAY_SETTINGS = (
    "WECHATPAY_MCHID",
    "WECHATPAY_APPID",
    "WECHATPAY_APIV3_KEY",
    "WECHATPAY_PRIVATE_KEY",
    "WECHATPAY_CERT_SERIAL",
    "WECHATPAY_PUBLIC_KEY",
    "WECHATPAY_PUBLIC_KEY_ID",
    "ALIPAY_APP_ID",
    "ALIPAY_APP_PRIVATE_KEY",
    "ALIPAY_PUBLIC_KEY",
)


def _secret_key(instance_path: str) -> str:
    """Read SECRET_KEY, or generate one once and keep it in instance/secret_key (mode 0600)."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = Path(instance_path) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def _database_url(instance_path: str) -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        Path(instance_path).mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{Path(instance_path) / 'clearfee.db'}"
    # Heroku-style URLs and plain postgresql:// both mean psycopg 3 here.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def from_environment(instance_path: str) -> dict[str, Any]:
    """Build the settings mapping from environment variables."""
    from portal import replica

    settings = _from_environment(instance_path)
    # Dashboards and exports read from a replica when one is given (docs/scaling.md).
    replica.configure(settings, _replica_url(os.environ.get("DATABASE_REPLICA_URL", "")))
    return settings


def _replica_url(url: str) -> str | None:
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url or None


def _from_environment(instance_path: str) -> dict[str, Any]:
    env = os.environ
    mode = (env.get("CLEARFEE_ENV") or "production").strip().lower()
    development = mode == "development"
    # The sandbox pays bills without moving money: on only outside production, and there by
    # default; PAYMENTS_SANDBOX=0 turns it off in any mode.
    sandbox_default = "1" if mode in NON_PRODUCTION else "0"
    return {
        "SECRET_KEY": _secret_key(instance_path),
        "SQLALCHEMY_DATABASE_URI": _database_url(instance_path),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": env.get("SESSION_COOKIE_SECURE", "") in TRUE,
        "REMEMBER_COOKIE_HTTPONLY": True,
        # Server-side sessions (accounts.sessions): idle and absolute timeouts; "remember me"
        # keeps a phone logged in for weeks, but the row can still be ended at any time.
        "SESSION_IDLE_MINUTES": int(env.get("SESSION_IDLE_MINUTES", "60")),
        "SESSION_ABSOLUTE_HOURS": int(env.get("SESSION_ABSOLUTE_HOURS", "12")),
        "REMEMBER_IDLE_DAYS": int(env.get("REMEMBER_IDLE_DAYS", "14")),
        "REMEMBER_ABSOLUTE_DAYS": int(env.get("REMEMBER_ABSOLUTE_DAYS", "30")),
        # Roles that must pass TOTP two-factor (comma-separated; empty turns it off).
        "TWO_FACTOR_ROLES": tuple(
            r.strip()
            for r in env.get("TWO_FACTOR_ROLES", "finance,collector,manager,admin").split(",")
            if r.strip()
        ),
        # Personal data of owners whose every ownership ended this long ago is pseudonymised
        # by `flask privacy retention` (3 years: the fee-claim limitation, Civil Code art. 188).
        "PRIVACY_RETENTION_DAYS": int(env.get("PRIVACY_RETENTION_DAYS", "1096")),
        # `flask privacy retention` also deletes finished messages after MESSAGE_RETENTION_DAYS
        # and photos of tickets closed UPLOAD_RETENTION_DAYS ago; audit rows are append-only
        # and kept AUDIT_RETENTION_YEARS (shown in the privacy notice, never deleted by a job).
        "MESSAGE_RETENTION_DAYS": int(env.get("MESSAGE_RETENTION_DAYS", "365")),
        "UPLOAD_RETENTION_DAYS": int(env.get("UPLOAD_RETENTION_DAYS", "1096")),
        "AUDIT_RETENTION_YEARS": int(env.get("AUDIT_RETENTION_YEARS", "10")),
        "REMEMBER_COOKIE_DURATION": timedelta(days=int(env.get("REMEMBER_ABSOLUTE_DAYS", "30"))),
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
        "BABEL_DEFAULT_LOCALE": "zh_Hans_CN",
        "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
        "DEFAULT_TIMEZONE": env.get("DEFAULT_TIMEZONE", "Asia/Shanghai"),
        "RATELIMIT_STORAGE_URI": env.get("RATELIMIT_STORAGE_URI", "memory://"),
        "RATELIMIT_HEADERS_ENABLED": True,
        "LOGIN_RATE_LIMIT": env.get("LOGIN_RATE_LIMIT", "10 per 5 minutes"),
        # Payment intents per user (web and API): enough for real use, not for gateway spam.
        "PAYMENT_RATE_LIMIT": env.get("PAYMENT_RATE_LIMIT", "20 per 10 minutes"),
        # Counters shared by every worker only with a shared store: redis://127.0.0.1:6379 in
        # production (docs/security.md), or database:// (the portal's own database, a
        # rate_limit_counters table) where there is no Redis; memory:// is per process.
        "RATELIMIT_KEY_PREFIX": env.get("RATELIMIT_KEY_PREFIX", "clearfee"),
        # Reverse proxies in front of the app: X-Forwarded-For/-Proto are believed for exactly
        # this many hops (werkzeug ProxyFix). 0 = no proxy: the headers are ignored, so a
        # client cannot pick its own address to dodge (or aim) the per-address limits.
        "TRUSTED_PROXIES": int(env.get("TRUSTED_PROXIES", "0")),
        "API_TOKEN_TTL_HOURS": int(env.get("API_TOKEN_TTL_HOURS", "24")),
        "PASSWORD_HASH_TIME_COST": int(env.get("PASSWORD_HASH_TIME_COST", "3")),
        "PASSWORD_HASH_MEMORY_COST": int(env.get("PASSWORD_HASH_MEMORY_COST", "65536")),
        "CLEARFEE_ENV": mode,
        "PAYMENTS_SANDBOX": env.get("PAYMENTS_SANDBOX", sandbox_default) in TRUE,
        # Pins now_utc() (ISO-8601 with offset); refused in production.
        "CLOCK_NOW": env.get("CLEARFEE_CLOCK_NOW") or None,
        "SANDBOX_SECRET": env.get("SANDBOX_SECRET") or _secret_key(instance_path) + ":sandbox",
        # Refunds above this need a manager's approval (default ¥500).
        "REFUND_APPROVAL_THRESHOLD_FEN": int(env.get("REFUND_APPROVAL_THRESHOLD_FEN", "50000")),
        # Payment gateways: a gateway whose settings are absent is not offered.
        **{name: env[name] for name in GATEWAY_SETTINGS if env.get(name)},
        "ALIPAY_SANDBOX": env.get("ALIPAY_SANDBOX", "") in TRUE,
        "MAX_CONTENT_LENGTH": 64 * 1024 * 1024,  # several photos; each file is checked too
        "UPLOAD_FOLDER": env.get("UPLOAD_FOLDER") or str(Path(instance_path) / "uploads"),
        "DEVELOPMENT": development,
        # Outbound messages (notify): a channel whose settings are absent is not used.
        "SMTP_URL": env.get("SMTP_URL") or None,  # smtp://user:pass@host:port
        "SMTP_FROM": env.get("SMTP_FROM") or "no-reply@clearfee.local",
        "SMTP_TIMEOUT_S": int(env.get("SMTP_TIMEOUT_S", "10")),
        "SMS_WEBHOOK_URL": env.get("SMS_WEBHOOK_URL") or None,
        "WECHAT_WEBHOOK_URL": env.get("WECHAT_WEBHOOK_URL") or None,
        "NOTIFY_WEBHOOK_SECRET": env.get("NOTIFY_WEBHOOK_SECRET") or None,
        "NOTIFY_WEBHOOK_TIMEOUT_S": int(env.get("NOTIFY_WEBHOOK_TIMEOUT_S", "10")),
        # Links in messages are absolute: the address owners reach the portal at.
        # `make bench`: adds /_bench/baseline (one indexed query + the base template), the
        # yardstick the benchmark divides by. Refused in production.
        "BENCH_ROUTES": env.get("CLEARFEE_BENCH_ROUTES", "") in TRUE,
        "PUBLIC_BASE_URL": (env.get("PUBLIC_BASE_URL") or "http://127.0.0.1:5000").rstrip("/"),
    }


def check(settings: Mapping[str, Any]) -> None:
    """Refuse settings that cannot work, with a message that says what to fix."""
    url = str(settings.get("SQLALCHEMY_DATABASE_URI", ""))
    if not url.startswith(("sqlite", "postgresql")):
        raise RuntimeError(
            f"DATABASE_URL must be a sqlite:/// or postgresql:// URL, got {url.split(':')[0]!r}"
        )
    if not settings.get("SECRET_KEY"):
        raise RuntimeError("SECRET_KEY is empty")
    mode = settings.get("CLEARFEE_ENV", "production")
    if mode not in MODES:
        raise RuntimeError(f"CLEARFEE_ENV must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "production" and settings.get("PAYMENTS_SANDBOX"):
        raise RuntimeError(
            "PAYMENTS_SANDBOX=1 is refused in production: the sandbox gateway marks bills paid "
            "without moving money. Set CLEARFEE_ENV=demo (or development/test) to use it."
        )
    if mode == "production" and settings.get("BENCH_ROUTES"):
        raise RuntimeError("CLEARFEE_BENCH_ROUTES is refused in production (benchmark only)")
    if os.environ.get("CLEARFEE_CRASH_AT") and (
        mode != "test" or os.environ.get("CLEARFEE_ENV") != "test"
    ):
        raise RuntimeError("CLEARFEE_CRASH_AT (fault injection) works only with CLEARFEE_ENV=test")
    if mode == "production" and settings.get("CLOCK_NOW"):
        raise RuntimeError("CLEARFEE_CLOCK_NOW (a pinned clock) is refused in production")
