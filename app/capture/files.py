"""File import: pictures and PDFs an applicant brought on a USB stick or sent by phone.

Everything here comes from outside, so every file is checked before it is believed: its
size is refused before a byte is read, its pixel count before it is decoded (a small
PNG can claim 20 000 × 20 000 pixels), and it is decoded completely (Pillow's
``LOAD_TRUNCATED_IMAGES`` stays False, so a truncated scan is refused, not padded with
grey). The content decides the format, never the file name.

PDF pages that are one picture covering the page (what a scanner's "scan to PDF"
writes, with or without an invisible OCR text layer) give that picture at its own
resolution (pikepdf); other pages are rendered by PDFium (pypdfium2) at the DPI asked
for. PDFium rather than poppler's ``pdftoppm``: it ships as a wheel for Windows and
Linux alike, so the installer needs no separate program, and it renders from memory
with no temporary files.

A file is delivered page by page; a file that fails after some of its pages were
delivered leaves those delivered (as a scanner jam does) and the message names the page.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import threading
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pikepdf
import pypdfium2  # type: ignore[import-untyped]  # no py.typed marker
from PIL import Image, ImageOps, UnidentifiedImageError

from app.capture.pipeline import Pixels
from app.capture.source import (
    MAX_PIXELS,
    Cancel,
    Cancelled,
    Capabilities,
    CaptureError,
    Progress,
    RawPage,
    ScanSettings,
    SourceInfo,
    SourceKind,
    no_progress,
)
from app.storage.files import describe_os_error

MAX_FILE_BYTES = 100 * 1024 * 1024
MAX_PAGES = 500
# 72 and 96 are what cameras and screen software write when they know no paper size.
_LEAST_BELIEVABLE_DPI, _MOST_BELIEVABLE_DPI = 100, 2400
# JPEG includes MPO, the JPEG some phones write with a preview frame after the photo.
_IMAGE_FORMATS = ["JPEG", "PNG", "TIFF", "BMP", "WEBP"]
_EXIF_IFD, _EXPOSURE_TIME, _FOCAL_LENGTH = 0x8769, 0x829A, 0x920A
# PDFium is not thread-safe: the scan panel and a watched folder may both read PDFs.
_PDFIUM = threading.RLock()   # re-entrant: a generator closed by GC may close its document


def display_name(path: Path) -> str:
    """The file's name as a clerk can read it: bytes that are not UTF-8 (a USB stick
    written on a GBK system) become �, so the message can still be printed."""
    return os.fsencode(path.name).decode("utf-8", errors="replace")


def _refuse(path: Path, reason: str) -> CaptureError:
    return CaptureError(f"{display_name(path)}：{reason}")


@dataclass(frozen=True, slots=True)
class LoadedFile:
    """A file's bytes as read once: what is hashed is what is decoded."""
    path: Path
    data: bytes

    @property
    def name(self) -> str:
        return display_name(self.path)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


class FileUnavailable(CaptureError):
    """The file could not be opened or read (gone, locked, an I/O error): its content
    was never judged, so trying again later may work."""


def load(path: Path, *, follow_symlinks: bool = True) -> LoadedFile:
    """Read a regular file of at most MAX_FILE_BYTES, or raise CaptureError naming it.
    A larger file is refused by its size without being read; a FIFO or device is
    refused without blocking on it; with ``follow_symlinks`` False (the watched folder)
    a link is refused, even one swapped in after the folder was listed."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    if not follow_symlinks:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except IsADirectoryError as exc:
        raise _refuse(path, "这是一个文件夹，请选择其中的图片或 PDF 文件。") from exc
    except FileNotFoundError as exc:
        raise FileUnavailable(f"{display_name(path)}：文件不存在（可能已被移走或删除），请重新选择。"
                              ) from exc
    except OSError as exc:
        raise FileUnavailable(f"{display_name(path)}：无法打开（{describe_os_error(exc)}）。"
                              ) from exc
    try:
        info = os.fstat(fd)
    except OSError as exc:
        os.close(fd)
        raise FileUnavailable(f"{display_name(path)}：无法读取（{describe_os_error(exc)}）。") from exc
    refusal = None
    if stat.S_ISDIR(info.st_mode):
        refusal = "这是一个文件夹，请选择其中的图片或 PDF 文件。"
    elif not stat.S_ISREG(info.st_mode):
        refusal = "不是普通文件，请选择图片或 PDF 文件。"
    elif info.st_size > MAX_FILE_BYTES:
        refusal = _too_big(info.st_size)
    if refusal is not None:
        os.close(fd)
        raise _refuse(path, refusal)
    with os.fdopen(fd, "rb") as file:
        try:
            # Never read(MAX_FILE_BYTES): Python sets that much memory aside first. One
            # byte more than fstat said tells a file still being written.
            data = file.read(info.st_size + 1)
        except OSError as exc:
            raise FileUnavailable(f"{display_name(path)}：读取失败（{describe_os_error(exc)}）。"
                                  ) from exc
    if len(data) > info.st_size:
        raise FileUnavailable(f"{display_name(path)}：文件还在写入中，请等它写完再试。")
    if not data:
        raise _refuse(path, "文件是空的（0 字节），可能没有写完或复制失败，请重新获取。")
    return LoadedFile(path, data)


def _too_big(size: int) -> str:
    return (f"文件有 {size / 2**20:.0f} MB，超过 {MAX_FILE_BYTES // 2**20} MB 的上限。"
            "请降低分辨率或拆分后重新扫描、导出。")


def read_pages(path: Path, *, dpi: int = 200, cancel: Cancel | None = None,
               progress: Progress = no_progress) -> Iterator[RawPage]:
    """The pages of one image or PDF file; CaptureError names the file when it cannot
    be read. ``dpi`` is the resolution PDF pages that are not a single picture are
    rendered at."""
    yield from pages_of(load(path), dpi=dpi, cancel=cancel or Cancel(), progress=progress)


def pages_of(file: LoadedFile, *, dpi: int, cancel: Cancel,
             progress: Progress = no_progress) -> Iterator[RawPage]:
    if file.data[:1024].find(b"%PDF-") >= 0:
        yield from _pdf_pages(file, min(max(dpi, 72), 1200), cancel, progress)
    else:
        yield from _image_pages(file, cancel, progress)


# --- pictures ---------------------------------------------------------------------------


def _image_pages(file: LoadedFile, cancel: Cancel, progress: Progress) -> Iterator[RawPage]:
    path = file.path
    Image.init()   # registers TIFF and WEBP, which ``formats`` names
    try:
        with warnings.catch_warnings():
            # Pixel counts are checked below; Pillow's own warning would only be noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            picture = Image.open(io.BytesIO(file.data), formats=_IMAGE_FORMATS)
        # Only a TIFF's frames are pages; an MPO's others are previews and depth maps.
        frames = int(getattr(picture, "n_frames", 1)) if picture.format == "TIFF" else 1
    except Image.DecompressionBombError as exc:
        raise _refuse(path, _too_many_pixels()) from exc
    except UnidentifiedImageError as exc:
        raise _refuse(path, "不是能识别的图片或 PDF 文件（支持 JPEG、PNG、TIFF、BMP、PDF）。") from exc
    except Exception as exc:   # a damaged header: Pillow raises many kinds
        raise _refuse(path, _damaged()) from exc
    with picture:
        if frames > MAX_PAGES:
            raise _refuse(path, f"有 {frames} 页，超过 {MAX_PAGES} 页，请拆分后导入。")
        for index in range(frames):
            cancel.check()
            where = f"{file.name} 第{index + 1}页" if frames > 1 else file.name
            if frames > 1:
                progress(f"正在读取 {where}（共 {frames} 页）…")
            try:
                picture.seek(index)
                if picture.width * picture.height > MAX_PIXELS:
                    raise _refuse(path, _too_many_pixels())
                picture.load()
                pixels, dpi, photo = _normalised(picture)
            except CaptureError:
                raise
            except Exception as exc:   # truncated or corrupt data, whatever the codec
                page = f"第 {index + 1} 页" if frames > 1 else ""
                raise _refuse(path, f"{page}{_damaged()}") from exc
            yield RawPage(pixels, dpi, where, from_camera=photo)


def _damaged() -> str:
    return "文件已损坏或不完整，无法读取。请重新扫描或让申请人重新发送。"


def _too_many_pixels() -> str:
    return (f"图片超过 {MAX_PIXELS // 1_000_000} 百万像素，无法处理。"
            "请用较低分辨率重新扫描，或导出为普通大小的照片。")


def _normalised(frame: Image.Image) -> tuple[Pixels, int | None, bool]:
    """8-bit grey or BGR pixels turned upright as EXIF says, the DPI the file states
    (None when it states none or a screen's), and whether a camera took it."""
    exif = frame.getexif()
    photo = bool({_EXPOSURE_TIME, _FOCAL_LENGTH} & set(exif.get_ifd(_EXIF_IFD)))
    upright = ImageOps.exif_transpose(frame) or frame
    stated = upright.info.get("dpi")
    dpi: int | None = None
    if isinstance(stated, tuple) and len(stated) == 2:
        value = round(min(float(stated[0]), float(stated[1])))
        if _LEAST_BELIEVABLE_DPI <= value <= _MOST_BELIEVABLE_DPI:
            dpi = value
    return _eight_bit(upright), dpi, photo


def _eight_bit(picture: Image.Image) -> Pixels:
    mode = picture.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        # 16-bit and float greys: scaled to 8 bits, not clipped (clipping makes them white).
        values = np.asarray(picture).astype(np.float64)
        top = float(values.max(initial=0.0))
        scale = 1.0 if top <= 255 else 255 / 65535 if top <= 65535 else 255 / top
        return np.ascontiguousarray(np.clip(values * scale, 0, 255).astype(np.uint8))
    if mode == "P":
        mode = "PA" if "transparency" in picture.info else "RGB"
        picture = picture.convert("RGBA" if mode == "PA" else "RGB")
        mode = picture.mode
    if mode in ("LA", "La", "PA", "RGBA", "RGBa"):
        # Transparency shows the paper: put it on white.
        rgba = picture.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        picture = Image.alpha_composite(paper, rgba).convert("L" if mode in ("LA", "La") else "RGB")
    elif mode in ("1", "L"):
        picture = picture.convert("L")
    elif mode != "RGB":   # CMYK, YCbCr, LAB, HSV
        picture = picture.convert("RGB")
    pixels = np.asarray(picture)
    if pixels.ndim == 2:
        return np.ascontiguousarray(pixels)
    return cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)


# --- PDF ----------------------------------------------------------------------------------

_TEXT_OPERATORS = {"BT", "ET", "Tf", "Td", "TD", "Tm", "T*", "Tc", "Tw", "Tz", "TL", "Ts",
                   "Tr", "Tj", "TJ", "'", '"', "g", "G", "rg", "RG", "k", "K", "cs", "CS",
                   "sc", "SC", "scn", "SCN", "gs", "d", "w", "i", "ri", "j", "J", "M"}
_SHOW_TEXT = {"Tj", "TJ", "'", '"'}
_INVISIBLE = 3   # text render mode: neither filled nor stroked (an OCR layer)


def _pdf_pages(file: LoadedFile, dpi: int, cancel: Cancel, progress: Progress
               ) -> Iterator[RawPage]:
    path = file.path
    try:
        pdf = pikepdf.open(io.BytesIO(file.data))
    except pikepdf.PasswordError as exc:
        raise _refuse(path, "PDF 有密码保护，无法读取。请申请人提供未加密的文件或纸质材料。"
                      ) from exc
    except Exception as exc:   # qpdf could not even repair it
        raise _refuse(path, "PDF 文件已损坏，无法读取。请让申请人重新导出或提供纸质材料。"
                      ) from exc
    with pdf:
        count = len(pdf.pages)
        if count == 0:
            raise _refuse(path, "PDF 里没有任何页面。请让申请人重新导出。")
        if count > MAX_PAGES:
            raise _refuse(path, f"PDF 有 {count} 页，超过 {MAX_PAGES} 页，请拆分后导入。")
        rendered: _Renderer | None = None
        try:
            for index, page in enumerate(pdf.pages):
                cancel.check()
                where = f"{file.name} 第{index + 1}页" if count > 1 else file.name
                progress(f"正在读取 {where}（共 {count} 页）…")
                pixels, page_dpi = _only_picture(page)
                if pixels is None:
                    rendered = rendered or _Renderer(file)
                    pixels, page_dpi = rendered.page(index, dpi), dpi
                yield RawPage(pixels, page_dpi, where)
        finally:
            if rendered is not None:
                rendered.close()


def _only_picture(page: pikepdf.Page) -> tuple[Pixels | None, int | None]:
    """The picture a page consists of, and its DPI from the page size, when the page is
    exactly one upright picture drawn over it (an invisible OCR layer allowed); (None,
    None) when the page must be rendered instead."""
    try:
        drawn = _single_drawing(page)
        if drawn is None:
            return None, None
        name, (a, _b, _c, d, e, f) = drawn
        xobject = page.resources.XObject[name]
        if not isinstance(xobject, pikepdf.Stream) or xobject.get("/Subtype") != pikepdf.Name.Image or any(
                key in xobject for key in ("/SMask", "/Mask", "/Decode", "/ImageMask")):
            return None, None
        width, height = int(xobject.Width), int(xobject.Height)
        left, bottom, right, top = (float(v) for v in page.cropbox)
        slack = 0.015 * max(right - left, top - bottom)
        if (abs(e - left) > slack or abs(f - bottom) > slack or abs(e + a - right) > slack
                or abs(f + d - top) > slack or width * height > MAX_PIXELS):
            return None, None
        picture = pikepdf.PdfImage(xobject).as_pil_image()
        if picture.size != (width, height):
            # The data is not the picture the PDF declares (a 1000-px header over
            # 13000-px data): its size and DPI would be made up. PDFium draws the page.
            return None, None
        picture.load()
        pixels = _eight_bit(picture)
    except Exception:   # an unusual colour space or codec: PDFium renders those
        return None, None
    turns = int(page.obj.get("/Rotate", 0)) // 90 % 4
    if turns:
        codes = (cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_180, cv2.ROTATE_90_COUNTERCLOCKWISE)
        pixels = cv2.rotate(pixels, codes[turns - 1])
    dpi = round(width / (a / 72))
    return pixels, dpi if 50 <= dpi <= _MOST_BELIEVABLE_DPI else None


def _single_drawing(page: pikepdf.Page
                    ) -> tuple[str, tuple[float, float, float, float, float, float]] | None:
    """The XObject name and the axis-aligned matrix of the one ``Do`` on the page, or
    None when the page draws anything else that shows."""
    ctm = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
    stack: list[tuple[tuple[float, ...], int]] = []
    render_mode = 0
    drawn: tuple[str, tuple[float, float, float, float, float, float]] | None = None
    for instruction in pikepdf.parse_content_stream(page):
        if isinstance(instruction, pikepdf.ContentStreamInlineImage):
            return None
        operands, operator = instruction.operands, str(instruction.operator)
        if operator == "q":
            stack.append((ctm, render_mode))
        elif operator == "Q":
            if not stack:
                return None
            (a, b, c, d, e, f), render_mode = stack.pop()
            ctm = (a, b, c, d, e, f)
        elif operator == "cm":
            m = [float(v) for v in operands]
            a, b, c, d, e, f = ctm
            ctm = (m[0] * a + m[1] * c, m[0] * b + m[1] * d, m[2] * a + m[3] * c,
                   m[2] * b + m[3] * d, m[4] * a + m[5] * c + e, m[4] * b + m[5] * d + f)
        elif operator == "Tr":
            render_mode = int(operands[0])
        elif operator == "Do":
            a, b, c, d, _e, _f = ctm
            if drawn is not None or abs(b) > 1e-6 or abs(c) > 1e-6 or a <= 0 or d <= 0:
                return None
            drawn = (str(operands[0]), ctm)
        elif operator in _SHOW_TEXT:
            if render_mode != _INVISIBLE:
                return None
        elif operator not in _TEXT_OPERATORS:
            return None   # a path, a shading, a form: something else shows
    return drawn


class _Renderer:
    """One PDFium document for the pages of a file that must be rendered."""

    def __init__(self, file: LoadedFile) -> None:
        self._file = file
        with _PDFIUM:
            try:
                self._pdf = pypdfium2.PdfDocument(file.data)
            except pypdfium2.PdfiumError as exc:
                raise _refuse(file.path, "PDF 文件已损坏，无法读取。请让申请人重新导出或提供纸质材料。"
                              ) from exc

    def page(self, index: int, dpi: int) -> Pixels:
        with _PDFIUM:
            try:
                page = self._pdf[index]
                try:
                    width, height = page.get_size()
                    if width * height * (dpi / 72) ** 2 > MAX_PIXELS:
                        raise _refuse(self._file.path, f"第 {index + 1} 页的纸张过大，无法处理。")
                    bitmap = page.render(scale=dpi / 72)
                    pixels = np.array(bitmap.to_numpy(), copy=True)
                finally:
                    page.close()
            except pypdfium2.PdfiumError as exc:
                raise _refuse(self._file.path, f"第 {index + 1} 页无法显示，文件可能已损坏。") from exc
        # PDFium writes BGR (or grey) bytes, as OpenCV wants them.
        return pixels[:, :, :3].copy() if pixels.ndim == 3 and pixels.shape[2] == 4 else pixels

    def close(self) -> None:
        with _PDFIUM:
            self._pdf.close()


# --- the source -------------------------------------------------------------------------


class FileImport:
    """Files a clerk chose (spec ``file:<path>``), delivered in the order given.

    A file that cannot be read does not stop the others: its reason goes to
    ``progress`` and ``problems`` as it happens, every other file's pages are
    delivered, and at the end one CaptureError lists the files left out."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self._paths = list(paths)
        self.problems: list[CaptureError] = []

    @property
    def info(self) -> SourceInfo:
        name = "、".join(display_name(p) for p in self._paths[:3])
        more = f" 等 {len(self._paths)} 个文件" if len(self._paths) > 3 else ""
        spec = f"file:{os.fsencode(self._paths[0]).decode('utf-8', 'replace')}" if self._paths else "file:"
        return SourceInfo(spec, SourceKind.FILE, f"导入文件 {name}{more}",
                          Capabilities(colour=True, max_dpi=600))

    def acquire(self, settings: ScanSettings, cancel: Cancel,
                progress: Progress = no_progress) -> Iterator[RawPage]:
        self.problems = []
        for path in self._paths:
            cancel.check()
            progress(f"正在读取 {display_name(path)}…")
            try:
                yield from read_pages(path, dpi=settings.dpi, cancel=cancel, progress=progress)
            except Cancelled:
                raise
            except CaptureError as exc:
                self.problems.append(exc)
                progress(str(exc))
        if self.problems:
            left_out = "；".join(str(p) for p in self.problems)
            raise CaptureError(f"{len(self._paths)} 个文件中有 {len(self.problems)} 个未能导入："
                               f"{left_out}")
