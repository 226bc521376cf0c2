"""The demo tells one consistent story, whatever day it is seeded on.

Seeded at two pinned instants (late autumn, and just before the Spring Festival of another
year), the data must keep its own chronology: nothing happens after "now", a dispute comes
after the bill it contests, the publication log records each record at its own publication
time, festival notices sit around the festival, and repair notes fit the repair.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from portal.billing.models import Bill, BillLine, FeeStandard
from portal.demo.festivals import mid_autumn, spring_festival
from portal.disputes.models import Dispute
from portal.extensions import db
from portal.governance.models import Vote
from portal.notices.models import Notice
from portal.payments.models import Payment, PaymentIntent, Receipt
from portal.publication.models import PublicationEntry
from portal.tickets.demo import NOTES
from portal.tickets.models import EventKind, Ticket, TicketCategory, TicketEvent
from portal.timeutil import DEFAULT_TZ, to_local
from portal.transparency.models import AnnualStatement, Budget, FundMovement, SpendingItem
from tests.conftest import seeded_demo_app

INSTANTS = [
    datetime(2026, 11, 20, 2, 0, tzinfo=UTC),  # late autumn, 10:00 in Shanghai
    datetime(2028, 1, 19, 16, 30, tzinfo=UTC),  # 00:30 on 20 Jan 2028, a week before 春节
]
RECORDS: dict[str, Any] = {
    "spending": SpendingItem,
    "budget": Budget,
    "common_revenue": FundMovement,
    "maintenance_fund": FundMovement,
    "annual_statement": AnnualStatement,
    "fee_standard": FeeStandard,
    "notice": Notice,
    "vote_result": Vote,
}


@pytest.fixture(scope="module", params=INSTANTS, ids=lambda d: d.date().isoformat())
def seeded(
    request: pytest.FixtureRequest,
    _session_database: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[datetime]:
    """Seeded once per instant for the module: the tests only read the demo."""
    with (
        seeded_demo_app(
            _session_database,
            tmp_path_factory.mktemp("story"),
            *("--communities", "1", "--units", "60", "--months", "14"),
            CLOCK_NOW=request.param,
        ) as app,
        app.app_context(),
    ):
        yield request.param


def _local_day(instant: datetime) -> date:
    return to_local(instant, DEFAULT_TZ).date()


def test_nothing_happens_after_now(seeded: datetime) -> None:
    now = seeded
    s = db.session
    checks = {
        "payment received": select(Payment.received_at),
        "receipt issued": select(Receipt.issued_at),
        "intent succeeded": select(PaymentIntent.succeeded_at),
        "dispute created": select(Dispute.created_at),
        "ticket created": select(Ticket.created_at),
        "ticket event": select(TicketEvent.at),
        "published": select(PublicationEntry.published_at),
        "notice published": select(Notice.published_at),
    }
    for what, query in checks.items():
        late = [t for t in s.scalars(query) if t is not None and t > now]
        assert not late, f"{what} after now: {late[:3]}"
    assert all(b.issued_on <= _local_day(now) for b in s.scalars(select(Bill)))


def test_disputes_come_after_the_bill_they_contest(seeded: datetime) -> None:
    s = db.session
    rows = s.execute(
        select(Dispute, Bill)
        .join(BillLine, BillLine.id == Dispute.bill_line_id)
        .join(Bill, Bill.id == BillLine.bill_id)
    ).all()
    assert rows
    for dispute, bill in rows:
        assert _local_day(dispute.created_at) >= bill.issued_on, dispute.reference
    for dispute in s.scalars(select(Dispute)):
        times = [e.at for e in dispute.events]
        assert times == sorted(times), dispute.reference
        assert times[0] >= dispute.created_at


def test_payments_follow_their_bills(seeded: datetime) -> None:
    s = db.session
    for payment in s.scalars(select(Payment)):
        bills = [a.line.bill for a in getattr(payment, "allocations", []) if a.line]
        for bill in bills:
            assert _local_day(payment.received_at) >= bill.issued_on - timedelta(days=31)


def test_the_log_records_each_record_at_its_own_time(seeded: datetime) -> None:
    s = db.session
    entries = s.scalars(select(PublicationEntry).order_by(PublicationEntry.seq)).all()
    assert entries
    for entry in entries:
        model = RECORDS.get(entry.kind)
        assert model is not None, f"unknown publication kind {entry.kind}"
        record = s.get(model, entry.record_id)
        assert record is not None, (entry.kind, entry.record_id)
        own = getattr(record, "published_at", None) or getattr(record, "created_at", None)
        assert own == entry.published_at, (entry.kind, entry.record_id, own, entry.published_at)
    times = [e.published_at for e in entries]
    assert times == sorted(times), "the chain runs forward in time"


def test_festival_notices_sit_around_the_festival(seeded: datetime) -> None:
    s = db.session
    for notice in s.scalars(select(Notice)):
        when = notice.published_at or notice.publish_at
        if when is None:
            continue
        day = _local_day(when)
        if "春节" in notice.title:
            festival = min(
                (spring_festival(y) for y in (day.year - 1, day.year, day.year + 1)),
                key=lambda f: abs((f - day).days),
            )
            assert timedelta(days=-30) <= festival - day <= timedelta(days=30), notice.title
            assert day <= festival + timedelta(days=7), notice.title
        if "中秋" in notice.title:
            festival = min(
                (mid_autumn(y) for y in (day.year - 1, day.year, day.year + 1)),
                key=lambda f: abs((f - day).days),
            )
            assert timedelta(0) <= festival - day <= timedelta(days=21), notice.title


def test_repair_notes_fit_the_repair(seeded: datetime) -> None:
    s = db.session
    rows = s.execute(
        select(TicketEvent.body, TicketCategory.code)
        .join(Ticket, Ticket.id == TicketEvent.ticket_id)
        .join(TicketCategory, TicketCategory.id == Ticket.category_id)
        # Complaints (portal/feedback) are answered, not repaired: their notes are answers.
        .where(TicketEvent.kind == EventKind.RESOLVED, Ticket.kind == "repair")
    ).all()
    assert rows
    for body, category in rows:
        assert body in NOTES[category], (category, body)


def test_fee_changes_cite_the_notice_that_announced_them(seeded: datetime) -> None:
    """Every changed fee standard cites its own published notice: same item, same rate, out
    at least the notice period before the change applies, and no notice cited twice."""
    changed = db.session.scalars(select(FeeStandard).where(FeeStandard.version > 1)).all()
    assert changed
    cited: set[int] = set()
    for standard in changed:
        notice = db.session.get(Notice, standard.notice_id)
        assert notice is not None
        assert notice.status == "published"
        assert notice.community_id == standard.community_id
        assert (notice.fee_property_type, notice.fee_item_code) == (
            standard.property_type,
            standard.item_code,
        )
        assert notice.fee_rate == standard.rate
        announced = to_local(notice.published_at, DEFAULT_TZ).date()
        period = standard.community.notice_period_days
        assert standard.effective_from >= announced + timedelta(days=period)
        assert notice.id not in cited
        cited.add(notice.id)
