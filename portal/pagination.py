"""One page of a query's rows, for lists that must not stop silently at a fixed number.

`paginate` counts the whole query and fetches one page; templates show it with the
`pagination` macro in templates/_macros/forms.html, and JSON lists add `page_meta(page)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")

MAX_PER_PAGE = 500


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T] = field(default_factory=list)
    total: int = 0
    page: int = 1
    per_page: int = 50

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def paginate(
    session: Session, query: Select[Any], *, page: int = 1, per_page: int = 50, unique: bool = False
) -> Page[Any]:
    """Rows `(page-1)*per_page …` of an ordered query (give it a total order), and the count."""
    page = max(1, int(page or 1))
    per_page = max(1, min(int(per_page or 50), MAX_PER_PAGE))
    total = int(
        session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    )
    rows = session.scalars(query.offset((page - 1) * per_page).limit(per_page))
    items = list(rows.unique() if unique else rows)
    return Page(items=items, total=total, page=page, per_page=per_page)


def page_meta(page: Page[Any]) -> dict[str, int]:
    """The paging fields of a JSON list: total, page, pages, per_page."""
    return {
        "total": page.total,
        "page": page.page,
        "pages": page.pages,
        "per_page": page.per_page,
    }


# The paging query parameters of a JSON list, for its OpenAPI description.
OPENAPI_PAGE_PARAMS: list[dict[str, Any]] = [
    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
    {
        "name": "per_page",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE},
    },
]
