"""Import every domain's models so the metadata (and Alembic) sees all tables."""

from __future__ import annotations

from portal.domains import modules


def load_all() -> None:
    """Import each domain's models module (idempotent)."""
    import portal.pagecache  # noqa: F401  (cache_versions)

    modules("models")


load_all()
