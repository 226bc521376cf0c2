import io
import json
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from portal.publication import service as publication
from portal.publication.models import PublicationEntry
from portal.transparency import queries
from portal.transparency.models import (
    Budget,
    FundMovement,
    RecordStatus,
    SpendingCategory,
    SpendingEvidence,
    SpendingItem,
)
from portal.uploads.models import StoredFile
from tests import factories
from tests.transparency import helpers
from tests.transparency.helpers import TODAY


class FakeBilling:
    """Stands in for billing's published figures: the three functions transparency reads."""

    def __init__(self, fee_fen: int = 360_000) -> None:
        self.fee_fen = fee_fen

    def current_standards(self, session: Any, *, community_id: int, on: Any) -> list[Any]:
        return [
            SimpleNamespace(
                item_name="物业服务费",
                property_type="residential",
                basis="area",
                rate=Decimal("2.8000"),
                unit_label="元/㎡·月",
                effective_from=TODAY.replace(month=1),
                approval_ref="沪价备〔2026〕12 号",
            )
        ]

    def collection_stats(self, session: Any, *, community_id: int) -> dict[str, Any]:
        return {
            "collection_rate_by_month": [
                {
                    "month": "2026-09",
                    "billed_fen": 1_000_000,
                    "collected_fen": 912_300,
                    "rate": 0.9123,
                },
                {
                    "month": "2026-10",
                    "billed_fen": 1_000_000,
                    "collected_fen": 880_000,
                    "rate": 0.88,
                },
            ],
            "by_building": [
                {"building": "A区1号楼", "units": 36, "rate": 0.93},
                {"building": "B区9号楼", "units": 3, "rate": 0.5},  # must not leak (k = 5)
            ],
        }

    def owner_fee_for_year(self, session: Any, *, unit_id: int, year: int) -> int:
        return self.fee_fen


@pytest.fixture
def billing(monkeypatch: pytest.MonkeyPatch) -> FakeBilling:
    fake = FakeBilling()
    monkeypatch.setattr(queries, "billing_service", lambda: fake)
    return fake


@pytest.fixture
def no_billing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(queries, "billing_service", lambda: None)


def _world(session: Session, *, code: str = "PUB", is_public: bool = True) -> dict[str, Any]:
    community = factories.make_community(
        session,
        code=code,
        name="明账花园",
        is_public=is_public,
        fee_regime="commission",
        commission_rate=Decimal("0.1000"),
    )
    actor = helpers.finance(session, community)
    item = helpers.published(session, community, actor, amount_fen=128_050)
    helpers.published(
        session,
        community,
        actor,
        amount_fen=35_000,
        code="energy.power",
        description="公共区域电费",
    )
    draft = helpers.draft(session, community, actor, amount_fen=99_999, description="秘密草稿")
    session.commit()
    return {"community": community, "item": item, "draft": draft, "actor": actor}


def test_anonymous_sees_public_transparency_page(
    client: FlaskClient, session: Session, billing: FakeBilling
) -> None:
    world = _world(session)
    response = client.get("/c/PUB")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    for text in (
        "明账花园",
        "钱花在哪里",
        "保洁",
        "公共能耗",
        "¥1,280.50",
        "¥1,630.50",
        "物业服务费",
        "沪价备〔2026〕12 号",
        "2.80 元/㎡·月",
        "91.2%",
        "A区1号楼",
        "不足 5 户，不公开",
        "公示记录",
        'id="chart-categories-data"',
        "vendor/plotly/plotly.min.js",
        "js/charts.js",
    ):
        assert text in html, text
    assert "秘密草稿" not in html
    assert "50.0%" not in html  # the 3-unit building's rate
    data = html.split('id="chart-categories-data">', 1)[1].split("</script>", 1)[0]
    figure = json.loads(data)
    assert figure["data"][0]["type"] == "bar"
    assert sorted(figure["data"][0]["x"]) == [350, 1280.5]
    assert client.get("/c/PUB/transparency").status_code == 200
    assert world


def test_page_works_without_billing(
    client: FlaskClient, session: Session, no_billing: None
) -> None:
    _world(session)
    html = client.get("/c/PUB").get_data(as_text=True)
    assert "暂未公布收费标准" in html
    assert "暂无收缴数据" in html


def test_owners_only_community(
    client: FlaskClient, session: Session, login_as: Any, no_billing: None
) -> None:
    world = _world(session, code="PRIV", is_public=False)
    item = world["item"]
    paths = [
        "/c/PRIV",
        "/c/PRIV/spending",
        f"/c/PRIV/spending/{item.id}",
        "/c/PRIV/funds",
        "/c/PRIV/publication-log",
        "/c/PRIV/publication-log.json",
        "/c/PRIV/spending.csv",
        f"/c/PRIV/spending/{item.id}/evidence/{item.evidence[0].id}",
    ]
    for path in paths:
        assert client.get(path).status_code == 404, path
    outsider = factories.make_unit(session)  # an owner in another community
    login_as("owner", unit=outsider)
    assert client.get("/c/PRIV").status_code == 404
    client.post("/logout")
    member_unit = factories.make_unit(session, community=world["community"])
    login_as("owner", unit=member_unit)
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, path
        response.close()


def test_spending_list_detail_and_evidence(
    client: FlaskClient, session: Session, no_billing: None
) -> None:
    world = _world(session)
    item, draft = world["item"], world["draft"]
    html = client.get("/c/PUB/spending?year=2026").get_data(as_text=True)
    assert "保洁外包服务费" in html
    assert "秘密草稿" not in html
    detail = client.get(f"/c/PUB/spending/{item.id}").get_data(as_text=True)
    entry = publication.latest_for(
        session, community_id=world["community"].id, kind="spending", record_ids=[item.id]
    )[item.id]
    assert entry.hash in detail
    evidence = client.get(f"/c/PUB/spending/{item.id}/evidence/{item.evidence[0].id}")
    assert evidence.status_code == 200
    assert evidence.mimetype == "image/png"
    assert "sandbox" in evidence.headers["Content-Security-Policy"]
    assert "public" in evidence.headers["Cache-Control"]  # published evidence may be cached
    assert "no-store" not in evidence.headers["Cache-Control"]
    evidence.close()
    # Drafts and their evidence are private; ids of other items do not mix.
    assert client.get(f"/c/PUB/spending/{draft.id}").status_code == 404
    assert (
        client.get(f"/c/PUB/spending/{draft.id}/evidence/{draft.evidence[0].id}").status_code == 404
    )
    assert (
        client.get(f"/c/PUB/spending/{item.id}/evidence/{draft.evidence[0].id}").status_code == 404
    )


def test_open_data_downloads(client: FlaskClient, session: Session, no_billing: None) -> None:
    world = _world(session)
    csv_response = client.get("/c/PUB/spending.csv?year=2026")
    assert csv_response.status_code == 200
    assert "attachment" in csv_response.headers["Content-Disposition"]
    text = csv_response.get_data(as_text=True)
    assert text.startswith("\ufeffid,date,top_category")
    assert "1280.50" in text
    assert "秘密草稿" not in text
    as_json = client.get("/c/PUB/spending.json?year=2026")
    document = json.loads(as_json.get_data(as_text=True))
    assert document["total_fen"] == 163_050
    assert {i["id"] for i in document["items"]} == {world["item"].id, world["item"].id + 1}
    assert client.get("/c/PUB/spending.xml").status_code == 404


def test_csv_neutralises_formulas(client: FlaskClient, session: Session, no_billing: None) -> None:
    community = factories.make_community(session, code="CSV")
    actor = helpers.finance(session, community)
    helpers.published(session, community, actor, description='=HYPERLINK("http://x")')
    session.commit()
    text = client.get("/c/CSV/spending.csv?year=2026").get_data(as_text=True)
    assert "'=HYPERLINK" in text


def _form(community: Any, **changes: Any) -> dict[str, Any]:
    category = helpers.category(helpers_session(), community)
    data = {
        "spent_on": "2026-11-18",
        "category_id": str(category.id),
        "amount": "1,280.50",
        "vendor": "洁美环境服务有限公司",
        "description": "保洁外包服务费（11 月）",
    }
    data.update(changes)
    return data


def helpers_session() -> Session:
    from portal.extensions import db

    return db.session


def _upload(data: bytes, name: str) -> tuple[io.BytesIO, str]:
    return io.BytesIO(data), name


def test_finance_records_and_publishes_with_evidence(
    client: FlaskClient, session: Session, login_as: Any
) -> None:
    community = factories.make_community(session, code="FIN")
    helpers.category(session, community)
    session.commit()
    login_as("finance", community=community)
    assert client.get("/staff/transparency/FIN/spending/new").status_code == 200
    response = client.post(
        "/staff/transparency/FIN/spending/new",
        data={**_form(community), "files": [_upload(helpers.png_bytes(), "发票.png")]},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    item = session.scalar(select(SpendingItem))
    assert (item.amount_fen, item.status, len(item.evidence)) == (128_050, "draft", 1)
    assert client.get(f"/staff/transparency/spending/{item.id}").status_code == 200
    assert client.post(f"/staff/transparency/spending/{item.id}/publish").status_code == 302
    session.expire_all()
    assert session.get(SpendingItem, item.id).status == RecordStatus.PUBLISHED
    assert helpers.count(session, PublicationEntry) == 1
    # Editing the published item is refused with a clear message; nothing changes.
    response = client.post(
        f"/staff/transparency/spending/{item.id}/edit",
        data=_form(community, amount="1"),
        follow_redirects=True,
    )
    assert "已公开的支出不能修改" in response.get_data(as_text=True)
    session.expire_all()
    assert session.get(SpendingItem, item.id).amount_fen == 128_050
    # A correction starts a draft that supersedes it once published.
    response = client.post(
        f"/staff/transparency/spending/{item.id}/correct", data={"reason": "金额录错"}
    )
    assert response.status_code == 302
    correction = session.scalar(select(SpendingItem).where(SpendingItem.supersedes_id == item.id))
    response = client.post(
        f"/staff/transparency/spending/{correction.id}/edit",
        data=_form(community, amount="1200", correction_reason="发票金额为 1200 元"),
    )
    assert response.status_code == 302
    client.post(f"/staff/transparency/spending/{correction.id}/publish")
    html = client.get("/c/FIN/spending?year=2026").get_data(as_text=True)
    assert "已被更正" in html
    assert "发票金额为 1200 元" in html


@pytest.mark.parametrize(
    ("changes", "files", "message"),
    [
        ({"amount": "-5"}, [], "请输入金额"),
        ({"amount": "12.345"}, [], "请输入金额"),
        ({"amount": "abc"}, [], "请输入金额"),
        ({"amount": "0"}, [], "金额必须大于 0"),
        ({"category_id": "999999"}, [], "未知的支出类别"),
        ({"category_id": "x"}, [], ""),
        ({"spent_on": "2030-06-01"}, [], "日期不能晚于今天"),
        ({"spent_on": "2099-01-01"}, [], "日期须在 2000-01-01 至"),
        ({}, [(helpers.EXE_AS_JPG, "invoice.jpg")], "invoice.jpg"),
        ({}, [(helpers.SVG_WITH_SCRIPT, "invoice.svg")], "invoice.svg"),
        ({}, [(b"\xff\xd8\xff\xe0" + b"0" * (30 * 1024 * 1024), "big.jpg")], "文件过大"),
    ],
)
def test_bad_input_rerenders_with_error_and_writes_nothing(
    client: FlaskClient,
    session: Session,
    login_as: Any,
    changes: dict[str, str],
    files: list[tuple[bytes, str]],
    message: str,
) -> None:
    community = factories.make_community(session, code="BAD")
    login_as("finance", community=community)
    data: dict[str, Any] = _form(community, **changes)
    session.commit()
    if files:
        data["files"] = [
            FileStorage(io.BytesIO(content), filename=name, content_type="image/jpeg")
            for content, name in files
        ]
    # Encode in memory: the test client would otherwise spool a 30 MB body to an unclosed file.
    fields = MultiDict(
        [
            (k, v)
            for k, value in data.items()
            for v in (value if isinstance(value, list) else [value])
        ]
    )
    boundary, body = encode_multipart(fields)
    response = client.post(
        "/staff/transparency/BAD/spending/new",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert message in html
    assert 'class="field-error"' in html or "flash-error" in html
    assert helpers.count(session, SpendingItem) == 0
    assert helpers.count(session, SpendingEvidence) == 0
    assert helpers.count(session, StoredFile) == 0


def test_staff_scoping_and_roles(client: FlaskClient, session: Session, login_as: Any) -> None:
    world = _world(session)
    other = factories.make_community(session, code="OTHER")
    login_as("finance", community=other)
    item, draft = world["item"], world["draft"]
    assert client.get("/staff/transparency/PUB/spending").status_code == 404
    assert client.get(f"/staff/transparency/spending/{draft.id}").status_code == 404
    assert client.post(f"/staff/transparency/spending/{draft.id}/publish").status_code == 404
    assert client.post(f"/staff/transparency/spending/{draft.id}/delete").status_code == 404
    assert (
        client.post(
            f"/staff/transparency/spending/{item.id}/correct", data={"reason": "x"}
        ).status_code
        == 404
    )
    session.expire_all()
    assert session.get(SpendingItem, draft.id).status == "draft"
    client.post("/logout")
    login_as("cs", community=world["community"])
    assert client.get("/staff/transparency/PUB/spending").status_code == 403
    client.post("/logout")
    login_as("owner", unit=factories.make_unit(session, community=world["community"]))
    assert client.get("/staff/transparency").status_code == 403


def test_staff_budget_fund_statement_and_category_pages(
    client: FlaskClient, session: Session, login_as: Any, no_billing: None
) -> None:
    world = _world(session)
    login_as("manager", community=world["community"])
    # categories
    assert client.get("/staff/transparency/PUB/categories").status_code == 200
    response = client.post(
        "/staff/transparency/PUB/categories",
        data={"parent_id": "", "code": "parking", "name": "停车场运营"},
    )
    assert response.status_code == 302
    assert session.scalar(select(SpendingCategory).where(SpendingCategory.code == "parking"))
    # budget
    response = client.post("/staff/transparency/PUB/budgets", data={"year": "2026"})
    assert response.status_code == 302
    budget = session.scalar(select(Budget))
    tops = {
        c.code: c.id
        for c in helpers.spending.top_categories(session, community_id=world["community"].id)
    }
    response = client.post(
        f"/staff/transparency/budgets/{budget.id}",
        data={f"line_{tops['cleaning']}": "-1", "note": ""},
    )
    assert response.status_code == 200
    assert "请输入金额" in response.get_data(as_text=True)
    response = client.post(
        f"/staff/transparency/budgets/{budget.id}",
        data={f"line_{tops['cleaning']}": "1,000", "note": "测试"},
    )
    assert response.status_code == 302
    client.post(f"/staff/transparency/budgets/{budget.id}/publish")
    session.expire_all()
    assert session.get(Budget, budget.id).status == "published"
    page = client.get("/c/PUB").get_data(as_text=True)
    assert "预算与实际" in page
    assert "chart-budget" in page
    assert "超出预算" in page  # 1,280.50 cleaning vs 1,000 budget
    # maintenance fund: using it needs the approval reference
    response = client.post(
        "/staff/transparency/PUB/funds/new?account=maintenance_fund",
        data={
            "direction": "out",
            "kind": "repair",
            "occurred_on": "2026-11-01",
            "amount": "5000",
            "description": "外墙维修",
            "approval_ref": "",
        },
    )
    assert response.status_code == 200
    assert "业主表决" in response.get_data(as_text=True)
    assert helpers.count(session, FundMovement) == 0
    response = client.post(
        "/staff/transparency/PUB/funds/new?account=common_revenue",
        data={
            "direction": "in",
            "kind": "advertising",
            "occurred_on": "2026-11-01",
            "amount": "3000",
            "description": "电梯广告",
            "counterparty": "分众",
        },
    )
    assert response.status_code == 302
    movement = session.scalar(select(FundMovement))
    client.post(f"/staff/transparency/funds/{movement.id}/publish")
    assert "电梯广告" in client.get("/c/PUB/funds?account=common_revenue&year=2026").get_data(
        as_text=True
    )
    # statement
    response = client.post(
        "/staff/transparency/PUB/statements",
        data={
            "year": "2026",
            "fee_income": "100000",
            "other_income": "0",
            "note": "",
        },
    )
    assert response.status_code == 302
    statement_id = int(response.headers["Location"].rsplit("/", 1)[1])
    client.post(f"/staff/transparency/statements/{statement_id}/publish")
    html = client.get("/c/PUB/statements/2026").get_data(as_text=True)
    assert "¥10,000.00" in html  # 10% commission of 100,000
    session.expire_all()
    assert publication.verify(session, world["community"]).ok


def test_owner_fee_share(
    client: FlaskClient, session: Session, login_as: Any, billing: FakeBilling
) -> None:
    world = _world(session)
    unit = factories.make_unit(session, community=world["community"])
    someone_else = factories.make_unit(session, community=world["community"])
    login_as("owner", unit=unit)
    response = client.get("/my/fee-share?year=2026")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "¥3,600.00" in html
    assert "物业服务企业酬金" in html
    assert "¥360.00" in html  # 10% commission of the owner's 3,600 yuan
    assert 'id="chart-share-data"' in html
    assert client.get(f"/my/fee-share?unit={someone_else.id}").status_code == 404


def test_owner_fee_share_without_billing(
    client: FlaskClient, session: Session, login_as: Any, no_billing: None
) -> None:
    world = _world(session)
    login_as("owner", unit=factories.make_unit(session, community=world["community"]))
    html = client.get("/my/fee-share").get_data(as_text=True)
    assert "暂按 0 元估算" in html


def test_publication_log_page_and_download(
    client: FlaskClient, session: Session, no_billing: None
) -> None:
    world = _world(session)
    html = client.get("/c/PUB/publication-log").get_data(as_text=True)
    assert "verify_publication_log.py" in html
    assert "自己动手核验" in html
    download = client.get("/c/PUB/publication-log.json")
    assert "attachment" in download.headers["Content-Disposition"]
    body = json.loads(download.get_data(as_text=True))
    assert body["entries"] == publication.entries(session, world["community"])
    script = client.get("/static/verify_publication_log.py")
    assert script.status_code == 200
    assert b"def check_chain" in script.data
    script.close()
