"""Collections pages: scoping, the case page on one screen, one-tap logging, forms that refuse
bad input and write nothing, notices, the lists and their audited exports."""

from __future__ import annotations

from datetime import date, datetime

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.audit.models import AuditEntry
from portal.collections.models import CollectionContact
from tests import factories
from tests.collections.helpers import case_of, make_world, run, snapshot
from tests.factories import NOW

DAY = date(2026, 11, 20)


def _login(client: FlaskClient, user) -> None:
    response = client.post("/login", data=factories.login_fields(user.username))
    assert response.status_code == 302


def _world(session: Session):
    world = make_world(session, code="CA")
    other = make_world(session, code="CB")
    run(session, DAY)
    return world, other


def test_collector_of_a_cannot_open_or_export_b(session: Session, client: FlaskClient) -> None:
    world, other = _world(session)
    _login(client, world.collector)
    theirs = case_of(session, other.unit)
    assert client.get(f"/collections/cases/{theirs.id}").status_code == 404
    assert client.get(f"/collections/cases/{theirs.id}/notice.pdf").status_code == 404
    assert client.get("/collections/lists/CB/arrears.csv").status_code == 404
    assert client.get("/collections/lists/CB/arrears.xlsx").status_code == 404
    assert client.get("/collections/cases?community=CB").status_code == 404
    response = client.post(f"/collections/cases/{theirs.id}/call", data={"outcome": "no_answer"})
    assert response.status_code == 404
    mine = case_of(session, world.unit)
    assert client.get(f"/collections/cases/{mine.id}").status_code == 200


def test_owner_and_other_staff_cannot_read_the_arrears_list(
    session: Session, client: FlaskClient
) -> None:
    world, _other = _world(session)
    _login(client, world.owner)
    assert client.get("/collections/lists/CA/arrears.csv", buffered=True).status_code == 403
    assert client.get("/collections/").status_code == 403
    assert client.get(f"/collections/cases/{case_of(session, world.unit).id}").status_code == 403
    client.post("/logout")
    _login(client, world.finance)
    assert client.get("/collections/lists/CA/arrears.csv", buffered=True).status_code == 403


def test_case_page_shows_everything_on_one_screen(session: Session, client: FlaskClient) -> None:
    world, _other = _world(session)
    _login(client, world.collector)
    case = case_of(session, world.unit)
    page = client.get(f"/collections/cases/{case.id}").get_data(as_text=True)
    for text in (
        "账单",
        "缴费",
        "报修",
        "低分评价",
        "异议",
        "通知消息",
        "联系记录",
        "依据",
        "¥1,000.00",
        "下一步",
        "王芳",
    ):
        assert text in page, text


def test_workspace_and_manager_pages(session: Session, client: FlaskClient) -> None:
    world, _other = _world(session)
    _login(client, world.collector)
    page = client.get("/collections/").get_data(as_text=True)
    assert "待办任务" in page
    assert world.unit.code in page
    assert client.get("/collections/manager").status_code == 403
    client.post("/logout")
    _login(client, world.manager)
    page = client.get("/collections/manager").get_data(as_text=True)
    assert "级别漏斗" in page
    assert "账龄" in page
    home = client.get("/").get_data(as_text=True)
    assert "待审批" in home


def test_one_tap_call_outcome(session: Session, client: FlaskClient) -> None:
    world, _other = _world(session)
    _login(client, world.collector)
    case = case_of(session, world.unit)
    response = client.post(f"/collections/cases/{case.id}/call", data={"outcome": "no_answer"})
    assert response.status_code == 302
    contact = session.scalar(
        select(CollectionContact).where(CollectionContact.staff_id == world.collector.id)
    )
    assert contact.outcome == "no_answer"
    assert contact.channel == "phone"


def test_contact_form_refuses_bad_input_and_writes_nothing(
    session: Session, client: FlaskClient, clock
) -> None:
    world, _other = _world(session)
    _login(client, world.collector)
    case = case_of(session, world.unit)
    before = snapshot(session)
    response = client.post(
        f"/collections/cases/{case.id}/contact",
        data={"channel": "phone", "outcome": "promised", "promised_on": "2026-11-01"},
    )
    assert response.status_code == 422
    assert "承诺缴费日期不能早于今天" in response.get_data(as_text=True)
    clock.set(datetime(2026, 11, 20, 14, 0, tzinfo=NOW.tzinfo))  # 22:00 in Shanghai
    assert snapshot(session) == before
    _login(client, world.collector)  # 12 hours on, the morning's session has ended
    before = snapshot(session)  # the log-in itself is audited
    response = client.post(
        f"/collections/cases/{case.id}/contact",
        data={"channel": "phone", "outcome": "no_answer", "planned": "y"},
    )
    assert response.status_code == 422
    assert "21:00–08:00" in response.get_data(as_text=True)
    response = client.post(
        f"/collections/cases/{case.id}/plan",
        data={"schedule": "2026-12-01 500.00\n2026-11-25 400.00"},
    )
    assert response.status_code == 422
    assert snapshot(session) == before


def test_plan_proposed_in_the_workspace_is_accepted_by_the_owner(
    session: Session, client: FlaskClient
) -> None:
    world, _other = _world(session)
    _login(client, world.collector)
    case = case_of(session, world.unit)
    response = client.post(
        f"/collections/cases/{case.id}/plan",
        data={"down_payment": "200.00", "schedule": "2026-12-20 400.00\n2027-01-20 400.00"},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    client.post("/logout")
    _login(client, world.other_owner)
    page = client.get("/collections/my-plans").get_data(as_text=True)
    assert "接受分期计划" not in page
    from portal.collections.models import PaymentPlan

    plan = session.scalar(select(PaymentPlan))
    assert client.post(f"/collections/my-plans/{plan.id}/accept").status_code == 404
    client.post("/logout")
    _login(client, world.owner)
    assert "接受分期计划" in client.get("/collections/my-plans").get_data(as_text=True)
    assert client.post(f"/collections/my-plans/{plan.id}/accept").status_code == 302
    session.refresh(plan)
    assert plan.status == "active"


def test_notice_pdf_and_exports_are_audited(session: Session, client: FlaskClient) -> None:
    from portal.collections import notice
    from portal.pdf import missing_glyphs

    world, _other = _world(session)
    _login(client, world.collector)
    case = case_of(session, world.unit)
    response = client.get(f"/collections/cases/{case.id}/notice.pdf")
    assert response.status_code == 200
    assert response.data.startswith(b"%PDF-")
    data = notice.notice_data(session, case=case, day=DAY)
    assert data.total_fen == 100000
    for text in ("物业服务费催缴通知书", "异议", "民法典", data.owner, data.unit):
        assert not missing_glyphs(text), text
    count = session.scalar(select(func.count(AuditEntry.id)))
    response = client.get("/collections/lists/CA/arrears.csv", buffered=True)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert world.unit.code in body
    assert "139****5678" in body
    assert "13912345678" not in body
    assert client.get("/collections/lists/CA/arrears.xlsx").status_code == 200
    session.expire_all()
    actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id).offset(count)).all()
    assert actions == ["collections.export_arrears", "collections.export_arrears"]
    basis = client.get("/collections/lists/CA/legal-basis.csv", buffered=True).get_data(
        as_text=True
    )
    for ref in ("第九百四十四条", "第一百八十八条", "第一百九十五条", "物业管理条例"):
        assert ref in basis
    lists_page = client.get("/collections/lists/CA").get_data(as_text=True)
    assert "/staff/disputes/mediation/CA" in lists_page


def test_approval_of_l4_only_by_a_manager(session: Session, client: FlaskClient) -> None:
    from portal.collections import engine
    from portal.collections.models import TaskKind, TaskStatus

    world, _other = _world(session)
    case = case_of(session, world.unit)
    case.tier = "L3"
    task, _ = engine.ensure_task(
        session,
        case=case,
        key="t-l4",
        kind=TaskKind.ESCALATE,
        status=TaskStatus.PROPOSED,
        title="L4",
        day=DAY,
        now=NOW,
        tier="L4",
    )
    session.commit()
    _login(client, world.collector)
    client.post(f"/collections/tasks/{task.id}/decide", data={"decision": "approve"})
    session.refresh(task)
    assert task.status == "proposed"


def test_engineer_finishes_a_service_recovery_task(session: Session, client: FlaskClient) -> None:
    from datetime import timedelta

    from portal.collections.models import CollectionTask
    from portal.tickets import intake as tickets_intake
    from portal.tickets import setup as tickets_setup
    from tests import factories

    world = make_world(session, code="CR")
    tickets_setup.ensure_categories(session, world.community)
    tickets_intake.create_ticket(
        session,
        community=world.community,
        actor=world.owner,
        now=NOW - timedelta(days=20),
        category_code="plumbing_electric",
        description="厨房水管漏水一直没修",
        unit=world.unit,
    )
    session.commit()
    run(session, DAY)
    task = session.scalar(select(CollectionTask))
    assert task.kind == "service_recovery"
    assert task.assignee_role == "engineer"
    engineer = factories.make_user(session, role="engineer", community=world.community)
    session.commit()
    _login(client, engineer)
    page = client.get("/collections/recovery").get_data(as_text=True)
    assert "厨房水管漏水" in page
    response = client.post(f"/collections/tasks/{task.id}/done", data={"note": ""})
    assert response.status_code == 302
    session.refresh(task)
    assert task.status == "open"  # a recovery task needs a note of what was fixed
    client.post(f"/collections/tasks/{task.id}/done", data={"note": "已更换水管"})
    session.refresh(task)
    assert task.status == "done"
    assert client.get("/collections/cases").status_code == 403


def test_manager_places_a_hold_and_prints_a_building_batch(
    session: Session, client: FlaskClient
) -> None:
    world, _other = _world(session)
    _login(client, world.manager)
    response = client.post(
        "/collections/manager/CA/holds",
        data={"reason": "电梯更换期间", "starts_on": "2026-11-20", "unit": world.unit.code},
    )
    assert response.status_code == 302
    run(session, date(2026, 11, 21))
    assert case_of(session, world.unit).status == "paused"
    assert case_of(session, world.other_unit).status == "open"
    response = client.get(f"/collections/notices/CA/{world.unit.building_id}.pdf")
    assert response.status_code == 200
    assert response.data.startswith(b"%PDF-")
    other_building = session.get(type(world.unit.building), _other.unit.building_id)
    assert client.get(f"/collections/notices/CA/{other_building.id}.pdf").status_code == 404
    client.post("/logout")
    _login(client, world.collector)
    response = client.post(
        "/collections/manager/CA/holds", data={"reason": "x", "starts_on": "2026-11-20"}
    )
    assert response.status_code == 403


def test_next_after_a_quick_call_stays_on_the_site(session: Session, client: FlaskClient) -> None:
    world, _other = _world(session)
    _login(client, world.collector)
    case = case_of(session, world.unit)
    response = client.post(
        f"/collections/cases/{case.id}/call",
        data={"outcome": "no_answer", "next": "//evil.example/"},
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/collections/cases/{case.id}")


def test_menu_badge_counts_the_proposals_of_the_staff_members_communities(
    session: Session, client: FlaskClient
) -> None:
    """The 催缴 badge on every staff page is one count of proposed tasks, the same number the
    workspace opens on, and only the staff member's own communities'."""
    from portal.collections import dashboard, engine
    from portal.collections.models import TaskKind, TaskStatus

    world, other = _world(session)
    for n, (status, unit) in enumerate(
        [
            (TaskStatus.PROPOSED, world.unit),
            (TaskStatus.PROPOSED, world.unit),
            (TaskStatus.OPEN, world.unit),
            (TaskStatus.PROPOSED, other.unit),
        ]
    ):
        engine.ensure_task(
            session,
            case=case_of(session, unit),
            key=f"badge-{n}",
            kind=TaskKind.ESCALATE,
            status=status,
            title="建议升级",
            day=DAY,
            now=NOW,
            tier="L2",
        )
    session.commit()
    mine = {world.community.id}
    assert dashboard.approval_count(session, community_ids=mine) == 2
    assert dashboard.approval_count(session, community_ids=None) == 3
    todo = dashboard.todo_counts(session, community_ids=mine, day=DAY)
    assert todo["approvals"] == 2
    _login(client, world.collector)
    page = client.get("/staff/tickets").get_data(as_text=True)  # any staff page has the menu
    assert '催缴 <span class="count-badge">2</span>' in page
