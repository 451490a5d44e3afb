"""Push: ops waiting for their blobs, and bad input refused whole or per op, never with
a 5xx; pull: forged cursors (docs/sync-protocol.md §5–§6), on the real server over
loopback."""

from __future__ import annotations

import base64
import hashlib
import uuid
from typing import Any

import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.storage.chain import GENESIS_HASH
from app.workstation import Workstation
from tests.server.conftest import Server
from tests.server.test_accounts_api import refusal
from tests.server.test_blobs_api import declare, upload
from tests.server.test_sync_api import (
    OTHER_SITE,
    Terminal,
    crafted,
    head_hash,
    outbox,
    results,
)
from tests.support import accepted_case


def document_op(case_id: str, pdf: bytes) -> dict[str, Any]:
    """What the client's print archive queues for a printed PDF (app.services.
    document_archive): the blob is referenced, so it must be on the server first."""
    sha = hashlib.sha256(pdf).hexdigest()
    return {"op_id": str(uuid.uuid4()), "device_seq": 99, "entity": "case_document",
            "entity_id": str(uuid.uuid4()), "kind": "printed", "base_version": 0,
            "payload": {"case_id": case_id, "kind": "受理通知书", "title": "受理通知书",
                        "sha256": sha, "reprint": False, "outcome": "printed",
                        "attempt_of": "", "target": "窗口打印机", "clerk_id": "x",
                        "printed_at": "2026-11-29T01:02:03"},
            "blob_refs": [sha], "client_time": "2026-11-29T01:02:03+00:00"}


def test_an_op_whose_blob_is_not_on_the_server_waits_for_it_and_keeps_nothing(
        server: Server, client: Workstation) -> None:
    term = Terminal(server)
    case = accepted_case(client, term.clerk())
    assert results(term.push(outbox(client))) == ["applied"] * 3
    pdf = b"%PDF-1.7 " + uuid.uuid4().bytes * 500
    op = document_op(case.id, pdf)
    for _ in range(2):   # nothing was kept: asked again, the answer is the same
        [answer] = term.push([op])["results"]
        assert answer == {"op_id": op["op_id"], "result": "missing_blobs",
                          "blobs": op["blob_refs"]}
    assert [c["entity"] for c in term.pull_all()[0]] == ["case"] * 3
    assert declare(server, term.auth, pdf).status_code == 201
    upload(server, term.auth, pdf, 4096)
    assert results(term.push([op])) == ["applied"]
    last = term.pull_all()[0][-1]
    assert (last["entity"], last["entity_id"], last["data"]) == (
        "case_document", op["entity_id"], op["payload"])


def test_bad_pushes_are_refused_whole_and_unknown_ops_one_by_one(
        server: Server, client: Workstation) -> None:
    term = Terminal(server)
    accepted_case(client, term.clerk())
    ops = outbox(client)

    def push(body: Any, **headers: str) -> requests.Response:
        return requests.post(f"{server.url}/v1/sync/push", json=body, timeout=60,
                             headers=headers or term.auth)

    refusal(push({"ops": ops}, Accept="application/json"), 401, "no_token")
    refusal(push({"ops": [ops[0]] * 501}), 422, "invalid_request")
    refusal(push({"ops": [{**ops[0], "device_seq": "5"}]}), 422, "invalid_request")
    refusal(push({"ops": [{**ops[0], "extra": 1}]}), 422, "invalid_request")
    refusal(push({"ops": [{**ops[0], "blob_refs": ["../../etc/passwd"]}]}), 422,
            "invalid_request")
    refusal(push({"ops": ops, "cursor": "x"}), 422, "invalid_request")
    strange = {**ops[0], "op_id": str(uuid.uuid4()), "entity": "spaceship"}
    answer = term.push([strange, *ops])
    assert [r.get("reason") for r in answer["results"]] == ["unknown_entity", None, None,
                                                            None]
    assert results(answer)[1:] == ["applied"] * 3   # the refusals before changed nothing


def _opened_template(term: Terminal, client: Workstation) -> dict[str, Any]:
    """The client's own ``opened`` op, pushed: a real event to craft others from."""
    client.cases.open_case("11330100MB0000001X4000215001000", _applicant(), term.clerk())
    [op] = outbox(client)
    return op


def _applicant() -> Any:
    from tests.server.test_sync_api import _applicant as applicant

    return applicant()


APPLICANT = {"kind": "自然人", "name": "王小明", "id_type": "居民身份证",
             "id_number": "330102198001010026"}
# Opened events the client never writes, each hashed and chained correctly: every one is
# witnessed, kept as a rejection, and never a 5xx on either database.
MALFORMED: list[tuple[str, dict[str, Any], dict[str, Any], str]] = [
    ("item_name an integer", {"item_name": 123}, {}, "bad_payload"),
    ("applicant name an integer", {"applicant": {**APPLICANT, "name": 5}}, {}, "bad_payload"),
    ("applicant a list", {"applicant": ["王小明"]}, {}, "bad_payload"),
    ("item_code a dict", {"item_code": {"a": 1}}, {}, "bad_payload"),
    ("item_code of 100 characters", {"item_code": "x" * 100}, {}, "bad_payload"),
    ("item_name with a NUL", {"item_name": "食品\x00经营"}, {}, "bad_payload"),
    ("number an integer", {"number": 12345}, {}, "bad_case_number"),
    ("number a list", {"number": ["x"]}, {}, "bad_case_number"),
    ("number of 40 digits", {"number": "3" * 40}, {}, "bad_case_number"),
    ("clerk_name with a NUL", {}, {"clerk_name": "李\x00四"}, "bad_payload"),
    ("clerk_name of 65 characters", {}, {"clerk_name": "李" * 65}, "bad_payload"),
    ("window of 9 characters", {}, {"window": "123456789"}, "bad_payload"),
    ("occurred_at not a time", {}, {"occurred_at": "yesterday"}, "bad_payload"),
]


def test_malformed_opened_events_are_kept_rejections_never_5xx_and_never_block_the_chain(
        server: Server, client: Workstation) -> None:
    term = Terminal(server)
    template = _opened_template(term, client)
    prev = GENESIS_HASH
    for sequence, (label, payload, fields, reason) in enumerate(MALFORMED, start=1):
        op = crafted(template, term, prev, payload=payload, new_case=True, **fields)
        answer = term.push([op])
        [result] = answer["results"]
        assert (result["result"], result.get("reason")) == ("rejected", reason), label
        assert answer["head"]["sequence"] == sequence, label   # witnessed: the chain goes on
        prev = head_hash(answer)
        assert term.push([op])["results"] == [result], label   # kept: the same answer
    assert results(term.push([crafted(template, term, prev, new_case=True)])) == ["applied"]


def test_an_opened_event_with_another_terminals_or_a_taken_number_is_rejected(
        server: Server, client: Workstation) -> None:
    term = Terminal(server)
    template = _opened_template(term, client)
    answer = term.push([template])
    assert results(answer) == ["applied"]
    number = template["payload"]["payload"]["number"]
    # The same terminal issuing its own number twice (a damaged or forged outbox).
    again = crafted(template, term, head_hash(answer), new_case=True,
                    payload={"number": number})
    answer = term.push([again])
    assert [(r["result"], r.get("reason")) for r in answer["results"]] == [
        ("rejected", "number_taken")]
    # Another site's terminal pushing this site's number: its own chain, a number it
    # never issued.
    other = Terminal(server, "wangwu", "clerk", OTHER_SITE, registrar="zhaoliu")
    squat = crafted(template, other, GENESIS_HASH, new_case=True, payload={"number": number})
    answer = other.push([squat])
    assert [(r["result"], r.get("reason")) for r in answer["results"]] == [
        ("rejected", "bad_case_number")]
    assert answer["head"]["sequence"] == 1


def test_an_event_id_used_before_or_an_unstorable_payload_is_refused_and_keeps_nothing(
        server: Server, client: Workstation) -> None:
    term = Terminal(server)
    template = _opened_template(term, client)
    answer = term.push([template])
    used = template["payload"]["event_id"]
    other = Terminal(server, "wangwu", "clerk", OTHER_SITE, registrar="zhaoliu")
    copied = crafted(template, other, GENESIS_HASH, new_case=True, event_id=used)
    assert [r.get("reason") for r in other.push([copied])["results"]] == ["bad_op"]
    mine = crafted(template, term, head_hash(answer), new_case=True, event_id=used)
    assert [r.get("reason") for r in term.push([mine])["results"]] == ["bad_op"]
    nested: Any = "x"
    for _ in range(40):
        nested = {"a": nested}
    ticket = {**template, "entity": "queue_ticket", "blob_refs": []}
    for payload in ({"note": "\ud800"}, {"deep": nested}):
        op = {**ticket, "op_id": str(uuid.uuid4()), "payload": payload}
        assert [r.get("reason") for r in term.push([op])["results"]] == ["bad_op"]
    # A NUL inside a payload is stored escaped by both databases, and pulled back as sent.
    nul = {**ticket, "op_id": str(uuid.uuid4()), "payload": {"note": "a\x00b"}}
    assert results(term.push([nul])) == ["applied"]
    assert term.pull_all()[0][-1]["data"] == {"note": "a\x00b"}
    unhashable = crafted(template, term, head_hash(answer), new_case=True)
    unhashable["payload"]["payload"]["item_name"] = "\udc80"
    assert [r.get("reason") for r in term.push([unhashable])["results"]] == ["bad_op"]
    # Nothing of these was witnessed: the head is where the first push left it.
    assert term.push([])["head"] == answer["head"]
    for field in ("op_id", "entity_id", "client_time"):
        bad = {**template, field: template[field][:-1] + "\x00"}
        response = requests.post(f"{server.url}/v1/sync/push", json={"ops": [bad]},
                                 headers=term.auth, timeout=60)
        refusal(response, 422, "invalid_request")


_SCALARS = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
            | st.text(max_size=80))
_JSON = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=6)
_PAYLOAD_FIELDS = ("number", "item_code", "item_name", "item_version", "applicant", "agent",
                   "opened_on", "bundle_code")
_EVENT_FIELDS = ("clerk_name", "clerk_id", "window", "occurred_at")


def test_any_opened_payload_is_answered_per_op_and_only_a_witnessed_event_moves_the_head(
        server: Server, client: Workstation) -> None:
    term = Terminal(server)
    template = _opened_template(term, client)

    @settings(max_examples=25, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(payload=st.dictionaries(st.sampled_from(_PAYLOAD_FIELDS), _JSON, max_size=3),
           fields=st.dictionaries(st.sampled_from(_EVENT_FIELDS), _JSON, max_size=2))
    def one_push(payload: dict[str, Any], fields: dict[str, Any]) -> None:
        prev = head_hash(term.push([]))
        op = crafted(template, term, prev, payload=payload, new_case=True, **fields)
        answer = term.push([op])   # asserts 200: never a 5xx, never the batch refused
        [result] = answer["results"]
        assert result["result"] in ("applied", "rejected"), result
        assert result.get("reason") in (None, "bad_op", "bad_payload", "bad_case_number",
                                        "number_taken"), result
        witnessed = result.get("reason") != "bad_op"
        assert (head_hash(answer) == op["payload"]["hash"]) is witnessed, result

    one_push()


def test_a_forged_pull_cursor_is_refused_and_one_ahead_of_the_server_says_so(
        server: Server, client: Workstation) -> None:
    term = Terminal(server)
    accepted_case(client, term.clerk())
    term.push(outbox(client))
    changes, cursor = term.pull_all()
    assert len(changes) == 3

    def forged(text: str) -> str:
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    # str.isdigit() takes all of these; only ASCII digits are a change number.
    for text in ("c1:²", "c1:１２", "c1:١٢٣", "c1:-5", "c1:+5", "c1: 5", "c1:" + "9" * 19,
                 "c1:", "c2:5"):
        refusal(term.get("/v1/sync/pull", cursor=forged(text)), 422, "bad_cursor")
    for text in ("c1:4", "c1:" + "9" * 18):   # numbers this server never gave
        refusal(term.get("/v1/sync/pull", cursor=forged(text)), 409, "cursor_ahead")
    assert term.get("/v1/sync/pull", cursor=forged("c1:3")).json() == {
        "changes": [], "cursor": cursor, "more": False}
    assert len(term.get("/v1/sync/pull", cursor=forged("c1:0002")).json()["changes"]) == 1


def test_scanned_pages_reach_the_server_only_after_their_blobs_and_replay_there(
        server: Server, client: Workstation) -> None:
    from app.capture.fake_source import PageKind, scanned
    from app.capture.prepare import captured_pages
    from app.capture.profiles import DEFAULT
    from app.capture.source import RawPage
    from server.sync_cases import case_state
    from tests.server.test_sync_api import server_db

    term = Terminal(server)
    case = accepted_case(client, term.clerk())
    raws = [RawPage(scanned(PageKind.FORM, 1.0, 200, seed).image, 200, "fake")
            for seed in (1, 2)]
    pages = list(captured_pages(raws, DEFAULT))
    material = case.materials[0].material_id
    client.scans.add(case.id, material, pages, term.clerk())
    ops = outbox(client)
    assert results(term.push(ops[:3])) == ["applied"] * 3
    named = sorted(hashlib.sha256(p.page.jpeg).hexdigest() for p in pages)
    # The pages are waited for even when the op does not list them as its blobs.
    for op in (ops[3], {**ops[3], "blob_refs": []}):
        [answer] = term.push([op])["results"]
        assert (answer["result"], sorted(answer["blobs"])) == ("missing_blobs", named)
    for page in pages:
        assert declare(server, term.auth, page.page.jpeg, "image/jpeg").status_code == 201
        upload(server, term.auth, page.page.jpeg, 64 * 1024)
    assert results(term.push(ops[3:])) == ["applied"]
    db = server_db(server)
    try:
        with db.session() as session:
            on_server = case_state(session, case.id)
    finally:
        db.dispose()
    assert on_server.pages == client.cases.get(case.id).pages
