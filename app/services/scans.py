"""The case's scanned materials (扫描件): pages stored, arranged and assembled.

Pages are written to the content-addressed blob store first (atomically, named by their
SHA-256), then recorded on the case by a ``pages_recorded`` event that names them — so
a power cut between the two leaves an unreferenced blob, never a case naming a page that
is not there. The event's outbox op lists the new hashes as its blobs: sync uploads and
verifies them before the event reaches the county.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from app.domain.case import CaseEventKind, CaseState, Clerk, MaterialStatus
from app.domain.case_pages import (
    CasePages,
    Changes,
    PageError,
    PageRef,
    all_hashes,
    appended_payload,
    changed_pages,
    pages_of,
    pages_payload,
)
from app.domain.catalogue import ServiceItem
from app.domain.text_checks import printable
from app.services.cases import CaseRuleError, CaseService
from app.services.catalogue import CatalogueService
from app.storage.blobs import BlobMissing, BlobStore

if TYPE_CHECKING:   # OpenCV, img2pdf and pikepdf load when pages are handled, not at start
    from app.capture.prepare import CapturedPage
    from app.documents.case_pdf import MaterialSection

# The server takes at most this many blobs named by one op: a larger batch of pages is
# recorded as several events (each complete on its own).
MAX_NEW_PAGES_PER_EVENT = 100


def page_ref(page: CapturedPage, sha256: str) -> PageRef:
    p = page.page
    # The origin carries file names from outside (a USB stick, a scan folder): control
    # and invisible characters are spelled out, so the log stays printable and syncable.
    return PageRef(sha256, p.width, p.height, p.dpi, p.colour, len(p.jpeg),
                   effective_dpi=page.effective_dpi, origin=printable(page.origin)[:200])


class CaseScans:
    def __init__(self, cases: CaseService, catalogue: CatalogueService,
                 blobs: BlobStore) -> None:
        self._cases = cases
        self._catalogue = catalogue
        self._blobs = blobs

    # ---- reading ---------------------------------------------------------------------

    def pages(self, case_id: str) -> CasePages:
        return self._cases.get(case_id).pages

    def page_jpeg(self, sha256: str) -> bytes:
        """A page's JPEG, verified against its hash (BlobMissing when lost or damaged)."""
        return self._blobs.get(sha256)

    def material_names(self, case: CaseState) -> dict[str, str]:
        """Every material of the case's item version by id, in the catalogue's order."""
        return {m.id: m.name for m in self._item(case).materials}

    def _item(self, case: CaseState) -> ServiceItem:
        return self._catalogue.item_version(case.item_code, case.item_version)

    def received_unscanned(self, case: CaseState) -> list[str]:
        """Names of the materials marked 已收取 on paper that have no page yet: the
        scan panel warns before the decision."""
        return [m.name for m in case.materials
                if m.status is MaterialStatus.RECEIVED and m.form_received != "电子"
                and not pages_of(case.pages, m.material_id)]

    # ---- changing --------------------------------------------------------------------

    def add(self, case_id: str, material_id: str, pages: Sequence[CapturedPage],
            clerk: Clerk) -> CaseState:
        """Store ``pages`` and put them after the material's existing pages."""
        if not pages:
            raise CaseRuleError(["没有可保存的页面。"])
        refs = [page_ref(p, self._blobs.put(p.page.jpeg)) for p in pages]
        case: CaseState | None = None
        for start in range(0, len(refs), MAX_NEW_PAGES_PER_EVENT):
            batch = refs[start:start + MAX_NEW_PAGES_PER_EVENT]

            def build(now: CaseState, _s: Session, batch: list[PageRef] = batch
                      ) -> dict[str, object]:
                self._check_material(now, material_id)
                self._payload(now, {material_id: (*pages_of(now.pages, material_id),
                                                  *batch)})   # checks the limits
                return appended_payload(material_id, batch)

            case = self._cases.change(case_id, CaseEventKind.PAGES_RECORDED, clerk, build)
        assert case is not None   # ``pages`` is not empty: one batch at least
        return case

    def arrange(self, case_id: str, changes: Mapping[str, Sequence[PageRef]], clerk: Clerk,
                *, expected_version: int) -> CaseState:
        """Record the clerk's edits (turn, remove, move, reorder: see
        app.domain.case_pages) made on the case as it was at ``expected_version``."""
        wanted: Changes = {m: tuple(ps) for m, ps in changes.items()}

        def build(now: CaseState, _s: Session) -> dict[str, object]:
            if now.version != expected_version:
                raise CaseRuleError(["办件已在别处修改（扫描件或收件材料有变化），请刷新后再调整页面。"])
            for material_id in wanted:
                self._check_material(now, material_id)
            known = {p.sha256: p for _, ps in now.pages for p in ps}
            trusted = {m: tuple(self._trusted(p, known) for p in ps)
                       for m, ps in wanted.items()}
            return self._payload(now, trusted)

        return self._cases.change(case_id, CaseEventKind.PAGES_RECORDED, clerk, build)

    def _trusted(self, page: PageRef, known: Mapping[str, PageRef]) -> PageRef:
        """The page as the record may hold it: only its turn comes from the caller. A page
        the case has keeps what was recorded when it was scanned; another stored page
        (a 一件事's page filed on a second case) is described from its own JPEG."""
        if not isinstance(page.turns, int) or not 0 <= page.turns <= 3:
            raise CaseRuleError([f"页面 {page.sha256[:12]}… 的旋转应为 0 至 3 个四分之一圈。"])
        if page.sha256 in known:
            return replace(known[page.sha256], turns=page.turns)
        from PIL import Image  # not at start: the CLI's quick commands never load it

        try:
            jpeg = self._blobs.get(page.sha256)
        except (BlobMissing, ValueError):
            raise CaseRuleError([f"页面 {page.sha256[:12]}… 不在本机存档中。"]) from None
        with Image.open(io.BytesIO(jpeg)) as picture:
            dpi = round(float(picture.info.get("dpi", (0, 0))[0]))
            return PageRef(page.sha256, picture.width, picture.height, dpi,
                           picture.mode == "RGB", len(jpeg), page.turns, dpi,
                           printable(page.origin)[:200])

    def _check_material(self, case: CaseState, material_id: str) -> None:
        if material_id not in self.material_names(case):
            raise CaseRuleError([f"事项“{case.item_name}”没有材料“{material_id}”。"])

    @staticmethod
    def _payload(case: CaseState, changes: Changes) -> dict[str, object]:
        try:
            after = changed_pages(case.pages, changes)
        except PageError as exc:
            raise CaseRuleError([str(exc)]) from exc
        if len(all_hashes(after) - all_hashes(case.pages)) > MAX_NEW_PAGES_PER_EVENT:
            raise CaseRuleError([f"一次最多新增{MAX_NEW_PAGES_PER_EVENT}页。"])
        return pages_payload(changes)

    # ---- the case PDF ----------------------------------------------------------------

    def sections(self, case: CaseState) -> list[MaterialSection]:
        """The case's pages by material, in the checklist's order; pages of a material
        no longer on it follow, under the name the item version gives it."""
        from app.documents.case_pdf import MaterialSection

        names = self.material_names(case)
        order = [m.material_id for m in case.materials] + list(names)
        by_material = dict(case.pages)
        seen: set[str] = set()
        sections = []
        for mid in [*order, *by_material]:
            if mid in seen or mid not in by_material:
                continue
            seen.add(mid)
            sections.append(MaterialSection(names.get(mid, mid), by_material[mid]))
        return sections

    def case_pdf(self, case_id: str,
                 progress: Callable[[int, int], None] | None = None) -> bytes:
        """The case's materials as one PDF, a bookmark per material (no re-encoding)."""
        from app.documents.case_pdf import assemble

        case = self._cases.get(case_id)
        when = dt.date.today().isoformat()
        return assemble(self.sections(case), self.page_jpeg,
                        title=f"{case.number} {case.applicant.name} 收件材料（{when}）",
                        progress=progress)
