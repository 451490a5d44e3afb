"""The back office on the real server over loopback (docs/sync-protocol.md §9): cases
pushed by a real workstation are advanced to 审批中 and 办结 through ``/v1/cases`` and
``yichuang-server case``, and every change reaches the site's terminals by pull."""

from __future__ import annotations

import subprocess
from typing import Any

import requests

from app.storage.chain import GENESIS_HASH
from app.workstation import Workstation
from tests.server.conftest import ADMIN_PASSWORD, Server, run_server_cli
from tests.server.test_accounts_api import CLERK_PASSWORD, refusal
from tests.server.test_sync_api import (
    OTHER_SITE,
    Terminal,
    _applicant,
    crafted,
    outbox,
    results,
)
from tests.support import FOOD, accepted_case


def case_cli(server: Server, *args: str, user: str = "zhang",
             password: str = CLERK_PASSWORD) -> subprocess.CompletedProcess[str]:
    """``yichuang-server case …`` as an operator types it (password on a descriptor)."""
    db = ["--database-url", server.database_url] if server.database_url else []
    return run_server_cli("case", *args, "--home", str(server.home), *db, "--user", user,
                          "--password-fd", "0", stdin=password + "\n")


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, done
    assert done.stdout == "" and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("yichuang-server: ") and "Traceback" not in done.stderr
    return done.stderr


def post(who: Terminal, path: str, body: dict[str, Any] | None = None) -> requests.Response:
    return requests.post(f"{who.server.url}{path}", json=body, headers=who.auth, timeout=60)


def pushed_case(term: Terminal, client: Workstation) -> str:
    """A case accepted at the window and pushed; its number."""
    case = accepted_case(client, term.clerk())
    assert results(term.push(outbox(client))) == ["applied"] * 3
    return case.number


def test_a_supervisor_advances_a_pushed_case_through_the_api_and_each_move_arrives_in_pull(
        server: Server, client: Workstation) -> None:
    term = Terminal(server)
    number = pushed_case(term, client)
    _, cursor = term.pull_all()
    boss = Terminal(server, "zhang", "supervisor", device=term.device)
    path = f"/v1/cases/{number}/advance"
    moved = post(boss, path, {"to": "审批中"})
    assert moved.status_code == 200, moved.text
    assert (moved.json()["previous_status"], moved.json()["status"]) == ("已受理", "审批中")
    assert post(boss, path, {"pause": True, "reason": "现场勘查"}).json()["status"] == "暂停计时"
    assert post(boss, path, {"resume": True}).json()["status"] == "审批中"
    done = post(boss, path, {"to": "办结", "result": "准予"}).json()
    assert (done["status"], done["version"]) == ("已办结", 7)
    changes, _ = term.pull_all(cursor)
    assert [(c["kind"], c["data"]["status"], c["data"]["origin"]) for c in changes] == [
        ("status_changed", s, "server") for s in ("审批中", "暂停计时", "审批中", "已办结")]
    last = changes[-1]["data"]["event"]
    assert last["payload"] == {"status": "已办结", "source": "back_office", "result": "准予"}
    assert (last["clerk_id"], last["case_seq"]) == (boss.user_id, 7)
    assert changes[1]["data"]["event"]["payload"]["reason"] == "现场勘查"
    shown = boss.get(f"/v1/cases/{number}").json()
    assert (shown["status"], shown["result"], shown["decision"]) == ("已办结", "准予", "受理")
    assert [e["origin"] for e in shown["events"]] == ["terminal"] * 3 + ["server"] * 4
    listed = boss.get("/v1/cases", status="已办结").json()
    assert [c["number"] for c in listed["cases"]] == [number] and listed["more"] is False
    assert boss.get("/v1/cases", status="审批中").json()["cases"] == []


def test_the_cli_advances_a_case_as_a_named_operator_and_pull_brings_it(
        server: Server, client: Workstation) -> None:
    term = Terminal(server)
    number = pushed_case(term, client)
    _, cursor = term.pull_all()
    boss = Terminal(server, "zhang", "supervisor", device=term.device)
    first = case_cli(server, "advance", number, "--to", "审批中")
    assert first.returncode == 0, first.stderr
    assert "已受理 → 审批中" in first.stdout
    done = case_cli(server, "advance", number, "--to", "办结", "--result", "不予",
                    user="admin", password=ADMIN_PASSWORD)
    assert done.returncode == 0, done.stderr
    assert "审批中 → 已办结，审批结果 不予" in done.stdout
    changes, _ = term.pull_all(cursor)
    events = [c["data"]["event"] for c in changes]
    assert (events[0]["payload"]["status"], events[0]["clerk_id"]) == ("审批中", boss.user_id)
    assert events[1]["payload"]["result"] == "不予" and events[1]["clerk_id"] != boss.user_id
    listed = case_cli(server, "list", "--status", "已办结")
    assert listed.returncode == 0 and number in listed.stdout and "共 1 件" in listed.stdout
    shown = case_cli(server, "show", number)
    assert shown.returncode == 0 and "审批结果 不予" in shown.stdout
    # Bad input: one Chinese line, exit 2, nothing changed.
    assert "审批结果" in one_line(case_cli(server, "advance", number, "--to", "办结"))
    assert "用户名或密码不正确" in one_line(case_cli(server, "show", number, password="Wrong2026x"))
    assert "办件不能从“已办结”变为“审批中”" in one_line(
        case_cli(server, "advance", number, "--to", "审批中"))
    assert "参数有误" in one_line(case_cli(server, "advance", number, "--to", "退回"))
    assert term.pull_all(cursor)[0] == changes


def test_an_invalid_transition_is_refused_with_the_domains_message_and_changes_nothing(
        server: Server, client: Workstation) -> None:
    term = Terminal(server)
    number = pushed_case(term, client)
    boss = Terminal(server, "zhang", "supervisor", device=term.device)
    path = f"/v1/cases/{number}/advance"
    assert "没有暂停计时" in refusal(post(boss, path, {"resume": True}), 409, "invalid_transition")
    assert post(boss, path, {"to": "审批中"}).status_code == 200
    _, cursor = term.pull_all()
    assert refusal(post(boss, path, {"to": "审批中"}), 409, "invalid_transition") == \
        "办件不能从“审批中”变为“审批中”。"
    # A case only opened (收件中) has not been accepted: no department has it yet.
    receiving = client.cases.open_case(FOOD, _applicant(), term.clerk())
    assert results(term.push(outbox(client)[3:])) == ["applied"]
    assert refusal(post(boss, f"/v1/cases/{receiving.number}/advance", {"to": "审批中"}),
                   409, "invalid_transition") == "办件不能从“收件中”变为“审批中”。"
    for bad in ({"to": "办结"}, {"to": "审批中", "result": "准予"}, {"pause": True, "resume": True},
                {}):
        refusal(post(boss, path, bad), 422, "bad_move")
    refusal(post(boss, path, {"to": "审批中", "color": "red"}), 422, "invalid_request")
    after = term.pull_all(cursor)[0]
    assert [c["kind"] for c in after] == ["opened"]   # the refusals left nothing
    assert boss.get(f"/v1/cases/{number}").json()["version"] == 4


def test_a_clerk_and_another_sites_supervisor_are_refused_and_an_unknown_number_is_404(
        server: Server, client: Workstation) -> None:
    term = Terminal(server)
    number = pushed_case(term, client)
    for response in (term.get("/v1/cases"), term.get(f"/v1/cases/{number}"),
                     post(term, f"/v1/cases/{number}/advance", {"to": "审批中"}),
                     post(term, f"/v1/cases/{number}/notify-pickup")):
        refusal(response, 403, "not_allowed")
    assert "值班长或管理员" in one_line(case_cli(server, "show", number, user="lisi"))
    other = Terminal(server, "wangwu", "supervisor", OTHER_SITE, registrar="zhaoliu")
    refusal(other.get(f"/v1/cases/{number}"), 403, "other_site")
    refusal(post(other, f"/v1/cases/{number}/advance", {"to": "审批中"}), 403, "other_site")
    refusal(other.get("/v1/cases", site=term.site), 403, "other_site")
    assert other.get("/v1/cases").json()["cases"] == []
    assert "不属于您所在的站点" in one_line(case_cli(server, "advance", number, "--to", "审批中",
                                                  user="wangwu"))
    # The administrator sees every site.
    admin = Terminal(server, "county", "admin", device=term.device)
    assert [c["number"] for c in admin.get("/v1/cases").json()["cases"]] == [number]
    unknown = number[:-5] + "9999"
    from app.domain.checksum import mod11_2

    unknown += mod11_2(unknown)
    refusal(admin.get(f"/v1/cases/{unknown}"), 404, "unknown_case")
    refusal(admin.get("/v1/cases/12345"), 422, "bad_case_number")
    assert term.get("/v1/cases/" + number).status_code == 403
    assert admin.get(f"/v1/cases/{number}").json()["version"] == 3   # nothing was moved


def test_notify_pickup_waits_for_办结_and_then_reaches_pull(
        server: Server, client: Workstation) -> None:
    term = Terminal(server)
    number = pushed_case(term, client)
    boss = Terminal(server, "zhang", "supervisor", device=term.device)
    notify = f"/v1/cases/{number}/notify-pickup"
    assert refusal(post(boss, notify), 409, "not_completed") == \
        "办件状态为“已受理”，尚未办结，不能通知取件。"
    assert post(boss, f"/v1/cases/{number}/advance",
                {"to": "办结", "result": "准予"}).status_code == 200
    _, cursor = term.pull_all()
    sent = post(boss, notify, {"note": "请带身份证原件"})
    assert sent.status_code == 200, sent.text
    by_cli = case_cli(server, "notify-pickup", number)
    assert by_cli.returncode == 0 and "已通知取件" in by_cli.stdout, by_cli.stderr
    changes, _ = term.pull_all(cursor)
    assert [(c["entity"], c["kind"]) for c in changes] == [("case_notice", "pickup_notified")] * 2
    first = changes[0]["data"]
    assert (first["number"], first["result"], first["note"], first["notified_by"]) == (
        number, "准予", "请带身份证原件", boss.user_id)
    assert len(boss.get(f"/v1/cases/{number}").json()["notices"]) == 2


def test_another_sites_terminal_cannot_take_a_case_number_from_this_sites_back_office(
        server: Server, client: Workstation) -> None:
    term = Terminal(server)
    number = pushed_case(term, client)
    opened = outbox(client)[0]
    squatter = Terminal(server, "wangwu", "clerk", OTHER_SITE, registrar="zhaoliu")
    prev = GENESIS_HASH
    for taken in (number, int(number[:18])):   # this site's number; not even text
        squat = crafted(opened, squatter, prev, new_case=True, payload={"number": taken})
        pushed = squatter.push([squat])
        [answer] = pushed["results"]
        assert (answer["result"], answer["reason"]) == ("rejected", "bad_case_number")
        prev = pushed["head"]["hash"]
    admin = Terminal(server, "county", "admin", device=term.device)
    shown = admin.get(f"/v1/cases/{number}")
    assert shown.status_code == 200, shown.text
    assert (shown.json()["site"], shown.json()["case_id"]) == (term.site, opened["entity_id"])
    moved = post(admin, f"/v1/cases/{number}/advance", {"to": "审批中"})
    assert moved.status_code == 200, moved.text
    # The other site's supervisor is refused from the number alone, as before.
    boss = Terminal(server, "zhaoliu2", "supervisor", OTHER_SITE, device=squatter.device)
    refusal(boss.get(f"/v1/cases/{number}"), 403, "other_site")
    assert boss.get("/v1/cases").json()["cases"] == []
