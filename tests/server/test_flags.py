"""Settling flags (docs/sync-protocol.md §5): a supervisor of the flag's site records what
they found and did; the flag leaves the open list and is kept, settled, with who and
when. Over the API and from the server's command line."""

from __future__ import annotations

from typing import Any

import requests

from app.workstation import Workstation
from tests.server.conftest import Server, run_server_cli
from tests.server.test_accounts_api import CLERK_PASSWORD, refusal
from tests.server.test_sync_api import (
    Terminal,
    accepted_case,
    back_office_reviews,
    outbox,
    results,
)

OTHER_SITE = "330100002"


def _conflict(server: Server, client: Workstation) -> Terminal:
    """A 办结 pushed on version 3 of a case the back office moved to 审批中 (version 4):
    stored as a conflict and flagged."""
    term = Terminal(server)
    clerk = term.clerk()
    case = accepted_case(client, clerk)
    assert results(term.push(outbox(client))) == ["applied"] * 3
    back_office_reviews(server, case.id)
    client.pickup.complete(case.id, clerk)
    assert results(term.push([outbox(client)[-1]])) == ["conflict"]
    return term


def _resolve(who: Terminal, flag_id: str, resolution: Any) -> requests.Response:
    return requests.post(f"{who.server.url}/v1/audit/flags/{flag_id}/resolve",
                         json={"resolution": resolution}, headers=who.auth, timeout=60)


def test_a_supervisor_settles_a_flag_with_a_note_and_it_leaves_the_open_list(
        server: Server, client: Workstation) -> None:
    term = _conflict(server, client)
    boss = Terminal(server, "zhangsan", "supervisor", device=term.device)
    [flag] = boss.get("/v1/audit/flags").json()["flags"]
    refusal(_resolve(term, flag["id"], "我看过了"), 403, "not_allowed")   # a clerk does not
    stranger = Terminal(server, "wangwu", "supervisor", OTHER_SITE, registrar="zhaoliu")
    refusal(_resolve(stranger, flag["id"], "不是我站点的"), 404, "flag_not_found")
    for bad in ("", " 好 ", "核查\u0000完毕", "长" * 501, 12):
        refusal(_resolve(boss, flag["id"], bad), 422, "invalid_request")
    done = _resolve(boss, flag["id"], "已与审批科核对：以审批中为准，窗口的办结作废")
    assert done.status_code == 200, done.text
    settled = done.json()
    assert (settled["id"], settled["resolved_by"], settled["resolution"]) == (
        flag["id"], boss.user_id, "已与审批科核对：以审批中为准，窗口的办结作废")
    assert boss.get("/v1/audit/flags").json()["flags"] == []
    refusal(_resolve(boss, flag["id"], "再处理一次"), 409, "flag_resolved")


def test_flags_are_listed_and_settled_from_the_servers_command_line(
        server: Server, client: Workstation) -> None:
    term = _conflict(server, client)
    Terminal(server, "zhangsan", "supervisor", device=term.device)
    db = ["--database-url", server.database_url] if server.database_url else []

    def cli(*args: str) -> Any:
        return run_server_cli("flag", *args, "--home", str(server.home), *db,
                              "--user", "zhangsan", "--password-fd", "0",
                              stdin=CLERK_PASSWORD + "\n")

    listed = cli("list")
    assert listed.returncode == 0, listed.stderr
    assert "conflict" in listed.stdout and "共 1 个待处理的问题" in listed.stdout
    flag_id = listed.stdout.split()[0]
    short = cli("resolve", flag_id, "--resolution", "x")
    assert short.returncode == 2 and "2至500字" in short.stderr
    done = cli("resolve", flag_id, "--resolution", "已核对，以审批中为准")
    assert done.returncode == 0 and "已记录处理结果：conflict" in done.stdout, done.stderr
    assert "共 0 个待处理的问题" in cli("list").stdout
    again = cli("resolve", flag_id, "--resolution", "已核对，以审批中为准")
    assert again.returncode == 2 and "已经处理过了" in again.stderr
    clerk = run_server_cli("flag", "list", "--home", str(server.home), *db, "--user", "lisi",
                           "--password-fd", "0", stdin=CLERK_PASSWORD + "\n")
    assert clerk.returncode == 2 and "只有值班长或管理员" in clerk.stderr
