"""Printing at the window: render a document, send it to its printer, archive it.

The clerk's flow never waits on a printer's verdict to keep its data: the PDF of a case
document is stored (content-addressed) and the attempt recorded before it is sent, and
the outcome after (see :mod:`app.services.document_archive`), so the county receives
the archive with the case. A second print of the same document of the same case is
marked 补打 with its time.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from app.config import Settings
from app.documents import decisions, slips, templates
from app.documents.availability import WHY_NOT, kinds_for
from app.documents.form import DocumentKind, FormDocument, Slip, SlipBarcode, SlipQR, Stamp
from app.documents.targets import PrintError, PrintTarget
from app.domain.case import CaseState, Clerk, Decision
from app.domain.catalogue import ServiceItem
from app.domain.notice import NoticeFacts, decision_basis
from app.domain.numbering import CaseNumber, CaseNumberError
from app.errors import IntegrityProblem, UserError
from app.notifications import changes_of
from app.services.cases import CaseRuleError, CaseService, EventFacts
from app.services.catalogue import CatalogueService, NotFound
from app.services.document_archive import (
    EXPORTED,
    FAILED,
    PRINTED,
    AlreadyIssued,
    ArchivedDocument,
    DocumentArchive,
    Issue,
)
from app.services.integrity import CaseIntegrityError, Witness
from app.services.permissions import Action, require
from app.services.pickup import delivery_facts
from app.storage.blobs import BlobStore
from app.storage.db import Database
from app.storage.files import FileWriteError, check_output_path

if TYPE_CHECKING:
    from app.documents.archival import ArchiveMeta
    from app.documents.fonts import FontSet
    from app.documents.thermal import RenderedSlip

# reportlab, Pillow and python-escpos (which parses its printer database, ~0.2 s) are
# imported on first use, not when the window starts.

# A system spooler prints PDF bytes on a named printer ("" = default); the window
# supplies one built on QtPrintSupport, the command line uses CUPS.
SystemSpooler = Callable[[bytes, str], None]

_CASE_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class DocumentError(UserError, ValueError):
    """A document cannot be made for this case or reference (message in Chinese)."""


class DocumentIntegrityError(IntegrityProblem, DocumentError):
    """The case's current state disagrees with its own log: nothing may print from it."""


@dataclass(frozen=True, slots=True)
class RenderedDocument:
    kind: DocumentKind
    title: str
    pdf: bytes
    pages: int
    missing_glyphs: tuple[str, ...]
    reprint: bool = False
    case_id: str = ""
    case_number: str = ""
    slip: Slip | None = None
    raster: RenderedSlip | None = None   # thermal documents: the exact dots
    # A4 documents: made archive-grade (XMP, PDF/A) when issued or exported; None once
    # done, or for slips (whose PDF carries its metadata already).
    archive_meta: ArchiveMeta | None = None

    @property
    def png(self) -> bytes | None:
        return self.raster.png() if self.raster else None

    @property
    def warnings(self) -> tuple[str, ...]:
        if not self.missing_glyphs:
            return ()
        # Imported here: only a document with a missing character needs it, and by then
        # the renderer has loaded reportlab anyway.
        from app.documents.fonts import MISSING_MARK, font_advice

        chars = "、".join(self.missing_glyphs)
        return (f"字体中没有“{chars}”，打印出来是方框“{MISSING_MARK}”：请在纸面上的"
                f"“{MISSING_MARK}”处手写补全。{font_advice(self.missing_glyphs)}",)


@dataclass(frozen=True, slots=True)
class PrintOutcome:
    ok: bool
    target: str
    message: str
    archived_sha256: str = ""
    kept_pdf: str = ""             # where a failed document's PDF was kept
    reprint: bool = False          # printed as 补打 (decided when it was printed)


_A4_BUILDERS: dict[DocumentKind, Callable[[CaseState, ServiceItem, Stamp], FormDocument]] = {
    DocumentKind.RECEIPT: templates.receipt,
    DocumentKind.PICKUP: templates.pickup,
}
# The decision notices render from the decision's frozen legal frame as well.
_DECISION_BUILDERS: dict[DocumentKind, Callable[[CaseState, ServiceItem, Stamp, NoticeFacts],
                                                FormDocument]] = {
    DocumentKind.ACCEPTANCE: decisions.acceptance,
    DocumentKind.DEFERRED: decisions.deferred,
    DocumentKind.CORRECTION: decisions.correction,
    DocumentKind.REJECTION: decisions.rejection,
}


class DocumentService:
    def __init__(self, settings: Settings, db: Database, catalogue: CatalogueService,
                 cases: CaseService, blobs: BlobStore, witness: Witness, *,
                 system_spooler: SystemSpooler | None = None) -> None:
        self._settings = settings
        self._catalogue = catalogue
        self._cases = cases
        self._db = db
        self.archive = DocumentArchive(db, blobs, witness)
        self._changes = changes_of(db)
        self.system_spooler: SystemSpooler = system_spooler or _cups_spooler
        # The print time on stamps and 补打 marks (local, to the second).
        self.now: Callable[[], dt.datetime] = lambda: dt.datetime.now().replace(microsecond=0)

    def fonts(self) -> FontSet:
        """The document fonts (loaded on first use, about 0.2 s); DocumentError if none."""
        from app.documents.fonts import FontError, font_set

        try:
            return font_set(self._settings.fonts)
        except FontError as exc:
            raise DocumentError(str(exc)) from exc

    def _stamp(self, clerk: Clerk, reprint: bool = False, witness: str = "") -> Stamp:
        return Stamp(self._settings.site_name, clerk.window, clerk.clerk_name, self.now(),
                     reprint=reprint, witness=witness)

    def _a4(self, doc: FormDocument, case: CaseState | None, reprint: bool
            ) -> RenderedDocument:
        from reportlab.platypus.doctemplate import LayoutError

        from app.documents.a4 import archive_meta, render_pdf

        try:
            pdf = render_pdf(doc, self.fonts())
        except LayoutError as exc:   # a single cell taller than a page
            raise DocumentError(f"{doc.title}内容过长，无法排版到A4纸上：{exc}") from exc
        return RenderedDocument(doc.kind, doc.title, pdf.data, pdf.pages, pdf.missing_glyphs,
                                reprint, case.id if case else "", case.number if case else "",
                                archive_meta=archive_meta(doc))

    @staticmethod
    def archival(doc: RenderedDocument) -> RenderedDocument:
        """``doc`` as it is issued and archived: XMP metadata and, where it validates,
        PDF/A-2b (about 30 ms, so previews skip it; the page content is unchanged)."""
        if doc.archive_meta is None:
            return doc
        from app.documents.archival import archival_pdf

        return dataclasses.replace(doc, pdf=archival_pdf(doc.pdf, doc.archive_meta),
                                   archive_meta=None)

    def _thermal(self, slip: Slip, case: CaseState | None, reprint: bool) -> RenderedDocument:
        from app.documents.thermal import render_slip

        try:
            raster = render_slip(slip, self.fonts(), self._settings.thermal_dots)
        except ValueError as exc:   # a barcode too long for the paper, an endless slip
            raise DocumentError(str(exc)) from exc
        return RenderedDocument(slip.kind, slip.title, raster.pdf(case.number if case else ""), 1,
                                raster.missing_glyphs,
                                reprint, case.id if case else "", case.number if case else "",
                                slip, raster)

    # -- what can be rendered -----------------------------------------------------------

    def render_checklist(self, code: str, clerk: Clerk,
                         scenario_ids: frozenset[str] = frozenset()) -> RenderedDocument:
        """一次性告知单 for an item (with chosen 办理情形) or a 一件事 bundle."""
        stamp = self._stamp(clerk)
        try:
            item = self._catalogue.item(code)
        except NotFound:
            try:
                bundle = self._catalogue.bundle(code)
            except NotFound:
                raise DocumentError(f"目录中没有编码为“{code}”的事项或一件事。") from None
            items = self._catalogue.bundle_items(bundle)
            return self._a4(templates.bundle_checklist(bundle, items, stamp), None, False)
        unknown = scenario_ids - {s.id for s in item.scenarios}
        if unknown:
            raise DocumentError(f"事项“{item.name}”没有办理情形“{'、'.join(sorted(unknown))}”。")
        return self._a4(templates.checklist(item, stamp, scenario_ids), None, False)

    def render_ticket(self, info: slips.TicketInfo) -> RenderedDocument:
        return self._thermal(slips.ticket(info), None, False)

    def find_case(self, ref: str) -> CaseState:
        """A case by its number (typed or scanned; a lower-case check "x" is fine) or id.

        The 58 mm pickup slip carries only a QR code, whose text is ``NUMBER:WITNESS``;
        a scanner types all of it: the number is what comes before the colon, and the
        witness after it must be the case's (a slip made up, or of another record, is
        refused before anything is handed over).
        """
        text, _colon, witness = ref.strip().partition(":")
        text, witness = text.strip(), witness.strip().upper()
        try:
            if _CASE_ID.fullmatch(text):
                case = self._cases.get(text)
            else:
                try:
                    number = CaseNumber.parse(text)
                except CaseNumberError as exc:
                    shown = text if len(text) <= 40 else text[:40] + "…"   # a paste
                    raise DocumentError(f"“{shown}”不是有效的办件编号：{exc}") from None
                case = self._cases.by_number(str(number))
        except CaseRuleError as exc:
            raise DocumentError(str(exc)) from exc
        if witness and self._cases.witness_hash(case.id)[:32].upper() != witness:
            raise DocumentIntegrityError(
                f"取件通知单上的校验码与办件{case.number}的记录不符：请勿出件，核对纸面后告诉管理员"
                f"（yichuang audit check-paper {case.number} …）。")
        return case

    def verified_case(self, ref: str) -> CaseState:
        """:meth:`find_case`, then proved against its log (documents print only this)."""
        case = self.find_case(ref)
        try:
            return self._cases.verified(case.id)
        except CaseIntegrityError as exc:
            raise DocumentIntegrityError(str(exc)) from exc
        except CaseRuleError as exc:
            raise DocumentError(str(exc)) from exc

    def render_case_document(self, kind: DocumentKind, case_ref: str, clerk: Clerk, *,
                             reprint: bool | None = None) -> RenderedDocument:
        """A case document; ``reprint`` None means 补打 if this document was issued
        before: one stating the same event (a 收件凭证 after a 容缺补交, a second 补正
        notice, is a new document, not a 补打 of the first)."""
        if not kind.for_case:
            raise DocumentError(f"{kind.display}不是办件文书。")
        case = self.verified_case(case_ref)
        if kind not in kinds_for(case):
            raise DocumentError(f"办件{case.number}{WHY_NOT.get(kind, '')}"
                                f"（状态：{case.status}），不能打印{kind.display}。")
        item = self._catalogue.item_version(case.item_code, case.item_version)
        facts = self._cases.document_facts(case.id, receipt=kind is DocumentKind.RECEIPT)
        if reprint is None:
            reprint = self.was_issued(case.id, kind, since=self._stated_at(kind, facts))
        if facts is None or kind is DocumentKind.SERVICE:
            # The 送达回证 records this hand-over, by this clerk, now.
            stamp = self._stamp(clerk, reprint, facts.hash if facts else "")
        else:
            # The site as named when the decision was taken, so a renamed centre does not
            # change a reprint; receipts and older decisions use today's name.
            site = (facts.notice.site_name if facts.notice and facts.notice.site_name
                    else self._settings.site_name)
            stamp = Stamp(site, facts.window, facts.clerk_name,
                          self.now(), reprint=reprint,
                          witness=facts.hash, issued_at=facts.at,
                          reprint_clerk=clerk.clerk_name if reprint else "")
        if kind is DocumentKind.PICKUP_SLIP:
            return self._thermal(slips.pickup_slip(case, item, stamp, self._settings.thermal_dots),
                                 case, reprint)
        if kind in _DECISION_BUILDERS or kind is DocumentKind.SERVICE:
            notice = (facts.notice if facts and facts.notice
                      else self._legacy_notice(case, item))
            if kind is DocumentKind.SERVICE:
                served = decisions.served_document(case, item, notice)
                serves_notice = case.decision in (Decision.REJECT, Decision.CORRECTION)
                delivered = None if serves_notice else delivery_facts(self._db, case.id)
                if delivered:   # the hand-over as recorded: its time and clerk
                    stamp = Stamp(stamp.site_name, stamp.window, delivered.clerk_name,
                                  self.now(), reprint=reprint, witness=stamp.witness,
                                  issued_at=delivered.at,
                                  reprint_clerk=clerk.clerk_name if reprint else "")
                return self._a4(templates.service_receipt(
                    case, item, stamp, served, notice.authority if serves_notice else "",
                    delivered.delivery if delivered else None), case, reprint)
            return self._a4(_DECISION_BUILDERS[kind](case, item, stamp, notice), case, reprint)
        return self._a4(_A4_BUILDERS[kind](case, item, stamp), case, reprint)

    def _legacy_notice(self, case: CaseState, item: ServiceItem) -> NoticeFacts:
        """The frame of a case decided before decisions carried one. Nothing the original
        did not state is added from today's settings: no 文号, no 受……委托, no named
        复议机关 or court (the remedy reads as it did then); the deciding authority and
        the category's legal basis come from the item's pinned catalogue version."""
        decision = str(case.decision or Decision.ACCEPT)
        return NoticeFacts(item.department.name, str(item.category),
                           self._settings.notices.site_seal_name,
                           basis=decision_basis(item, decision, None))

    # -- where it goes ------------------------------------------------------------------

    def target_for(self, kind: DocumentKind) -> PrintTarget | None:
        """The configured printer: by kind, else by paper (a4 / thermal); A4 defaults to
        the system's default printer, thermal has no default."""
        printers = self._settings.printers
        text = printers.get(str(kind)) or printers.get("thermal" if kind.thermal else "a4")
        if text:
            return PrintTarget.parse(text)
        return None if kind.thermal else PrintTarget("system", "")

    def print(self, doc: RenderedDocument, clerk: Clerk, target: PrintTarget | None = None,
              *, overwrite: bool = False) -> PrintOutcome:
        """Send ``doc`` to ``target`` (or its configured printer) and archive it.

        Whether this is a 补打 is settled here, not when the preview was made: a second
        Ctrl+P on the same preview, or two quick presses, print as 补打. A ``pdf:`` target
        is an export: archived as such, it issues nothing. Never raises: the
        outcome says what happened and where the PDF was kept. Runs for seconds when a
        printer is slow — call it off the UI thread.
        """
        target = target or self.target_for(doc.kind)
        where = str(target) if target else ""
        doc = self.archival(doc)
        if doc.case_id:
            require(clerk.role, Action.PRINT_CASE_DOCUMENTS)
            try:   # the case may have moved on (or been tampered with) since the preview
                self._check_still_allowed(doc)
            except DocumentError as exc:
                return PrintOutcome(False, where, str(exc))
        if target is not None and target.scheme == "pdf":
            # Checked before anything is archived: a refused path issues nothing.
            try:
                target = PrintTarget("pdf", str(check_output_path(
                    Path(target.address), self._settings.data_dir, force=overwrite)))
            except FileWriteError as exc:
                return PrintOutcome(False, where, str(exc))
        sha, attempt, problems = "", "", []
        export = target is not None and target.scheme == "pdf"
        if doc.case_id and not export:
            try:
                doc, sha, attempt = self._claim(doc, clerk, where)
            except DocumentError as exc:   # the case moved on since the preview was made
                return PrintOutcome(False, where, str(exc))
            except (OSError, SQLAlchemyError) as exc:   # disk full, database locked…
                problems.append(f"未能存入办件档案（{exc}），请通知管理员")
        issue = Issue(doc.case_id, doc.kind, doc.title, len(doc.pdf), doc.pages, doc.reprint)
        try:
            if target is None:
                raise PrintError("未配置热敏打印机：请管理员在 settings.toml 的 [printers] "
                                 "thermal 中设置（如 escpos:tcp://打印机IP:9100）")
            self._send(doc, target)
            ok = True
            verb = "已导出到" if target.scheme == "pdf" else "已发送到"
            message = f"{doc.title}{'（补打）' if doc.reprint else ''}{verb}{target.label}"
        except (PrintError, OSError, ValueError) as exc:
            ok, message = False, str(exc)
        except Exception as exc:  # a driver or library failure must reach the clerk too
            ok, message = False, f"打印出错：{type(exc).__name__}：{exc}"
        kept = ""
        if not ok and attempt:
            message += "。文书已存入办件档案，可在“文书打印”（F6）中再次打印"
        elif not ok:
            try:
                kept = str(self._keep_unprinted(doc))
                message += f"。文书已保存为 {kept}"
            except OSError as exc:
                message += f"。文书也未能保存：{exc}"
        if attempt:
            try:
                self.archive.finish(attempt, issue, clerk, where, sha,
                                    PRINTED if ok else FAILED, message)
            except SQLAlchemyError as exc:
                problems.append(f"打印结果未能记入档案（{exc}）")
        elif doc.case_id and export:
            # A PDF handed out as a file is recorded as an export; only paper that went
            # to a printer counts as issuing the document (and makes the next one 补打).
            try:
                sha = self.archive.keep(doc.pdf)
                self.archive.record(issue, clerk, where, sha, EXPORTED if ok else FAILED,
                                    message)
            except (OSError, SQLAlchemyError) as exc:
                problems.append(f"未能存入办件档案（{exc}），请通知管理员")
        if problems:
            message += "。" + "；".join(problems)
        if doc.case_id:   # an attempt, an export or a failure: the case's archive grew
            self._changes.document_printed(doc.case_id, doc.kind.value)
        return PrintOutcome(ok, where, message, sha, kept, doc.reprint)

    def _check_still_allowed(self, doc: RenderedDocument) -> None:
        case = self.verified_case(doc.case_id)
        if doc.kind not in kinds_for(case):
            raise DocumentError(f"办件{case.number}{WHY_NOT.get(doc.kind, '')}"
                                f"（状态：{case.status}），不能打印{doc.kind.display}。")

    def _claim(self, doc: RenderedDocument, clerk: Clerk, where: str
               ) -> tuple[RenderedDocument, str, str]:
        """Decide 补打 and record the attempt, in one database transaction.

        Nothing is held while the printer works: once the attempt row exists it counts as
        issued, so a print started meanwhile, here or in another process, becomes 补打.
        """
        since = self._stated_at(doc.kind, self._cases.document_facts(
            doc.case_id, receipt=doc.kind is DocumentKind.RECEIPT))
        if not doc.reprint and self.archive.was_issued(doc.case_id, doc.kind, since=since):
            doc = self.archival(self.render_case_document(doc.kind, doc.case_id, clerk,
                                                          reprint=True))
        sha = self.archive.keep(doc.pdf)
        issue = Issue(doc.case_id, doc.kind, doc.title, len(doc.pdf), doc.pages, doc.reprint,
                      since)
        try:
            return doc, sha, self.archive.begin(issue, clerk, where, sha)
        except AlreadyIssued:
            # Another window or process issued the original a moment ago.
            doc = self.archival(self.render_case_document(doc.kind, doc.case_id, clerk,
                                                          reprint=True))
            sha = self.archive.keep(doc.pdf)
            issue = Issue(doc.case_id, doc.kind, doc.title, len(doc.pdf), doc.pages, True, since)
            return doc, sha, self.archive.begin(issue, clerk, where, sha)

    def _send(self, doc: RenderedDocument, target: PrintTarget) -> None:
        from app.documents.spool import send_escpos, write_pdf_file

        if target.scheme == "pdf":
            write_pdf_file(Path(target.address), doc.pdf)
        elif target.scheme == "system":
            self.system_spooler(doc.pdf, target.address)
        elif doc.raster is None or doc.slip is None:
            raise PrintError(f"{doc.title}是A4文书，不能发送到热敏打印机：请在设置中为它配置"
                             "A4打印机")
        else:
            send_escpos(target.address, self.escpos_bytes(doc))

    def escpos_bytes(self, doc: RenderedDocument) -> bytes:
        """What goes down the wire to a thermal printer for ``doc``."""
        from app.documents.spool import escpos_raster, escpos_text
        from app.documents.thermal import render_slip

        if doc.raster is None or doc.slip is None:
            raise PrintError(f"{doc.title}不是小票")
        if not self._settings.thermal_text_mode:
            return escpos_raster(doc.raster)
        codes = {n: render_slip(Slip(doc.kind, "", (b,)), self.fonts(),
                                self._settings.thermal_dots).image
                 for n, b in enumerate(doc.slip.blocks) if isinstance(b, (SlipBarcode, SlipQR))}
        return escpos_text(doc.slip, codes, self._settings.thermal_dots)

    def _keep_unprinted(self, doc: RenderedDocument) -> Path:
        from app.documents.spool import write_pdf_file

        folder = self._settings.data_dir / "未打印文书"
        # The random tail keeps two failures of the same document in one second apart.
        path = folder / f"{doc.title}-{dt.datetime.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}.pdf"
        write_pdf_file(path, doc.pdf)
        return path

    # -- the archive --------------------------------------------------------------------

    def was_issued(self, case_id: str, kind: DocumentKind, *,
                   since: dt.datetime | None = None) -> bool:
        return self.archive.was_issued(case_id, kind, since=since)

    @staticmethod
    def _stated_at(kind: DocumentKind, facts: EventFacts | None) -> dt.datetime | None:
        """When the event a document states happened: a copy issued since is the same
        document (a 补打); one issued before stated an earlier event. The 送达回证 states
        the hand-over as printed, so any earlier one counts."""
        return facts.at if facts is not None and kind is not DocumentKind.SERVICE else None

    def history(self, case_id: str) -> list[ArchivedDocument]:
        return self.archive.history(case_id)

    def archived_pdf(self, sha256: str) -> bytes:
        return self.archive.pdf(sha256)


def _cups_spooler(pdf: bytes, printer: str) -> None:
    from app.documents.spool import print_pdf_with_cups

    print_pdf_with_cups(printer, pdf)
