"""Sending documents: ESC/POS bytes to thermal printers, PDFs to CUPS or to a file."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from escpos.printer import Dummy, File, Network, Win32Raw
from PIL import Image

from app.documents.form import Slip, SlipBarcode, SlipQR, SlipRule, SlipText
from app.documents.targets import PrintError, escpos_endpoint
from app.documents.thermal import RenderedSlip
from app.storage.files import FileWriteError, describe_os_error, replace_with_bytes

SEND_TIMEOUT = 8.0   # a LAN printer answers at once; an unplugged one should not keep the clerk


def _dummy(dots: int) -> Dummy:
    printer = Dummy()
    # python-escpos refuses images wider than the profile's paper, and warns on every
    # image when the profile has none: tell it the head's width.
    printer.profile.profile_data["media"]["width"]["pixels"] = dots
    return printer


def escpos_raster(rendered: RenderedSlip) -> bytes:
    """The slip as one raster image (GS v 0) followed by feed and cut."""
    printer = _dummy(rendered.image.width)
    printer._raw(b"\x1b@")   # ESC @: start from the printer's defaults
    printer.image(rendered.image, impl="bitImageRaster", center=False)
    printer.cut()
    data: bytes = printer.output
    return data


def escpos_text(slip: Slip, rendered_barcodes: dict[int, Image.Image], dots: int) -> bytes:
    """GB18030 text mode: the printer's own font for text, raster for codes.

    Faster on old serial printers, but the printer's font decides what rare characters
    look like, so the raster mode (the default) is what the preview shows exactly.
    """
    printer = _dummy(dots)
    printer._raw(b"\x1b@\x1c&")          # initialise; FS & = Chinese character mode
    for n, block in enumerate(slip.blocks):
        match block:
            case SlipText(text=text, size=size, center=center, bold=bold):
                scale = max(0, min(7, size // 32))
                printer._raw(b"\x1ba" + (b"\x01" if center else b"\x00"))
                printer._raw(b"\x1bE" + (b"\x01" if bold else b"\x00"))   # ESC E: emphasis
                printer._raw(b"\x1d!" + bytes([scale << 4 | scale]))
                printer._raw(text.encode("gb18030") + b"\n")
            case SlipRule():
                # Font A is 12 dots wide: 48 columns on 80 mm, 32 on 58 mm.
                printer._raw(b"\x1ba\x00\x1d!\x00" + b"-" * (dots // 12) + b"\n")
            case SlipBarcode() | SlipQR():
                printer.image(rendered_barcodes[n], impl="bitImageRaster", center=False)
    printer._raw(b"\x1d!\x00\x1ba\x00")
    printer.cut()
    data: bytes = printer.output
    return data


def send_escpos(address: str, data: bytes) -> None:
    """Send ESC/POS bytes; PrintError with the reason if the printer cannot take them."""
    kind, name, port = escpos_endpoint(address)
    try:
        if kind == "tcp":
            net = Network(name, port, timeout=SEND_TIMEOUT)
            net.open()
            try:
                net._raw(data)
            finally:
                net.close()
        elif kind == "file":
            dev = File(name)
            dev.open()
            try:
                dev._raw(data)
                dev.flush()
            finally:
                dev.close()
        elif kind == "cups":
            _lp(["-d", name, "-o", "raw"], data, suffix=".bin")
        else:
            if not Win32Raw.is_usable():
                raise PrintError("本机未安装 pywin32，无法直接发送到 Windows 打印队列")
            w32 = Win32Raw(name)
            w32.open()
            try:
                w32._raw(data)
            finally:
                w32.close()
    except PrintError:
        raise
    except Exception as exc:  # python-escpos raises its own and OS errors alike
        raise PrintError(f"热敏打印机 {address} 无法打印：{_reason(exc)}") from exc


def _reason(exc: BaseException) -> str:
    # python-escpos wraps OS errors in its own exceptions; look through the chain.
    chain: list[BaseException] = []
    e: BaseException | None = exc
    while e is not None and len(chain) < 5:
        chain.append(e)
        e = e.__cause__ or e.__context__
    text = " ".join(" ".join(str(c).split()) for c in chain) or type(exc).__name__
    if any(isinstance(c, (ConnectionError, TimeoutError)) for c in chain) or any(
            s in text for s in ("refused", "timed out", "unreachable", "Name or service")):
        return "连接被拒绝或超时，请检查打印机电源、网线和IP地址"
    if any(isinstance(c, PermissionError) for c in chain) or "Permission denied" in text:
        return "没有权限写入设备（Linux 下把用户加入 lp 组）"
    if any(isinstance(c, FileNotFoundError) for c in chain) or "No such file" in text:
        return "设备不存在，请检查USB连接"
    return " ".join(str(exc).split()) or type(exc).__name__


# ---- system printers without Qt (CUPS) -------------------------------------------------


def _lp(options: list[str], data: bytes, suffix: str) -> None:
    if shutil.which("lp") is None:
        raise PrintError("本机没有 CUPS 打印命令 lp：请安装 cups-client，或在窗口中打印")
    with tempfile.NamedTemporaryFile(suffix=suffix) as tmp:
        tmp.write(data)
        tmp.flush()
        try:
            done = subprocess.run(["lp", *options, tmp.name], capture_output=True, text=True,
                                  timeout=SEND_TIMEOUT, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PrintError(f"打印命令 lp 失败：{exc}") from exc
    if done.returncode != 0:
        raise PrintError(f"打印失败：{(done.stderr or done.stdout).strip() or 'lp 返回错误'}")


def print_pdf_with_cups(printer: str, pdf: bytes) -> None:
    _lp(["-d", printer] if printer else [], pdf, suffix=".pdf")


def write_pdf_file(path: Path, pdf: bytes) -> None:
    """Write the PDF atomically (unique temp file, fsync, rename)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        replace_with_bytes(path, pdf)
    except OSError as exc:
        raise FileWriteError(f"无法写入 {path}：{describe_os_error(exc)}") from exc
