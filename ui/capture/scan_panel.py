"""扫描件 beside the material checklist: the selected material's pages, scanned in and
arranged by keyboard.

Keys (anywhere on the checklist page, installed by :meth:`ScanPanel.install_keys`):
Ctrl+S scans into the material selected in the checklist, Ctrl+Shift+S scans again in
place of the selected page, Ctrl+1…4 pick the profile, Ctrl+E the source, Esc cancels a
scan (the pages already stored stay). With the document camera (高拍仪) as the source
Ctrl+S is the shutter: one still, or for 身份证正反面 the front, then — the card turned —
the back (:mod:`ui.capture.camera_view`). Tab reaches the thumbnails, whose own keys are in
:mod:`ui.capture.thumbnails`. Every change goes through the service with the case
version this panel shows; what comes back is shown, so the screen is the log.

A single item's window gives the panel its case (:meth:`ScanPanel.show_case`): a row's
pages are that case's pages under the row's id. A 一件事 gives it every case and where
each merged row is filed (:meth:`ScanPanel.show_cases`): a scan goes into every case
that asks for the material, and an edit of the pages shown is made on each of them, as
:mod:`ui.capture.page_targets` says.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QKeySequence, QShortcut
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.capture.profiles import PROFILES, Profile
from app.capture.source import CaptureError, CaptureSource
from app.capture.sources import open_source
from app.config import Settings
from app.domain.case import CaseState, Clerk, MaterialState
from app.domain.case_pages import CasePages, PageRef
from app.domain.catalogue import Material
from app.workstation import Workstation
from ui.capture.camera_view import FLIP, READY, TURN_CARD, CameraView, is_camera
from ui.capture.material_counts import MaterialCounts
from ui.capture.material_picker import MaterialPicker
from ui.capture.page_edits import PageEdits
from ui.capture.page_targets import Filing, Targets
from ui.capture.page_zoom import PageZoom
from ui.capture.scan_job import FILE_SPEC, ScanJob, ScanOutcome
from ui.capture.source_choice import ProfileChoice, SourceList
from ui.capture.thumbnails import PageThumbnails, thumbnails_of
from ui.ops import Operation, ProgressUpdate
from ui.widgets.problems import problems_of

ERROR = "color: #b00020;"
DONE = "color: #1e7d32;"
HINT = ("Ctrl+S 扫描到所选材料　Ctrl+Shift+S 重扫所选页　Ctrl+1–4 扫描方案　Ctrl+E 来源　"
        "Esc 取消扫描\nTab 到缩略图：←→ 选页　R/Shift+R 旋转　Ctrl+←→ 调整顺序（可拖动）　"
        "Del 删除　M 移到其他材料　Enter 放大查看")


class ScanPanel(QWidget):
    case_changed = Signal(object)     # CaseState after pages were stored or arranged
                                      # (a 一件事: each case changed, in turn)
    scanning_changed = Signal(bool)

    def __init__(self, station: Workstation, clerk: Clerk,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.station = station
        self.clerk = clerk
        self.filing = Filing()   # the case(s) shown, and where each row is filed
        self.checklist: tuple[Material, ...] = ()
        self.states: list[MaterialState] = []
        self.material_id = ""
        self.job: ScanJob | None = None
        self.images: dict[str, QImage] = {}
        self._asked: set[str] = set()
        self.files_dialog: QFileDialog | None = None
        # The way a spec becomes a source (tests put a device of their own here), and
        # the sources opened so far by spec.
        self.opener: Callable[[str, Settings], CaptureSource] = open_source
        self._opened: dict[str, CaptureSource] = {}

        self.source = SourceList(station.settings)
        self.source.failed.connect(lambda text: self.say(text, ERROR))
        self.source.currentIndexChanged.connect(self._source_chosen)
        self.camera_view = CameraView()
        self.camera_view.dropped.connect(self.cancel_scan)
        self.profiles = ProfileChoice()
        self.heading = QLabel("扫描件")
        self.heading.setObjectName("title")
        self.heading.setWordWrap(True)
        self.thumbnails = PageThumbnails()
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.warning = QLabel()
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet("color: #b00020; font-weight: bold;")
        self.warning.hide()
        self.counts = MaterialCounts()
        hint = QLabel(HINT)
        hint.setObjectName("hint")
        hint.setWordWrap(True)
        source_row = QHBoxLayout()
        source_row.addWidget(QLabel("来源"))
        source_row.addWidget(self.source, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        # The camera's picture beside the thumbnails: they keep their height, and flow
        # into the width left.
        pages = QHBoxLayout()
        pages.addWidget(self.thumbnails, 1)
        pages.addWidget(self.camera_view, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(source_row)
        layout.addWidget(self.profiles)
        layout.addWidget(self.heading)
        layout.addLayout(pages, 1)
        layout.addWidget(self.status)
        layout.addWidget(self.warning)
        layout.addWidget(self.counts)
        layout.addWidget(hint)
        self.setMinimumWidth(430)

        self.edits = edits = PageEdits(self)
        t = self.thumbnails
        t.turn_requested.connect(edits.turn)
        t.remove_requested.connect(edits.remove)
        t.move_requested.connect(edits.ask_move)
        t.zoom_requested.connect(edits.open_zoom)
        t.reordered.connect(edits.reorder)

    # The edit under way and its dialogs (ui.capture.page_edits).
    @property
    def editing(self) -> bool:
        return self.edits.editing

    @property
    def picker(self) -> MaterialPicker | None:
        return self.edits.picker

    @property
    def zoom(self) -> PageZoom | None:
        return self.edits.zoom

    @property
    def profile(self) -> Profile:
        return self.profiles.profile

    def install_keys(self, host: QWidget) -> None:
        """The panel's keys on ``host`` and its children (the whole checklist page)."""
        keys: list[tuple[str, Callable[[], None]]] = [
            ("Ctrl+S", self.scan), ("Ctrl+Shift+S", self.retake),
            ("Ctrl+E", self.source.open_list)]
        keys += [(f"Ctrl+{p.key}", self._profile_key(p)) for p in PROFILES]
        for key, slot in keys:
            QShortcut(QKeySequence(key), host, slot).setContext(
                Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.cancel_key = QShortcut(QKeySequence("Esc"), host, self.cancel_scan)
        self.cancel_key.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.cancel_key.setEnabled(False)

    def _profile_key(self, p: Profile) -> Callable[[], None]:
        return lambda: self.choose_profile(p)

    # ---- what is shown ---------------------------------------------------------------

    def set_checklist(self, checklist: tuple[Material, ...]) -> None:
        self.checklist = checklist
        self.refresh()

    def set_marks(self, states: Sequence[MaterialState]) -> None:
        """The checklist's marks as they stand (recorded only at the decision)."""
        self.states = list(states)
        self._show_warning()
        self._show_counts()

    def show_case(self, case: CaseState) -> None:
        """``case`` as it came back from a service; an older state than the one shown
        (a slow answer overtaken by a newer one) is ignored. A case the panel does not
        hold yet is a single item's: its rows file into it alone."""
        if not self.filing.take(case):
            return
        self.source.look()   # now, not while the clerk types the applicant
        self.refresh()

    def show_cases(self, cases: Sequence[CaseState], targets: Targets) -> None:
        """一件事: the bundle's cases (the first is the one the screen decides on) and,
        for each row of the merged checklist, the cases and material ids it files into."""
        self.filing.file_bundle(cases, targets)
        self.source.look()
        self.refresh()

    @property
    def case(self) -> CaseState | None:
        """The case the screen decides on (a 一件事: its first)."""
        return self.filing.case

    def show_material(self, material_id: str) -> None:
        if material_id != self.material_id:
            self.material_id = material_id
            self.refresh()

    @property
    def pages(self) -> tuple[PageRef, ...]:
        """The selected row's pages as shown."""
        return self.filing.pages(self.material_id)

    @property
    def shown(self) -> CasePages:
        return self.filing.shown([m.id for m in self.checklist])

    def material_name(self, material_id: str) -> str:
        return next((m.name for m in self.checklist if m.id == material_id), material_id)

    def unscanned(self) -> list[str]:
        """Materials ticked 已收取 on paper with no page (the note before F9)."""
        if self.case is None:
            return []
        # The rows as one case: a 一件事's merged row counts its pages as shown.
        case = replace(self.case, materials=tuple(self.states), pages=self.shown)
        return self.station.scans.received_unscanned(case)

    def refresh(self, current: int | None = None) -> None:
        pages = self.pages
        if current is None:
            current = max(0, self.thumbnails.currentRow())
        name = self.material_name(self.material_id) if self.material_id else "（未选材料）"
        self.heading.setText((f"{name}　{len(pages)} 页" if pages else f"{name}　尚未扫描")
                             + self._filed_into(self.material_id))
        self.thumbnails.show_pages(pages, self.images, self.profile.dpi, current)
        self._show_counts()
        self._show_warning()
        missing = {p.sha256 for p in pages} - set(self.images) - self._asked
        if missing:
            self._asked |= missing
            page_jpeg = self.station.scans.page_jpeg
            Operation(self, lambda: thumbnails_of(page_jpeg, sorted(missing)),
                      self._thumbnails_arrived).failure(
                lambda exc: self.say(f"缩略图无法显示：{exc}", ERROR)).run()

    def _thumbnails_arrived(self, images: dict[str, QImage]) -> None:
        self.images.update(images)
        self._asked -= set(images)
        if set(images) & {p.sha256 for p in self.pages}:
            self.refresh()

    def _filed_into(self, row: str) -> str:
        """一件事: which items' cases the row's pages go into."""
        if not self.filing.bundle or not row:
            return ""
        names = self.filing.item_names(row)
        return f"\n存入：{'、'.join(names)}" if names else "\n本一件事没有办件需要此材料"

    def _show_counts(self) -> None:
        self.counts.show_counts(self.checklist, self.shown, set(self.unscanned()),
                                self.material_id)

    def _show_warning(self) -> None:
        names = self.unscanned()
        self.warning.setText(f"已收取但未扫描：{'、'.join(names)}" if names else "")
        self.warning.setVisible(bool(names))

    def say(self, text: str, style: str = "") -> None:
        self.status.setStyleSheet(style)
        self.status.setText(text)

    # ---- source and profile ----------------------------------------------------------

    def _source_chosen(self, _index: int) -> None:
        try:
            if self.camera_view.choose(self.source.spec):
                self.say(READY)
        except CaptureError as exc:
            self.say(str(exc), ERROR)

    def choose_profile(self, profile: Profile) -> None:
        self.profiles.choose(profile)
        self.refresh()
        self.say(f"扫描方案：{profile.name}（{profile.summary}）")

    # ---- scanning --------------------------------------------------------------------

    def can_change(self) -> bool:
        if self.case is None:
            self.say("请先提交申请人信息，办件编号生成后再扫描。", ERROR)
            return False
        if self.job is not None:
            self.say("正在扫描：请等扫描结束，或按 Esc 取消。", ERROR)
            return False
        return not self.editing   # one edit at a time: each needs the version before

    def scan(self) -> None:
        """Ctrl+S: pages into the material selected in the checklist."""
        if self._next_side():
            return
        if not self.can_change():
            return
        if not self.material_id:
            self.say("请先在收件清单中选择要扫描的材料。", ERROR)
            return
        self._start(None)

    def retake(self) -> None:
        """Ctrl+Shift+S: one new capture in place of the selected page."""
        if self._next_side():
            return
        index = self.thumbnails.current_index()
        if index is None:
            self.say("请先在缩略图中选择要重扫的页面（Tab 到缩略图，←→ 选页）。", ERROR)
            return
        if self.can_change():
            self._start(index)

    def _start(self, replace_at: int | None) -> None:
        if not self.filing.targets_of(self.material_id):
            self.say("本一件事没有办件需要此材料，无处存放扫描件。", ERROR)
            return
        spec = self.source.spec
        if spec is None:
            self.say("还没有可用的扫描来源：请稍候，或在 settings.toml 的 [devices] scanner "
                     "中设置扫描仪。", ERROR)
            return
        if spec == FILE_SPEC:
            self._choose_files(replace_at)
            return
        if is_camera(spec):
            self._shoot(spec, replace_at)
            return
        self._run(spec, replace_at, ())

    def _shoot(self, spec: str, replace_at: int | None) -> None:
        """The first still of a camera capture; the scan job then waits for the rest."""
        try:
            camera = self.camera_view.first_shot(spec, self.profile.sides_per_page)
        except CaptureError as exc:
            self.say(str(exc), ERROR)
            return
        self._run(spec, replace_at, (), camera)
        if self.camera_view.waiting:
            self.say(TURN_CARD)

    def _next_side(self) -> bool:
        """The shutter again while a capture waits for a card's back: that still."""
        shots = self.camera_view.shots
        if shots is None or not shots.waiting or self.job is None:
            return False
        try:
            shots.shoot()
            self.say("正在拍摄背面…")
        except CaptureError as exc:
            self.say(f"{exc}\n{FLIP}；Esc 取消。", ERROR)
        return True

    def _choose_files(self, replace_at: int | None) -> None:
        dialog = QFileDialog(self, "选择要导入的文件")
        dialog.setFileMode(QFileDialog.FileMode.ExistingFiles)
        dialog.setNameFilter("图像和 PDF (*.jpg *.jpeg *.png *.tif *.tiff *.pdf)")
        dialog.filesSelected.connect(
            lambda names: self._run(FILE_SPEC, replace_at, tuple(Path(n) for n in names)))
        self.files_dialog = dialog
        dialog.open()

    def _run(self, spec: str, replace_at: int | None, files: tuple[Path, ...],
             source: CaptureSource | None = None) -> None:
        row = self.material_id
        places = self.filing.retake_places(row, replace_at) if replace_at is not None else ()
        job = ScanJob(self.station.scans, self.station.settings, self.clerk,
                      row, self.filing.targets_of(row), spec, self.profile, files=files,
                      replace=replace_at, places=places, opener=self.opener,
                      source=source or self._opened.get(spec))
        self.job = job
        self._scanning(True)
        what = f"重扫第{replace_at + 1}页" if replace_at is not None else "扫描"
        self.say(f"{what}“{self.material_name(job.material_id)}”（{self.profile.name}）…"
                 "　Esc 取消")
        Operation.reporting(self, job.run, self._scanned).progress(
            self._progress).failure(self._scan_failed).run()

    def _scanning(self, on: bool) -> None:
        if hasattr(self, "cancel_key"):
            self.cancel_key.setEnabled(on)
        self.scanning_changed.emit(on)

    def _progress(self, update: ProgressUpdate) -> None:
        job = self.job
        if job is None:
            return
        self.say(TURN_CARD if self.camera_view.waiting else update.label)
        self.adopt_all(job.latest)   # pages stored meanwhile: show them as they come

    def adopt(self, case: CaseState) -> None:
        before = self.filing.version(case.id)
        self.show_case(case)
        if case.version > before:
            self.case_changed.emit(case)

    def adopt_all(self, states: Sequence[CaseState]) -> None:
        """The newest of ``states`` for each case."""
        for case in {c.id: c for c in sorted(states, key=lambda c: c.version)}.values():
            self.adopt(case)

    def cancel_scan(self) -> None:
        if self.job is not None:
            self.job.cancel.set()
            self.say("正在取消…（已保存的页面保留）")

    def _keep_source(self, job: ScanJob | None) -> None:
        if job is not None and is_camera(job.spec):   # the camera view keeps it
            self.camera_view.ended(gone=job.source is None)
            return
        if job is None or job.spec == FILE_SPEC:
            return
        if job.source is None:
            self._opened.pop(job.spec, None)
        else:
            self._opened[job.spec] = job.source

    def _scanned(self, outcome: ScanOutcome) -> None:
        job, self.job = self.job, None
        self._keep_source(job)
        self._scanning(False)
        if job is not None:
            self.adopt_all(job.latest)
        if outcome.case is not None:
            self.adopt(outcome.case)
        if job is None:
            return
        if job.replace is not None and outcome.stored:
            self.refresh(job.replace)
        text, ok = outcome.said(self.material_name(job.material_id), job.replace)
        if ok and self.filing.bundle and len(job.targets) > 1:
            text += f"（同一扫描件存入 {len(job.targets)} 个办件）"
        self.say(text, DONE if ok else ERROR)

    def _scan_failed(self, exc: Exception) -> None:
        job, self.job = self.job, None
        self.camera_view.ended(gone=False)
        self._scanning(False)
        if job is not None:
            self.adopt_all(job.latest)
        self.say("扫描失败：" + "；".join(problems_of(exc)), ERROR)
