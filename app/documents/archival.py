"""Archive copies of A4 documents: reportlab's PDF made self-describing, PDF/A-2b if it passes.

:func:`archival_pdf` post-processes the bytes of :func:`app.documents.a4.render_pdf` with
pikepdf. The page content is not redrawn; what changes:

* XMP metadata (the catalog's /Metadata), mirrored in the document information
  dictionary so the two agree (PDF/A requires it): ``dc:title``; ``dc:creator`` the
  issuing authority (Info /Author); ``dc:publisher`` the issuer (service centre, window);
  ``dc:description`` a one-line summary (Info /Subject); ``dc:identifier`` the case number;
  ``dc:type`` the document kind; ``dc:language``; ``dc:format``; ``xmp:CreateDate``,
  ``xmp:ModifyDate`` and ``xmp:MetadataDate`` all equal to the given creation time (Info
  /CreationDate and /ModDate); ``xmp:CreatorTool`` (Info /Creator) and ``pdf:Producer``
  (Info /Producer). The catalog gets /Lang.
* An sRGB OutputIntent: the ICC v2 sRGB profile shipped with pikepdf (/N 3), installed
  by :func:`pikepdf.pdfa.prepare`. Pillow's ``ImageCms.createProfile("sRGB")`` would do
  too (ICC v4.4, /N 3), but lcms writes the current time into its header, so the output
  would differ from one call to the next.
* Fixes for what reportlab 5.x writes that PDF/A-2b does not accept (found by validating
  a rendered 收件凭证; CIDSet and the binary header comment are not among them: the
  fonts are simple TrueType subsets, not CIDFonts, and qpdf writes the header comment):

  - every page selects Helvetica (``BT /F1 12 Tf 14.4 TL ET``, the canvas's initial
    font) without drawing a glyph with it, so an unembedded Type 1 font sits in every
    page's resources; its ``Tf`` operators and resource entry are removed when no text
    is drawn in it (text that is drawn in it keeps it, and the file is then not PDF/A);
  - a glyph past the font's last full horizontal metric (those share the last advance
    width; U+2020C 𠈌 in HanaMin A, 1024 units per em) gets in the subset's ``hmtx`` its
    width in thousandths of an em written as font units: the font program says 976.6/1000
    em where /Widths, which reportlab laid the line out with, says 1000. The program's
    advance is set to the /Widths value, so what is drawn does not move;
  - an empty page transition dictionary (``/Trans << >>``) on every page, removed (an
    empty one selects no transition, so nothing changes).

* A trailer /ID computed from the file's content (qpdf's deterministic ID) rather than
  random, so the same input bytes and :class:`ArchiveMeta` always give the same output
  (the archive stores it content-addressed).

PDF/A-2b identification (``pdfaid:part`` 2, ``pdfaid:conformance`` B) is written only
after the finished file passed the PDF/A-2b validator of ``pikepdf.pdfa`` (installed with
``pikepdf[pdfa]``). That validator allowlists what it knows to conform, using the rule
catalogue of the veraPDF validation profiles: it may refuse a conforming file, and is
designed never to approve a nonconforming one. veraPDF itself (Java) is in neither PyPI
nor Debian; no other PDF/A-2 validator is installable here. (Apache PDFBox Preflight,
Debian's libpdfbox2-java, checks PDF/A-1b only.) A document the validator refuses, for
example one drawing text in a font that is not embedded, gets the same metadata and
fixes but no PDF/A identification, and the refusal is logged. A character no installed
font has is no refusal: the renderer prints it as a visible mark in an embedded font
(see :meth:`app.documents.fonts.FontSet.printable_runs`), so the archive copy shows what
the paper shows, and ``RenderedPdf.missing_glyphs`` names the character.

The case number, kind and authority are in Dublin Core properties, not in a namespace
of our own: PDF/A allows custom XMP properties only with a PDF/A extension schema
describing them in the packet, and ``pikepdf.pdfa`` does not read extension schemas (it
reports every such property as a violation), so a file using one could not be validated
here and would have to go without the PDF/A identification.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

import pikepdf
import pikepdf.pdfa
from fontTools.ttLib import TTFont  # type: ignore[import-untyped]
from pikepdf import Array, Dictionary, Name, Pdf, Stream, String

log = logging.getLogger(__name__)

FLAVOUR = "2b"
# qpdf computes the /ID from the content, so the same input gives the same bytes.
_SAVE_KWARGS = pikepdf.pdfa.resolve_save_kwargs(FLAVOUR, deterministic_id=True)
# veraPDF accepts a /Widths entry within 1/1000 em of the font program's advance.
_WIDTH_TOLERANCE = 1.0
_Instruction = pikepdf.ContentStreamInstruction | pikepdf.ContentStreamInlineImage
_TEXT_SHOWING = frozenset({"Tj", "TJ", "'", '"'})
# Characters XML 1.0 cannot carry; they could only come from a damaged record.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

_NS = {
    "dc": "http://purl.org/dc/elements/1.1/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "pdf": "http://ns.adobe.com/pdf/1.3/",
    "pdfaid": "http://www.aiim.org/pdfa/ns/id/",
}


@dataclass(frozen=True, slots=True)
class ArchiveMeta:
    """What the archive copy says about itself.

    ``created`` is when the document was issued; a naive value is local time (as the
    stamps' times are) and is given this machine's UTC offset.
    """

    title: str
    kind: str            # DocumentKind value, e.g. "receipt"
    case_number: str     # "" for a document without a case (一次性告知单)
    authority: str       # the authority the document speaks for: dc:creator, Info /Author
    issuer: str          # who issued it (service centre, window): dc:publisher
    created: dt.datetime
    language: str = "zh-CN"

    @property
    def description(self) -> str:
        """One line for Info /Subject and dc:description."""
        parts = [self.title]
        if self.case_number:
            parts.append(f"办件编号 {self.case_number}")
        if self.issuer:
            parts.append(self.issuer)
        return "，".join(parts)


def archival_pdf(data: bytes, meta: ArchiveMeta) -> bytes:
    """``data`` (a PDF from reportlab) with archive metadata, declared PDF/A-2b if the
    result passes the validator (see the module docstring)."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        producer, creator = _producer(pdf), _creator_tool(pdf)
        # reportlab's /ID comes from the time of rendering, and qpdf keeps an existing
        # first element: without it the deterministic ID is the content's alone.
        if "/ID" in pdf.trailer:
            del pdf.trailer.ID
        # Structure first (output intent), then our metadata over what prepare wrote:
        # prepare stamps xmp:MetadataDate with the current time, which would make the
        # output differ on every call.
        pikepdf.pdfa.prepare(pdf, FLAVOUR, output_intent="sRGB")
        _drop_unused_unembedded_fonts(pdf)
        _drop_empty_transitions(pdf)
        _match_advances_to_widths(pdf)
        _write_info(pdf, meta, producer=producer, creator=creator)
        pdf.Root.Lang = String(_clean(meta.language))
        _write_xmp(pdf, meta, declare_pdfa=True)
        candidate = _save(pdf)
        report = pikepdf.pdfa.validate_written(io.BytesIO(candidate), FLAVOUR,
                                               save_kwargs=_SAVE_KWARGS)
        if report.passed:
            return candidate
        log.warning("%s %s: not declared PDF/A-%s: %s", meta.title, meta.case_number,
                    FLAVOUR, "; ".join(str(f) for f in report.findings))
        _write_xmp(pdf, meta, declare_pdfa=False)
        return _save(pdf)


def _save(pdf: Pdf) -> bytes:
    out = io.BytesIO()
    pdf.save(out, **_SAVE_KWARGS)
    return out.getvalue()


# ---- metadata ----------------------------------------------------------------------------


def _clean(text: str) -> str:
    return _NOT_XML.sub("", text)


def _zoned(created: dt.datetime) -> dt.datetime:
    # PDF dates have whole seconds; a naive time is local, as the stamps' times are.
    return (created if created.tzinfo else created.astimezone()).replace(microsecond=0)


def _pdf_date(when: dt.datetime) -> str:
    offset = when.utcoffset() or dt.timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return f"D:{when:%Y%m%d%H%M%S}{sign}{hours:02d}'{mins:02d}'"


def _producer(pdf: Pdf) -> str:
    original = pdf.trailer.get("/Info", Dictionary()).get("/Producer")
    base = str(original) if isinstance(original, String) and str(original) else "ReportLab"
    return f"{base}; pikepdf {pikepdf.__version__}"


def _creator_tool(pdf: Pdf) -> str:
    original = pdf.trailer.get("/Info", Dictionary()).get("/Creator")
    return str(original) if isinstance(original, String) and str(original) else "一窗通"


def _write_info(pdf: Pdf, meta: ArchiveMeta, *, producer: str, creator: str) -> None:
    """Replace the Info dictionary with exactly the entries the XMP packet mirrors."""
    date = _pdf_date(_zoned(meta.created))
    entries: dict[str, str] = {
        "/Title": meta.title, "/Author": meta.authority, "/Subject": meta.description,
        "/Creator": creator, "/Producer": producer,
        "/CreationDate": date, "/ModDate": date,
    }
    # Keywords (empty) and Trapped from reportlab go: neither has anything to say.
    pdf.trailer.Info = pdf.make_indirect(Dictionary(
        {k: String(_clean(v)) for k, v in entries.items() if _clean(v)}))


def _write_xmp(pdf: Pdf, meta: ArchiveMeta, *, declare_pdfa: bool) -> None:
    info = pdf.trailer.Info

    def text(key: str) -> str:
        return str(info[key]) if key in info else ""

    when = _zoned(meta.created).isoformat()
    props: list[str] = []

    def simple(name: str, value: str) -> None:
        if value:
            props.append(f"<{name}>{escape(value)}</{name}>")

    def array(name: str, kind: str, values: list[str]) -> None:
        items = "".join(f"<rdf:li>{escape(v)}</rdf:li>" for v in values if v)
        if items:
            props.append(f"<{name}><rdf:{kind}>{items}</rdf:{kind}></{name}>")

    def lang_alt(name: str, value: str) -> None:
        if value:
            props.append(f'<{name}><rdf:Alt><rdf:li xml:lang="x-default">{escape(value)}'
                         f"</rdf:li></rdf:Alt></{name}>")

    lang_alt("dc:title", text("/Title"))
    array("dc:creator", "Seq", [text("/Author")])
    array("dc:publisher", "Bag", [_clean(meta.issuer)])
    lang_alt("dc:description", text("/Subject"))
    simple("dc:identifier", _clean(meta.case_number))
    array("dc:type", "Bag", [_clean(meta.kind)])
    array("dc:language", "Bag", [_clean(meta.language)])
    simple("dc:format", "application/pdf")
    simple("xmp:CreateDate", when)
    simple("xmp:ModifyDate", when)
    simple("xmp:MetadataDate", when)
    simple("xmp:CreatorTool", text("/Creator"))
    simple("pdf:Producer", text("/Producer"))
    if declare_pdfa:
        simple("pdfaid:part", FLAVOUR[0])
        simple("pdfaid:conformance", FLAVOUR[1].upper())
    namespaces = " ".join(f'xmlns:{p}="{uri}"' for p, uri in _NS.items())
    body = "\n".join(f"   {p}" for p in props)
    packet = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        f'  <rdf:Description rdf:about="" {namespaces}>\n{body}\n  </rdf:Description>\n'
        " </rdf:RDF>\n</x:xmpmeta>\n"
        # Padding lets an XMP editor update the packet in place (XMP Part 1, 7.3.2).
        + (" " * 99 + "\n") * 20
        + '<?xpacket end="w"?>'
    )
    pdf.Root.Metadata = pdf.make_stream(packet.encode("utf-8"), Type=Name.Metadata,
                                        Subtype=Name.XML)


# ---- what reportlab writes that PDF/A refuses ------------------------------------------


def _is_embedded(font: Any) -> bool:
    if not isinstance(font, Dictionary):
        return True   # not ours to judge; the validator will
    if font.get("/Subtype") in (Name.Type0, Name.Type3):
        return True   # Type0 embeds in its descendant; Type 3 glyphs are content
    descriptor = font.get("/FontDescriptor")
    return isinstance(descriptor, Dictionary) and any(
        k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3"))


def _fonts_showing_text(ops: Iterable[_Instruction]) -> set[str]:
    """Resource names of the fonts current when a text-showing operator runs.

    The font is graphics state: it outlives ET and is saved and restored by q and Q.
    """
    used: set[str] = set()
    current: str | None = None
    saved: list[str | None] = []
    for instruction in ops:
        name = str(instruction.operator)
        if name == "q":
            saved.append(current)
        elif name == "Q" and saved:
            current = saved.pop()
        elif name == "Tf" and instruction.operands:
            current = str(instruction.operands[0])
        elif name in _TEXT_SHOWING and current is not None:
            used.add(current)
    return used


def _drop_unused_unembedded_fonts(pdf: Pdf) -> None:
    """Remove fonts that are selected but never draw a glyph and are not embedded.

    Removing every ``Tf`` of such a font leaves the current font the same wherever
    text is drawn (the font was not current there), so the pages look the same.
    """
    for page in pdf.pages:
        resources = page.obj.get("/Resources")
        if not isinstance(resources, Dictionary) or "/XObject" in resources:
            continue   # forms could draw with the page's fonts: leave them be
        fonts = resources.get("/Font")
        if not isinstance(fonts, Dictionary):
            continue
        bare = {str(k) for k, f in fonts.items() if not _is_embedded(f)}
        if not bare:
            continue
        # Only the operators that decide which font draws text: a quarter of them.
        state = pikepdf.parse_content_stream(page, "q Q Tf Tj TJ ' \"")
        unused = bare - _fonts_showing_text(state)
        if not unused:
            continue
        kept = [i for i in pikepdf.parse_content_stream(page)
                if not (str(i.operator) == "Tf" and i.operands and str(i.operands[0]) in unused)]
        page.obj.Contents = pdf.make_stream(pikepdf.unparse_content_stream(kept))
        # Resources shared with another page are copied, not edited in place: that
        # page's content may still select the font.
        own = Dictionary({k: v for k, v in resources.items()})
        own.Font = Dictionary({k: v for k, v in fonts.items() if str(k) not in unused})
        page.obj.Resources = own


def _drop_empty_transitions(pdf: Pdf) -> None:
    for page in pdf.pages:
        trans = page.obj.get("/Trans")
        if isinstance(trans, Dictionary) and not trans.keys():
            del page.obj["/Trans"]


def _match_advances_to_widths(pdf: Pdf) -> None:
    """Make each simple TrueType font program's advance widths agree with /Widths."""
    done: set[tuple[int, int]] = set()
    for page in pdf.pages:
        resources = page.obj.get("/Resources")
        fonts = resources.get("/Font") if isinstance(resources, Dictionary) else None
        if not isinstance(fonts, Dictionary):
            continue
        for font in fonts.values():
            if not isinstance(font, Dictionary) or font.get("/Subtype") != Name.TrueType:
                continue
            descriptor = font.get("/FontDescriptor")
            program = descriptor.get("/FontFile2") if isinstance(descriptor, Dictionary) else None
            widths = font.get("/Widths")
            if not isinstance(program, Stream) or not isinstance(widths, Array):
                continue
            if program.objgen in done:
                continue
            done.add(program.objgen)
            _fix_program(program, int(font.get("/FirstChar", 0)), [float(w) for w in widths])


def _fix_program(program: Stream, first: int, widths: list[float]) -> None:
    # No recomputed timestamp or bounding boxes: only hmtx is meant to change.
    face = TTFont(io.BytesIO(program.read_bytes()), recalcTimestamp=False, recalcBBoxes=False)
    # A symbolic simple TrueType font maps codes through the (3,0) or (1,0) subtable.
    table = face["cmap"].getcmap(3, 0) or face["cmap"].getcmap(1, 0)
    if table is None:
        return
    codes = table.cmap
    if table.platformID == 3:
        codes = {code & 0xFF: glyph for code, glyph in codes.items()}
    upem = face["head"].unitsPerEm
    hmtx = face["hmtx"]
    changed = False
    for i, width in enumerate(widths):
        glyph = codes.get(first + i)
        if glyph is None:
            continue
        advance, lsb = hmtx[glyph]
        if abs(advance * 1000 / upem - width) > _WIDTH_TOLERANCE:
            hmtx[glyph] = (round(width * upem / 1000), lsb)
            changed = True
    if not changed:
        return
    out = io.BytesIO()
    face.save(out)
    data = out.getvalue()
    # Unfiltered here; the save compresses it (compress_streams) like every stream.
    program.write(data)
    program.Length1 = len(data)

