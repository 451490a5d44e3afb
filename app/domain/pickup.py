"""出件: handing the result of a case over, or sending it by post.

The result goes to the applicant in person, to someone who brings the applicant's
授权委托书 (代领), or into the post with a carrier and a tracking number. Who received it
is checked against the case (the applicant's own ID number, or a named proxy with the
letter seen) and recorded in the DELIVERED event, which the 送达回证 then states.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from app.domain.case import CaseState, IdType, deferred_outstanding


class DeliveryMethod(StrEnum):
    IN_PERSON = "本人领取"
    PROXY = "代领"
    MAIL = "邮寄送达"


@dataclass(frozen=True, slots=True)
class Delivery:
    method: DeliveryMethod
    recipient: str = ""              # who took it (本人 or 代领人); for mail, the addressee
    id_type: IdType = IdType.RESIDENT_ID
    id_number: str = ""              # checked: the applicant's own, or the proxy's
    proxy_letter: bool = False       # 代领: the applicant's 授权委托书 was seen
    relation: str = ""               # 代领人与申请人关系
    carrier: str = ""                # 邮寄: 中国邮政EMS…
    tracking: str = ""               # 邮寄: 运单号
    address: str = ""                # 邮寄: 收件地址
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"method": str(self.method), "recipient": self.recipient,
                "id_type": str(self.id_type), "id_number": self.id_number,
                "proxy_letter": self.proxy_letter, "relation": self.relation,
                "carrier": self.carrier, "tracking": self.tracking, "address": self.address,
                "note": self.note}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Delivery:
        return cls(DeliveryMethod(d["method"]), str(d.get("recipient", "")),
                   IdType(d.get("id_type", str(IdType.RESIDENT_ID))), str(d.get("id_number", "")),
                   bool(d.get("proxy_letter", False)), str(d.get("relation", "")),
                   str(d.get("carrier", "")), str(d.get("tracking", "")),
                   str(d.get("address", "")), str(d.get("note", "")))


@dataclass(frozen=True, slots=True)
class DeliveredFacts:
    """A delivery as the log holds it, for the 送达回证."""

    delivery: Delivery
    at: dt.datetime          # local time
    clerk_name: str


def check_delivery(case: CaseState, d: Delivery) -> list[str]:
    """Every reason the result may not go out this way (Chinese); empty when it may."""
    problems: list[str] = []
    owed = deferred_outstanding(case)
    if owed:
        # 容缺受理 is acceptance on a promise: the result goes out once the paper is in.
        problems.append(f"容缺材料尚未补交：{'、'.join(m.name for m in owed)}。"
                        "请先登记容缺补交（窗口菜单“业务 → 补正 / 容缺补交”，或 case supplement），再出件。")
    if d.method is DeliveryMethod.IN_PERSON:
        if d.id_number.strip().upper() != case.applicant.id_number.upper():
            problems.append("领取人证件号码与申请人不一致：本人领取须核对申请人本人证件；"
                            "他人领取请选择“代领”并查验授权委托书。")
    elif d.method is DeliveryMethod.PROXY:
        number = d.id_number.strip().upper()
        if not d.recipient.strip() or not number:
            problems.append("代领须登记代领人姓名和证件号码。")
        elif number == case.applicant.id_number.upper():
            problems.append("代领人就是申请人本人，请选择“本人领取”。")
        # The agent who filed the case holds the 委托 already on file; anyone else shows
        # the applicant's letter.
        filing_agent = case.agent is not None and number == case.agent.id_number.upper()
        if not d.proxy_letter and not filing_agent:
            problems.append("代领须查验申请人签署的授权委托书。")
    elif d.method is DeliveryMethod.MAIL:
        if not d.carrier.strip() or not d.tracking.strip():
            problems.append("邮寄送达须登记快递公司和运单号。")
        if not d.address.strip() and not case.applicant.address.strip():
            problems.append("邮寄送达须登记收件地址。")
    return problems
