"""Clerk accounts: password hashing, login and its lock-out, the default administrator,
password changes, and user management (checked against :mod:`app.services.permissions`).

Passwords are hashed with Argon2id (argon2-cffi's defaults, the RFC 9106 low-memory
profile), so a clerk can log in offline against the local copy. Hashes from earlier
versions (``scrypt$…``) still verify and are replaced by Argon2id at the next successful
login, as are Argon2 hashes whose parameters are below the current ones.

Hashing is deliberately slow, so it never runs inside ``Database.write()`` (which holds
the single write lock): a login reads the account in a read session, verifies outside any
transaction, then records the outcome in a short write transaction.

Failed attempts are counted per typed user name in ``login_attempts``, for names that do
not exist exactly as for those that do, and an unknown (or disabled) name is verified
against a dummy Argon2 hash: the answer and its timing do not tell whether an account
exists. Five failures lock the name for five minutes, timed on the machine's monotonic
clock (see :func:`system_monotonic`), so setting the date neither extends nor lifts a lock.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import math
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.errors import UserError
from app.services.permissions import ROLE_NAMES as ROLE_NAMES
from app.services.permissions import Action, PermissionDenied, require
from app.services.permissions import Role as Role
from app.storage.db import Database
from app.storage.models import LoginAttempt, UserRow

DEFAULT_ADMIN = "admin"
DEFAULT_ADMIN_PASSWORD = "123456"  # forced change at first login (see README)
MAX_FAILED_LOGINS = 5
LOCK_MINUTES = 5
LOCK_SECONDS = LOCK_MINUTES * 60
USERNAME_MAX = 64  # login_attempts.username / users.username
_WEAK = {"12345678", "123456789", "password", "password1", "qwerty123", "11111111",
         "88888888", "abc12345", "a1234567", "admin123", "admin1234"}

_HASHER = PasswordHasher()  # argon2-cffi defaults: RFC 9106 low-memory (t=3, 64 MiB, p=4)
# Verified against for unknown and disabled names so they take as long as a real account.
# Made with the defaults above; a test checks it still matches them after an upgrade.
_DUMMY_HASH = ("$argon2id$v=19$m=65536,t=3,p=4$CnsDfUxWBYmQvPALF1RQmA$"
               "TMANnMND3DkbwbEDvbU8E+t4oge+82m14tqbE9D5bKQ")
_BOOT_ID_FILE = Path("/proc/sys/kernel/random/boot_id")

WRONG_CREDENTIALS = "用户名或密码不正确。"
_INACTIVE_ACTOR = "当前账号已停用或已不存在，请重新登录。"
_OWN_PASSWORD = "不能用“重置密码”修改自己的密码，请使用“修改密码”（需输入原密码）。"


class LoginError(UserError):
    """Login refused; the message is shown to the clerk as is."""


class PasswordPolicyError(UserError, ValueError):
    """A new password that does not meet the policy; message in Chinese."""


@dataclass(frozen=True, slots=True)
class ClerkSession:
    """Who is logged in at this window; plain data handed to the UI."""

    user_id: str
    username: str
    display_name: str
    role: Role
    must_change_password: bool


# ---- hashing ---------------------------------------------------------------------------


def hash_password(password: str) -> str:
    """An Argon2id hash (PHC string) with the current parameters."""
    return _HASHER.hash(password)


def _verify_scrypt(password: str, stored: str) -> bool:
    """Hashes written before Argon2: ``scrypt$N$r$p$salt$digest`` (base64)."""
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


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (Argon2 or a legacy scrypt hash)."""
    if stored.startswith("scrypt$"):
        return _verify_scrypt(password, stored)
    if not stored.startswith("$argon2"):
        return False
    try:
        return _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError, ValueError):
        return False


def check_nobody(password: str) -> None:
    """Spend a real password check's time on a name that has no (active) account, so
    the answer's timing does not tell which names exist (the server uses it too)."""
    verify_password(password, _DUMMY_HASH)


def needs_rehash(stored: str) -> bool:
    """True for legacy scrypt hashes and Argon2 hashes weaker than the current parameters."""
    if not stored.startswith("$argon2"):
        return True
    try:
        return _HASHER.check_needs_rehash(stored)
    except (InvalidHashError, ValueError):
        return True


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


# ---- clocks ----------------------------------------------------------------------------


def utc_now() -> dt.datetime:
    """Wall clock, naive UTC (as stored)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def system_monotonic() -> float:
    """Seconds on a clock that setting the date does not move, the same for every process.

    Linux: ``CLOCK_BOOTTIME`` (time since boot, including suspend), paired with the
    kernel's boot id (:func:`system_boot_id`). Elsewhere (Windows, macOS) the fallback is
    ``time.monotonic()``, also system-wide since boot (macOS: not counting sleep), with a
    boot id of ``""``: a reboot is then recognised only when this clock reads less than
    when the lock was set, and either way a lock never lasts more than its length.
    """
    clock_id = getattr(time, "CLOCK_BOOTTIME", None)
    if clock_id is not None:
        try:
            return float(time.clock_gettime(clock_id))
        except OSError:
            pass
    return time.monotonic()


def system_boot_id() -> str:
    """The kernel's id of this boot on Linux; ``""`` where there is none (see above)."""
    try:
        return _BOOT_ID_FILE.read_text(encoding="ascii").strip()[:64]
    except (OSError, UnicodeError):
        return ""


@dataclass(frozen=True, slots=True)
class _Instant:
    wall: dt.datetime
    mono: float
    boot: str


def _lock_left(row: LoginAttempt | None, now: _Instant) -> tuple[float, bool]:
    """Seconds the name stays locked (0: not locked), and whether that was timed on this
    boot's monotonic clock (False: it must be re-anchored to it).

    Within the boot that set the lock only the monotonic clock counts. After a reboot the
    wall clock is all there is, but the answer is clamped to the lock length, and a wall
    clock earlier than the lock counts as a lock just set.
    """
    if row is None or (row.locked_wall is None and row.locked_mono is None):
        return 0.0, True
    if row.locked_mono is not None and row.boot_id == now.boot:
        elapsed = now.mono - row.locked_mono
        if elapsed >= 0:
            return max(0.0, LOCK_SECONDS - elapsed), True
        # The clock went back: a reboot that the (missing) boot id did not show.
    if row.locked_wall is None:
        return float(LOCK_SECONDS), False
    elapsed = (now.wall - row.locked_wall).total_seconds()
    return min(float(LOCK_SECONDS), max(0.0, LOCK_SECONDS - max(0.0, elapsed))), False


def _locked_error(left: float) -> LoginError:
    minutes = min(LOCK_MINUTES, max(1, math.ceil(left / 60)))
    return LoginError(f"密码连续输错{MAX_FAILED_LOGINS}次，账号已锁定，"
                      f"请{minutes}分钟后再试或联系管理员。")


def _attempt_key(username: str) -> str:
    return username.strip()[:USERNAME_MAX]


def _session(row: UserRow) -> ClerkSession:
    return ClerkSession(row.id, row.username, row.display_name, Role(row.role),
                        row.must_change_password)


def _user_named(session: Session, username: str) -> UserRow | None:
    return session.scalars(select(UserRow).where(UserRow.username == username)).first()


class AccountService:
    """Accounts in one database. ``clock``, ``mono`` and ``boot_id`` are the wall clock
    (naive UTC), the system-wide monotonic clock and the boot id; tests replace them."""

    def __init__(self, db: Database, *, clock: Callable[[], dt.datetime] = utc_now,
                 mono: Callable[[], float] = system_monotonic,
                 boot_id: Callable[[], str] = system_boot_id) -> None:
        self._db = db
        self._clock = clock
        self._mono = mono
        self._boot_id = boot_id

    def _instant(self) -> _Instant:
        return _Instant(self._clock(), self._mono(), self._boot_id())

    def ensure_default_admin(self) -> bool:
        """Create ``admin`` with the initial password if there are no users at all."""
        return self._first_admin(DEFAULT_ADMIN_PASSWORD, must_change=True) is not None

    def create_first_admin(self, password: str) -> ClerkSession:
        """Create ``admin`` with a password chosen now (it meets the policy, so need not be
        changed), for a database that has no accounts at all (e.g. after a recovery).

        Raises :class:`PermissionDenied` if any account exists.
        """
        check_password_policy(DEFAULT_ADMIN, password)
        created = self._first_admin(password, must_change=False)
        if created is None:
            raise PermissionDenied("数据库中已有账号，不能再创建初始管理员；请由现有管理员操作。",
                                   action=Action.MANAGE_USERS)
        return created

    def _first_admin(self, password: str, *, must_change: bool) -> ClerkSession | None:
        with self._db.read() as session:
            if session.scalar(select(func.count()).select_from(UserRow)):
                return None
        password_hash = hash_password(password)
        with self._db.write() as session:
            if session.scalar(select(func.count()).select_from(UserRow)):
                return None
            row = UserRow(
                id=str(uuid.uuid4()), username=DEFAULT_ADMIN, display_name="系统管理员",
                role=str(Role.ADMIN), password_hash=password_hash,
                must_change_password=must_change, active=True, created_at=utc_now())
            session.add(row)
            if (stale := session.get(LoginAttempt, DEFAULT_ADMIN)) is not None:
                session.delete(stale)
            return _session(row)

    # -- login --

    def login(self, username: str, password: str) -> ClerkSession:
        """Check the password; unknown, disabled and wrong all answer alike.

        Raises :class:`LoginError` with the message to show.
        """
        typed = username.strip()
        key = _attempt_key(typed)
        if not key or not password:
            raise LoginError("请输入用户名和密码。")
        with self._db.read() as session:
            user = _user_named(session, typed)
            attempt = session.get(LoginAttempt, key)
            stored = user.password_hash if user is not None and user.active else None
            user_id = user.id if user is not None else None
            left, anchored = _lock_left(attempt, self._instant())
        if left > 0:
            if not anchored:
                self._reanchor(key)
            raise _locked_error(left)
        # Outside any transaction: this is the slow part.
        matches = verify_password(password, stored if stored is not None else _DUMMY_HASH)
        ok = matches and stored is not None and user_id is not None
        new_hash = hash_password(password) if ok and stored and needs_rehash(stored) else None
        return self._record(key, user_id if ok else None, stored, new_hash)

    def verify_operator(self, username: str, password: str) -> ClerkSession:
        """As :meth:`login`, for commands run on someone's authority (the CLI): an account
        that still has to change its password is refused until it has done so."""
        session = self.login(username, password)
        if session.must_change_password:
            raise LoginError(f"账号“{session.username}”须先修改密码（初始密码或管理员重置的"
                             "密码不能用于操作），请先登录窗口修改密码后再试。")
        return session

    def _reanchor(self, key: str) -> None:
        """A lock from an earlier boot: carry what is left of it onto this boot's clock."""
        with self._db.write() as session:
            attempt = session.get(LoginAttempt, key)
            now = self._instant()
            left, anchored = _lock_left(attempt, now)
            if attempt is None or anchored or left <= 0:
                return
            served = LOCK_SECONDS - left
            attempt.locked_mono = now.mono - served
            attempt.locked_wall = now.wall - dt.timedelta(seconds=served)
            attempt.boot_id = now.boot

    def _record(self, key: str, user_id: str | None, verified_hash: str | None,
                new_hash: str | None) -> ClerkSession:
        """The short write transaction after verification: ``user_id`` is set only when
        the password matched. Clears the name's failures on success, counts one otherwise."""
        with self._db.write() as session:
            now = self._instant()
            attempt = session.get(LoginAttempt, key)
            left, _ = _lock_left(attempt, now)
            if left > 0:  # locked meanwhile by another attempt at this name
                failure = _locked_error(left)
            else:
                row = session.get(UserRow, user_id) if user_id is not None else None
                if row is not None and row.active:
                    if attempt is not None:
                        session.delete(attempt)
                    # Upgrade the hash unless it was changed since it was read.
                    if new_hash is not None and row.password_hash == verified_hash:
                        row.password_hash = new_hash
                    return _session(row)
                failure = self._count_failure(session, attempt, key, now)
            # The count must be saved, so the error is raised after the commit.
        raise failure

    @staticmethod
    def _count_failure(session: Session, attempt: LoginAttempt | None, key: str,
                       now: _Instant) -> LoginError:
        if attempt is None:
            attempt = LoginAttempt(username=key, failures=0, boot_id="")
            session.add(attempt)
        attempt.locked_wall = attempt.locked_mono = None  # an expired lock
        attempt.failures += 1
        attempt.last_failure = now.wall
        if attempt.failures >= MAX_FAILED_LOGINS:
            attempt.failures = 0
            attempt.locked_wall, attempt.locked_mono, attempt.boot_id = now.wall, now.mono, now.boot
            return LoginError(f"密码连续输错{MAX_FAILED_LOGINS}次，账号锁定{LOCK_MINUTES}分钟。")
        left = MAX_FAILED_LOGINS - attempt.failures
        return LoginError(f"用户名或密码不正确（还可尝试{left}次）。")

    # -- passwords and users --

    def change_password(self, user_id: str, old: str, new: str) -> ClerkSession:
        """The user's own change: needs the old password."""
        with self._db.read() as session:
            row = session.get(UserRow, user_id)
            if row is None or not row.active:
                raise LoginError("账号不存在或已停用。")
            stored, username = row.password_hash, row.username
        if not verify_password(old, stored):
            raise PasswordPolicyError("原密码不正确。")
        if old == new:
            raise PasswordPolicyError("新密码不能与原密码相同。")
        check_password_policy(username, new)
        new_hash = hash_password(new)
        with self._db.write() as session:
            row = session.get(UserRow, user_id)
            if row is None or not row.active:
                raise LoginError("账号不存在或已停用。")
            if row.password_hash != stored:
                raise PasswordPolicyError("密码刚刚已被修改，请重新登录后再试。")
            row.password_hash = new_hash
            row.must_change_password = False
            row.password_changed_at = utc_now()
            return _session(row)

    @staticmethod
    def _check_actor(session: Session, actor: ClerkSession, action: Action) -> None:
        """The actor as the database has it now: still active, role allowed, and not
        still on an initial or reset password."""
        row = session.get(UserRow, actor.user_id)
        if row is None or not row.active or row.username != actor.username:
            raise PermissionDenied(_INACTIVE_ACTOR, action=action, role=actor.role)
        require(row.role, action)
        if row.must_change_password:
            raise PermissionDenied("请先修改本账号的初始密码，再进行此操作。",
                                   action=action, role=row.role)

    def add_user(self, actor: ClerkSession, username: str, display_name: str, role: Role,
                 initial_password: str) -> ClerkSession:
        """Create an account (administrators only); the user must change the password at
        first login."""
        require(actor.role, Action.MANAGE_USERS)
        username = username.strip()
        if not re.fullmatch(r"[A-Za-z0-9_.\-]{2,64}", username):
            raise PasswordPolicyError("用户名应为2至64位字母、数字、下划线、点或短横线。")
        if not display_name.strip():
            raise PasswordPolicyError("请填写姓名。")
        role = Role(role)
        check_password_policy(username, initial_password)
        with self._db.read() as session:
            if _user_named(session, username) is not None:
                raise PasswordPolicyError(f"用户名“{username}”已存在。")
        password_hash = hash_password(initial_password)
        with self._db.write() as session:
            self._check_actor(session, actor, Action.MANAGE_USERS)
            if _user_named(session, username) is not None:
                raise PasswordPolicyError(f"用户名“{username}”已存在。")
            row = UserRow(id=str(uuid.uuid4()), username=username,
                          display_name=display_name.strip(), role=str(role),
                          password_hash=password_hash, must_change_password=True,
                          active=True, created_at=utc_now())
            session.add(row)
            # Failures typed at this name before it existed are not the new user's.
            if (stale := session.get(LoginAttempt, _attempt_key(username))) is not None:
                session.delete(stale)
            return _session(row)

    def reset_password(self, actor: ClerkSession, username: str, new_password: str) -> None:
        """Administrator reset: sets a password the user must change, and lifts a lock.

        Not for the administrator's own account: that takes the old password
        (:meth:`change_password`).
        """
        require(actor.role, Action.MANAGE_USERS)
        username = username.strip()
        if username == actor.username:
            raise PermissionDenied(_OWN_PASSWORD, action=Action.MANAGE_USERS, role=actor.role)
        check_password_policy(username, new_password)
        new_hash = hash_password(new_password)
        with self._db.write() as session:
            self._check_actor(session, actor, Action.MANAGE_USERS)
            row = _user_named(session, username)
            if row is None:
                raise LoginError(f"没有用户“{username}”。")
            if row.id == actor.user_id:
                raise PermissionDenied(_OWN_PASSWORD, action=Action.MANAGE_USERS,
                                       role=actor.role)
            row.password_hash = new_hash
            row.must_change_password = True
            if (attempt := session.get(LoginAttempt, _attempt_key(username))) is not None:
                session.delete(attempt)

    def users(self) -> list[ClerkSession]:
        with self._db.read() as session:
            return [_session(r) for r in session.scalars(select(UserRow).order_by(UserRow.username))]
