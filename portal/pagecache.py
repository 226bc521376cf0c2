"""Cached public pages: the same bytes for every anonymous visitor, invalidated by data.

A public page (/c/<code>, its spending, funds, standards, statements and responsiveness pages,
the public stats API) depends on nothing but the community's data, the language, the query
string and the local date. Rendering it costs dozens of queries and Plotly figures, so it is
kept in a shared cache (Flask-Caching: Redis when `CACHE_REDIS_URL` or a redis:// rate-limit
store is configured, a per-process dict otherwise).

Correctness rests on the *data version*: one row per community in `cache_versions`, bumped in
the same transaction as any write that touches a row of that community (an ORM flush of an
object with a `community_id`), and a global row 0 bumped by writes that cannot be pinned on
one community (bulk UPDATE/INSERT statements, rows without a `community_id`, such as bill
lines, postings and refunds). The cache key holds both versions, so a committed payment, a
resolved ticket or a new publication changes the key on the next request; a rolled-back
transaction rolls its bump back too. Tables that public pages never show (sessions, users,
the audit log, the notify outbox) are ignored, or every log-in would empty the cache.

Only anonymous requests are cached (the base template greets a logged-in user by name and
shows their menu); a request carrying flashed messages is not cached either. The CSRF token
in the base template is replaced by a placeholder in the stored copy and filled in per request.
Responses carry an ETag (the key, plus the visitor's CSRF secret) and Last-Modified (when the
data last changed), so a phone's second visit is a 304 with no body.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, has_request_context, make_response, request
from flask import session as flask_session
from flask_babel import get_locale
from flask_caching import Cache
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from sqlalchemy import BigInteger, Integer, Table, event, select
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.sql.dml import Delete, Insert, Update

from portal.db import Base, UTCDateTime
from portal.timeutil import now_utc

cache = Cache()
T = TypeVar("T")

GLOBAL = 0  # the version row that every community's key includes
TTL_SECONDS = 600  # entries also expire: notices and "today" move with the clock
CSRF_MARK = "\x00csrf\x00"
# Tables no public page reads: writes to them never invalidate anything.
IGNORED_TABLES = frozenset(
    {
        "cache_versions",
        "users",
        "user_sessions",
        "two_factor",
        "recovery_codes",
        "api_tokens",
        "role_assignments",
        "audit_entries",
        "erasure_requests",
        "notify_messages",
        "notify_contact_attempts",
        "notify_preferences",
        "notify_profiles",
        "notify_templates",
        "notice_reads",
        "collection_runs",
        "collection_case_events",
        "collection_contacts",
        "collection_tasks",
        "recovery_tasks",
        "receipt_counters",
        "stored_files",
    }
)


class CacheVersion(Base):
    """How many committed writes have touched a community's public data (0 = all of them)."""

    __tablename__ = "cache_versions"

    community_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())


# ------------------------------------------------------------------ tracking writes


def _pending(session: Session) -> set[int]:
    return session.info.setdefault("pagecache_dirty", set())


def _table_of(obj: Any) -> Table | None:
    table = getattr(type(obj), "__table__", None)
    return table if isinstance(table, Table) else None


def _community_of(obj: Any, table: Table) -> int | None:
    if table.name == "communities":
        return getattr(obj, "id", None)
    if "community_id" in table.c:
        return getattr(obj, "community_id", None) or GLOBAL
    return GLOBAL


def _after_flush(session: Session, _flush_context: Any) -> None:
    dirty = _pending(session)
    # session.dirty is built afresh at each access: read it once (testing each object
    # against it made a flush of many rows quadratic, minutes long for a collections run).
    changed = session.dirty
    for obj in [*session.new, *changed, *session.deleted]:
        table = _table_of(obj)
        if table is None or table.name in IGNORED_TABLES:
            continue
        if obj in changed and not session.is_modified(obj, include_collections=False):
            continue
        community_id = _community_of(obj, table)
        if community_id is not None:
            dirty.add(int(community_id))


def _statement_table(statement: Any) -> str | None:
    table = getattr(statement, "table", None)
    return getattr(table, "name", None)


def _on_execute(state: Any) -> None:
    statement = state.statement
    if isinstance(statement, Insert | Update | Delete):
        name = _statement_table(statement)
        if name is not None and name not in IGNORED_TABLES:
            _pending(state.session).add(GLOBAL)
    elif not (state.is_select or state.is_orm_statement):
        sql = str(statement).lstrip().upper()
        if sql.startswith(("INSERT", "UPDATE", "DELETE")) and "CACHE_VERSIONS" not in sql:
            _pending(state.session).add(GLOBAL)


def _before_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint (there may be thousands in a batch): the outer commit bumps
    # commit() flushes after this event: flush first, so objects added since the last flush
    # count (services flush, but a bare add-and-commit would otherwise bump nothing).
    if session.new or session.dirty or session.deleted:
        session.flush()
    dirty = session.info.pop("pagecache_dirty", None)
    if not dirty:
        return
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    now = now_utc()
    # In id order, so two transactions bumping the same rows never deadlock.
    for community_id in sorted(dirty):
        statement = insert(CacheVersion).values(
            community_id=community_id, version=1, changed_at=now
        )
        session.execute(
            statement.on_conflict_do_update(
                index_elements=[CacheVersion.community_id],
                set_={"version": CacheVersion.version + 1, "changed_at": now},
            )
        )
    session.info.pop("pagecache_dirty", None)  # the upserts themselves are not news


def _after_rollback(session: Session) -> None:
    session.info.pop("pagecache_dirty", None)


def _after_soft_rollback(session: Session, previous: Any) -> None:
    # Only the outermost transaction's rollback drops the marks: a savepoint (or a failed
    # flush inside one) rolled back leaves the outer transaction's changes to come (a mark
    # too many only re-renders a page once).
    if getattr(previous, "parent", None) is None:
        _after_rollback(session)


def install_tracking(session_target: Any) -> None:
    """Listen on the app's session (idempotent)."""
    if event.contains(session_target, "after_flush", _after_flush):
        return
    event.listen(session_target, "after_flush", _after_flush)
    event.listen(session_target, "do_orm_execute", _on_execute)
    event.listen(session_target, "before_commit", _before_commit)
    event.listen(session_target, "after_soft_rollback", _after_soft_rollback)


def bump(session: Session, community_id: int = GLOBAL) -> None:
    """Mark a community's public data as changed (for writes the listeners cannot see)."""
    _pending(session).add(community_id)


def versions(session: Session, community_id: int) -> tuple[int, int, datetime | None]:
    """(community version, global version, when either last changed)."""
    rows = session.execute(
        select(CacheVersion.community_id, CacheVersion.version, CacheVersion.changed_at).where(
            CacheVersion.community_id.in_((GLOBAL, community_id))
        )
    ).all()
    found = {row[0]: (row[1], row[2]) for row in rows}
    mine, mine_at = found.get(community_id, (0, None))
    every, every_at = found.get(GLOBAL, (0, None))
    changed = max((t for t in (mine_at, every_at) if t is not None), default=None)
    return int(mine), int(every), changed


# ------------------------------------------------------------------ serving


def init_app(app: Flask) -> None:
    """Configure the cache: Redis when configured, a per-process dict otherwise."""
    redis_url = app.config.get("CACHE_REDIS_URL") or ""
    limiter_store = str(app.config.get("RATELIMIT_STORAGE_URI") or "")
    if not redis_url and limiter_store.startswith(("redis://", "rediss://")):
        redis_url = limiter_store
    if app.config.get("CACHE_TYPE"):
        pass
    elif redis_url:
        app.config["CACHE_TYPE"] = "RedisCache"
        app.config["CACHE_REDIS_URL"] = redis_url
    else:
        app.config["CACHE_TYPE"] = "SimpleCache"
        app.config.setdefault("CACHE_THRESHOLD", 2000)
    app.config.setdefault("CACHE_KEY_PREFIX", "clearfee-page:")
    app.config.setdefault("CACHE_DEFAULT_TIMEOUT", TTL_SECONDS)
    cache.init_app(app)


def _cacheable(html: bool) -> bool:
    if not current_app.config.get("PAGE_CACHE", True) or request.method not in ("GET", "HEAD"):
        return False
    if not html:  # JSON: the same for every reader allowed to see the community
        return True
    if current_user.is_authenticated:
        return False
    return not flask_session.get("_flashes")


def _csrf_secret(html: bool) -> str:
    if not html:
        return ""
    generate_csrf()  # makes sure the session holds one (as rendering the page would)
    return str(flask_session.get("csrf_token", ""))


def _http_date(value: datetime) -> str:
    from email.utils import format_datetime

    return format_datetime(value.astimezone(UTC).replace(microsecond=0), usegmt=True)


def _not_modified(etag: str, last_modified: datetime | None) -> bool:
    if request.if_none_match:
        return request.if_none_match.contains(etag)
    since = request.if_modified_since
    if since is not None and last_modified is not None:
        return last_modified.replace(microsecond=0) <= since
    return False


def cached_response(
    session: Session,
    *,
    community_id: int,
    parts: Iterable[Any],
    render: Callable[[], Any],
    html: bool = True,
) -> Any:
    """The rendered page for anonymous visitors from the cache (or a 304), else `render()`.

    `parts` are the page's own inputs beyond the community's data version, language and
    query string: its name, the local date, anything else it reads. `html=False` (the public
    JSON API) caches for every reader, since visibility was checked before the call.
    """
    if not has_request_context() or not _cacheable(html):
        return render()
    mine, every, changed = versions(session, community_id)
    raw = "|".join(
        str(p)
        for p in (
            request.endpoint,
            request.full_path,
            get_locale(),
            community_id,
            mine,
            every,
            *parts,
        )
    )
    key = hashlib.sha256(raw.encode()).hexdigest()[:32]
    secret = _csrf_secret(html)
    etag = hashlib.sha256(f"{key}:{secret}".encode()).hexdigest()[:24]
    last_modified = changed
    if _not_modified(etag, last_modified):
        response = Response(status=304)
        _stamp(response, etag, last_modified)
        g.pagecache = "not-modified"
        return response
    stored = cache.get(key)
    if stored is None:
        rendered = make_response(render())
        if rendered.status_code != 200 or rendered.direct_passthrough:
            return rendered
        body = rendered.get_data(as_text=True)
        if html:
            body = body.replace(generate_csrf(), CSRF_MARK)
        stored = {
            "body": body,
            "mimetype": rendered.mimetype,
            "headers": [
                (k, v)
                for k, v in rendered.headers.items()
                if k.lower() not in ("content-length", "set-cookie", "vary")
            ],
        }
        cache.set(key, stored)
        g.pagecache = "miss"
    else:
        g.pagecache = "hit"
    body = stored["body"]
    response = Response(
        body.replace(CSRF_MARK, generate_csrf()) if html else body, mimetype=stored["mimetype"]
    )
    for name, value in stored["headers"]:
        if name.lower() != "content-type":
            response.headers[name] = value
    _stamp(response, etag, last_modified)
    return response


def cached_value(
    session: Session,
    *,
    community_id: int,
    parts: Iterable[Any],
    compute: Callable[[], T],
    versioned: bool = True,
) -> T:
    """A page's figures, computed once per community data version and language and shared by
    every reader, signed in or not (`cached_response` keeps whole pages, for anonymous
    visitors only, since the base template greets a signed-in user). The value must pickle;
    `parts` name it and hold everything else it depends on (months shown, the clock).
    `versioned=False`: kept by the clock in `parts` alone, whatever the data does."""
    if not has_request_context() or not current_app.config.get("PAGE_CACHE", True):
        return compute()
    mine, every, _changed = versions(session, community_id) if versioned else (0, 0, None)
    raw = "|".join(str(p) for p in ("value", get_locale(), community_id, mine, every, *parts))
    key = hashlib.sha256(raw.encode()).hexdigest()[:32]
    stored = cache.get(key)
    if stored is None:
        stored = {"value": compute()}
        cache.set(key, stored)
    return stored["value"]  # type: ignore[no-any-return]


def _stamp(response: Response, etag: str, last_modified: datetime | None) -> None:
    response.set_etag(etag)
    if last_modified is not None:
        response.headers["Last-Modified"] = _http_date(last_modified)
    # Every visit revalidates (cheap: a 304), so a phone never shows a stale page.
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Page-Cache"] = str(g.get("pagecache", ""))
    response.vary.add("Cookie")


def five_minutes(now: datetime) -> str:
    """A key part for pages that read the clock (notices' windows, SLA due times)."""
    return now.strftime("%Y-%m-%dT%H:") + f"{now.minute // 5 * 5:02d}"
