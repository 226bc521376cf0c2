"""Realistic demo data in Chinese (Faker zh_CN), reproducible from a seed."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from faker import Faker
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal import domains
from portal.accounts import service as accounts
from portal.accounts import two_factor
from portal.accounts.models import Role, User
from portal.communities import service as communities
from portal.communities.models import Community, FeeRegime, PropertyType, Unit
from portal.publication import service as publication

DEMO_PASSWORD = "demo-pass-2026"  # noqa: S105 - documented public demo password
DEMO_STAFF = ("cs", "engineer", "finance", "collector", "manager", "committee")

COMMUNITY_PROFILES = [
    {
        "code": "DEMO1",
        "name": "明账花园",
        "city": "上海市",
        "address": "浦东新区锦绣路 1888 弄",
        "fee_regime": FeeRegime.COMMISSION,
        "commission_rate": Decimal("0.1000"),
        "hotline": "021-5888 1234",
        "is_public": True,
        "description": "2012 年交付的住宅小区，共两个组团，配套地下车库和沿街商铺。",
    },
    {
        "code": "DEMO2",
        "name": "翠湖苑",
        "city": "杭州市",
        "address": "西湖区文一西路 588 号",
        "fee_regime": FeeRegime.LUMP_SUM,
        "commission_rate": None,
        "hotline": "0571-8666 5678",
        "is_public": False,
        "description": "2016 年交付的电梯住宅小区。",
    },
    {
        "code": "DEMO3",
        "name": "滨江壹号",
        "city": "南京市",
        "address": "建邺区江东中路 99 号",
        "fee_regime": FeeRegime.LUMP_SUM,
        "commission_rate": None,
        "hotline": "025-8777 2468",
        "is_public": True,
        "description": "滨江高层住宅。",
    },
]


@dataclass
class SeedResult:
    communities: list[Community] = field(default_factory=list)
    units: int = 0
    owners: int = 0
    logins: list[tuple[str, str]] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # one summary line per domain


@dataclass
class DemoContext:
    """What each domain's demo.seed(ctx) gets: the world so far and shared randomness."""

    session: Session
    rng: random.Random
    fake: Faker
    now: datetime
    months: int
    communities: list[Community]
    units: dict[int, list[Unit]]  # community id → its units
    result: SeedResult


def database_is_empty(session: Session) -> bool:
    """True when no community exists yet (what `make run` checks before seeding)."""
    return not session.scalar(select(func.count(Community.id)))


def _profile(index: int) -> dict[str, object]:
    if index < len(COMMUNITY_PROFILES):
        return dict(COMMUNITY_PROFILES[index])
    return {
        "code": f"DEMO{index + 1}",
        "name": f"示范小区{index + 1}",
        "city": "上海市",
        "address": "",
        "fee_regime": FeeRegime.LUMP_SUM,
        "commission_rate": None,
        "hotline": "021-5000 0000",
        "is_public": True,
        "description": "",
    }


def _make_units(
    session: Session, rng: random.Random, community: Community, count: int
) -> list[Unit]:
    """Buildings of 2 units a floor, in zones A and B, until `count` units exist."""
    units: list[Unit] = []
    per_building = 36  # 18 floors x 2
    buildings = max(1, -(-count // per_building))
    for b in range(buildings):
        zone = "A" if b < (buildings + 1) // 2 else "B"
        number = b + 1
        building = communities.add_building(
            session,
            community=community,
            code=f"{zone}-{number}",
            name=f"{zone}区{number}号楼",
            floors=18,
        )
        for floor in range(1, 19):
            for door in (1, 2):
                if len(units) >= count:
                    break
                shop = floor == 1 and b % 3 == 0
                area = Decimal(rng.randint(5800, 16500)) / 100
                unit = Unit(
                    community_id=community.id,
                    building_id=building.id,
                    code=f"{zone}-{number}-{floor}{door:02d}",
                    floor=floor,
                    area_m2=area,
                    property_type=PropertyType.COMMERCIAL if shop else PropertyType.RESIDENTIAL,
                )
                units.append(unit)
    session.add_all(units)
    session.flush()
    return units


def seed(
    session: Session,
    *,
    communities_count: int = 2,
    units_per_community: int = 150,
    months: int = 12,
    seed_value: int = 2026,
    now: datetime,
) -> SeedResult:
    """Create communities, buildings, units, owners and staff; the first community is DEMO1."""
    rng = random.Random(seed_value)
    fake = Faker("zh_CN")
    fake.seed_instance(seed_value)
    result = SeedResult()
    started = (now - timedelta(days=365 * 5)).date()
    owner_serial = 0
    units_by_community: dict[int, list[Unit]] = {}
    for index in range(communities_count):
        profile = _profile(index)
        code = str(profile.pop("code"))
        name = str(profile.pop("name"))
        community = communities.create_community(session, code=code, name=name, now=now, **profile)
        result.communities.append(community)
        units = _make_units(session, rng, community, units_per_community)
        units_by_community[community.id] = units
        result.units += len(units)
        # About 9 in 10 units have a registered owner; some units have two co-owners.
        for unit in units:
            if rng.random() > 0.92:
                continue
            for _ in range(2 if rng.random() < 0.08 else 1):
                owner_serial += 1
                owner = User(
                    username=f"owner{owner_serial:05d}",
                    password_hash=None,
                    display_name=fake.name(),
                    phone=fake.phone_number(),
                    created_at=now,
                )
                session.add(owner)
                session.flush()
                communities.add_ownership(
                    session,
                    user=owner,
                    unit=unit,
                    started_on=started + timedelta(days=rng.randint(0, 900)),
                )
                result.owners += 1
        if index == 0:
            _demo_logins(session, fake, community, units, now, result)
    admin = accounts.create_user(
        session, username="demo-admin", password=DEMO_PASSWORD, display_name="系统管理员", now=now
    )
    accounts.grant_role(session, user=admin, role=Role.ADMIN, community_id=None)
    two_factor.enrol_with_secret(session, user=admin, secret=two_factor.DEMO_SECRET, now=now)
    result.logins.append(("demo-admin", "admin, two-factor"))
    session.flush()
    ctx = DemoContext(
        session=session,
        rng=rng,
        fake=fake,
        now=now,
        months=months,
        communities=result.communities,
        units=units_by_community,
        result=result,
    )
    for module in domains.modules("demo"):
        module.seed(ctx)
        session.flush()
    # Each domain seeded its own past publications in turn; the log lists them as they went
    # public, so that a published_at never goes back along the chain.
    for community in result.communities:
        publication.rechain_in_time_order(session, community=community)
    return result


def _demo_logins(
    session: Session,
    fake: Faker,
    community: Community,
    units: list[Unit],
    now: datetime,
    result: SeedResult,
) -> None:
    residential = [u for u in units if u.property_type == PropertyType.RESIDENTIAL]
    for username, unit in (("demo-owner", residential[5]), ("demo-owner-2", residential[-3])):
        user = accounts.create_user(
            session,
            username=username,
            password=DEMO_PASSWORD,
            display_name=fake.name(),
            phone=fake.phone_number(),
            now=now,
        )
        communities.add_ownership(session, user=user, unit=unit, started_on=date(2020, 3, 1))
        result.logins.append((username, f"owner {unit.code}"))
    names = {
        "cs": "客服",
        "engineer": "工程",
        "finance": "财务",
        "collector": "催缴",
        "manager": "管理处",
        "committee": "业委会",
    }
    for role in DEMO_STAFF:
        username = f"demo-{role}"
        user = accounts.create_user(
            session,
            username=username,
            password=DEMO_PASSWORD,
            display_name=f"{fake.last_name()}{names[role]}",
            phone=fake.phone_number(),
            now=now,
        )
        accounts.grant_role(session, user=user, role=role, community_id=community.id)
        what = f"{role} {community.code}"
        if role in two_factor.DEFAULT_ROLES:
            # The published demo secret (DESIGN.md §3): demo mode only, like the password.
            two_factor.enrol_with_secret(session, user=user, secret=two_factor.DEMO_SECRET, now=now)
            what += ", two-factor"
        result.logins.append((username, what))
