from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from portal.errors import DomainError
from portal.notices import markdown, service
from portal.notices.models import Notice, NoticeRead, NoticeStatus
from portal.publication import service as publication
from tests import factories
from tests.factories import NOW
from tests.transparency.helpers import count


def _input(**changes: object) -> service.NoticeInput:
    data: dict[str, object] = {
        "category": "general",
        "title": "垃圾分类投放时间调整",
        "body": "自下月起…",
    }
    if changes.get("category") == "fee_change":
        data.update(FEE_CHANGE)
    data.update(changes)
    return service.NoticeInput(**data)  # type: ignore[arg-type]


FEE_CHANGE = {
    "fee_property_type": "residential",
    "fee_item_code": "property_service",
    "fee_rate": Decimal("2.80"),
}


def _cs(session: Session, community: object) -> object:
    return factories.make_user(session, role="cs", community=community)


def test_publish_now_and_fee_change_listing(session: Session) -> None:
    community = factories.make_community(session, code="FEE")
    actor = _cs(session, community)
    notice = service.create_notice(
        session,
        community=community,
        actor=actor,
        now=NOW,
        data=_input(
            category="fee_change", title="关于调整物业服务费的公告", body="**2.80 元/㎡·月**"
        ),
    )
    assert notice.status == NoticeStatus.DRAFT
    assert notice.published_at is None
    assert notice.important  # fee changes always need acknowledgement
    assert service.published_fee_change_notices(session, community_id=community.id) == []
    service.publish_notice(session, notice=notice, actor=actor, now=NOW)
    assert notice.status == NoticeStatus.PUBLISHED
    assert notice.published_at == NOW
    listed = service.published_fee_change_notices(session, community_id=community.id)
    assert [n.id for n in listed] == [notice.id]
    assert {"id", "community_id", "category", "title", "published_at", "expires_at"} <= set(
        Notice.__table__.columns.keys()
    )
    # Logged, so moving the announcement date afterwards is detected.
    entry = publication.entries(session, community)[0]
    assert entry["kind"] == "notice"
    assert entry["payload"]["published_at"] == "2026-11-20T02:00:00Z"
    assert entry["payload"]["fee_change"] == {
        "property_type": "residential",
        "item_code": "property_service",
        "rate": "2.8000",
    }
    session.commit()
    assert publication.verify(session, community).ok
    session.execute(
        update(Notice).where(Notice.id == notice.id).values(published_at=NOW - timedelta(days=60))
    )
    session.commit()
    session.expire_all()
    result = publication.verify(session, community)
    assert not result.ok
    assert result.bad_seq == 1
    # Withdrawn fee-change notices no longer count.
    fresh = session.get(Notice, notice.id)
    service.withdraw_notice(session, notice=fresh, actor=actor, now=NOW)
    assert service.published_fee_change_notices(session, community_id=community.id) == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"fee_property_type": None}, "fee_property_type"),
        ({"fee_property_type": "castle"}, "fee_property_type"),
        ({"fee_item_code": None}, "fee_item_code"),
        ({"fee_item_code": "mystery"}, "fee_item_code"),
        ({"fee_rate": None}, "fee_rate"),
        ({"fee_rate": Decimal("-1")}, "fee_rate"),
        ({"fee_rate": Decimal("1.23456")}, "fee_rate"),
        ({"fee_rate": Decimal("NaN")}, "fee_rate"),
    ],
)
def test_fee_change_notice_must_name_item_and_rate(
    session: Session, changes: dict[str, object], field: str
) -> None:
    community = factories.make_community(session)
    actor = _cs(session, community)
    with pytest.raises(DomainError) as info:
        service.create_notice(
            session,
            community=community,
            actor=actor,
            now=NOW,
            data=_input(category="fee_change", **changes),
        )
    assert info.value.field == field
    assert count(session, Notice) == 0


def test_other_notices_carry_no_fee_change(session: Session) -> None:
    community = factories.make_community(session)
    actor = _cs(session, community)
    notice = service.create_notice(
        session, community=community, actor=actor, now=NOW, data=_input(**FEE_CHANGE)
    )
    assert (notice.fee_item_code, notice.fee_rate) == (None, None)
    service.publish_notice(session, notice=notice, actor=actor, now=NOW)
    assert publication.count(session, community) == 0


def test_scheduled_notice_is_released_at_its_time(session: Session) -> None:
    community = factories.make_community(session)
    actor = _cs(session, community)
    later = NOW + timedelta(days=2)
    notice = service.create_notice(
        session,
        community=community,
        actor=actor,
        now=NOW,
        data=_input(category="fee_change", publish_at=later),
    )
    service.publish_notice(session, notice=notice, actor=actor, now=NOW)
    assert notice.status == NoticeStatus.SCHEDULED
    assert notice.published_at is None
    assert service.visible_notices(session, community_id=community.id, now=NOW) == []
    assert service.published_fee_change_notices(session, community_id=community.id, now=NOW) == []
    assert service.release_due(session, now=NOW + timedelta(days=1)) == 0
    listed = service.published_fee_change_notices(
        session, community_id=community.id, now=later + timedelta(minutes=5)
    )
    assert [n.id for n in listed] == [notice.id]
    assert notice.published_at == later  # announced when it was scheduled for, not when noticed
    assert service.release_due(session, now=later + timedelta(days=1)) == 0  # idempotent
    assert publication.count(session, community) == 1


def test_unschedule_edit_withdraw_pin(session: Session) -> None:
    community = factories.make_community(session)
    actor = _cs(session, community)
    notice = service.create_notice(
        session,
        community=community,
        actor=actor,
        now=NOW,
        data=_input(publish_at=NOW + timedelta(hours=3)),
    )
    service.publish_notice(session, notice=notice, actor=actor, now=NOW)
    service.update_notice(
        session,
        notice=notice,
        data=_input(title="改过的标题", publish_at=NOW + timedelta(hours=5)),
        actor=actor,
        now=NOW,
    )
    assert notice.status == NoticeStatus.SCHEDULED
    service.unschedule_notice(session, notice=notice, actor=actor, now=NOW)
    assert notice.status == NoticeStatus.DRAFT
    service.update_notice(session, notice=notice, data=_input(), actor=actor, now=NOW)
    service.publish_notice(session, notice=notice, actor=actor, now=NOW)
    with pytest.raises(DomainError, match="不能修改正文"):
        service.update_notice(
            session, notice=notice, data=_input(title="偷改"), actor=actor, now=NOW
        )
    service.set_pinned(session, notice=notice, pinned=True, actor=actor, now=NOW)
    other = service.create_notice(
        session, community=community, actor=actor, now=NOW, data=_input(title="第二条")
    )
    service.publish_notice(session, notice=other, actor=actor, now=NOW + timedelta(minutes=1))
    shown = service.visible_notices(
        session, community_id=community.id, now=NOW + timedelta(minutes=2)
    )
    assert [n.id for n in shown] == [notice.id, other.id]  # pinned first
    service.withdraw_notice(session, notice=notice, actor=actor, now=NOW)
    assert [
        n.id
        for n in service.visible_notices(
            session, community_id=community.id, now=NOW + timedelta(minutes=2)
        )
    ] == [other.id]
    with pytest.raises(DomainError):
        service.withdraw_notice(session, notice=notice, actor=actor, now=NOW)
    with pytest.raises(DomainError, match="只能删除草稿"):
        service.delete_draft(session, notice=other, actor=actor, now=NOW)


def test_outage_notice_needs_buildings_and_hours(session: Session) -> None:
    community = factories.make_community(session)
    a = factories.make_building(session, community=community)
    b = factories.make_building(session, community=community)
    foreign = factories.make_building(session)
    actor = _cs(session, community)
    start = NOW + timedelta(days=2)
    base = {"category": "outage", "title": "二次供水水箱清洗，临时停水", "body": "请提前储水。"}
    bad = [
        (
            {
                "outage_type": None,
                "outage_starts_at": start,
                "outage_ends_at": start + timedelta(hours=4),
                "building_ids": (a.id,),
            },
            "类型",
        ),
        ({"outage_type": "water", "building_ids": (a.id,)}, "开始和结束"),
        (
            {
                "outage_type": "water",
                "outage_starts_at": start,
                "outage_ends_at": start,
                "building_ids": (a.id,),
            },
            "晚于开始",
        ),
        (
            {
                "outage_type": "water",
                "outage_starts_at": start,
                "outage_ends_at": start + timedelta(hours=4),
            },
            "楼栋",
        ),
        (
            {
                "outage_type": "water",
                "outage_starts_at": start,
                "outage_ends_at": start + timedelta(hours=4),
                "building_ids": (a.id, foreign.id),
            },
            "不属于",
        ),
    ]
    for extra, message in bad:
        with pytest.raises(DomainError, match=message):
            service.create_notice(
                session, community=community, actor=actor, now=NOW, data=_input(**base, **extra)
            )
    assert count(session, Notice) == 0
    notice = service.create_notice(
        session,
        community=community,
        actor=actor,
        now=NOW,
        data=_input(
            **base,
            outage_type="water",
            outage_starts_at=start,
            outage_ends_at=start + timedelta(hours=4),
            building_ids=(b.id, a.id),
        ),
    )
    assert [x.id for x in notice.buildings] == sorted(
        [a.id, b.id], key=lambda i: session.get(type(a), i).code
    )
    assert notice.expires_at == start + timedelta(hours=4, days=1)


@pytest.mark.parametrize(
    "body",
    [
        "<script>alert(1)</script>",
        "点这里 [领奖](javascript:alert(1))",
        '<img src=x onerror="alert(1)">',
        "<iframe src='https://evil.example'></iframe>",
        "<svg><script>alert(1)</script></svg>",
        "[x](JaVaScRiPt:alert(1))",
    ],
)
def test_script_in_markdown_is_refused(session: Session, body: str) -> None:
    community = factories.make_community(session)
    actor = _cs(session, community)
    with pytest.raises(DomainError, match="脚本") as caught:
        service.create_notice(
            session, community=community, actor=actor, now=NOW, data=_input(body=body)
        )
    assert caught.value.field == "body"
    assert count(session, Notice) == 0


def test_markdown_is_rendered_and_sanitised() -> None:
    html = markdown.render(
        "# 标题\n\n**停水** <b>粗</b>\n\n- 一\n- 二\n\n[官网](https://example.org)"
    )
    assert "<h2>标题</h2>" in html
    assert "<strong>停水</strong>" in html
    assert "&lt;b&gt;" in html  # raw HTML is shown as text, never passed through
    assert '<a href="https://example.org" rel="noopener noreferrer nofollow">' in html
    assert markdown.plain_excerpt("**停水** 通知\n\n- 一", 6) == "停水 通知…"


def test_reads_acknowledgements_and_rates(session: Session) -> None:
    community = factories.make_community(session)
    actor = _cs(session, community)
    owners = [
        factories.make_user(
            session, role="owner", unit=factories.make_unit(session, community=community)
        )
        for _ in range(4)
    ]
    outsider = factories.make_user(session, role="owner")
    notice = service.create_notice(
        session, community=community, actor=actor, now=NOW, data=_input(important=True)
    )
    plain = service.create_notice(session, community=community, actor=actor, now=NOW, data=_input())
    for n in (notice, plain):
        service.publish_notice(session, notice=n, actor=actor, now=NOW)
    assert service.unread_count(session, user=owners[0], community_id=community.id, now=NOW) == 2
    service.mark_read(session, notice=notice, user=owners[0], now=NOW)
    again = service.mark_read(session, notice=notice, user=owners[0], now=NOW + timedelta(hours=1))
    assert again.read_at == NOW
    service.acknowledge(session, notice=notice, user=owners[1], now=NOW)
    service.acknowledge(session, notice=notice, user=owners[1], now=NOW + timedelta(days=1))
    service.mark_read(session, notice=notice, user=outsider, now=NOW)  # not counted
    with pytest.raises(DomainError, match="无需确认"):
        service.acknowledge(session, notice=plain, user=owners[0], now=NOW)
    assert service.unread_count(session, user=owners[0], community_id=community.id, now=NOW) == 1
    stats = service.read_stats(session, community_id=community.id, notice_ids=[notice.id, plain.id])
    assert stats[notice.id] == service.ReadStats(audience=4, read=2, acknowledged=1)
    assert stats[notice.id].rate(2) == 50
    assert stats[plain.id].read == 0
    receipt = session.scalar(select(NoticeRead).where(NoticeRead.user_id == owners[1].id))
    assert receipt.acknowledged_at == NOW
    assert service.is_member(session, user=owners[0], community_id=community.id)
    assert not service.is_member(session, user=outsider, community_id=community.id)


def test_expiry(session: Session) -> None:
    community = factories.make_community(session)
    actor = _cs(session, community)
    with pytest.raises(DomainError, match="下架时间"):
        service.create_notice(
            session,
            community=community,
            actor=actor,
            now=NOW,
            data=_input(expires_at=NOW - timedelta(hours=1)),
        )
    notice = service.create_notice(
        session,
        community=community,
        actor=actor,
        now=NOW,
        data=_input(expires_at=NOW + timedelta(days=1)),
    )
    service.publish_notice(session, notice=notice, actor=actor, now=NOW)
    later = NOW + timedelta(days=2)
    assert service.visible_notices(session, community_id=community.id, now=later) == []
    assert service.visible_notices(
        session, community_id=community.id, now=later, include_expired=True
    )


def test_release_cli(session: Session, runner: object) -> None:
    community = factories.make_community(session)
    actor = _cs(session, community)
    notice = service.create_notice(
        session,
        community=community,
        actor=actor,
        now=NOW,
        data=_input(publish_at=NOW + timedelta(hours=1)),
    )
    service.publish_notice(session, notice=notice, actor=actor, now=NOW)
    session.commit()
    early = runner.invoke(args=["notices", "release", "--at", "2026-11-20T02:30:00+0000"])
    assert "0 notices released" in early.output
    late = runner.invoke(args=["notices", "release", "--at", "2026-11-20T03:30:00+0000"])
    assert "1 notices released" in late.output
    session.expire_all()
    assert session.get(Notice, notice.id).published_at == NOW + timedelta(hours=1)
