"""Blobs in an S3-compatible bucket (server/blobs_s3.py), on the real server process started
with YICHUANG_SERVER_BLOB_URL, against moto's standalone S3 server in a process of its own
(the closest real S3 endpoint that installs here): declare, chunks, a restart mid-upload,
a cut link, a hash mismatch, bytes the bucket lost or never had acknowledged, two server
processes on different homes sharing one bucket, and an unreachable bucket."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest
import requests

from server.accounts import ApiError
from server.blobs_s3 import S3BlobStore, S3Location
from server.settings import BLOB_URL_ENV, ServerSettingsError
from tests.server.conftest import Server, free_port, fresh_database, init_home, start
from tests.server.test_accounts_api import refusal
from tests.server.test_blobs_api import (
    chunk_headers,
    clerk,
    declare,
    get,
    head,
    offset_of,
    opened,
    patch,
    pdf,
    sha,
    upload,
)

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

MIB = 1024 * 1024
PREFIX = "county/scans/"


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's S3 server, as its own process on a loopback port."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1",
                                "-p", str(port)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:   # until it answers (its start-up is not under test)
        if process.poll() is not None:
            raise RuntimeError("moto_server ended at start")
        try:
            requests.get(endpoint, timeout=1)
            break
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("moto_server did not answer within 60 s") from None
            time.sleep(0.05)
    yield endpoint
    process.terminate()
    process.wait(timeout=20)


@pytest.fixture
def bucket(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket; its URL in the environment every server process started here gets,
    with credentials where boto3 looks for them (moto takes any)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "yichuang-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "yichuang-test-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "cn-north-1")
    name = f"yc-{uuid.uuid4().hex[:12]}"
    s3(moto_endpoint).create_bucket(Bucket=name, CreateBucketConfiguration={
        "LocationConstraint": "cn-north-1"})
    monkeypatch.setenv(BLOB_URL_ENV, f"s3://{name}/{PREFIX}?endpoint={moto_endpoint}")
    return name


@pytest.fixture
def server(tmp_path: Path, database_url: str, bucket: str) -> Iterator[Server]:
    """The real server, its blobs in ``bucket``."""
    home = tmp_path / "server-home"
    init_home(home, database_url)
    running = start(home, database_url)
    yield running
    running.stop()


def s3(endpoint: str) -> S3Client:
    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint, region_name="cn-north-1",
        aws_access_key_id="yichuang-test", aws_secret_access_key="yichuang-test-secret")


def keys(endpoint: str, bucket: str) -> list[str]:
    listed = s3(endpoint).list_objects_v2(Bucket=bucket)
    return sorted(item["Key"] for item in listed.get("Contents", []))


def part_key(data: bytes, start: int) -> str:
    return f"{PREFIX}partial/{sha(data)}/{start:015d}"


def final_key(data: bytes) -> str:
    return f"{PREFIX}{sha(data)[:2]}/{sha(data)}"


def stored(endpoint: str, bucket: str, key: str) -> bytes:
    return s3(endpoint).get_object(Bucket=bucket, Key=key)["Body"].read()


def test_a_blob_uploaded_in_chunks_lands_in_the_bucket_and_is_read_back(
        server: Server, moto_endpoint: str, bucket: str) -> None:
    auth = clerk(server)
    data = pdf(3 * MIB + 17)
    assert declare(server, auth, data).json() == {
        "status": "upload", "upload_url": f"/v1/blobs/{sha(data)}", "received": 0}
    third = (len(data) + 2) // 3
    answers = [patch(server, auth, sha(data), at, data[at:at + third])
               for at in range(0, len(data), third)]
    assert [a.json()["status"] for a in answers] == ["partial", "partial", "accepted"]
    got = get(server, auth, sha(data))
    assert got.status_code == 200 and got.content == data
    assert got.headers["Content-Type"] == "application/pdf"
    # One object in the bucket, the exact bytes; no parts left; nothing on the local disk.
    assert keys(moto_endpoint, bucket) == [final_key(data)]
    assert stored(moto_endpoint, bucket, final_key(data)) == data
    assert not (server.home / "blobs").exists()
    again = declare(server, auth, data)
    assert (again.status_code, again.json()) == (200, {"status": "have"})


def test_a_blob_larger_than_one_assembled_part_is_stored_whole(
        server: Server, moto_endpoint: str, bucket: str) -> None:
    auth = clerk(server)
    data = pdf(17 * MIB + 5, seed=4)   # three 8 MiB-at-most multipart parts at acceptance
    declare(server, auth, data)
    assert upload(server, auth, data, 8 * MIB).json()["status"] == "accepted"
    assert keys(moto_endpoint, bucket) == [final_key(data)]
    assert get(server, auth, sha(data)).content == data


def test_an_upload_resumes_across_a_restart_of_the_server(
        server: Server, moto_endpoint: str, bucket: str) -> None:
    auth = clerk(server)
    data = pdf(5 * MIB + 3, seed=2)
    declare(server, auth, data)
    first = patch(server, auth, sha(data), 0, data[:2 * MIB])
    assert first.json() == {"status": "partial", "received": 2 * MIB}
    assert keys(moto_endpoint, bucket) == [part_key(data, 0)]
    server.stop()
    again = start(server.home, server.database_url)
    try:
        assert offset_of(again, auth, sha(data)) == 2 * MIB
        redeclared = declare(again, auth, data)
        assert (redeclared.status_code, redeclared.json()["received"]) == (201, 2 * MIB)
        assert upload(again, auth, data, 2 * MIB).json()["status"] == "accepted"
        assert get(again, auth, sha(data)).content == data
        assert keys(moto_endpoint, bucket) == [final_key(data)]
    finally:
        again.stop()


def test_a_connection_cut_mid_chunk_leaves_a_true_offset_to_resume_from(
        server: Server) -> None:
    auth = clerk(server)
    data = pdf(3 * MIB, seed=3)
    declare(server, auth, data)
    patch(server, auth, sha(data), 0, data[:MIB])
    cut = opened(server, "PATCH", f"/v1/blobs/{sha(data)}", chunk_headers(auth, MIB, 2 * MIB),
                 data[MIB:MIB + 300_000])
    assert cut.sock is not None
    cut.sock.shutdown(socket.SHUT_RDWR)
    cut.close()
    assert MIB <= offset_of(server, auth, sha(data)) <= MIB + 300_000
    for _attempt in range(10_000):   # a 409 while the cut request is still wound up
        at = offset_of(server, auth, sha(data))
        answer = patch(server, auth, sha(data), at, data[at:])
        if answer.status_code != 409:
            break
    assert answer.status_code == 200 and answer.json()["status"] == "accepted", answer.text
    assert get(server, auth, sha(data)).content == data


def test_a_corrupted_chunk_fails_the_hash_and_leaves_nothing_in_the_bucket(
        server: Server, moto_endpoint: str, bucket: str) -> None:
    auth = clerk(server)
    data = pdf(3000)
    declare(server, auth, data)
    patch(server, auth, sha(data), 0, data[:1500])
    corrupted = data[1500:2000] + b"X" + data[2001:]
    refusal(patch(server, auth, sha(data), 1500, corrupted), 422, "hash_mismatch")
    refusal(get(server, auth, sha(data)), 404, "blob_not_found")
    assert keys(moto_endpoint, bucket) == []
    assert declare(server, auth, data).json()["received"] == 0
    assert upload(server, auth, data, 2000).json()["status"] == "accepted"
    assert get(server, auth, sha(data)).content == data


def test_bytes_the_bucket_lost_are_not_counted(server: Server, moto_endpoint: str,
                                               bucket: str) -> None:
    auth = clerk(server)
    data = pdf(3 * MIB, seed=5)
    declare(server, auth, data)
    upload_to = patch(server, auth, sha(data), 0, data[:MIB])
    patch(server, auth, sha(data), MIB, data[MIB:2 * MIB])
    assert upload_to.status_code == 200 and offset_of(server, auth, sha(data)) == 2 * MIB
    # The second part vanishes (a lifecycle rule, an operator): the offset says so.
    s3(moto_endpoint).delete_object(Bucket=bucket, Key=part_key(data, MIB))
    assert offset_of(server, auth, sha(data)) == MIB
    refusal(patch(server, auth, sha(data), 2 * MIB, data[2 * MIB:]), 409, "offset_mismatch")
    assert upload(server, auth, data, MIB).json()["status"] == "accepted"
    assert get(server, auth, sha(data)).content == data


def test_parts_written_but_never_acknowledged_are_cut_off(server: Server, moto_endpoint: str,
                                                          bucket: str) -> None:
    """A process that stored a part and died before counting it, and one that stored a
    part far ahead: the offset stays the acknowledged one, and the next chunk replaces
    them, so the accepted blob is the client's bytes."""
    auth = clerk(server)
    data = pdf(3 * MIB, seed=6)
    declare(server, auth, data)
    patch(server, auth, sha(data), 0, data[:MIB])
    client = s3(moto_endpoint)
    client.put_object(Bucket=bucket, Key=part_key(data, MIB), Body=b"\0" * (MIB + 10))
    client.put_object(Bucket=bucket, Key=part_key(data, 2 * MIB), Body=b"\1" * MIB)
    assert offset_of(server, auth, sha(data)) == MIB
    assert patch(server, auth, sha(data), MIB, data[MIB:MIB + 100]).json()["received"] \
        == MIB + 100
    assert keys(moto_endpoint, bucket) == [part_key(data, 0), part_key(data, MIB)]
    # A part longer than what was counted (its writer lost the blob before counting):
    # the next chunk shortens it to the acknowledged bytes.
    client.put_object(Bucket=bucket, Key=part_key(data, MIB),
                      Body=data[MIB:MIB + 100] + b"\0" * 1000)
    assert offset_of(server, auth, sha(data)) == MIB + 100
    assert patch(server, auth, sha(data), MIB + 100, data[MIB + 100:2 * MIB]).json() \
        == {"status": "partial", "received": 2 * MIB}
    assert stored(moto_endpoint, bucket, part_key(data, MIB)) == data[MIB:MIB + 100]
    assert upload(server, auth, data, MIB).json()["status"] == "accepted"
    assert get(server, auth, sha(data)).content == data


@pytest.mark.parametrize("size", [3000, 9 * MIB])   # one PUT; a multipart upload
def test_acceptance_hashes_the_parts_again_and_never_stores_other_bytes(
        moto_endpoint: str, bucket: str, size: int) -> None:
    """Parts changed after the API verified them (a writer that took the blob over): the
    store refuses to accept them under a name that is not theirs, and keeps nothing."""
    store = S3BlobStore.from_url(f"s3://{bucket}/{PREFIX}?endpoint={moto_endpoint}")
    data = pdf(size, seed=8)
    writer = store.open_partial(sha(data), 0)
    writer.write(data[:-1] + b"X")
    writer.sync()
    writer.close()
    with pytest.raises(ApiError) as refused:
        store.accept(sha(data))
    assert (refused.value.status, refused.value.code) == (409, "upload_busy")
    assert not store.has(sha(data)) and keys(moto_endpoint, bucket) == [part_key(data, 0)]
    assert not s3(moto_endpoint).list_multipart_uploads(Bucket=bucket).get("Uploads")


def test_two_server_processes_on_different_homes_share_one_upload(
        tmp_path: Path, postgres: str, bucket: str, moto_endpoint: str) -> None:
    """No shared folder, one database and one bucket: chunks alternate between the
    processes (as behind a load balancer, on two machines) and the blob is accepted."""
    database_url = fresh_database(postgres)
    init_home(tmp_path / "a", database_url)
    a = start(tmp_path / "a", database_url)
    b = start(tmp_path / "b", database_url)
    try:
        auth = clerk(a)
        data = pdf(4 * MIB + 1, seed=7)
        assert declare(a, auth, data).status_code == 201
        for number, at in enumerate(range(0, len(data), MIB)):
            answer = patch((a, b)[number % 2], auth, sha(data), at, data[at:at + MIB])
            assert answer.status_code == 200, answer.text
            assert offset_of((b, a)[number % 2], auth, sha(data)) == min(at + MIB, len(data))
        assert answer.json()["status"] == "accepted"
        assert get(a, auth, sha(data)).content == data == get(b, auth, sha(data)).content
        assert keys(moto_endpoint, bucket) == [final_key(data)]
        assert not (tmp_path / "a" / "blobs").exists() and not (tmp_path / "b").exists()
    finally:
        a.stop()
        b.stop()


def test_an_unreachable_bucket_is_a_503_to_retry(tmp_path: Path, bucket: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BLOB_URL_ENV, f"s3://{bucket}/?endpoint=http://127.0.0.1:{free_port()}")
    init_home(tmp_path / "home")
    running = start(tmp_path / "home")
    try:
        auth = clerk(running)
        answer = declare(running, auth, pdf(1000))
        refusal(answer, 503, "blob_store_unavailable")
        assert answer.headers["Retry-After"] == "5"
        assert head(running, auth, sha(pdf(1000))).status_code == 404   # nothing kept
    finally:
        running.stop()


@pytest.mark.parametrize(("url", "location"), [
    ("s3://scans", S3Location("scans")),
    ("s3://scans/county/2026/?region=cn-hangzhou&addressing=virtual&endpoint="
     "https://oss-cn-hangzhou.aliyuncs.com",
     S3Location("scans", "county/2026/", "https://oss-cn-hangzhou.aliyuncs.com",
                "cn-hangzhou", "virtual")),
])
def test_a_blob_url_names_bucket_prefix_and_endpoint(url: str, location: S3Location) -> None:
    assert S3Location.parse(url) == location


@pytest.mark.parametrize("url", [
    "scans", "http://scans/x", "s3:///prefix", "s3://key:secret@scans/", "s3://Scans", "s3://scans/?key=secret",
    "s3://scans/?endpoint=ftp://x", "s3://scans/?addressing=sideways",
    "s3://scans/?region=", "s3://scans/a/../b", "s3://scans/?region=a&region=b",
])
def test_a_bad_blob_url_is_refused_in_chinese(url: str) -> None:
    with pytest.raises(ServerSettingsError, match=r"材料存储|对象存储|addressing"):
        S3Location.parse(url)


def test_another_site_cannot_learn_reset_or_spoil_an_unfinished_upload_in_the_bucket(
        server: Server, moto_endpoint: str, bucket: str) -> None:
    a = clerk(server)
    b = clerk(server, "wangwu", site="330100002")
    data = pdf(2 * MIB + 5, seed=9)
    declare(server, a, data)
    assert patch(server, a, sha(data), 0, data[:MIB]).json()["received"] == MIB
    for size in (len(data), 10):
        refusal(declare(server, b, data, size=size), 409, "upload_elsewhere")
    refusal(patch(server, b, sha(data), 0, b"%PDF-xxxxx"), 404, "blob_not_found")
    assert keys(moto_endpoint, bucket) == [part_key(data, 0)]   # A's part, untouched
    assert offset_of(server, a, sha(data)) == MIB
    assert patch(server, a, sha(data), MIB, data[MIB:]).json()["status"] == "accepted"
    assert declare(server, b, data).json() == {"status": "have"}
    assert get(server, b, sha(data)).content == data
