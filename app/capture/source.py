"""What every capture source is: a device or place that yields raw pages.

A source (SANE scanner, eSCL network scanner, WIA, a watched folder, file import, the
fake source; the document camera is Qt's and lives in ``ui/``) says what it can do
(:class:`Capabilities`) and, asked with :class:`ScanSettings`, yields :class:`RawPage`
pixels one at a time, checking a :class:`Cancel` between pages. What happens to the
pixels — outline, deskew, blank pages, encoding — is the pipeline's business, not the
source's, so every source's pages are treated alike.

Sources are named by a *spec* a clerk or an administrator can type:
``fake``, ``sane:test:0``, ``escl:http://192.168.1.20/eSCL``, ``folder:/srv/scans``,
``file:/home/a/申请书.pdf``, ``wia:0``, ``camera:0``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from app.capture.pipeline import Pixels
from app.errors import UserError

# The most pixels one page may decode to, whatever its header or its device claims:
# A3 at 600 dpi is 70 million; 100 million is 300 MB as BGR.
MAX_PIXELS = 100_000_000
# The most raw pages one capture takes: a feeder that never empties (or a scanner
# sending blank pages forever, all dropped) is stopped here.
MAX_RAW_PAGES = 1000


class SourceKind(StrEnum):
    CAMERA = "camera"      # 高拍仪 (Qt Multimedia, ui/)
    SANE = "sane"
    ESCL = "escl"          # network scanner, plain HTTP (AirScan)
    WIA = "wia"            # Windows
    FOLDER = "folder"      # a shared folder a scanner writes into
    FILE = "file"          # JPEG, PNG or PDF chosen by hand
    FAKE = "fake"          # drawn pages, for tests and demos


class CaptureError(UserError):
    """A source could not deliver; the message (Chinese) says what to do."""


class DeviceGone(CaptureError):
    """The device went away mid-scan (unplugged, switched off, network down). Pages
    already delivered stay delivered."""


class Cancelled(CaptureError):
    """The clerk cancelled; pages already delivered stay delivered."""

    def __init__(self) -> None:
        super().__init__("已取消。")


@dataclass(frozen=True, slots=True)
class Capabilities:
    flatbed: bool = False
    feeder: bool = False          # ADF
    duplex: bool = False
    colour: bool = True
    max_dpi: int = 600
    preview: bool = False         # a live picture (cameras)


@dataclass(frozen=True, slots=True)
class SourceInfo:
    spec: str                     # what ``--source`` takes
    kind: SourceKind
    name: str                     # for the clerk: "扫描仪 Canon DR-C225"
    capabilities: Capabilities


@dataclass(frozen=True, slots=True)
class ScanSettings:
    dpi: int = 200
    colour: bool = False
    feeder: bool = False          # take sheets from the ADF until it is empty
    duplex: bool = False          # both sides (feeder only)


@dataclass(frozen=True, slots=True)
class RawPage:
    """One picture as the source gave it: BGR or grey pixels.

    ``dpi`` is what a scanner reports (None for camera frames and photos, whose size on
    paper the pipeline works out from the outline). ``from_camera`` asks the pipeline to
    find the sheet's outline and flatten it; scans are only deskewed.
    """

    pixels: Pixels
    dpi: int | None
    origin: str                   # "test:0 第3页", "申请书.pdf 第2页", "IMG_0012.jpg"
    from_camera: bool = False


class Cancel:
    """Set from another thread (the window's 取消 button); sources check it between pages
    and, where they can, between chunks of a page."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled()


Progress = Callable[[str], None]   # "正在扫描第 3 页…"


def no_progress(_message: str) -> None:
    return None


class CaptureSource(Protocol):
    """A place pages come from. ``acquire`` yields pages as they arrive, so a clerk sees
    the first sheet of an ADF batch while the rest are still feeding."""

    @property
    def info(self) -> SourceInfo: ...

    def acquire(self, settings: ScanSettings, cancel: Cancel,
                progress: Progress = no_progress) -> Iterator[RawPage]: ...
