"""Dispute pages: wiring, permissions, re-rendering with errors, exports, the public page."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.disputes import decisions, intake, lifecycle
from portal.disputes.models import Dispute, DisputeEvidence, DisputeSettings
from tests import factories
from tests.disputes.helpers import World, count, make_world, other_bill_line, png_bytes
from tests.factories import NOW


@pytest.fixture
def world(session: Session) -> World:
    w = make_world(session, code="DSP")
    session.commit()
    return w


def _login(client: FlaskClient, user: Any) -> None:
    client.post("/logout")
    response = client.post("/login", data=factories.login_fields(user.username))
    assert response.status_code == 302


def _dispute(session: Session, world: World, **kwargs: Any) -> Dispute:
    args: dict[str, Any] = {
        "owner": world.owner,
        "target_type": "bill_line",
        "target_id": world.line(0).id,
        "reason": "wrong_area",
        "statement": "面积应为 95㎡，请核实",
        "requested_outcome": "credit",
        "requested_amount_fen": 1_250,
        "now": NOW,
    }
    args.update(kwargs)
    dispute = intake.open_dispute(session, **args)
    session.commit()
    return dispute


# ---------------------------------------------------------------- owner


def test_owner_opens_a_dispute_with_evidence(
    client: FlaskClient, session: Session, world: World
) -> None:
    _login(client, world.owner)
    line = world.line(0)
    page = client.get("/disputes/new")
    assert "账单中的某项费用" in page.get_data(as_text=True)
    form = client.get(f"/disputes/new?target_type=bill_line&target={line.id}")
    assert form.status_code == 200
    assert f'<option selected value="{line.id}">' in form.get_data(as_text=True)
    response = client.post(
        "/disputes/new?target_type=bill_line",
        data={
            "target_type": "bill_line",
            "target_id": str(line.id),
            "reason": "wrong_area",
            "requested_outcome": "credit",
            "requested_amount": "12.50",
            "statement": "房产证面积 95.00㎡，账单按 100㎡ 计。",
            "evidence": [(io.BytesIO(png_bytes()), "cert.png")],
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    dispute = session.scalar(select(Dispute))
    assert dispute is not None
    assert dispute.requested_amount_fen == 1_250
    assert response.headers["Location"].endswith(f"/disputes/{dispute.id}")
    detail = client.get(f"/disputes/{dispute.id}").get_data(as_text=True)
    assert dispute.reference in detail
    assert "¥12.50" in detail
    assert "处理期间暂停计收违约金和催缴的金额" in detail
    evidence = session.scalar(select(DisputeEvidence))
    image = client.get(f"/disputes/{dispute.id}/evidence/{evidence.id}")
    assert image.status_code == 200
    assert image.mimetype == "image/png"
    assert image.headers["Cache-Control"] == "private, no-store"  # evidence is private
    assert image.headers["X-Content-Type-Options"] == "nosniff"
    image.close()
    assert "异议" in client.get("/disputes/").get_data(as_text=True)


def test_form_errors_rerender_and_write_nothing(
    client: FlaskClient, session: Session, world: World
) -> None:
    _login(client, world.owner)
    line = world.line(0)
    base = {
        "target_type": "bill_line",
        "reason": "wrong_area",
        "requested_outcome": "credit",
        "statement": "房产证面积 95.00㎡，账单按 100㎡ 计。",
    }
    for data, message in (
        ({"target_id": str(line.id), "requested_amount": "250.01"}, "不能超过有异议的金额"),
        ({"target_id": str(line.id), "requested_amount": "12.345"}, "最多两位小数"),
        ({"target_id": str(line.id), "requested_amount": ""}, "请填写申请退还或减免的金额"),
        (
            {"target_id": str(other_bill_line(session, world).id), "requested_amount": "1"},
            "账单明细不存在",
        ),
    ):
        response = client.post("/disputes/new?target_type=bill_line", data={**base, **data})
        assert response.status_code == 200
        assert message in response.get_data(as_text=True), message
    response = client.post(
        "/disputes/new?target_type=bill_line",
        data={
            **base,
            "target_id": str(line.id),
            "requested_amount": "1",
            "evidence": [(io.BytesIO(b"<svg onload=alert(1)></svg>"), "x.svg")],
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    assert "不是有效的图片" in response.get_data(as_text=True)
    assert count(session, Dispute) == 0


def test_other_owners_dispute_is_not_found(
    client: FlaskClient, session: Session, world: World
) -> None:
    dispute = _dispute(session, world)
    _login(client, world.other_owner)
    assert client.get(f"/disputes/{dispute.id}").status_code == 404
    assert client.post(f"/disputes/{dispute.id}/withdraw").status_code == 404
    evidence_url = f"/disputes/{dispute.id}/evidence/1"
    assert client.get(evidence_url).status_code == 404


def test_owner_accepts_and_the_bill_shows_the_credit(
    client: FlaskClient, session: Session, world: World
) -> None:
    dispute = _dispute(session, world)
    proposal = decisions.propose(
        session,
        dispute=dispute,
        actor=world.finance,
        kind="credit",
        body="核实后减免",
        amount_fen=1_250,
        now=NOW,
    )
    session.commit()
    _login(client, world.owner)
    bill = client.get(f"/bills/{world.bills[0].id}").get_data(as_text=True)
    assert dispute.reference in bill
    assert "处理期间暂停计收违约金和催缴" in bill
    page = client.get(f"/disputes/{dispute.id}").get_data(as_text=True)
    assert "物业的答复方案" in page
    response = client.post(f"/disputes/{dispute.id}/accept", data={"proposal_id": str(proposal.id)})
    assert response.status_code == 302
    bill = client.get(f"/bills/{world.bills[0].id}").get_data(as_text=True)
    assert "已减免 ¥12.50" in bill
    assert "已调减 ¥12.50" in bill
    ledger_page = client.get(f"/units/{world.unit.id}/ledger").get_data(as_text=True)
    assert f"异议 {dispute.reference}" in ledger_page


def test_accepting_a_missing_proposal_flashes_an_error(
    client: FlaskClient, session: Session, world: World
) -> None:
    dispute = _dispute(session, world)
    _login(client, world.owner)
    response = client.post(
        f"/disputes/{dispute.id}/accept", data={"proposal_id": "999"}, follow_redirects=True
    )
    assert "该答复方案不存在" in response.get_data(as_text=True)
    session.refresh(dispute)
    assert dispute.status == "submitted"


def test_owner_rejects_then_escalates(client: FlaskClient, session: Session, world: World) -> None:
    dispute = _dispute(session, world)
    proposal = decisions.propose(
        session,
        dispute=dispute,
        actor=world.cs,
        kind="explanation",
        body="面积无误",
        amount_fen=None,
        now=NOW,
    )
    session.commit()
    _login(client, world.owner)
    client.post(
        f"/disputes/{dispute.id}/reject",
        data={"proposal_id": str(proposal.id), "reason": "房产证是 95㎡"},
    )
    page = client.get(f"/disputes/{dispute.id}").get_data(as_text=True)
    assert "提交业委会或调解组织" in page
    client.post(
        f"/disputes/{dispute.id}/escalate", data={"to": "committee", "reason": "请业委会评理"}
    )
    session.refresh(dispute)
    assert dispute.status == "escalated"


# ---------------------------------------------------------------- staff


def test_staff_queue_and_case_page(client: FlaskClient, session: Session, world: World) -> None:
    dispute = _dispute(session, world)
    _login(client, world.cs)
    queue = client.get("/staff/disputes").get_data(as_text=True)
    assert dispute.reference in queue
    assert (
        client.get("/staff/disputes?status=all&target_type=bill_line&sort=due").status_code == 200
    )
    page = client.get(f"/staff/disputes/{dispute.id}").get_data(as_text=True)
    assert "13912345678" in page  # customer service calls the owner back
    client.post(f"/staff/disputes/{dispute.id}/acknowledge", data={"message": "已收到"})
    session.refresh(dispute)
    assert dispute.status == "acknowledged"
    # customer service may explain, not give money
    response = client.post(
        f"/staff/disputes/{dispute.id}/propose",
        data={"kind": "credit", "amount": "12.50", "body": "减免"},
        follow_redirects=True,
    )
    assert "只有财务或管理处负责人" in response.get_data(as_text=True)
    client.post(
        f"/staff/disputes/{dispute.id}/propose",
        data={"kind": "explanation", "body": "面积依房产证核实"},
    )
    session.refresh(dispute)
    assert dispute.status == "proposed"


def test_finance_credit_above_threshold_needs_the_manager(
    client: FlaskClient, session: Session, world: World
) -> None:
    dispute = _dispute(session, world, requested_amount_fen=25_000)
    _login(client, world.finance)
    response = client.post(
        f"/staff/disputes/{dispute.id}/propose",
        data={"kind": "credit", "amount": "250", "body": "全额减免"},
        follow_redirects=True,
    )
    assert "已提交管理处负责人审批" in response.get_data(as_text=True)
    assert client.post(f"/staff/disputes/{dispute.id}/approve", data={}).status_code == 403
    session.expire_all()
    proposal = session.get(Dispute, dispute.id).proposals[-1]
    _login(client, world.manager)
    assert "待审批方案" in client.get("/staff/disputes").get_data(as_text=True)
    client.post(f"/staff/disputes/{dispute.id}/approve", data={"proposal_id": str(proposal.id)})
    session.expire_all()
    assert session.get(Dispute, dispute.id).status == "proposed"


def test_committee_reads_without_phone_and_gives_opinions(
    client: FlaskClient, session: Session, world: World
) -> None:
    dispute = _dispute(session, world)
    _login(client, world.committee)
    assert dispute.reference in client.get("/staff/disputes").get_data(as_text=True)
    page = client.get(f"/staff/disputes/{dispute.id}").get_data(as_text=True)
    assert "13912345678" not in page
    assert "提出答复方案" not in page
    client.post(f"/staff/disputes/{dispute.id}/opinion", data={"body": "建议现场复核面积"})
    session.expire_all()
    assert session.get(Dispute, dispute.id).events[-1].kind == "opinion"
    assert client.post(f"/staff/disputes/{dispute.id}/acknowledge").status_code == 403
    assert client.post(f"/staff/disputes/{dispute.id}/close").status_code == 403


def test_staff_of_another_community_get_404(
    client: FlaskClient, session: Session, world: World, login_as: Callable[..., Any]
) -> None:
    dispute = _dispute(session, world)
    client.post("/logout")
    login_as("manager")
    assert client.get(f"/staff/disputes/{dispute.id}").status_code == 404
    assert client.post(f"/staff/disputes/{dispute.id}/acknowledge").status_code == 404
    assert client.get("/staff/disputes/mediation/DSP").status_code == 404
    assert client.get("/staff/disputes/settings/DSP").status_code == 404
    assert dispute.reference not in client.get("/staff/disputes").get_data(as_text=True)


def test_owner_cannot_reach_staff_pages(
    client: FlaskClient, session: Session, world: World
) -> None:
    dispute = _dispute(session, world)
    _login(client, world.owner)
    assert client.get("/staff/disputes").status_code == 403
    assert client.get(f"/staff/disputes/{dispute.id}").status_code == 403


def test_manager_settings(client: FlaskClient, session: Session, world: World) -> None:
    _login(client, world.manager)
    assert client.get("/staff/disputes/settings/DSP").status_code == 200
    response = client.post(
        "/staff/disputes/settings/DSP",
        data={
            "first_response_days": "5",
            "proposal_days": "3",
            "approval_threshold": "500",
            "mediator": "",
        },
    )
    assert response.status_code == 200
    assert "答复方案时限须不少于首次响应时限" in response.get_data(as_text=True)
    assert count(session, DisputeSettings) == 0
    client.post(
        "/staff/disputes/settings/DSP",
        data={
            "first_response_days": "3",
            "proposal_days": "15",
            "approval_threshold": "500",
            "mediator": "陆家嘴街道人民调解委员会",
        },
    )
    saved = session.get(DisputeSettings, world.community.id)
    assert saved.approval_threshold_fen == 50_000
    assert saved.proposal_days == 15


def test_mediation_list_exports(client: FlaskClient, session: Session, world: World) -> None:
    dispute = _dispute(session, world, statement='=HYPERLINK("http://evil") 面积有误')
    lifecycle.escalate(
        session, dispute=dispute, actor=world.manager, to="mediator", reason="双方分歧", now=NOW
    )
    session.commit()
    _login(client, world.committee)
    page = client.get("/staff/disputes/mediation/DSP").get_data(as_text=True)
    assert dispute.reference in page
    response = client.get("/staff/disputes/mediation/DSP/export/csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][0] == "编号"
    assert rows[1][0] == dispute.reference
    assert rows[1][7].startswith("'=")  # formula neutralised
    assert "13912345678" not in response.get_data(as_text=True)
    response = client.get("/staff/disputes/mediation/DSP/export/xlsx")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.data))
    sheet = book.active
    assert sheet.cell(row=2, column=1).value == "编号"
    assert sheet.cell(row=3, column=1).value == dispute.reference
    assert sheet.cell(row=3, column=14).value == "调解组织"
    assert client.get("/staff/disputes/mediation/DSP/export/pdf").status_code == 404


# ---------------------------------------------------------------- public


def test_public_objections_page_is_anonymous(
    client: FlaskClient, session: Session, world: World
) -> None:
    from portal.billing.models import FeeStandard

    standard = session.scalar(select(FeeStandard))
    _dispute(
        session,
        world,
        target_type="fee_standard",
        target_id=standard.id,
        reason="not_announced",
        requested_outcome="correction",
        requested_amount_fen=None,
        statement="王芳认为公示期不足 30 天",
    )
    page = client.get("/c/DSP/objections").get_data(as_text=True)
    assert "1 条处理中" in page
    assert "王芳" not in page
    assert "不足 5 件" in page
    assert client.get("/c/NOPE/objections").status_code == 404


def test_objection_badge_global(app: Any, session: Session, world: World) -> None:
    from portal.billing.models import FeeStandard

    standard = session.scalar(select(FeeStandard))
    _dispute(
        session,
        world,
        target_type="fee_standard",
        target_id=standard.id,
        reason="rate_unreasonable",
        requested_outcome="explanation",
        requested_amount_fen=None,
    )
    with app.test_request_context("/"):
        template = app.jinja_env.from_string(
            "{{ objection_badge('fee_standard', sid) }}|{{ objection_badge('spending', 999) }}"
        )
        html = template.render(sid=standard.id)
    assert "1 条异议处理中" in html
    assert html.endswith("|")


def test_community_section_partial_for_the_transparency_page(
    app: Any, session: Session, world: World
) -> None:
    _dispute(session, world)
    with app.test_request_context("/"):
        html = app.jinja_env.from_string(
            '{% include "disputes/_community_section.html" ignore missing %}'
        ).render(community=world.community)
    assert "异议与答复" in html
    assert "/c/DSP/objections" in html
    assert "王芳" not in html


def test_transparency_pages_show_objections_anonymously(
    client: FlaskClient, session: Session, world: World
) -> None:
    from tests.disputes.helpers import spending_item

    item = spending_item(session, world)
    session.commit()
    _dispute(
        session,
        world,
        target_type="spending",
        target_id=item.id,
        reason="amount_questioned",
        requested_outcome="explanation",
        requested_amount_fen=None,
        statement="王芳觉得保洁费太高",
    )
    for path in ("/c/DSP/spending?year=2026", f"/c/DSP/spending/{item.id}"):
        html = client.get(path).get_data(as_text=True)
        assert "1 条异议处理中" in html, path
        assert "王芳" not in html
    community = client.get("/c/DSP").get_data(as_text=True)
    assert "异议与答复" in community
    assert "/c/DSP/objections" in community
