"""Communities, buildings, units and ownerships: scoped look-ups and audited edits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, joinedload

from portal.accounts.models import Role, User
from portal.audit import service as audit
from portal.communities.models import (
    BillingCycle,
    Building,
    Community,
    FeeRegime,
    Ownership,
    PropertyType,
    Unit,
)
from portal.errors import DomainError

EDITABLE_FIELDS = (
    "name",
    "city",
    "address",
    "fee_regime",
    "commission_rate",
    "hotline",
    "timezone",
    "is_public",
    "billing_cycle",
    "description",
    "tier_l1_days",
    "tier_l2_days",
    "tier_l3_days",
    "tier_l4_days",
    "notice_period_days",
)
MANAGE_ROLES = (Role.ADMIN, Role.MANAGER)
NEW_COMMUNITY_DEFAULTS: dict[str, Any] = {
    "city": "",
    "address": "",
    "fee_regime": FeeRegime.LUMP_SUM,
    "hotline": "",
    "timezone": "Asia/Shanghai",
    "is_public": True,
    "billing_cycle": BillingCycle.MONTHLY,
    "description": "",
    "tier_l1_days": 1,
    "tier_l2_days": 30,
    "tier_l3_days": 60,
    "tier_l4_days": 90,
    "notice_period_days": 30,
}


def list_communities(session: Session, *, public_only: bool = True) -> list[Community]:
    """Communities in name order; only public ones unless asked otherwise."""
    query = select(Community).order_by(Community.code)
    if public_only:
        query = query.where(Community.is_public.is_(True))
    return list(session.scalars(query))


def get_community(session: Session, code: str) -> Community | None:
    """The community with this code, or None."""
    return session.scalar(select(Community).where(Community.code == code))


def visible_community(session: Session, *, code: str, user: User | None) -> Community | None:
    """A community the viewer may see the public profile of: public, or their own."""
    community = get_community(session, code)
    if community is None:
        return None
    if community.is_public:
        return community
    if (
        user is not None
        and user.is_authenticated
        and (
            user.is_admin
            or community.id in user.community_ids()
            or community.id in {u.community_id for u in units_of(session, user)}
        )
    ):
        return community
    return None


def staff_communities(session: Session, user: User, *roles: str) -> list[Community]:
    """Communities where the user is staff with one of `roles` (admins: all)."""
    query = select(Community).order_by(Community.code)
    if not user.is_admin:
        ids = (
            user.community_ids(*roles)
            if roles
            else user.community_ids(*[r for r in Role if r not in (Role.OWNER, Role.ADMIN)])
        )
        query = query.where(Community.id.in_(ids or {-1}))
    return list(session.scalars(query))


def get_scoped_community(
    session: Session, *, user: User, code: str, roles: tuple[str, ...] = MANAGE_ROLES
) -> Community | None:
    """The community if the user is staff there with one of `roles`; None (→ 404) otherwise."""
    community = get_community(session, code)
    if community is None:
        return None
    if user.is_admin or community.id in user.community_ids(*roles):
        return community
    return None


def units_of(session: Session, user: User, *, on: date | None = None) -> list[Unit]:
    """Units the user currently owns (or owned on a date)."""
    query = (
        select(Unit)
        .join(Ownership, Ownership.unit_id == Unit.id)
        .options(joinedload(Unit.community), joinedload(Unit.building))
        .where(Ownership.user_id == user.id)
        .order_by(Unit.community_id, Unit.code)
    )
    if on is None:
        query = query.where(Ownership.ended_on.is_(None))
    else:
        query = query.where(
            Ownership.started_on <= on, or_(Ownership.ended_on.is_(None), Ownership.ended_on > on)
        )
    return list(session.scalars(query).unique())


def get_owned_unit(session: Session, *, user: User, unit_id: int) -> Unit | None:
    """The unit if the user currently owns it; None (→ 404) otherwise."""
    return session.scalar(
        select(Unit)
        .join(Ownership, Ownership.unit_id == Unit.id)
        .where(Unit.id == unit_id, Ownership.user_id == user.id, Ownership.ended_on.is_(None))
    )


def create_community(
    session: Session,
    *,
    code: str,
    name: str,
    now: datetime,
    actor_id: int | None = None,
    **fields: Any,
) -> Community:
    """Create a community with a unique code."""
    code = code.strip().upper()
    if not code or get_community(session, code) is not None:
        raise DomainError(
            _l("小区编码 %(code)s 已存在或为空", code=code), field="code", code="duplicate"
        )
    community = Community(code=code, name=name, created_at=now, **NEW_COMMUNITY_DEFAULTS)
    _apply(community, fields)
    session.add(community)
    session.flush()
    audit.record(
        session,
        actor_id=actor_id,
        action="community.create",
        target_type="community",
        target_id=community.id,
        community_id=community.id,
        now=now,
        details={"code": code},
    )
    return community


def _apply(community: Community, fields: dict[str, Any]) -> dict[str, list[Any]]:
    changes: dict[str, list[Any]] = {}
    for key, value in fields.items():
        if key not in EDITABLE_FIELDS:
            raise DomainError(_l("不可修改的字段 %(key)s", key=key))
        old = getattr(community, key)
        if old != value:
            changes[key] = [_jsonable(old), _jsonable(value)]
            setattr(community, key, value)
    if community.fee_regime not in set(FeeRegime):
        raise DomainError(_l("收费模式无效"), field="fee_regime")
    if community.billing_cycle is not None and community.billing_cycle not in set(BillingCycle):
        raise DomainError(_l("计费周期无效"), field="billing_cycle")
    tiers = [
        community.tier_l1_days,
        community.tier_l2_days,
        community.tier_l3_days,
        community.tier_l4_days,
    ]
    if None not in tiers and (tiers != sorted(set(tiers)) or tiers[0] < 0):
        raise DomainError(_l("催缴各级天数必须递增（L1 < L2 < L3 < L4）"), field="tier_l2_days")
    return changes


def _jsonable(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


def update_community(
    session: Session, *, community: Community, actor: User, now: datetime, **fields: Any
) -> dict[str, list[Any]]:
    """Change a community's profile and settings; the change is audited with before/after."""
    changes = _apply(community, fields)
    if changes:
        session.flush()
        audit.record(
            session,
            actor_id=actor.id,
            action="community.update",
            target_type="community",
            target_id=community.id,
            community_id=community.id,
            now=now,
            details=changes,
        )
    return changes


def add_building(
    session: Session, *, community: Community, code: str, name: str, floors: int | None = None
) -> Building:
    """Add a building; its code is unique in the community."""
    if session.scalar(
        select(Building.id).where(Building.community_id == community.id, Building.code == code)
    ):
        raise DomainError(_l("楼栋 %(code)s 已存在", code=code), field="code", code="duplicate")
    building = Building(community_id=community.id, code=code, name=name, floors=floors)
    session.add(building)
    session.flush()
    return building


def add_unit(
    session: Session,
    *,
    building: Building,
    code: str,
    area_m2: Decimal,
    property_type: str = PropertyType.RESIDENTIAL,
    floor: int | None = None,
) -> Unit:
    """Add a unit with a positive area of at most two decimals."""
    _check_area(area_m2)
    if property_type not in set(PropertyType):
        raise DomainError(_l("物业类型无效"), field="property_type")
    unit = Unit(
        community_id=building.community_id,
        building_id=building.id,
        code=code,
        area_m2=area_m2,
        property_type=property_type,
        floor=floor,
    )
    session.add(unit)
    session.flush()
    return unit


def _check_area(area_m2: Decimal) -> None:
    if area_m2 <= 0 or area_m2 != area_m2.quantize(Decimal("0.01")) or area_m2 > Decimal("100000"):
        raise DomainError(_l("建筑面积须大于 0，最多两位小数"), field="area_m2")


def update_unit(
    session: Session,
    *,
    unit: Unit,
    actor: User,
    now: datetime,
    area_m2: Decimal,
    property_type: str,
) -> None:
    """Correct a unit's area or type (audited: billing depends on it)."""
    _check_area(area_m2)
    if property_type not in set(PropertyType):
        raise DomainError(_l("物业类型无效"), field="property_type")
    changes = {}
    if unit.area_m2 != area_m2:
        changes["area_m2"] = [str(unit.area_m2), str(area_m2)]
        unit.area_m2 = area_m2
    if unit.property_type != property_type:
        changes["property_type"] = [unit.property_type, property_type]
        unit.property_type = property_type
    if changes:
        session.flush()
        audit.record(
            session,
            actor_id=actor.id,
            action="unit.update",
            target_type="unit",
            target_id=unit.id,
            community_id=unit.community_id,
            now=now,
            details=changes,
        )


def add_ownership(session: Session, *, user: User, unit: Unit, started_on: date) -> Ownership:
    """Record that a user owns a unit, and make sure they hold the owner role there."""
    from portal.accounts import service as accounts

    ownership = Ownership(user_id=user.id, unit_id=unit.id, started_on=started_on)
    session.add(ownership)
    accounts.grant_role(session, user=user, role=Role.OWNER, community_id=unit.community_id)
    session.flush()
    return ownership


def find_unit(session: Session, *, community: Community, code: str) -> Unit | None:
    """A unit of a community by its code."""
    return session.scalar(select(Unit).where(Unit.community_id == community.id, Unit.code == code))


@dataclass(frozen=True)
class UnitPage:
    units: list[Unit]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def list_units(
    session: Session, *, community: Community, search: str = "", page: int = 1, per_page: int = 50
) -> UnitPage:
    """A page of a community's units, optionally filtered by code prefix."""
    query = select(Unit).where(Unit.community_id == community.id)
    if search:
        query = query.where(Unit.code.startswith(search.strip().upper(), autoescape=True))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = max(1, page)
    units = session.scalars(
        query.options(joinedload(Unit.building))
        .order_by(Unit.building_id, Unit.floor, Unit.code)
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    return UnitPage(units=list(units), total=total, page=page, per_page=per_page)


def community_counts(session: Session, community: Community) -> dict[str, int]:
    """Buildings, units and current owners of a community."""
    buildings = (
        session.scalar(select(func.count(Building.id)).where(Building.community_id == community.id))
        or 0
    )
    units = (
        session.scalar(select(func.count(Unit.id)).where(Unit.community_id == community.id)) or 0
    )
    owners = (
        session.scalar(
            select(func.count(func.distinct(Ownership.user_id)))
            .join(Unit, Unit.id == Ownership.unit_id)
            .where(Unit.community_id == community.id, Ownership.ended_on.is_(None))
        )
        or 0
    )
    return {"buildings": buildings, "units": units, "owners": owners}
