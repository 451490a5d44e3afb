"""The case (办件): who applies for what, the state of each material, the decision.

A case changes only through events (``CaseEventKind``); :func:`apply_event` is the one
place that says which event may follow which status, so the storage projection, the
server and tests all agree on the lifecycle in ``domain.md``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any


class CaseStatus(StrEnum):
    RECEIVING = "收件中"
    CORRECTION = "待补正"
    ACCEPTED = "已受理"
    ACCEPTED_DEFERRED = "容缺受理"
    REJECTED = "不予受理"
    IN_REVIEW = "审批中"
    PAUSED = "暂停计时"
    COMPLETED = "已办结"
    DELIVERED = "已出件"


class Decision(StrEnum):
    ACCEPT = "受理"
    ACCEPT_DEFERRED = "容缺受理"
    CORRECTION = "补正"
    REJECT = "不予受理"
    ON_THE_SPOT = "即办"


class MaterialStatus(StrEnum):
    RECEIVED = "已收取"
    MISSING = "缺失"
    FAULTY = "有误"
    DEFERRED = "容缺后补"
    COMMITMENT = "告知承诺"
    SHARED = "共享获取"


class ApplicantKind(StrEnum):
    PERSON = "自然人"
    ORGANISATION = "法人或其他组织"


class IdType(StrEnum):
    RESIDENT_ID = "居民身份证"
    HMT_RESIDENCE = "港澳台居民居住证"
    HMT_PERMIT = "港澳居民来往内地通行证"
    TAIWAN_PERMIT = "台湾居民来往大陆通行证"
    PASSPORT = "护照"
    FOREIGNER_PR = "外国人永久居留身份证"
    USCC = "统一社会信用代码"


class CaseEventKind(StrEnum):
    OPENED = "opened"                      # 收件开始
    MATERIALS_RECORDED = "materials_recorded"
    DECIDED = "decided"
    STATUS_CHANGED = "status_changed"      # back office, arrives through sync


@dataclass(frozen=True, slots=True)
class Applicant:
    kind: ApplicantKind
    name: str
    id_type: IdType
    id_number: str
    phone: str = ""
    address: str = ""
    legal_representative: str = ""  # organisations only


@dataclass(frozen=True, slots=True)
class Agent:
    """代理人/代办员 applying on the applicant's behalf (委托书 is then a material)."""

    name: str
    id_type: IdType
    id_number: str
    phone: str = ""
    relation: str = ""            # 与申请人关系 / 受托人
    village_agent: bool = False   # 村代办员: the case also has a 代办台账 entry


@dataclass(frozen=True, slots=True)
class MaterialState:
    """What happened to one material of the checklist at the window."""

    material_id: str
    name: str
    status: MaterialStatus
    form_received: str = ""        # 原件 / 复印件 / 原件和复印件 / 电子 when received
    copies_received: int = 0
    fault: str = ""                # FAULTY: what is wrong, printed on the 补正 notice
    deferred_until: dt.date | None = None  # DEFERRED: promised supply date
    note: str = ""


@dataclass(frozen=True, slots=True)
class Clerk:
    """Where and by whom an event happened; every event carries it."""

    clerk_id: str
    clerk_name: str
    site: str
    terminal: str
    window: str


@dataclass(frozen=True, slots=True)
class CaseState:
    """The current state of a case, as the projection table holds it."""

    id: str
    number: str
    status: CaseStatus
    item_code: str
    item_version: str
    item_name: str
    applicant: Applicant
    site: str
    terminal: str
    window: str
    clerk_id: str
    opened_at: dt.datetime
    agent: Agent | None = None
    bundle_code: str = ""
    parent_id: str = ""
    queue_ticket: str = ""
    scenarios: tuple[str, ...] = ()    # 办理情形 chosen: they decide the checklist
    materials: tuple[MaterialState, ...] = ()
    decision: Decision | None = None
    decision_reason: str = ""
    competent_authority: str = ""   # 不予受理: who is competent if not us
    accepted_on: dt.date | None = None
    promised_date: dt.date | None = None
    promised_estimated: bool = False  # the calendar did not cover that year (see decide)
    version: int = 0


class CaseTransitionError(ValueError):
    """An event that may not happen in the case's current status (message in Chinese)."""


DECIDABLE = frozenset({CaseStatus.RECEIVING, CaseStatus.CORRECTION})

_DECISION_STATUS = {
    Decision.ACCEPT: CaseStatus.ACCEPTED,
    Decision.ACCEPT_DEFERRED: CaseStatus.ACCEPTED_DEFERRED,
    Decision.CORRECTION: CaseStatus.CORRECTION,
    Decision.REJECT: CaseStatus.REJECTED,
    Decision.ON_THE_SPOT: CaseStatus.COMPLETED,
}

# Back-office moves that arrive through sync (审批 → 暂停/恢复 → 办结 → 出件).
_BACK_OFFICE = {
    CaseStatus.ACCEPTED: {CaseStatus.IN_REVIEW, CaseStatus.COMPLETED},
    CaseStatus.ACCEPTED_DEFERRED: {CaseStatus.IN_REVIEW, CaseStatus.COMPLETED},
    CaseStatus.IN_REVIEW: {CaseStatus.PAUSED, CaseStatus.COMPLETED},
    CaseStatus.PAUSED: {CaseStatus.IN_REVIEW},
    CaseStatus.COMPLETED: {CaseStatus.DELIVERED},
}


def status_after(decision: Decision) -> CaseStatus:
    return _DECISION_STATUS[decision]


def check_transition(state: CaseState, kind: CaseEventKind) -> None:
    """Raise CaseTransitionError if an event of ``kind`` may not follow the current status.

    Checked before anything else, so a clerk who opens a decided case hears that first,
    not a list of material problems.
    """
    if kind is CaseEventKind.OPENED:
        raise CaseTransitionError("办件已经建立，不能重复收件。")
    if kind is CaseEventKind.MATERIALS_RECORDED and state.status not in DECIDABLE:
        raise CaseTransitionError(f"办件状态为“{state.status}”，不能再修改收件材料。")
    if kind is CaseEventKind.DECIDED and state.status not in DECIDABLE:
        raise CaseTransitionError(f"办件状态为“{state.status}”，不能再作受理决定。")


def apply_event(state: CaseState, kind: CaseEventKind, payload: dict[str, Any]) -> CaseState:
    """Return the state after ``kind``; raise CaseTransitionError if it may not happen."""
    check_transition(state, kind)
    if kind is CaseEventKind.MATERIALS_RECORDED:
        materials = tuple(material_state_from_json(m) for m in payload["materials"])
        scenarios = tuple(payload.get("scenarios", state.scenarios))
        return replace(state, materials=materials, scenarios=scenarios,
                       version=state.version + 1)
    if kind is CaseEventKind.DECIDED:
        decision = Decision(payload["decision"])
        return replace(
            state,
            status=status_after(decision),
            decision=decision,
            decision_reason=payload.get("reason", ""),
            competent_authority=payload.get("competent_authority", ""),
            accepted_on=_date(payload.get("accepted_on")),
            promised_date=_date(payload.get("promised_date")),
            promised_estimated=bool(payload.get("promised_estimated", False)),
            version=state.version + 1,
        )
    if kind is CaseEventKind.STATUS_CHANGED:
        target = CaseStatus(payload["status"])
        if target not in _BACK_OFFICE.get(state.status, set()):
            raise CaseTransitionError(f"办件不能从“{state.status}”变为“{target}”。")
        return replace(state, status=target, version=state.version + 1)
    raise CaseTransitionError(f"未知的办件事件：{kind}")


def _date(value: Any) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


# ---- plain JSON for event payloads and the projection --------------------------------


def applicant_to_json(a: Applicant) -> dict[str, Any]:
    return {"kind": str(a.kind), "name": a.name, "id_type": str(a.id_type),
            "id_number": a.id_number, "phone": a.phone, "address": a.address,
            "legal_representative": a.legal_representative}


def applicant_from_json(d: dict[str, Any]) -> Applicant:
    return Applicant(ApplicantKind(d["kind"]), d["name"], IdType(d["id_type"]),
                     d["id_number"], d.get("phone", ""), d.get("address", ""),
                     d.get("legal_representative", ""))


def agent_to_json(a: Agent | None) -> dict[str, Any] | None:
    if a is None:
        return None
    return {"name": a.name, "id_type": str(a.id_type), "id_number": a.id_number,
            "phone": a.phone, "relation": a.relation, "village_agent": a.village_agent}


def agent_from_json(d: dict[str, Any] | None) -> Agent | None:
    if not d:
        return None
    return Agent(d["name"], IdType(d["id_type"]), d["id_number"], d.get("phone", ""),
                 d.get("relation", ""), bool(d.get("village_agent", False)))


def material_state_to_json(m: MaterialState) -> dict[str, Any]:
    return {"material_id": m.material_id, "name": m.name, "status": str(m.status),
            "form_received": m.form_received, "copies_received": m.copies_received,
            "fault": m.fault,
            "deferred_until": m.deferred_until.isoformat() if m.deferred_until else None,
            "note": m.note}


def material_state_from_json(d: dict[str, Any]) -> MaterialState:
    return MaterialState(d["material_id"], d["name"], MaterialStatus(d["status"]),
                         d.get("form_received", ""), int(d.get("copies_received", 0)),
                         d.get("fault", ""), _date(d.get("deferred_until")), d.get("note", ""))
