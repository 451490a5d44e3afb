"""One scan into a material, as it runs on a worker thread (no widgets here).

Pages are stored one by one as the pipeline delivers them, so a cancel or a device that
goes away keeps every page already delivered; the job then ends with the source's
Chinese message instead of an exception, and the panel shows both. The newest case
state is left in :attr:`ScanJob.latest` for the panel to show while the scan goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from app.capture.prepare import CapturedPage, captured_pages
from app.capture.profiles import Profile
from app.capture.source import Cancel, Cancelled, CaptureError, CaptureSource, DeviceGone
from app.capture.sources import open_source
from app.config import Settings
from app.domain.case import CaseState, Clerk
from app.domain.case_pages import pages_of
from app.services.cases import CaseRuleError
from app.services.scans import CaseScans
from ui.ops import Reporter

# The spec of the 导入文件 entry: the clerk picks the files when the scan starts.
FILE_SPEC = "file:"


@dataclass(frozen=True, slots=True)
class ScanOutcome:
    case: CaseState | None     # after the last page stored (None: nothing stored)
    stored: int                # pages added to the material
    message: str               # why it stopped early ("" when the source ran out)
    cancelled: bool = False

    def said(self, material: str, replaced: int | None) -> tuple[str, bool]:
        """What the clerk is told about the scan into ``material``, and whether it went
        as asked (a retake replaced page ``replaced``)."""
        if replaced is not None and self.stored:
            return f"已重扫“{material}”第{replaced + 1}页。", True
        if self.cancelled:
            return f"已取消扫描；已保存的 {self.stored} 页保留在“{material}”。", False
        if self.message:
            kept = (f"已保存的 {self.stored} 页保留在“{material}”。" if self.stored
                    else "未保存任何页面。")
            return f"{self.message}\n{kept}", False
        if self.stored:
            return f"已扫描 {self.stored} 页到“{material}”。", True
        return "扫描来源没有送来页面：请检查是否放好纸张。", False


@dataclass
class ScanJob:
    """What to scan, into which material; ``replace`` is the index of the page a
    retake takes the place of (None: the pages go after the material's last)."""

    scans: CaseScans
    settings: Settings
    clerk: Clerk
    case_id: str
    material_id: str
    spec: str
    profile: Profile
    files: tuple[Path, ...] = ()
    replace: int | None = None
    cancel: Cancel = field(default_factory=Cancel)
    latest: list[CaseState] = field(default_factory=list)
    opener: Callable[[str, Settings], CaptureSource] = open_source
    # The device as opened by an earlier scan (kept by the panel: a feeder's or a
    # fake scanner's place in its pages carries on); set here when this job opens it.
    source: CaptureSource | None = None

    def _source(self) -> CaptureSource:
        if self.spec == FILE_SPEC:
            from app.capture.files import FileImport
            return FileImport(list(self.files))
        if self.source is None:
            self.source = self.opener(self.spec, self.settings)
        return self.source

    def _pages(self, reporter: Reporter) -> Iterator[CapturedPage]:
        source = self._source()
        raws = source.acquire(self.profile.settings, self.cancel, reporter.report)
        return captured_pages(raws, self.profile)

    def run(self, reporter: Reporter) -> ScanOutcome:
        stored = 0
        case: CaseState | None = None
        pages: Iterator[CapturedPage] = iter(())
        try:
            reporter.report(f"正在连接扫描来源 {self.spec}…")
            pages = self._pages(reporter)
            for page in pages:
                case = self.scans.add(self.case_id, self.material_id, [page], self.clerk)
                stored += 1
                self.latest.append(case)
                reporter.report(f"已保存 {stored} 页，继续扫描…（Esc 取消）", stored)
                if self.replace is not None:
                    case = self._put_in_place(case)
                    break
                self.cancel.check()
        except Cancelled:
            return ScanOutcome(case, stored, "", cancelled=True)
        except CaptureError as exc:
            if isinstance(exc, DeviceGone):
                self.source = None   # opened afresh next time (plugged back in)
            return ScanOutcome(case, stored, str(exc))
        except CaseRuleError as exc:
            return ScanOutcome(case, stored, "；".join(exc.problems))
        finally:
            # A retake stops after one page: the source (a scanner's subprocess, an
            # open file) is told now, not whenever the generator is collected.
            close = getattr(pages, "close", None)
            if close is not None:
                close()
        return ScanOutcome(case, stored, "")

    def _put_in_place(self, case: CaseState) -> CaseState:
        """A retake: the new page (stored last) takes the old one's place."""
        assert self.replace is not None
        pages = pages_of(case.pages, self.material_id)
        if not 0 <= self.replace < len(pages) - 1:   # the old page went meanwhile
            return case
        order = (*pages[:self.replace], pages[-1], *pages[self.replace + 1:-1])
        case = self.scans.arrange(self.case_id, {self.material_id: order}, self.clerk,
                                  expected_version=case.version)
        self.latest.append(case)
        return case
