from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.accounts import service
from portal.accounts.models import ApiToken, User
from portal.errors import DomainError
from tests import factories
from tests.factories import NOW, PASSWORD


def test_authenticate(session: Session) -> None:
    user = factories.make_user(session, role="cs")
    assert service.authenticate(session, username=user.username, password=PASSWORD) is user
    assert service.authenticate(session, username=user.username, password="wrong") is None
    assert service.authenticate(session, username="nobody", password=PASSWORD) is None


def test_password_is_argon2id(session: Session) -> None:
    user = factories.make_user(session, role="cs")
    assert user.password_hash is not None
    assert user.password_hash.startswith("$argon2id$")


def test_inactive_and_unactivated_users_cannot_log_in(session: Session) -> None:
    user = factories.make_user(session, role="cs")
    user.active = False
    imported = factories.make_user(session, role="owner", password=None)
    assert service.authenticate(session, username=user.username, password=PASSWORD) is None
    assert service.authenticate(session, username=imported.username, password="") is None


def test_duplicate_username_refused(session: Session) -> None:
    factories.make_user(session, role="cs", username="zhang")
    with pytest.raises(DomainError, match="已存在"):
        service.create_user(session, username="zhang", password=PASSWORD, now=NOW)


@pytest.mark.parametrize(
    "weak",
    [
        "short1",
        "elevenchar1",  # 11 characters
        "abcdefghijkl",
        "123456789012",
        "!!!!!!!!!!!!!!!!",
        "1qaz2wsx3edc",  # on the bundled common list
        "Q1W2E3R4T5Y6",  # the list is compared case-insensitively
    ],
)
def test_weak_passwords_refused(session: Session, weak: str) -> None:
    with pytest.raises(DomainError) as info:
        service.create_user(session, username="li", password=weak, now=NOW)
    assert info.value.field == "new_password"
    assert session.scalar(select(func.count(User.id))) == 0


def test_change_password_revokes_tokens(session: Session) -> None:
    user = factories.make_user(session, role="owner")
    issued = service.issue_token(session, user=user, now=NOW, ttl=timedelta(hours=1))
    with pytest.raises(DomainError, match="当前密码不正确"):
        service.change_password(session, user=user, current="bad", new="new-pass-2026", now=NOW)
    service.change_password(session, user=user, current=PASSWORD, new="new-pass-2026", now=NOW)
    assert service.authenticate(session, username=user.username, password="new-pass-2026")
    assert service.user_for_token(session, token=issued.token, now=NOW) is None


def test_tokens_are_hashed_and_expire(session: Session) -> None:
    user = factories.make_user(session, role="owner")
    issued = service.issue_token(session, user=user, now=NOW, ttl=timedelta(hours=1))
    stored = session.scalar(select(ApiToken.token_hash))
    assert stored != issued.token
    assert len(stored) == 64
    assert service.user_for_token(session, token=issued.token, now=NOW) is user
    later = NOW + timedelta(hours=1)
    assert service.user_for_token(session, token=issued.token, now=later) is None
    assert service.user_for_token(session, token="forged", now=NOW) is None


def test_roles_need_a_community_except_admin(session: Session) -> None:
    user = factories.make_user(session, role="cs")
    with pytest.raises(DomainError, match="必须指定小区"):
        service.grant_role(session, user=user, role="finance", community_id=None)
    with pytest.raises(DomainError, match="未知角色"):
        service.grant_role(session, user=user, role="janitor", community_id=None)


def test_staff_scope(session: Session) -> None:
    a = factories.make_community(session)
    b = factories.make_community(session)
    manager = factories.make_user(session, role="manager", community=a)
    assert manager.community_ids("manager") == {a.id}
    assert b.id not in manager.community_ids()
    assert manager.has_role("manager")
    assert not manager.has_role("finance")


def test_passwords_of_few_distinct_characters_are_refused() -> None:
    for weak in ("!!!!!!!!!!!!", "a1a1a1a1a1a1", "-=-=-=-=-=-="):
        with pytest.raises(DomainError, match="不同的字符"):
            service.check_password_rules(weak)
    service.check_password_rules("pass-word-1234")


def test_common_password_list_is_bundled_and_checked() -> None:
    common = service.common_passwords()
    assert len(common) == 10_000
    assert "password" in common
    with pytest.raises(DomainError) as info:
        service.check_password_rules("123qweasdzxc")
    assert info.value.code == "common"
    assert "demo-pass-2026" not in common
    service.check_password_rules("demo-pass-2026")  # the documented demo password passes


def test_unknown_user_and_wrong_password_both_run_argon2(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same work on both paths, so the response time does not tell which usernames exist."""
    user = factories.make_user(session, role="owner")
    inactive = factories.make_user(session, role="owner")
    inactive.active = False
    calls: list[str] = []
    real = service.hasher.ph

    class Spy:
        def verify(self, hash_: str, password: str) -> bool:
            calls.append(hash_)
            return real.verify(hash_, password)

        def __getattr__(self, name: str) -> object:
            return getattr(real, name)

    monkeypatch.setattr(service.hasher, "ph", Spy())
    assert service.authenticate(session, username="nobody", password="wrong-password") is None
    assert calls == [service.hasher.dummy]
    calls.clear()
    assert service.authenticate(session, username=user.username, password="wrong-password") is None
    assert calls == [user.password_hash]
    calls.clear()
    assert service.authenticate(session, username=inactive.username, password=PASSWORD) is None
    assert calls == [service.hasher.dummy]
    assert service.hasher.dummy.startswith("$argon2id$")
