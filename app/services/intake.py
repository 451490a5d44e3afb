"""Applications given as words — a command line, or a file a village agent (村代办员)
collected offline — turned into the case services' calls, checked whole first.

Materials are written ``ID=STATE[:DETAIL]``: 收 (已收取; DETAIL a form such as 复印件),
缺 (缺失), 误 (有误; DETAIL what is wrong), 容缺 (DETAIL the 补交 date YYYY-MM-DD), 承诺
(告知承诺), 共享 (共享获取); decisions 受理, 容缺受理, 补正, 不予受理, 即办 (or accept,
defer, correct, reject, done). :func:`precheck` applies the rules the services will
apply, so an application that cannot go all the way is refused before anything is written.

A batch file (``yichuang case import``) is JSON::

    {"format": "yichuang-applications", "format_version": 1, "collected_by": "李代办",
     "agent": {"name": "李代办", "id_type": "居民身份证", "id_number": "…", "village_agent": true},
     "applications": [{"item": "事项编码", "applicant": {"name": "王小明", "id_number": "…"},
                       "materials": ["m1=收", "m5=缺"], "received_all": true,
                       "decision": "受理", "reason": ""}]}

Each application succeeds or fails on its own, and each failure is named.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.domain.acceptance import check_decision, check_materials
from app.domain.case import (
    Agent,
    Applicant,
    ApplicantKind,
    Clerk,
    Decision,
    IdType,
    MaterialState,
    MaterialStatus,
)
from app.domain.catalogue import Material, ServiceItem
from app.errors import UserError

STATE_WORDS: dict[MaterialStatus, tuple[str, str]] = {
    MaterialStatus.RECEIVED: ("收", "received"),
    MaterialStatus.MISSING: ("缺", "missing"),
    MaterialStatus.FAULTY: ("误", "faulty"),
    MaterialStatus.DEFERRED: ("容缺", "deferred"),
    MaterialStatus.COMMITMENT: ("承诺", "commitment"),
    MaterialStatus.SHARED: ("共享", "shared"),
}
_STATE_OF = {w: s for s, words in STATE_WORDS.items() for w in (s.value, *words)}
DECISION_WORDS: dict[Decision, str] = {
    Decision.ACCEPT: "accept", Decision.ACCEPT_DEFERRED: "defer",
    Decision.CORRECTION: "correct", Decision.REJECT: "reject", Decision.ON_THE_SPOT: "done",
}
_DECISION_OF = {w: d for d, e in DECISION_WORDS.items() for w in (d.value, e)}
FORMAT_NAME = "yichuang-applications"
MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_APPLICATIONS = 500


class IntakeError(UserError, ValueError):
    """An application written wrongly (the message names what and where, in Chinese)."""


def material_state(spec: Material, word: str, detail: str) -> MaterialState:
    status = _STATE_OF.get(word)
    if status is None:
        raise IntakeError(f"材料 {spec.id} 的状态“{word}”无法识别，可用："
                          + "、".join(f"{s.value}（{w[0]}）" for s, w in STATE_WORDS.items()))
    if status is MaterialStatus.RECEIVED:
        return MaterialState(spec.id, spec.name, status, detail or str(spec.form), spec.copies)
    if status is MaterialStatus.FAULTY:
        if not detail:
            raise IntakeError(f"材料 {spec.id} 标为有误，请写明问题：{spec.id}=误:问题所在")
        return MaterialState(spec.id, spec.name, status, fault=detail)
    if status is MaterialStatus.DEFERRED:
        try:
            until = dt.date.fromisoformat(detail)
        except ValueError:
            raise IntakeError(f"材料 {spec.id} 容缺后补须写补交日期：{spec.id}=容缺:2026-12-05"
                              ) from None
        return MaterialState(spec.id, spec.name, status, deferred_until=until)
    return MaterialState(spec.id, spec.name, status)


def material_states(item: ServiceItem, scenarios: frozenset[str], given: list[str],
                    received_all: bool, before: tuple[MaterialState, ...] = ()
                    ) -> list[MaterialState]:
    """The states ``given`` as ``ID=STATE[:DETAIL]`` over ``before``; ``received_all``
    marks every material not named as received."""
    checklist = {m.id: m for m in item.checklist(scenarios)}
    states = {s.material_id: s for s in before if s.material_id in checklist}
    for text in given:
        mid, sep, rest = text.partition("=")
        if not sep:
            raise IntakeError(f"材料“{text}”应写成 材料编号=状态，如 m1=收")
        spec = checklist.get(mid.strip())
        if spec is None:
            raise IntakeError(f"事项“{item.name}”（在所选办理情形下）没有材料“{mid.strip()}”，可用："
                              + "、".join(f"{m.id} {m.name}" for m in checklist.values()))
        word, _sep, detail = rest.partition(":")
        states[spec.id] = material_state(spec, word.strip(), detail.strip())
    if received_all:
        for spec in checklist.values():
            states.setdefault(spec.id, material_state(spec, "收", ""))
    return [states[mid] for mid in checklist if mid in states]


def decision_of(word: str | None) -> Decision | None:
    if word is None or not word.strip():
        return None
    decision = _DECISION_OF.get(word.strip())
    if decision is None:
        raise IntakeError(f"决定“{word}”无法识别，可用：" + "、".join(
            f"{d.value}（{e}）" for d, e in DECISION_WORDS.items()))
    return decision


def precheck(item: ServiceItem, scenarios: frozenset[str], states: list[MaterialState],
             decision: Decision | None, reason: str, cases: Any = None,
             competent_authority: str = "") -> None:
    """The rules the services will apply, checked before anything is written: an
    application that cannot go all the way leaves no half-made case behind. With
    ``cases`` (the CaseService) also what the notice needs of the site's settings."""
    from app.services.cases import CaseRuleError

    today = dt.date.today()
    checklist = item.checklist(scenarios)
    problems = (check_decision(decision, item.kind, checklist, states, reason, today=today)
                if decision else check_materials(checklist, states, today=today, complete=False))
    if decision and cases is not None:
        problems += cases.notice_problems(item, decision, competent_authority)
    if problems:
        raise CaseRuleError(problems)


def credit_precheck(credit: Any, applicant: Applicant, decision: Decision | None,
                    states: list[MaterialState]) -> None:
    """The 信用核查 rule (no 容缺 or 告知承诺 for a 失信 applicant), before any write."""
    from app.domain.credit import credit_refusal
    from app.services.cases import CaseRuleError
    from app.services.credit import CreditCheckError

    if decision is None:
        return
    try:
        check = credit.check(applicant.id_type, applicant.id_number)
    except CreditCheckError:
        return   # open_case names the bad number along with the applicant's other problems
    problems = credit_refusal(check, decision, states, dt.date.today())
    if problems:
        raise CaseRuleError(problems)


def left_behind(case_numbers: list[str], exc: Exception) -> Exception:
    """What to say when a step after 收件 still failed: the case exists, and its number is
    named so the clerk finds it (``case supplement``) instead of opening it again."""
    from app.services.cases import CaseRuleError

    return CaseRuleError([f"已收件（办件编号 {'、'.join(case_numbers)}，状态 收件中），但未能继续："
                          f"{exc}；请用 case supplement 办件编号 继续办理。"])


# ---- a batch collected offline -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    index: int                   # 1-based, as the agent counts them
    applicant: str
    ok: bool
    message: str
    case_numbers: tuple[str, ...] = ()


@dataclass
class BatchReport:
    collected_by: str = ""
    outcomes: list[BatchOutcome] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return sum(1 for o in self.outcomes if not o.ok)


def read_batch(path: Path) -> dict[str, Any]:
    """The batch file, read and shape-checked (IntakeError naming what is wrong)."""
    from app.services.calendar import ReferenceFileRefused, read_reference_file

    try:
        data = read_reference_file(path, max_bytes=MAX_FILE_BYTES, what="申请批量文件")
    except ReferenceFileRefused as exc:
        raise IntakeError(str(exc)) from None
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise IntakeError(f"{path} 不是 UTF-8 编码的文本文件") from None
    except json.JSONDecodeError as exc:
        raise IntakeError(f"{path} 不是有效的 JSON（第{exc.lineno}行第{exc.colno}列）") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT_NAME:
        raise IntakeError(f"{path} 不是申请批量文件（format 应为 {FORMAT_NAME}）")
    if doc.get("format_version") != 1:
        raise IntakeError(f"{path} 的 format_version 应为 1")
    apps = doc.get("applications")
    if not isinstance(apps, list) or not apps:
        raise IntakeError(f"{path} 中没有 applications")
    if len(apps) > MAX_APPLICATIONS:
        raise IntakeError(f"一个批量文件最多 {MAX_APPLICATIONS} 件申请（现有 {len(apps)} 件）")
    return doc


def _text(d: dict[str, Any], key: str, where: str, *, required: bool = False) -> str:
    value = d.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise IntakeError(f"{where}的 {key} 应为文本")
    if required and not value.strip():
        raise IntakeError(f"{where}缺少 {key}")
    return value.strip()


def applicant_of(d: Any, where: str) -> Applicant:
    if not isinstance(d, dict):
        raise IntakeError(f"{where}缺少 applicant")
    kind = ApplicantKind(d["kind"]) if d.get("kind") in {str(k) for k in ApplicantKind} else (
        ApplicantKind.ORGANISATION if d.get("kind") == "org" else ApplicantKind.PERSON)
    default = IdType.USCC if kind is ApplicantKind.ORGANISATION else IdType.RESIDENT_ID
    id_type = _text(d, "id_type", where) or str(default)
    if id_type not in {str(t) for t in IdType}:
        raise IntakeError(f"{where}的证件类型“{id_type}”无法识别")
    return Applicant(kind, _text(d, "name", where, required=True), IdType(id_type),
                     _text(d, "id_number", where, required=True), _text(d, "phone", where),
                     _text(d, "address", where), _text(d, "legal_representative", where))


def agent_of(d: Any, where: str) -> Agent | None:
    if d is None:
        return None
    if not isinstance(d, dict):
        raise IntakeError(f"{where}的 agent 应为一个对象")
    id_type = _text(d, "id_type", where) or str(IdType.RESIDENT_ID)
    if id_type not in {str(t) for t in IdType}:
        raise IntakeError(f"{where}代理人的证件类型“{id_type}”无法识别")
    return Agent(_text(d, "name", where, required=True), IdType(id_type),
                 _text(d, "id_number", where, required=True), _text(d, "phone", where),
                 _text(d, "relation", where), bool(d.get("village_agent", False)))


def run_batch(ws: Any, doc: dict[str, Any], clerk: Clerk) -> BatchReport:
    """Every application of ``doc`` through the case services, each on its own."""
    from app.services.cases import CaseRuleError
    from app.services.catalogue import NotFound

    report = BatchReport(collected_by=str(doc.get("collected_by", "")))
    common_agent = doc.get("agent")
    for n, app in enumerate(doc["applications"], 1):
        where = f"第{n}件申请"
        who = app.get("applicant") if isinstance(app, dict) else None
        name = str(who.get("name", "")) if isinstance(who, dict) else ""
        try:
            if not isinstance(app, dict):
                raise IntakeError(f"{where}应为一个对象")
            numbers = _one(ws, app, common_agent, clerk, where)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            # Garbage inside one application fails that application, not the batch.
            if isinstance(exc, UserError):
                report.outcomes.append(BatchOutcome(n, name, False, f"{where}（{name}）：{exc}"))
            else:
                report.outcomes.append(BatchOutcome(
                    n, name, False, f"{where}（{name}）：内容无法识别（{type(exc).__name__}: {exc}）"))
        except (UserError, NotFound, CaseRuleError) as exc:
            report.outcomes.append(BatchOutcome(n, name, False, f"{where}（{name}）：{exc}"))
        else:
            report.outcomes.append(BatchOutcome(n, name, True, f"{where}（{name}）：已收件",
                                                numbers))
    return report


def _one(ws: Any, app: dict[str, Any], common_agent: Any, clerk: Clerk, where: str
         ) -> tuple[str, ...]:
    item = ws.catalogue.item(_text(app, "item", where, required=True))
    raw = app.get("scenarios") or []
    if not isinstance(raw, list) or not all(isinstance(s, str) for s in raw):
        raise IntakeError(f"{where}的 scenarios 应为办理情形编号的列表，如 [\"s1\"]")
    scenarios = frozenset(raw)
    unknown = scenarios - {s.id for s in item.scenarios}
    if unknown:
        raise IntakeError(f"{where}：事项“{item.name}”没有办理情形“{'、'.join(sorted(unknown))}”")
    given = app.get("materials") or []
    if isinstance(given, dict):
        given = [f"{k}={v}" for k, v in given.items()]
    if not isinstance(given, list) or not all(isinstance(g, str) for g in given):
        raise IntakeError(f"{where}的 materials 应为 [\"m1=收\", …]")
    states = material_states(item, scenarios, given, bool(app.get("received_all", False)))
    decision = decision_of(_text(app, "decision", where))
    reason = _text(app, "reason", where)
    applicant = applicant_of(app.get("applicant"), where)
    agent = agent_of(app.get("agent", common_agent), where)
    competent = _text(app, "competent_authority", where)
    precheck(item, scenarios, states, decision, reason, ws.cases, competent)
    credit_precheck(ws.credit, applicant, decision, states)
    case = ws.cases.open_case(item.code, applicant, clerk, agent=agent)
    try:
        if states or scenarios:
            case = ws.cases.record_materials(case.id, states, clerk, scenario_ids=scenarios)
        if decision:
            case = ws.cases.decide(case.id, decision, clerk, reason=reason,
                                   competent_authority=competent)
    except UserError as exc:
        raise left_behind([case.number], exc) from exc
    return (case.number,)
