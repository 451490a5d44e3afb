"""Clerk accounts: the default administrator, login lock-out, the password policy."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from app.services.accounts import (
    DEFAULT_ADMIN,
    DEFAULT_ADMIN_PASSWORD,
    AccountService,
    LoginError,
    PasswordPolicyError,
    Role,
    check_password_policy,
    hash_password,
    verify_password,
)
from app.storage.db import Database, open_database
from app.storage.models import UserRow


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(tmp_path / "yichuang.db")
    yield database
    database.dispose()


@pytest.fixture
def accounts(db: Database) -> AccountService:
    service = AccountService(db)
    assert service.ensure_default_admin()
    return service


def _row(db: Database, username: str) -> UserRow:
    with db.read() as session:
        row = session.scalars(select(UserRow).where(UserRow.username == username)).one()
        return row


def test_the_default_admin_is_created_once(db: Database) -> None:
    service = AccountService(db)
    assert service.ensure_default_admin() is True
    assert service.ensure_default_admin() is False
    users = service.users()
    assert [(u.username, u.role, u.must_change_password) for u in users] == [
        (DEFAULT_ADMIN, Role.ADMIN, True)]
    row = _row(db, DEFAULT_ADMIN)
    assert row.password_hash.startswith("scrypt$")
    assert DEFAULT_ADMIN_PASSWORD not in row.password_hash


def test_no_default_admin_once_any_account_exists(db: Database) -> None:
    service = AccountService(db)
    service.add_user("wangwu", "王五", Role.CLERK, "chuangkou2026")
    assert service.ensure_default_admin() is False
    assert [u.username for u in service.users()] == ["wangwu"]


def test_first_login_must_change_the_password(accounts: AccountService, db: Database) -> None:
    session = accounts.login(" admin ", DEFAULT_ADMIN_PASSWORD)
    assert (session.username, session.must_change_password) == ("admin", True)
    changed = accounts.change_password(session.user_id, DEFAULT_ADMIN_PASSWORD, "Chuangkou2026")
    assert changed.must_change_password is False
    assert _row(db, "admin").password_changed_at is not None
    assert accounts.login("admin", "Chuangkou2026").must_change_password is False
    with pytest.raises(LoginError, match="用户名或密码不正确"):
        accounts.login("admin", DEFAULT_ADMIN_PASSWORD)


def test_five_wrong_passwords_lock_the_account(accounts: AccountService, db: Database) -> None:
    for left in (4, 3, 2, 1):
        with pytest.raises(LoginError, match=f"用户名或密码不正确（还可尝试{left}次）"):
            accounts.login("admin", "wrong-password")
    with pytest.raises(LoginError, match="密码连续输错5次，账号锁定5分钟"):
        accounts.login("admin", "wrong-password")
    row = _row(db, "admin")
    assert row.locked_until is not None and row.locked_until > dt.datetime.now(dt.UTC
                                                                               ).replace(tzinfo=None)
    # Locked: even the right password is refused, with how long to wait.
    with pytest.raises(LoginError, match=r"账号已锁定，请[1-6]分钟后再试"):
        accounts.login("admin", DEFAULT_ADMIN_PASSWORD)

    # When the lock has run out, the right password works and the count starts again.
    with db.write() as session:
        session.get(UserRow, row.id).locked_until = (  # type: ignore[union-attr]
            dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(seconds=1))
    assert accounts.login("admin", DEFAULT_ADMIN_PASSWORD).username == "admin"
    after = _row(db, "admin")
    assert (after.failed_logins, after.locked_until) == (0, None)
    with pytest.raises(LoginError, match="还可尝试4次"):
        accounts.login("admin", "wrong-password")


def test_a_successful_login_resets_the_count(accounts: AccountService) -> None:
    for _ in range(3):
        with pytest.raises(LoginError):
            accounts.login("admin", "nope")
    accounts.login("admin", DEFAULT_ADMIN_PASSWORD)
    with pytest.raises(LoginError, match="还可尝试4次"):
        accounts.login("admin", "nope")


def test_unknown_users_get_the_same_answer_without_a_count(accounts: AccountService) -> None:
    with pytest.raises(LoginError) as info:
        accounts.login("nobody", "whatever1")
    assert str(info.value) == "用户名或密码不正确。"
    with pytest.raises(LoginError, match="请输入用户名和密码"):
        accounts.login("  ", "x")
    with pytest.raises(LoginError, match="请输入用户名和密码"):
        accounts.login("admin", "")


@pytest.mark.parametrize(("password", "fragment"), [
    ("a1b2c3", "至少8位"),
    ("a1" * 33, "不能超过64位"),
    ("abcdefghij", "同时包含字母和数字"),
    ("1234567890", "同时包含字母和数字"),
    ("Zhangsan2026", "不能包含用户名"),
    ("abc12345", "过于简单"),
    ("Password1", "过于简单"),
])
def test_password_policy_messages(password: str, fragment: str) -> None:
    with pytest.raises(PasswordPolicyError, match=fragment):
        check_password_policy("zhangsan", password)


def test_a_good_password_passes_the_policy() -> None:
    check_password_policy("zhangsan", "Chuangkou2026")  # raises if refused
    assert verify_password("Chuangkou2026", hash_password("Chuangkou2026"))


def test_change_password_refusals(accounts: AccountService) -> None:
    admin = accounts.login("admin", DEFAULT_ADMIN_PASSWORD)
    with pytest.raises(PasswordPolicyError, match="原密码不正确"):
        accounts.change_password(admin.user_id, "not-the-old-one", "Chuangkou2026")
    with pytest.raises(PasswordPolicyError, match="不能与原密码相同"):
        accounts.change_password(admin.user_id, DEFAULT_ADMIN_PASSWORD, DEFAULT_ADMIN_PASSWORD)
    with pytest.raises(PasswordPolicyError, match="至少8位"):
        accounts.change_password(admin.user_id, DEFAULT_ADMIN_PASSWORD, "a1")
    with pytest.raises(LoginError, match="账号不存在"):
        accounts.change_password("no-such-id", DEFAULT_ADMIN_PASSWORD, "Chuangkou2026")
    # Nothing was changed by the refusals.
    assert accounts.login("admin", DEFAULT_ADMIN_PASSWORD).must_change_password is True


def test_add_user_and_reset_password(accounts: AccountService) -> None:
    user = accounts.add_user(" lisi ", " 李四 ", Role.AGENT, "daiban2026")
    assert (user.username, user.display_name, user.role, user.must_change_password) == (
        "lisi", "李四", Role.AGENT, True)
    with pytest.raises(PasswordPolicyError, match="用户名“lisi”已存在"):
        accounts.add_user("lisi", "另一个李四", Role.CLERK, "daiban2027")
    with pytest.raises(PasswordPolicyError, match="用户名应为2至64位"):
        accounts.add_user("李四", "李四", Role.CLERK, "daiban2027")
    with pytest.raises(PasswordPolicyError, match="请填写姓名"):
        accounts.add_user("lisi2", " ", Role.CLERK, "daiban2027")
    with pytest.raises(PasswordPolicyError, match="不能包含用户名"):
        accounts.add_user("lisi3", "李四", Role.CLERK, "lisi3abc123")

    session = accounts.login("lisi", "daiban2026")
    accounts.change_password(session.user_id, "daiban2026", "Xinmima2026")
    accounts.reset_password("lisi", "Chongzhi2026")
    again = accounts.login("lisi", "Chongzhi2026")
    assert again.must_change_password is True
    with pytest.raises(LoginError, match="没有用户“nobody”"):
        accounts.reset_password("nobody", "Chongzhi2026")
    assert [u.username for u in accounts.users()] == ["admin", "lisi"]


@pytest.mark.parametrize("stored", ["", "plain-text", "scrypt$x$8$1$AAAA$AAAA",
                                    "bcrypt$16384$8$1$AAAA$AAAA", "scrypt$16384$8$1$@@$@@"])
def test_a_damaged_hash_never_verifies(stored: str) -> None:
    assert verify_password("123456", stored) is False
