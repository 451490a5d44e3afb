"""Attacks on 出件 (pickup) and its 送达回证, each found by a review and fixed since."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from app.documents.form import DocumentKind as K
from app.domain.case import Agent, CaseStatus, Decision, IdType
from app.domain.pickup import Delivery, DeliveryMethod
from app.services.cases import CaseRuleError
from app.workstation import Workstation
from tests.app.test_documents import GETI, applicant, clerk, pdf_text, received, squash
from tests.app.test_pickup import PROXY_ID, done


def spaced(number: str) -> str:
    return f"{number[:6]} {number[6:14]} {number[14:]}"


def test_a_proxy_whose_id_is_the_applicants_own_with_spaces_is_refused(
        fresh_ws: Workstation) -> None:
    case_id = done(fresh_ws)
    own = applicant().id_number
    # The "proxy" is the applicant, typed with spaces: accepted today, and the recorded
    # proxy ID (normalised) equals the applicant's.
    with pytest.raises(CaseRuleError, match="代领人就是申请人本人"):
        fresh_ws.pickup.deliver(case_id, Delivery(DeliveryMethod.PROXY, "王小明",
                                                 id_number=spaced(own), proxy_letter=True),
                               clerk(fresh_ws))


def test_the_applicant_in_person_with_spaces_in_the_id_is_recognised(
        fresh_ws: Workstation) -> None:
    case_id = done(fresh_ws)
    after = fresh_ws.pickup.deliver(case_id, Delivery(
        DeliveryMethod.IN_PERSON, "王小明", id_number=spaced(applicant().id_number)),
        clerk(fresh_ws))
    assert after.status is CaseStatus.DELIVERED


@pytest.mark.parametrize("field", ["carrier", "tracking", "relation"])
def test_control_characters_in_delivery_fields_are_refused(fresh_ws: Workstation,
                                                           field: str) -> None:
    case_id = done(fresh_ws)
    base = dict(carrier="EMS", tracking="1187654321098", address="城关镇解放路1号") \
        if field != "relation" else dict(id_number=PROXY_ID, proxy_letter=True)
    method = DeliveryMethod.PROXY if field == "relation" else DeliveryMethod.MAIL
    base[field] = "EMS\x1b[2J\u202e伪造" if field != "tracking" else "11876\n54321098\u202e"
    with pytest.raises(CaseRuleError, match="控制字符"):
        fresh_ws.pickup.deliver(case_id, Delivery(method, "李四", **base), clerk(fresh_ws))


def test_service_receipt_does_not_claim_a_letter_that_was_not_seen(
        fresh_ws: Workstation, tmp_path: Path) -> None:
    c = clerk(fresh_ws)
    agent = Agent("李代办", IdType.RESIDENT_ID, PROXY_ID, village_agent=True)
    filed = fresh_ws.cases.open_case(GETI, applicant(), c, agent=agent)
    fresh_ws.cases.record_materials(filed.id, received(fresh_ws, GETI), c)
    fresh_ws.cases.decide(filed.id, Decision.ON_THE_SPOT, c)
    fresh_ws.pickup.deliver(filed.id, Delivery(DeliveryMethod.PROXY, "李代办",
                                               id_number=PROXY_ID, proxy_letter=False), c)
    doc = fresh_ws.documents.render_case_document(K.SERVICE, filed.number, c)
    text = squash(pdf_text(doc.pdf, tmp_path))
    assert "持申请人授权委托书代领" not in text, "no letter was seen (filing agent)"


def test_service_receipt_names_a_mail_recipient_other_than_the_applicant(
        fresh_ws: Workstation, tmp_path: Path) -> None:
    case_id = done(fresh_ws)
    fresh_ws.pickup.deliver(case_id, Delivery(DeliveryMethod.MAIL, "赵收件", carrier="EMS",
                                             tracking="1187654321098",
                                             address="城关镇解放路1号"), clerk(fresh_ws))
    number = fresh_ws.cases.get(case_id).number
    doc = fresh_ws.documents.render_case_document(K.SERVICE, number, clerk(fresh_ws))
    assert "赵收件" in squash(pdf_text(doc.pdf, tmp_path))


def test_service_receipt_printed_twice_after_delivery_states_the_same(
        fresh_ws: Workstation, tmp_path: Path) -> None:
    case_id = done(fresh_ws)
    fresh_ws.pickup.deliver(case_id, Delivery(DeliveryMethod.PROXY, "李四", id_number=PROXY_ID,
                                             proxy_letter=True, relation="兄弟"), clerk(fresh_ws))
    number = fresh_ws.cases.get(case_id).number
    one = squash(pdf_text(fresh_ws.documents.render_case_document(
        K.SERVICE, number, clerk(fresh_ws), reprint=False).pdf, tmp_path))
    assert PROXY_ID not in one and "兄弟" in one
    print(one)


def test_two_deliveries_at_once_only_one_wins(fresh_ws: Workstation) -> None:
    from app.workstation import open_workstation

    case_id = done(fresh_ws)
    home = fresh_ws.settings.data_dir if hasattr(fresh_ws.settings, "data_dir") else None
    if home is None:
        pytest.skip("no data dir")
    results: list[object] = []

    def go(pid: str) -> None:
        ws = open_workstation(home)
        try:
            results.append(ws.pickup.deliver(case_id, Delivery(
                DeliveryMethod.PROXY, "李四", id_number=pid, proxy_letter=True),
                clerk(ws)).status)
        except CaseRuleError as exc:
            results.append(str(exc))
        finally:
            ws.close()

    ts = [threading.Thread(target=go, args=(PROXY_ID,)) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert results.count(CaseStatus.DELIVERED) == 1, results
    assert fresh_ws.integrity.verify().ok
