from flask.testing import FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.communities import service as communities
from tests import factories


def test_create_owner_with_unit(runner: FlaskCliRunner, session: Session) -> None:
    unit = factories.make_unit(session, code="A-3-1202")
    code = unit.community.code
    session.commit()
    result = runner.invoke(
        args=[
            "users",
            "create",
            "li",
            "--password",
            "owner-pass-2026",
            "--role",
            "owner",
            "--community",
            code,
            "--unit",
            "A-3-1202",
        ]
    )
    assert result.exit_code == 0, result.output
    user = session.scalar(select(User).where(User.username == "li"))
    assert [u.code for u in communities.units_of(session, user)] == ["A-3-1202"]
    assert user.role_names() == {"owner"}


def test_create_staff_and_admin(runner: FlaskCliRunner, session: Session) -> None:
    community = factories.make_community(session, code="XY1")
    session.commit()
    ok = runner.invoke(
        args=[
            "users",
            "create",
            "fin",
            "--password",
            "finance-2026",
            "--role",
            "finance",
            "--community",
            "XY1",
        ]
    )
    assert ok.exit_code == 0, ok.output
    ok = runner.invoke(
        args=["users", "create", "root", "--password", "admin-pass-2026", "--role", "admin"]
    )
    assert ok.exit_code == 0, ok.output
    fin = session.scalar(select(User).where(User.username == "fin"))
    assert fin.community_ids("finance") == {community.id}


def test_bad_input_writes_nothing(runner: FlaskCliRunner, session: Session) -> None:
    factories.make_community(session, code="XY2")
    session.commit()
    cases = [
        (["--role", "finance", "--community", "NOPE"], "does not exist"),
        (["--role", "owner", "--community", "XY2", "--unit", "Z-9-999"], "is not in community"),
        (["--role", "owner"], "an owner needs"),
        (["--role", "cs"], "必须指定小区"),
    ]
    for extra, message in cases:
        result = runner.invoke(
            args=["users", "create", "x1", "--password", "pass-2026-xyz", *extra]
        )
        assert result.exit_code != 0
        assert message in result.output, result.output
    weak = runner.invoke(args=["users", "create", "x2", "--password", "123", "--role", "admin"])
    assert weak.exit_code != 0
    assert session.scalar(select(func.count(User.id))) == 0
