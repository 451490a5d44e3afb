"""Blobs and sites (docs/sync-protocol.md §7): a site reads a blob only if it declared
the same bytes; an unfinished upload belongs to the site that declared it first, and no
other site can learn its progress, restart it or spoil it."""

from __future__ import annotations

from server.accounts import user_named, utc_now
from server.blob_models import BlobSiteRow
from server.db import ServerDatabase
from tests.server.conftest import Server
from tests.server.test_accounts_api import refusal
from tests.server.test_blobs_api import (
    clerk,
    declare,
    get,
    head,
    offset_of,
    patch,
    pdf,
    sha,
    upload,
)


def test_another_site_cannot_see_or_write_a_sites_blob(server: Server) -> None:
    auth = clerk(server)
    data = pdf(2000)
    declare(server, auth, data)
    upload(server, auth, data, 2000)
    other = clerk(server, "wangwu", site="330100002")
    refusal(get(server, other, sha(data)), 404, "blob_not_found")
    assert head(server, other, sha(data)).status_code == 404
    # Holding the same bytes (declaring them) is what lets a site read them.
    assert declare(server, other, data).json() == {"status": "have"}
    assert get(server, other, sha(data)).content == data


def test_another_site_cannot_learn_reset_or_spoil_an_unfinished_upload(
        server: Server) -> None:
    """The attack of the review (a17): site B knows the hash of a scan site A is
    uploading. It is told to wait, learns nothing of A's progress, and can neither restart
    A's upload with another size nor make it fail the hash; once A finishes, B holding
    the same bytes gets "have"."""
    a = clerk(server)
    b = clerk(server, "wangwu", site="330100002")
    data = pdf(4005, seed=11)
    name = sha(data)
    declare(server, a, data)
    assert patch(server, a, name, 0, data[:3000]).json()["received"] == 3000
    for size in (len(data), 10):
        told = declare(server, b, data, size=size)
        refusal(told, 409, "upload_elsewhere")
        assert int(told.headers["Retry-After"]) >= 1
        assert "received" not in told.json() and "Upload-Offset" not in told.headers
    assert head(server, b, name).status_code == 404
    refusal(patch(server, b, name, 0, b"%PDF-xxxxx"), 404, "blob_not_found")
    refusal(patch(server, b, name, 3000, data[3000:]), 404, "blob_not_found")
    assert offset_of(server, a, name) == 3000
    assert patch(server, a, name, 3000, data[3000:]).json()["status"] == "accepted"
    assert declare(server, b, data).json() == {"status": "have"}
    assert get(server, b, name).content == data == get(server, a, name).content


def test_a_hash_mismatch_forgets_only_the_uploaders_declaration(server: Server) -> None:
    a = clerk(server)
    b = clerk(server, "wangwu", site="330100002")
    data = pdf(3000, seed=12)
    name = sha(data)
    declare(server, a, data)
    # A second site's declaration recorded before uploads had owners (as the table may
    # hold it): it waits while A uploads, and A's mismatch leaves it standing.
    db = ServerDatabase(server.settings)
    try:
        with db.session() as session:
            session.add(BlobSiteRow(sha256=name, site_code="330100002",
                                    declared_by=user_named(session, "wangwu").id,
                                    declared_at=utc_now()))
    finally:
        db.dispose()
    assert head(server, b, name).status_code == 409
    refusal(patch(server, b, name, 0, data), 409, "upload_elsewhere")
    refusal(patch(server, a, name, 0, data[:-1] + b"X"), 422, "hash_mismatch")
    assert head(server, a, name).status_code == 404
    assert not list((server.home / "blobs/partial").iterdir())
    # B's declaration stands, and the upload is now B's, from 0; A must wait for it.
    assert offset_of(server, b, name) == 0
    refusal(declare(server, a, data), 409, "upload_elsewhere")
    assert upload(server, b, data, 1000).json()["status"] == "accepted"
    assert declare(server, a, data).json() == {"status": "have"}


def test_a_blob_the_store_lost_is_uploaded_again_by_the_site_declaring_it(
        server: Server) -> None:
    a = clerk(server)
    b = clerk(server, "wangwu", site="330100002")
    data = pdf(2000, seed=13)
    name = sha(data)
    declare(server, a, data)
    upload(server, a, data, 2000)
    assert declare(server, b, data).json() == {"status": "have"}
    (server.home / "blobs" / name[:2] / name).unlink()   # a database restored without it
    assert declare(server, b, data).json()["received"] == 0
    assert head(server, a, name).status_code == 404   # A declares again, and waits
    refusal(declare(server, a, data), 409, "upload_elsewhere")
    assert upload(server, b, data, 2000).json()["status"] == "accepted"
    assert declare(server, a, data).json() == {"status": "have"}
    assert get(server, a, name).content == data
