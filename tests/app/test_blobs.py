"""The blob store that keeps printed documents, and the append-only document archive."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from app.storage.blobs import BlobMissing, BlobStore
from app.workstation import Workstation


def test_a_blob_is_named_by_its_hash_and_reads_back(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    data = "受理通知书".encode() * 100
    sha = store.put(data)
    assert sha == hashlib.sha256(data).hexdigest()
    assert store.path(sha) == tmp_path / "blobs" / sha[:2] / sha
    assert store.get(sha) == data
    assert store.put(data) == sha  # storing twice is harmless
    assert [p.name for p in (tmp_path / "blobs").rglob("*") if p.is_file()] == [sha]


def test_a_damaged_or_missing_blob_is_reported_not_returned(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    sha = store.put(b"%PDF-1.4 original")
    store.path(sha).write_bytes(b"%PDF-1.4 tampered")
    with pytest.raises(BlobMissing, match="已损坏"):
        store.get(sha)
    with pytest.raises(BlobMissing, match="不存在"):
        store.get("0" * 64)
    with pytest.raises(ValueError):
        store.path("../../etc/passwd")


def test_a_write_failure_names_the_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "blobs"
    blocker.write_text("a file where the folder should be", encoding="utf-8")
    with pytest.raises(OSError, match="无法保存文件"):
        BlobStore(blocker).put(b"x")


def test_the_document_archive_refuses_edits(fresh_ws: Workstation) -> None:
    raw = sqlite3.connect(fresh_ws.settings.database_path)
    try:
        raw.execute("INSERT INTO cases (id, number, status, item_code, item_version, item_name,"
                    " bundle_code, parent_id, applicant_name, applicant_id_number, applicant,"
                    " scenarios, materials, decision, decision_reason, competent_authority,"
                    " promised_estimated, site, terminal, window, clerk_id, queue_ticket,"
                    " opened_at, updated_at, version) VALUES ('c1', 'n1', 's', 'i', '1', 'x',"
                    " '', '', 'a', '1', '{}', '[]', '[]', '', '', '', 0, '330100001', '01',"
                    " '1', 'k', '', '2026-11-23', '2026-11-23', 1)")
        raw.execute("INSERT INTO case_documents VALUES ('d1', 'c1', 'receipt', '收件凭证',"
                    " 'ab', 1, 1, 0, 'printed', '', 'system:', '', 'k', '张三', '330100001',"
                    " '01', '1', '2026-11-23 10:00:00', '', '')")
        raw.commit()
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            raw.execute("UPDATE case_documents SET outcome = 'failed'")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            raw.execute("DELETE FROM case_documents")
    finally:
        raw.close()
