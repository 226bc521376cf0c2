"""Import a batch of received payments at once: a bank's auto-debit result file, a
statement of counter payments, or demo data. Each payment pays its bill's lines in order
(the rest becomes the unit's prepayment), gets its receipt, and is posted to the ledger
exactly as a single payment would be, in a handful of statements for the whole batch."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from portal.billing import ledger
from portal.billing.models import BillLine, EntryKind
from portal.communities.models import Community
from portal.payments.models import Payment, Receipt, ReceiptCounter
from portal.payments.queries import channel_label


@dataclass(frozen=True)
class ImportRow:
    unit_id: int
    bill_id: int
    channel: str
    txn_id: str
    amount_fen: int
    received_at: datetime
    payer_id: int | None = None
    note: str = ""


def import_payments(
    session: Session, *, community: Community, rows: list[ImportRow], actor_id: int | None = None
) -> list[int]:
    """Record, allocate, post and receipt a batch of payments; returns the payment ids."""
    if not rows:
        return []
    ids = session.scalars(
        insert(Payment).returning(Payment.id, sort_by_parameter_order=True),
        [
            {
                "community_id": community.id,
                "payer_id": r.payer_id,
                "unit_id": r.unit_id,
                "intent_id": None,
                "channel": r.channel,
                "txn_id": r.txn_id,
                "amount_fen": r.amount_fen,
                "refund_due_fen": 0,
                "received_at": r.received_at,
                "recorded_by_id": actor_id,
                "note": r.note,
            }
            for r in rows
        ],
    ).all()
    open_lines: dict[int, list[list[int]]] = defaultdict(list)  # bill → [[line id, left]]
    for line_id, bill_id, outstanding in session.execute(
        select(BillLine.id, BillLine.bill_id, BillLine.outstanding_fen)
        .where(BillLine.bill_id.in_({r.bill_id for r in rows}), BillLine.outstanding_fen > 0)
        .order_by(BillLine.bill_id, BillLine.kind, BillLine.id)
    ):
        open_lines[bill_id].append([line_id, outstanding])
    entries = []
    for payment_id, row in zip(ids, rows, strict=True):
        ar = ledger.receivable(session, community_id=community.id, unit_id=row.unit_id)
        legs = [
            ledger.Leg(
                ledger.cash(session, community_id=community.id, channel=row.channel), row.amount_fen
            )
        ]
        left = row.amount_fen
        for line in open_lines[row.bill_id]:
            take = min(left, line[1])
            if take > 0:
                legs.append(ledger.Leg(ar, -take, line[0]))
                line[1] -= take
                left -= take
        if left:
            legs.append(
                ledger.Leg(
                    ledger.prepayment(session, community_id=community.id, unit_id=row.unit_id),
                    -left,
                )
            )
        entries.append(
            ledger.NewEntry(
                community_id=community.id,
                kind=EntryKind.PAYMENT,
                memo=f"{channel_label(row.channel)} {row.txn_id}",
                source_type="payment",
                source_id=payment_id,
                legs=legs,
                created_at=row.received_at,
                actor_id=actor_id,
            )
        )
    ledger.post_many(session, entries)
    _receipts(session, community=community, payment_ids=ids, rows=rows)
    return list(ids)


def _receipts(
    session: Session, *, community: Community, payment_ids: list[int], rows: list[ImportRow]
) -> None:
    """Number the receipts per year, reserving each year's block with one UPDATE."""
    by_year: dict[int, list[tuple[int, ImportRow]]] = defaultdict(list)
    for payment_id, row in zip(payment_ids, rows, strict=True):
        by_year[row.received_at.year].append((payment_id, row))
    receipts = []
    for year, items in sorted(by_year.items()):
        last = session.execute(
            update(ReceiptCounter)
            .where(ReceiptCounter.community_id == community.id, ReceiptCounter.year == year)
            .values(last_seq=ReceiptCounter.last_seq + len(items))
            .returning(ReceiptCounter.last_seq)
        ).scalar()
        if last is None:
            session.add(ReceiptCounter(community_id=community.id, year=year, last_seq=len(items)))
            session.flush()
            last = len(items)
        first = last - len(items) + 1
        for offset, (payment_id, row) in enumerate(items):
            seq = first + offset
            receipts.append(
                {
                    "community_id": community.id,
                    "year": year,
                    "seq": seq,
                    "number": f"{community.code}-{year}-{seq:06d}",
                    "payment_id": payment_id,
                    "issued_at": row.received_at,
                }
            )
    session.execute(insert(Receipt), receipts)
