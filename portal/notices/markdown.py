"""Markdown for notice bodies: script is refused outright, and the rendered HTML is cleaned
with nh3 anyway (raw HTML is never passed through)."""

from __future__ import annotations

import re

import nh3
from flask_babel import lazy_gettext as _l
from markdown_it import MarkdownIt

from portal.errors import DomainError

MAX_LENGTH = 20_000
# Anything that looks like an attempt to run code: refuse with a clear message instead of
# silently dropping it, so staff know what readers will (not) see.
DANGEROUS = re.compile(
    r"<\s*/?\s*(script|iframe|object|embed|style|svg|math|form|input|link|meta|base)\b"
    r"|<[^>]*\son[a-z]+\s*="
    r"|(java|vb)script\s*:"
    r"|data\s*:\s*text/html",
    re.IGNORECASE,
)
TAGS = {
    "p", "br", "strong", "em", "b", "i", "ul", "ol", "li", "h2", "h3", "h4", "blockquote",
    "code", "pre", "hr", "a", "table", "thead", "tbody", "tr", "th", "td", "del",
}  # fmt: skip
ATTRIBUTES = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}}

_md = MarkdownIt("commonmark", {"html": False, "breaks": True}).enable(["table", "strikethrough"])


def check(text: str) -> str:
    """The Markdown source, refused (DomainError) if too long or carrying script."""
    text = (text or "").replace("\r\n", "\n").strip()
    if not text:
        raise DomainError(_l("请填写正文"), field="body")
    if len(text) > MAX_LENGTH:
        raise DomainError(_l("正文不能超过 %(n)s 字", n=MAX_LENGTH), field="body")
    if DANGEROUS.search(text):
        raise DomainError(
            _l("正文不能包含脚本、内嵌网页或事件代码（如 <script>、javascript:）"),
            field="body",
            code="unsafe_markdown",
        )
    return text


def render(text: str) -> str:
    """Markdown → sanitised HTML (links get rel=noopener noreferrer nofollow)."""
    # The notice title is the page's h1: body headings start one level lower.
    html = _md.render(text).replace("<h1>", "<h2>").replace("</h1>", "</h2>")
    return nh3.clean(
        html,
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes={"http", "https", "mailto", "tel"},
        link_rel="noopener noreferrer nofollow",
    )


def plain_excerpt(text: str, limit: int = 120) -> str:
    """A one-line plain-text preview of the Markdown source."""
    flat = re.sub(r"[#>*_`|\[\]()!~-]+", " ", text or "")
    flat = re.sub(r"\s+", " ", flat).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
