"""咨询登记: enquiries answered at the window that open no case.

首问负责制 asks that every enquiry be logged, case or not: who asked about what, the
question and the answer in a sentence each, and who answered where and when. The log is
its own table, not the case event log: an enquiry has no lifecycle and nothing follows
from it. Each entry is one write transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from app.documents.masking import mask_id
from app.domain.case import Clerk, IdType, normalise_identity
from app.domain.identity import IdentityError, check_phone
from app.domain.text_checks import forbidden_character
from app.errors import UserError
from app.services.catalogue import CatalogueService, NotFound
from app.services.permissions import Action, require
from app.storage.db import Database
from app.storage.models import ConsultationRow

MAX_NAME, MAX_QUESTION, MAX_ANSWER = 100, 200, 500
MAX_ROWS = 1000


class ConsultationError(UserError, ValueError):
    """The entry breaks a rule; ``problems`` lists every reason, in Chinese."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("；".join(self.problems))


@dataclass(frozen=True, slots=True)
class Enquiry:
    """What the clerk types: who asks, about which item (optional), what, and the answer."""

    name: str
    question: str
    answer: str = ""
    item_code: str = ""        # an item or a 一件事 bundle
    phone: str = ""
    id_type: IdType = IdType.RESIDENT_ID
    id_number: str = ""


@dataclass(frozen=True, slots=True)
class Consultation:
    """One logged enquiry."""

    id: int
    at: dt.datetime            # local time
    site: str
    window: str
    clerk_name: str
    name: str
    phone: str
    id_type: str
    id_number: str
    item_code: str
    item_name: str
    question: str
    answer: str
    checklist: bool            # a 一次性告知单 was given

    @property
    def masked_id(self) -> str:
        """The number as listings show it: enough to recognise, not to reuse."""
        return mask_id(self.id_number)


class ConsultationService:
    def __init__(self, db: Database, catalogue: CatalogueService) -> None:
        self._db = db
        self._catalogue = catalogue

    def _item_name(self, code: str) -> str:
        try:
            return self._catalogue.item(code).name
        except NotFound:
            try:
                return self._catalogue.bundle(code).name
            except NotFound:
                raise ConsultationError([f"目录中没有编码为“{code}”的事项或一件事。"]) from None

    def _checked(self, e: Enquiry, today: dt.date) -> tuple[Enquiry, str]:
        problems = []
        texts = (("姓名", e.name.strip(), MAX_NAME, True),
                 ("咨询问题", e.question.strip(), MAX_QUESTION, True),
                 ("答复", e.answer.strip(), MAX_ANSWER, False))
        for label, value, limit, required in texts:
            if required and not value:
                problems.append(f"请填写{label}。")
            elif len(value) > limit:
                problems.append(f"{label}超过{limit}字，请简要记录（一句话）。")
            bad = forbidden_character(value)
            if bad:
                problems.append(f"{label}中有不可见的控制字符（{bad}），请删除后重新输入。")
        phone = number = ""
        if e.phone.strip():
            try:
                phone = check_phone(e.phone)
            except IdentityError as exc:
                problems.append(f"电话：{exc}")
        if e.id_number.strip():
            try:
                number = normalise_identity(e.id_type, e.id_number, today=today)
            except IdentityError as exc:
                problems.append(f"证件：{exc}")
        item_name = ""
        if e.item_code.strip():
            try:
                item_name = self._item_name(e.item_code.strip())
            except ConsultationError as exc:
                problems += exc.problems
        if problems:
            raise ConsultationError(problems)
        return Enquiry(e.name.strip(), e.question.strip(), e.answer.strip(),
                       e.item_code.strip(), phone, e.id_type, number), item_name

    def add(self, enquiry: Enquiry, clerk: Clerk, *, checklist: bool = False) -> Consultation:
        """Log one enquiry (one transaction); ConsultationError lists every problem."""
        require(clerk.role, Action.WRITE_CASES)
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        local = now.astimezone().replace(tzinfo=None)
        e, item_name = self._checked(enquiry, local.date())
        row = ConsultationRow(
            at=now.replace(tzinfo=None), day=local.date(), site=clerk.site,
            terminal=clerk.terminal, window=clerk.window, clerk_id=clerk.clerk_id,
            clerk_name=clerk.clerk_name, name=e.name, phone=e.phone,
            id_type=str(e.id_type) if e.id_number else "", id_number=e.id_number,
            item_code=e.item_code, item_name=item_name, question=e.question,
            answer=e.answer, checklist=checklist)
        with self._db.write() as session:
            session.add(row)
            session.flush()
            return _consultation(row)

    def find(self, *, day: dt.date | None = None, item_code: str = "",
             limit: int = 200) -> list[Consultation]:
        """Newest first; ``day`` is a local day, ``item_code`` an item or bundle code."""
        stmt = select(ConsultationRow)
        if day is not None:
            stmt = stmt.where(ConsultationRow.day == day)
        if item_code.strip():
            stmt = stmt.where(ConsultationRow.item_code == item_code.strip())
        stmt = stmt.order_by(ConsultationRow.id.desc()).limit(max(1, min(limit, MAX_ROWS)))
        with self._db.read() as session:
            return [_consultation(r) for r in session.scalars(stmt)]


def _consultation(row: ConsultationRow) -> Consultation:
    at = row.at.replace(tzinfo=dt.UTC).astimezone().replace(tzinfo=None)
    return Consultation(row.id, at, row.site, row.window, row.clerk_name, row.name,
                        row.phone, row.id_type, row.id_number, row.item_code, row.item_name,
                        row.question, row.answer, row.checklist)
