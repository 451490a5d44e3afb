"""Case use cases at the window: open (收件), record materials, decide.

Each call is one write transaction: the event, the projection and the outbox op commit
together (see :mod:`app.storage.case_log`). Results are plain :class:`CaseState` values.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.acceptance import check_decision, check_materials, repeat_correction
from app.domain.calendar import CalendarNotCovered, estimate_promised_date
from app.domain.case import (
    Agent,
    Applicant,
    ApplicantKind,
    CaseEventKind,
    CaseState,
    CaseStatus,
    CaseTransitionError,
    Clerk,
    Decision,
    IdType,
    MaterialState,
    agent_to_json,
    applicant_to_json,
    apply_event,
    check_transition,
    clock_start,
    material_state_to_json,
)
from app.domain.case import normalise_identity as normalise_identity  # its long-time home
from app.domain.case_pages import all_hashes
from app.domain.catalogue import ServiceItem, TimeLimit
from app.domain.credit import CreditCheck, credit_refusal
from app.domain.identity import IdentityError, check_phone
from app.domain.notice import (
    NoticeConfigError,
    NoticeFacts,
    NoticeSettings,
    RejectionGround,
    document_number,
    frame_notice,
)
from app.domain.numbering import CaseNumber, CaseNumberError
from app.domain.text_checks import forbidden_character
from app.errors import UserError
from app.notifications import changes_of
from app.services.calendar import CalendarService
from app.services.catalogue import CatalogueService, NotFound
from app.services.credit import CreditService
from app.services.integrity import IntegrityService
from app.services.permissions import Action, require
from app.storage.case_log import (
    IssuedDocumentNumber,
    append_event,
    latest_event,
    next_case_number,
    next_document_number,
    state_from_row,
    utc_now_iso,
    write_projection,
)
from app.storage.db import Database
from app.storage.models import CaseEventRow, CaseRow


class CaseRuleError(UserError, ValueError):
    """The request breaks a rule; ``problems`` lists every reason, in Chinese."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("；".join(self.problems))


@dataclass(frozen=True, slots=True)
class EventFacts:
    """What a document takes from the event it states."""

    hash: str
    at: dt.datetime        # local time
    clerk_name: str
    window: str
    notice: NoticeFacts | None = None   # a decision's legal frame (None before it existed)


class CaseService:
    def __init__(self, db: Database, catalogue: CatalogueService,
                 calendar: CalendarService, integrity: IntegrityService, *,
                 refused_site: str | None = None,
                 notices: NoticeSettings | None = None,
                 credit: CreditService | None = None) -> None:
        self._db = db
        self._credit = credit or CreditService(db)
        # The site's legal frame (seal, authorities, 补正期限): frozen into each decision.
        self.notices = notices or NoticeSettings("")
        self._integrity = integrity
        self._catalogue = catalogue
        self._calendar = calendar
        # A site code cases must not be numbered under (the demo code on a networked
        # install: its numbers would collide with every other unconfigured site).
        self._refused_site = refused_site

    def _checked_applicant(self, a: Applicant, today: dt.date) -> Applicant:
        try:   # plain strings from a form or a file become the enums the rules compare
            a = replace(a, kind=ApplicantKind(a.kind), id_type=IdType(a.id_type))
        except ValueError as exc:
            raise CaseRuleError([f"申请人类型或证件类型无法识别：{exc}"]) from exc
        problems = []
        if not a.name.strip():
            problems.append("请填写申请人姓名或名称。")
        for label, value in (("申请人姓名", a.name), ("地址", a.address),
                             ("法定代表人", a.legal_representative)):
            bad = forbidden_character(value)
            if bad:
                problems.append(f"{label}中有不可见的控制字符（{bad}），请删除后重新输入。")
        number = a.id_number
        try:
            number = normalise_identity(a.id_type, a.id_number, today=today)
        except IdentityError as exc:
            problems.append(f"申请人证件：{exc}")
        phone = a.phone
        if a.phone.strip():
            try:
                phone = check_phone(a.phone)
            except IdentityError as exc:
                problems.append(f"申请人电话：{exc}")
        if problems:
            raise CaseRuleError(problems)
        return replace(a, name=a.name.strip(), id_number=number, phone=phone)

    def _checked_agent(self, a: Agent, today: dt.date) -> Agent:
        try:
            a = replace(a, id_type=IdType(a.id_type))
        except ValueError as exc:
            raise CaseRuleError([f"代理人证件类型无法识别：{exc}"]) from exc
        try:
            number = normalise_identity(a.id_type, a.id_number, today=today)
        except IdentityError as exc:
            raise CaseRuleError([f"代理人证件：{exc}"]) from exc
        if not a.name.strip():
            raise CaseRuleError(["请填写代理人姓名。"])
        bad = forbidden_character(a.name) or forbidden_character(a.relation)
        if bad:
            raise CaseRuleError([f"代理人信息中有不可见的控制字符（{bad}），请删除后重新输入。"])
        return replace(a, name=a.name.strip(), id_number=number)

    def open_case(self, item_code: str, applicant: Applicant, clerk: Clerk, *,
                  agent: Agent | None = None, queue_ticket: str = "",
                  today: dt.date | None = None) -> CaseState:
        """收件: give the case its final number and record who applies for what.

        The applicant's 信用核查 is done here and frozen in the OPENED event (see
        :meth:`credit_facts`): whether 容缺 or 告知承诺 may be offered is then known from
        the log, with the list version and its age, however the list changes later.
        """
        return self._open(([item_code], ""), applicant, clerk, agent, queue_ticket, today)[0]

    def open_bundle(self, bundle_code: str, applicant: Applicant, clerk: Clerk, *,
                    agent: Agent | None = None, queue_ticket: str = "",
                    today: dt.date | None = None) -> list[CaseState]:
        """一件事一次办: one case per item of the bundle, opened together in one
        transaction; every case carries the bundle's code and the first case's id as
        its parent, so the window and the county see them as one application."""
        try:
            bundle = self._catalogue.bundle(bundle_code)
        except NotFound as exc:
            raise CaseRuleError([str(exc)]) from exc
        return self._open((list(bundle.item_codes), bundle.code), applicant, clerk, agent,
                          queue_ticket, today)

    def _open(self, what: tuple[list[str], str], applicant: Applicant, clerk: Clerk,
              agent: Agent | None, queue_ticket: str, today: dt.date | None
              ) -> list[CaseState]:
        today = today or dt.date.today()
        require(clerk.role, Action.WRITE_CASES)
        if self._refused_site is not None and clerk.site == self._refused_site:
            raise CaseRuleError([f"本机仍使用演示站点编码{clerk.site}，联网时不能受理（办件编号会与"
                                 "其他站点重复）：请管理员在 settings.toml 的 [site] code 中"
                                 "填写本站点编码。"])
        codes, bundle_code = what
        items = []
        for code in codes:
            try:
                item = self._catalogue.item(code)
            except NotFound as exc:
                raise CaseRuleError([str(exc)]) from exc
            if item.is_withdrawn(today):
                raise CaseRuleError([f"事项“{item.name}”已于{item.withdrawn_at}停止办理。"])
            items.append(item)
        applicant = self._checked_applicant(applicant, today)
        agent = self._checked_agent(agent, today) if agent else None
        covered = self._calendar.calendar().covered_years
        states, events, numbers = [], [], []
        with self._db.write() as session:
            # A clock set back (or far off) would issue "final" numbers out of order.
            clock = self._integrity.clock_problem(covered)
            if clock:
                raise CaseRuleError([clock])
            credit = self._credit.check_in(session, applicant.id_type, applicant.id_number,
                                           today)
            parent = ""
            for item in items:
                state, event, number = self._open_in(
                    session, item, applicant, agent, clerk, today, queue_ticket,
                    bundle_code, parent, credit.to_json())
                parent = parent or (state.id if bundle_code else "")
                states.append(state)
                events.append(event)
                numbers.append(number)
        self._integrity.witness.record(events=events, numbers=numbers)
        for state in states:
            changes_of(self._db).case_changed(state.id)
        return states

    def _open_in(self, session: Session, item: ServiceItem, applicant: Applicant,
                 agent: Agent | None, clerk: Clerk, today: dt.date, queue_ticket: str,
                 bundle_code: str, parent_id: str, credit: dict[str, Any]
                 ) -> tuple[CaseState, CaseEventRow, CaseNumber]:
        """One case opened inside the caller's write transaction."""
        case_id = str(uuid.uuid4())
        number = next_case_number(session, clerk.site, clerk.terminal, today)
        occurred = utc_now_iso()
        opened_at = dt.datetime.fromisoformat(occurred).replace(tzinfo=None)
        state = CaseState(
            id=case_id, number=str(number), status=CaseStatus.RECEIVING,
            item_code=item.code, item_version=item.version, item_name=item.name,
            applicant=applicant, site=clerk.site, terminal=clerk.terminal,
            window=clerk.window, clerk_id=clerk.clerk_id, opened_at=opened_at,
            agent=agent, bundle_code=bundle_code, parent_id=parent_id,
            queue_ticket=queue_ticket, version=1)
        row = CaseRow(id=case_id)
        write_projection(row, state)
        session.add(row)
        session.flush()
        event = append_event(session, case_id, 1, CaseEventKind.OPENED, {
            "number": state.number, "item_code": item.code,
            "item_version": item.version, "item_name": item.name,
            "applicant": applicant_to_json(applicant), "agent": agent_to_json(agent),
            "bundle_code": state.bundle_code, "parent_id": state.parent_id,
            "queue_ticket": queue_ticket, "opened_on": today.isoformat(),
            "credit": credit,
        }, clerk, base_version=0, occurred_at=occurred)
        return state, event, number

    def change(self, case_id: str, kind: CaseEventKind, clerk: Clerk,
               build: Callable[[CaseState, Session], dict[str, Any]], *,
               docnos: Sequence[IssuedDocumentNumber] = ()) -> CaseState:
        """Load, check and change a case in one write transaction: the one way a case
        changes after it is opened (the pickup desk uses it too).

        ``build`` sees the case as it is under the write lock and returns the event
        payload (or raises CaseRuleError), so no other write can slip in between the
        checks and the change.
        """
        require(clerk.role, Action.WRITE_CASES)
        with self._db.write() as session:
            row = session.get(CaseRow, case_id)
            if row is None:
                raise CaseRuleError([f"没有办件“{case_id}”。"])
            before = state_from_row(row)
            try:
                check_transition(before, kind)
                payload = build(before, session)
                after = apply_event(before, kind, payload)
            except CaseTransitionError as exc:
                raise CaseRuleError([str(exc)]) from exc
            # Pages the event brings in: sync uploads their blobs before it.
            new_pages = sorted(all_hashes(after.pages) - all_hashes(before.pages))
            event = append_event(session, case_id, after.version, kind, payload, clerk,
                                 base_version=before.version, blob_refs=new_pages)
            write_projection(row, after)
        # ``docnos`` is filled by ``build`` inside the transaction that just committed.
        self._integrity.witness.record(events=[event], docnos=docnos)
        changes_of(self._db).case_changed(case_id)
        return after

    def record_materials(self, case_id: str, states: Sequence[MaterialState], clerk: Clerk,
                         *, scenario_ids: frozenset[str] | None = None,
                         today: dt.date | None = None) -> CaseState:
        """收件: the state of each material, under the 办理情形 that apply to the applicant.

        ``scenario_ids`` None keeps the scenarios already recorded for the case.
        """
        day = today or dt.date.today()

        def build(case: CaseState, _session: Session) -> dict[str, Any]:
            item = self._catalogue.item_version(case.item_code, case.item_version)
            chosen = frozenset(case.scenarios) if scenario_ids is None else scenario_ids
            unknown = chosen - {s.id for s in item.scenarios}
            if unknown:
                raise CaseRuleError([f"事项“{item.name}”没有办理情形“{s}”。"
                                     for s in sorted(unknown)])
            problems = check_materials(item.checklist(chosen), states, today=day,
                                       complete=False)
            if problems:
                raise CaseRuleError(problems)
            return {"materials": [material_state_to_json(s) for s in states],
                    "scenarios": sorted(chosen)}

        return self.change(case_id, CaseEventKind.MATERIALS_RECORDED, clerk, build)

    def decide(self, case_id: str, decision: Decision, clerk: Clerk, *, reason: str = "",
               competent_authority: str = "", ground: RejectionGround | None = None,
               today: dt.date | None = None) -> CaseState:
        """受理 / 容缺受理 / 补正 / 不予受理 / 即办, with the promised date for acceptances.

        When the working calendar does not cover the deadline's year the acceptance still
        goes ahead — the applicant is at the window — with the Monday-Friday estimate,
        marked ``promised_estimated`` so the clerk and every printout show it as such.

        The decision's notice facts (issuing authority, seal, legal basis, 文号, 补正期限,
        remedy) are worked out here and frozen in the event: every print renders them.
        A 不予受理 names its ground; without one it is "not ours" when another competent
        authority is named, else "不符合受理条件".

        容缺受理 and 告知承诺 are refused for an applicant on the 失信名单, by the check
        the case recorded; if the list was replaced since, the applicant is checked again
        and the new result goes into the DECIDED event (``credit``, ``credit_rechecked``).
        """
        day = today or dt.date.today()
        if decision is Decision.REJECT and ground is None:
            ground = (RejectionGround.NOT_COMPETENT if competent_authority.strip()
                      else RejectionGround.NOT_ELIGIBLE)
        issued: list[IssuedDocumentNumber] = []
        covered = self._calendar.calendar().covered_years

        def build(case: CaseState, session: Session) -> dict[str, Any]:
            item = self._catalogue.item_version(case.item_code, case.item_version)
            problems = check_decision(decision, item.kind,
                                      item.checklist(frozenset(case.scenarios)),
                                      case.materials, reason, today=day)
            problems += repeat_correction(case.decision, decision, reason)
            credit, rechecked = self._credit_at_decision(session, case, day)
            problems += credit_refusal(credit, decision, case.materials, day)
            problems += self.notice_problems(item, decision, competent_authority, ground,
                                             covered)
            if problems:
                raise CaseRuleError(problems)
            frame = frame_notice(item, str(decision), self.notices, ground=ground)
            authority = self.notices.authority(item.department.name, remedy=False)
            try:
                number = next_document_number(session, authority.prefix, day.year,
                                              clerk.site, clerk.terminal)
            except CaseNumberError as exc:
                raise CaseRuleError([str(exc)]) from exc
            issued.append(number)
            correct_by = None
            if decision is Decision.CORRECTION:
                limit = item.correction_limit or self.notices.correction_limit
                correct_by = self._deadline(day, limit)
            frame = replace(frame, correct_by=correct_by, document_number=document_number(
                authority.prefix, day.year, clerk.terminal, number.seq))
            payload: dict[str, Any] = {"decision": str(decision), "reason": reason.strip(),
                                       "competent_authority": competent_authority.strip(),
                                       "notice": frame.to_json()}
            if rechecked and credit is not None:
                payload.update(credit=credit.to_json(), credit_rechecked=True)
            if decision in (Decision.ACCEPT, Decision.ACCEPT_DEFERRED, Decision.ON_THE_SPOT):
                start = clock_start(decision, day, case.materials)
                try:
                    promised = self._calendar.promised_date(start, item.promised_limit)
                    estimated = False
                except CalendarNotCovered:
                    promised = estimate_promised_date(start, item.promised_limit)
                    estimated = True
                payload.update(accepted_on=day.isoformat(), promised_date=promised.isoformat(),
                               promised_estimated=estimated)
            return payload

        state = self.change(case_id, CaseEventKind.DECIDED, clerk, build, docnos=issued)
        return state

    def notice_problems(self, item: ServiceItem, decision: Decision,
                        competent_authority: str = "",
                        ground: RejectionGround | None = None,
                        covered_years: frozenset[int] | None = None) -> list[str]:
        """Why a notice for ``decision`` on ``item`` could not be issued at this site
        (settings, a missing competent authority, the clock); read-only, so a caller
        can ask before it opens a case that would then be left half made."""
        problems = []
        if decision is Decision.REJECT and ground is None:
            ground = (RejectionGround.NOT_COMPETENT if competent_authority.strip()
                      else RejectionGround.NOT_ELIGIBLE)
        if (decision is Decision.REJECT and ground is RejectionGround.NOT_COMPETENT
                and not competent_authority.strip()):
            problems.append("不属于本机关职权的，请写明应向哪个机关申请。")
        try:
            frame_notice(item, str(decision), self.notices, ground=ground)
        except NoticeConfigError as exc:
            problems.append(str(exc))
        # A clock set back would date the notice, and number it, out of order.
        covered = (self._calendar.calendar().covered_years if covered_years is None
                   else covered_years)
        clock = self._integrity.clock_problem(covered)
        if clock:
            problems.append(clock)
        return problems

    def _credit_at_decision(self, session: Session, case: CaseState, day: dt.date
                            ) -> tuple[CreditCheck | None, bool]:
        """The check a decision rests on, and whether it was made afresh just now.

        The recorded one while the list is the one it was made against: a decision is
        reproducible from the log. A case opened before checks were recorded has none;
        it is checked once a list exists.
        """
        recorded = _recorded_credit(session, case.id)
        version, imported = self._credit.current_key(session)
        if recorded is not None and recorded.same_list(version, imported):
            return recorded, False
        if recorded is None and not version:
            return None, False
        return self._credit.check_in(session, case.applicant.id_type,
                                     case.applicant.id_number, day), True

    def credit_facts(self, case_id: str) -> CreditCheck | None:
        """The 信用核查 the case rests on: the latest one its log recorded (at 收件, or a
        re-check at a decision after the list changed); None for a case opened before
        checks were recorded."""
        with self._db.read() as session:
            return _recorded_credit(session, case_id)

    def _deadline(self, start: dt.date, limit: TimeLimit) -> dt.date:
        try:
            return self._calendar.promised_date(start, limit)
        except CalendarNotCovered:
            return estimate_promised_date(start, limit)

    def get(self, case_id: str) -> CaseState:
        with self._db.read() as session:
            row = session.get(CaseRow, case_id)
            if row is None:
                raise CaseRuleError([f"没有办件“{case_id}”。"])
            return state_from_row(row)

    def by_number(self, number: str) -> CaseState:
        with self._db.read() as session:
            row = session.scalars(select(CaseRow).where(CaseRow.number == number.strip())).first()
            if row is None:
                raise CaseRuleError([f"没有编号为“{number}”的办件。"])
            return state_from_row(row)

    def document_facts(self, case_id: str, *, receipt: bool = False) -> EventFacts | None:
        """The event a document of the case states, as the log froze it: its latest
        decision (for the 收件凭证, its latest material record). Every print of one
        document shows these, never the reprinting clerk or the reprint time."""
        kinds = ((CaseEventKind.MATERIALS_RECORDED, CaseEventKind.OPENED,
                  CaseEventKind.DEFERRED_SUPPLIED) if receipt
                 else (CaseEventKind.DECIDED,))
        with self._db.read() as session:
            row = latest_event(session, case_id, kinds)
        if row is None:
            return None
        at = dt.datetime.fromisoformat(row.occurred_at).astimezone().replace(tzinfo=None)
        notice = row.payload.get("notice") if isinstance(row.payload, dict) else None
        return EventFacts(row.hash, at, row.clerk_name, row.window,
                          NoticeFacts.from_json(notice) if notice else None)

    def witness_hash(self, case_id: str, *, receipt: bool = False) -> str:
        facts = self.document_facts(case_id, receipt=receipt)
        return facts.hash if facts else ""

    def verified(self, case_id: str) -> CaseState:
        """The case as its log proves it: CaseIntegrityError if the row disagrees.

        Documents print from this, so a hand-edited ``cases`` row never reaches paper.
        """
        with self._db.read() as session:
            row = session.get(CaseRow, case_id)
            if row is None:
                raise CaseRuleError([f"没有办件“{case_id}”。"])
            self._integrity.check_case(session, case_id)
            return state_from_row(row)


def _recorded_credit(session: Session, case_id: str) -> CreditCheck | None:
    rows = session.scalars(
        select(CaseEventRow).where(
            CaseEventRow.case_id == case_id,
            CaseEventRow.kind.in_([str(CaseEventKind.OPENED), str(CaseEventKind.DECIDED)]))
        .order_by(CaseEventRow.case_seq.desc()))
    for row in rows:
        found = row.payload.get("credit") if isinstance(row.payload, dict) else None
        if found:
            return CreditCheck.from_json(found)
    return None
