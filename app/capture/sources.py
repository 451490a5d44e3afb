"""Capture sources by spec, and the ones this machine has (``yichuang capture sources``,
``yichuang doctor``, the scan panel's source list).

A spec is ``kind:detail`` (see app.capture.source). Device modules are imported only
when their kind is asked for: listing sources must not start SANE for a clerk who only
imports files, and WIA exists only on Windows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from app.capture.source import (
    Capabilities,
    CaptureError,
    CaptureSource,
    SourceInfo,
    SourceKind,
)
from app.config import Settings

FOLDER_LEDGER = "capture-folder-seen.json"
KINDS = "、".join(k.value for k in SourceKind if k is not SourceKind.CAMERA)


@dataclass(frozen=True, slots=True)
class Discovery:
    """What was found, and for each kind of device that could not be looked at, why
    (scanimage missing, an eSCL scanner not answering)."""

    sources: list[SourceInfo]
    problems: list[str]


def _split(spec: str) -> tuple[SourceKind, str]:
    kind, _, detail = spec.strip().partition(":")
    try:
        return SourceKind(kind.strip().lower()), detail.strip()
    except ValueError:
        raise CaptureError(f"扫描来源“{spec}”无法识别：应以 {KINDS} 之一开头，"
                           "如 sane:test:0、folder:/srv/scans、file:申请书.pdf、fake。") from None


def open_source(spec: str, settings: Settings) -> CaptureSource:
    """The source ``spec`` names (CaptureError with a Chinese message when it cannot)."""
    kind, detail = _split(spec)
    if kind is SourceKind.FAKE:
        from app.capture.fake_source import FakeSource
        return FakeSource(seed=int(detail) if detail.isdigit() else 0)
    if not detail and kind is not SourceKind.FOLDER:
        raise CaptureError(f"扫描来源“{spec}”缺少设备或路径（冒号后面的部分）。")
    if kind is SourceKind.SANE:
        from app.capture.sane import SaneSource
        return SaneSource(detail)
    if kind is SourceKind.ESCL:
        from app.capture.escl import EsclSource
        return EsclSource(detail)
    if kind is SourceKind.WIA:
        from app.capture.wia import WiaSource
        return WiaSource(detail)
    if kind is SourceKind.FOLDER:
        from app.capture.folder import WatchedFolder
        root = detail or settings.scan_folder
        if not root:
            raise CaptureError("没有设置扫描文件夹：在 settings.toml 的 [devices] scan_folder "
                               "中填写，或用 folder:路径 指定。")
        _outside_data_dir(Path(root), settings)
        return WatchedFolder(Path(root), settings.data_dir / FOLDER_LEDGER)
    if kind is SourceKind.FILE:
        from app.capture.files import FileImport
        return FileImport([Path(detail)])
    raise CaptureError("高拍仪只能在窗口程序中使用（需要实时画面）；命令行请用扫描仪或文件。")


def _outside_data_dir(root: Path, settings: Settings) -> None:
    """A scan folder inside the data directory would take its documents and pages (other
    applicants' papers) as new scans: refused, whatever the path's spelling."""
    try:
        home, folder = settings.data_dir.resolve(), root.resolve()
    except OSError:
        return   # unreachable: the folder source says so when it looks
    if folder == home or home in folder.parents:
        raise CaptureError(f"扫描文件夹 {root} 在数据目录 {settings.data_dir} 里面：请另选一个"
                           "文件夹（[devices] scan_folder），数据目录只由本程序使用。")


def _sane(settings: Settings) -> list[SourceInfo]:
    from app.capture.sane import sane_devices
    return sane_devices()


def _escl(settings: Settings) -> list[SourceInfo]:
    from app.capture.escl import escl_devices
    return escl_devices(list(settings.escl_scanners)) if settings.escl_scanners else []


def _wia(settings: Settings) -> list[SourceInfo]:
    from app.capture.wia import wia_devices
    return wia_devices()


_DEVICES: tuple[tuple[str, Callable[[Settings], list[SourceInfo]]], ...] = (
    ("SANE 扫描仪", _sane), ("网络扫描仪（eSCL）", _escl), ("WIA 扫描仪", _wia))


def discover(settings: Settings) -> Discovery:
    """Scanners found now, then the folder, file import and the fake source.

    A kind of device that cannot be looked at is a problem line, not a failure: the
    clerk can still import files.
    """
    found: list[SourceInfo] = []
    problems: list[str] = []
    for label, finder in _DEVICES:
        try:
            found.extend(finder(settings))
        except CaptureError as exc:
            problems.append(f"{label}：{exc}")
    if settings.scan_folder:
        found.append(SourceInfo(f"folder:{settings.scan_folder}", SourceKind.FOLDER,
                                f"扫描文件夹 {settings.scan_folder}",
                                Capabilities(feeder=True)))
    found.append(SourceInfo("file:", SourceKind.FILE, "导入文件（JPEG、PNG、PDF）",
                            Capabilities()))
    found.append(SourceInfo("fake", SourceKind.FAKE, "演示扫描（生成的样张）",
                            Capabilities(flatbed=True, feeder=True, duplex=True)))
    return Discovery(found, problems)
