"""Failed logins per typed name, the five-minute lock, and what the clock may not change.

The service is given its clocks: a wall clock that a clerk (or a dead CMOS battery) can set
to anything, a monotonic clock that only moves forward within one boot, and the boot id.
Argon2 runs with tiny parameters here (and a dummy hash made with them): these tests are
about counting and clocks, and the real cost is checked in test_accounts.py.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import select

from app.services.accounts import (
    DEFAULT_ADMIN,
    DEFAULT_ADMIN_PASSWORD,
    LOCK_MINUTES,
    AccountService,
    ClerkSession,
    LoginError,
    Role,
    system_boot_id,
    system_monotonic,
)
from app.storage.db import Database
from app.storage.models import LoginAttempt, UserRow

ADMIN_PASSWORD = "Chuangkou2026"
WRONG = "wrong-password1"
START = dt.datetime(2026, 11, 23, 9, 0)
YEAR = dt.timedelta(days=365)


pytestmark = pytest.mark.usefixtures("cheap_argon2")


@dataclass
class Clocks:
    wall: dt.datetime = START
    mono: float = 1000.0
    boot: str = field(default="boot-1")

    def wait(self, seconds: float) -> None:
        """Real time passes: both clocks move."""
        self.wall += dt.timedelta(seconds=seconds)
        self.mono += seconds

    def reboot(self, *, boot: str = "boot-2", uptime: float = 30.0) -> None:
        self.boot, self.mono = boot, uptime




@pytest.fixture
def clocks() -> Clocks:
    return Clocks()


@pytest.fixture
def accounts(db: Database, clocks: Clocks) -> AccountService:
    service = AccountService(db, clock=lambda: clocks.wall, mono=lambda: clocks.mono,
                             boot_id=lambda: clocks.boot)
    assert service.ensure_default_admin()
    return service


@pytest.fixture
def admin(accounts: AccountService) -> ClerkSession:
    first = accounts.login(DEFAULT_ADMIN, DEFAULT_ADMIN_PASSWORD)
    return accounts.change_password(first.user_id, DEFAULT_ADMIN_PASSWORD, ADMIN_PASSWORD)


def _answer(accounts: AccountService, username: str, password: str = WRONG) -> str:
    with pytest.raises(LoginError) as info:
        accounts.login(username, password)
    return str(info.value)


def _lock(accounts: AccountService, username: str = "admin") -> None:
    for _ in range(5):
        _answer(accounts, username)


def _minutes(message: str) -> int:
    found = re.search(r"请(\d+)分钟后再试", message)
    assert found, message
    return int(found.group(1))


def _attempt(db: Database, username: str) -> LoginAttempt | None:
    with db.read() as session:
        return session.get(LoginAttempt, username)


# ---- the same answer whether the account exists or not ----------------------------------


def test_unknown_and_known_names_get_identical_answers_through_the_lock(
        accounts: AccountService, admin: ClerkSession, clocks: Clocks) -> None:
    accounts.add_user(admin, "wangwu", "王五", Role.CLERK, "Chushi2026")
    known = [_answer(accounts, "wangwu") for _ in range(6)]
    unknown = [_answer(accounts, "wangliu") for _ in range(6)]
    assert known == unknown
    assert known == [
        "用户名或密码不正确（还可尝试4次）。",
        "用户名或密码不正确（还可尝试3次）。",
        "用户名或密码不正确（还可尝试2次）。",
        "用户名或密码不正确（还可尝试1次）。",
        f"密码连续输错5次，账号锁定{LOCK_MINUTES}分钟。",
        f"密码连续输错5次，账号已锁定，请{LOCK_MINUTES}分钟后再试或联系管理员。",
    ]
    # While locked, the right password gets the same answer as any other.
    assert _answer(accounts, "wangwu", "Chushi2026") == _answer(accounts, "wangliu", "Chushi2026")


def test_a_disabled_account_answers_like_an_unknown_one(accounts: AccountService, db: Database,
                                                        admin: ClerkSession) -> None:
    accounts.add_user(admin, "zhaoliu", "赵六", Role.CLERK, "Chushi2026")
    with db.write() as session:
        row = session.scalars(select(UserRow).where(UserRow.username == "zhaoliu")).one()
        row.active = False
    # Even with its right password.
    disabled = [_answer(accounts, "zhaoliu", "Chushi2026") for _ in range(6)]
    unknown = [_answer(accounts, "zhaoqi", "Chushi2026") for _ in range(6)]
    assert disabled == unknown
    assert disabled[0] == "用户名或密码不正确（还可尝试4次）。"


def test_attempts_are_kept_per_typed_name_normalised(accounts: AccountService,
                                                     db: Database) -> None:
    _answer(accounts, " nobody ")
    assert _answer(accounts, "nobody") == "用户名或密码不正确（还可尝试3次）。"
    long_name = "x" * 80
    _answer(accounts, long_name)
    stored = _attempt(db, "x" * 64)
    assert stored is not None and stored.failures == 1
    assert _answer(accounts, "x" * 64) == "用户名或密码不正确（还可尝试3次）。"
    # Other names keep their own count.
    assert _answer(accounts, "admin") == "用户名或密码不正确（还可尝试4次）。"
    with pytest.raises(LoginError, match="请输入用户名和密码"):
        accounts.login("  ", "x")
    with pytest.raises(LoginError, match="请输入用户名和密码"):
        accounts.login("admin", "")
    assert _answer(accounts, "admin") == "用户名或密码不正确（还可尝试3次）。"


def test_a_successful_login_clears_the_count(accounts: AccountService, db: Database) -> None:
    for _ in range(3):
        _answer(accounts, "admin")
    accounts.login("admin", DEFAULT_ADMIN_PASSWORD)
    assert _attempt(db, "admin") is None
    assert _answer(accounts, "admin") == "用户名或密码不正确（还可尝试4次）。"


def test_the_old_per_user_columns_are_no_longer_used(accounts: AccountService,
                                                     db: Database) -> None:
    _lock(accounts)
    with db.read() as session:
        row = session.scalars(select(UserRow).where(UserRow.username == "admin")).one()
        assert (row.failed_logins, row.locked_until) == (0, None)


# ---- the lock and the clocks -----------------------------------------------------------


def test_the_lock_runs_out_after_five_minutes_of_monotonic_time(
        accounts: AccountService, clocks: Clocks) -> None:
    _lock(accounts)
    clocks.wait(90)
    assert _minutes(_answer(accounts, "admin", DEFAULT_ADMIN_PASSWORD)) == 4
    clocks.wait(209)
    assert _minutes(_answer(accounts, "admin", DEFAULT_ADMIN_PASSWORD)) == 1
    clocks.wait(1)
    # Over: the right password works, and a wrong one starts the count again.
    assert accounts.login("admin", DEFAULT_ADMIN_PASSWORD).username == "admin"
    assert _answer(accounts, "admin") == "用户名或密码不正确（还可尝试4次）。"


def test_a_wrong_password_after_the_lock_counts_from_one(accounts: AccountService,
                                                         clocks: Clocks) -> None:
    _lock(accounts)
    clocks.wait(LOCK_MINUTES * 60)
    assert _answer(accounts, "admin") == "用户名或密码不正确（还可尝试4次）。"


def test_setting_the_wall_clock_back_a_year_does_not_extend_the_lock(
        accounts: AccountService, clocks: Clocks) -> None:
    _lock(accounts)
    clocks.wall -= YEAR
    message = _answer(accounts, "admin", DEFAULT_ADMIN_PASSWORD)
    assert _minutes(message) in range(1, LOCK_MINUTES + 1), message  # never "525606分钟"
    assert "525" not in message
    clocks.wait(60)
    assert _minutes(_answer(accounts, "admin", DEFAULT_ADMIN_PASSWORD)) == LOCK_MINUTES - 1
    clocks.wait(LOCK_MINUTES * 60 - 60)
    assert accounts.login("admin", DEFAULT_ADMIN_PASSWORD).username == "admin"


def test_setting_the_wall_clock_forward_a_day_does_not_lift_the_lock(
        accounts: AccountService, clocks: Clocks) -> None:
    _lock(accounts)
    clocks.wall += dt.timedelta(days=1)
    clocks.mono += 10
    message = _answer(accounts, "admin", DEFAULT_ADMIN_PASSWORD)
    assert _minutes(message) == LOCK_MINUTES
    clocks.wall += YEAR
    clocks.mono += 200
    assert _minutes(_answer(accounts, "admin", DEFAULT_ADMIN_PASSWORD)) == 2
    # The same for a name that has no account.
    _lock(accounts, "nobody")
    clocks.wall += dt.timedelta(days=1)
    assert _minutes(_answer(accounts, "nobody")) == LOCK_MINUTES


def test_after_a_reboot_the_wall_clock_times_the_lock(accounts: AccountService,
                                                      clocks: Clocks) -> None:
    _lock(accounts)
    clocks.wait(100)
    clocks.reboot(uptime=5.0)  # monotonic time starts again near zero
    clocks.wait(20)            # 2 minutes since the lock on the wall clock
    assert _minutes(_answer(accounts, "admin", DEFAULT_ADMIN_PASSWORD)) == 3
    clocks.wait(180)
    assert accounts.login("admin", DEFAULT_ADMIN_PASSWORD).username == "admin"


def test_after_a_reboot_a_wall_clock_a_year_behind_locks_for_at_most_the_lock_length(
        accounts: AccountService, clocks: Clocks) -> None:
    _lock(accounts)
    clocks.reboot(uptime=5.0)
    clocks.wall -= YEAR
    message = _answer(accounts, "admin", DEFAULT_ADMIN_PASSWORD)
    assert _minutes(message) == LOCK_MINUTES, message
    # From here this boot's monotonic clock times it: five minutes, not a year.
    clocks.wait(LOCK_MINUTES * 60 - 1)
    assert _minutes(_answer(accounts, "admin", DEFAULT_ADMIN_PASSWORD)) == 1
    clocks.wait(1)
    assert accounts.login("admin", DEFAULT_ADMIN_PASSWORD).username == "admin"


def test_after_a_reboot_a_wall_clock_far_ahead_ends_the_lock(accounts: AccountService,
                                                             clocks: Clocks) -> None:
    _lock(accounts)
    clocks.reboot()
    clocks.wall += dt.timedelta(hours=1)
    assert accounts.login("admin", DEFAULT_ADMIN_PASSWORD).username == "admin"


def test_without_a_boot_id_a_clock_that_went_back_means_a_reboot(
        accounts: AccountService, clocks: Clocks) -> None:
    """The fallback outside Linux: no boot id (""), time.monotonic()."""
    clocks.boot = ""
    clocks.mono = 90_000.0
    _lock(accounts)
    clocks.reboot(boot="", uptime=10.0)  # unnoticed reboot: the clock reads less
    clocks.wall -= YEAR
    assert _minutes(_answer(accounts, "admin", DEFAULT_ADMIN_PASSWORD)) == LOCK_MINUTES
    clocks.wait(LOCK_MINUTES * 60)
    assert accounts.login("admin", DEFAULT_ADMIN_PASSWORD).username == "admin"


def test_an_administrator_reset_lifts_the_lock(accounts: AccountService, admin: ClerkSession,
                                               db: Database) -> None:
    accounts.add_user(admin, "lisi", "李四", Role.AGENT, "Chushi2026")
    _lock(accounts, "lisi")
    accounts.reset_password(admin, "lisi", "Chongzhi2026")
    assert _attempt(db, "lisi") is None
    assert accounts.login("lisi", "Chongzhi2026").must_change_password is True


def test_a_new_account_does_not_inherit_failures_typed_at_its_name(
        accounts: AccountService, admin: ClerkSession) -> None:
    _lock(accounts, "newbie")
    accounts.add_user(admin, "newbie", "新人", Role.CLERK, "Chushi2026")
    assert accounts.login("newbie", "Chushi2026").username == "newbie"


def test_the_real_clocks() -> None:
    first = system_monotonic()
    assert system_monotonic() >= first
    boot = system_boot_id()
    if Path("/proc/sys/kernel/random/boot_id").exists():
        assert re.fullmatch(r"[0-9a-f-]{36}", boot)
    else:
        assert boot == ""
