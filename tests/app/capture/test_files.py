"""File import (app/capture/files.py): real image and PDF files written to tmp_path,
read back as pages; and every bad file a clerk can be handed, each refused with a message
naming it."""

from __future__ import annotations

import io
import os
import tracemalloc
import zlib
from pathlib import Path

import cv2
import img2pdf
import numpy as np
import pikepdf
import pytest
from PIL import Image, ImageFile
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from app.capture.fake_source import PageKind, draw_page
from app.capture.files import MAX_FILE_BYTES, FileImport, read_pages
from app.capture.source import Cancel, Cancelled, CaptureError, RawPage, ScanSettings


def _marked_page(width: int = 600, height: int = 850) -> Image.Image:
    """A white RGB page with a red block in its top-left corner (tells BGR from RGB and
    up from down)."""
    page = Image.new("RGB", (width, height), (255, 255, 255))
    page.paste((255, 0, 0), (0, 0, width // 4, height // 8))
    return page


def _pages(path: Path, dpi: int = 200) -> list[RawPage]:
    return list(read_pages(path, dpi=dpi))


def _refusal(path: Path) -> str:
    with pytest.raises(CaptureError) as caught:
        _pages(path)
    message = str(caught.value)
    message.encode("utf-8")   # printable on a UTF-8 console, whatever the file's name
    return message


def _is_red(pixel: np.ndarray) -> bool:
    """Red in BGR order, give or take what JPEG does to it."""
    b, g, r = (int(v) for v in pixel)
    return r > 220 and g < 40 and b < 40


def _red_is_top_left(pixels: np.ndarray) -> bool:
    h, w = pixels.shape[:2]
    return _is_red(pixels[h // 20, w // 20]) and int(pixels[h - h // 20, w - w // 20].min()) > 240


# --- pictures -------------------------------------------------------------------------


def test_a_png_arrives_as_bgr_pixels_with_the_dpi_it_states(tmp_path: Path) -> None:
    path = tmp_path / "申请书.png"
    _marked_page().save(path, dpi=(300, 300))
    [page] = _pages(path)
    assert page.pixels.shape == (850, 600, 3) and page.pixels.dtype == np.uint8
    assert _red_is_top_left(page.pixels)
    assert page.dpi == 300 and page.origin == "申请书.png" and not page.from_camera


def test_a_jpeg_scan_keeps_its_dpi_and_a_file_stating_none_gets_none(tmp_path: Path) -> None:
    stated, unstated = tmp_path / "scan.jpg", tmp_path / "plain.jpg"
    _marked_page().save(stated, dpi=(200, 200), quality=95)
    _marked_page().save(unstated, quality=95)
    assert _pages(stated)[0].dpi == 200
    assert _pages(unstated)[0].dpi is None


def test_a_phone_photo_is_turned_upright_as_its_exif_says_and_marked_a_camera_frame(
        tmp_path: Path) -> None:
    # The phone held sideways stores the picture lying on its side, with orientation 6:
    # "turn me 90° clockwise to view".
    upright = _marked_page()
    lying = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    exif.get_ifd(0x8769)[0x920A] = 4.2       # focal length: a camera, not a scanner
    path = tmp_path / "IMG_0012.jpg"
    lying.save(path, exif=exif, dpi=(72, 72), quality=95)
    [page] = _pages(path)
    assert page.pixels.shape[:2] == (850, 600)
    assert _red_is_top_left(page.pixels)
    assert page.dpi is None                  # 72 "dpi" says nothing about paper
    assert page.from_camera


def test_palette_alpha_and_sixteen_bit_greys_become_eight_bit_on_white(tmp_path: Path) -> None:
    rgba = Image.new("RGBA", (400, 300), (0, 0, 0, 0))       # transparent = paper
    rgba.paste((0, 0, 0, 255), (0, 0, 100, 100))
    rgba.save(tmp_path / "alpha.png")
    rgba.convert("P").save(tmp_path / "palette.png", transparency=0)
    grey16 = np.full((300, 400), 65535, np.uint16)
    grey16[:100, :100] = 0
    Image.fromarray(grey16).save(tmp_path / "grey16.png")
    for name in ("alpha.png", "grey16.png"):
        [page] = _pages(tmp_path / name)
        assert page.pixels.dtype == np.uint8
        grey = page.pixels if page.pixels.ndim == 2 else cv2.cvtColor(page.pixels,
                                                                     cv2.COLOR_BGR2GRAY)
        assert int(grey[50, 50]) == 0 and int(grey[200, 300]) == 255, name
    [palette] = _pages(tmp_path / "palette.png")
    assert palette.pixels.dtype == np.uint8 and palette.pixels.ndim in (2, 3)


def test_a_cmyk_jpeg_and_a_grey_bmp_are_read(tmp_path: Path) -> None:
    _marked_page().convert("CMYK").save(tmp_path / "print.jpg", quality=95)
    Image.new("L", (300, 200), 128).save(tmp_path / "grey.bmp")
    [cmyk] = _pages(tmp_path / "print.jpg")
    assert cmyk.pixels.ndim == 3
    assert _is_red(cmyk.pixels[20, 20])
    [grey] = _pages(tmp_path / "grey.bmp")
    assert grey.pixels.shape == (200, 300) and int(grey.pixels[100, 100]) == 128


def test_every_frame_of_a_multi_page_tiff_is_a_page(tmp_path: Path) -> None:
    path = tmp_path / "fax.tif"
    frames = [Image.new("L", (300, 400), shade) for shade in (10, 120, 240)]
    frames[0].save(path, save_all=True, append_images=frames[1:], compression="tiff_lzw",
                   dpi=(200, 200))
    pages = _pages(path)
    assert [int(p.pixels[5, 5]) for p in pages] == [10, 120, 240]
    assert [p.origin for p in pages] == ["fax.tif 第1页", "fax.tif 第2页", "fax.tif 第3页"]
    assert {p.dpi for p in pages} == {200}


# --- PDF ------------------------------------------------------------------------------


def _scan_pdf(picture: Image.Image, dpi: int) -> bytes:
    jpeg = io.BytesIO()
    picture.save(jpeg, "JPEG", quality=95, dpi=(dpi, dpi))
    pdf = img2pdf.convert(jpeg.getvalue())
    assert pdf is not None
    return pdf


def test_a_scanned_pdf_page_gives_its_picture_at_its_own_resolution(tmp_path: Path) -> None:
    picture = Image.fromarray(cv2.cvtColor(draw_page(PageKind.FORM, dpi=150), cv2.COLOR_BGR2RGB))
    path = tmp_path / "营业执照.pdf"
    path.write_bytes(_scan_pdf(picture, 150))
    [page] = _pages(path, dpi=200)
    assert page.pixels.shape[:2] == (picture.height, picture.width)   # not resampled
    assert page.dpi == 150


def test_a_pdf_picture_larger_than_it_declares_is_drawn_at_the_page_size_instead(
        tmp_path: Path) -> None:
    picture = Image.fromarray(cv2.cvtColor(draw_page(PageKind.FORM, dpi=150), cv2.COLOR_BGR2RGB))
    with pikepdf.open(io.BytesIO(_scan_pdf(picture, 150))) as pdf:
        [image] = pdf.pages[0].Resources.XObject.values()
        # The header says a tenth of the data's size: its DPI and size would be made up.
        image.Width, image.Height = picture.width // 10, picture.height // 10
        out = io.BytesIO()
        pdf.save(out)
    path = tmp_path / "撒谎.pdf"
    path.write_bytes(out.getvalue())
    [page] = _pages(path, dpi=100)
    assert page.dpi == 100
    assert page.pixels.shape[1] == pytest.approx(picture.width * 100 / 150, abs=2)


def test_a_pdf_page_turned_by_its_rotate_key_is_delivered_turned(tmp_path: Path) -> None:
    path = tmp_path / "turned.pdf"
    with pikepdf.open(io.BytesIO(_scan_pdf(_marked_page(), 100))) as pdf:
        pdf.pages[0].obj["/Rotate"] = 90
        pdf.save(path)
    [page] = _pages(path)
    assert page.pixels.shape[:2] == (600, 850)
    h, w = page.pixels.shape[:2]
    assert _is_red(page.pixels[h // 20, w - w // 20])   # the top left turned to the top right


def test_an_ocr_layer_over_a_scan_does_not_stop_the_picture_being_taken(tmp_path: Path) -> None:
    picture = tmp_path / "scan.png"
    _marked_page(827, 1169).save(picture)
    path = tmp_path / "searchable.pdf"
    pen = canvas.Canvas(str(path), pagesize=A4)
    pen.drawImage(str(picture), 0, 0, width=A4[0], height=A4[1])
    text = pen.beginText(72, 700)
    text.setTextRenderMode(3)   # invisible, as OCR software writes it
    text.textLine("Hidden OCR words")
    pen.drawText(text)
    pen.save()
    [page] = _pages(path, dpi=300)
    assert page.pixels.shape[:2] == (1169, 827)   # the picture itself, not a 300-dpi render
    assert page.dpi == 100


def test_a_typed_pdf_is_rendered_at_the_dpi_asked_for_in_bgr(tmp_path: Path) -> None:
    path = tmp_path / "form.pdf"
    pen = canvas.Canvas(str(path), pagesize=A4)
    pen.setFillColorRGB(1, 0, 0)
    pen.rect(0, A4[1] - 100, 150, 100, stroke=0, fill=1)
    pen.setFillColorRGB(0, 0, 0)
    pen.drawString(72, 500, "Application form")
    pen.showPage()
    pen.drawString(72, 500, "Page two")
    pen.save()
    pages = _pages(path, dpi=200)
    assert [p.pixels.shape for p in pages] == [(2339, 1654, 3)] * 2
    assert _is_red(pages[0].pixels[20, 20])
    assert [p.dpi for p in pages] == [200, 200]
    assert [p.origin for p in pages] == ["form.pdf 第1页", "form.pdf 第2页"]


def test_a_password_protected_pdf_is_refused_with_what_to_ask_for(tmp_path: Path) -> None:
    path = tmp_path / "加密.pdf"
    with pikepdf.open(io.BytesIO(_scan_pdf(_marked_page(), 100))) as pdf:
        pdf.save(path, encryption=pikepdf.Encryption(user="1234", owner="5678"))
    message = _refusal(path)
    assert message.startswith("加密.pdf：")
    assert "PDF 有密码保护" in message and "请申请人提供未加密的文件或纸质材料" in message


def test_a_pdf_locked_only_against_editing_is_read(tmp_path: Path) -> None:
    path = tmp_path / "restricted.pdf"
    with pikepdf.open(io.BytesIO(_scan_pdf(_marked_page(), 100))) as pdf:
        pdf.save(path, encryption=pikepdf.Encryption(user="", owner="5678"))
    assert len(_pages(path)) == 1


def test_a_pdf_without_pages_and_a_broken_pdf_are_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pdf"
    pikepdf.new().save(empty)
    assert "没有任何页面" in _refusal(empty)
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\n" + os.urandom(4000))
    assert "PDF 文件已损坏" in _refusal(broken)


# --- bad files ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_a_truncated_picture_is_refused_not_padded(tmp_path: Path, fmt: str) -> None:
    out = io.BytesIO()
    noisy = Image.fromarray(np.random.default_rng(1).integers(0, 255, (600, 800, 3), np.uint8))
    noisy.save(out, fmt)
    path = tmp_path / f"half.{fmt.lower()}"
    path.write_bytes(out.getvalue()[: len(out.getvalue()) // 2])
    message = _refusal(path)
    assert message.startswith(f"half.{fmt.lower()}：") and "损坏或不完整" in message
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_a_file_that_is_not_a_picture_is_refused_whatever_its_name(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    path.write_text("这不是图片\n" * 100, encoding="utf-8")
    assert "不是能识别的图片或 PDF 文件" in _refusal(path)


def test_an_empty_file_a_folder_and_a_vanished_file_are_refused(tmp_path: Path) -> None:
    (tmp_path / "zero.png").write_bytes(b"")
    assert "文件是空的" in _refusal(tmp_path / "zero.png")
    (tmp_path / "folder.pdf").mkdir()
    assert "这是一个文件夹" in _refusal(tmp_path / "folder.pdf")
    assert "文件不存在" in _refusal(tmp_path / "gone.jpg")


def test_a_200_mb_file_is_refused_by_its_size_without_being_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.tif"
    with open(path, "wb") as out:
        out.truncate(200 * 1024 * 1024)   # sparse: no disk used
    tracemalloc.start()
    try:
        message = _refusal(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "200 MB" in message and f"{MAX_FILE_BYTES // 2**20} MB" in message
    assert peak < 5 * 1024 * 1024


def _png_claiming(width: int, height: int) -> bytes:
    """A few hundred bytes whose header claims width × height grey pixels."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (len(body).to_bytes(4, "big") + kind + body
                + zlib.crc32(kind + body).to_bytes(4, "big"))
    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\0" * 10_000)) + chunk(b"IEND", b""))


@pytest.mark.parametrize("side", [12_000, 20_000])   # past our limit; past Pillow's too
def test_a_decompression_bomb_is_refused_before_it_is_decoded(tmp_path: Path, side: int) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_claiming(side, side))
    tracemalloc.start()
    try:
        message = _refusal(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "百万像素" in message
    assert peak < 20 * 1024 * 1024


def test_a_file_name_that_is_not_utf8_is_read_and_shown(tmp_path: Path) -> None:
    gbk_name = os.fsdecode("申请书".encode("gbk") + b".png")   # from a GBK USB stick
    good = tmp_path / gbk_name
    _marked_page().save(good)
    [page] = _pages(good)
    page.origin.encode("utf-8")
    assert page.origin.endswith(".png") and "\ufffd" in page.origin
    bad = tmp_path / os.fsdecode("坏".encode("gbk") + b".png")
    bad.write_bytes(b"not a png")
    assert "\ufffd" in _refusal(bad)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    path = tmp_path / "pipe.jpg"
    os.mkfifo(path)
    assert "不是普通文件" in _refusal(path)


# --- the source: several files --------------------------------------------------------


def test_an_import_delivers_every_good_file_then_names_the_bad_ones(tmp_path: Path) -> None:
    first, bad, last = tmp_path / "1.png", tmp_path / "2.jpg", tmp_path / "3.png"
    Image.new("L", (100, 100), 10).save(first)
    bad.write_bytes(b"\xff\xd8\xff garbage")
    Image.new("L", (100, 100), 30).save(last)
    source = FileImport([first, bad, last])
    told: list[str] = []
    delivered: list[RawPage] = []
    with pytest.raises(CaptureError) as caught:
        for page in source.acquire(ScanSettings(), Cancel(), told.append):
            delivered.append(page)
    assert [int(p.pixels[0, 0]) for p in delivered] == [10, 30]
    assert "3 个文件中有 1 个未能导入" in str(caught.value) and "2.jpg：" in str(caught.value)
    assert [str(p) for p in source.problems] == [m for m in told if m.startswith("2.jpg：")]
    assert source.info.spec == f"file:{first}"


def test_an_import_cancelled_after_a_file_reads_no_further(tmp_path: Path) -> None:
    paths = []
    for shade in (10, 20, 30):
        paths.append(tmp_path / f"{shade}.png")
        Image.new("L", (50, 50), shade).save(paths[-1])
    cancel = Cancel()
    read: list[int] = []
    with pytest.raises(Cancelled):
        for page in FileImport(paths).acquire(ScanSettings(), cancel):
            read.append(int(page.pixels[0, 0]))
            cancel.set()
    assert read == [10]



@pytest.mark.filterwarnings("ignore::UserWarning")   # Pillow on damaged TIFF tags
def test_damaged_copies_of_good_files_are_read_or_refused_never_a_traceback(
        tmp_path: Path) -> None:
    """Bytes flipped, cut out, cut off and inserted in every format: whatever Pillow,
    qpdf or PDFium make of them, the clerk gets pages or a CaptureError."""
    picture = Image.fromarray(np.random.default_rng(0).integers(0, 255, (90, 120, 3), np.uint8))
    originals: list[bytes] = []
    for fmt in ("JPEG", "PNG", "BMP", "WEBP"):
        out = io.BytesIO()
        picture.save(out, fmt)
        originals.append(out.getvalue())
    out = io.BytesIO()
    picture.save(out, "TIFF", save_all=True, append_images=[picture], compression="tiff_lzw")
    originals.append(out.getvalue())
    originals.append(_scan_pdf(picture, 100))
    out = io.BytesIO()
    pen = canvas.Canvas(out)
    pen.drawString(72, 700, "text")
    pen.rect(50, 50, 200, 100)
    pen.save()
    originals.append(out.getvalue())
    rng = np.random.default_rng(2024)
    outcomes = {"read": 0, "refused": 0}
    for number in range(350):
        data = bytearray(originals[number % len(originals)])
        for _ in range(int(rng.integers(1, 6))):
            at = int(rng.integers(0, len(data)))
            action = int(rng.integers(0, 4))
            if action == 0:
                data[at] = int(rng.integers(0, 256))
            elif action == 1:
                del data[at:at + int(rng.integers(1, 40))]
            elif action == 2:
                del data[max(at, 1):]
            else:
                data[at:at] = bytes(rng.integers(0, 256, int(rng.integers(1, 20)), np.uint8))
        path = tmp_path / f"damaged{number}"
        path.write_bytes(bytes(data))
        try:
            pages = _pages(path)
        except CaptureError:
            outcomes["refused"] += 1
        else:
            outcomes["read"] += 1
            assert all(p.pixels.dtype == np.uint8 and p.pixels.ndim in (2, 3) for p in pages)
    assert outcomes["refused"] > 100 and outcomes["read"] > 10   # both roads were taken
