"""Accounts and devices on the real server over loopback: registering a terminal, logging
in, refreshing, the lock-out, and every refusal with its status and reason."""

from __future__ import annotations

import collections
import datetime as dt
import subprocess
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from app.config import DEMO_SITE_CODE
from server import accounts
from server.db import ServerDatabase
from server.tokens import AccessClaims, issue_access, signing_key
from tests.server.conftest import ADMIN_PASSWORD, Server, run_server_cli

CLERK_PASSWORD = "Chuangkou2026"


def post(server: Server, path: str, body: Any, **headers: str) -> requests.Response:
    return requests.post(f"{server.url}{path}", json=body, headers=headers, timeout=30)


def refusal(response: requests.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == code, body
    return str(body["message"])


def register(server: Server, name: str = "1号窗口电脑", user: str = "admin",
             password: str = ADMIN_PASSWORD) -> requests.Response:
    return post(server, "/v1/devices/register",
                {"username": user, "password": password, "name": name})


def add_user(server: Server, username: str, role: str = "clerk",
             site: str = DEMO_SITE_CODE) -> None:
    db = ServerDatabase(server.settings)
    try:
        with db.session() as session:
            if site != DEMO_SITE_CODE and session.get(accounts.SiteRow, site) is None:
                accounts.create_site(session, site, "另一个乡镇便民服务中心", "乡镇")
            accounts.create_user(session, username, "李四", role, site, CLERK_PASSWORD)
    finally:
        db.dispose()


def logged_in(server: Server, device_token: str, username: str = "lisi") -> dict[str, Any]:
    response = post(server, "/v1/auth/login", {"username": username, "password": CLERK_PASSWORD},
                    **{"X-Device-Token": device_token})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def me(server: Server, access: str) -> requests.Response:
    return requests.get(f"{server.url}/v1/me", headers={"Authorization": f"Bearer {access}"},
                        timeout=30)


def test_an_administrator_registers_terminals_numbered_in_turn(server: Server) -> None:
    first, second = register(server).json(), register(server, "2号窗口电脑").json()
    assert (first["site"], first["terminal"], second["terminal"]) == (DEMO_SITE_CODE, "01", "02")
    assert len(first["device_token"]) >= 40 and first["device_token"] != second["device_token"]
    assert refusal(register(server, password="wrong-one-1"), 401, "wrong_credentials") == \
        "用户名或密码不正确。"
    add_user(server, "lisi")
    assert "值班长或管理员" in refusal(register(server, user="lisi", password=CLERK_PASSWORD),
                                   403, "not_allowed")


def test_a_clerk_logs_in_on_a_terminal_and_gets_what_offline_login_needs(server: Server) -> None:
    device = register(server).json()
    add_user(server, "lisi")
    answer = logged_in(server, device["device_token"])
    assert answer["user"]["role"] == "clerk" and answer["user"]["site"] == DEMO_SITE_CODE
    assert answer["offline"]["password_hash"].startswith("$argon2id$")
    from app.services.accounts import verify_password

    assert verify_password(CLERK_PASSWORD, answer["offline"]["password_hash"])
    seen = me(server, answer["access_token"])
    assert seen.status_code == 200
    assert seen.json()["device_id"] == device["device_id"]


def test_a_refresh_token_works_once_and_a_replayed_one_ends_the_session(server: Server) -> None:
    device = register(server).json()["device_token"]
    add_user(server, "lisi")
    first = logged_in(server, device)
    again = post(server, "/v1/auth/refresh", {"refresh_token": first["refresh_token"]},
                 **{"X-Device-Token": device})
    assert again.status_code == 200 and again.json()["refresh_token"] != first["refresh_token"]
    replay = post(server, "/v1/auth/refresh", {"refresh_token": first["refresh_token"]},
                  **{"X-Device-Token": device})
    refusal(replay, 401, "refresh_replayed")
    # The copy being replayed ends its family: the rotated token is no good either.
    refusal(post(server, "/v1/auth/refresh", {"refresh_token": again.json()["refresh_token"]},
                 **{"X-Device-Token": device}), 401, "refresh_replayed")


def test_five_wrong_passwords_lock_the_account_across_requests(server: Server) -> None:
    device = register(server).json()["device_token"]
    add_user(server, "lisi")
    for _ in range(5):
        refusal(post(server, "/v1/auth/login", {"username": "lisi", "password": "Wrong2026x"},
                     **{"X-Device-Token": device}), 401, "wrong_credentials")
    locked = post(server, "/v1/auth/login", {"username": "lisi", "password": CLERK_PASSWORD},
                  **{"X-Device-Token": device})
    assert "分钟后再试" in refusal(locked, 429, "locked")
    assert int(locked.headers["Retry-After"]) > 0


def test_every_refusal_has_its_status_and_reason(server: Server) -> None:
    device = register(server).json()
    add_user(server, "lisi")
    add_user(server, "wangwu", site="330100002")
    token = logged_in(server, device["device_token"])["access_token"]
    refusal(post(server, "/v1/auth/login", {"username": "lisi", "password": CLERK_PASSWORD}),
            401, "no_device_token")
    refusal(post(server, "/v1/auth/login", {"username": "lisi", "password": CLERK_PASSWORD},
                 **{"X-Device-Token": "forged"}), 401, "unknown_device")
    refusal(post(server, "/v1/auth/login", {"username": "wangwu", "password": CLERK_PASSWORD},
                 **{"X-Device-Token": device["device_token"]}), 403, "other_site")
    refusal(requests.get(f"{server.url}/v1/me", timeout=30), 401, "no_token")
    refusal(me(server, token + "x"), 401, "token_invalid")
    db = ServerDatabase(server.settings)
    try:
        with db.session() as session:
            old = issue_access(signing_key(session), AccessClaims(
                "someone", "clerk", DEMO_SITE_CODE, device["device_id"]),
                dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
            accounts.revoke_device(session, device["device_id"], dt.datetime.now(dt.UTC))
    finally:
        db.dispose()
    refusal(me(server, old), 401, "token_expired")
    refusal(me(server, token), 403, "device_revoked")   # at once, not when it expires
    refusal(post(server, "/v1/auth/login", {"username": "lisi", "password": CLERK_PASSWORD},
                 **{"X-Device-Token": device["device_token"]}), 403, "device_revoked")


def test_bad_requests_are_refused_whole(server: Server) -> None:
    unknown = register(server).json()
    assert unknown["terminal"] == "01"
    body = {"username": "admin", "password": ADMIN_PASSWORD, "name": "x", "extra": 1}
    refusal(post(server, "/v1/devices/register", body), 422, "invalid_request")
    broken = requests.post(f"{server.url}/v1/devices/register", data=b"{not json",
                           headers={"Content-Type": "application/json"}, timeout=30)
    refusal(broken, 422, "invalid_request")
    wrong_type = post(server, "/v1/devices/register",
                      {"username": ["admin"], "password": ADMIN_PASSWORD, "name": "x"})
    refusal(wrong_type, 422, "invalid_request")
    huge = requests.post(f"{server.url}/v1/devices/register", data=b"x" * (2 * 1024 * 1024),
                         headers={"Content-Type": "application/json"}, timeout=30)
    refusal(huge, 413, "body_too_large")
    chunks = (part for part in (b'{"username": "admin", ', b'"password": "x", "name": "x"}'))
    chunked = requests.post(f"{server.url}/v1/devices/register", data=chunks,
                            headers={"Content-Type": "application/json"}, timeout=30)
    refusal(chunked, 411, "length_required")   # no size up front: never read without end
    # None of them registered a terminal: the next one is still 02.
    assert register(server).json()["terminal"] == "02"


def test_a_terminal_keeps_its_sites_users_and_is_told_when_they_are_unchanged(
        server: Server) -> None:
    device = register(server).json()["device_token"]
    add_user(server, "lisi")
    add_user(server, "wangwu", site="330100002")          # another site: never listed here
    token = logged_in(server, device)["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    first = requests.get(f"{server.url}/v1/reference/users", headers=auth, timeout=30)
    assert first.status_code == 200
    assert [u["username"] for u in first.json()["users"]] == ["admin", "lisi"]
    etag = first.headers["ETag"]
    same = requests.get(f"{server.url}/v1/reference/users",
                        headers={**auth, "If-None-Match": etag}, timeout=30)
    assert (same.status_code, same.content) == (304, b"")
    add_user(server, "zhaoliu")
    changed = requests.get(f"{server.url}/v1/reference/users",
                           headers={**auth, "If-None-Match": etag}, timeout=30)
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert "zhaoliu" in [u["username"] for u in changed.json()["users"]]


def server_cli(server: Server, *argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """``yichuang-server …`` on the running server's home and database."""
    where = ["--home", str(server.home)]
    if server.database_url:
        where += ["--database-url", server.database_url]
    return run_server_cli(*argv, *where, stdin=stdin)


def test_parallel_wrong_passwords_lock_the_account_after_exactly_five(server: Server) -> None:
    add_user(server, "lisi", role="supervisor")
    urls = [server.url for _ in range(24)]   # spread across both processes on PostgreSQL

    def guess(i: int) -> int:
        return requests.post(f"{urls[i]}/v1/devices/register", timeout=120, json={
            "username": "lisi", "password": f"Wrong{i}x2026", "name": "x"}).status_code

    with ThreadPoolExecutor(len(urls)) as pool:
        codes = collections.Counter(pool.map(guess, range(len(urls))))
    # Every guess counted (none lost to a concurrent one): five refusals, then locked.
    assert codes == {401: 5, 429: len(urls) - 5}, codes
    refusal(register(server, user="lisi", password=CLERK_PASSWORD), 429, "locked")


def test_revoking_a_device_from_the_cli_ends_its_sessions_at_once(server: Server) -> None:
    device = register(server).json()
    other = register(server, "2号窗口电脑").json()
    add_user(server, "lisi")
    session = logged_in(server, device["device_token"])
    listed = server_cli(server, "device", "list")
    assert listed.returncode == 0, listed.stderr
    assert device["device_id"] in listed.stdout and "终端01" in listed.stdout
    done = server_cli(server, "device", "revoke", device["device_id"])
    assert done.returncode == 0, done.stderr
    assert "已停用终端" in done.stdout and "终端01" in done.stdout
    refusal(me(server, session["access_token"]), 403, "device_revoked")
    refusal(post(server, "/v1/auth/refresh", {"refresh_token": session["refresh_token"]},
                 **{"X-Device-Token": device["device_token"]}), 403, "device_revoked")
    assert "已停用" in server_cli(server, "device", "list").stdout
    # The other terminal is untouched, and an unknown ID is one line with exit 2.
    assert me(server, logged_in(server, other["device_token"])["access_token"]).ok
    unknown = server_cli(server, "device", "revoke", "no-such-device")
    assert unknown.returncode == 2 and "没有编号为 no-such-device 的终端" in unknown.stderr


def test_disabling_a_user_from_the_cli_ends_their_sessions_at_once(server: Server) -> None:
    device = register(server).json()["device_token"]
    added = server_cli(server, "user", "add", "lisi", "--name", "李四", "--role", "clerk",
                       "--site", DEMO_SITE_CODE, "--password-fd", "0",
                       stdin=CLERK_PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    session = logged_in(server, device)
    assert server_cli(server, "user", "disable", "lisi").returncode == 0
    refusal(me(server, session["access_token"]), 401, "user_inactive")
    refusal(post(server, "/v1/auth/refresh", {"refresh_token": session["refresh_token"]},
                 **{"X-Device-Token": device}), 401, "user_inactive")
    refusal(post(server, "/v1/auth/login", {"username": "lisi", "password": CLERK_PASSWORD},
                 **{"X-Device-Token": device}), 401, "wrong_credentials")
    assert server_cli(server, "user", "enable", "lisi").returncode == 0
    assert me(server, logged_in(server, device)["access_token"]).ok


def test_a_new_role_from_the_cli_applies_at_once_and_a_refresh_carries_it(
        server: Server) -> None:
    device = register(server).json()["device_token"]
    add_user(server, "lisi", role="supervisor")
    session = logged_in(server, device)
    assert server_cli(server, "user", "set-role", "lisi", "clerk").returncode == 0
    refusal(me(server, session["access_token"]), 401, "role_changed")
    renewed = post(server, "/v1/auth/refresh", {"refresh_token": session["refresh_token"]},
                   **{"X-Device-Token": device})
    assert renewed.status_code == 200, renewed.text
    assert me(server, renewed.json()["access_token"]).json()["role"] == "clerk"
    # The county keeps an administrator: the last one is neither demoted nor disabled.
    for argv in (("set-role", "admin", "clerk"), ("disable", "admin")):
        last = server_cli(server, "user", *argv)
        assert last.returncode == 2 and "唯一启用的管理员" in last.stderr, last
    assert register(server).status_code == 201


def test_a_token_from_a_process_whose_clock_runs_a_little_ahead_is_accepted(
        server: Server) -> None:
    device = register(server).json()
    add_user(server, "lisi")
    user_id = logged_in(server, device["device_token"])["user"]["id"]
    db = ServerDatabase(server.settings)
    try:
        with db.session() as session:
            key = signing_key(session)
    finally:
        db.dispose()
    claims = AccessClaims(user_id, "clerk", DEMO_SITE_CODE, device["device_id"])
    now = dt.datetime.now(dt.UTC)
    ahead = issue_access(key, claims, now + dt.timedelta(seconds=30))
    assert me(server, ahead).status_code == 200
    # Not without bound: a token issued ten minutes in the future is no good.
    refusal(me(server, issue_access(key, claims, now + dt.timedelta(minutes=10))), 401,
            "token_invalid")


def test_control_characters_are_refused_in_every_account_field(server: Server) -> None:
    device = register(server).json()["device_token"]
    add_user(server, "lisi")
    cases = [("/v1/devices/register", {"username": "ad\u0000min", "password": ADMIN_PASSWORD,
                                       "name": "pc"}, {}),
             ("/v1/devices/register", {"username": "admin", "password": ADMIN_PASSWORD,
                                       "name": "p\u0007c"}, {}),
             ("/v1/auth/login", {"username": "li\u0000si", "password": CLERK_PASSWORD},
              {"X-Device-Token": device}),
             ("/v1/auth/login", {"username": "lisi", "password": "Chuang\u0000kou2026"},
              {"X-Device-Token": device}),
             ("/v1/auth/refresh", {"refresh_token": "a\u0000"}, {"X-Device-Token": device})]
    for path, body, headers in cases:
        refusal(post(server, path, body, **headers), 422, "invalid_request")
    # None of them counted as a wrong password, nor registered a terminal.
    assert logged_in(server, device)["user"]["username"] == "lisi"
    assert register(server).json()["terminal"] == "02"


def test_a_body_the_parser_cannot_read_and_an_unknown_path_get_our_refusal_shape(
        server: Server) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    refusal(requests.post(f"{server.url}/v1/devices/register", data=deep, timeout=30,
                          headers={"Content-Type": "application/json"}), 422, "invalid_request")
    refusal(requests.get(f"{server.url}/v1/no-such-thing", timeout=30), 404, "not_found")
    refusal(requests.delete(f"{server.url}/v1/me", timeout=30), 405, "method_not_allowed")
