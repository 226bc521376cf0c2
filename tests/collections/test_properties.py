"""Over random sequences of bills, payments, disputes, runs and approvals: after each run no
case is above L1 while its unit has an open service dispute, and no message concerns a held
amount."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.billing import holds
from portal.billing import runs as billing_runs
from portal.collections import cases, engine, rules, signals
from portal.collections.models import CollectionCase, CollectionTask, TaskStatus
from portal.disputes import intake, lifecycle
from portal.disputes.models import Dispute
from portal.errors import DomainError
from portal.notify.models import Message
from portal.payments import crediting
from tests.collections.helpers import make_world
from tests.factories import NOW

operations = st.lists(
    st.one_of(
        st.tuples(st.just("bill")),
        st.tuples(st.just("pay"), st.integers(min_value=1, max_value=60_000)),
        st.tuples(st.just("dispute_line"), st.integers(min_value=0, max_value=5)),
        st.tuples(st.just("dispute_service")),
        st.tuples(st.just("withdraw")),
        st.tuples(st.just("run"), st.integers(min_value=1, max_value=40)),
        st.tuples(st.just("approve")),
        st.tuples(st.just("deliver")),
    ),
    min_size=1,
    max_size=12,
)


def _check(session: Session, world, since_id: int) -> None:
    for case in session.scalars(
        select(CollectionCase).where(CollectionCase.community_id == world.community.id)
    ):
        if signals.open_service_dispute(session, unit_id=case.unit_id):
            assert rules.tier_index(case.tier) <= 1, case.tier
    for message in session.scalars(
        select(Message).where(
            Message.community_id == world.community.id,
            Message.reason == "collections_tier",
            Message.id > since_id,
        )
    ):
        assert message.amount_fen > 0
        assert message.amount_fen <= holds.collectable_fen(session, unit_id=message.unit_id)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations)
def test_no_escalation_past_l1_with_a_service_dispute_nor_messages_on_held_amounts(
    session: Session, ops: list[tuple]
) -> None:
    world = make_world(session, periods=("2026-08", "2026-09"))
    day = date(2026, 11, 1)
    period = date(2026, 10, 1)
    now = NOW
    for serial, op in enumerate(ops):
        last_message = session.scalar(select(Message.id).order_by(Message.id.desc())) or 0
        try:
            with session.begin_nested():
                if op[0] == "bill":
                    billing_runs.generate_bills(
                        session, community=world.community, period=period, now=now
                    )
                    period = billing_runs.add_months(period, 1)
                elif op[0] == "pay":
                    crediting.record_offline_payment(
                        session,
                        unit=world.unit,
                        channel="cash",
                        reference=f"P{serial}-{now}",
                        amount_fen=op[1],
                        received_on=now.date(),
                        actor=world.finance,
                        now=now,
                    )
                elif op[0] == "dispute_line":
                    lines = [
                        ln for b in world.bills(session) for ln in b.lines if ln.outstanding_fen > 0
                    ]
                    if lines:
                        intake.open_dispute(
                            session,
                            owner=world.owner,
                            target_type="bill_line",
                            target_id=lines[op[1] % len(lines)].id,
                            reason="wrong_area",
                            statement="面积有误，请核实",
                            now=now,
                        )
                elif op[0] == "dispute_service":
                    intake.open_dispute(
                        session,
                        owner=world.owner,
                        target_type="service",
                        target_id=None,
                        reason="service_quality",
                        statement="电梯经常坏",
                        now=now,
                    )
                elif op[0] == "withdraw":
                    dispute = session.scalar(
                        select(Dispute)
                        .where(Dispute.unit_id == world.unit.id, Dispute.status != "closed")
                        .limit(1)
                    )
                    if dispute is not None:
                        lifecycle.withdraw(session, dispute=dispute, owner=world.owner, now=now)
                elif op[0] == "run":
                    day += timedelta(days=op[1])
                    now += timedelta(days=op[1])
                    engine.run_daily(session, day=day, now=now, community_ids=[world.community.id])
                elif op[0] == "approve":
                    for task in session.scalars(
                        select(CollectionTask).where(
                            CollectionTask.community_id == world.community.id,
                            CollectionTask.status == TaskStatus.PROPOSED,
                        )
                    ).all():
                        try:
                            with session.begin_nested():
                                cases.decide_task(
                                    session,
                                    task=task,
                                    actor=world.manager,
                                    approve=True,
                                    note="",
                                    now=now,
                                )
                        except DomainError:
                            pass
                elif op[0] == "deliver":
                    case = session.scalar(
                        select(CollectionCase).where(CollectionCase.unit_id == world.unit.id)
                    )
                    if case is not None and case.status != "closed":
                        cases.log_contact(
                            session,
                            case=case,
                            actor=world.collector,
                            channel="visit" if case.tier == "L3" else "letter",
                            outcome="delivered",
                            at=now,
                            now=now,
                            mail_number="XA1",
                            second_staff_id=world.collector2.id,
                        )
        except DomainError:
            pass
        session.flush()
        # A dispute opened between runs is seen by the next run, which stands the case down
        # to L1; approvals check the dispute themselves (dispute_open).
        if op[0] == "run":
            _check(session, world, last_message)
