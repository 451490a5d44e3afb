"""eSCL (AirScan) network scanners: plain HTTP, no driver.

GET ``{base}/ScannerCapabilities`` says what the scanner offers; POST ``{base}/ScanJobs``
with a ``ScanSettings`` document starts a job whose URL comes back in ``Location``; GET
``{job}/NextDocument`` returns one page at a time until 404 (the feeder is empty); DELETE
``{job}`` cancels. The XML comes from a device on the network, so it is parsed with
defusedxml (no entity expansion, no external references).
"""

from __future__ import annotations

import contextlib
import io
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import urljoin
from xml.etree.ElementTree import Element

import cv2
import numpy as np
import requests
import urllib3
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from PIL import Image

from app.capture.pipeline import Pixels
from app.capture.source import (
    MAX_PIXELS,
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

__all__ = ["EsclCapabilities", "EsclSource", "InputCaps", "decode_page", "escl_devices",
           "parse_capabilities", "parse_status", "settings_document"]

PWG = "http://www.pwg.org/schemas/2010/12/sm"
SCAN = "http://schemas.hp.com/imaging/escl/2011/05/03"
_NS = {"pwg": PWG, "scan": SCAN}
_BUSY_RETRY = 0.5              # s between NextDocument polls while the scanner warms up
_CHUNK = 64 * 1024
_MAX_BYTES = 100 * 1024 * 1024   # one page; an A4 colour JPEG at 600 dpi is ~10 MB
# Slowest a page may come: 10 MB over a 1 Mbit/s link takes 80 s. A scanner trickling
# bytes (or a stuck one) is given up on after this, whatever each read's timeout.
_PAGE_DEADLINE = 180.0
_CLEANUP_TIMEOUT = 5.0

# scan:AdfState / pwg:State → what the clerk does about it.
_STATES = {
    "ScannerAdfJam": "扫描仪卡纸，请取出纸张后重扫。",
    "ScannerAdfEmpty": "进纸器里没有纸，请放入材料后重扫。",
    "ScannerAdfDoorOpen": "扫描仪进纸器盖板未合上，请合上后重扫。",
    "ScannerAdfHatchOpen": "扫描仪进纸器盖板未合上，请合上后重扫。",
    "ScannerAdfMispick": "扫描仪没有取到纸，请把纸张理齐后重新放入。",
    "ScannerAdfMultipickDetected": "扫描仪一次进了多张纸，请把纸张理齐后重扫。",
    "Stopped": "扫描仪已停止工作，请查看扫描仪上的提示后重扫。",
}


@dataclass(frozen=True, slots=True)
class InputCaps:
    """What one input (platen, feeder, feeder both sides) offers."""

    colour_modes: tuple[str, ...]        # RGB24, Grayscale8, BlackAndWhite1 …
    resolutions: tuple[int, ...]         # sorted
    max_width: int                       # 1/300 inch
    max_height: int


@dataclass(frozen=True, slots=True)
class EsclCapabilities:
    name: str
    platen: InputCaps | None
    feeder: InputCaps | None
    duplex: InputCaps | None

    def capabilities(self) -> Capabilities:
        inputs = [i for i in (self.platen, self.feeder, self.duplex) if i is not None]
        return Capabilities(
            flatbed=self.platen is not None, feeder=self.feeder is not None,
            duplex=self.duplex is not None,
            colour=any("RGB24" in i.colour_modes for i in inputs),
            max_dpi=max((max(i.resolutions) for i in inputs if i.resolutions), default=300))


def _unrecognised(base: str) -> CaptureError:
    return CaptureError(f"网络扫描仪 {base} 的回答无法识别，请确认地址是 eSCL 接口"
                        "（如 http://192.168.1.20/eSCL）并重启扫描仪后重试。")


def _xml(data: bytes, base: str) -> Element:
    try:
        return fromstring(data)
    except (ET.ParseError, DefusedXmlException, ValueError) as error:
        raise _unrecognised(base) from error


def _int(element: Element, path: str, default: int = 0) -> int:
    text = element.findtext(path, namespaces=_NS)
    try:
        return int(float(text)) if text else default
    except ValueError:
        return default


def _input_caps(element: Element | None) -> InputCaps | None:
    if element is None:
        return None
    modes: list[str] = []
    resolutions: set[int] = set()
    for profile in element.iterfind("scan:SettingProfiles/scan:SettingProfile", _NS):
        modes += [m.text.strip() for m in profile.iterfind("scan:ColorModes/scan:ColorMode", _NS)
                  if m.text and m.text.strip() not in modes]
        supported = profile.find("scan:SupportedResolutions", _NS)
        if supported is None:
            continue
        for discrete in supported.iterfind("scan:DiscreteResolutions/scan:DiscreteResolution", _NS):
            if (x := _int(discrete, "scan:XResolution")) > 0:
                resolutions.add(x)
        span = supported.find("scan:ResolutionRange/scan:XResolutionRange", _NS)
        if span is not None:
            lo, hi = _int(span, "scan:Min"), _int(span, "scan:Max")
            step = max(1, _int(span, "scan:Step", 1))
            if 0 < lo <= hi:
                # A range becomes the usual stops within it: what a clerk's profile asks.
                resolutions |= {r for r in (lo, hi, 150, 200, 300, 400, 600)
                                if lo <= r <= hi and (r - lo) % step == 0}
    return InputCaps(tuple(modes), tuple(sorted(resolutions)),
                     _int(element, "scan:MaxWidth", 2550), _int(element, "scan:MaxHeight", 3508))


def parse_capabilities(data: bytes, base: str = "") -> EsclCapabilities:
    """A ``ScannerCapabilities`` document; CaptureError if it is not one."""
    root = _xml(data, base)
    if root.tag != f"{{{SCAN}}}ScannerCapabilities":
        raise _unrecognised(base)
    name = (root.findtext("pwg:MakeAndModel", namespaces=_NS) or "").strip()
    caps = EsclCapabilities(
        name=" ".join(name.split()) or base,
        platen=_input_caps(root.find("scan:Platen/scan:PlatenInputCaps", _NS)),
        feeder=_input_caps(root.find("scan:Adf/scan:AdfSimplexInputCaps", _NS)),
        duplex=_input_caps(root.find("scan:Adf/scan:AdfDuplexInputCaps", _NS)))
    if caps.platen is None and caps.feeder is None:
        raise _unrecognised(base)
    return caps


def parse_status(data: bytes) -> str | None:
    """The clerk's message for a ``ScannerStatus`` that explains a refusal, if any."""
    try:
        root = fromstring(data)
    except (ET.ParseError, DefusedXmlException, ValueError):
        return None
    for path in ("scan:AdfState", "pwg:State"):
        state = (root.findtext(path, namespaces=_NS) or "").strip()
        if state in _STATES:
            return _STATES[state]
    return None


def settings_document(settings: ScanSettings, caps: EsclCapabilities) -> tuple[bytes, int, bool]:
    """The ``ScanSettings`` XML to POST for ``settings``, the resolution asked and
    whether it is colour; a clear CaptureError for what this scanner cannot do."""
    if settings.duplex and not settings.feeder:
        raise CaptureError("双面扫描只能用自动进纸器，请选择进纸器扫描。")
    if settings.duplex:
        if caps.duplex is None:
            raise CaptureError("这台扫描仪不能双面扫描，请改用单面扫描，或翻面后再扫一次。")
        source, chosen = "Feeder", caps.duplex
    elif settings.feeder:
        if caps.feeder is None:
            raise CaptureError("这台扫描仪没有自动进纸器，请把材料逐页放在玻璃板上扫描。")
        source, chosen = "Feeder", caps.feeder
    else:
        if caps.platen is None:
            raise CaptureError("这台扫描仪没有玻璃板，请把材料放入自动进纸器扫描。")
        source, chosen = "Platen", caps.platen
    if settings.colour and chosen.colour_modes and "RGB24" not in chosen.colour_modes:
        raise CaptureError("这台扫描仪不能彩色扫描，请换用能彩色扫描的设备（证照、印章须彩色）。")
    grey = not settings.colour and "Grayscale8" in chosen.colour_modes
    mode = "Grayscale8" if grey else "RGB24"
    # Archival minimums are minimums: the lowest offered at or above the asked dpi.
    dpi = next((r for r in chosen.resolutions if r >= settings.dpi),
               chosen.resolutions[-1] if chosen.resolutions else settings.dpi)

    ET.register_namespace("pwg", PWG)
    ET.register_namespace("scan", SCAN)
    root = ET.Element(f"{{{SCAN}}}ScanSettings")

    def add(parent: Element, ns: str, tag: str, text: str | None = None) -> Element:
        child = ET.SubElement(parent, f"{{{ns}}}{tag}")
        child.text = text
        return child

    add(root, PWG, "Version", "2.0")
    add(root, SCAN, "Intent", "Document")
    region = add(add(root, PWG, "ScanRegions"), PWG, "ScanRegion")
    add(region, PWG, "ContentRegionUnits", "escl:ThreeHundredthsOfInches")
    add(region, PWG, "XOffset", "0")
    add(region, PWG, "YOffset", "0")
    add(region, PWG, "Width", str(chosen.max_width))
    add(region, PWG, "Height", str(chosen.max_height))
    add(root, PWG, "InputSource", source)
    if settings.feeder:
        add(root, SCAN, "Duplex", "true" if settings.duplex else "false")
    add(root, SCAN, "ColorMode", mode)
    add(root, SCAN, "XResolution", str(dpi))
    add(root, SCAN, "YResolution", str(dpi))
    add(root, PWG, "DocumentFormat", "image/jpeg")
    add(root, SCAN, "DocumentFormatExt", "image/jpeg")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True), dpi, not grey


class EsclSource:
    """One eSCL scanner, e.g. ``EsclSource("http://192.168.1.20/eSCL")``."""

    def __init__(self, base_url: str, *, timeout: float = 30,
                 max_bytes: int = _MAX_BYTES) -> None:
        self.base = base_url.rstrip("/")
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._caps: EsclCapabilities | None = None

    def _gone(self) -> DeviceGone:
        return DeviceGone(f"连不上网络扫描仪 {self.base}，请检查扫描仪是否开机、网线或无线是否连通。")

    @property
    def capabilities(self) -> EsclCapabilities:
        if self._caps is None:
            try:
                answer = requests.get(f"{self.base}/ScannerCapabilities", timeout=self._timeout)
            except requests.RequestException as error:
                raise self._gone() from error
            if answer.status_code != 200:
                raise _unrecognised(self.base)
            self._caps = parse_capabilities(answer.content, self.base)
        return self._caps

    @property
    def info(self) -> SourceInfo:
        caps = self.capabilities
        return SourceInfo(spec=f"escl:{self.base}", kind=SourceKind.ESCL,
                          name=f"网络扫描仪 {caps.name}", capabilities=caps.capabilities())

    def acquire(self, settings: ScanSettings, cancel: Cancel,
                progress: Progress = no_progress) -> Iterator[RawPage]:
        cancel.check()
        body, dpi, _ = settings_document(settings, self.capabilities)
        with requests.Session() as session:
            job = self._start(session, body)
            finished = False
            try:
                pages = 0
                while True:
                    progress(f"正在扫描第 {pages + 1} 页…")
                    data = self._next_document(session, job, cancel)
                    if data is None:
                        break
                    pages += 1
                    # The resolution asked, not the JPEG's JFIF density: scanners
                    # often leave that at 72 or 96 whatever they scanned at.
                    yield RawPage(decode_page(data, pages), dpi, f"{self.base} 第{pages}页")
                    cancel.check()
                    if not settings.feeder:
                        break
                finished = True
                if pages == 0:
                    raise CaptureError(self._reason(session) or (
                        "进纸器里没有纸，请放入材料后重扫。" if settings.feeder
                        else "扫描仪没有送出页面，请检查材料是否放好后重扫。"))
            finally:
                if not finished:
                    self._delete(session, job)

    def _start(self, session: requests.Session, body: bytes) -> str:
        url = f"{self.base}/ScanJobs"
        try:
            answer = session.post(url, data=body, headers={"Content-Type": "text/xml"},
                                  timeout=self._timeout)
        except requests.RequestException as error:
            raise self._gone() from error
        if answer.status_code == 503:
            raise CaptureError("网络扫描仪正忙（可能正在为别人扫描或复印），请稍后重试。")
        if answer.status_code != 201 or not answer.headers.get("Location"):
            raise CaptureError(self._reason(session) or
                               f"网络扫描仪拒绝了扫描（HTTP {answer.status_code}），"
                               "请查看扫描仪上的提示后重试。")
        return urljoin(url, answer.headers["Location"]).rstrip("/")

    def _next_document(self, session: requests.Session, job: str,
                       cancel: Cancel) -> bytes | None:
        """The next page's bytes; None when the job has no more (404)."""
        deadline = time.monotonic() + self._timeout
        while True:
            cancel.check()
            try:
                with session.get(f"{job}/NextDocument", stream=True,
                                 timeout=self._timeout) as answer:
                    if answer.status_code == 200:
                        return self._body(answer, cancel)
                    status = answer.status_code
            except requests.RequestException as error:
                raise self._gone() from error
            if status == 404:
                return None
            if status != 503 or time.monotonic() > deadline:
                raise CaptureError(self._reason(session) or
                                   f"网络扫描仪中断了扫描（HTTP {status}），请查看扫描仪上的提示后重扫。")
            # 503 while the lamp warms up or the next sheet feeds: ask again shortly.
            end = time.monotonic() + _BUSY_RETRY
            while time.monotonic() < end:
                cancel.check()
                time.sleep(0.05)

    def _body(self, answer: requests.Response, cancel: Cancel) -> bytes:
        declared = answer.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self._max_bytes:
            raise CaptureError("扫描仪送来的页面过大，请降低分辨率后重扫。")
        chunks, size = [], 0
        deadline = time.monotonic() + max(_PAGE_DEADLINE, self._timeout)
        raw = answer.raw
        raw.decode_content = True
        while True:
            # read1: whatever has arrived (at most _CHUNK), so a cancel is seen between
            # packets, not after 64 KiB a trickling scanner may never send.
            try:
                chunk = raw.read1(_CHUNK)
            except (urllib3.exceptions.HTTPError, OSError) as error:
                raise self._gone() from error   # the connection dropped mid-page
            if not chunk:
                break
            if cancel.is_set():
                raise Cancelled()
            if time.monotonic() > deadline:
                raise DeviceGone("网络扫描仪送页面太慢（网络不稳定或扫描仪故障），请检查后重扫。")
            size += len(chunk)
            if size > self._max_bytes:
                raise CaptureError("扫描仪送来的页面过大，请降低分辨率后重扫。")
            chunks.append(chunk)
        return b"".join(chunks)

    def _reason(self, session: requests.Session) -> str | None:
        try:
            answer = session.get(f"{self.base}/ScannerStatus", timeout=_CLEANUP_TIMEOUT)
        except requests.RequestException:
            return None
        return parse_status(answer.content) if answer.status_code == 200 else None

    def _delete(self, session: requests.Session, job: str) -> None:
        """Cancel the job on the scanner, so it stops feeding; if the scanner is gone
        there is nothing left to cancel."""
        with contextlib.suppress(requests.RequestException):
            session.delete(job, timeout=_CLEANUP_TIMEOUT)


def decode_page(data: bytes, number: int) -> Pixels:
    """A page's image file (JPEG, PNG, BMP …) strictly decoded: a truncated one is
    refused, not shown half grey. ``number`` names the page in the message."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_PIXELS:
                raise CaptureError(f"第 {number} 页过大，请降低分辨率后重扫。")
            image.load()
            picture = image.convert("L" if image.mode in ("L", "1") else "RGB")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise CaptureError(f"第 {number} 页的图像不完整或已损坏，请重扫这一页。") from error
    pixels = np.asarray(picture)
    return cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR) if pixels.ndim == 3 else pixels


def escl_devices(urls: Sequence[str], timeout: float = 5) -> list[SourceInfo]:
    """The scanners among ``urls`` that answer with their capabilities now; the others
    are left out (``doctor`` compares with the configured list to name them)."""
    found = []
    for url in urls:
        try:
            found.append(EsclSource(url, timeout=timeout).info)
        except CaptureError:
            continue
    return found
