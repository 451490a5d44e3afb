"""One scan into a checklist row, as it runs on a worker thread (no widgets here).

Each page is filed into every target of the row (one at a single item's window; every
case of a 一件事 that asks for the material: :mod:`ui.capture.page_targets`) — the same
captured page, so the same hash, stored once. Pages are stored one by one as the
pipeline delivers them, so a cancel or a device that goes away keeps every page already
delivered; the job then ends with the source's Chinese message instead of an
exception, and the panel shows both. The newest case states are left in
:attr:`ScanJob.latest` for the panel to show while the scan goes on.
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
from ui.capture.page_targets import Target
from ui.ops import Reporter

# The spec of the 导入文件 entry: the clerk picks the files when the scan starts.
FILE_SPEC = "file:"


@dataclass(frozen=True, slots=True)
class ScanOutcome:
    case: CaseState | None     # after the last page stored (None: nothing stored)
    stored: int                # pages added to the row (each filed in all its targets)
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
    """What to scan, into which row's targets; ``replace`` is the index of the shown
    page a retake takes the place of (None: the pages go after the material's last),
    and ``places`` where that page is in each target's own list (None: not there)."""

    scans: CaseScans
    settings: Settings
    clerk: Clerk
    material_id: str           # the checklist row (its name is what the clerk is told)
    targets: tuple[Target, ...]
    spec: str
    profile: Profile
    files: tuple[Path, ...] = ()
    replace: int | None = None
    places: tuple[int | None, ...] = ()
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
                added = []
                for target in self.targets:
                    case = self.scans.add(target.case_id, target.material_id, [page],
                                          self.clerk)
                    self.latest.append(case)
                    added.append(case)
                stored += 1
                reporter.report(f"已保存 {stored} 页，继续扫描…（Esc 取消）", stored)
                if self.replace is not None:
                    for target, now, place in zip(self.targets, added, self.places,
                                                  strict=True):
                        case = self._put_in_place(target, now, place)
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

    def _put_in_place(self, target: Target, case: CaseState, place: int | None
                      ) -> CaseState:
        """A retake: the new page (stored last) takes the old one's place."""
        pages = pages_of(case.pages, target.material_id)
        if place is None or not 0 <= place < len(pages) - 1:   # the old page went meanwhile
            return case
        order = (*pages[:place], pages[-1], *pages[place + 1:-1])
        case = self.scans.arrange(target.case_id, {target.material_id: order}, self.clerk,
                                  expected_version=case.version)
        self.latest.append(case)
        return case
