"""Push: ops waiting for their blobs, and bad input refused whole or per op
(docs/sync-protocol.md §5), on the real server over loopback."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import requests

from app.workstation import Workstation
from tests.server.conftest import Server
from tests.server.test_accounts_api import refusal
from tests.server.test_blobs_api import declare, upload
from tests.server.test_sync_api import Terminal, client, outbox, results, seeded_client
from tests.support import accepted_case

__all__ = ["client", "seeded_client"]   # the fixtures, shared with test_sync_api


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
