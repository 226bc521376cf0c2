from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.audit.models import AuditEntry
from portal.errors import Conflict, DomainError, NotFound, PermissionDenied
from portal.tickets import aftercare, base, intake, queries, setup, workflow
from portal.tickets.models import (
    FollowupKind,
    FollowupStatus,
    Ticket,
    TicketEvent,
    TicketFollowup,
    TicketPhoto,
    TicketRating,
    TicketStatus,
)
from portal.uploads.models import StoredFile
from portal.uploads.service import storage_path
from tests import factories
from tests.factories import NOW
from tests.tickets.util import jpeg_bytes, make_ticket, make_world, resolved_ticket


def _count(session: Session, model: Any) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_owner_files_a_ticket_with_number_sla_and_event(session: Session) -> None:
    world = make_world(session, code="HILL")
    ticket = make_ticket(session, world, urgency="urgent")
    second = make_ticket(session, world)
    assert ticket.number == "HILL-00001"
    assert second.number == "HILL-00002"
    assert ticket.status == TicketStatus.SUBMITTED
    assert ticket.reporter_id == world.owner.id
    assert ticket.period == "2026-11"
    # Urgent defaults: 0.5 h to first response, 4 h to resolution.
    assert ticket.first_response_due_at == NOW + timedelta(minutes=30)
    assert ticket.resolution_due_at == NOW + timedelta(hours=4)
    assert second.first_response_due_at == NOW + timedelta(hours=4)
    assert second.resolution_due_at == NOW + timedelta(hours=48)
    assert [e.kind for e in ticket.events] == ["submitted"]
    assert ticket.building_id == world.unit.building_id


def test_period_is_the_local_month(session: Session) -> None:
    world = make_world(session)
    # 17:00 UTC on 31 Oct is already 1 Nov in Shanghai.
    ticket = make_ticket(session, world, now=datetime(2026, 10, 31, 17, 0, tzinfo=UTC))
    assert ticket.period == "2026-11"


def test_photos_are_stored_clean(session: Session) -> None:
    world = make_world(session)
    photo = intake.PhotoUpload(data=jpeg_bytes(), filename="漏水.jpg")
    ticket = make_ticket(session, world, photos=[photo, photo])
    rows = session.scalars(select(TicketPhoto).where(TicketPhoto.ticket_id == ticket.id)).all()
    assert len(rows) == 2
    stored = session.get(StoredFile, rows[0].stored_file_id)
    clean = storage_path(stored.sha256, stored.extension).read_bytes()
    assert b"SpyPhone" not in clean


BAD_INPUTS = [
    ({"description": "   "}, "description"),
    ({"category_code": "nonsense"}, "category"),
    ({"urgency": "panic"}, "urgency"),
    ({"location_type": "common_area"}, "area"),
    ({"location_type": "common_area", "area": "电梯厅", "floor": 999}, "floor"),
    ({"description": "x" * 4001}, "description"),
    ({"preferred_on": date(2020, 1, 1)}, "preferred_on"),
    (
        {"photos": [intake.PhotoUpload(data=jpeg_bytes(), filename=f"{i}.jpg") for i in range(7)]},
        "photos",
    ),
    (
        {"photos": [intake.PhotoUpload(data=b"MZ\x90\x00" + b"\0" * 300, filename="a.jpg")]},
        "photos",
    ),
    ({"photos": [intake.PhotoUpload(data=b"<svg onload=alert(1)>", filename="a.png")]}, "photos"),
]


@pytest.mark.parametrize(("changes", "field"), BAD_INPUTS)
def test_bad_input_is_refused_and_nothing_is_written(
    session: Session, changes: dict[str, Any], field: str
) -> None:
    world = make_world(session)
    session.commit()
    args: dict[str, Any] = {
        "community": world.community,
        "actor": world.owner,
        "now": NOW,
        "category_code": "plumbing_electric",
        "description": "水管漏水",
        "unit": world.unit,
    }
    args.update(changes)
    with pytest.raises(DomainError) as caught:
        intake.create_ticket(session, **args)
    assert caught.value.field == field
    session.rollback()
    assert _count(session, Ticket) == 0
    assert _count(session, TicketEvent) == 0
    assert _count(session, TicketPhoto) == 0


def test_oversized_photo_is_refused(session: Session) -> None:
    world = make_world(session)
    big = intake.PhotoUpload(data=jpeg_bytes((3000, 3000)) + b"\0" * 11_000_000, filename="b.jpg")
    with pytest.raises(DomainError, match="过大"):
        make_ticket(session, world, photos=[big])


def test_category_of_another_community_is_refused(session: Session) -> None:
    world = make_world(session)
    other = make_world(session)
    custom = setup.save_category(
        session,
        community=other.community,
        actor=other.manager,
        now=NOW,
        name="游泳池",
        code="pool",
    )
    assert setup.find_category(session, community=other.community, code="pool") == custom
    with pytest.raises(DomainError) as caught:
        make_ticket(session, world, category="pool")
    assert caught.value.field == "category"


def test_owner_cannot_file_for_a_unit_they_do_not_own(session: Session) -> None:
    world = make_world(session)
    with pytest.raises(DomainError) as caught:
        make_ticket(session, world, unit=world.other_unit)
    assert caught.value.field == "unit"


def test_cs_files_on_behalf_and_reporter_is_the_unit_owner(session: Session) -> None:
    world = make_world(session)
    ticket = make_ticket(
        session, world, actor=world.cs, channel="phone", on_behalf=True, unit=world.unit
    )
    assert ticket.reporter_id == world.owner.id
    assert ticket.created_by_id == world.cs.id
    assert base.get_owned_ticket(session, user=world.owner, ticket_id=ticket.id) is not None
    assert _count(session, AuditEntry) >= 1
    with pytest.raises(PermissionDenied):
        make_ticket(session, world, actor=world.engineer, channel="phone", on_behalf=True)


def test_common_area_ticket_from_a_patrol(session: Session) -> None:
    world = make_world(session)
    ticket = make_ticket(
        session,
        world,
        actor=world.cs,
        unit=None,
        channel="patrol",
        location_type="common_area",
        building_id=world.unit.building_id,
        floor=1,
        area="电梯厅",
        category="elevator",
    )
    assert ticket.reporter_id is None
    listed = queries.common_area_tickets(session, community_id=world.community.id)
    assert listed == [ticket]


def test_the_full_workflow_records_who_and_when(session: Session) -> None:
    world = make_world(session)
    ticket = make_ticket(session, world)
    t = NOW
    workflow.acknowledge(session, ticket=ticket, actor=world.cs, now=t + timedelta(minutes=30))
    assert ticket.first_response_s == 1800
    assert ticket.first_response_met is True
    workflow.assign(
        session, ticket=ticket, actor=world.cs, assignee=world.engineer, now=t + timedelta(hours=1)
    )
    workflow.start_work(session, ticket=ticket, actor=world.engineer, now=t + timedelta(hours=2))
    workflow.comment(
        session,
        ticket=ticket,
        actor=world.engineer,
        now=t + timedelta(hours=2),
        body="需要换阀门",
        internal=True,
    )
    workflow.resolve(
        session, ticket=ticket, actor=world.engineer, now=t + timedelta(hours=50), note="已换阀门"
    )
    assert ticket.status == TicketStatus.RESOLVED
    assert ticket.resolution_s == 50 * 3600
    assert ticket.resolution_met is False  # 48 h target
    workflow.close(
        session, ticket=ticket, actor=world.owner, now=t + timedelta(hours=51), by_owner=True
    )
    session.commit()
    session.expire_all()
    ticket = session.get(Ticket, ticket.id)
    assert ticket.status == TicketStatus.CLOSED
    kinds = [(e.kind, e.actor_id) for e in ticket.events]
    assert kinds == [
        ("submitted", world.owner.id),
        ("acknowledged", world.cs.id),
        ("assigned", world.cs.id),
        ("started", world.engineer.id),
        ("note", world.engineer.id),
        ("resolved", world.engineer.id),
        ("closed", world.owner.id),
    ]
    owner_view = [e.kind for e in queries.visible_events(ticket, for_owner=True)]
    assert "note" not in owner_view
    assert "note" in [e.kind for e in queries.visible_events(ticket, for_owner=False)]


def test_assignment_counts_as_first_response(session: Session) -> None:
    world = make_world(session)
    ticket = make_ticket(session, world)
    workflow.assign(
        session,
        ticket=ticket,
        actor=world.cs,
        assignee=world.engineer,
        now=NOW + timedelta(hours=5),
    )
    assert ticket.acknowledged_at == NOW + timedelta(hours=5)
    assert ticket.first_response_met is False


def test_engineer_cannot_change_a_ticket_not_assigned_to_them(session: Session) -> None:
    world = make_world(session)
    ticket = make_ticket(session, world)
    workflow.assign(session, ticket=ticket, actor=world.cs, assignee=world.engineer, now=NOW)
    session.commit()
    events = _count(session, TicketEvent)
    for action in (
        lambda: workflow.start_work(session, ticket=ticket, actor=world.engineer2, now=NOW),
        lambda: workflow.resolve(
            session, ticket=ticket, actor=world.engineer2, now=NOW, note="修好了"
        ),
        lambda: workflow.comment(session, ticket=ticket, actor=world.engineer2, now=NOW, body="x"),
        lambda: workflow.acknowledge(session, ticket=ticket, actor=world.engineer, now=NOW),
    ):
        with pytest.raises((PermissionDenied, Conflict)):
            action()
        session.rollback()
    assert _count(session, TicketEvent) == events
    session.expire_all()
    assert session.get(Ticket, ticket.id).status == TicketStatus.ASSIGNED


def test_staff_of_another_community_sees_nothing(session: Session) -> None:
    world = make_world(session)
    other = make_world(session)
    ticket = make_ticket(session, world)
    assert base.get_scoped_ticket(session, staff=other.cs, ticket_id=ticket.id) is None
    with pytest.raises(NotFound):
        workflow.acknowledge(session, ticket=ticket, actor=other.cs, now=NOW)
    with pytest.raises(DomainError):
        workflow.assign(session, ticket=ticket, actor=world.cs, assignee=other.engineer, now=NOW)


def test_owner_of_another_unit_cannot_see_or_touch(session: Session) -> None:
    world = make_world(session)
    ticket = resolved_ticket(session, world)
    assert base.get_owned_ticket(session, user=world.other_owner, ticket_id=ticket.id) is None
    with pytest.raises(NotFound):
        aftercare.rate(session, ticket=ticket, actor=world.other_owner, now=NOW, score=5)
    with pytest.raises(NotFound):
        workflow.reopen(session, ticket=ticket, actor=world.other_owner, now=NOW, reason="x")


def test_stale_transition_is_a_conflict(session: Session) -> None:
    world = make_world(session)
    ticket = make_ticket(session, world)
    session.commit()
    # Someone else acknowledged it meanwhile (the row changed under our loaded object).
    session.execute(
        Ticket.__table__.update().where(Ticket.id == ticket.id).values(status="acknowledged")
    )
    with pytest.raises(Conflict):
        workflow.acknowledge(session, ticket=ticket, actor=world.cs, now=NOW)


def test_bulk_acknowledge_skips_the_others(session: Session) -> None:
    world = make_world(session)
    first, second, third = (make_ticket(session, world) for _ in range(3))
    workflow.acknowledge(session, ticket=third, actor=world.cs, now=NOW)
    done = workflow.bulk_acknowledge(
        session, ticket_ids=[first.id, second.id, third.id], actor=world.cs, now=NOW
    )
    assert done == 2
    assert {first.status, second.status} == {TicketStatus.ACKNOWLEDGED}


def test_rating_rules(session: Session) -> None:
    world = make_world(session)
    open_ticket = make_ticket(session, world)
    with pytest.raises(Conflict, match="解决后"):
        aftercare.rate(session, ticket=open_ticket, actor=world.owner, now=NOW, score=5)
    ticket = resolved_ticket(session, world)
    for bad in (0, 6, "5", None, 4.5, True):
        with pytest.raises(DomainError) as caught:
            aftercare.rate(session, ticket=ticket, actor=world.owner, now=NOW, score=bad)
        assert caught.value.field == "score"
    aftercare.rate(session, ticket=ticket, actor=world.owner, now=NOW, score=4, comment_text="及时")
    with pytest.raises(Conflict, match="已评价"):
        aftercare.rate(session, ticket=ticket, actor=world.owner, now=NOW, score=5)
    assert _count(session, TicketRating) == 1
    assert _count(session, TicketFollowup) == 0


def test_low_rating_creates_a_service_recovery_task(session: Session) -> None:
    world = make_world(session)
    ticket = resolved_ticket(session, world)
    aftercare.rate(session, ticket=ticket, actor=world.owner, now=NOW, score=2, comment_text="很慢")
    tasks = aftercare.open_service_tasks(session, staff=world.cs)
    assert [t.ticket_id for t in tasks] == [ticket.id]
    assert aftercare.open_service_tasks(session, staff=make_world(session).cs) == []
    with pytest.raises(DomainError):
        aftercare.complete_followup(session, followup=tasks[0], actor=world.cs, now=NOW, note=" ")
    aftercare.complete_followup(
        session, followup=tasks[0], actor=world.cs, now=NOW, note="已致电道歉并复查"
    )
    assert aftercare.open_service_tasks(session, staff=world.cs) == []


def test_cs_records_a_phone_rating(session: Session) -> None:
    world = make_world(session)
    ticket = resolved_ticket(session, world)
    with pytest.raises(PermissionDenied):
        aftercare.rate(
            session, ticket=ticket, actor=world.engineer2, now=NOW, score=5, channel="phone"
        )
    rating = aftercare.rate(
        session, ticket=ticket, actor=world.cs, now=NOW, score=5, channel="phone"
    )
    assert rating.recorded_by_id == world.cs.id
    assert rating.channel == "phone"


def test_reopen_within_seven_days_only(session: Session) -> None:
    world = make_world(session)
    ticket = resolved_ticket(session, world)
    resolved_at = ticket.resolved_at
    with pytest.raises(DomainError):
        workflow.reopen(session, ticket=ticket, actor=world.owner, now=resolved_at, reason="")
    late = resolved_at + timedelta(days=7, minutes=1)
    with pytest.raises(DomainError, match="7"):
        workflow.reopen(session, ticket=ticket, actor=world.owner, now=late, reason="又漏了")
    workflow.reopen(
        session,
        ticket=ticket,
        actor=world.owner,
        now=resolved_at + timedelta(days=6),
        reason="又漏了",
    )
    assert ticket.status == TicketStatus.REOPENED
    assert ticket.reopen_count == 1
    assert ticket.resolution_met is None
    # Back to work and resolved again: the second resolution replaces the first.
    workflow.start_work(
        session, ticket=ticket, actor=world.engineer, now=resolved_at + timedelta(days=6, hours=1)
    )
    workflow.resolve(
        session,
        ticket=ticket,
        actor=world.engineer,
        now=resolved_at + timedelta(days=6, hours=3),
        note="换了整段水管",
    )
    assert ticket.resolved_at == resolved_at + timedelta(days=6, hours=3)
    assert ticket.resolution_met is False


def test_cancel_by_owner_and_by_staff(session: Session) -> None:
    world = make_world(session)
    ticket = make_ticket(session, world)
    workflow.cancel(session, ticket=ticket, actor=world.owner, now=NOW, reason="", by_owner=True)
    assert ticket.status == TicketStatus.CANCELLED
    with pytest.raises(Conflict):
        workflow.cancel(
            session, ticket=ticket, actor=world.owner, now=NOW, reason="", by_owner=True
        )
    other = make_ticket(session, world)
    with pytest.raises(DomainError):
        workflow.cancel(session, ticket=other, actor=world.cs, now=NOW, reason="", by_owner=False)
    workflow.cancel(
        session, ticket=other, actor=world.cs, now=NOW, reason="业主电话撤回", by_owner=False
    )
    assert other.status == TicketStatus.CANCELLED


def test_followups_job_closes_asks_and_is_idempotent(session: Session) -> None:
    world = make_world(session)
    resolved = resolved_ticket(session, world, now=NOW - timedelta(days=20))
    recent = resolved_ticket(session, world, now=NOW - timedelta(days=3))
    session.commit()
    day = date(2026, 11, 20)
    first = aftercare.run_followups(session, day=day, now=NOW)
    assert first.closed == 1
    assert first.rechecks == 1
    assert first.numbers == [resolved.number]
    again = aftercare.run_followups(session, day=day, now=NOW)
    assert (again.closed, again.rechecks) == (0, 0)
    assert resolved.status == TicketStatus.CLOSED
    assert recent.status == TicketStatus.RESOLVED
    prompts = aftercare.pending_rechecks(session, user=world.owner)
    assert [p.ticket_id for p in prompts] == [resolved.id]
    assert aftercare.pending_rechecks(session, user=world.other_owner) == []


def test_recheck_no_reopens_even_after_seven_days(session: Session) -> None:
    world = make_world(session)
    ticket = resolved_ticket(session, world, now=NOW - timedelta(days=20))
    aftercare.run_followups(session, day=date(2026, 11, 20), now=NOW)
    prompt = aftercare.pending_rechecks(session, user=world.owner)[0]
    with pytest.raises(NotFound):
        aftercare.answer_recheck(
            session, followup=prompt, actor=world.other_owner, now=NOW, fixed=False
        )
    aftercare.answer_recheck(
        session, followup=prompt, actor=world.owner, now=NOW, fixed=False, note="又坏了"
    )
    assert ticket.status == TicketStatus.REOPENED
    assert prompt.answer == "not_fixed"
    with pytest.raises(Conflict):
        aftercare.answer_recheck(session, followup=prompt, actor=world.owner, now=NOW, fixed=True)
    # Resolved again: a new round gets its own recheck later.
    workflow.resolve(session, ticket=ticket, actor=world.engineer, now=NOW, note="重新处理")
    later = aftercare.run_followups(session, day=date(2026, 12, 5), now=NOW + timedelta(days=15))
    assert later.rechecks == 1
    rounds = session.scalars(
        select(TicketFollowup.round).where(TicketFollowup.kind == FollowupKind.RECHECK)
    ).all()
    assert sorted(rounds) == [0, 1]


def test_recheck_yes_just_records(session: Session) -> None:
    world = make_world(session)
    ticket = resolved_ticket(session, world, now=NOW - timedelta(days=20))
    aftercare.run_followups(session, day=date(2026, 11, 20), now=NOW)
    prompt = aftercare.pending_rechecks(session, user=world.owner)[0]
    aftercare.answer_recheck(session, followup=prompt, actor=world.owner, now=NOW, fixed=True)
    assert prompt.status == FollowupStatus.DONE
    assert ticket.status == TicketStatus.CLOSED


def test_sla_targets_and_working_hours(session: Session) -> None:
    world = make_world(session)
    elevator = setup.find_category(session, community=world.community, code="elevator")
    setup.set_sla_target(
        session,
        community=world.community,
        actor=world.manager,
        now=NOW,
        category_id=elevator.id,
        urgency="normal",
        first_response_minutes=60,
        resolution_minutes=600,
    )
    with pytest.raises(DomainError):
        setup.set_sla_target(
            session,
            community=world.community,
            actor=world.manager,
            now=NOW,
            category_id=None,
            urgency="normal",
            first_response_minutes=120,
            resolution_minutes=60,
        )
    setup.update_settings(
        session,
        community=world.community,
        actor=world.manager,
        now=NOW,
        business_hours=True,
        work_start_min=9 * 60,
        work_end_min=17 * 60,
        work_days="12345",
    )
    # Friday 2026-11-20 16:30 Shanghai = 08:30 UTC; one working hour ends Monday 09:30.
    friday = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)
    ticket = make_ticket(session, world, now=friday, category="elevator")
    assert ticket.first_response_due_at == datetime(2026, 11, 23, 1, 30, tzinfo=UTC)
    urgent = make_ticket(session, world, now=friday, urgency="urgent")
    assert urgent.first_response_due_at == friday + timedelta(minutes=30)  # round the clock
    assert (
        session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action.like("ticket_%")))
        == 2
    )


def test_categories_are_community_editable(session: Session) -> None:
    world = make_world(session)
    names = [c.name for c in setup.list_categories(session, world.community)]
    assert names == ["水电", "门窗", "电梯", "公共区域卫生", "安保", "绿化", "噪音", "停车", "其他"]
    noise = setup.find_category(session, community=world.community, code="noise")
    setup.save_category(
        session,
        community=world.community,
        actor=world.manager,
        now=NOW,
        name="噪音扰民",
        category_id=noise.id,
        position=noise.position,
        active=False,
    )
    assert setup.find_category(session, community=world.community, code="noise") is None
    with pytest.raises(DomainError):
        setup.save_category(
            session,
            community=world.community,
            actor=world.manager,
            now=NOW,
            name="电梯",
            code="lift2",
        )


def test_unit_service_signals_for_collections(session: Session) -> None:
    world = make_world(session)
    low = resolved_ticket(session, world, now=NOW - timedelta(days=30))
    aftercare.rate(session, ticket=low, actor=world.owner, now=NOW - timedelta(days=29), score=1)
    good = resolved_ticket(session, world, now=NOW - timedelta(days=20))
    aftercare.rate(session, ticket=good, actor=world.owner, now=NOW - timedelta(days=19), score=4)
    make_ticket(session, world, now=NOW - timedelta(days=5))  # open and past its 48 h
    make_ticket(session, world, now=NOW)  # open, on time
    signals = queries.unit_service_signals(
        session, unit_id=world.unit.id, since=NOW - timedelta(days=90), now=NOW
    )
    assert signals == {
        "low_ratings": 1,
        "open_tickets": 2,
        "overdue_tickets": 1,
        "mean_rating": Decimal("2.50"),
        "ratings": 2,
        "reopened": 0,
        "open_service_tasks": 1,
    }
    quiet = queries.unit_service_signals(
        session, unit_id=world.other_unit.id, since=NOW - timedelta(days=90), now=NOW
    )
    assert quiet["mean_rating"] is None
    assert quiet["low_ratings"] == quiet["open_tickets"] == 0
    lows = queries.unit_low_ratings(session, unit_id=world.unit.id, since=NOW - timedelta(days=90))
    assert [r["number"] for r in lows] == [low.number]


def test_board_filters_and_overdue(session: Session) -> None:
    world = make_world(session)
    late = make_ticket(session, world, now=NOW - timedelta(days=3))
    fresh = make_ticket(session, world, category="elevator", urgency="urgent")
    workflow.assign(session, ticket=fresh, actor=world.cs, assignee=world.engineer, now=NOW)
    done = resolved_ticket(session, world)
    board = queries.board(session, staff=world.cs, filters=queries.BoardFilters(), now=NOW)
    assert [t.id for t in board.tickets] == [fresh.id, late.id]  # urgent first
    overdue = queries.board(
        session, staff=world.cs, filters=queries.BoardFilters(overdue=True), now=NOW
    )
    assert [t.id for t in overdue.tickets] == [late.id]
    mine = queries.board(
        session,
        staff=world.cs,
        filters=queries.BoardFilters(assignee_id=world.engineer.id),
        now=NOW,
    )
    assert [t.id for t in mine.tickets] == [fresh.id]
    unassigned = queries.board(
        session, staff=world.cs, filters=queries.BoardFilters(assignee_id=0), now=NOW
    )
    assert [t.id for t in unassigned.tickets] == [late.id]
    everything = queries.board(
        session, staff=world.cs, filters=queries.BoardFilters(status="all"), now=NOW
    )
    assert everything.total == 3
    assert done.id in [t.id for t in everything.tickets]
    other = make_world(session)
    assert (
        queries.board(
            session, staff=other.cs, filters=queries.BoardFilters(status="all"), now=NOW
        ).total
        == 0
    )
    assert queries.engineer_queue(session, engineer=world.engineer) == [fresh]
    admin = factories.make_user(session, role="admin")
    assert queries.board(session, staff=admin, filters=queries.BoardFilters(), now=NOW).total == 2
