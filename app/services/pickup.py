"""出件 at the pickup desk: the result recorded as arrived, then handed over or posted.

Both are case events made through :meth:`CaseService.change`, so they replay and anchor
like every other change; who received the result is checked by
:func:`app.domain.pickup.check_delivery` and kept in the DELIVERED event.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

from sqlalchemy.orm import Session

from app.domain.case import CaseEventKind, CaseState, CaseStatus, Clerk, normalise_identity
from app.domain.identity import IdentityError
from app.domain.pickup import DeliveredFacts, Delivery, DeliveryMethod, check_delivery
from app.domain.text_checks import forbidden_character
from app.services.cases import CaseRuleError, CaseService
from app.storage.case_log import latest_event
from app.storage.db import Database


class PickupDesk:
    def __init__(self, db: Database, cases: CaseService) -> None:
        self._db = db
        self._cases = cases

    def complete(self, case_id: str, clerk: Clerk) -> CaseState:
        """办结 recorded at the window: the department's result has arrived for pickup.

        A networked site hears this from the server (the same STATUS_CHANGED event); a
        township centre offline records it when the result is brought to the window.
        """
        return self._cases.change(case_id, CaseEventKind.STATUS_CHANGED, clerk,
                           lambda _case, _session: {"status": str(CaseStatus.COMPLETED),
                                                    "source": "window"})

    def deliver(self, case_id: str, delivery: Delivery, clerk: Clerk) -> CaseState:
        """出件: the result handed to the applicant or a proxy, or posted (one event)."""

        def build(case: CaseState, _session: Session) -> dict[str, Any]:
            problems = []
            for label, value in (("领取人", delivery.recipient), ("备注", delivery.note),
                                 ("地址", delivery.address), ("快递公司", delivery.carrier),
                                 ("运单号", delivery.tracking), ("关系", delivery.relation)):
                bad = forbidden_character(value)
                if bad:
                    problems.append(f"{label}中有不可见的控制字符（{bad}），请删除后重新输入。")
            given = delivery
            if given.method is DeliveryMethod.IN_PERSON:
                # The applicant in person: recorded under their own name and ID type,
                # whatever a caller filled in.
                given = replace(given, recipient=case.applicant.name,
                                id_type=case.applicant.id_type)
            if given.id_number.strip():
                # Normalised before it is compared: "330102 19800101 002x" is the
                # applicant's own number, whether they come in person or "as a proxy".
                try:
                    given = replace(given, id_number=normalise_identity(
                        given.id_type, given.id_number, today=dt.date.today()))
                except IdentityError as exc:
                    problems.append(f"领取人证件：{exc}")
            problems += check_delivery(case, given)
            if problems:
                raise CaseRuleError(problems)
            return {"delivery": given.to_json()}

        return self._cases.change(case_id, CaseEventKind.DELIVERED, clerk, build)

    def delivery_facts(self, case_id: str) -> DeliveredFacts | None:
        return delivery_facts(self._db, case_id)


def delivery_facts(db: Database, case_id: str) -> DeliveredFacts | None:
    """Who received the result, how and when (None before 出件)."""
    with db.read() as session:
        row = latest_event(session, case_id, (CaseEventKind.DELIVERED,))
    if row is None:
        return None
    at = dt.datetime.fromisoformat(row.occurred_at).astimezone().replace(tzinfo=None)
    return DeliveredFacts(Delivery.from_json(row.payload["delivery"]), at, row.clerk_name)
