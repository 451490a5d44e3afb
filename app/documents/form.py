"""What a printed document says, as plain data: the templates build it, renderers draw it.

An A4 document is a :class:`FormDocument` (title, number line, blocks of text, field
grids, tables and signature lines); a thermal slip is a :class:`Slip` (lines, a barcode,
a QR code). Keeping the words apart from the drawing lets one renderer serve every form
and lets tests check a form's content without reading a PDF.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum


class DocumentKind(StrEnum):
    CHECKLIST = "checklist"          # 一次性告知单 (consultation, no case)
    RECEIPT = "receipt"              # 收件凭证
    ACCEPTANCE = "acceptance"        # 受理通知书
    DEFERRED = "deferred"            # 容缺受理通知书
    CORRECTION = "correction"        # 一次性告知书（补正材料通知书）
    REJECTION = "rejection"          # 不予受理通知书
    PICKUP = "pickup"                # 取件通知单 (A4)
    PICKUP_SLIP = "pickup-slip"      # 取件通知单 (80 mm)
    SERVICE = "service"              # 送达回证
    TICKET = "ticket"                # 排队票 (80 mm)

    @property
    def display(self) -> str:
        """The document's Chinese name (``str.title`` is taken)."""
        return _TITLES[self]

    @property
    def thermal(self) -> bool:
        return self in (DocumentKind.PICKUP_SLIP, DocumentKind.TICKET)

    @property
    def for_case(self) -> bool:
        return self not in (DocumentKind.CHECKLIST, DocumentKind.TICKET)


_TITLES = {
    DocumentKind.CHECKLIST: "一次性告知单",
    DocumentKind.RECEIPT: "收件凭证",
    DocumentKind.ACCEPTANCE: "受理通知书",
    DocumentKind.DEFERRED: "容缺受理通知书",
    DocumentKind.CORRECTION: "补正材料通知书",
    DocumentKind.REJECTION: "不予受理决定书",
    DocumentKind.PICKUP: "取件通知单",
    DocumentKind.PICKUP_SLIP: "取件通知单（小票）",
    DocumentKind.SERVICE: "送达回证",
    DocumentKind.TICKET: "排队票",
}


@dataclass(frozen=True, slots=True)
class Stamp:
    """Who issued a document, where and when; a reprint (补打) says so with its own time.

    For a document that states a case event (a decision, the receipt of materials) the
    window, clerk and ``issued_at`` are that event's, frozen in the log: a reprint a month
    later carries the same date and 经办人, and only its 补打 mark names when and by whom
    it was reprinted (``printed_at``, ``reprint_clerk``).
    """

    site_name: str
    window: str
    clerk_name: str
    printed_at: dt.datetime
    reprint: bool = False
    # The hash of the case event this document states (its decision, or the receipt of
    # the materials): printed short beside the case number and whole in the QR code, so
    # the paper in the applicant's hand witnesses the record (yichuang audit check-paper).
    witness: str = ""
    issued_at: dt.datetime | None = None   # the event's time (local); None: printed_at
    reprint_clerk: str = ""

    @property
    def issued(self) -> dt.datetime:
        return self.issued_at or self.printed_at

    @property
    def reprint_mark(self) -> str:
        who = f" {self.reprint_clerk}" if self.reprint_clerk else ""
        return f"补打 {self.printed_at:%Y-%m-%d %H:%M}{who}"

    @property
    def witness_code(self) -> str:
        """The printed form: the first 12 hex digits as 1a2b-3c4d-5e6f."""
        h = self.witness[:12]
        return "-".join(h[i:i + 4] for i in range(0, len(h), 4))

    def qr_payload(self, case_number: str) -> str:
        """Number and 128 bits of the hash, upper-case with ":" so the QR code uses its
        compact alphanumeric mode (larger modules, reliable to scan at 20 mm)."""
        if not self.witness:
            return case_number
        return f"{case_number}:{self.witness[:32].upper()}"

    @property
    def line(self) -> str:
        label = "日期" if self.issued_at else "打印时间"
        text = (f"{self.site_name}  {self.window}号窗口  经办人：{self.clerk_name}  "
                f"{label}：{self.issued:%Y-%m-%d %H:%M}")
        if self.reprint:
            text += f"  【{self.reprint_mark}】"
        return text


# ---- A4 blocks -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Heading:
    text: str


@dataclass(frozen=True, slots=True)
class Text:
    text: str
    indent: bool = True       # first-line indent of two characters, as Chinese prose
    emphasis: bool = False
    small: bool = False


@dataclass(frozen=True, slots=True)
class Fields:
    """A grid of label/value cells, ``columns`` pairs to a row."""

    pairs: tuple[tuple[str, str], ...]
    columns: int = 2


@dataclass(frozen=True, slots=True)
class Column:
    title: str
    weight: float = 1.0      # share of the table width
    center: bool = False


@dataclass(frozen=True, slots=True)
class Table:
    """A table whose header row repeats on every page it spans."""

    columns: tuple[Column, ...]
    rows: tuple[tuple[str, ...], ...]
    empty_text: str = "（无）"


@dataclass(frozen=True, slots=True)
class Signatures:
    """Signature lines on the left; on the right, the seal and date of the issuer."""

    parties: tuple[str, ...]
    issuer: str = ""
    date: dt.date | None = None
    on_behalf: str = ""      # 受……委托: the window acts for the deciding authority


Block = Heading | Text | Fields | Table | Signatures


@dataclass(frozen=True, slots=True)
class FormDocument:
    kind: DocumentKind
    title: str
    stamp: Stamp
    blocks: tuple[Block, ...]
    number_line: str = ""            # 文书编号
    addressee: str = ""               # 致：张三
    case_number: str = ""            # drawn as Code128 and QR code when set
    copies: tuple[str, ...] = ()     # 联: ("第一联 申请人留存", "第二联 窗口存档")
    issuer: str = ""                 # the name above the title; the site when empty
    authority: str = ""              # 实施主体 deciding the case (archive metadata)

    @property
    def heading(self) -> str:
        return self.issuer or self.stamp.site_name

    def text(self) -> str:
        """Every word the document prints, for checks and for finding missing glyphs."""
        parts = [self.heading, self.title, self.number_line, self.addressee, self.stamp.line,
                 *self.copies]
        for b in self.blocks:
            match b:
                case Heading(text=t) | Text(text=t):
                    parts.append(t)
                case Fields(pairs=pairs):
                    parts += [f"{k}{v}" for k, v in pairs]
                case Table(columns=cols, rows=rows):
                    parts += [c.title for c in cols] + ["".join(r) for r in rows]
                case Signatures(parties=ps, issuer=issuer, on_behalf=behalf):
                    parts += [*ps, issuer, behalf]
        return "\n".join(parts)


# ---- thermal slips ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SlipText:
    text: str
    size: int = 24            # dots (24 ≈ 3 mm on a 203 dpi head)
    center: bool = False
    bold: bool = False


@dataclass(frozen=True, slots=True)
class SlipRule:
    dashed: bool = True


@dataclass(frozen=True, slots=True)
class SlipBarcode:
    text: str
    height: int = 80


@dataclass(frozen=True, slots=True)
class SlipQR:
    text: str


SlipBlock = SlipText | SlipRule | SlipBarcode | SlipQR


@dataclass(frozen=True, slots=True)
class Slip:
    kind: DocumentKind
    title: str
    blocks: tuple[SlipBlock, ...]

    def text(self) -> str:
        parts = [self.title]
        parts += [b.text for b in self.blocks if isinstance(b, SlipText)]
        return "\n".join(parts)
