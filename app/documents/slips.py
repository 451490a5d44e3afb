"""The words of the thermal slips: the queue ticket (排队票) and the pickup slip (取件通知单).

Slips are handed to applicants across the counter, so identity numbers are masked and
the text is short; the codes carry the case number for the pickup desk's scanner.

The pickup slip's codes depend on the paper (see :mod:`app.documents.thermal`): where
the case number's Code128 fits with 3-dot modules (80 mm paper, all but the longest
numbers) it comes first and the QR code, with the record's hash, last. Where it does not
(58 mm paper, always) the slip has no Code128 — a 2-dot one would scan unreliably — and
the QR code comes first, large, with the case number and the record check code under it:
the pickup desk's 2D scanners read it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from app.documents.form import (
    DocumentKind,
    Slip,
    SlipBarcode,
    SlipBlock,
    SlipQR,
    SlipRule,
    SlipText,
    Stamp,
)
from app.documents.masking import mask_id
from app.domain.case import CaseState
from app.domain.catalogue import ServiceItem


@dataclass(frozen=True, slots=True)
class TicketInfo:
    """What the kiosk knows when it issues a queue ticket."""

    number: str                  # A012
    business: str                # 业务类别: 综合受理
    hall: str                    # the site's name
    issued_at: dt.datetime
    waiting_ahead: int = 0
    ticket_class: str = "普通"   # 普通 / 预约 / 绿色通道


def ticket(info: TicketInfo) -> Slip:
    blocks: list[SlipBlock] = [
        SlipText(info.hall, 28, center=True, bold=True),
        SlipText(info.business, 28, center=True),
        SlipRule(),
        SlipText(info.number, 120, center=True, bold=True),
    ]
    if info.ticket_class != "普通":
        blocks.append(SlipText(f"【{info.ticket_class}】", 32, center=True, bold=True))
    blocks += [
        SlipText(f"您前面还有 {info.waiting_ahead} 人等候", 30, center=True),
        SlipRule(),
        SlipText(f"取号时间：{info.issued_at:%Y-%m-%d %H:%M:%S}", 22),
        SlipText("请留意大厅叫号屏及语音提示，过号请到服务台重新取号。"
                 "办理完毕请对服务作出评价。", 22),
    ]
    return Slip(DocumentKind.TICKET, "排队票", tuple(blocks))


def pickup_slip(case: CaseState, item: ServiceItem, stamp: Stamp,
                dots: int = 576) -> Slip:
    """The pickup slip for a head of ``dots`` (576: 80 mm, 384: 58 mm): the codes' layout
    depends on it."""
    # Imported here: the drawing libraries load only when a slip is made (as in printing).
    from app.documents.thermal import MARGIN, code128_fits

    # The number must stay on one line: its digits are at most 0.6 em wide in the CJK
    # fonts we use (WenQuanYi 0.55), so a 27-character number on 58 mm paper gets 22 dots.
    size = min(24, int((dots - 2 * MARGIN) / (0.6 * len(case.number))))
    number_line = SlipText(case.number, size, center=True)
    witness = ([SlipText(f"记录校验码 {stamp.witness_code}", 22, center=True)]
               if stamp.witness else [])
    qr = SlipQR(stamp.qr_payload(case.number))
    top: list[SlipBlock]
    bottom: list[SlipBlock]
    if code128_fits(case.number, dots):
        top, bottom = [SlipBarcode(case.number), number_line], [qr, *witness]
    else:
        top, bottom = [qr, number_line, *witness], []
    blocks: list[SlipBlock] = [
        SlipText(stamp.site_name, 28, center=True, bold=True),
        SlipText("取件通知单", 40, center=True, bold=True),
    ]
    if stamp.reprint:
        blocks.append(SlipText(f"【{stamp.reprint_mark}】", 30, center=True, bold=True))
    blocks += [
        *top,
        SlipRule(),
        SlipText(f"申请人：{case.applicant.name}", 26),
        SlipText(f"证件号码：{mask_id(case.applicant.id_number)}", 24),
        SlipText(f"事项：{item.name}", 26),
        SlipText(f"办理结果：{item.result or '办理结果'}", 26),
    ]
    if case.promised_date:
        d = case.promised_date   # written as on the A4 notices: 2026年12月2日
        blocks.append(SlipText(f"承诺办结日期：{d.year}年{d.month}月{d.day}日"
                               + ("（预估）" if case.promised_estimated else ""), 26))
    blocks += [
        SlipText(f"取件地点：{item.place or stamp.site_name}", 24),
        SlipText(f"取件时间：{item.hours or '工作日办公时间'}", 24),
        SlipRule(),
        SlipText("取件请携带本单及申请人身份证件原件；他人代领须持授权委托书及代领人身份证件。", 22),
        *bottom,
        SlipText(f"{stamp.window}号窗口 经办人：{stamp.clerk_name}", 22),
        SlipText(f"{'日期' if stamp.issued_at else '打印时间'}：{stamp.issued:%Y-%m-%d %H:%M}", 22),
    ]
    return Slip(DocumentKind.PICKUP_SLIP, "取件通知单", tuple(blocks))
