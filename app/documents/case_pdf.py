"""A case's scanned materials as one PDF: a bookmark per material, pages in order.

img2pdf wraps each stored JPEG in its page as it is (DCT passthrough: no re-encoding,
so the PDF's pages are bit for bit the pages whose hashes the case log holds), sized by
the DPI written in the JPEG. The clerk's quarter turns become each page's /Rotate, and
pikepdf adds the outline a department's reviewer navigates by.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import img2pdf
import pikepdf

from app.domain.case_pages import PageRef
from app.errors import UserError


class CasePdfError(UserError):
    """The PDF cannot be assembled (message in Chinese)."""


@dataclass(frozen=True, slots=True)
class MaterialSection:
    title: str                    # the material's name as on the checklist
    pages: tuple[PageRef, ...]


def assemble(sections: Sequence[MaterialSection], page_bytes: Callable[[str], bytes], *,
             title: str, progress: Callable[[int, int], None] | None = None) -> bytes:
    """One PDF of every section's pages, a top-level bookmark per section.

    ``page_bytes`` gives a page's JPEG by its SHA-256 (the blob store verifies it).
    ``progress(done, total)`` is told after each page is read.
    """
    sections = [s for s in sections if s.pages]
    total = sum(len(s.pages) for s in sections)
    if not total:
        raise CasePdfError("本办件还没有扫描件。")
    images: list[bytes] = []
    for section in sections:
        for number, page in enumerate(section.pages, 1):
            try:
                images.append(page_bytes(page.sha256))
            except LookupError as exc:   # BlobMissing: lost or damaged on disk
                raise CasePdfError(f"“{section.title}”第{number}页：{exc}。请重新扫描这一页"
                                   "（删除后重扫），或从备份恢复。") from exc
            if progress is not None:
                progress(len(images), total)
    try:
        raw = img2pdf.convert(images, rotation=img2pdf.Rotation.none)
    except (img2pdf.ImageOpenError, img2pdf.PdfTooLargeError, ValueError) as exc:
        raise CasePdfError(f"扫描件无法合成 PDF：{exc}") from exc
    if raw is None:   # img2pdf returns None only when writing to a file it was given
        raise CasePdfError("扫描件无法合成 PDF。")
    with pikepdf.open(io.BytesIO(raw)) as pdf:
        index = 0
        with pdf.open_outline() as outline:
            for section in sections:
                outline.root.append(pikepdf.OutlineItem(
                    f"{section.title}（{len(section.pages)}页）", index))
                for page in section.pages:
                    if page.turns:
                        pdf.pages[index].rotate(90 * page.turns, relative=False)
                    index += 1
        pdf.docinfo["/Title"] = title
        pdf.docinfo["/Creator"] = "一窗通"
        # Open with the bookmarks showing: the reviewer's table of contents.
        pdf.Root.PageMode = pikepdf.Name.UseOutlines
        out = io.BytesIO()
        pdf.save(out, deterministic_id=True)
    return out.getvalue()
