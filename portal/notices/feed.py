"""An Atom 1.0 feed (RFC 4287) of a community's notices, written with the standard library."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import datetime

from portal.communities.models import Community
from portal.notices.models import Notice

ATOM = "http://www.w3.org/2005/Atom"


def _stamp(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


def atom_feed(
    community: Community,
    notices: list[Notice],
    *,
    feed_url: str,
    board_url: str,
    notice_url: Callable[[Notice], str],
    title: str,
    updated: datetime,
    category_label: Callable[[str], str],
) -> bytes:
    """The feed document as UTF-8 bytes; entry ids are stable tag: URIs."""
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    ET.SubElement(feed, f"{{{ATOM}}}title").text = title
    ET.SubElement(feed, f"{{{ATOM}}}id").text = feed_url
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="self", href=feed_url)
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="alternate", href=board_url, type="text/html")
    latest = max((n.published_at for n in notices if n.published_at), default=updated)
    ET.SubElement(feed, f"{{{ATOM}}}updated").text = _stamp(latest)
    author = ET.SubElement(feed, f"{{{ATOM}}}author")
    ET.SubElement(author, f"{{{ATOM}}}name").text = community.name
    for notice in notices:
        published = notice.published_at or updated
        entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
        ET.SubElement(entry, f"{{{ATOM}}}title").text = notice.title
        ET.SubElement(
            entry, f"{{{ATOM}}}id"
        ).text = f"tag:clearfee,{published:%Y-%m-%d}:{community.code}/notice/{notice.id}"
        ET.SubElement(entry, f"{{{ATOM}}}link", rel="alternate", href=notice_url(notice))
        ET.SubElement(entry, f"{{{ATOM}}}published").text = _stamp(published)
        ET.SubElement(entry, f"{{{ATOM}}}updated").text = _stamp(published)
        ET.SubElement(
            entry,
            f"{{{ATOM}}}category",
            term=notice.category,
            label=category_label(notice.category),
        )
        # The body is already sanitised HTML; ElementTree escapes it as text.
        ET.SubElement(entry, f"{{{ATOM}}}content", type="html").text = notice.body_html
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)
