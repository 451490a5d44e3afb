"""The files a case's record names — scanned pages and printed documents — checked
against the blob store: each must be there and still match its SHA-256.

The hashes are in the chained log, so a changed hash is caught by the chains; this
catches the other half, a file lost or damaged on disk, before the county (or the
applicant's department) is the first to find out. ``yichuang audit verify`` reports
what is wrong; a backup says which pages it could not carry.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.case_pages import PageError, pages_from_json
from app.storage.blobs import BlobStore
from app.storage.models import CaseDocumentRow, CaseRow


@dataclass(frozen=True, slots=True)
class AttachmentProblem:
    case_number: str
    what: str          # "“营业执照”第2页" / "受理通知书"
    sha256: str
    missing: bool      # False: on disk but damaged

    @property
    def message(self) -> str:
        state = "缺失" if self.missing else "已损坏（内容与校验值不符）"
        return (f"办件{self.case_number}的{self.what}（{self.sha256[:12]}…）{state}："
                "请从备份恢复（yichuang restore），扫描件也可删除后重扫")


def attachment_problems(session: Session, blobs: BlobStore) -> list[AttachmentProblem]:
    """Every named file that is missing or damaged (each file read once)."""
    checked: dict[str, tuple[bool, bool]] = {}

    def state(sha: str) -> tuple[bool, bool]:   # (intact, exists), each file read once
        if sha not in checked:
            intact = blobs.intact(sha)
            checked[sha] = (intact, intact or blobs.path(sha).exists())
        return checked[sha]

    found: list[AttachmentProblem] = []
    for row in session.scalars(select(CaseRow).where(CaseRow.pages != "[]")
                               .execution_options(yield_per=2000)):
        names = {m.get("material_id"): m.get("name") for m in row.materials
                 if isinstance(m, dict)}
        try:
            pages = pages_from_json(row.pages)
        except (PageError, KeyError, TypeError, ValueError):
            continue   # a hand-edited projection: the replay check names it
        for material, refs in pages:
            for page_no, ref in enumerate(refs, 1):
                intact, exists = state(ref.sha256)
                if not intact:
                    found.append(AttachmentProblem(
                        row.number, f"“{names.get(material) or material}”第{page_no}页",
                        ref.sha256, not exists))
    documents = session.execute(
        select(CaseRow.number, CaseDocumentRow.title, CaseDocumentRow.sha256)
        .join(CaseRow, CaseRow.id == CaseDocumentRow.case_id)
        .where(CaseDocumentRow.sha256 != "").distinct()).all()
    for case_number, title, sha in documents:   # an attempt and its outcome: one file
        try:
            intact, exists = state(sha)
        except ValueError:
            continue   # not a hash: the documents chain names the edited row
        if not intact:
            found.append(AttachmentProblem(case_number, f"文书“{title}”", sha, not exists))
    return found
