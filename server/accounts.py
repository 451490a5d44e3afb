"""Sites, users and devices on the server: initialisation, device registration, login and
refresh. Every refusal is an :class:`ApiError` with its HTTP status, a stable code and a
Chinese message; the API layer only turns it into JSON.

Passwords use the client's own Argon2id hashing (``app.services.accounts``): the hash a
login returns lets the client verify that clerk offline later, with the same code.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select, text
from sqlalchemy.orm import Session

from app.domain.numbering import CaseNumberError, check_site_code
from app.services.accounts import (
    LOCK_MINUTES,
    MAX_FAILED_LOGINS,
    PasswordPolicyError,
    check_nobody,
    check_password_policy,
    hash_password,
    verify_password,
)
from server.models import DeviceRow, RefreshTokenRow, SiteRow, UserRow
from server.tokens import (
    ACCESS_MINUTES,
    REFRESH_DAYS,
    AccessClaims,
    digest,
    issue_access,
    signing_key,
)

ROLES = ("clerk", "agent", "supervisor", "admin")
LEVELS = ("县级", "乡镇", "村")
# How long a clerk may log in at a terminal without the server after an online login.
OFFLINE_GRACE_DAYS = 7
WRONG_CREDENTIALS = "用户名或密码不正确。"


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(at: dt.datetime) -> dt.datetime:
    """SQLite gives naive datetimes back for timezone-aware columns: they are UTC."""
    return at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)


def _has_control(text: str) -> bool:
    """C0/C1 control characters and DEL: never in a name or a password (the API refuses
    them too, server/api/schemas.py; PostgreSQL cannot store U+0000)."""
    return any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in text)


# ---- set-up -------------------------------------------------------------------------


def create_site(session: Session, code: str, name: str, level: str) -> SiteRow:
    try:
        check_site_code(code)
    except CaseNumberError as exc:
        raise ApiError(422, "bad_site_code", str(exc)) from None
    if level not in LEVELS:
        raise ApiError(422, "bad_site_level", f"站点级别应为{'、'.join(LEVELS)}之一。")
    if not name.strip() or len(name) > 100 or _has_control(name):
        raise ApiError(422, "bad_site_name", "站点名称应为1至100个字。")
    if session.get(SiteRow, code) is not None:
        raise ApiError(409, "site_exists", f"站点编码 {code} 已存在。")
    site = SiteRow(code=code, name=name.strip(), level=level, next_terminal=1)
    session.add(site)
    session.flush()
    return site


def create_user(session: Session, username: str, display_name: str, role: str,
                site_code: str, password: str) -> UserRow:
    username = username.strip()
    if role not in ROLES:
        raise ApiError(422, "bad_role", f"角色应为{'、'.join(ROLES)}之一。")
    if session.get(SiteRow, site_code) is None:
        raise ApiError(422, "unknown_site", f"没有站点 {site_code}。")
    if not username or len(username) > 64 or not display_name.strip() \
            or len(display_name.strip()) > 64:
        raise ApiError(422, "bad_username", "用户名和姓名不能为空，最多64个字符。")
    if any(map(_has_control, (username, display_name, password))):
        raise ApiError(422, "bad_username", "用户名、姓名和密码不能含控制字符。")
    try:
        check_password_policy(username, password)
    except PasswordPolicyError as exc:
        raise ApiError(422, "weak_password", str(exc)) from None
    if session.scalars(select(UserRow).where(UserRow.username == username)).first():
        raise ApiError(409, "user_exists", f"用户名 {username} 已存在。")
    user = UserRow(id=str(uuid.uuid4()), username=username, display_name=display_name.strip(),
                   role=role, site_code=site_code, password_hash=hash_password(password),
                   active=True, failed_logins=0, locked_until=None, created_at=utc_now())
    session.add(user)
    session.flush()
    return user


# ---- passwords with a lock-out ------------------------------------------------------


def checked_user(session: Session, username: str, password: str, now: dt.datetime
                  ) -> UserRow:
    """The user if ``password`` is right; counts failures and locks out after
    MAX_FAILED_LOGINS for LOCK_MINUTES (kept in the database: every process sees it).

    The user's row is read FOR UPDATE: parallel guesses at one account (across server
    processes on PostgreSQL) take turns on it, so each failure is counted and the lock-out
    comes after exactly MAX_FAILED_LOGINS of them. On SQLite the write transaction
    (BEGIN IMMEDIATE) already gives the same turn-taking."""
    user = session.scalars(select(UserRow).where(UserRow.username == username.strip())
                           .with_for_update()).first()
    if user is None or not user.active:
        check_nobody(password)   # the same time as a real check
        raise ApiError(401, "wrong_credentials", WRONG_CREDENTIALS)
    if user.locked_until is not None and _aware(user.locked_until) > now:
        left = int((_aware(user.locked_until) - now).total_seconds()) + 1
        raise ApiError(429, "locked", f"密码错误次数过多，请{(left + 59) // 60}分钟后再试。",
                       {"Retry-After": str(left)})
    if not verify_password(password, user.password_hash):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.failed_logins = 0
            user.locked_until = now + dt.timedelta(minutes=LOCK_MINUTES)
        raise ApiError(401, "wrong_credentials", WRONG_CREDENTIALS)
    user.failed_logins, user.locked_until = 0, None
    return user


# ---- devices ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Registration:
    device_id: str
    site_code: str
    site_name: str
    terminal: str
    device_token: str      # shown once; the server keeps only its hash


def register_device(session: Session, username: str, password: str, name: str,
                    now: dt.datetime) -> Registration:
    """A supervisor or administrator registers a PC for their site: the next terminal
    number (01–99) and a device token."""
    user = checked_user(session, username, password, now)
    if user.role not in ("supervisor", "admin"):
        raise ApiError(403, "not_allowed", "只有值班长或管理员可以登记终端。")
    name = name.strip()
    if not name or len(name) > 64:
        raise ApiError(422, "bad_device_name", "终端名称应为1至64个字。")
    site = session.get(SiteRow, user.site_code, with_for_update=True)
    assert site is not None
    if site.next_terminal > 99:
        raise ApiError(409, "no_terminal_left", f"站点 {site.code} 的终端号01至99已用完。")
    terminal = f"{site.next_terminal:02d}"
    site.next_terminal += 1
    token = secrets.token_urlsafe(32)
    device = DeviceRow(id=str(uuid.uuid4()), site_code=site.code, terminal=terminal, name=name,
                       token_hash=digest(token), registered_by=user.id, registered_at=now,
                       revoked_at=None)
    session.add(device)
    session.flush()
    return Registration(device.id, site.code, site.name, terminal, token)


def device_of(session: Session, device_token: str) -> DeviceRow:
    device = session.scalars(select(DeviceRow).where(
        DeviceRow.token_hash == digest(device_token))).first()
    if device is None:
        raise ApiError(401, "unknown_device", "终端未登记或终端令牌无效，请重新登记终端。")
    if device.revoked_at is not None:
        raise ApiError(403, "device_revoked", "此终端已被停用，请联系管理员。")
    return device


def revoke_device(session: Session, device_id: str, now: dt.datetime) -> DeviceRow:
    """Stop a PC for good: its device token, refresh tokens and access tokens are refused
    from the next request on (check_session). A revoked terminal number is never given
    again (case numbers carry it). Revoking twice keeps the first time."""
    device = session.get(DeviceRow, device_id.strip(), with_for_update=True)
    if device is None:
        raise ApiError(404, "unknown_device", f"没有编号为 {device_id} 的终端。")
    device.revoked_at = device.revoked_at or now
    return device


def devices(session: Session, site_code: str | None = None) -> list[DeviceRow]:
    """The registered PCs (of one site, or all), by site and terminal number."""
    query = select(DeviceRow).order_by(DeviceRow.site_code, DeviceRow.terminal)
    if site_code is not None:
        query = query.where(DeviceRow.site_code == site_code)
    return list(session.scalars(query))


# ---- administering users ------------------------------------------------------------


def user_named(session: Session, username: str) -> UserRow:
    user = session.scalars(select(UserRow).where(UserRow.username == username.strip())
                           .with_for_update()).first()
    if user is None:
        raise ApiError(404, "unknown_user", f"没有用户 {username.strip()}。")
    return user


def _keep_an_admin(session: Session, user: UserRow) -> None:
    """Someone must remain who can administer the county: the last active administrator
    is neither disabled nor given another role."""
    if user.role != "admin" or not user.active:
        return
    others = session.scalars(select(UserRow.id).where(
        UserRow.role == "admin", UserRow.active.is_(True), UserRow.id != user.id)).first()
    if others is None:
        raise ApiError(409, "last_admin", f"{user.username} 是唯一启用的管理员，不能停用或改为其他角色："
                                          "请先添加另一位管理员。")


def set_user_active(session: Session, username: str, active: bool) -> UserRow:
    """Disable (refused at login, refresh and every request at once) or enable a user.
    Enabling also lifts a lock-out: the administrator has just vouched for the account."""
    user = user_named(session, username)
    if not active:
        _keep_an_admin(session, user)
    user.active = active
    if active:
        user.failed_logins, user.locked_until = 0, None
    return user


def set_user_role(session: Session, username: str, role: str) -> UserRow:
    """A new role: the user's access tokens carrying the old one are refused at once
    (check_session); a refresh gives a token with the new role."""
    if role not in ROLES:
        raise ApiError(422, "bad_role", f"角色应为{'、'.join(ROLES)}之一。")
    user = user_named(session, username)
    if role != "admin":
        _keep_an_admin(session, user)
    user.role = role
    return user


# ---- login and refresh --------------------------------------------------------------


def _tokens(session: Session, user: UserRow, device: DeviceRow, now: dt.datetime,
            family: str) -> dict[str, Any]:
    refresh = secrets.token_urlsafe(32)
    session.add(RefreshTokenRow(
        id=str(uuid.uuid4()), family=family, user_id=user.id, device_id=device.id,
        token_hash=digest(refresh), expires_at=now + dt.timedelta(days=REFRESH_DAYS),
        used_at=None, revoked_at=None))
    claims = AccessClaims(user.id, user.role, user.site_code, device.id)
    return {"access_token": issue_access(signing_key(session), claims, now),
            "token_type": "bearer", "expires_in": ACCESS_MINUTES * 60,
            "refresh_token": refresh}


def login(session: Session, device_token: str, username: str, password: str,
          now: dt.datetime) -> dict[str, Any]:
    device = device_of(session, device_token)
    user = checked_user(session, username, password, now)
    if user.site_code != device.site_code:
        raise ApiError(403, "other_site", "该账号不属于本终端所在的站点。")
    answer = _tokens(session, user, device, now, family=str(uuid.uuid4()))
    answer["user"] = {"id": user.id, "username": user.username,
                      "display_name": user.display_name, "role": user.role,
                      "site": user.site_code}
    # What the terminal needs to let this clerk in without the server for a while.
    answer["offline"] = {"password_hash": user.password_hash,
                         "valid_until": (now + dt.timedelta(days=OFFLINE_GRACE_DAYS)
                                         ).isoformat()}
    return answer


def refresh(session: Session, device_token: str, refresh_token: str,
            now: dt.datetime) -> dict[str, Any]:
    device = device_of(session, device_token)
    row = session.scalars(select(RefreshTokenRow).where(
        RefreshTokenRow.token_hash == digest(refresh_token)).with_for_update()).first()
    if row is None or row.device_id != device.id:
        raise ApiError(401, "refresh_invalid", "刷新令牌无效，请重新登录。")
    if row.used_at is not None or row.revoked_at is not None:
        # Used before: a copy is being replayed. Nobody keeps this family.
        for other in session.scalars(select(RefreshTokenRow).where(
                RefreshTokenRow.family == row.family)):
            other.revoked_at = other.revoked_at or now
        raise ApiError(401, "refresh_replayed", "刷新令牌已使用过（可能被复制），请重新登录。")
    if _aware(row.expires_at) <= now:
        raise ApiError(401, "refresh_expired", "登录已过期，请重新登录。")
    user = session.get(UserRow, row.user_id)
    if user is None or not user.active:
        raise ApiError(401, "user_inactive", "账号已停用。")
    row.used_at = now
    return _tokens(session, user, device, now, family=row.family)


# Every request's check, one statement: the device and the user by their keys (a left
# join from one row, so a missing device or user reads as NULLs, not as no row).
_STANDING = text("SELECT d.id, d.revoked_at, u.active, u.role FROM (SELECT 1 AS one) AS here "
                 "LEFT JOIN devices AS d ON d.id = :device "
                 "LEFT JOIN users AS u ON u.id = :user")


def check_session(conn: Connection, claims: AccessClaims) -> None:
    """An access token is only as good as its user and device are now: a revoked device
    or a disabled account is refused at once, not when the token expires. Every request
    passes here, so it is one prebuilt statement on a Core connection, not ORM loads."""
    device, revoked_at, active, role = conn.execute(
        _STANDING, {"device": claims.device_id, "user": claims.user_id}).one()
    if device is None or revoked_at is not None:
        raise ApiError(403, "device_revoked", "此终端已被停用，请联系管理员。")
    if not active:   # NULL: no such user
        raise ApiError(401, "user_inactive", "账号已停用。")
    if role != claims.role:   # a token may not keep a role taken away from its user
        raise ApiError(401, "role_changed", "账号角色已变更，请刷新令牌或重新登录。")
