"""Push, pull and the chain witness on the real server over loopback.

The ops are the client's own: a workstation on a temporary home accepts cases through
its services, and the tests push what its outbox holds (docs/sync-protocol.md §5–§6).
"""

from __future__ import annotations

import copy
import datetime as dt
import shutil
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import func, select

from app.config import DEMO_SITE_CODE
from app.domain.case import CaseEventKind, Clerk, Decision
from app.domain.numbering import CaseNumber
from app.storage.case_log import append_event
from app.storage.chain import GENESIS_HASH, head_of, row_hash
from app.storage.models import CaseEventRow, OutboxOp
from app.workstation import Workstation, open_workstation
from server import sync_cases
from server.accounts import utc_now
from server.chain_witness import EVENT_KEYS
from server.db import ServerDatabase
from server.sync_models import SyncCaseEventRow, SyncCaseRow, SyncFlagRow, SyncOpRow
from tests.server.conftest import Server
from tests.server.test_accounts_api import add_user, logged_in, refusal, register
from tests.support import accepted_case

OTHER_SITE = "330100002"


class Terminal:
    """A registered terminal with a logged-in user, as the sync engine will hold it."""

    def __init__(self, server: Server, username: str = "lisi", role: str = "clerk",
                 site: str = DEMO_SITE_CODE, registrar: str = "admin",
                 device: dict[str, Any] | None = None) -> None:
        self.server = server
        if device is None:
            if registrar != "admin":
                add_user(server, registrar, "supervisor", site)
            device = register(server, user=registrar, password=_password(registrar)).json()
        self.device, self.terminal = device, device["terminal"]
        add_user(server, username, role, site)
        login = logged_in(server, device["device_token"], username)
        self.user_id, self.site = login["user"]["id"], site
        self._numbers = 0
        self.auth = {"Authorization": f"Bearer {login['access_token']}"}

    def clerk(self) -> Clerk:
        return Clerk(self.user_id, "李四", self.site, self.terminal, "1", "clerk")

    def next_number(self) -> str:
        """A valid case number of this terminal no other test case uses (day 2020-01-01,
        which the client's own cases, numbered today, never reach)."""
        self._numbers += 1
        return str(CaseNumber(self.site, self.terminal, dt.date(2020, 1, 1), self._numbers))

    def push(self, ops: list[dict[str, Any]]) -> dict[str, Any]:
        response = requests.post(f"{self.server.url}/v1/sync/push", json={"ops": ops},
                                 headers=self.auth, timeout=60)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def get(self, path: str, **params: Any) -> requests.Response:
        return requests.get(f"{self.server.url}{path}", params=params, headers=self.auth,
                            timeout=60)

    def pull_all(self, cursor: str = "") -> tuple[list[dict[str, Any]], str]:
        changes: list[dict[str, Any]] = []
        while True:
            page = self.get("/v1/sync/pull", cursor=cursor).json()
            changes += page["changes"]
            cursor = page["cursor"]
            if not page["more"]:
                return changes, cursor


def _password(user: str) -> str:
    from tests.server.conftest import ADMIN_PASSWORD
    from tests.server.test_accounts_api import CLERK_PASSWORD

    return ADMIN_PASSWORD if user == "admin" else CLERK_PASSWORD


def outbox(ws: Workstation) -> list[dict[str, Any]]:
    """The client's pending ops, as the sync engine will push them."""
    with ws.db.read() as session:
        return [{"op_id": o.op_id, "device_seq": o.device_seq, "entity": o.entity,
                 "entity_id": o.entity_id, "kind": o.kind, "base_version": o.base_version,
                 "payload": o.payload, "blob_refs": o.blob_refs,
                 "client_time": o.client_time}
                for o in session.scalars(select(OutboxOp).order_by(OutboxOp.device_seq))]


def results(answer: dict[str, Any]) -> list[str]:
    return [r["result"] for r in answer["results"]]


def back_office_reviews(server: Server, case_id: str) -> None:
    """The back office takes the case into review (审批中): a server event, a new version."""
    db = server_db(server)
    try:
        with db.session() as session:
            sync_cases.apply_server_event(session, case_id, CaseEventKind.STATUS_CHANGED,
                                          {"status": "审批中"}, "backoffice", "审批科",
                                          utc_now())
    finally:
        db.dispose()


def server_db(server: Server) -> ServerDatabase:
    return ServerDatabase(server.settings)


def head_hash(answer: dict[str, Any]) -> str:
    """The hash the terminal's next event must link to, after this push."""
    return str(answer["head"]["hash"]) if answer["head"] else GENESIS_HASH


def crafted(op: dict[str, Any], term: Terminal, prev_hash: str, *,
            payload: dict[str, Any] | None = None, new_case: bool = False,
            **fields: Any) -> dict[str, Any]:
    """``op`` (a real outbox op) rewritten as the next event of ``term``'s chain after
    ``prev_hash`` and hashed with the client's own function: what a newer client, a
    damaged one or a forger holding the device token can push. A ``new_case`` gets a new
    case id and the next free number of ``term``'s own terminal."""
    new = copy.deepcopy(op)
    event = new["payload"]
    event.update(event_id=str(uuid.uuid4()), site=term.site, terminal=term.terminal,
                 clerk_id=term.user_id, prev_hash=prev_hash)
    if new_case:
        event["case_id"] = str(uuid.uuid4())
        event["payload"]["number"] = term.next_number()
    event["payload"].update(payload or {})
    event.update(fields)
    event["hash"] = row_hash(CaseEventRow(**{k: event[k] for k in EVENT_KEYS}))
    new.update(op_id=str(uuid.uuid4()), entity_id=event["case_id"], kind=event["kind"],
               base_version=event["case_seq"] - 1 if type(event["case_seq"]) is int else 0)
    return new


def test_an_accepted_cases_ops_are_applied_and_the_server_acknowledges_the_chain_head(
        server: Server, client: Workstation) -> None:
    term = Terminal(server)
    case = accepted_case(client, term.clerk())
    ops = outbox(client)
    assert [o["kind"] for o in ops] == ["opened", "materials_recorded", "decided"]
    answer = term.push(ops)
    assert results(answer) == ["applied"] * 3
    assert [r["version"] for r in answer["results"]] == [1, 2, 3]
    with client.db.read() as session:
        mine = head_of(session, "events", DEMO_SITE_CODE, term.terminal)
    assert mine is not None
    expected = {"site": DEMO_SITE_CODE, "terminal": term.terminal, "sequence": 3,
                "event_id": mine.key, "hash": mine.hash}
    assert {k: answer["head"][k] for k in expected} == expected
    heads = term.get("/v1/audit/heads").json()["heads"]
    assert [{k: h[k] for k in expected} for h in heads] == [expected]
    # Another site's people never see this site's heads; the administrator sees all.
    other = Terminal(server, "wangwu", "clerk", OTHER_SITE, registrar="zhaoliu")
    assert other.get("/v1/audit/heads").json() == {"heads": []}
    db = server_db(server)
    try:
        with db.session() as session:
            row = session.get(SyncCaseRow, case.id)
            assert row is not None
            assert (row.status, row.version, row.number) == ("已受理", 3, case.number)
            assert sync_cases.case_state(session, case.id).status == case.status
    finally:
        db.dispose()


def test_an_op_pushed_by_ten_concurrent_requests_is_applied_once(
        server: Server, client: Workstation) -> None:
    term = Terminal(server)
    client.cases.open_case("11330100MB0000001X4000215001000", _applicant(), term.clerk())
    [op] = outbox(client)
    start = threading.Barrier(10)

    def once(_: int) -> str:
        start.wait()
        return results(term.push([op]))[0]

    with ThreadPoolExecutor(10) as pool:
        answers = sorted(pool.map(once, range(10)))
    assert answers == ["applied"] + ["duplicate"] * 9
    db = server_db(server)
    try:
        with db.session() as session:
            assert session.scalar(select(func.count()).select_from(SyncOpRow)) == 1
            assert session.scalar(select(func.count()).select_from(SyncCaseEventRow)) == 1
    finally:
        db.dispose()
    assert term.get("/v1/audit/heads").json()["heads"][0]["sequence"] == 1


def _applicant() -> Any:
    from app.domain.case import Applicant, ApplicantKind, IdType

    return Applicant(ApplicantKind.PERSON, "王小明", IdType.RESIDENT_ID, "330102198001010026")


def test_a_transition_the_domain_refuses_is_rejected_with_its_reason_and_the_chain_goes_on(
        server: Server, client: Workstation) -> None:
    term = Terminal(server)
    clerk = term.clerk()
    case = accepted_case(client, clerk)
    # The storage layer writes what the services would refuse: a second decision.
    with client.db.write() as session:
        append_event(session, case.id, 4, CaseEventKind.DECIDED,
                     {"decision": str(Decision.REJECT), "reason": "重复"}, clerk,
                     base_version=3)
    client.pickup.complete(accepted_case(client, clerk).id, clerk)   # another case, later
    answer = term.push(outbox(client))
    assert results(answer) == ["applied"] * 3 + ["rejected"] + ["applied"] * 4
    rejected = answer["results"][3]
    assert rejected["reason"] == "invalid_transition"
    assert rejected["message"] == "办件状态为“已受理”，不能再作受理决定。"
    # Rejected, yet witnessed: the terminal's later events still extend the head.
    assert answer["head"]["sequence"] == 8
    again = term.push([outbox(client)[3]])
    assert again["results"][0] == rejected       # the same answer, never applied later


def test_an_op_based_on_an_old_version_is_stored_and_flagged_never_overwriting(
        server: Server, client: Workstation) -> None:
    term = Terminal(server)
    clerk = term.clerk()
    case = accepted_case(client, clerk)
    assert results(term.push(outbox(client))) == ["applied"] * 3
    back_office_reviews(server, case.id)
    client.pickup.complete(case.id, clerk)   # meanwhile the window records 办结 on v3
    op = outbox(client)[-1]
    answer = term.push([op])["results"][0]
    assert (answer["result"], answer["server_version"]) == ("conflict", 4)
    assert term.push([op])["results"][0]["result"] == "duplicate"
    db = server_db(server)
    try:
        with db.session() as session:
            row = session.get(SyncCaseRow, case.id)
            assert row is not None and (row.status, row.version) == ("审批中", 4)
            stored = session.get(SyncOpRow, op["op_id"])
            assert stored is not None and stored.result == "conflict"
            assert stored.payload == op["payload"]
    finally:
        db.dispose()
    admin = Terminal(server, "zhangsan", "supervisor")
    [flag] = admin.get("/v1/audit/flags").json()["flags"]
    assert (flag["kind"], flag["op_id"], flag["entity_id"]) == ("conflict", op["op_id"],
                                                                  case.id)
    assert flag["detail"] == {"base_version": 3, "server_version": 4,
                              "kind": "status_changed"}
    refusal(term.get("/v1/audit/flags"), 403, "not_allowed")   # a clerk does not settle


def test_a_case_of_another_site_is_rejected_and_a_shared_terminals_agent_pushes_its_outbox(
        server: Server, client: Workstation) -> None:
    term = Terminal(server)
    accepted_case(client, term.clerk())
    ops = outbox(client)
    other = Terminal(server, "wangwu", "clerk", OTHER_SITE, registrar="zhaoliu")
    answer = other.push(ops)
    assert {(r["result"], r["reason"]) for r in answer["results"]} == {("rejected",
                                                                         "other_site")}
    assert answer["head"] is None     # not its chain: nothing witnessed, nothing kept
    # An agent logged in on the same PC pushes the outbox: the clerk's events are judged
    # by their author, the clerk, not by who happens to push them.
    agent = Terminal(server, "daiban", "agent", device=term.device)
    assert results(agent.push(ops)) == ["applied"] * 3
    assert results(term.push(ops)) == ["duplicate"] * 3
    assert agent.get("/v1/sync/pull").json()["changes"] == []   # not its case


def test_an_agents_event_on_a_case_it_did_not_register_is_kept_rejected_and_the_chain_goes_on(
        server: Server, client: Workstation) -> None:
    term = Terminal(server)
    accepted_case(client, term.clerk())
    ops = outbox(client)
    answer = term.push(ops[:2])
    agent = Terminal(server, "daiban", "agent", device=term.device)
    # The agent writes the decision on the clerk's case (the client would not; a forger
    # with the device token can).
    theirs = crafted(ops[2], agent, head_hash(answer))
    refused = agent.push([theirs])
    assert [(r["result"], r.get("reason")) for r in refused["results"]] == [
        ("rejected", "not_yours")]
    assert refused["head"]["sequence"] == 3          # witnessed all the same
    # The terminal's next honest event still extends the chain: nothing is blocked.
    mine = crafted(ops[0], agent, head_hash(refused), new_case=True)
    later = agent.push([mine])
    assert results(later) == ["applied"] and later["head"]["sequence"] == 4
    assert agent.push([theirs])["results"] == refused["results"]    # kept: same answer
    db = server_db(server)
    try:
        with db.session() as session:
            stored = session.get(SyncOpRow, theirs["op_id"])
            assert stored is not None and (stored.result, stored.reason) == ("rejected",
                                                                             "not_yours")
            assert session.scalars(select(SyncFlagRow)).first() is None   # no tampering
    finally:
        db.dispose()


def test_an_unknown_event_kind_is_witnessed_kept_and_flagged_and_the_chain_goes_on(
        server: Server, client: Workstation) -> None:
    term = Terminal(server)
    accepted_case(client, term.clerk())
    ops = outbox(client)
    answer = term.push(ops)
    newer = crafted(ops[2], term, head_hash(answer), kind="future_kind", case_seq=4)
    [refused] = term.push([newer])["results"]
    assert (refused["result"], refused["reason"]) == ("rejected", "unknown_kind")
    honest = crafted(ops[0], term, newer["payload"]["hash"], new_case=True)
    after = term.push([honest])
    assert results(after) == ["applied"] and after["head"]["sequence"] == 5
    boss = Terminal(server, "zhangsan", "supervisor", device=term.device)
    flags = boss.get("/v1/audit/flags").json()["flags"]
    assert [(f["kind"], f["op_id"], f["detail"]) for f in flags] == [
        ("unknown_kind", newer["op_id"], {"kind": "future_kind"})]


def test_an_op_id_pushed_again_with_rewritten_content_is_refused_and_flagged(
        server: Server, client: Workstation) -> None:
    term = Terminal(server)
    accepted_case(client, term.clerk())
    ops = outbox(client)
    assert results(term.push(ops)) == ["applied"] * 3
    rewritten = copy.deepcopy(ops[0])
    event = rewritten["payload"]
    event["payload"]["applicant"]["name"] = "篡改后"
    event["hash"] = row_hash(CaseEventRow(**{k: event[k] for k in EVENT_KEYS}))
    for _ in range(2):   # one flag, however often it comes back
        [answer] = term.push([rewritten])["results"]
        assert (answer["result"], answer["reason"]) == ("rejected", "op_id_reused")
    assert term.push([ops[0]])["results"][0]["result"] == "duplicate"   # the real one
    boss = Terminal(server, "zhangsan", "supervisor", device=term.device)
    flags = boss.get("/v1/audit/flags").json()["flags"]
    assert [(f["kind"], f["op_id"]) for f in flags] == [("op_id_reused", ops[0]["op_id"])]
    db = server_db(server)
    try:
        with db.session() as session:
            stored = session.get(SyncOpRow, ops[0]["op_id"])
            assert stored is not None and stored.payload == ops[0]["payload"]
    finally:
        db.dispose()


def test_a_rewritten_client_chain_is_refused_and_flagged(
        server: Server, client: Workstation, tmp_path: Path) -> None:
    term = Terminal(server)
    clerk = term.clerk()
    accepted_case(client, clerk)
    home = client.settings.data_dir
    client.close()
    backup = shutil.copytree(home, tmp_path / "backup")
    later = open_workstation(home)
    try:
        accepted_case(later, clerk)
        assert results(term.push(outbox(later))) == ["applied"] * 6
    finally:
        later.close()
    restored = open_workstation(backup)   # an older copy put back on the terminal
    try:
        accepted_case(restored, clerk)
        answer = term.push(outbox(restored))
    finally:
        restored.close()
    assert results(answer) == ["duplicate"] * 3 + ["rejected"] * 3
    assert {r["reason"] for r in answer["results"][3:]} == {"chain_rewritten"}
    assert "从第3条之后" in answer["results"][3]["message"]
    assert answer["head"]["sequence"] == 6        # what the server saw stands
    db = server_db(server)
    try:
        with db.session() as session:
            flags = list(session.scalars(select(SyncFlagRow).order_by(SyncFlagRow.created_at)))
    finally:
        db.dispose()
    assert [f.kind for f in flags] == ["chain_rewritten"] * 3
    assert flags[0].detail["forks_after"] == 3 and flags[0].detail["head_sequence"] == 6


def test_an_event_edited_after_it_was_hashed_is_refused(
        server: Server, client: Workstation) -> None:
    term = Terminal(server)
    accepted_case(client, term.clerk())
    ops = outbox(client)
    ops[0]["payload"]["payload"]["applicant"]["name"] = "王大明"
    answer = term.push(ops)
    assert [r.get("reason") for r in answer["results"]] == ["hash_mismatch",
                                                              "chain_rewritten",
                                                              "chain_rewritten"]
    assert answer["head"] is None


def test_pull_returns_pushed_and_back_office_changes_and_its_cursor_resumes(
        server: Server, client: Workstation) -> None:
    term = Terminal(server)
    case = accepted_case(client, term.clerk())
    term.push(outbox(client))
    first = term.get("/v1/sync/pull", limit=2).json()
    assert [c["kind"] for c in first["changes"]] == ["opened", "materials_recorded"]
    assert first["more"] is True
    rest = term.get("/v1/sync/pull", cursor=first["cursor"]).json()
    assert [c["kind"] for c in rest["changes"]] == ["decided"] and rest["more"] is False
    assert rest["changes"][0]["data"]["status"] == "已受理"
    back_office_reviews(server, case.id)
    then = term.get("/v1/sync/pull", cursor=rest["cursor"]).json()
    [change] = then["changes"]
    assert (change["entity_id"], change["data"]["origin"], change["data"]["status"]) == (
        case.id, "server", "审批中")
    idle = term.get("/v1/sync/pull", cursor=then["cursor"]).json()
    assert idle == {"changes": [], "cursor": then["cursor"], "more": False}
    refusal(term.get("/v1/sync/pull", cursor="not-a-cursor"), 422, "bad_cursor")
    other = Terminal(server, "wangwu", "clerk", OTHER_SITE, registrar="zhaoliu")
    assert other.get("/v1/sync/pull").json()["changes"] == []


def test_a_slow_concurrent_writer_does_not_make_pull_miss_a_change(
        server: Server, client: Workstation) -> None:
    term = Terminal(server)
    clerk = term.clerk()
    first = accepted_case(client, clerk)
    term.push(outbox(client))
    _, start = term.pull_all()
    accepted_case(client, clerk)
    second_ops = outbox(client)[3:]
    db = server_db(server)
    pool = ThreadPoolExecutor(2)
    try:
        with db.session() as session:
            # The slow writer takes its change number, then stays open while a push
            # and a pull run against the server.
            sync_cases.apply_server_event(session, first.id, CaseEventKind.STATUS_CHANGED,
                                    {"status": "审批中"}, "backoffice", "审批科",
                                    utc_now())
            pushing = pool.submit(term.push, second_ops)
            # A design that numbers changes when they are made lets this push commit
            # now, above the slow writer's number; this one makes it wait for the commit.
            with suppress(TimeoutError):
                pushing.result(timeout=2)
            pulling = pool.submit(lambda: term.get("/v1/sync/pull", cursor=start).json())
            with suppress(TimeoutError):   # PostgreSQL answers at once; SQLite waits
                pulling.result(timeout=2)
        # Committed: both requests finish now.
        assert results(pushing.result()) == ["applied"] * 3
        during: dict[str, Any] = pulling.result()
    finally:
        pool.shutdown()
        db.dispose()
    everything, _ = term.pull_all(start)
    kinds = [(c["data"]["origin"], c["kind"]) for c in everything]
    assert sorted(kinds) == sorted([("server", "status_changed"), ("terminal", "opened"),
                                    ("terminal", "materials_recorded"),
                                    ("terminal", "decided")])
    # Whatever the pull during the slow write saw, resuming from its cursor gives the
    # rest: together exactly everything, nothing skipped.
    after, _ = term.pull_all(during["cursor"])
    assert during["changes"] + after == everything

