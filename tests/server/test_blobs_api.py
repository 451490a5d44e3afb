"""Blobs on the real server over loopback (docs/sync-protocol.md §7): declare, upload in
chunks, resume after a restart of the server and after a connection cut mid-chunk, the
whole hash verified before acceptance, and every refusal."""

from __future__ import annotations

import hashlib
import http.client
import json
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from server import blobs
from server.accounts import ApiError
from server.api.blobs import header_int
from tests.server.conftest import Server, fresh_database, init_home, start
from tests.server.test_accounts_api import (
    CLERK_PASSWORD,
    add_user,
    logged_in,
    refusal,
    register,
)

CHUNK_TYPE = "application/offset+octet-stream"


def pdf(size: int, seed: int = 1) -> bytes:
    """A blob that starts like a PDF (the server checks the type), of ``size`` bytes."""
    filler = hashlib.shake_256(seed.to_bytes(4, "big")).digest(size)
    return (b"%PDF-1.7\n" + filler)[:size]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def clerk(server: Server, username: str = "lisi", site: str | None = None) -> dict[str, str]:
    """Headers of a clerk logged in on a terminal of the demo site (or of ``site``)."""
    if site is None:
        device = register(server).json()
        add_user(server, username)
    else:
        add_user(server, "zhang" + username, role="supervisor", site=site)
        add_user(server, username, site=site)
        device = register(server, user="zhang" + username, password=CLERK_PASSWORD).json()
    access = logged_in(server, device["device_token"], username)["access_token"]
    return {"Authorization": f"Bearer {access}"}


def declare(server: Server, auth: dict[str, str], data: bytes,
            media_type: str = "application/pdf", **override: Any) -> requests.Response:
    body = {"sha256": sha(data), "size": len(data), "type": media_type, **override}
    return requests.post(f"{server.url}/v1/blobs", json=body, headers=auth, timeout=30)


def patch(server: Server, auth: dict[str, str], name: str, offset: int,
          chunk: bytes) -> requests.Response:
    return requests.patch(f"{server.url}/v1/blobs/{name}", data=chunk, timeout=60,
                          headers={**auth, "Upload-Offset": str(offset),
                                   "Content-Type": CHUNK_TYPE})


def head(server: Server, auth: dict[str, str], name: str) -> requests.Response:
    return requests.head(f"{server.url}/v1/blobs/{name}", headers=auth, timeout=30)


def get(server: Server, auth: dict[str, str], name: str) -> requests.Response:
    return requests.get(f"{server.url}/v1/blobs/{name}", headers=auth, timeout=60)


def opened(server: Server, method: str, path: str, headers: dict[str, str],
           body: bytes = b"") -> http.client.HTTPConnection:
    """A raw request whose headers (Content-Length too) are sent exactly as given,
    followed by ``body``: it may promise more than it sends. Read or close it after."""
    where = urlsplit(server.url)
    conn = http.client.HTTPConnection(where.hostname or "", where.port, timeout=60)
    conn.putrequest(method, path, skip_accept_encoding=True)
    for key, value in headers.items():
        conn.putheader(key, value)
    conn.endheaders()
    if body:
        conn.send(body)
    return conn


def chunk_headers(auth: dict[str, str], offset: int, length: int) -> dict[str, str]:
    return {**auth, "Upload-Offset": str(offset), "Content-Type": CHUNK_TYPE,
            "Content-Length": str(length)}


def offset_of(server: Server, auth: dict[str, str], name: str) -> int:
    answer = head(server, auth, name)
    assert answer.status_code == 200, answer.status_code
    return int(answer.headers["Upload-Offset"])


def upload(server: Server, auth: dict[str, str], data: bytes, chunk: int) -> requests.Response:
    """Upload ``data`` from where the server stands, ``chunk`` bytes at a time; the last
    answer."""
    name, at = sha(data), offset_of(server, auth, sha(data))
    answer: requests.Response | None = None
    while at < len(data):
        answer = patch(server, auth, name, at, data[at:at + chunk])
        assert answer.status_code == 200, answer.text
        at = int(answer.json()["received"])
    assert answer is not None
    return answer


def test_a_blob_uploaded_in_three_chunks_is_accepted_and_read_back(server: Server) -> None:
    auth = clerk(server)
    data = pdf(3 * 1024 * 1024 + 17)
    declared = declare(server, auth, data)
    assert declared.status_code == 201, declared.text
    assert declared.json() == {"status": "upload", "upload_url": f"/v1/blobs/{sha(data)}",
                               "received": 0}
    assert get(server, auth, sha(data)).status_code == 404
    third = (len(data) + 2) // 3
    answers = [patch(server, auth, sha(data), at, data[at:at + third])
               for at in range(0, len(data), third)]
    assert [a.json()["status"] for a in answers] == ["partial", "partial", "accepted"]
    assert [a.json()["received"] for a in answers] == [third, 2 * third, len(data)]
    assert offset_of(server, auth, sha(data)) == len(data)
    got = get(server, auth, sha(data))
    assert got.status_code == 200 and got.content == data
    assert got.headers["Content-Type"] == "application/pdf"
    stored = server.home / "blobs" / sha(data)[:2] / sha(data)
    assert stored.read_bytes() == data and not list((server.home / "blobs/partial").iterdir())


def test_declaring_a_blob_the_server_has_answers_have(server: Server) -> None:
    auth = clerk(server)
    data = pdf(1000)
    declare(server, auth, data)
    upload(server, auth, data, 1000)
    again = declare(server, auth, data)
    assert (again.status_code, again.json()) == (200, {"status": "have"})


def test_an_upload_resumes_across_a_restart_of_the_server(server: Server,
                                                         tmp_path: Path) -> None:
    auth = clerk(server)
    data = pdf(5 * 1024 * 1024 + 3, seed=2)
    declare(server, auth, data)
    first = patch(server, auth, sha(data), 0, data[:2 * 1024 * 1024])
    assert first.json() == {"status": "partial", "received": 2 * 1024 * 1024}
    server.stop()
    again = start(server.home, server.database_url)
    try:
        assert offset_of(again, auth, sha(data)) == 2 * 1024 * 1024
        redeclared = declare(again, auth, data)
        assert (redeclared.status_code, redeclared.json()["received"]) == (201, 2 * 1024 * 1024)
        assert upload(again, auth, data, 2 * 1024 * 1024).json()["status"] == "accepted"
        assert get(again, auth, sha(data)).content == data
    finally:
        again.stop()


def test_a_connection_cut_mid_chunk_leaves_a_true_offset_to_resume_from(
        server: Server) -> None:
    auth = clerk(server)
    data = pdf(3 * 1024 * 1024, seed=3)
    declare(server, auth, data)
    mib = 1024 * 1024
    patch(server, auth, sha(data), 0, data[:mib])
    # A PATCH that promises 2 MiB, sends 300 000 bytes, and the link is cut.
    cut = opened(server, "PATCH", f"/v1/blobs/{sha(data)}", chunk_headers(auth, mib, 2 * mib),
                 data[mib:mib + 300_000])
    assert cut.sock is not None
    cut.sock.shutdown(socket.SHUT_RDWR)
    cut.close()
    # The server may keep what arrived or drop it, but what HEAD says must be true: the
    # upload resumes from it and the result is the exact bytes.
    assert mib <= offset_of(server, auth, sha(data)) <= mib + 300_000
    assert _resume(server, auth, data).json()["status"] == "accepted"
    assert get(server, auth, sha(data)).content == data


def test_a_server_killed_mid_chunk_lets_the_upload_resume_at_once_from_what_it_kept(
        server: Server) -> None:
    auth = clerk(server)
    data = pdf(3 * 1024 * 1024, seed=8)
    declare(server, auth, data)
    name, mib = sha(data), 1024 * 1024
    patch(server, auth, name, 0, data[:mib])
    # A chunk promised whole, half sent and being written, when every process is killed.
    cut = opened(server, "PATCH", f"/v1/blobs/{name}", chunk_headers(auth, mib, mib),
                 data[mib:mib + mib // 2])
    while not _being_written(server, name):
        pass
    for process in server.processes:
        process.kill()   # SIGKILL: nothing is wound up
        process.wait(timeout=30)
    cut.close()
    again = start(server.home, server.database_url)
    try:
        # What HEAD tells is on disk and true; the dead writer's lock went with it, so
        # the upload is free at once (no 409 upload_busy to wait out).
        at = offset_of(again, auth, name)
        assert mib <= at <= mib + mib // 2
        assert patch(again, auth, name, at, data[at:]).json()["status"] == "accepted"
        assert get(again, auth, name).content == data
    finally:
        again.stop()


def _resume(server: Server, auth: dict[str, str], data: bytes) -> requests.Response:
    """Resume as a client does: HEAD, then PATCH from there. A 409 means the cut request
    was still being wound up on the server (holding the blob, or about to count the
    bytes it kept): ask again."""
    for _attempt in range(10_000):
        at = offset_of(server, auth, sha(data))
        answer = patch(server, auth, sha(data), at, data[at:])
        if answer.status_code != 409:
            assert answer.status_code == 200, answer.text
            return answer
    raise AssertionError("the upload never became free to resume")


def test_a_chunk_at_the_wrong_offset_is_refused_with_the_real_one(server: Server) -> None:
    auth = clerk(server)
    data = pdf(4000)
    declare(server, auth, data)
    patch(server, auth, sha(data), 0, data[:1000])
    wrong = patch(server, auth, sha(data), 500, data[500:1500])
    assert "1000" in refusal(wrong, 409, "offset_mismatch")
    assert wrong.json()["received"] == 1000 and wrong.headers["Upload-Offset"] == "1000"
    assert offset_of(server, auth, sha(data)) == 1000


def test_a_corrupted_chunk_fails_the_hash_and_the_blob_is_discarded(server: Server) -> None:
    auth = clerk(server)
    data = pdf(3000)
    declare(server, auth, data)
    patch(server, auth, sha(data), 0, data[:1500])
    corrupted = data[1500:2000] + b"X" + data[2001:]
    message = refusal(patch(server, auth, sha(data), 1500, corrupted), 422, "hash_mismatch")
    assert "SHA-256" in message and "重新" in message
    assert refusal(get(server, auth, sha(data)), 404, "blob_not_found")
    assert head(server, auth, sha(data)).status_code == 404
    assert not list((server.home / "blobs/partial").iterdir())
    # The client starts again, and this time the bytes are right.
    assert declare(server, auth, data).json()["received"] == 0
    assert upload(server, auth, data, 2000).json()["status"] == "accepted"


def test_bytes_that_are_not_the_declared_type_are_refused(server: Server) -> None:
    auth = clerk(server)
    data = b"\xff\xd8\xff\xe0" + bytes(996)   # a JPEG's start, declared as a PDF
    declare(server, auth, data)
    refusal(patch(server, auth, sha(data), 0, data), 422, "type_mismatch")
    assert declare(server, auth, data, "image/jpeg").status_code == 201
    assert upload(server, auth, data, 1000).json()["status"] == "accepted"
    assert get(server, auth, sha(data)).headers["Content-Type"] == "image/jpeg"


def test_bad_names_and_path_tricks_are_refused(server: Server) -> None:
    auth = clerk(server)
    data = pdf(100)
    for name in (sha(data).upper(), sha(data)[:63], sha(data) + "0", "../" + sha(data)[3:],
                 "x" * 64):
        refusal(declare(server, auth, data, sha256=name), 422, "bad_sha256")
    # Sent as written (no client tidies the dots away).
    for path in ("/v1/blobs/../../server.db", "/v1/blobs/..%2F..%2Fserver.db",
                 f"/v1/blobs/{sha(data)}/../../x", f"/v1/blobs/{sha(data)[:63]}%00"):
        for method in ("HEAD", "GET", "PATCH"):
            headers = auth if method != "PATCH" else chunk_headers(auth, 0, 1)
            conn = opened(server, method, path, headers, b"x" if method == "PATCH" else b"")
            answer = conn.getresponse()
            body = answer.read()
            conn.close()
            assert answer.status == 422, (method, path, answer.status)
            assert method == "HEAD" or b"bad_sha256" in body


def test_declarations_outside_the_rules_are_refused(server: Server) -> None:
    auth = clerk(server)
    data = pdf(100)
    refusal(declare(server, auth, data, "text/html"), 415, "unsupported_type")
    refusal(declare(server, auth, data, size=0), 422, "bad_size")
    refusal(declare(server, auth, data, size=blobs.MAX_BLOB_BYTES + 1), 413, "blob_too_large")
    refusal(declare(server, auth, data, size="100"), 422, "invalid_request")
    refusal(declare(server, auth, data, owner="me"), 422, "invalid_request")


def test_chunks_outside_the_rules_are_refused(server: Server) -> None:
    auth = clerk(server)
    data = pdf(1000)
    declare(server, auth, data)
    name = sha(data)
    refusal(patch(server, auth, name, 0, data + b"more"), 413, "chunk_past_end")
    plain = requests.patch(f"{server.url}/v1/blobs/{name}", data=data, timeout=30,
                           headers={**auth, "Upload-Offset": "0",
                                    "Content-Type": "application/json"})
    refusal(plain, 415, "bad_content_type")
    no_offset = requests.patch(f"{server.url}/v1/blobs/{name}", data=data, timeout=30,
                               headers={**auth, "Content-Type": CHUNK_TYPE})
    refusal(no_offset, 422, "bad_offset")
    chunked = requests.patch(f"{server.url}/v1/blobs/{name}", data=iter([data]), timeout=30,
                             headers={**auth, "Upload-Offset": "0", "Content-Type": CHUNK_TYPE})
    refusal(chunked, 411, "length_required")
    huge = opened(server, "PATCH", f"/v1/blobs/{name}",
                  chunk_headers(auth, 0, blobs.MAX_CHUNK_BYTES + 1)).getresponse()
    assert huge.status == 413 and b"chunk_too_large" in huge.read()
    refusal(patch(server, auth, "0" * 64, 0, data), 404, "blob_not_found")
    assert offset_of(server, auth, name) == 0


def test_without_a_token_every_blob_call_is_refused(server: Server) -> None:
    data = pdf(100)
    for answer in (declare(server, {}, data), head(server, {}, sha(data)),
                   get(server, {}, sha(data)), patch(server, {}, sha(data), 0, data)):
        assert answer.status_code == 401
        if answer.request.method != "HEAD":
            assert answer.json()["error"] == "no_token"


def _being_written(server: Server, name: str) -> bool:
    """A PATCH holds the blob's partial file: its ``flock``, the lock that keeps other
    writers out, is listed in /proc/locks. (Looked up, not tried: a probe that took the
    lock for a moment would itself turn the PATCH away as busy.)"""
    try:
        inode = (server.settings.blobs / "partial" / f"{name}.part").stat().st_ino
    except FileNotFoundError:
        return False
    locks = Path("/proc/locks").read_text().splitlines()
    return any(line.split()[1] == "FLOCK" and line.split()[5].endswith(f":{inode}")
               for line in locks)


def test_a_second_chunk_while_one_is_written_is_refused_and_the_blob_stays_intact(
        server: Server) -> None:
    auth = clerk(server)
    data = pdf(2 * 1024 * 1024, seed=5)
    declare(server, auth, data)
    name, half = sha(data), 1024 * 1024
    # The first writer is mid-chunk (headers and half the body sent) ...
    first = opened(server, "PATCH", f"/v1/blobs/{name}", chunk_headers(auth, 0, half),
                   data[:half // 2])
    while not _being_written(server, name):   # ... and the server has started on it
        pass
    # ... when a second sends the same chunk whole, or a chunk further on.
    busy = patch(server, auth, name, 0, data[:half])
    assert refusal(busy, 409, "upload_busy") and int(busy.headers["Retry-After"]) >= 1
    assert patch(server, auth, name, half // 2, data[half // 2:half]).status_code == 409
    # HEAD tells what is on disk (fsynced before it answers): at most what was sent.
    assert 0 <= offset_of(server, auth, name) <= half // 2
    first.send(data[half // 2:half])
    answer = first.getresponse()
    assert (answer.status, answer.read()) == (200, b'{"status":"partial","received":%d}' % half)
    first.close()
    assert offset_of(server, auth, name) == half
    assert upload(server, auth, data, half).json()["status"] == "accepted"
    assert get(server, auth, name).content == data


def test_two_server_processes_on_one_database_share_an_upload(tmp_path: Path,
                                                              postgres: str) -> None:
    """Behind a load balancer: one blob store (the same home here; S3 later), one
    PostgreSQL database, and the chunks of one upload spread over both processes."""
    database_url = fresh_database(postgres)
    home = tmp_path / "shared-home"
    init_home(home, database_url)
    a = start(home, database_url)
    b = start(home, database_url)
    try:
        auth = clerk(a)
        data = pdf(3 * 1024 * 1024, seed=7)
        name, mib = sha(data), 1024 * 1024
        declare(a, auth, data)
        assert patch(a, auth, name, 0, data[:mib]).status_code == 200
        assert offset_of(b, auth, name) == mib
        # A chunk streaming into one process keeps the other process's writer out.
        first = opened(a, "PATCH", f"/v1/blobs/{name}", chunk_headers(auth, mib, mib),
                       data[mib:mib + mib // 2])
        while not _being_written(a, name):
            pass
        refusal(patch(b, auth, name, mib, data[mib:2 * mib]), 409, "upload_busy")
        first.send(data[mib + mib // 2:2 * mib])
        assert first.getresponse().status == 200
        first.close()
        assert patch(b, auth, name, 2 * mib, data[2 * mib:]).json()["status"] == "accepted"
        assert declare(b, auth, data).json() == {"status": "have"}
        assert get(a, auth, name).content == data
    finally:
        a.stop()
        b.stop()


def test_an_upload_offset_that_is_not_plain_ascii_digits_is_a_422_not_a_500(
        server: Server) -> None:
    auth = clerk(server)
    data = pdf(1000)
    declare(server, auth, data)
    # "²" passes str.isdigit() (int() then fails); "１２" as its UTF-8 bytes (how a client
    # would send it); negative, exponent, 2**64, and a number past any blob.
    for offset in ("²", "１２".encode(), "-1", "1e3", " 1 2", str(2 ** 64),
                   "9" * 19, str(blobs.MAX_BLOB_BYTES + 1)):
        conn = opened(server, "PATCH", f"/v1/blobs/{sha(data)}",
                      {**chunk_headers(auth, 0, len(data)), "Upload-Offset": offset}, data)
        answer = conn.getresponse()
        body = json.loads(answer.read())
        conn.close()
        assert (answer.status, body["error"]) == (422, "bad_offset"), (offset, body)
        assert set(body) == {"error", "message"} and "ASCII" in body["message"]
    assert offset_of(server, auth, sha(data)) == 0
    assert patch(server, auth, sha(data), 0, data).json()["status"] == "accepted"


@pytest.mark.parametrize("value", ["²", "１２", "٣", "-1", "+1", "1e3", "", str(2 ** 64)])
def test_header_numbers_are_ascii_digits_within_bounds(value: str) -> None:
    with pytest.raises(ApiError) as refused:
        header_int(value, "bad_offset", "Upload-Offset", blobs.MAX_BLOB_BYTES)
    assert (refused.value.status, refused.value.code) == (422, "bad_offset")
    assert header_int("0012", "bad_offset", "Upload-Offset", 12) == 12
