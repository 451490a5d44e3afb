"""``yichuang case``: a clerk's whole job from the command line, checked in the database.

Each command runs as ``python -m app`` in a subprocess as the operator 李四; what it
did is read back through the services (and the event log replayed by the audit).
"""

from __future__ import annotations

import json
from pathlib import Path

from app.domain.case import CaseStatus, Decision, MaterialStatus
from app.domain.checksum import mod11_2
from app.workstation import open_workstation
from tests.cli.conftest import CLERK_NAME, as_clerk, run_cli

FOOD = "11330100MB0000001X4000215001000"      # 食品经营许可（新办）: m1-m7, m7 可容缺
SOCIAL_CARD = "11330100MB0000031C4200101001000"   # 社会保障卡申领: 即办件
BODY = "33010219800101002"
ID = BODY + mod11_2(BODY)


def new_case(home: Path, *extra: str) -> dict[str, object]:
    result = as_clerk(home, "case", "new", FOOD, "--name", "王小明", "--id", ID, "--json",
                      *extra)
    assert result.code == 0, result.err
    data: dict[str, object] = json.loads(result.out)
    return data


def test_a_case_is_opened_received_and_accepted_in_one_command(cli_home: Path) -> None:
    data = new_case(cli_home, "--received-all", "--decide", "受理")
    assert data["status"] == CaseStatus.ACCEPTED and data["decision"] == Decision.ACCEPT
    assert str(data["document_number"]).startswith("城关市监受〔")
    ws = open_workstation(cli_home)
    try:
        case = ws.cases.by_number(str(data["number"]))
        assert case.applicant.name == "王小明" and case.applicant.id_number == ID
        assert {m.status for m in case.materials} == {MaterialStatus.RECEIVED}
        events = ws.cases.document_facts(case.id)
        assert events is not None and events.clerk_name == CLERK_NAME
        assert ws.integrity.verify().ok   # the log replays to exactly this case
    finally:
        ws.close()


def test_a_correction_and_the_return_visit_that_completes_it(cli_home: Path) -> None:
    first = new_case(cli_home, "--received-all", "--material", "m5=缺",
                     "--material", "m1=误:申请书未签字", "--decide", "补正",
                     "--reason", "请带原件核对")
    assert first["status"] == CaseStatus.CORRECTION and first["correct_by"]
    back = as_clerk(cli_home, "case", "supplement", str(first["number"]), "--material", "m5=收",
                    "--material", "m1=收", "--decide", "受理", "--json")
    assert back.code == 0, back.err
    data = json.loads(back.out)
    assert data["status"] == CaseStatus.ACCEPTED
    assert {m["id"]: m["status"] for m in data["materials"]}["m5"] == MaterialStatus.RECEIVED


def test_a_deferred_acceptance_and_the_visit_that_brings_the_deferred_paper(
        cli_home: Path) -> None:
    first = new_case(cli_home, "--received-all", "--material", "m7=容缺:2030-01-04",
                     "--decide", "容缺受理")
    assert first["status"] == CaseStatus.ACCEPTED_DEFERRED
    deciding = as_clerk(cli_home, "case", "supplement", str(first["number"]),
                        "--received-all", "--decide", "受理")
    assert deciding.code == 2 and "不再作受理决定" in deciding.err
    shared = as_clerk(cli_home, "case", "supplement", str(first["number"]), "--material",
                      "m7=共享")
    assert shared.code == 2 and "不是共享获取的材料" in shared.err   # no paper, no source
    back = as_clerk(cli_home, "case", "supplement", str(first["number"]), "--received-all",
                    "--json")
    assert back.code == 0, back.err
    data = json.loads(back.out)
    assert data["status"] == CaseStatus.ACCEPTED
    assert {m["id"]: m["status"] for m in data["materials"]}["m7"] == MaterialStatus.RECEIVED
    again = as_clerk(cli_home, "case", "supplement", str(first["number"]), "--material",
                     "m7=收")
    assert again.code == 2 and "不能再修改收件材料" in again.err


def test_a_rejection_names_its_reason_and_the_competent_authority(cli_home: Path) -> None:
    data = new_case(cli_home, "--decide", "reject", "--reason", "申请经营的是药品零售",
                    "--competent", "示例县药品监督管理部门")
    assert data["status"] == CaseStatus.REJECTED
    shown = as_clerk(cli_home, "case", "show", str(data["number"]))
    assert shown.code == 0, shown.err
    assert "不予受理" in shown.out and "申请经营的是药品零售" in shown.out


def test_a_material_state_that_breaks_a_rule_is_refused_whole(cli_home: Path) -> None:
    # m1 is not deferrable: nothing is decided, and the message names the rule.
    result = as_clerk(cli_home, "case", "new", FOOD, "--name", "王小明", "--id", ID,
                      "--received-all", "--material", "m1=容缺:2030-01-01",
                      "--decide", "容缺受理")
    assert result.code == 2
    assert "不在容缺受理范围内" in result.err and "Traceback" not in result.err
    listed = as_clerk(cli_home, "case", "list", "--json")
    assert json.loads(listed.out) == []   # no half-made case was left behind


def test_a_decision_the_materials_do_not_allow_opens_no_case(cli_home: Path) -> None:
    result = as_clerk(cli_home, "case", "new", FOOD, "--name", "王小明", "--id", ID,
                      "--received-all", "--material", "m5=缺", "--decide", "受理")
    assert result.code == 2 and "应一次性告知补正" in result.err
    assert json.loads(as_clerk(cli_home, "case", "list", "--json").out) == []


def test_bad_words_are_named_before_the_password_is_asked(cli_home: Path) -> None:
    for args, message in (
            (("--material", "m1=收到了"), "状态“收到了”无法识别"),
            (("--material", "m99=收"), "没有材料“m99”"),
            (("--decide", "批准"), "决定“批准”无法识别"),
            (("--scenario", "委托他人代为办理"), "没有办理情形“委托他人代为办理”")):
        result = run_cli(cli_home, "case", "new", FOOD, "--name", "王小明", "--id", ID, *args,
                         "--user", "lisi", "--password-fd", "0", stdin="")
        assert result.code == 2 and message in result.err, (args, result.err)


def test_the_list_shows_todays_cases_and_filters_by_status(cli_home: Path) -> None:
    accepted = new_case(cli_home, "--received-all", "--decide", "受理")
    open_only = new_case(cli_home)
    result = as_clerk(cli_home, "case", "list", "--today", "--json")
    assert result.code == 0, result.err
    numbers = [r["number"] for r in json.loads(result.out)]
    assert numbers == [open_only["number"], accepted["number"]]   # newest first
    result = as_clerk(cli_home, "case", "list", "--status", "已受理", "--json")
    assert [r["number"] for r in json.loads(result.out)] == [accepted["number"]]
    bad = as_clerk(cli_home, "case", "list", "--status", "办完了")
    assert bad.code == 2 and "--status 可用" in bad.err


def test_an_on_the_spot_item_is_done_in_one_step(cli_home: Path) -> None:
    result = as_clerk(cli_home, "case", "new", SOCIAL_CARD, "--name", "王小明", "--id", ID,
                      "--received-all", "--decide", "即办", "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["status"] == CaseStatus.COMPLETED


def test_reading_cases_needs_an_operator(cli_home: Path) -> None:
    result = run_cli(cli_home, "case", "list")
    assert result.code == 2 and "--user" in result.err


def test_the_result_is_completed_and_handed_to_a_proxy_with_the_letter(cli_home: Path) -> None:
    data = new_case(cli_home, "--received-all", "--decide", "受理")
    number = str(data["number"])
    early = as_clerk(cli_home, "case", "deliver", number, "--in-person", "--id", ID)
    assert early.code == 2 and "尚未办结" in early.err
    assert as_clerk(cli_home, "case", "complete", number).code == 0
    no_letter = as_clerk(cli_home, "case", "deliver", number, "--proxy", "李四",
                         "--id", "33010219700101003X")
    assert no_letter.code == 2 and "授权委托书" in no_letter.err
    done = as_clerk(cli_home, "case", "deliver", number, "--proxy", "李四",
                    "--id", "33010219700101003X", "--letter", "--relation", "兄弟", "--json")
    assert done.code == 0, done.err
    out = json.loads(done.out)
    assert out["status"] == CaseStatus.DELIVERED and out["delivery"]["method"] == "代领"
    two_ways = as_clerk(cli_home, "case", "deliver", number, "--mail", "--in-person")
    assert two_ways.code == 2 and "请选择一种出件方式" in two_ways.err


def test_a_proxy_holding_a_passport_takes_the_result(cli_home: Path) -> None:
    number = str(new_case(cli_home, "--received-all", "--decide", "受理")["number"])
    assert as_clerk(cli_home, "case", "complete", number).code == 0
    unknown = as_clerk(cli_home, "case", "deliver", number, "--proxy", "SMITH JOHN",
                       "--id-type", "驾驶证", "--id", "E12345678", "--letter")
    assert unknown.code == 2 and "证件类型“驾驶证”无法识别" in unknown.err
    done = as_clerk(cli_home, "case", "deliver", number, "--proxy", "SMITH JOHN",
                    "--id-type", "护照", "--id", "E12345678", "--letter", "--json")
    assert done.code == 0, done.err
    delivery = json.loads(done.out)["delivery"]
    assert (delivery["id_type"], delivery["id_number"]) == ("护照", "E12345678")


def test_a_bundle_opens_and_accepts_one_case_per_item(cli_home: Path) -> None:
    result = as_clerk(cli_home, "case", "new", "YJS330100-0001", "--name", "王小明", "--id", ID,
                      "--received-all", "--decide", "受理", "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["bundle_name"] == "开办餐饮店"
    assert [c["status"] for c in data["cases"]] == [CaseStatus.ACCEPTED] * 3
    bad = as_clerk(cli_home, "case", "new", "YJS330100-0001", "--name", "王小明", "--id", ID,
                   "--material", "m1=收")
    assert bad.code == 2 and "合并清单的序号" in bad.err
