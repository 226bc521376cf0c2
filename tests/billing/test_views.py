"""The finance page for a new fee-standard version: it offers the eligible notices."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.billing.models import FeeStandard
from tests import factories

ANNOUNCED = datetime(2026, 10, 1, 2, 0, tzinfo=UTC)


def _form(**changes: Any) -> dict[str, Any]:
    data = {
        "property_type": "residential",
        "item_code": "property_service",
        "basis": "per_m2_month",
        "rate": "2.80",
        "effective_from": "2026-12-01",
        "approval_ref": "业主大会决议〔2026〕3 号",
        "notice_id": "",
        "note": "",
    }
    data.update(changes)
    return data


def test_new_version_offers_eligible_notices_and_refuses_the_wrong_one(
    client: FlaskClient, session: Session, login_as: Any
) -> None:
    community = factories.make_community(session, code="STDV", notice_period_days=30)
    factories.make_standard(session, community=community, rate="2.35")
    right = factories.make_fee_notice(
        session, community=community, rate="2.80", published_at=ANNOUNCED
    )
    garbage = factories.make_fee_notice(
        session, community=community, item_code="garbage", rate="10", published_at=ANNOUNCED
    )
    draft = factories.make_fee_notice(
        session, community=community, rate="2.80", published_at=ANNOUNCED, publish=False
    )
    login_as("finance", community=community)
    page = client.get("/finance/STDV/standards").get_data(as_text=True)
    assert f'value="{right.id}"' in page
    assert f'value="{garbage.id}"' in page
    assert f'value="{draft.id}"' not in page  # a draft is not eligible
    assert "住宅·物业服务费 2.8" in page
    assert "最早 2026-10-31 执行" in page

    refused = client.post("/finance/STDV/standards", data=_form(notice_id=str(garbage.id)))
    assert refused.status_code == 200
    assert "生活垃圾清运费" in refused.get_data(as_text=True)
    wrong_rate = client.post(
        "/finance/STDV/standards", data=_form(notice_id=str(right.id), rate="2.90")
    )
    assert "与填写的 2.9 元不符" in wrong_rate.get_data(as_text=True)
    assert session.scalar(select(func.count(FeeStandard.id))) == 1

    done = client.post("/finance/STDV/standards", data=_form(notice_id=str(right.id)))
    assert done.status_code == 302, done.get_data(as_text=True)
    session.expire_all()
    v2 = session.scalar(select(FeeStandard).where(FeeStandard.version == 2))
    assert v2.notice_id == right.id
    page = client.get("/finance/STDV/standards").get_data(as_text=True)
    assert f'value="{right.id}"' not in page  # used: no longer offered
    public = client.get("/c/STDV/fee-standards")
    assert public.status_code == 200
    text = public.get_data(as_text=True)
    assert f"/c/STDV/notices/{right.id}" in text  # owners can read the announcement
