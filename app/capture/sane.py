"""SANE scanners (Linux), driven through ``scanimage`` from sane-utils.

``scanimage`` rather than a binding: it is packaged everywhere SANE is, a backend that
crashes takes only the child process down, and killing the child is a clean cancel.
Each device names its options its own way (``--source "ADF Duplex"``, ``Automatic
Document Feeder``, ``--mode 彩色`` …), so they are read from ``scanimage -d DEV -A`` and
the nearest offered value is chosen for the clerk's :class:`ScanSettings`.

Every scan is a batch into a private temporary directory: ``--batch-print`` names each
page on stdout once it is complete (scanimage writes ``pNNNN.png.part`` and renames it),
so the first sheet of an ADF run reaches the clerk while the rest are still feeding.
scanimage's own messages are read in the C locale; in batch mode its exit status says
nothing about a jam, so the outcome is read from what it wrote on stderr.
"""

from __future__ import annotations

import io
import os
import queue
import re
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

from PIL import Image

from app.capture.escl import decode_page
from app.capture.pipeline import Pixels
from app.capture.sane_options import DeviceOptions, parse_device_list, parse_options
from app.capture.source import (
    Cancel,
    Cancelled,
    Capabilities,
    CaptureError,
    DeviceGone,
    Progress,
    RawPage,
    ScanSettings,
    SourceInfo,
    SourceKind,
    no_progress,
)

__all__ = ["DeviceOptions", "SaneSource", "parse_device_list", "parse_options", "sane_devices"]

_NOT_INSTALLED = "未找到扫描程序 scanimage，请安装 sane-utils（sudo apt-get install sane-utils）后重试。"
_STOP_GRACE = 5.0        # s: scanimage's SIGTERM handler cancels the scan and exits by then

# sane_strstatus() in the C locale → what the clerk reads. Which ones mean the device is
# gone (DeviceGone) rather than a problem the clerk fixes at the scanner (CaptureError).
_STATUS: dict[str, tuple[str, bool]] = {
    "Document feeder jammed": ("扫描仪卡纸，请取出纸张后重扫。", False),
    "Document feeder out of documents": ("进纸器里没有纸，请放入材料后重扫。", False),
    "Scanner cover is open": ("扫描仪盖板未合上，请合上后重扫。", False),
    "Error during device I/O": ("扫描仪连接中断（可能已拔出或关机），请检查电源和数据线后重扫。", True),
    "Device busy": ("扫描仪正忙（可能另一个程序正在使用），请稍后重试。", False),
    "Access to resource has been denied": (
        "没有使用这台扫描仪的权限，请联系管理员把本账户加入 scanner 组。", False),
    "Out of memory": ("扫描仪内存不足，请降低分辨率或减少一次放入的纸张后重扫。", False),
    "Operation was canceled": ("扫描已在扫描仪上被取消，请重扫。", False),
    "Operation not supported": ("扫描仪不支持所选的扫描方式，请换一种设置后重扫。", False),
    "Invalid argument": ("扫描仪不接受所选的设置，请换一种设置后重扫。", False),
}
_ERROR_LINE = re.compile(r"^scanimage: sane_\w+: (?P<status>.+?)\s*$")
_OPEN_FAILED = re.compile(r"^scanimage: open of device (?P<device>.+) failed: (?P<status>.+?)\s*$")
_SCANNING = re.compile(r"^Scanning page (?P<page>\d+)")
# ---------------------------------------------------------------- the source


def _environment() -> dict[str, str]:
    # scanimage's messages are parsed: the C locale keeps them in English.
    return {**os.environ, "LC_ALL": "C", "LANGUAGE": ""}


def _run(argv: list[str], timeout: float) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(argv, capture_output=True, timeout=timeout, check=False,
                              env=_environment(), stdin=subprocess.DEVNULL)
    except FileNotFoundError as error:
        raise CaptureError(_NOT_INSTALLED) from error
    except subprocess.TimeoutExpired as error:
        raise CaptureError("扫描仪没有响应，请检查电源和数据线后重试。") from error


def _text(data: bytes | None) -> str:
    return (data or b"").decode("utf-8", errors="replace")


class SaneSource:
    """One SANE device, e.g. ``SaneSource("test:0")`` or ``SaneSource("fujitsu:fi-7160:12")``.

    ``extra_options`` are passed to scanimage before ours: device-specific settings an
    administrator (or a test: ``("--test-picture", "Grid")``) wants on every scan.
    """

    def __init__(self, device: str, *, scanimage: str = "scanimage",
                 extra_options: Sequence[str] = (), name: str | None = None,
                 timeout: float = 30) -> None:
        self.device = device
        self._scanimage = scanimage
        self._extra = tuple(extra_options)
        self._name = name
        self._timeout = timeout
        self._options: DeviceOptions | None = None

    @property
    def options(self) -> DeviceOptions:
        if self._options is None:
            done = _run([self._scanimage, "-d", self.device, "-A"], self._timeout)
            if done.returncode != 0:
                raise _failure(_text(done.stderr), self.device, pages=0, feeder=False,
                               returncode=done.returncode) or CaptureError(
                    f"无法打开扫描仪 {self.device}，请检查是否已连接并开机。")
            self._options = parse_options(_text(done.stdout))
        return self._options

    @property
    def info(self) -> SourceInfo:
        return SourceInfo(spec=f"sane:{self.device}", kind=SourceKind.SANE,
                          name=f"扫描仪 {self._name or self.device}",
                          capabilities=self.options.capabilities())

    def acquire(self, settings: ScanSettings, cancel: Cancel,
                progress: Progress = no_progress) -> Iterator[RawPage]:
        cancel.check()
        ours = self.options.arguments(settings)
        asked_dpi = self.options.nearest_dpi(settings.dpi) or settings.dpi
        with tempfile.TemporaryDirectory(prefix="yichuang-sane-") as work:
            argv = [self._scanimage, "-d", self.device, *self._extra, *ours, "--format=png",
                    f"--batch={Path(work) / 'p%04d.png'}", "--batch-print"]
            if not settings.feeder:
                argv.append("--batch-count=1")
            progress("正在启动扫描仪…")
            run = _ScanRun(argv)
            pages = 0
            try:
                for path in run.pages(cancel, progress):
                    pages += 1
                    pixels, dpi = _read_page(path, pages)
                    path.unlink(missing_ok=True)
                    yield RawPage(pixels, dpi or asked_dpi, f"{self.device} 第{pages}页")
                    cancel.check()
                problem = _failure("\n".join(run.errors), self.device, pages=pages,
                                   feeder=settings.feeder, returncode=run.returncode)
                if problem is not None:
                    raise problem
                if pages == 0:
                    raise CaptureError("扫描仪没有送出页面，请检查材料是否放好后重扫。")
            finally:
                run.stop()


def _failure(stderr: str, device: str, *, pages: int, feeder: bool,
             returncode: int | None) -> CaptureError | None:
    """What scanimage's messages and exit say went wrong; None for a run that ended as
    runs end (a feeder running out of paper after at least one sheet)."""
    status = None
    for line in stderr.splitlines():
        if _OPEN_FAILED.match(line):
            return CaptureError(f"找不到扫描仪 {device}，请检查是否已连接并开机，"
                                "或在“扫描来源”中重新选择。")
        if error := _ERROR_LINE.match(line):
            status = error["status"]
    kept = f"已扫描的 {pages} 页已保留。" if pages else ""
    if status == "Document feeder out of documents" and feeder and pages > 0:
        status = None
    if status in _STATUS:
        message, gone = _STATUS[status]
        return (DeviceGone if gone else CaptureError)(message + kept)
    if returncode is not None and returncode < 0:
        return DeviceGone("扫描仪连接中断（可能已拔出或关机），请检查电源和数据线后重扫。" + kept)
    if status is not None or (returncode or 0) > 0:
        return CaptureError(f"扫描失败（{status or f'scanimage 退出码 {returncode}'}），"
                            "请检查扫描仪后重扫。" + kept)
    return None


def _read_page(path: Path, number: int) -> tuple[Pixels, int | None]:
    """The PNG scanimage wrote, strictly decoded, and the DPI it recorded (the one the
    backend really used, which may be a rounding of the one asked)."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise CaptureError(f"第 {number} 页的图像不完整或已损坏，请重扫这一页。") from error
    pixels = decode_page(data, number)
    with Image.open(io.BytesIO(data)) as image:
        dpi = image.info.get("dpi")
    return pixels, round(float(dpi[0])) if dpi and dpi[0] else None


class _ScanRun:
    """A running scanimage: the pages it has finished, its messages, and stopping it."""

    def __init__(self, argv: list[str]) -> None:
        try:
            self._process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                             stdin=subprocess.DEVNULL, env=_environment())
        except FileNotFoundError as error:
            raise CaptureError(_NOT_INSTALLED) from error
        self._events: queue.Queue[tuple[str, str]] = queue.Queue()
        self.errors: list[str] = []
        assert self._process.stdout is not None and self._process.stderr is not None
        self._readers = [threading.Thread(target=self._read, args=(kind, stream), daemon=True)
                         for kind, stream in (("page", self._process.stdout),
                                              ("message", self._process.stderr))]
        for reader in self._readers:
            reader.start()

    def _read(self, kind: str, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            self._events.put((kind, line if kind == "message" else os.fsdecode(raw.rstrip(b"\n"))))
        self._events.put(("end", kind))

    @property
    def returncode(self) -> int | None:
        return self._process.poll()

    def pages(self, cancel: Cancel, progress: Progress) -> Iterator[Path]:
        open_streams = 2
        while open_streams:
            if cancel.is_set():
                self.stop()
                raise Cancelled()
            try:
                kind, text = self._events.get(timeout=0.1)
            except queue.Empty:
                continue
            if kind == "end":
                open_streams -= 1
            elif kind == "page":
                yield Path(text)
            else:
                self.errors.append(text)
                if scanning := _SCANNING.match(text):
                    progress(f"正在扫描第 {scanning['page']} 页…")
        self._process.wait()

    def stop(self) -> None:
        """Cancel cleanly: SIGTERM makes scanimage call sane_cancel and exit; kill only
        if it does not within a few seconds."""
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(_STOP_GRACE)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        for reader in self._readers:
            reader.join(_STOP_GRACE)
        for stream in (self._process.stdout, self._process.stderr):
            if stream is not None:
                stream.close()


def sane_devices(timeout: float = 10, *, scanimage: str = "scanimage") -> list[SourceInfo]:
    """The SANE devices attached now, each with what it can do ([] if sane-utils is not
    installed). A device that is listed but cannot be opened (busy, no permission) is
    still listed, with no capabilities, so ``doctor`` shows it."""
    try:
        listed = subprocess.run([scanimage, "-f", "%d\t%v %m\n"], capture_output=True,
                                timeout=timeout, check=False, env=_environment(),
                                stdin=subprocess.DEVNULL)
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return []
    found = []
    for device, name in parse_device_list(_text(listed.stdout)):
        source = SaneSource(device, scanimage=scanimage, name=name, timeout=timeout)
        try:
            found.append(source.info)
        except CaptureError:
            found.append(SourceInfo(f"sane:{device}", SourceKind.SANE,
                                    f"扫描仪 {name or device}（暂时无法打开）",
                                    Capabilities(colour=False)))
    return found
