"""A queue ticket between the kiosk (or the CLI) and the paper: what the applicant chose
before tapping a category (绿色通道 with its reason, 预约签到 by code or ID number), and
the 80 mm ticket printed for a ticket once it is saved."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.documents.masking import mask_id
from app.documents.slips import TicketInfo
from app.domain.case import Clerk
from app.domain.queue import TicketClass

if TYPE_CHECKING:
    from app.config import Settings
    from app.services.printing import DocumentService, PrintOutcome
    from app.services.queue import IssuedTicket

PRIORITY_LABEL = "绿色通道"   # what the ticket and the screen call a 优先 ticket
# 17 digits and a digit or X: an ID number (checked); anything else is an appointment code.
_ID_SHAPE = re.compile(r"[0-9]{17}[0-9X]")
_HMT_PREFIXES = ("81", "82", "83")   # 港澳台居民居住证


def printer_fault_message(number: str) -> str:
    return f"号码已取到：{number}，打印机故障，请记下号码或联系工作人员"


@dataclass(frozen=True, slots=True)
class TicketChoice:
    """What the applicant chose before tapping a category."""

    ticket_class: TicketClass = TicketClass.ORDINARY
    priority_reason: str = ""
    appointment: str = ""
    id_number: str = ""

    @property
    def banner(self) -> str:
        if self.ticket_class is TicketClass.PRIORITY:
            return f"{PRIORITY_LABEL}：{self.priority_reason}　请选择业务"
        if self.ticket_class is TicketClass.APPOINTMENT:
            shown = mask_id(self.id_number) if self.id_number else self.appointment
            return f"预约签到：{shown}　请选择业务"
        return ""


# ---- the work (off the GUI thread) ---------------------------------------------------


def read_check_in(text: str) -> TicketChoice:
    """The 预约 choice for what was typed or scanned; an ID number must be a valid one.

    Checked in an operation: the ID check loads the region table on first use.
    """
    from app.domain.identity import check_hmt_residence_id, check_resident_id

    value = re.sub(r"\s", "", text).upper()
    if not value:
        raise ValueError("请输入预约码或身份证号码。")
    if _ID_SHAPE.fullmatch(value):
        number = (check_hmt_residence_id(value) if value.startswith(_HMT_PREFIXES)
                  else check_resident_id(value).number)
        return TicketChoice(TicketClass.APPOINTMENT, id_number=number)
    from app.domain.queue import check_ticket_request

    check_ticket_request(TicketClass.APPOINTMENT, appointment=value)
    return TicketChoice(TicketClass.APPOINTMENT, appointment=value)


def kiosk_clerk(settings: Settings) -> Clerk:
    """Who prints a ticket: the kiosk itself (tickets are not case documents)."""
    return Clerk("kiosk", "自助取号机", settings.site_code, settings.terminal, "")


def ticket_info(issued: IssuedTicket, site_name: str) -> TicketInfo:
    """What the 80 mm ticket of ``issued`` says: number, category, class, the hall, the
    local issue time, the people waiting ahead."""
    t = issued.ticket
    label = PRIORITY_LABEL if t.ticket_class is TicketClass.PRIORITY else str(t.ticket_class)
    return TicketInfo(t.number, issued.category_name, site_name,
                      t.issued_at.astimezone().replace(tzinfo=None, microsecond=0),
                      issued.waiting_ahead, label)


def print_issued_ticket(documents: DocumentService, settings: Settings,
                        issued: IssuedTicket) -> PrintOutcome:
    """Render the ticket of ``issued`` (saved already) and send it to the ticket printer."""
    info = ticket_info(issued, settings.site_name)
    return documents.print(documents.render_ticket(info), kiosk_clerk(settings))
