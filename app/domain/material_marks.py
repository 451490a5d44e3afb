"""The clerk's marks on the material checklist, and what they allow (no Qt here).

The checklist page keeps one :class:`MaterialState` per marked material; this module
says which mark a material may take (容缺 only when the catalogue allows it, …), makes
the state for a key, and asks :func:`app.domain.acceptance.check_decision` what blocks
each decision — the same rules the service applies when the clerk decides.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from app.domain.acceptance import check_decision
from app.domain.case import Decision, MaterialState, MaterialStatus
from app.domain.catalogue import ItemKind, Material, MaterialSource

# Digit key → mark. 0 clears a row's mark.
KEY_MARKS: dict[str, MaterialStatus] = {
    "1": MaterialStatus.RECEIVED,
    "2": MaterialStatus.MISSING,
    "3": MaterialStatus.FAULTY,
    "4": MaterialStatus.DEFERRED,
    "5": MaterialStatus.COMMITMENT,
    "6": MaterialStatus.SHARED,
}

# A 不予受理 is about the application, not the paper: its reason is asked when chosen,
# so while the bar is drawn it is checked as if one had been given.
_REASON_PLACEHOLDER = "理由在确认时填写"


class MarkRefused(ValueError):
    """This material cannot take this mark; the message (Chinese) says why."""


def refusal(material: Material, status: MaterialStatus) -> str | None:
    """Why ``material`` may not be marked ``status``, or None when it may."""
    if status is MaterialStatus.DEFERRED and not material.deferrable:
        return f"“{material.name}”不在容缺受理范围内。"
    if status is MaterialStatus.COMMITMENT and not material.commitment:
        return f"“{material.name}”不适用告知承诺。"
    if status is MaterialStatus.SHARED and material.source is not MaterialSource.SHARED:
        return f"“{material.name}”不是共享获取的材料，请收取纸质材料。"
    return None


# 容缺补交: what a deferred paper may become when it is brought in later — received,
# or fetched from the shared source after all. A 告知承诺 is chosen at the decision only.
SUPPLIED_AS = (MaterialStatus.RECEIVED, MaterialStatus.SHARED)


def supply_refusal(material: Material, accepted: MaterialState | None,
                   status: MaterialStatus) -> str | None:
    """Why ``material`` may not be marked ``status`` at a 容缺补交 visit, given its state
    as the case was accepted with (``accepted``); None when it may."""
    if accepted is None or accepted.status is not MaterialStatus.DEFERRED:
        return f"“{material.name}”已在受理时核验，补交时只登记容缺材料。"
    if status not in SUPPLIED_AS:
        return f"容缺材料“{material.name}”补交时按 1 已收取 或 6 共享获取。"
    return refusal(material, status)


def mark(material: Material, status: MaterialStatus, *, fault: str = "",
         deferred_until: dt.date | None = None) -> MaterialState:
    """The state for one key press on ``material`` (raises :class:`MarkRefused`)."""
    why = refusal(material, status)
    if why:
        raise MarkRefused(why)
    if status is MaterialStatus.RECEIVED:
        return MaterialState(material.id, material.name, status, str(material.form),
                             material.copies)
    if status is MaterialStatus.FAULTY:
        return MaterialState(material.id, material.name, status, fault=fault.strip())
    if status is MaterialStatus.DEFERRED:
        return MaterialState(material.id, material.name, status, deferred_until=deferred_until)
    return MaterialState(material.id, material.name, status)


def received_by_default(material: Material) -> MaterialState:
    """What "全部收取" puts on an unmarked row: shared materials come by sharing."""
    if material.source is MaterialSource.SHARED:
        return mark(material, MaterialStatus.SHARED)
    return mark(material, MaterialStatus.RECEIVED)


def mark_detail(state: MaterialState | None) -> str:
    """The state column's text."""
    if state is None:
        return "未核验"
    if state.status is MaterialStatus.RECEIVED:
        return f"已收取（{state.form_received} {state.copies_received}份）"
    if state.status is MaterialStatus.FAULTY:
        return f"有误：{state.fault}"
    if state.status is MaterialStatus.DEFERRED and state.deferred_until is not None:
        return f"容缺，{state.deferred_until:%Y-%m-%d}前补交"
    return str(state.status)


def ordered_states(checklist: Sequence[Material],
                   marks: Mapping[str, MaterialState]) -> list[MaterialState]:
    """The marked states in checklist order (what the service records)."""
    return [marks[m.id] for m in checklist if m.id in marks]


def main_decision(kind: ItemKind) -> Decision:
    """F9: 即办 for an 即办件, else 受理."""
    return Decision.ON_THE_SPOT if kind is ItemKind.ON_THE_SPOT else Decision.ACCEPT


@dataclass(frozen=True)
class DecisionKey:
    key: str          # "F9"
    decision: Decision


def decision_keys(kind: ItemKind) -> tuple[DecisionKey, ...]:
    return (DecisionKey("F9", main_decision(kind)), DecisionKey("F10", Decision.CORRECTION),
            DecisionKey("F11", Decision.REJECT), DecisionKey("F12", Decision.ACCEPT_DEFERRED))


def blocking(decision: Decision, kind: ItemKind, checklist: Sequence[Material],
             marks: Mapping[str, MaterialState], *, today: dt.date) -> list[str]:
    """Every reason ``decision`` cannot be taken with the marks as they stand."""
    reason = _REASON_PLACEHOLDER if decision is Decision.REJECT else ""
    return check_decision(decision, kind, checklist, ordered_states(checklist, marks), reason,
                          today=today)
