"""Rate-limit counters in the portal's own database, for installs without Redis.

`limits` (under Flask-Limiter) ships memory, Redis, Memcached and MongoDB storages only, so
this is a small custom `limits.storage.Storage` for the fixed-window strategy the portal uses.
Set RATELIMIT_STORAGE_URI=database:// and every worker (and every host sharing the database)
counts in one table. Each increment is one atomic upsert in its own short transaction, on
its own connection, so a request that rolls back never un-counts a failed log-in:

    INSERT ... ON CONFLICT (key) DO UPDATE SET count = CASE WHEN expired THEN amount
    ELSE count + amount END ... RETURNING count

(PostgreSQL 9.5+, SQLite 3.35+). The table is a cache, not part of the app's models: it is
created on first use and may be emptied at any time (the limits restart).
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from limits.storage import Storage
from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    delete,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

_metadata = MetaData()
counters = Table(
    "rate_limit_counters",
    _metadata,
    Column("key", String(255), primary_key=True),
    Column("count", Integer, nullable=False),
    Column("expires_at", BigInteger, nullable=False),  # epoch milliseconds
)

_UPSERT = text(
    "INSERT INTO rate_limit_counters (key, count, expires_at) VALUES (:key, :amount, :exp) "
    "ON CONFLICT (key) DO UPDATE SET "
    "count = CASE WHEN rate_limit_counters.expires_at <= :now THEN :amount "
    "ELSE rate_limit_counters.count + :amount END, "
    "expires_at = CASE WHEN rate_limit_counters.expires_at <= :now THEN :exp "
    "ELSE rate_limit_counters.expires_at END "
    "RETURNING count"
)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class DatabaseStorage(Storage):
    """limits storage over SQLAlchemy: `database://` with storage option `url`."""

    STORAGE_SCHEME: ClassVar[list[str]] = ["database"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any):
        url = str(options.pop("url", "") or "")
        if not url:
            raise ValueError("database:// rate-limit storage needs RATELIMIT_STORAGE_OPTIONS url")
        super().__init__(uri, wrap_exceptions=wrap_exceptions)
        connect_args = {"timeout": 30} if url.startswith("sqlite") else {}
        self.engine: Engine = create_engine(url, pool_pre_ping=True, connect_args=connect_args)
        try:
            counters.create(self.engine, checkfirst=True)
        except SQLAlchemyError:
            # Two workers starting together both found no table and both created it: the
            # loser's CREATE fails, and the table it wanted is there.
            if not inspect(self.engine).has_table(counters.name):
                raise

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        from sqlalchemy.exc import SQLAlchemyError

        return SQLAlchemyError

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        now = _now_ms()
        exp = now + round(expiry * 1000)
        with self.engine.begin() as conn:
            row = conn.execute(
                _UPSERT, {"key": key, "amount": amount, "exp": exp, "now": now}
            ).one()
        return int(row[0])

    def get(self, key: str) -> int:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(counters.c.count).where(
                    counters.c.key == key, counters.c.expires_at > _now_ms()
                )
            ).first()
        return int(row[0]) if row else 0

    def get_expiry(self, key: str) -> float:
        with self.engine.connect() as conn:
            value = conn.scalar(select(counters.c.expires_at).where(counters.c.key == key))
        return value / 1000 if value is not None else time.time()

    def check(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:  # a health check answers, it does not raise
            return False
        return True

    def reset(self) -> int | None:
        with self.engine.begin() as conn:
            return conn.execute(delete(counters)).rowcount

    def clear(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(counters).where(counters.c.key == key))

    def sweep(self) -> int:
        """Drop expired counters (optional housekeeping; expired rows are reused anyway)."""
        with self.engine.begin() as conn:
            return conn.execute(
                delete(counters).where(counters.c.expires_at <= time.time())
            ).rowcount
