"""Clerk accounts: password hashing, login, the default administrator, password changes.

Passwords are stored as scrypt hashes (memory-hard, in the standard library), so a clerk
can log in offline against the local copy. Five wrong passwords lock the account for a
few minutes.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import func, select

from app.storage.db import Database
from app.storage.models import UserRow

DEFAULT_ADMIN = "admin"
DEFAULT_ADMIN_PASSWORD = "123456"  # forced change at first login (see README)
MAX_FAILED_LOGINS = 5
LOCK_MINUTES = 5
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
_WEAK = {"12345678", "123456789", "password", "password1", "qwerty123", "11111111",
         "88888888", "abc12345", "a1234567", "admin123", "admin1234"}


class Role(StrEnum):
    CLERK = "clerk"          # 窗口工作人员
    AGENT = "agent"          # 代办员
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


ROLE_NAMES = {Role.CLERK: "窗口工作人员", Role.AGENT: "代办员", Role.SUPERVISOR: "值班长",
              Role.ADMIN: "系统管理员"}


class LoginError(Exception):
    """Login refused; the message is shown to the clerk as is."""


class PasswordPolicyError(ValueError):
    """A new password that does not meet the policy; message in Chinese."""


@dataclass(frozen=True, slots=True)
class ClerkSession:
    """Who is logged in at this window; plain data handed to the UI."""

    user_id: str
    username: str
    display_name: str
    role: Role
    must_change_password: bool


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R,
                            p=_SCRYPT_P, dklen=32)
    b64 = base64.b64encode
    return (f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}$"
            f"{b64(salt).decode()}${b64(digest).decode()}")


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt_b64, digest_b64 = stored.split("$")
        if scheme != "scrypt":
            return False
        salt, expected = base64.b64decode(salt_b64), base64.b64decode(digest_b64)
        actual = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=int(n), r=int(r),
                                p=int(p), dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def check_password_policy(username: str, password: str) -> None:
    if len(password) < 8:
        raise PasswordPolicyError("新密码至少8位。")
    if len(password) > 64:
        raise PasswordPolicyError("新密码不能超过64位。")
    if not re.search(r"[A-Za-z]", password) or not re.search(r"\d", password):
        raise PasswordPolicyError("新密码必须同时包含字母和数字。")
    if password.lower() == username.lower() or username.lower() in password.lower():
        raise PasswordPolicyError("新密码不能包含用户名。")
    if password.lower() in _WEAK:
        raise PasswordPolicyError("新密码过于简单，请换一个。")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _session(row: UserRow) -> ClerkSession:
    return ClerkSession(row.id, row.username, row.display_name, Role(row.role),
                        row.must_change_password)


class AccountService:
    def __init__(self, db: Database) -> None:
        self._db = db

    def ensure_default_admin(self) -> bool:
        """Create ``admin`` with the initial password if there are no users at all."""
        with self._db.write() as session:
            if session.scalar(select(func.count()).select_from(UserRow)):
                return False
            session.add(UserRow(
                id=str(uuid.uuid4()), username=DEFAULT_ADMIN, display_name="系统管理员",
                role=str(Role.ADMIN), password_hash=hash_password(DEFAULT_ADMIN_PASSWORD),
                must_change_password=True, active=True, failed_logins=0,
                created_at=_now()))
        return True

    def login(self, username: str, password: str) -> ClerkSession:
        username = username.strip()
        if not username or not password:
            raise LoginError("请输入用户名和密码。")
        with self._db.write() as session:
            row = session.scalars(select(UserRow).where(UserRow.username == username)).first()
            if row is None or not row.active:
                # Same wording for unknown and wrong: do not reveal which accounts exist.
                raise LoginError("用户名或密码不正确。")
            now = _now()
            if row.locked_until is not None and row.locked_until > now:
                minutes = max(1, int((row.locked_until - now).total_seconds() // 60) + 1)
                raise LoginError(f"密码连续输错{MAX_FAILED_LOGINS}次，账号已锁定，"
                                 f"请{minutes}分钟后再试或联系管理员。")
            if not verify_password(password, row.password_hash):
                row.failed_logins += 1
                if row.failed_logins >= MAX_FAILED_LOGINS:
                    row.locked_until = now + dt.timedelta(minutes=LOCK_MINUTES)
                    row.failed_logins = 0
                    failure = LoginError(f"密码连续输错{MAX_FAILED_LOGINS}次，"
                                         f"账号锁定{LOCK_MINUTES}分钟。")
                else:
                    left = MAX_FAILED_LOGINS - row.failed_logins
                    failure = LoginError(f"用户名或密码不正确（还可尝试{left}次）。")
                # The counter must be saved, so the error is raised after the commit.
            else:
                row.failed_logins = 0
                row.locked_until = None
                return _session(row)
        raise failure

    def change_password(self, user_id: str, old: str, new: str) -> ClerkSession:
        with self._db.write() as session:
            row = session.get(UserRow, user_id)
            if row is None or not row.active:
                raise LoginError("账号不存在或已停用。")
            if not verify_password(old, row.password_hash):
                raise PasswordPolicyError("原密码不正确。")
            if old == new:
                raise PasswordPolicyError("新密码不能与原密码相同。")
            check_password_policy(row.username, new)
            row.password_hash = hash_password(new)
            row.must_change_password = False
            row.password_changed_at = _now()
            return _session(row)

    def add_user(self, username: str, display_name: str, role: Role,
                 initial_password: str) -> ClerkSession:
        """Create an account; the user must change the password at first login."""
        username = username.strip()
        if not re.fullmatch(r"[A-Za-z0-9_.\-]{2,64}", username):
            raise PasswordPolicyError("用户名应为2至64位字母、数字、下划线、点或短横线。")
        if not display_name.strip():
            raise PasswordPolicyError("请填写姓名。")
        check_password_policy(username, initial_password)
        with self._db.write() as session:
            if session.scalars(select(UserRow).where(UserRow.username == username)).first():
                raise PasswordPolicyError(f"用户名“{username}”已存在。")
            row = UserRow(id=str(uuid.uuid4()), username=username,
                          display_name=display_name.strip(), role=str(role),
                          password_hash=hash_password(initial_password),
                          must_change_password=True, active=True, failed_logins=0,
                          created_at=_now())
            session.add(row)
            return _session(row)

    def reset_password(self, username: str, new_password: str) -> None:
        """Administrator reset (from the CLI): sets a password that must be changed."""
        check_password_policy(username, new_password)
        with self._db.write() as session:
            row = session.scalars(select(UserRow).where(UserRow.username == username)).first()
            if row is None:
                raise LoginError(f"没有用户“{username}”。")
            row.password_hash = hash_password(new_password)
            row.must_change_password = True
            row.failed_logins = 0
            row.locked_until = None

    def users(self) -> list[ClerkSession]:
        with self._db.read() as session:
            return [_session(r) for r in session.scalars(select(UserRow).order_by(UserRow.username))]
