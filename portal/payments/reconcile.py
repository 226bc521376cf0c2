"""Reconciliation: compare the payments we recorded with a platform's statement of the same days.

Pure logic for `flask payments reconcile --channel C --file statement.csv`. Three statement
formats are read (amounts in yuan, times in Beijing time unless a zone is given):

1. The simple CSV, for any channel (and for bank or POS exports turned into it by hand):

       txn_id,out_trade_no,amount_yuan,paid_at
       4200002026112312345678901234,PI20261123000123,1234.56,2026-11-23 19:59:30

   `paid_at` may be empty, `YYYY-MM-DD HH:MM:SS` (Beijing time) or ISO 8601 with an offset.

2. WeChat Pay's trade bill (交易账单, GET /v3/bill/tradebill, ALL or SUCCESS): a header line,
   detail lines whose every field starts with a backtick, then a 总交易单数 summary header and
   its line. Rows whose 交易状态 is SUCCESS are payments; REFUND/REVOKED rows are left out (the
   portal does not refund online). The amount is 订单金额 (= `amount.total` of the order), or
   应结订单金额, or 总金额 in the oldest layout.

3. Alipay's trade bill (业务明细, from alipay.data.dataservice.bill.downloadurl.query with
   bill_type=trade; the zip's `*_业务明细.csv`): `#` preamble lines, the header
   支付宝交易号,商户订单号,业务类型,…,完成时间,…,订单金额（元）,…, detail lines whose fields may
   end in a tab, and `#` closing lines. 业务类型 交易 rows are payments, 退款 rows are left out.
   The file is GBK: read it with `decode_statement()`. (Alipay's 账务明细 — the account ledger
   — has no per-order amount to compare and is not read.)
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from portal.money import yuan_to_fen
from portal.timeutil import DEFAULT_TZ

SIMPLE_HEADER = ("txn_id", "out_trade_no", "amount_yuan", "paid_at")
AMOUNT = re.compile(r"\d{1,12}(\.\d{1,2})?")


class StatementError(ValueError):
    """The statement cannot be read; `line` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line


@dataclass(frozen=True)
class StatementRow:
    txn_id: str  # the platform's transaction id
    out_trade_no: str  # ours
    amount_fen: int
    paid_at: datetime | None = None


@dataclass(frozen=True)
class OurPayment:
    txn_id: str | None  # the platform's id, once a notification gave it to us
    out_trade_no: str | None  # our intent's trade number (None for payments without one)
    amount_fen: int


@dataclass(frozen=True)
class Match:
    ours: OurPayment
    theirs: StatementRow


@dataclass(frozen=True)
class ReconcileReport:
    matched: list[Match] = field(default_factory=list)
    missing_on_our_side: list[StatementRow] = field(default_factory=list)  # paid, not recorded
    missing_on_their_side: list[OurPayment] = field(default_factory=list)  # recorded, not paid
    amount_mismatches: list[Match] = field(default_factory=list)
    # The pairing keys disagree: same order with another txn id, or the reverse.
    txn_id_mismatches: list[Match] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (
            self.missing_on_our_side
            or self.missing_on_their_side
            or self.amount_mismatches
            or self.txn_id_mismatches
        )

    def counts(self) -> dict[str, int]:
        return {
            "matched": len(self.matched),
            "missing_on_our_side": len(self.missing_on_our_side),
            "missing_on_their_side": len(self.missing_on_their_side),
            "amount_mismatches": len(self.amount_mismatches),
            "txn_id_mismatches": len(self.txn_id_mismatches),
        }


# -- reading ------------------------------------------------------------------------------------


def decode_statement(data: bytes) -> str:
    """Statement bytes as text: UTF-8 (with or without BOM), else GB18030 (Alipay's GBK)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return data.decode("gb18030")
        except UnicodeDecodeError as exc:
            raise StatementError("neither UTF-8 nor GBK text") from exc


def _amount(text: str, line: int) -> int:
    value = text.strip()
    if not AMOUNT.fullmatch(value):
        raise StatementError(f"bad amount {value!r}", line)
    return yuan_to_fen(value)


def _instant(text: str, line: int) -> datetime | None:
    value = text.strip()
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise StatementError(f"bad time {value!r}", line) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=DEFAULT_TZ)  # the platforms write Beijing time
    return moment.astimezone(UTC)


def _required(value: str, name: str, line: int) -> str:
    value = value.strip()
    if not value:
        raise StatementError(f"empty {name}", line)
    return value


def _simple(lines: list[str]) -> list[StatementRow]:
    reader = csv.reader(lines)
    header = [name.strip() for name in next(reader)]
    index = {name: header.index(name) for name in SIMPLE_HEADER}
    rows: list[StatementRow] = []
    for number, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) < len(header):
            raise StatementError(f"{len(cells)} fields, expected {len(header)}", number)
        rows.append(
            StatementRow(
                txn_id=_required(cells[index["txn_id"]], "txn_id", number),
                # Bank and cash statements have no trade number of ours: it may be empty.
                out_trade_no=cells[index["out_trade_no"]].strip(),
                amount_fen=_amount(cells[index["amount_yuan"]], number),
                paid_at=_instant(cells[index["paid_at"]], number),
            )
        )
    return rows


def _columns(header: Sequence[str], wanted: dict[str, Sequence[str]], line: int) -> dict[str, int]:
    """Column index for each role, taking the first of its accepted names that is present."""
    names = [name.strip() for name in header]
    found: dict[str, int] = {}
    for role, options in wanted.items():
        for option in options:
            if option in names:
                found[role] = names.index(option)
                break
        else:
            raise StatementError(f"no column {options[0]}", line)
    return found


def _wechat(lines: list[str]) -> list[StatementRow]:
    header = next(csv.reader([lines[0]]))
    col = _columns(
        header,
        {
            "time": ("交易时间",),
            "txn_id": ("微信订单号",),
            "out_trade_no": ("商户订单号",),
            "state": ("交易状态",),
            "amount": ("订单金额", "应结订单金额", "总金额"),
        },
        1,
    )
    rows: list[StatementRow] = []
    summary_seen = False
    for number, cells in enumerate(csv.reader(lines[1:]), start=2):
        if not cells or not any(cell.strip() for cell in cells):
            continue
        if cells[0].strip().startswith("总交易单数"):
            summary_seen = True
            break
        if not cells[0].startswith("`"):
            raise StatementError("detail fields must start with a backtick", number)
        values = [cell.strip().removeprefix("`") for cell in cells]
        if len(values) < len(header):
            raise StatementError(f"{len(values)} fields, expected {len(header)}", number)
        if values[col["state"]] != "SUCCESS":
            continue
        rows.append(
            StatementRow(
                txn_id=_required(values[col["txn_id"]], "微信订单号", number),
                out_trade_no=_required(values[col["out_trade_no"]], "商户订单号", number),
                amount_fen=_amount(values[col["amount"]], number),
                paid_at=_instant(values[col["time"]], number),
            )
        )
    if not summary_seen:
        # The summary closes every bill WeChat serves: without it the file was cut short.
        raise StatementError("no 总交易单数 summary: the bill looks truncated")
    return rows


def _alipay(lines: list[str], first: int) -> list[StatementRow]:
    header = next(csv.reader([lines[first]]))
    col = _columns(
        header,
        {
            "txn_id": ("支付宝交易号",),
            "out_trade_no": ("商户订单号",),
            "kind": ("业务类型",),
            "time": ("完成时间",),
            "amount": ("订单金额（元）", "订单金额(元)"),
        },
        first + 1,
    )
    rows: list[StatementRow] = []
    for number, cells in enumerate(csv.reader(lines[first + 1 :]), start=first + 2):
        if not cells or not any(cell.strip() for cell in cells):
            continue
        if cells[0].startswith("#"):
            break  # "#-----业务明细列表结束-----" and the totals after it
        values = [cell.strip() for cell in cells]  # strips the tabs Alipay appends
        if len(values) < len(header):
            raise StatementError(f"{len(values)} fields, expected {len(header)}", number)
        if values[col["kind"]] != "交易":
            continue
        rows.append(
            StatementRow(
                txn_id=_required(values[col["txn_id"]], "支付宝交易号", number),
                out_trade_no=_required(values[col["out_trade_no"]], "商户订单号", number),
                amount_fen=_amount(values[col["amount"]], number),
                paid_at=_instant(values[col["time"]], number),
            )
        )
    return rows


def parse_statement(channel: str, text: str) -> list[StatementRow]:
    """The payments a statement lists, in one of the formats described above."""
    lines = text.removeprefix("\ufeff").splitlines()
    content = [n for n, line in enumerate(lines) if line.strip()]
    if not content:
        raise StatementError("the statement is empty")
    first = lines[content[0]]
    names = [name.strip() for name in next(csv.reader([first]))]
    if set(SIMPLE_HEADER) <= set(names):
        return _simple(lines[content[0] :])
    if channel == "wechat" and "微信订单号" in names and "交易时间" in names:
        return _wechat(lines[content[0] :])
    if channel == "alipay":
        for n in content:
            if lines[n].startswith("支付宝交易号"):
                return _alipay(lines, n)
    raise StatementError(f"not a statement format known for channel {channel!r}")


# -- comparing ----------------------------------------------------------------------------------


def compare(ours: Iterable[OurPayment], theirs: Iterable[StatementRow]) -> ReconcileReport:
    """Pair our payments with statement rows and list every difference.

    A payment pairs with the row carrying its platform txn id; failing that (no txn id recorded,
    or the platform's differs) with the row carrying its out_trade_no. Each row pairs once: a
    row listed twice leaves its copy in `missing_on_our_side`, money we cannot account for.
    """
    report = ReconcileReport()
    rows = list(theirs)
    used = [False] * len(rows)
    by_txn: dict[str, list[int]] = {}
    by_order: dict[str, list[int]] = {}
    for index, row in enumerate(rows):
        by_txn.setdefault(row.txn_id, []).append(index)
        by_order.setdefault(row.out_trade_no, []).append(index)

    def take(index_list: list[int] | None) -> int | None:
        for index in index_list or ():
            if not used[index]:
                used[index] = True
                return index
        return None

    for payment in ours:
        index = take(by_txn.get(payment.txn_id)) if payment.txn_id else None
        if index is None and payment.out_trade_no:
            index = take(by_order.get(payment.out_trade_no))
        if index is None:
            report.missing_on_their_side.append(payment)
            continue
        match = Match(ours=payment, theirs=rows[index])
        if payment.txn_id and payment.txn_id != match.theirs.txn_id:
            report.txn_id_mismatches.append(match)
        elif payment.out_trade_no and payment.out_trade_no != match.theirs.out_trade_no:
            report.txn_id_mismatches.append(match)  # same txn id, another order: as suspect
        elif payment.amount_fen != match.theirs.amount_fen:
            report.amount_mismatches.append(match)
        else:
            report.matched.append(match)
    report.missing_on_our_side.extend(row for row, done in zip(rows, used, strict=True) if not done)
    return report
