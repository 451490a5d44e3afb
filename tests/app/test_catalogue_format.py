"""Broken catalogue files: every problem named (item, field, what), nothing imported."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from app.domain.catalogue_format import (
    CatalogueFileError,
    CatalogueIssue,
    parse_catalogue,
    parse_catalogue_bytes,
)
from app.storage.models import CatalogueBundleRow, CatalogueItemRow, CatalogueRelease
from app.workstation import Workstation

GETI = "11330100MB0000001X4000116001000"
FOOD = "TEST-FOOD-0001"

BASE: dict[str, Any] = {
    "format": "yichuang-catalogue",
    "format_version": 1,
    "version": "2026.12-test",
    "publisher": "示例县政务服务中心",
    "published_at": "2026-12-01",
    "items": [
        {
            "code": GETI,
            "name": "个体工商户设立登记",
            "department": {"name": "示例县市场监督管理局", "code": "11330100MB0000001X"},
            "category": "行政许可", "level": "县级", "kind": "即办件",
            "legal_limit": {"value": 15, "unit": "工作日"},
            "promised_limit": {"value": 0, "unit": "工作日"},
            "fee": {"free": True},
            "materials": [
                {"id": "m1", "name": "个体工商户登记（备案）申请书", "form": "原件",
                 "copies": 1, "necessity": "必要"},
                {"id": "m2", "name": "经营者身份证件", "form": "原件", "necessity": "必要",
                 "source": "共享获取"},
                {"id": "m3", "name": "委托书及受托人身份证件", "form": "原件",
                 "necessity": "情形必要"},
            ],
            "scenarios": [{"id": "s1", "name": "委托他人代为办理", "adds": ["m3"]}],
            "version": "test-1",
        },
        {
            "code": FOOD,
            "name": "食品经营许可（测试）",
            "department": {"name": "示例县市场监督管理局", "code": ""},
            "category": "行政许可", "level": "县级", "kind": "承诺件",
            "legal_limit": {"value": 10, "unit": "工作日"},
            "promised_limit": {"value": 3, "unit": "工作日"},
            "fee": {"free": False, "amount": "每件10元", "basis": "示例"},
            "materials": [
                {"id": "m1", "name": "食品经营许可申请书", "form": "原件", "necessity": "必要"},
                {"id": "m2", "name": "经营场所平面图", "form": "复印件", "necessity": "必要",
                 "deferrable": True},
            ],
            "version": "test-1",
            "effective_from": "2026-01-01",
        },
    ],
    "bundles": [
        {"code": "YJS-TEST-1", "name": "开办餐饮店（测试）", "items": [GETI, FOOD]},
    ],
}


def doc(mutate: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    d = copy.deepcopy(BASE)
    mutate(d)
    return d


def item(d: dict[str, Any], n: int = 0) -> dict[str, Any]:
    return d["items"][n]  # type: ignore[no-any-return]


def _set(target: Callable[[dict[str, Any]], dict[str, Any]], key: str, value: Any
         ) -> Callable[[dict[str, Any]], None]:
    def mutate(d: dict[str, Any]) -> None:
        target(d)[key] = value
    return mutate


def _dup_item(d: dict[str, Any]) -> None:
    d["items"].append(copy.deepcopy(d["items"][0]))


def _dup_material(d: dict[str, Any]) -> None:
    item(d)["materials"].append(dict(item(d)["materials"][0], name="重复的申请书"))


def _unknown_field(d: dict[str, Any]) -> None:
    item(d, 1)["nmae"] = item(d, 1).pop("conditions", "x")


def _bytes(d: dict[str, Any]) -> bytes:
    return json.dumps(d, ensure_ascii=False).encode("utf-8")


def _ascii(d: dict[str, Any]) -> bytes:
    """JSON with every non-ASCII character escaped: a lone surrogate becomes ``\\ud800``."""
    return json.dumps(d).encode("ascii")


I0 = f"第1个事项（{GETI} 个体工商户设立登记）"
I1 = f"第2个事项（{FOOD} 食品经营许可（测试））"

# (id, file bytes, where, field, problem): every kind of broken file the issue lists.
BROKEN: list[tuple[str, bytes, str, str, str]] = [
    ("not-json", b'{"format": "yichuang-catalogue", "items": [', "", "", "不是有效的JSON"),
    ("gbk", _bytes(BASE).decode("utf-8").encode("gbk"), "", "", "不是UTF-8编码"),
    ("top-level-array", json.dumps([BASE]).encode(), "文件", "", "应为对象（{…}），实际是数组"),
    ("format-marker", _bytes(doc(_set(lambda d: d, "format", "yichuang-calendar"))),
     "文件", "format", "不是一窗通事项目录文件"),
    ("format-version", _bytes(doc(_set(lambda d: d, "format_version", 2))),
     "文件", "format_version", "不支持的格式版本“2”"),
    ("missing-name", _bytes(doc(lambda d: item(d, 1).pop("name"))),
     "第2个事项（TEST-FOOD-0001）", "name", "缺少必填字段"),
    ("missing-version", _bytes(doc(lambda d: d.pop("version"))), "文件", "version",
     "缺少必填字段"),
    ("wrong-type", _bytes(doc(_set(lambda d: item(d), "visits", "2"))),
     I0, "visits", "应为整数，实际是文本"),
    ("wrong-type-materials", _bytes(doc(_set(lambda d: item(d, 1), "materials", "申请书"))),
     I1, "materials", "应为数组"),
    ("bad-enum", _bytes(doc(_set(lambda d: item(d), "level", "省级"))),
     I0, "level", "值“省级”无效，应为以下之一：县级、乡镇、村"),
    ("bad-enum-unit", _bytes(doc(_set(lambda d: item(d, 1)["legal_limit"], "unit", "月"))),
     I1, "legal_limit.unit", "值“月”无效"),
    ("duplicate-item-code", _bytes(doc(_dup_item)), f"第3个事项（{GETI}）", "code",
     "事项编码重复，与第1个事项相同"),
    ("duplicate-material-id", _bytes(doc(_dup_material)), I0, "materials[3].id",
     "材料编号“m1”在本事项中重复"),
    ("scenario-unknown-material",
     _bytes(doc(_set(lambda d: item(d)["scenarios"][0], "adds", ["m3", "m9"]))),
     I0, "scenarios[0].adds", "引用了本事项中不存在的材料“m9”"),
    ("scenario-material-nobody-adds",
     _bytes(doc(_set(lambda d: item(d)["scenarios"][0], "adds", []))),
     I0, "materials", "材料“委托书及受托人身份证件”（m3）标为情形必要，但没有任何办理情形需要它"),
    ("bundle-unknown-item",
     _bytes(doc(_set(lambda d: d["bundles"][0], "items", [GETI, "NO-SUCH-ITEM"]))),
     "第1个一件事（开办餐饮店（测试））", "items", "引用了目录中不存在的事项“NO-SUCH-ITEM”"),
    ("bundle-one-item", _bytes(doc(_set(lambda d: d["bundles"][0], "items", [GETI]))),
     "第1个一件事", "items", "至少要包含两个事项"),
    ("negative-limit", _bytes(doc(_set(lambda d: item(d, 1)["legal_limit"], "value", -1))),
     I1, "legal_limit.value", "数值-1超出范围（0-3650）"),
    ("too-large-limit",
     _bytes(doc(_set(lambda d: item(d, 1)["legal_limit"], "value", 3651))),
     I1, "legal_limit.value", "数值3651超出范围（0-3650）"),
    ("promised-longer-than-legal",
     _bytes(doc(_set(lambda d: item(d, 1)["promised_limit"], "value", 12))),
     I1, "promised_limit", "承诺时限12个工作日不能长于法定时限10个工作日"),
    ("promised-item-zero-limit",
     _bytes(doc(_set(lambda d: item(d, 1)["promised_limit"], "value", 0))),
     I1, "promised_limit", "承诺件的承诺时限应大于0"),
    ("bad-date", _bytes(doc(_set(lambda d: item(d, 1), "effective_from", "2026-02-30"))),
     I1, "effective_from", "日期“2026-02-30”无效，应为 YYYY-MM-DD"),
    ("bad-date-top", _bytes(doc(_set(lambda d: d, "published_at", "2026/12/01"))),
     "文件", "published_at", "日期“2026/12/01”无效"),
    ("unknown-item-field", _bytes(doc(_unknown_field)), I1, "", "有未知字段：nmae（拼写错误？）"),
    ("unknown-material-field",
     _bytes(doc(_set(lambda d: item(d, 1)["materials"][1], "deferable", True))),
     I1, "materials[1]", "有未知字段：deferable"),
    ("unknown-top-field", _bytes(doc(_set(lambda d: d, "bundels", []))),
     "文件", "", "有未知字段：bundels"),
    ("code-with-space", _bytes(doc(_set(lambda d: item(d, 1), "code", "TEST FOOD"))),
     "第2个事项（TEST FOOD", "code", "不能包含空格"),
    ("paid-without-amount", _bytes(doc(_set(lambda d: item(d, 1), "fee", {"free": False}))),
     I1, "fee.amount", "收费事项必须写明收费标准"),
    ("no-items", _bytes(doc(_set(lambda d: d, "items", []))), "文件", "items", "至少要有一个事项"),
    ("no-materials", _bytes(doc(_set(lambda d: item(d, 1), "materials", []))),
     I1, "materials", "至少要有一项申请材料"),
    # Characters no stored text may hold: named by field, never a traceback.
    ("surrogate-in-name", _ascii(doc(_set(lambda d: item(d, 1), "name", "食品\ud800"))),
     "第2个事项（TEST-FOOD-0001 食品\\ud800）", "name", "第3个字符是不成对的代理字符 U+D800"),
    ("surrogate-in-code", _ascii(doc(_set(lambda d: item(d, 1), "code", "\udfff"))),
     "第2个事项", "code", "不成对的代理字符 U+DFFF"),
    ("nul-in-note",
     _ascii(doc(_set(lambda d: item(d, 1)["materials"][0], "note", "请\x00签字"))),
     I1, "materials[0].note", "第2个字符是控制字符 U+0000"),
    ("escape-in-department",
     _ascii(doc(_set(lambda d: item(d)["department"], "name", "\x1b[2J市场监管局"))),
     I0, "department.name", "控制字符 U+001B"),
    ("override-in-keyword",
     _ascii(doc(_set(lambda d: item(d), "keywords", ["个体", "txt.\u202eexe"]))),
     I0, "keywords[1]", "不可见的格式字符 U+202E"),
    ("zero-width-in-material-id",
     _ascii(doc(_set(lambda d: item(d, 1)["materials"][1], "id", "m\u200b2"))),
     I1, "materials[1].id", "不可见的格式字符 U+200B"),
    ("tab-in-scenario-name",
     _ascii(doc(_set(lambda d: item(d)["scenarios"][0], "name", "委托\t办理"))),
     I0, "scenarios[0].name", "控制字符 U+0009"),
    ("newline-in-name", _ascii(doc(_set(lambda d: item(d, 1), "name", "食品\n经营"))),
     "第2个事项", "name", "控制字符 U+000A"),
    ("bell-in-conditions", _ascii(doc(_set(lambda d: item(d, 1), "conditions", "a\x07"))),
     I1, "conditions", "控制字符 U+0007"),
    ("surrogate-in-version", _ascii(doc(_set(lambda d: d, "version", "2026\ud83d"))),
     "文件", "version", "不成对的代理字符 U+D83D"),
    ("control-in-bundle-name",
     _ascii(doc(_set(lambda d: d["bundles"][0], "name", "开办\x7f餐饮店"))),
     "第1个一件事（开办\\u007f餐饮店）", "name", "控制字符 U+007F"),
    ("surrogate-in-unknown-key", _ascii(doc(_set(lambda d: item(d, 1), "\ud800", 1))),
     I1, "", "有未知字段：\\ud800"),
    ("surrogate-in-enum", _ascii(doc(_set(lambda d: item(d), "level", "\ud800"))),
     I0, "level", "值“\\ud800”无效"),
]


def find_issue(err: CatalogueFileError, where: str, field: str, problem: str) -> CatalogueIssue:
    for issue in err.issues:
        if where in issue.where and issue.field == field and problem in issue.problem:
            return issue
    raise AssertionError(f"no issue ({where!r}, {field!r}, {problem!r}) in {err.issues}")


def test_the_base_document_is_valid() -> None:
    cat = parse_catalogue_bytes(_bytes(BASE))
    assert [i.code for i in cat.items] == [GETI, FOOD]
    assert cat.bundles[0].item_codes == (GETI, FOOD)
    assert cat.by_code[FOOD].materials[1].deferrable


@pytest.mark.parametrize(("data", "where", "field", "problem"),
                         [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_a_broken_file_names_item_field_and_problem(data: bytes, where: str, field: str,
                                                    problem: str) -> None:
    with pytest.raises(CatalogueFileError) as info:
        parse_catalogue_bytes(data)
    issue = find_issue(info.value, where, field, problem)
    # The one-line message shows the same place and problem.
    text = str(issue)
    assert problem in text
    if field:
        assert f"字段 {field}：" in text


def test_every_problem_of_a_file_is_reported_at_once() -> None:
    def many(d: dict[str, Any]) -> None:
        item(d)["level"] = "省级"
        item(d, 1)["legal_limit"]["value"] = -5
        d["bundles"][0]["items"] = [GETI, "NOPE"]

    with pytest.raises(CatalogueFileError) as info:
        parse_catalogue(doc(many))
    fields = {(i.field) for i in info.value.issues}
    assert {"level", "legal_limit.value", "items"} <= fields
    assert "共3处问题" in str(info.value)
    # The bundle's first item is in the file (with a problem of its own): not "missing".
    assert not any(GETI in i.problem for i in info.value.issues)


def _db_state(ws: Workstation) -> tuple[object, ...]:
    with ws.db.read() as session:
        releases = [(r.id, r.version, r.is_current, r.sha256) for r in
                    session.scalars(select(CatalogueRelease).order_by(CatalogueRelease.id))]
        items = session.scalar(select(func.count()).select_from(CatalogueItemRow))
        bundles = session.scalar(select(func.count()).select_from(CatalogueBundleRow))
    return releases, items, bundles


@pytest.mark.parametrize(("data", "where", "field", "problem"),
                         [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_importing_a_broken_file_changes_nothing(module_ws: Workstation, tmp_path: Path,
                                                 data: bytes, where: str, field: str,
                                                 problem: str) -> None:
    before = _db_state(module_ws)
    current = module_ws.catalogue.current().version
    path = tmp_path / "broken.json"
    path.write_bytes(data)
    with pytest.raises(CatalogueFileError) as info:
        module_ws.catalogue.import_file(path)
    find_issue(info.value, where, field, problem)
    assert _db_state(module_ws) == before
    assert module_ws.catalogue.current().version == current
    assert len(module_ws.catalogue.releases()) == len(before[0])  # type: ignore[arg-type]


def test_same_code_and_version_with_different_content_is_refused(module_ws: Workstation,
                                                                 tmp_path: Path) -> None:
    # The demo catalogue already holds this item at version "1".
    demo_item = module_ws.catalogue.item(GETI)
    changed = doc(lambda d: item(d).update(version=demo_item.version, name="个体工商户设立登记（改）"))
    path = tmp_path / "conflict.json"
    path.write_bytes(_bytes(changed))
    before = _db_state(module_ws)
    with pytest.raises(CatalogueFileError) as info:
        module_ws.catalogue.import_file(path)
    issue = find_issue(info.value, GETI, "version", "已导入过但内容不同")
    assert "提高 version" in issue.problem
    assert _db_state(module_ws) == before
    assert module_ws.catalogue.item(GETI) == demo_item


def test_an_unreadable_file_is_reported(module_ws: Workstation, tmp_path: Path) -> None:
    with pytest.raises(CatalogueFileError, match="无法读取文件"):
        module_ws.catalogue.import_file(tmp_path / "does-not-exist.json")


def test_prose_fields_may_hold_line_breaks_and_nothing_else() -> None:
    def prose(d: dict[str, Any]) -> None:
        item(d, 1)["conditions"] = "一、持有营业执照；\n二、有固定经营场所。"
        item(d, 1)["materials"][0]["note"] = "第一页签字\n第二页盖章"
        d["bundles"][0]["description"] = "餐饮店开业\n一次办好"

    cat = parse_catalogue_bytes(_ascii(doc(prose)))
    assert cat.by_code[FOOD].conditions.splitlines() == ["一、持有营业执照；", "二、有固定经营场所。"]
    assert cat.bundles[0].description == "餐饮店开业\n一次办好"


def test_every_issue_prints_even_when_the_file_holds_surrogates() -> None:
    def many(d: dict[str, Any]) -> None:
        item(d)["name"] = "\ud800" * 3
        item(d, 1)["\udc00key"] = 1
        d["bundles"][0]["items"] = [GETI, "\udbff"]

    with pytest.raises(CatalogueFileError) as info:
        parse_catalogue_bytes(_ascii(doc(many)))
    for issue in info.value.issues:
        str(issue).encode("utf-8")          # never UnicodeEncodeError
    str(info.value).encode("utf-8")
    assert any("\\udc00key" in i.problem for i in info.value.issues)


def test_items_stored_before_the_character_checks_still_load() -> None:
    """A stored body is re-read for every case accepted under it: no new check breaks it."""
    from app.domain.catalogue_format import item_from_json
    from app.domain.catalogue_writer import item_to_json

    stored = item_to_json(parse_catalogue(copy.deepcopy(BASE)).by_code[FOOD])
    stored["conditions"] = "旧数据\x0c含换页符"
    assert item_from_json(stored).conditions == "旧数据\x0c含换页符"


def test_the_notice_fields_of_the_demo_catalogue_survive_writing_and_reading_back() -> None:
    from app.config import resources_dir
    from app.domain.catalogue import LimitUnit, TimeLimit
    from app.domain.catalogue_writer import catalogue_to_json

    demo = parse_catalogue(json.loads(
        (resources_dir() / "catalogue" / "demo.json").read_text(encoding="utf-8")))
    again = parse_catalogue(json.loads(json.dumps(catalogue_to_json(demo), ensure_ascii=False)))
    assert again.items == demo.items
    tobacco = demo.by_code["11330100MB0000023K4000031001000"]
    assert tobacco.correction_limit == TimeLimit(5, LimitUnit.WORKING_DAYS)
    assert tobacco.special_procedures == "现场勘验、听证"
    assert demo.by_code["11330100MB0000001X4000215001000"].deferral_consequence.startswith(
        "逾期未补交")
