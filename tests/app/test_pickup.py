"""出件: the result handed to the applicant or a proxy, or posted — checked and recorded."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.documents.form import DocumentKind as K
from app.domain.case import Agent, CaseStatus, Decision, IdType
from app.domain.pickup import Delivery, DeliveryMethod
from app.services.cases import CaseRuleError
from app.workstation import Workstation
from tests.app.test_documents import (
    FOOD,
    GETI,
    applicant,
    case_with,
    clerk,
    pdf_text,
    received,
    resident_id,
    squash,
)

PROXY_ID = resident_id("33010219700101003")


def done(ws: Workstation) -> str:
    """A 即办 case: completed at the window, waiting to be handed over."""
    return case_with(ws, GETI, Decision.ON_THE_SPOT).id


def test_the_applicant_in_person_must_show_their_own_id(fresh_ws: Workstation) -> None:
    case_id = done(fresh_ws)
    with pytest.raises(CaseRuleError, match="领取人证件号码与申请人不一致"):
        fresh_ws.pickup.deliver(case_id, Delivery(DeliveryMethod.IN_PERSON, "王小明",
                                                 id_number=PROXY_ID), clerk(fresh_ws))
    after = fresh_ws.pickup.deliver(case_id, Delivery(
        DeliveryMethod.IN_PERSON, "王小明", id_number=applicant().id_number), clerk(fresh_ws))
    assert after.status is CaseStatus.DELIVERED
    facts = fresh_ws.pickup.delivery_facts(case_id)
    assert facts is not None and facts.delivery.method is DeliveryMethod.IN_PERSON
    with pytest.raises(CaseRuleError, match="不能重复出件"):
        fresh_ws.pickup.deliver(case_id, Delivery(DeliveryMethod.IN_PERSON, "王小明",
                                                 id_number=applicant().id_number),
                               clerk(fresh_ws))


def test_a_proxy_needs_the_applicants_letter_unless_they_filed_the_case(
        fresh_ws: Workstation) -> None:
    case_id = done(fresh_ws)
    stranger = Delivery(DeliveryMethod.PROXY, "李四", id_number=PROXY_ID)
    with pytest.raises(CaseRuleError, match="查验申请人签署的授权委托书"):
        fresh_ws.pickup.deliver(case_id, stranger, clerk(fresh_ws))
    # The village agent who filed it holds the 委托 already.
    c = clerk(fresh_ws)
    agent = Agent("李代办", IdType.RESIDENT_ID, PROXY_ID, village_agent=True)
    filed = fresh_ws.cases.open_case(GETI, applicant(), c, agent=agent)
    fresh_ws.cases.record_materials(filed.id, received(fresh_ws, GETI), c)
    fresh_ws.cases.decide(filed.id, Decision.ON_THE_SPOT, c)
    after = fresh_ws.pickup.deliver(filed.id, stranger, c)
    assert after.status is CaseStatus.DELIVERED


def test_a_case_not_yet_completed_cannot_be_handed_over(fresh_ws: Workstation) -> None:
    case = case_with(fresh_ws, FOOD, Decision.ACCEPT)
    with pytest.raises(CaseRuleError, match="尚未办结，不能出件"):
        fresh_ws.pickup.deliver(case.id, Delivery(DeliveryMethod.IN_PERSON, "王小明",
                                                 id_number=applicant().id_number),
                               clerk(fresh_ws))
    # The result arrives at the window (offline: recorded there), then it can go out.
    assert fresh_ws.pickup.complete(case.id, clerk(fresh_ws)).status is CaseStatus.COMPLETED
    assert fresh_ws.pickup.deliver(case.id, Delivery(
        DeliveryMethod.IN_PERSON, "王小明", id_number=applicant().id_number),
        clerk(fresh_ws)).status is CaseStatus.DELIVERED
    assert fresh_ws.integrity.verify().ok   # the log replays through both new events


def test_a_posted_result_records_carrier_and_tracking_on_the_service_receipt(
        fresh_ws: Workstation, tmp_path: Path) -> None:
    case_id = done(fresh_ws)
    with pytest.raises(CaseRuleError, match="快递公司和运单号"):
        fresh_ws.pickup.deliver(case_id, Delivery(DeliveryMethod.MAIL, "王小明",
                                                 address="城关镇解放路1号"), clerk(fresh_ws))
    fresh_ws.pickup.deliver(case_id, Delivery(DeliveryMethod.MAIL, "王小明", carrier="中国邮政EMS",
                                             tracking="1187654321098", address="城关镇解放路1号"),
                           clerk(fresh_ws))
    case = fresh_ws.cases.get(case_id)
    doc = fresh_ws.documents.render_case_document(K.SERVICE, case.number, clerk(fresh_ws))
    text = squash(pdf_text(doc.pdf, tmp_path))
    assert "邮寄送达☑" in text and "直接送达□" in text
    assert "中国邮政EMS运单号1187654321098" in text and "城关镇解放路1号" in text
    assert doc.warnings == ()   # ☑ is in the document font


def test_in_person_pickup_is_recorded_under_the_applicants_own_name_and_id_type(
        fresh_ws: Workstation) -> None:
    from dataclasses import replace

    c = clerk(fresh_ws)
    visitor = replace(applicant(), name="JOHN SMITH", id_type=IdType.PASSPORT,
                      id_number="E12345678")
    case = fresh_ws.cases.open_case(GETI, visitor, c)
    fresh_ws.cases.record_materials(case.id, received(fresh_ws, GETI), c)
    fresh_ws.cases.decide(case.id, Decision.ON_THE_SPOT, c)
    # The caller left the recipient and type at their defaults (居民身份证).
    fresh_ws.pickup.deliver(case.id, Delivery(DeliveryMethod.IN_PERSON,
                                              id_number="e12345678"), c)
    facts = fresh_ws.pickup.delivery_facts(case.id)
    assert facts is not None
    got = facts.delivery
    assert (got.recipient, got.id_type, got.id_number) == ("JOHN SMITH", IdType.PASSPORT,
                                                           "E12345678")
