"""The hall's shared queue on the real server (SQLite and PostgreSQL): the client's rules
for every window of a site, no ticket called twice or skipped when windows call at once,
each site its own queue, and the display feed as server-sent events."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from app.domain.queue_policy import WindowConfig
from server import accounts
from server.db import ServerDatabase
from server.queue_store import SiteQueueStore
from tests.server.conftest import Server
from tests.server.test_accounts_api import CLERK_PASSWORD, add_user, logged_in, register

WINDOWS = [str(n) for n in range(1, 11)]


def clerk_token(server: Server, username: str = "lisi", site: str | None = None) -> str:
    """A clerk logged in on a terminal of ``site`` (the demo site by default), registered
    by that site's own supervisor."""
    if site is None:
        device = register(server).json()["device_token"]
        add_user(server, username)
    else:
        add_user(server, f"boss-{site}", role="supervisor", site=site)
        device = register(server, user=f"boss-{site}", password=CLERK_PASSWORD).json()[
            "device_token"]
        add_user(server, username, site=site)
    return str(logged_in(server, device, username)["access_token"])


def api(server: Server, token: str, method: str, path: str, body: Any = None
        ) -> requests.Response:
    return requests.request(method, f"{server.url}/v1/queue{path}", json=body, timeout=60,
                            headers={"Authorization": f"Bearer {token}"})


def ok(response: requests.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    data: dict[str, Any] = response.json()
    return data


def test_two_windows_call_different_tickets_by_the_clients_own_rules(server: Server) -> None:
    token = clerk_token(server)
    first = ok(api(server, token, "POST", "/tickets", {"category": "A"}))
    assert (first["ticket"]["number"], first["category_name"], first["waiting_ahead"]) == (
        "A001", "综合受理", 0)
    ok(api(server, token, "POST", "/tickets", {"category": "A"}))
    elderly = ok(api(server, token, "POST", "/tickets", {
        "category": "A", "ticket_class": "优先", "priority_reason": "残疾人"}))
    assert elderly["ticket"]["number"] == "A003"
    one = ok(api(server, token, "POST", "/windows/1/call"))["ticket"]
    two = ok(api(server, token, "POST", "/windows/2/call"))["ticket"]
    assert (one["number"], two["number"]) == ("A003", "A001")   # 优先 first, then in order
    busy = api(server, token, "POST", "/windows/1/call")
    assert busy.status_code == 409 and "正在办理A003号" in busy.json()["message"]
    assert ok(api(server, token, "POST", "/windows/1/finish"))["ticket"]["status"] == "finished"
    status = ok(api(server, token, "GET", "/status"))
    assert status["waiting"] == {"A": 1, "B": 0, "C": 0}
    assert status["current"]["2"]["number"] == "A001" and status["current"]["1"] is None


def test_ten_windows_calling_at_once_never_get_the_same_ticket_nor_skip_one(
        server: Server) -> None:
    token = clerk_token(server)
    db = ServerDatabase(server.settings)
    try:
        store = SiteQueueStore(db, "330100001")
        for window in WINDOWS:
            store.save_window(WindowConfig(window, f"{window}号窗口", (("A", 1), ("C", 2))))
    finally:
        db.dispose()
    taken = [ok(api(server, token, "POST", "/tickets", {"category": "AC"[i % 2]}))["ticket"]
             ["number"] for i in range(40)]

    def window_calls(window: str) -> list[str]:
        called = []
        while True:
            ticket = ok(api(server, token, "POST", f"/windows/{window}/call"))["ticket"]
            if ticket is None:
                return called
            called.append(ticket["number"])
            ok(api(server, token, "POST", f"/windows/{window}/finish"))

    with ThreadPoolExecutor(len(WINDOWS)) as pool:
        called = [n for numbers in pool.map(window_calls, WINDOWS) for n in numbers]
    assert [n for n, c in Counter(called).items() if c > 1] == []
    assert sorted(called) == sorted(taken)


def test_each_site_has_its_own_queue(server: Server) -> None:
    here = clerk_token(server)
    ok(api(server, here, "POST", "/tickets", {"category": "A"}))
    there = clerk_token(server, "wangwu", site="330100002")
    assert ok(api(server, there, "POST", "/tickets", {"category": "A"}))["ticket"]["number"] \
        == "A001"   # its own series
    assert ok(api(server, there, "GET", "/status"))["waiting"]["A"] == 1
    assert ok(api(server, here, "POST", "/windows/1/call"))["ticket"]["number"] == "A001"
    assert ok(api(server, there, "GET", "/status"))["waiting"]["A"] == 1


def test_refusals_of_the_rules_and_of_the_request(server: Server) -> None:
    token = clerk_token(server)
    unknown = api(server, token, "POST", "/windows/9/call")
    assert unknown.status_code == 409 and "没有配置排队业务" in unknown.json()["message"]
    wrong = api(server, token, "POST", "/tickets", {"category": "Z"})
    assert wrong.status_code == 409 and "没有可取号的业务类别" in wrong.json()["message"]
    bad = api(server, token, "POST", "/tickets", {"category": "A", "ticket_class": "VIP"})
    assert (bad.status_code, bad.json()["error"]) == (422, "invalid_request")
    assert api(server, token, "POST", "/windows/1/dance").status_code == 422
    anonymous = requests.post(f"{server.url}/v1/queue/tickets", json={"category": "A"},
                              timeout=30)
    assert (anonymous.status_code, anonymous.json()["error"]) == (401, "no_token")


def test_the_display_feed_sends_a_call_as_it_happens(server: Server) -> None:
    token = clerk_token(server)
    ok(api(server, token, "POST", "/tickets", {"category": "A"}))
    with requests.get(f"{server.url}/v1/queue/feed", stream=True, timeout=30,
                      headers={"Authorization": f"Bearer {token}"}) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines(decode_unicode=True)
        assert next(lines).startswith(": 一窗通叫号")   # connected: now the call is made
        ok(api(server, token, "POST", "/windows/2/call"))
        event: dict[str, str] = {}
        for line in lines:
            if line.startswith("data: "):
                event = json.loads(line.removeprefix("data: "))
                break
        assert (event["number"], event["kind"], event["window"]) == ("A001", "called", "2")


def _feed_events(stream: requests.Response) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event name, data) of each event of a server-sent stream, as it comes."""
    name = "message"
    for line in stream.iter_lines(decode_unicode=True):
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            yield name, json.loads(line.removeprefix("data: "))
            name = "message"


def test_a_display_reconnecting_with_its_last_event_id_gets_what_it_missed(
        server: Server) -> None:
    token = clerk_token(server)
    for _ in range(3):
        ok(api(server, token, "POST", "/tickets", {"category": "A"}))
    auth = {"Authorization": f"Bearer {token}"}
    with requests.get(f"{server.url}/v1/queue/feed", params={"after": 0}, stream=True,
                      timeout=30, headers=auth) as stream:
        first = next(_feed_events(stream))[1]
    assert (first["number"], first["kind"]) == ("A001", "issued")
    ok(api(server, token, "POST", "/windows/1/call"))
    with requests.get(f"{server.url}/v1/queue/feed", stream=True, timeout=30,
                      headers={**auth, "Last-Event-ID": "1"}) as stream:
        events = _feed_events(stream)
        missed = [next(events)[1] for _ in range(3)]
    assert [(e["number"], e["kind"]) for e in missed] == [
        ("A002", "issued"), ("A003", "issued"), ("A001", "called")]


def test_a_feed_starting_point_that_is_no_event_number_is_refused(server: Server) -> None:
    token = clerk_token(server)
    auth = {"Authorization": f"Bearer {token}"}
    for params, headers in (({"after": 2**63}, {}), ({"after": -1}, {}),
                            ({}, {"Last-Event-ID": "²"}), ({}, {"Last-Event-ID": "1e5"}),
                            ({}, {"Last-Event-ID": str(2**63)})):
        refused = requests.get(f"{server.url}/v1/queue/feed", params=params, timeout=30,
                               headers={**auth, **headers})
        assert (refused.status_code, refused.json()["error"]) == (422, "invalid_request"), (
            params, headers)


def test_revoking_the_device_ends_its_open_display_feed(server: Server) -> None:
    device = register(server).json()
    add_user(server, "lisi")
    token = logged_in(server, device["device_token"], "lisi")["access_token"]
    with requests.get(f"{server.url}/v1/queue/feed", stream=True, timeout=60,
                      headers={"Authorization": f"Bearer {token}"}) as stream:
        events = _feed_events(stream)
        db = ServerDatabase(server.settings)
        try:
            with db.session() as session:
                accounts.revoke_device(session, device["device_id"], dt.datetime.now(dt.UTC))
        finally:
            db.dispose()
        name, data = next(events)
        assert (name, data["error"]) == ("closed", "device_revoked")
        assert list(events) == []   # and the stream has ended
