"""Reading platform statements and comparing them with our payments."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from portal.payments.reconcile import (
    OurPayment,
    StatementError,
    StatementRow,
    compare,
    decode_statement,
    parse_statement,
)

# -- the simple CSV -----------------------------------------------------------------------------

SIMPLE = """txn_id,out_trade_no,amount_yuan,paid_at
4200002026112312345678901234,PI20261123000123,1234.56,2026-11-23 19:59:30
4200002026112312345678901235,PI20261123000124,0.01,2026-11-23T12:00:00+00:00

4200002026112312345678901236,PI20261123000125,88,
"""


def test_simple_csv_is_read_for_any_channel() -> None:
    for channel in ("wechat", "alipay", "sandbox"):
        rows = parse_statement(channel, SIMPLE)
        assert rows == [
            StatementRow(
                "4200002026112312345678901234",
                "PI20261123000123",
                123456,
                datetime(2026, 11, 23, 11, 59, 30, tzinfo=UTC),
            ),
            StatementRow(
                "4200002026112312345678901235",
                "PI20261123000124",
                1,
                datetime(2026, 11, 23, 12, 0, tzinfo=UTC),
            ),
            StatementRow("4200002026112312345678901236", "PI20261123000125", 8800, None),
        ]


def test_simple_csv_with_bom_crlf_and_columns_in_another_order() -> None:
    text = "\ufeffout_trade_no,amount_yuan,txn_id,paid_at,note\r\nPI1,12.30,T1,,月费\r\n"
    assert parse_statement("wechat", text) == [StatementRow("T1", "PI1", 1230, None)]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("T1,PI1,12.345,", "line 2: bad amount"),
        ("T1,PI1,-1.00,", "bad amount"),
        ("T1,PI1,1e3,", "bad amount"),
        ('T1,PI1,"1,234.00",', "bad amount"),
        (",PI1,1.00,", "empty txn_id"),
        ("T1,PI1,1.00,yesterday", "bad time"),
        ("T1,PI1", "2 fields"),
    ],
)
def test_simple_csv_errors_name_the_line(row: str, message: str) -> None:
    with pytest.raises(StatementError, match=message):
        parse_statement("wechat", f"txn_id,out_trade_no,amount_yuan,paid_at\n{row}\n")


def test_unknown_format_and_empty_file_are_refused() -> None:
    with pytest.raises(StatementError, match="empty"):
        parse_statement("wechat", "\n\n")
    with pytest.raises(StatementError, match="not a statement format"):
        parse_statement("wechat", "date,amount\n2026-11-23,1.00\n")
    with pytest.raises(StatementError, match="not a statement format"):
        parse_statement("alipay", WECHAT_BILL)  # a WeChat bill given as Alipay's


# -- WeChat Pay trade bill ----------------------------------------------------------------------

WECHAT_HEADER = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,"
    "交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,"
    "充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,"
    "费率备注"
)


def wechat_row(
    time: str, txn: str, order: str, state: str, amount: str, refund: str = "0.00"
) -> str:
    refund_id = "50302206912026112300000001" if state == "REFUND" else "0"
    fields = [
        time,
        "wxd678efh567hg6787",
        "1900000109",
        "0",
        "",
        txn,
        order,
        "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
        "NATIVE",
        state,
        "OTHERS",
        "CNY",
        amount,
        "0.00",
        refund_id,
        "RF1" if state == "REFUND" else "0",
        refund,
        "0.00",
        "ORIGINAL" if state == "REFUND" else "",
        "SUCCESS" if state == "REFUND" else "",
        "明账花园 A-3-1202 物业费 2026-11",
        "",
        "0.00740",
        "0.60%",
        amount,
        refund,
        "",
    ]
    return ",".join("`" + field for field in fields)


WECHAT_BILL = "\n".join(
    [
        WECHAT_HEADER,
        wechat_row(
            "2026-11-23 19:59:30",
            "4200002026112312345678901234",
            "PI20261123000123",
            "SUCCESS",
            "1234.56",
        ),
        wechat_row(
            "2026-11-23 20:10:00",
            "4200002026112312345678901235",
            "PI20261123000124",
            "SUCCESS",
            "0.01",
        ),
        wechat_row(
            "2026-11-23 21:00:00",
            "4200002026112312345678901235",
            "PI20261123000124",
            "REFUND",
            "0.01",
            refund="0.01",
        ),
        "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额",
        "`3,`1234.58,`0.01,`0.00,`0.00741,`1234.58,`0.01",
        "",
    ]
)


def test_wechat_trade_bill_lists_the_successful_payments() -> None:
    assert parse_statement("wechat", WECHAT_BILL) == [
        StatementRow(
            "4200002026112312345678901234",
            "PI20261123000123",
            123456,
            datetime(2026, 11, 23, 11, 59, 30, tzinfo=UTC),
        ),
        StatementRow(
            "4200002026112312345678901235",
            "PI20261123000124",
            1,
            datetime(2026, 11, 23, 12, 10, tzinfo=UTC),
        ),
    ]


def test_wechat_sample_from_the_documentation() -> None:
    """The sample row WeChat publishes (trailing empty 费率备注 included)."""
    text = (
        WECHAT_HEADER + "\n`2022-03-21 13:51:31,`wxfdc955f7104ad557,`180023671,`176531292,`,"
        "`420000612032130748613220688,`2021WERUN1647840687637,`oZWaCKXip5njeEiloC4oeOV1TTsk,"
        "`JSAPI,`SUCCESS,`OTHERS,`CNY,`0.01,`0.00,`0,`0,`0.00,`0.00,`,`,`微信云托管支付测试,`,"
        "`0.00000,`0.90%,`0.01,`0.00,`\n"
        "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\n"
        "`12,`0.06,`0.06,`0.00,`0.00000,`0.06,`0.06\n"
    )
    [row] = parse_statement("wechat", text)
    assert row.txn_id == "420000612032130748613220688"
    assert row.out_trade_no == "2021WERUN1647840687637"
    assert row.amount_fen == 1
    assert row.paid_at == datetime(2022, 3, 21, 5, 51, 31, tzinfo=UTC)


def test_wechat_old_layout_uses_total_amount() -> None:
    header = WECHAT_HEADER.replace("应结订单金额", "总金额").replace(",订单金额", ",备用")
    text = WECHAT_BILL.replace(WECHAT_HEADER, header)
    assert [r.amount_fen for r in parse_statement("wechat", text)] == [123456, 1]


def test_truncated_wechat_bill_is_refused() -> None:
    truncated = WECHAT_BILL.split("总交易单数")[0]
    with pytest.raises(StatementError, match="truncated"):
        parse_statement("wechat", truncated)


def test_wechat_bill_with_a_bad_row_names_the_line() -> None:
    broken = WECHAT_BILL.replace("`1234.56", "`12.345")
    with pytest.raises(StatementError, match=r"line 2: bad amount"):
        parse_statement("wechat", broken)
    short = WECHAT_BILL.replace(",`0.60%", "", 1)
    with pytest.raises(StatementError, match="line 2: 26 fields"):
        parse_statement("wechat", short)


# -- Alipay trade bill (业务明细) ------------------------------------------------------------------

ALIPAY_HEADER = (
    "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,"
    "对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,"
    "商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,"
    "退款批次号/请求号,服务费（元）,分润（元）,备注"
)


def alipay_row(trade: str, order: str, kind: str, amount: str, done: str) -> str:
    return (
        f"{trade}\t,{order}\t,{kind}\t,明账花园 A-3-1202 物业费 2026-11,2026-11-23 19:58:02,"
        f"{done},\t,\t,\t,\t,*明(138****0000)\t,{amount},{amount},0.00,0.00,0.00,0.00,0.00,,"
        f"0.00\t,0.00,{'RF1' if kind == '退款' else ''}\t,-7.41,0.00,物业费"
    )


ALIPAY_BILL = "\n".join(
    [
        "#支付宝业务明细查询",
        "#账号：[20881021776494500156]",
        "#起始日期：[2026年11月23日 00:00:00]   终止日期：[2026年11月24日 00:00:00]",
        "#-----------------------------------------业务明细列表----------------------------------------",
        ALIPAY_HEADER,
        alipay_row(
            "2026112322001446880500000001",
            "PI20261123000123",
            "交易",
            "1234.56",
            "2026-11-23 19:59:30",
        ),
        alipay_row(
            "2026112322001446880500000001",
            "PI20261123000123",
            "退款",
            "-1234.56",
            "2026-11-23 21:00:00",
        ),
        "#-----------------------------------------业务明细列表结束------------------------------------",
        "#交易合计：1笔，商家实收共1234.56元，商家优惠共0.00元",
        "#退款合计：1笔，商家实收退款共-1234.56元，商家优惠退款共0.00元",
        "#导出时间：[2026年11月24日 09:32:11]",
    ]
)


def test_alipay_trade_bill_lists_the_payments() -> None:
    assert parse_statement("alipay", ALIPAY_BILL) == [
        StatementRow(
            "2026112322001446880500000001",
            "PI20261123000123",
            123456,
            datetime(2026, 11, 23, 11, 59, 30, tzinfo=UTC),
        )
    ]


def test_alipay_bill_as_downloaded_in_gbk() -> None:
    data = ALIPAY_BILL.replace("\n", "\r\n").encode("gbk")
    assert len(parse_statement("alipay", decode_statement(data))) == 1
    assert decode_statement("\ufefftxn_id".encode()) == "txn_id"
    with pytest.raises(StatementError):
        decode_statement(b"\xff\xfe\x00\xd8\x81")


# -- comparing ----------------------------------------------------------------------------------


def row(order: str, txn: str, fen: int) -> StatementRow:
    return StatementRow(txn_id=txn, out_trade_no=order, amount_fen=fen)


def test_compare_sorts_every_payment_into_one_bucket() -> None:
    ours = [
        OurPayment("T1", "PI1", 10000),  # matched
        OurPayment("T2", "PI2", 10000),  # amount differs
        OurPayment("T3", "PI3", 10000),  # not on the statement
        OurPayment("T4", "PI4", 10000),  # their txn id differs
        OurPayment(None, "PI5", 500),  # recorded offline reference: matched by order
    ]
    theirs = [
        row("PI1", "T1", 10000),
        row("PI2", "T2", 9999),
        row("PI4", "T4-OTHER", 10000),
        row("PI5", "T5", 500),
        row("PI9", "T9", 12345),  # paid on their side, lost callback on ours
    ]
    report = compare(ours, theirs)
    assert [m.ours.out_trade_no for m in report.matched] == ["PI1", "PI5"]
    assert [(m.ours.amount_fen, m.theirs.amount_fen) for m in report.amount_mismatches] == [
        (10000, 9999)
    ]
    assert [p.out_trade_no for p in report.missing_on_their_side] == ["PI3"]
    assert [r.out_trade_no for r in report.missing_on_our_side] == ["PI9"]
    assert [m.theirs.txn_id for m in report.txn_id_mismatches] == ["T4-OTHER"]
    assert not report.ok
    assert report.counts() == {
        "matched": 2,
        "missing_on_our_side": 1,
        "missing_on_their_side": 1,
        "amount_mismatches": 1,
        "txn_id_mismatches": 1,
    }


def test_a_clean_day_is_ok() -> None:
    rows = parse_statement("wechat", WECHAT_BILL)
    ours = [OurPayment(r.txn_id, r.out_trade_no, r.amount_fen) for r in rows]
    report = compare(ours, rows)
    assert report.ok
    assert len(report.matched) == 2
    assert compare([], []).ok


def test_payments_without_out_trade_no_pair_by_txn_id() -> None:
    theirs = [row("PI1", "T1", 100), row("PI2", "T2", 200)]
    report = compare([OurPayment("T2", None, 200), OurPayment("T3", None, 300)], theirs)
    assert [m.theirs.txn_id for m in report.matched] == ["T2"]
    assert [p.txn_id for p in report.missing_on_their_side] == ["T3"]
    assert [r.txn_id for r in report.missing_on_our_side] == ["T1"]


def test_same_txn_id_on_another_order_is_suspect() -> None:
    report = compare([OurPayment("T1", "PI1", 100)], [row("PI9", "T1", 100)])
    assert [m.theirs.out_trade_no for m in report.txn_id_mismatches] == ["PI9"]
    assert not report.ok


def test_a_statement_row_listed_twice_is_money_we_do_not_account_for() -> None:
    theirs = [row("PI1", "T1", 100), row("PI1", "T1b", 100)]
    report = compare([OurPayment("T1b", "PI1", 100)], theirs)
    assert [m.theirs.txn_id for m in report.matched] == ["T1b"]
    assert [r.txn_id for r in report.missing_on_our_side] == ["T1"]
