"""Who applies, as the case service takes them in: names without control characters,
ID numbers checked by their type however the type arrives, and the clock a deferral runs
from. Helpers are those of test_cases."""

from __future__ import annotations

from dataclasses import replace

import pytest

from app.domain.case import (
    Applicant,
    ApplicantKind,
    Decision,
    IdType,
    MaterialState,
    MaterialStatus,
)
from app.domain.checksum import mod11_2
from app.services.cases import CaseRuleError
from app.workstation import Workstation
from tests.app.test_cases import APPLICANT, FOOD, GETI, D, clerk


def test_control_characters_never_reach_a_stored_name(module_ws: Workstation) -> None:
    c = clerk(module_ws)
    for name in ("王\u0000小明", "王小明\u202e", "王\u0007明"):
        with pytest.raises(CaseRuleError, match="控制字符"):
            module_ws.cases.open_case(GETI, replace(APPLICANT, name=name), c,
                                      today=D("2026-11-23"))


def test_a_hmt_residence_permit_number_has_its_check_digit_verified(
        module_ws: Workstation) -> None:
    body = "81000019800101001"
    good = replace(APPLICANT, id_type=IdType.HMT_RESIDENCE, id_number=body + mod11_2(body))
    case = module_ws.cases.open_case(GETI, good, clerk(module_ws), today=D("2026-11-23"))
    assert case.applicant.id_number == good.id_number
    wrong = "0" if mod11_2(body) != "0" else "1"
    with pytest.raises(CaseRuleError, match="校验"):
        module_ws.cases.open_case(GETI, replace(good, id_number=body + wrong), clerk(module_ws),
                                  today=D("2026-11-23"))


def test_the_promised_period_of_a_deferred_acceptance_runs_from_the_last_deadline() -> None:
    from app.domain.case import clock_start

    day = D("2026-11-17")
    later = [MaterialState("a", "甲", MaterialStatus.DEFERRED, deferred_until=D("2026-11-20")),
             MaterialState("b", "乙", MaterialStatus.DEFERRED, deferred_until=D("2026-11-24")),
             MaterialState("c", "丙", MaterialStatus.RECEIVED)]
    assert clock_start(Decision.ACCEPT_DEFERRED, day, later) == D("2026-11-24")
    assert clock_start(Decision.ACCEPT, day, later) == day
    assert clock_start(Decision.ACCEPT_DEFERRED, day, later[2:]) == day


def test_an_id_type_given_as_plain_text_still_gets_its_check_digit_checked(
        fresh_ws: Workstation) -> None:
    # A form's drop-down or a JSON file gives "居民身份证", not IdType.RESIDENT_ID: compared
    # by identity it used to fall through to the 5-32 characters rule.
    from dataclasses import replace as swap

    bad = swap(Applicant(ApplicantKind.PERSON, "王小明", IdType.RESIDENT_ID,
                         "330102198001010027"), id_type="居民身份证", kind="自然人")  # type: ignore[arg-type]
    with pytest.raises(CaseRuleError, match="校验"):
        fresh_ws.cases.open_case(FOOD, bad, clerk(fresh_ws))
    good = swap(bad, id_number="330102198001010026")
    case = fresh_ws.cases.open_case(FOOD, good, clerk(fresh_ws))
    assert case.applicant.id_type is IdType.RESIDENT_ID
