"""Who may do what: the roles, the actions, and one check shared by services, CLI and window.

The services call :func:`require` before acting for someone; the window calls
:func:`allowed` to decide which menus to show. Both read the same table, so the window
never offers what the service would refuse.

``Role`` lives here (and is re-exported by :mod:`app.services.accounts`, where it has
always been imported from) so that this module depends on nothing else in the services.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from app.errors import UserError


class Role(StrEnum):
    CLERK = "clerk"          # 窗口工作人员
    AGENT = "agent"          # 代办员
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


ROLE_NAMES: Mapping[Role, str] = MappingProxyType({
    Role.CLERK: "窗口工作人员", Role.AGENT: "代办员", Role.SUPERVISOR: "值班长",
    Role.ADMIN: "系统管理员"})


class Action(StrEnum):
    """Things that need a role. Values are stable identifiers (logs, CLI)."""

    MANAGE_USERS = "manage_users"                   # add users, reset passwords
    IMPORT_REFERENCE = "import_reference"           # catalogue, calendar, credit list
    WRITE_CASES = "write_cases"                     # open, record, decide cases
    PRINT_CASE_DOCUMENTS = "print_case_documents"
    BACKUP = "backup"
    RESTORE = "restore"                             # restore a backup, recover a damaged file
    FOLLOW_UP_RATINGS = "follow_up_ratings"         # 差评回访


ACTION_NAMES: Mapping[Action, str] = MappingProxyType({
    Action.MANAGE_USERS: "管理用户账号",
    Action.IMPORT_REFERENCE: "导入事项目录、工作日历或信用名单",
    Action.WRITE_CASES: "受理和办理办件",
    Action.PRINT_CASE_DOCUMENTS: "打印办件文书",
    Action.BACKUP: "备份数据",
    Action.RESTORE: "恢复或修复数据",
    Action.FOLLOW_UP_RATINGS: "回访差评",
})

_EVERYONE = frozenset({Role.CLERK, Role.AGENT, Role.SUPERVISOR, Role.ADMIN})

ALLOWED_ROLES: Mapping[Action, frozenset[Role]] = MappingProxyType({
    Action.MANAGE_USERS: frozenset({Role.ADMIN}),
    Action.IMPORT_REFERENCE: frozenset({Role.ADMIN, Role.SUPERVISOR}),
    Action.WRITE_CASES: _EVERYONE,
    Action.PRINT_CASE_DOCUMENTS: _EVERYONE,
    Action.BACKUP: frozenset({Role.ADMIN, Role.SUPERVISOR}),
    Action.RESTORE: frozenset({Role.ADMIN}),
    Action.FOLLOW_UP_RATINGS: frozenset({Role.ADMIN, Role.SUPERVISOR}),
})

_ORDER = (Role.ADMIN, Role.SUPERVISOR, Role.CLERK, Role.AGENT)


class PermissionDenied(UserError, PermissionError):
    """The current account's role may not do this; the message is shown as is."""

    def __init__(self, message: str, *, action: Action | None = None,
                 role: str | None = None) -> None:
        # One argument only: OSError would read two as (errno, strerror).
        super().__init__(message)
        self.action = action
        self.role = role

    def __str__(self) -> str:
        return str(self.args[0])


def _role(role: str) -> Role | None:
    try:
        return Role(role)
    except ValueError:
        return None


def allowed(role: str, action: Action) -> bool:
    """Whether ``role`` (a :class:`Role` or its value) may do ``action``; unknown roles may not."""
    known = _role(role)
    return known is not None and known in ALLOWED_ROLES[Action(action)]


def require(role: str, action: Action) -> None:
    """Raise :class:`PermissionDenied` unless ``role`` may do ``action``."""
    action = Action(action)
    if allowed(role, action):
        return
    known = _role(role)
    who = ROLE_NAMES[known] if known is not None else f"未知角色“{role}”"
    need = "或".join(ROLE_NAMES[r] for r in _ORDER if r in ALLOWED_ROLES[action])
    raise PermissionDenied(f"当前账号（{who}）无权{ACTION_NAMES[action]}，须由{need}操作。",
                           action=action, role=role)
