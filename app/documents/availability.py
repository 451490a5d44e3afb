"""Which documents a case can have printed, as it stands now, and why not the others."""

from __future__ import annotations

from app.documents.form import DocumentKind
from app.domain.case import CaseState, CaseStatus, Decision

_ACCEPTED = (Decision.ACCEPT, Decision.ACCEPT_DEFERRED, Decision.ON_THE_SPOT)
_DONE = (CaseStatus.COMPLETED, CaseStatus.DELIVERED)


def kinds_for(case: CaseState) -> list[DocumentKind]:
    """The case documents that make sense for the case as it stands now."""
    kinds = [DocumentKind.RECEIPT]
    if case.decision in _ACCEPTED:
        kinds.append(DocumentKind.DEFERRED if case.decision is Decision.ACCEPT_DEFERRED
                     else DocumentKind.ACCEPTANCE)
        kinds += [DocumentKind.PICKUP, DocumentKind.PICKUP_SLIP]
        if case.status in _DONE:
            kinds.append(DocumentKind.SERVICE)
    elif case.decision is Decision.CORRECTION:
        # The 送达回证 proves the notice reached the applicant (its 补正期限 runs from it).
        kinds += [DocumentKind.CORRECTION, DocumentKind.SERVICE]
    elif case.decision is Decision.REJECT:
        kinds += [DocumentKind.REJECTION, DocumentKind.SERVICE]
    return kinds


WHY_NOT = {
    DocumentKind.ACCEPTANCE: "尚未受理",
    DocumentKind.DEFERRED: "不是容缺受理",
    DocumentKind.CORRECTION: "未作出补正决定",
    DocumentKind.REJECTION: "未作出不予受理决定",
    DocumentKind.PICKUP: "尚未受理",
    DocumentKind.PICKUP_SLIP: "尚未受理",
    DocumentKind.SERVICE: "尚未办结",
}
