"""The case (办件): who applies for what, the state of each material, the decision.

A case changes only through events (``CaseEventKind``); :func:`apply_event` is the one
place that says which event may follow which status, so the storage projection, the
server and tests all agree on the lifecycle in ``domain.md``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from app.domain.case_pages import CasePages, PageError, apply_pages_payload


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
    DEADLINE_RECOMPUTED = "deadline_recomputed"  # the working calendar changed under it
    DELIVERED = "delivered"                # 出件: the result handed over or mailed
    DEFERRED_SUPPLIED = "deferred_supplied"  # 容缺补交: deferred materials brought in
    PAGES_RECORDED = "pages_recorded"      # scanned pages added, turned, moved, removed


def normalise_identity(id_type: IdType, number: str, *, today: dt.date) -> str:
    """Check an identity number by its type; returns it normalised.

    Cases, the credit list and the consultation log all go through this one function,
    so a number typed at the window matches the same number in an imported list.
    Raises :class:`app.domain.identity.IdentityError`.
    """
    # Imported here: the command parser imports this module, and ``yichuang --version``
    # must not load python-stdnum's tables.
    from app.domain.identity import (
        IdentityError,
        check_hmt_residence_id,
        check_resident_id,
        check_uscc,
    )

    try:
        # A plain "居民身份证" (from a form's drop-down or a JSON file) is the same type:
        # compared by identity it would skip the check digit.
        id_type = IdType(id_type)
    except ValueError:
        raise IdentityError(f"证件类型“{id_type}”无法识别。") from None
    if id_type is IdType.RESIDENT_ID:
        return check_resident_id(number, today=today).number
    if id_type is IdType.USCC:
        return check_uscc(number)
    if id_type is IdType.HMT_RESIDENCE:
        return check_hmt_residence_id(number, today=today)
    value = number.strip().upper()
    if not 5 <= len(value) <= 32:
        raise IdentityError(f"{id_type}号码长度应为5至32位。")
    return value


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
    role: str = "clerk"   # the account's role, for the services' permission checks


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
    pages: CasePages = ()           # scanned pages per material (app.domain.case_pages)
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


def clock_start(decision: Decision | None, accepted_on: dt.date,
                materials: Sequence[MaterialState]) -> dt.date:
    """The day the promised period is counted from.

    The acceptance day; for 容缺受理 the latest 补交期限, if later: the department gets
    its whole promised period once the last deferred material is due, so the promised
    date printed on the 容缺受理通知书 can never fall before a 补交期限 on the same page.
    """
    if decision is not Decision.ACCEPT_DEFERRED:
        return accepted_on
    due = [m.deferred_until for m in materials
           if m.status is MaterialStatus.DEFERRED and m.deferred_until is not None]
    return max([accepted_on, *due])


def deferred_outstanding(state: CaseState) -> list[MaterialState]:
    """The 容缺 materials of an accepted case still to be brought in (补交): while it is
    being processed, and once 办结 until it is handed over (出件 waits for them)."""
    if (state.decision is not Decision.ACCEPT_DEFERRED
            or state.status not in (*_CLOCK_RUNNING, CaseStatus.COMPLETED)):
        return []
    return [m for m in state.materials if m.status is MaterialStatus.DEFERRED]


def awaits_materials(state: CaseState) -> bool:
    """Whether a visit can bring materials to the case: 补正, 容缺补交, or a case opened
    and never decided (a 一件事's item left for later, an interrupted 收件)."""
    return (state.status in (CaseStatus.CORRECTION, CaseStatus.RECEIVING)
            or bool(deferred_outstanding(state)))


def status_after(decision: Decision) -> CaseStatus:
    return _DECISION_STATUS[decision]


# A recomputed promised date only matters while the clock runs.
_CLOCK_RUNNING = frozenset({CaseStatus.ACCEPTED, CaseStatus.ACCEPTED_DEFERRED,
                            CaseStatus.IN_REVIEW, CaseStatus.PAUSED})


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
    if kind is CaseEventKind.DEADLINE_RECOMPUTED and state.status not in _CLOCK_RUNNING:
        raise CaseTransitionError(f"办件状态为“{state.status}”，承诺办结日期不再计算。")
    if kind is CaseEventKind.DEFERRED_SUPPLIED and not deferred_outstanding(state):
        raise CaseTransitionError(
            f"办件状态为“{state.status}”，没有待补交的容缺材料。" if state.status in _CLOCK_RUNNING
            else f"办件状态为“{state.status}”，不能再补交容缺材料。")
    if kind is CaseEventKind.PAGES_RECORDED and state.status is CaseStatus.DELIVERED:
        raise CaseTransitionError("办件已出件，扫描件不能再修改。")
    if kind is CaseEventKind.DELIVERED and state.status is not CaseStatus.COMPLETED:
        raise CaseTransitionError(
            "办件已出件，不能重复出件。" if state.status is CaseStatus.DELIVERED else
            f"办件状态为“{state.status}”，尚未办结，不能出件。")


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
    if kind is CaseEventKind.DELIVERED:
        # Who received it and how live in the event (app.domain.pickup); the case only
        # moves on.
        return replace(state, status=CaseStatus.DELIVERED, version=state.version + 1)
    if kind is CaseEventKind.DEFERRED_SUPPLIED:
        materials = tuple(material_state_from_json(m) for m in payload["materials"])
        after = replace(state, materials=materials, version=state.version + 1)
        # The last deferred paper in: the acceptance stands unconditionally. The promised
        # date stays as printed on the 容缺受理通知书.
        if state.status is CaseStatus.ACCEPTED_DEFERRED and not deferred_outstanding(after):
            after = replace(after, status=CaseStatus.ACCEPTED)
        return after
    if kind is CaseEventKind.PAGES_RECORDED:
        try:
            pages = apply_pages_payload(state.pages, payload)
        except PageError as exc:
            raise CaseTransitionError(str(exc)) from exc
        return replace(state, pages=pages, version=state.version + 1)
    if kind is CaseEventKind.DEADLINE_RECOMPUTED:
        return replace(state, promised_date=_date(payload["promised_date"]),
                       promised_estimated=bool(payload.get("promised_estimated", False)),
                       version=state.version + 1)
    raise CaseTransitionError(f"未知的办件事件：{kind}")


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """One event as the log holds it: what happened, to which case, where and when."""

    case_id: str
    case_seq: int
    kind: str
    payload: dict[str, Any]
    clerk_id: str
    site: str
    terminal: str
    window: str
    occurred_at: str    # ISO 8601 UTC


class ReplayError(ValueError):
    """The events of a case do not make a valid history (message in Chinese)."""


def opened_state(event: LoggedEvent) -> CaseState:
    """The state an OPENED event creates; the projection row starts as exactly this."""
    p = event.payload
    opened_at = dt.datetime.fromisoformat(event.occurred_at).astimezone(dt.UTC)
    return CaseState(
        id=event.case_id, number=p["number"], status=CaseStatus.RECEIVING,
        item_code=p["item_code"], item_version=p["item_version"], item_name=p["item_name"],
        applicant=applicant_from_json(p["applicant"]), site=event.site,
        terminal=event.terminal, window=event.window, clerk_id=event.clerk_id,
        opened_at=opened_at.replace(tzinfo=None), agent=agent_from_json(p.get("agent")),
        bundle_code=p.get("bundle_code", ""), parent_id=p.get("parent_id", ""),
        queue_ticket=p.get("queue_ticket", ""), version=event.case_seq)


def replay(events: Sequence[LoggedEvent]) -> CaseState:
    """Rebuild a case from its events alone, through the same rules that wrote them."""
    if not events:
        raise ReplayError("办件没有任何记录。")
    first = events[0]
    if first.kind != CaseEventKind.OPENED or first.case_seq != 1:
        raise ReplayError(f"办件的第一条记录应为收件（opened，序号1），实为{first.kind}（序号"
                          f"{first.case_seq}）。")
    try:
        state = opened_state(first)
        for event in events[1:]:
            if event.case_seq != state.version + 1:
                raise ReplayError(f"办件记录序号不连续：{state.version}之后是{event.case_seq}。")
            state = apply_event(state, CaseEventKind(event.kind), event.payload)
    except CaseTransitionError as exc:
        raise ReplayError(f"办件记录不能依次重放：{exc}") from exc
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, ReplayError):
            raise
        raise ReplayError(f"办件记录内容不完整或无法识别：{exc!r}") from exc
    return state


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
