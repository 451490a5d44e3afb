"""Clerk accounts: hashing, the default administrator, the password policy, role checks.

The lock-out and the answers to unknown names are in test_login_attempts.py.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session

import app.services.accounts as accounts_module
from app.services.accounts import (
    DEFAULT_ADMIN,
    DEFAULT_ADMIN_PASSWORD,
    AccountService,
    ClerkSession,
    LoginError,
    PasswordPolicyError,
    Role,
    check_password_policy,
    hash_password,
    needs_rehash,
    verify_password,
)
from app.services.permissions import PermissionDenied
from app.storage.db import Database
from app.storage.models import UserRow

ADMIN_PASSWORD = "Chuangkou2026"




@pytest.fixture
def accounts(db: Database) -> AccountService:
    service = AccountService(db)
    assert service.ensure_default_admin()
    return service


@pytest.fixture
def admin(accounts: AccountService) -> ClerkSession:
    """The administrator after the forced first change."""
    first = accounts.login(DEFAULT_ADMIN, DEFAULT_ADMIN_PASSWORD)
    return accounts.change_password(first.user_id, DEFAULT_ADMIN_PASSWORD, ADMIN_PASSWORD)


def _row(db: Database, username: str) -> UserRow:
    with db.read() as session:
        row = session.scalars(select(UserRow).where(UserRow.username == username)).one()
        return row


def _scrypt_hash(password: str) -> str:
    """A hash as versions before Argon2 wrote them."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=2**14, r=8, p=1, dklen=32)
    b64 = base64.b64encode
    return f"scrypt$16384$8$1${b64(salt).decode()}${b64(digest).decode()}"


def _insert_user(db: Database, username: str, password_hash: str, *,
                 role: Role = Role.CLERK, must_change: bool = False) -> None:
    with db.write() as session:
        session.add(UserRow(id=f"id-{username}", username=username, display_name=username,
                            role=str(role), password_hash=password_hash,
                            must_change_password=must_change, active=True,
                            created_at=dt.datetime(2026, 1, 5, 9, 0)))


def test_the_default_admin_is_created_once(db: Database) -> None:
    service = AccountService(db)
    assert service.ensure_default_admin() is True
    assert service.ensure_default_admin() is False
    users = service.users()
    assert [(u.username, u.role, u.must_change_password) for u in users] == [
        (DEFAULT_ADMIN, Role.ADMIN, True)]
    row = _row(db, DEFAULT_ADMIN)
    assert row.password_hash.startswith("$argon2id$")
    assert DEFAULT_ADMIN_PASSWORD not in row.password_hash


def test_no_default_admin_once_any_account_exists(db: Database) -> None:
    _insert_user(db, "wangwu", hash_password("chuangkou2026"))
    service = AccountService(db)
    assert service.ensure_default_admin() is False
    assert [u.username for u in service.users()] == ["wangwu"]


@pytest.mark.usefixtures("cheap_argon2")
def test_create_first_admin_only_on_an_empty_database(db: Database) -> None:
    service = AccountService(db)
    with pytest.raises(PasswordPolicyError, match="至少8位"):
        service.create_first_admin("a1")
    created = service.create_first_admin(ADMIN_PASSWORD)
    assert (created.username, created.role, created.must_change_password) == (
        DEFAULT_ADMIN, Role.ADMIN, False)
    assert service.verify_operator(DEFAULT_ADMIN, ADMIN_PASSWORD).user_id == created.user_id
    with pytest.raises(PermissionDenied, match="已有账号"):
        service.create_first_admin("Another2026")
    assert service.ensure_default_admin() is False


def test_first_login_must_change_the_password(accounts: AccountService, db: Database) -> None:
    session = accounts.login(" admin ", DEFAULT_ADMIN_PASSWORD)
    assert (session.username, session.must_change_password) == ("admin", True)
    changed = accounts.change_password(session.user_id, DEFAULT_ADMIN_PASSWORD, ADMIN_PASSWORD)
    assert changed.must_change_password is False
    assert _row(db, "admin").password_changed_at is not None
    assert accounts.login("admin", ADMIN_PASSWORD).must_change_password is False
    with pytest.raises(LoginError, match="用户名或密码不正确"):
        accounts.login("admin", DEFAULT_ADMIN_PASSWORD)


def test_new_hashes_are_argon2id_with_the_current_parameters() -> None:
    stored = hash_password(ADMIN_PASSWORD)
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert verify_password(ADMIN_PASSWORD, stored)
    assert not verify_password("Chuangkou2027", stored)
    assert needs_rehash(stored) is False
    assert needs_rehash(_scrypt_hash(ADMIN_PASSWORD)) is True
    # The dummy hash for unknown names must cost what a real one costs.
    assert needs_rehash(accounts_module._DUMMY_HASH) is False


def test_a_legacy_scrypt_hash_verifies_and_is_upgraded_at_login(db: Database) -> None:
    legacy = _scrypt_hash("Jiumima2020")
    assert verify_password("Jiumima2020", legacy)
    _insert_user(db, "zhaoliu", legacy)
    service = AccountService(db)
    with pytest.raises(LoginError, match="用户名或密码不正确"):
        service.login("zhaoliu", "Jiumima2021")
    assert _row(db, "zhaoliu").password_hash == legacy  # a failure upgrades nothing
    assert service.login("zhaoliu", "Jiumima2020").username == "zhaoliu"
    upgraded = _row(db, "zhaoliu").password_hash
    assert upgraded.startswith("$argon2id$") and not needs_rehash(upgraded)
    assert service.login("zhaoliu", "Jiumima2020").username == "zhaoliu"
    assert _row(db, "zhaoliu").password_hash == upgraded  # no second rehash


def test_a_weak_argon2_hash_is_rehashed_at_login(db: Database) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash("Ruomima2024")
    assert needs_rehash(weak)
    _insert_user(db, "sunqi", weak)
    AccountService(db).login("sunqi", "Ruomima2024")
    assert not needs_rehash(_row(db, "sunqi").password_hash)


def test_a_hash_changed_during_login_is_not_overwritten(db: Database,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    _insert_user(db, "zhouba", _scrypt_hash("Jiumima2020"))
    real_hash = accounts_module.hash_password

    def meanwhile(password: str) -> str:  # another process changes the password now
        with db.write() as session:
            row = session.scalars(select(UserRow).where(UserRow.username == "zhouba")).one()
            row.password_hash = "changed-elsewhere"
        return real_hash(password)

    monkeypatch.setattr(accounts_module, "hash_password", meanwhile)
    AccountService(db).login("zhouba", "Jiumima2020")
    assert _row(db, "zhouba").password_hash == "changed-elsewhere"


@pytest.mark.usefixtures("cheap_argon2")
def test_no_hashing_or_verifying_inside_a_write_transaction(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """The write transaction holds the only write lock: scrypt/Argon2 must run outside it."""
    state = {"writing": False, "calls": 0}
    real_write = db.write

    @contextmanager
    def watched_write() -> Iterator[Session]:
        with real_write() as session:
            state["writing"] = True
            try:
                yield session
            finally:
                state["writing"] = False

    def outside(fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any) -> Any:
            assert not state["writing"], f"{fn.__name__} ran inside db.write()"
            state["calls"] += 1
            return fn(*args)
        return wrapper

    monkeypatch.setattr(db, "write", watched_write)
    for name in ("hash_password", "verify_password", "needs_rehash"):
        monkeypatch.setattr(accounts_module, name, outside(getattr(accounts_module, name)))
    _insert_user(db, "legacy", _scrypt_hash("Jiumima2020"))
    service = AccountService(db)
    service.ensure_default_admin()  # users exist: nothing to hash
    _insert_user(db, "boss", hash_password(ADMIN_PASSWORD), role=Role.ADMIN)
    boss = service.login("boss", ADMIN_PASSWORD)
    service.login("legacy", "Jiumima2020")  # verified, then upgraded
    for name in ("legacy", "nobody"):
        with pytest.raises(LoginError):
            service.login(name, "wrong-password1")
    service.add_user(boss, "wuji", "吴吉", Role.CLERK, "Chushi2026")
    service.reset_password(boss, "wuji", "Chongzhi2026")
    session = service.login("wuji", "Chongzhi2026")
    service.change_password(session.user_id, "Chongzhi2026", "Xinmima2026")
    assert state["calls"] >= 10


def test_ensure_default_admin_on_an_empty_database_hashes_outside_the_transaction(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    writing = []
    real_write, real_hash = db.write, accounts_module.hash_password

    @contextmanager
    def watched_write() -> Iterator[Session]:
        with real_write() as session:
            writing.append(True)
            yield session
            writing.pop()

    def checked_hash(password: str) -> str:
        assert not writing
        return real_hash(password)

    monkeypatch.setattr(db, "write", watched_write)
    monkeypatch.setattr(accounts_module, "hash_password", checked_hash)
    assert AccountService(db).ensure_default_admin() is True


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


@pytest.mark.usefixtures("cheap_argon2")
def test_change_password_refusals(accounts: AccountService, db: Database) -> None:
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
    with db.write() as session:
        session.get(UserRow, admin.user_id).active = False  # type: ignore[union-attr]
    with pytest.raises(LoginError, match="已停用"):
        accounts.change_password(admin.user_id, DEFAULT_ADMIN_PASSWORD, "Chuangkou2026")


@pytest.mark.usefixtures("cheap_argon2")
def test_add_user_and_reset_password(accounts: AccountService, admin: ClerkSession) -> None:
    user = accounts.add_user(admin, " lisi ", " 李四 ", Role.AGENT, "daiban2026")
    assert (user.username, user.display_name, user.role, user.must_change_password) == (
        "lisi", "李四", Role.AGENT, True)
    with pytest.raises(PasswordPolicyError, match="用户名“lisi”已存在"):
        accounts.add_user(admin, "lisi", "另一个李四", Role.CLERK, "daiban2027")
    with pytest.raises(PasswordPolicyError, match="用户名应为2至64位"):
        accounts.add_user(admin, "李四", "李四", Role.CLERK, "daiban2027")
    with pytest.raises(PasswordPolicyError, match="请填写姓名"):
        accounts.add_user(admin, "lisi2", " ", Role.CLERK, "daiban2027")
    with pytest.raises(PasswordPolicyError, match="不能包含用户名"):
        accounts.add_user(admin, "lisi3", "李四", Role.CLERK, "lisi3abc123")

    session = accounts.login("lisi", "daiban2026")
    accounts.change_password(session.user_id, "daiban2026", "Xinmima2026")
    accounts.reset_password(admin, "lisi", "Chongzhi2026")
    again = accounts.login("lisi", "Chongzhi2026")
    assert again.must_change_password is True
    with pytest.raises(LoginError, match="没有用户“nobody”"):
        accounts.reset_password(admin, "nobody", "Chongzhi2026")
    assert [u.username for u in accounts.users()] == ["admin", "lisi"]


@pytest.mark.usefixtures("cheap_argon2")
def test_only_an_administrator_manages_users(accounts: AccountService,
                                             admin: ClerkSession) -> None:
    for role in (Role.CLERK, Role.AGENT, Role.SUPERVISOR):
        accounts.add_user(admin, f"u-{role}", "某人", role, "Chushi2026")
        first = accounts.login(f"u-{role}", "Chushi2026")
        user = accounts.change_password(first.user_id, "Chushi2026", "Xinmima2026")
        with pytest.raises(PermissionDenied, match="无权管理用户账号，须由系统管理员操作") as info:
            accounts.add_user(user, "newbie", "新人", Role.CLERK, "Chushi2026")
        assert isinstance(info.value, PermissionError)
        with pytest.raises(PermissionDenied, match="无权管理用户账号"):
            accounts.reset_password(user, "admin", "Chongzhi2026")
    assert "newbie" not in [u.username for u in accounts.users()]
    accounts.login("admin", ADMIN_PASSWORD)  # the admin's password was not reset


@pytest.mark.usefixtures("cheap_argon2")
def test_the_actor_is_checked_against_the_database(accounts: AccountService, db: Database,
                                                   admin: ClerkSession) -> None:
    # A session claiming to be an administrator is not enough: the stored role counts.
    clerk = accounts.add_user(admin, "qianjiu", "钱九", Role.CLERK, "Chushi2026")
    forged = ClerkSession(clerk.user_id, clerk.username, clerk.display_name, Role.ADMIN, False)
    with pytest.raises(PermissionDenied, match="窗口工作人员"):
        accounts.add_user(forged, "newbie", "新人", Role.CLERK, "Chushi2026")
    # An administrator still on an initial (or reset) password may not manage users.
    accounts.add_user(admin, "admin2", "管理员二", Role.ADMIN, "Chushi2026")
    admin2 = accounts.login("admin2", "Chushi2026")
    with pytest.raises(PermissionDenied, match="请先修改本账号的初始密码"):
        accounts.add_user(admin2, "newbie", "新人", Role.CLERK, "Chushi2026")
    # A disabled administrator's open session no longer works.
    with db.write() as session:
        session.get(UserRow, admin.user_id).active = False  # type: ignore[union-attr]
    with pytest.raises(PermissionDenied, match="已停用"):
        accounts.reset_password(admin, "qianjiu", "Chongzhi2026")
    assert "newbie" not in [u.username for u in accounts.users()]


@pytest.mark.usefixtures("cheap_argon2")
def test_an_administrator_cannot_reset_their_own_password(accounts: AccountService,
                                                          admin: ClerkSession) -> None:
    for name in ("admin", " admin "):
        with pytest.raises(PermissionDenied, match="请使用“修改密码”"):
            accounts.reset_password(admin, name, "Chongzhi2026")
    assert accounts.login("admin", ADMIN_PASSWORD).must_change_password is False


@pytest.mark.usefixtures("cheap_argon2")
def test_verify_operator_refuses_an_account_that_must_change_its_password(
        accounts: AccountService) -> None:
    with pytest.raises(LoginError, match="须先修改密码"):
        accounts.verify_operator("admin", DEFAULT_ADMIN_PASSWORD)
    with pytest.raises(LoginError, match="用户名或密码不正确"):
        accounts.verify_operator("admin", "wrong-password1")
    first = accounts.login("admin", DEFAULT_ADMIN_PASSWORD)
    accounts.change_password(first.user_id, DEFAULT_ADMIN_PASSWORD, ADMIN_PASSWORD)
    operator = accounts.verify_operator("admin", ADMIN_PASSWORD)
    assert (operator.username, operator.role) == ("admin", Role.ADMIN)


@pytest.mark.parametrize("stored", [
    "", "plain-text", "scrypt$x$8$1$AAAA$AAAA", "bcrypt$16384$8$1$AAAA$AAAA",
    "scrypt$16384$8$1$@@$@@", "$argon2id$v=19$m=65536,t=3,p=4$AAAA", "$argon2id$garbage",
    "$argon2id$v=19$m=65536,t=3,p=4$CnsDfUxWBYmQvPALF1RQmA$AAAA"])
def test_a_damaged_hash_never_verifies(stored: str) -> None:
    assert verify_password("123456", stored) is False
    assert needs_rehash(stored) is True


def test_the_permission_table() -> None:
    from app.services.permissions import ALLOWED_ROLES, Action, allowed, require

    table = {action: {role for role in Role if allowed(role, action)} for action in Action}
    everyone = set(Role)
    assert table == {
        Action.MANAGE_USERS: {Role.ADMIN},
        Action.IMPORT_REFERENCE: {Role.ADMIN, Role.SUPERVISOR},
        Action.WRITE_CASES: everyone,
        Action.PRINT_CASE_DOCUMENTS: everyone,
        Action.BACKUP: {Role.ADMIN, Role.SUPERVISOR},
        Action.RESTORE: {Role.ADMIN},
        Action.FOLLOW_UP_RATINGS: {Role.ADMIN, Role.SUPERVISOR},
    }
    assert set(ALLOWED_ROLES) == set(Action)
    require("supervisor", Action.BACKUP)  # plain strings work too
    with pytest.raises(PermissionDenied) as info:
        require(Role.SUPERVISOR, Action.RESTORE)
    assert str(info.value) == "当前账号（值班长）无权恢复或修复数据，须由系统管理员操作。"
    assert (info.value.action, info.value.role) == (Action.RESTORE, Role.SUPERVISOR)
    with pytest.raises(PermissionDenied, match="须由系统管理员或值班长操作"):
        require(Role.CLERK, Action.IMPORT_REFERENCE)
    with pytest.raises(PermissionDenied, match="未知角色“root”"):
        require("root", Action.WRITE_CASES)
    assert not allowed("", Action.WRITE_CASES)
