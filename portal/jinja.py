"""Template filters and globals: money, local time, labels, navigation by role."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from flask import Flask, current_app, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup

from portal.money import format_fen
from portal.timeutil import DEFAULT_TZ, to_local, zone

LABELS: dict[str, Any] = {
    "owner": _l("业主"),
    "cs": _l("客服"),
    "engineer": _l("工程"),
    "finance": _l("财务"),
    "collector": _l("催缴"),
    "manager": _l("管理处负责人"),
    "committee": _l("业委会"),
    "admin": _l("系统管理员"),
    "lump_sum": _l("包干制"),
    "commission": _l("酬金制"),
    "monthly": _l("按月"),
    "quarterly": _l("按季度"),
    "residential": _l("住宅"),
    "commercial": _l("商业"),
    "parking": _l("车位"),
    "villa": _l("别墅"),
    "bill": _l("出账"),
    "payment": _l("缴费"),
    "refund": _l("退款"),
    "waiver": _l("减免"),
    "late_fee": _l("违约金"),
    "adjustment": _l("调整"),
    "prepayment_applied": _l("预存款抵扣"),
    "reversal": _l("冲正"),
    "per_m2_month": _l("按面积"),
    "per_unit_month": _l("按户"),
    "metered": _l("按计量"),
    "awaiting_approval": _l("待审批"),
    "done": _l("已完成"),
    "rejected": _l("已驳回"),
}


def label(value: Any) -> str:
    """The translated display name of an enum value."""
    return str(LABELS.get(str(value), value))


def local_dt(value: datetime | None, tz: str | None = None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    return to_local(value, zone(tz) if tz else DEFAULT_TZ).strftime(fmt)


def plain_number(value: Any) -> str:
    """A decimal without trailing zeros or exponent: 2.3500 → "2.35", 3.00 → "3"."""
    if value is None:
        return ""
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    text = format(number.normalize(), "f")
    return text


def rate(value: Any) -> str:
    """A fee rate as a price is written: no trailing zeros beyond the fen, 2.3500 → "2.35",
    30.0000 → "30.00", 0.1250 → "0.125"."""
    if value is None:
        return ""
    number = (value if isinstance(value, Decimal) else Decimal(str(value))).normalize()
    if -number.as_tuple().exponent < 2:  # type: ignore[operator]
        number = number.quantize(Decimal("0.01"))
    return format(number, "f")


_RATE_IN_TEXT = re.compile(r"\d+\.\d+(?= 元/)")


def rates_in_text(text: str | None) -> str:
    """A stored line explanation with its rate written as a price: "× 2.3500 元/㎡·月" →
    "× 2.35 元/㎡·月" (the stored text keeps the standard's exact decimals)."""
    if not text:
        return ""
    return _RATE_IN_TEXT.sub(lambda m: rate(Decimal(m.group(0))), text)


def percent_rate(value: Any) -> str:
    """A fraction as a percentage without trailing zeros: 0.0003 → "0.03%", 0.1 → "10%"."""
    if value is None:
        return ""
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    return plain_number(number * 100) + "%"


def _minutes_of(value: Any, unit: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, timedelta):
        return round(value.total_seconds() / 60)
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    per = {"minutes": 1, "hours": 60, "seconds": Decimal(1) / 60}[unit]
    return int((number * per).to_integral_value())


def duration(value: Any, unit: str = "hours") -> str:
    """A time span in natural words: 0.5 h → "30 分钟", 90 min → "1 小时 30 分钟",
    60 h → "2 天 12 小时". `unit` says what a bare number counts (hours, minutes, seconds)."""
    minutes = _minutes_of(value, unit)
    if minutes is None:
        return ""
    if minutes < 60:
        return _("%(n)s 分钟", n=minutes)
    if minutes < 48 * 60:
        hours, rest = divmod(minutes, 60)
        if rest:
            return _("%(h)s 小时 %(m)s 分钟", h=hours, m=rest)
        return _("%(n)s 小时", n=hours)
    days, rest = divmod(round(minutes / 60), 24)
    if rest:
        return _("%(d)s 天 %(h)s 小时", d=days, h=rest)
    return _("%(n)s 天", n=days)


def nav_items() -> list[tuple[str, Any]]:
    """Menu entries (href, label) for the current user's roles, home first."""
    items: list[tuple[str, Any]] = [(url_for("site.index"), _l("首页"))]
    if not current_user.is_authenticated:
        return items
    roles = current_user.role_names()
    for item in current_app.extensions.get("clearfee_nav", []):
        if "*" in item.roles or "admin" in roles or roles.intersection(item.roles):
            count = item.badge() if item.badge else 0
            text = (
                Markup('{} <span class="count-badge">{}</span>').format(item.label, count)
                if count
                else item.label
            )
            items.append((url_for(item.endpoint), text))
    return items


def _path_without_lang() -> str:
    """This page's path and query, minus `?lang=` (the language switch sets its own)."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
    return request.path + ("?" + urlencode(args) if args else "")


def install(app: Flask) -> None:
    """Register filters and globals."""
    app.jinja_env.filters["yuan"] = format_fen
    app.jinja_env.filters["local_dt"] = local_dt
    app.jinja_env.filters["label"] = label
    app.jinja_env.filters["rate"] = rate
    app.jinja_env.filters["percent_rate"] = percent_rate
    app.jinja_env.filters["rates_in_text"] = rates_in_text
    app.jinja_env.filters["duration"] = duration

    @app.context_processor
    def globals_() -> dict[str, Any]:
        locale = str(get_locale() or "zh_Hans_CN")
        return {
            "nav_items": nav_items,
            "current_locale": locale,
            "html_lang": "en" if locale.startswith("en") else "zh-CN",
            "request_path": _path_without_lang(),
        }
