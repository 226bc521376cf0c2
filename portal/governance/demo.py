"""Demo governance in the first community: a closed fund-use vote with its published tally,
an open fund-draw vote owners can answer on their phones (demo-owner and demo-owner-2 have not
voted yet), revenue proposals with supporters and a shortlist, and on-time rewards."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from portal.accounts.models import Role, RoleAssignment, User
from portal.communities.models import Ownership, Unit
from portal.demo.service import DemoContext
from portal.errors import DomainError
from portal.governance import proposals, rewards, service
from portal.governance.models import Matter, Vote

PAST_TITLE = "关于使用专项维修资金维修 1 号楼屋面防水的表决"
OPEN_TITLE = "关于使用专项维修资金更换 3 号楼电梯的表决"
PROPOSALS = (
    ("儿童游乐区地面更换为塑胶", "现有地砖易滑，建议更换为 EPDM 塑胶地面约 180 平方米", 3_600_000),
    ("地下车库照明改 LED 感应灯", "节省公共电费，预计两年收回成本", 2_450_000),
    ("增设电动自行车充电棚", "在 2 号楼北侧增设 40 个充电位，按次计费", 5_800_000),
    ("中心花园增设休闲座椅", "增设 12 张防腐木座椅", 960_000),
)


def seed(ctx: DemoContext) -> None:
    """Votes, proposals and rewards in DEMO1."""
    if not ctx.communities:
        return
    session, rng, now = ctx.session, ctx.rng, ctx.now
    community = ctx.communities[0]
    manager = session.scalar(
        select(User)
        .join(RoleAssignment, RoleAssignment.user_id == User.id)
        .where(RoleAssignment.community_id == community.id, RoleAssignment.role == Role.MANAGER)
        .order_by(User.id)
        .limit(1)
    )
    if manager is None:
        return
    owner_of: dict[int, User] = {}
    for unit_id, user in session.execute(
        select(Ownership.unit_id, User)
        .join(User, User.id == Ownership.user_id)
        .join(Unit, Unit.id == Ownership.unit_id)
        .where(Unit.community_id == community.id, Ownership.ended_on.is_(None))
        .order_by(Ownership.unit_id, User.id)
    ):
        owner_of.setdefault(unit_id, user)
    demo_units = set(
        session.scalars(
            select(Ownership.unit_id)
            .join(User, User.id == Ownership.user_id)
            .where(User.username.in_(("demo-owner", "demo-owner-2")))
        )
    )

    # A vote that closed three weeks ago: most owners took part, the draw passed.
    opened = now - timedelta(days=40)
    past = service.create_vote(
        session,
        community=community,
        actor=manager,
        title=PAST_TITLE,
        matter=Matter.FUND_USE,
        description="1 号楼屋面渗漏，维修预算 ¥186,000.00，由专项维修资金列支。",
        closes_at=opened + timedelta(days=19),
        now=opened,
    )
    service.open_vote(session, vote=past, actor=manager, now=opened, invite_owners=False)
    for unit_id, user in owner_of.items():
        if rng.random() < 0.86:
            choice = rng.choices(["o1", "o2", "o3"], weights=[80, 12, 8])[0]
            at = opened + timedelta(hours=rng.randint(2, 19 * 24 - 2))
            service.cast_ballot(
                session, vote=past, user=user, unit_id=unit_id, option_code=choice, now=at
            )
    service.close_vote(session, vote=past, actor=manager, now=past.closes_at)

    # The open vote of the demo: invitations queued, about a third has voted.
    opening = now - timedelta(days=2)
    current = service.create_vote(
        session,
        community=community,
        actor=manager,
        title=OPEN_TITLE,
        matter=Matter.FUND_USE,
        description="3 号楼 2 台电梯已使用 16 年，年检提示整改。更换预算 ¥520,000.00，"
        "由专项维修资金列支，分摊到 3 号楼业主的分户账。",
        closes_at=(now + timedelta(days=12)).replace(minute=0, second=0, microsecond=0),
        now=opening,
    )
    service.open_vote(session, vote=current, actor=manager, now=opening)
    for unit_id, user in owner_of.items():
        if unit_id not in demo_units and rng.random() < 0.35:
            choice = rng.choices(["o1", "o2", "o3"], weights=[70, 20, 10])[0]
            service.cast_ballot(
                session,
                vote=current,
                user=user,
                unit_id=unit_id,
                option_code=choice,
                now=opening + timedelta(hours=rng.randint(1, 40)),
            )

    # Proposals for the common revenue (lift advertising, parking rent).
    authors = [u for uid, u in owner_of.items() if uid not in demo_units]
    made = []
    for index, (title, description, cost) in enumerate(PROPOSALS):
        proposal = proposals.submit_proposal(
            session,
            community=community,
            author=authors[index % len(authors)],
            title=title,
            description=description,
            estimated_cost_fen=cost,
            now=now - timedelta(days=20 - index),
        )
        for supporter in rng.sample(authors, k=min(len(authors), rng.randint(3, 25))):
            try:
                proposals.support_proposal(
                    session, proposal=proposal, user=supporter, now=now - timedelta(days=10)
                )
            except DomainError:  # an owner of two units: supports once
                continue
        made.append(proposal)
    proposals.shortlist(session, proposal=made[0], actor=manager, now=now - timedelta(days=5))
    proposals.shortlist(session, proposal=made[1], actor=manager, now=now - timedelta(days=5))
    proposals.decline(
        session,
        proposal=made[2],
        actor=manager,
        note="涉及消防审批，需先征询消防部门意见",
        now=now - timedelta(days=5),
    )

    # Rewards for paying on time, given for what the seeded payments earned.
    rewards.set_policy(
        session,
        community=community,
        actor=manager,
        prepay_year_rate=Decimal("0.0200"),
        autopay_credit_fen=1000,
        early_points=10,
        now=now - timedelta(days=30),
    )
    result = rewards.run_rewards(session, community=community, now=now)
    votes = session.scalar(select(Vote.id).where(Vote.id == current.id))
    ctx.result.lines.append(
        f"governance: 2 votes in {community.code} (open #{votes}), {len(made)} proposals, "
        f"{result.early_points} on-time bills rewarded, {result.credit_fen} fen credited"
    )
