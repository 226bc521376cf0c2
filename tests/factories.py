"""Plain builders with keyword defaults; each flushes and returns the object."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pyotp
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from portal.accounts import service as accounts
from portal.accounts import two_factor
from portal.accounts.models import TwoFactor, User
from portal.communities import service as communities
from portal.communities.models import Building, Community, Unit

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
PASSWORD = "pass-word-123"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # the documented demo secret (DESIGN.md §3)
_seq = itertools.count(1)


def make_community(
    session: Session, *, code: str | None = None, name: str = "测试小区", **fields: Any
) -> Community:
    n = next(_seq)
    return communities.create_community(session, code=code or f"C{n}", name=name, now=NOW, **fields)


def make_building(
    session: Session, *, community: Community | None = None, code: str | None = None
) -> Building:
    community = community or make_community(session)
    n = next(_seq)
    return communities.add_building(
        session, community=community, code=code or f"A-{n}", name=f"A区{n}号楼"
    )


def make_unit(
    session: Session,
    *,
    community: Community | None = None,
    building: Building | None = None,
    code: str | None = None,
    area_m2: Decimal = Decimal("89.50"),
    property_type: str = "residential",
) -> Unit:
    building = building or make_building(session, community=community)
    n = next(_seq)
    return communities.add_unit(
        session,
        building=building,
        code=code or f"{building.code}-{n}",
        area_m2=area_m2,
        property_type=property_type,
    )


def make_user(
    session: Session,
    *,
    role: str = "owner",
    community: Community | None = None,
    unit: Unit | None = None,
    username: str | None = None,
    password: str | None = PASSWORD,
    totp: bool = True,
    **fields: Any,
) -> User:
    """A user holding `role`; owners get a unit (made if not given), staff a community.
    Roles that need two-factor are enrolled with TOTP_SECRET unless `totp=False`."""
    n = next(_seq)
    user = accounts.create_user(
        session, username=username or f"{role}{n}", password=password, now=NOW, **fields
    )
    if role == "owner":
        unit = unit or make_unit(session, community=community)
        communities.add_ownership(session, user=user, unit=unit, started_on=date(2024, 1, 1))
    elif role == "admin":
        accounts.grant_role(session, user=user, role="admin", community_id=None)
    else:
        community = community or make_community(session)
        accounts.grant_role(session, user=user, role=role, community_id=community.id)
    if totp and role in two_factor.DEFAULT_ROLES:
        two_factor.enrol_with_secret(session, user=user, secret=TOTP_SECRET, now=NOW)
    session.flush()
    return user


def make_fee_notice(
    session: Session,
    *,
    community: Community,
    rate: str = "2.80",
    property_type: str = "residential",
    item_code: str = "property_service",
    published_at: datetime = NOW,
    publish: bool = True,
) -> Any:
    """A fee-change notice naming one item's new rate, published at `published_at`."""
    from portal.notices import service as notices

    author = make_user(session, role="cs", community=community)
    notice = notices.create_notice(
        session,
        community=community,
        actor=author,
        now=published_at,
        data=notices.NoticeInput(
            category="fee_change",
            title=f"关于调整{item_code}收费标准的公告",
            body=f"新单价 {rate} 元",
            fee_property_type=property_type,
            fee_item_code=item_code,
            fee_rate=Decimal(rate),
        ),
    )
    if publish:
        notices.publish_notice(session, notice=notice, actor=author, now=published_at)
    return notice


def login_fields(username: str, password: str = PASSWORD) -> dict[str, str]:
    """The log-in form (or token request) for `username`, with a TOTP code when the user has
    two-factor. The pinned test clock yields one code per instant, so the replay guard is
    reset first: a test may log the same user in several times."""
    from portal.extensions import db
    from portal.timeutil import now_utc

    fields = {"username": username, "password": password}
    user = db.session.scalar(select(User).where(User.username == username))
    row = db.session.get(TwoFactor, user.id) if user is not None else None
    if row is not None and row.confirmed_at is not None:
        db.session.execute(
            update(TwoFactor).where(TwoFactor.user_id == row.user_id).values(last_step=None)
        )
        db.session.commit()
        fields["totp"] = pyotp.TOTP(row.secret).at(now_utc())
    return fields


def make_standard(
    session: Session,
    *,
    community: Community,
    rate: str = "2.50",
    property_type: str = "residential",
    item_code: str = "property_service",
    basis: str = "per_m2_month",
    effective_from: date = date(2024, 1, 1),
) -> Any:
    """A first-version fee standard (no notice needed for version 1)."""
    from portal.billing import standards as billing_standards

    return billing_standards.create_standard(
        session,
        community=community,
        property_type=property_type,
        item_code=item_code,
        basis=basis,
        rate=Decimal(rate),
        effective_from=effective_from,
        approval_ref="物业服务合同第五条",
        now=NOW,
        actor_id=None,
    )


def make_billed_unit(
    session: Session,
    *,
    community: Community | None = None,
    area_m2: Decimal = Decimal("100.00"),
    rate: str = "2.50",
    periods: tuple[str, ...] = ("2026-09",),
) -> tuple[Unit, list[Any]]:
    """A unit with a standard and bills for the given periods (default ¥250 a month)."""
    from sqlalchemy import select

    from portal.billing import runs as billing_runs
    from portal.billing import standards as billing_standards
    from portal.billing.models import Bill

    community = community or make_community(session)
    if not billing_standards.current_standards(
        session, community_id=community.id, on=date(2030, 1, 1)
    ):
        make_standard(session, community=community, rate=rate)
    unit = make_unit(session, community=community, area_m2=area_m2)
    for period in periods:
        billing_runs.generate_bills(
            session, community=community, period=billing_runs.period_start(period), now=NOW
        )
    bills = list(session.scalars(select(Bill).where(Bill.unit_id == unit.id).order_by(Bill.period)))
    return unit, bills
