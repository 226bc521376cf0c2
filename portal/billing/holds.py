"""Amounts on hold: the part of a bill line nobody may collect while it is being contested.

A hold belongs to billing because billing (payment allocation, late fees) and collections
read it; the domain that contests a line (disputes) places the hold when the dispute opens,
changes it with the requested amount and releases it when the dispute closes, in the same
transaction as its own status change. A line's held amount is computed from its current
outstanding, so a hold shrinks as the line is paid and reads 0 once it is settled.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import case, func, or_, select, update
from sqlalchemy.orm import Session

from portal.billing.models import Bill, BillLine, LineHold
from portal.db import one_of
from portal.notify import service as notify


def place_hold(
    session: Session,
    *,
    line: BillLine,
    source_type: str,
    source_id: int,
    requested_fen: int | None,
    now: datetime,
) -> LineHold:
    """Hold the line for this source: all of its outstanding (requested_fen None) or up to
    requested_fen; placing again for the same source changes the amount of its open hold."""
    if requested_fen is not None and requested_fen <= 0:
        raise ValueError("requested_fen must be positive or None")
    hold = session.scalar(
        select(LineHold).where(
            LineHold.source_type == source_type,
            LineHold.source_id == source_id,
            LineHold.released_at.is_(None),
        )
    )
    if hold is not None and hold.bill_line_id == line.id:
        hold.requested_fen = requested_fen
        session.flush()
        return hold
    if hold is not None:  # the source now contests another line: the old hold ends
        release_holds(session, source_type=source_type, source_id=source_id, now=now)
    bill = line.bill
    hold = LineHold(
        bill_line_id=line.id,
        unit_id=bill.unit_id,
        community_id=bill.community_id,
        source_type=source_type,
        source_id=source_id,
        requested_fen=requested_fen,
        placed_at=now,
    )
    session.add(hold)
    session.flush()
    # Reminders already queued for this bill name an amount that is now partly disputed.
    notify.suppress_pending(
        session, unit_id=bill.unit_id, related_type="bill", related_id=bill.id, now=now
    )
    return hold


def release_holds(session: Session, *, source_type: str, source_id: int, now: datetime) -> int:
    """End the source's open holds (compare-and-set, so releasing twice changes nothing);
    returns how many were released."""
    released = session.execute(
        update(LineHold)
        .where(
            LineHold.source_type == source_type,
            LineHold.source_id == source_id,
            LineHold.released_at.is_(None),
        )
        .values(released_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if released:
        for hold in list(session.identity_map.values()):
            if (
                isinstance(hold, LineHold)
                and hold.source_type == source_type
                and hold.source_id == source_id
            ):
                session.expire(hold, ["released_at"])
    return int(released or 0)


def held_amounts(session: Session, *, unit_ids: Iterable[int]) -> dict[int, int]:
    """Fen on hold per bill line of these units: the line's outstanding up to the requested
    amount, or all of it when no amount was asked; lines with nothing held are left out."""
    return {
        line_id: amount
        for lines in held_by_bill(session, unit_ids=unit_ids).values()
        for line_id, amount in lines.items()
    }


def held_by_bill(session: Session, *, unit_ids: Iterable[int]) -> dict[int, dict[int, int]]:
    """`held_amounts` grouped by bill: bill id → {line id: fen held} (a list of bills needs
    no lines loaded to know what each has on hold)."""
    ids = list(unit_ids)
    if not ids:
        return {}
    held = case(
        (
            or_(
                LineHold.requested_fen.is_(None),
                LineHold.requested_fen >= BillLine.outstanding_fen,
            ),
            BillLine.outstanding_fen,
        ),
        else_=LineHold.requested_fen,
    )
    rows = session.execute(
        select(LineHold.bill_line_id, BillLine.bill_id, func.max(held))
        .join(BillLine, BillLine.id == LineHold.bill_line_id)
        .where(
            one_of(session, LineHold.unit_id, ids),
            LineHold.released_at.is_(None),
            BillLine.outstanding_fen > 0,
        )
        .group_by(LineHold.bill_line_id, BillLine.bill_id)
    )
    out: dict[int, dict[int, int]] = {}
    for line_id, bill_id, amount in rows:
        if amount:
            out.setdefault(int(bill_id), {})[int(line_id)] = int(amount)
    return out


def collectable_fen(session: Session, *, unit_id: int) -> int:
    """What may be collected from a unit: its outstanding less the amounts on hold."""
    outstanding = session.scalar(
        select(func.coalesce(func.sum(Bill.outstanding_fen), 0)).where(Bill.unit_id == unit_id)
    )
    held = sum(held_amounts(session, unit_ids=[unit_id]).values())
    return max(0, int(outstanding or 0) - held)


def line_holds(session: Session, *, line_ids: Iterable[int]) -> dict[int, LineHold]:
    """The open hold on each of these lines (which source holds it), for bill pages."""
    ids = list(line_ids)
    if not ids:
        return {}
    out: dict[int, LineHold] = {}
    for hold in session.scalars(
        select(LineHold)
        .where(LineHold.bill_line_id.in_(ids), LineHold.released_at.is_(None))
        .order_by(LineHold.id)
    ):
        out[hold.bill_line_id] = hold
    return out
