"""``yichuang case import``: a village agent's offline batch, each application on its own."""

from __future__ import annotations

import json
from pathlib import Path

from app.domain.case import CaseStatus
from app.domain.checksum import mod11_2
from app.services.case_list import CaseQuery
from app.workstation import open_workstation
from tests.cli.conftest import as_clerk

FOOD = "11330100MB0000001X4000215001000"
DIBAO = "11330100MB0000146R4030011001000"   # 最低生活保障审核确认


def rid(body: str) -> str:
    return body + mod11_2(body)


AGENT = {"name": "李代办", "id_number": rid("33010219700101003"), "village_agent": True}


def batch(path: Path, *applications: object) -> Path:
    path.write_text(json.dumps({"format": "yichuang-applications", "format_version": 1,
                                "collected_by": "李代办", "agent": AGENT,
                                "applications": list(applications)}, ensure_ascii=False),
                    encoding="utf-8")
    return path


def test_good_applications_are_taken_in_and_a_bad_one_is_named_and_left_out(
        cli_home: Path, tmp_path: Path) -> None:
    good = {"item": DIBAO, "applicant": {"name": "王小明", "id_number": rid("33010219800101002")},
            "received_all": True, "decision": "受理"}
    missing = {"item": FOOD, "applicant": {"name": "张三", "id_number": rid("33010219900101005")},
               "received_all": True, "materials": ["m5=缺"], "decision": "受理"}
    corrected = {**missing, "decision": "补正"}
    path = batch(tmp_path / "batch.json", good, missing, corrected)
    result = as_clerk(cli_home, "case", "import", str(path), "--json")
    assert result.code == 2
    report = json.loads(result.out)
    assert [o["ok"] for o in report["outcomes"]] == [True, False, True]
    assert "第2件申请（张三）" in result.err and "应一次性告知补正" in result.err
    ws = open_workstation(cli_home)
    try:
        numbers = [n for o in report["outcomes"] for n in o["case_numbers"]]
        cases = [ws.cases.by_number(n) for n in numbers]
        assert [c.status for c in cases] == [CaseStatus.ACCEPTED, CaseStatus.CORRECTION]
        assert all(c.agent is not None and c.agent.village_agent for c in cases)
        # The refused application left nothing behind: two cases in all.
        assert len(ws.case_list.find(CaseQuery())) == 2
        assert ws.integrity.verify().ok
    finally:
        ws.close()


def test_a_file_that_is_not_a_batch_is_refused_before_the_password(cli_home: Path,
                                                                   tmp_path: Path) -> None:
    not_json = tmp_path / "x.json"
    not_json.write_bytes("申请".encode("gbk"))
    result = as_clerk(cli_home, "case", "import", str(not_json))
    assert result.code == 2 and "UTF-8" in result.err
    wrong = tmp_path / "y.json"
    wrong.write_text(json.dumps({"format": "yichuang-catalogue"}), encoding="utf-8")
    result = as_clerk(cli_home, "case", "import", str(wrong))
    assert result.code == 2 and "不是申请批量文件" in result.err
