"""The catalogue as stored: demo import, export round trip, versions, search ranking."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from app.domain.catalogue import Level, Necessity
from app.domain.catalogue_format import CatalogueFileError
from app.services.catalogue import NotFound
from app.services.search import CatalogueIndex, SearchEntry, keyword_tokens, pinyin_keys
from app.workstation import Workstation

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO = REPO_ROOT / "resources" / "catalogue" / "demo.json"
YYZZ = "11330100MB0000001X4000119001000"   # 营业执照遗失补领（个体工商户）
CANYIN = "YJS330100-0001"                  # 一件事：开办餐饮店


def demo_doc() -> dict[str, Any]:
    return json.loads(DEMO.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def write(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


# ---- the demo catalogue --------------------------------------------------------------


def test_the_demo_catalogue_is_imported_on_first_start(module_ws: Workstation) -> None:
    cat = module_ws.catalogue.current()
    assert len(cat.items) >= 40
    assert {i.level for i in cat.items} == {Level.COUNTY, Level.TOWNSHIP, Level.VILLAGE}
    assert len(cat.bundles) >= 3
    assert cat.version == demo_doc()["version"]
    assert [i.code for i in cat.items] == [i["code"] for i in demo_doc()["items"]]
    releases = module_ws.catalogue.releases()
    assert len(releases) == 1 and releases[0].current
    assert releases[0].origin == str(DEMO)
    assert (releases[0].items, releases[0].bundles) == (len(cat.items), len(cat.bundles))


def test_every_bundle_merges_its_materials_once(module_ws: Workstation) -> None:
    cat = module_ws.catalogue.current()
    for bundle in cat.bundles:
        merged = bundle.merged_materials(cat.by_code)
        keys = [bm.material.merge_key for bm in merged]
        assert len(keys) == len(set(keys)), bundle.name
        for bm in merged:
            asked = [m for code in bm.item_codes for m in cat.by_code[code].checklist()
                     if m.merge_key == bm.material.merge_key]
            assert bm.material.copies == max(m.copies for m in asked)
            assert bm.material.necessity is not Necessity.SCENARIO
            # The strictest terms of any item: a waiver only if every item grants it.
            assert bm.material.deferrable == all(m.deferrable for m in asked)
            assert bm.material.commitment == all(m.commitment for m in asked)
    canyin = module_ws.catalogue.bundle(CANYIN)
    shared = [bm for bm in canyin.merged_materials(cat.by_code) if len(bm.item_codes) > 1]
    assert shared, "开办餐饮店 should share at least the applicant's ID between its items"


def test_unknown_codes_raise_not_found(module_ws: Workstation) -> None:
    with pytest.raises(NotFound, match="NOPE"):
        module_ws.catalogue.item("NOPE")
    with pytest.raises(NotFound, match="一件事"):
        module_ws.catalogue.bundle("NOPE")


# ---- import, export, versions --------------------------------------------------------


def test_importing_the_same_file_twice_reports_unchanged(fresh_ws: Workstation) -> None:
    result = fresh_ws.catalogue.import_file(DEMO)
    assert result.unchanged
    assert result.new_items == 0
    assert len(fresh_ws.catalogue.releases()) == 1


def test_export_then_reimport_round_trips(fresh_ws: Workstation, tmp_path: Path) -> None:
    before = fresh_ws.catalogue.current()
    out = tmp_path / "export.json"
    assert fresh_ws.catalogue.export_file(out) == len(before.items)
    exported = json.loads(out.read_text(encoding="utf-8"))
    assert exported["format"] == "yichuang-catalogue"
    assert exported["version"] == before.version

    result = fresh_ws.catalogue.import_file(out)
    assert not result.unchanged
    assert result.new_items == 0          # every (code, version) was already stored
    after = fresh_ws.catalogue.current()
    assert after.items == before.items
    assert after.bundles == before.bundles
    releases = fresh_ws.catalogue.releases()
    assert [r.current for r in releases] == [True, False]
    assert releases[0].origin == str(out)


def test_a_new_item_version_keeps_the_old_one_for_old_cases(fresh_ws: Workstation,
                                                            tmp_path: Path) -> None:
    doc = demo_doc()
    doc["version"] = "2027.01-demo"
    entry = next(i for i in doc["items"] if i["code"] == YYZZ)
    old_version, old_name = entry["version"], entry["name"]
    entry.update(version=f"{old_version}.1", name="营业执照遗失补领")
    result = fresh_ws.catalogue.import_file(write(tmp_path / "2027.json", doc))
    assert (result.version, result.new_items, result.unchanged) == ("2027.01-demo", 1, False)

    assert fresh_ws.catalogue.item(YYZZ).name == "营业执照遗失补领"
    assert fresh_ws.catalogue.item_version(YYZZ, old_version).name == old_name
    with pytest.raises(NotFound):
        fresh_ws.catalogue.item_version(YYZZ, "no-such-version")
    versions = [(r.version, r.current) for r in fresh_ws.catalogue.releases()]
    assert versions == [("2027.01-demo", True), (demo_doc()["version"], False)]
    # The search index follows the new release at once.
    assert fresh_ws.catalogue.search("yyzz")[0].name == "营业执照遗失补领"


def test_a_conflicting_item_version_rolls_the_whole_import_back(fresh_ws: Workstation,
                                                                tmp_path: Path) -> None:
    doc = demo_doc()
    doc["version"] = "2027.02-demo"
    doc["items"][0]["version"] = "99"                      # a genuinely new version
    doc["items"][1]["name"] += "（修改）"                   # same version, new content
    before = fresh_ws.catalogue.releases()
    with pytest.raises(CatalogueFileError) as info:
        fresh_ws.catalogue.import_file(write(tmp_path / "bad.json", doc))
    assert doc["items"][1]["code"] in info.value.issues[0].where
    assert info.value.issues[0].field == "version"
    assert fresh_ws.catalogue.releases() == before
    with pytest.raises(NotFound):   # the new version of item 0 was not kept either
        fresh_ws.catalogue.item_version(doc["items"][0]["code"], "99")


# ---- search --------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["yyzz", "YYZZ", "营业执照", "yingyezhizhao", "yingye",
                                   "ｙｙｚｚ", "yyzz ysbl"])
def test_typing_finds_the_business_licence_item_first(module_ws: Workstation,
                                                      query: str) -> None:
    hits = module_ws.catalogue.search(query)
    assert hits, query
    assert hits[0].code == YYZZ
    assert hits[0].name.startswith("营业执照")


def test_a_code_prefix_finds_the_item(module_ws: Workstation) -> None:
    hits = module_ws.catalogue.search(YYZZ[:25].lower())
    assert [h.code for h in hits] == [YYZZ]
    assert hits[0].rank == 2  # a prefix
    # A shorter prefix shared by one department's items finds them, and only them.
    shared = module_ws.catalogue.search(YYZZ[:22])
    assert YYZZ in [h.code for h in shared]
    assert {h.code[:22] for h in shared} == {YYZZ[:22]}
    assert module_ws.catalogue.search(YYZZ)[0].rank == 0


def test_bundles_are_found_by_name_and_initials(module_ws: Workstation) -> None:
    for query in ("开办餐饮店", "kbcyd", "canyin"):
        hits = module_ws.catalogue.search(query)
        assert (hits[0].kind, hits[0].code) == ("bundle", CANYIN), query
    assert any(h.kind == "bundle" for h in module_ws.catalogue.search("一件事"))


def test_nothing_found_is_an_empty_list(module_ws: Workstation) -> None:
    assert module_ws.catalogue.search("zzzzqqqq") == []
    assert module_ws.catalogue.search("火星移民登记") == []


def test_an_empty_query_lists_the_catalogue(module_ws: Workstation) -> None:
    assert len(module_ws.catalogue.search("", limit=500)) == (
        len(module_ws.catalogue.current().items) + len(module_ws.catalogue.current().bundles))


def _entry(code: str, name: str, keywords: str = "") -> SearchEntry:
    return SearchEntry("item", code, name, "示例局", *pinyin_keys(name), keywords=keywords)


def test_pinyin_keys() -> None:
    assert pinyin_keys("营业执照遗失补领") == ("yingyezhizhaoyishibuling", "yyzzysbl")
    assert pinyin_keys("A级纳税人") == ("ajinashuiren", "ajnsr")
    assert pinyin_keys("（个体工商户）") == ("getigongshanghu", "gtgsh")


def test_exact_then_prefix_then_substring() -> None:
    index = CatalogueIndex([
        _entry("C1", "个体户营业执照变更"),           # substring
        _entry("C2", "营业执照遗失补领（个体工商户）"),  # prefix, longer
        _entry("C3", "营业执照"),                      # exact
        _entry("C4", "营业执照补发"),                  # prefix, shorter
        _entry("C5", "食品经营许可"),                  # no match
    ])
    for query in ("营业执照", "yyzz", "yingyezhizhao"):
        codes = [h.entry.code for h in index.search(query)]
        assert codes == ["C3", "C4", "C2", "C1"], query
    ranks = [h.rank for h in index.search("营业执照")]
    assert ranks == [0, 2, 2, 4]  # exact, prefix, prefix, substring


def test_withdrawn_items_are_hidden_from_search_but_kept(fresh_ws: Workstation,
                                                         tmp_path: Path) -> None:
    doc = demo_doc()
    doc["version"] = "2027.03-demo"
    yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    next_year = (dt.date.today() + dt.timedelta(days=365)).isoformat()
    for entry in doc["items"]:
        if entry["code"] == YYZZ:
            entry.update(version="withdrawn", withdrawn_at=yesterday)
        if entry["name"] == "个体工商户变更登记":
            entry.update(version="withdrawing", withdrawn_at=next_year)
    fresh_ws.catalogue.import_file(write(tmp_path / "withdrawn.json", doc))

    assert all(h.code != YYZZ for h in fresh_ws.catalogue.search("yyzz"))
    assert all(h.code != YYZZ for h in fresh_ws.catalogue.search("营业执照遗失补领"))
    assert any(h.name == "个体工商户变更登记" for h in fresh_ws.catalogue.search("gtgshbgdj"))
    # Old cases still find the withdrawn item by code.
    assert fresh_ws.catalogue.item(YYZZ).withdrawn_at == dt.date.fromisoformat(yesterday)


def test_keywords_find_items_by_their_common_short_names(module_ws: Workstation) -> None:
    """低保 is what clerks and applicants say for 最低生活保障; the name never contains it."""
    for query in ("低保", "dibao", "db"):
        hits = module_ws.catalogue.search(query)
        assert hits[0].name == "最低生活保障审核确认", query
    assert [h.name for h in module_ws.catalogue.search("社保卡")][:2] == [
        "社会保障卡申领", "社会保障卡补领、换领"]


def test_a_name_match_ranks_ahead_of_a_keyword_match_of_the_same_kind() -> None:
    index = CatalogueIndex([
        _entry("K1", "最低生活保障审核确认", keywords=keyword_tokens(["低保"])),
        _entry("K2", "低保边缘家庭认定"),
        _entry("K3", "社会救助申请代办（低保、特困）"),
    ])
    assert [h.entry.code for h in index.search("低保")] == ["K2", "K1", "K3"]


def test_letters_do_not_match_inside_item_codes(module_ws: Workstation) -> None:
    entries = module_ws.catalogue.index().entries
    assert sum("mb" in e.code.lower() for e in entries) > 10  # most demo codes have MB
    expected = {e.code for e in entries
                if "mb" in e.initials or "mb" in e.pinyin or "mb" in e.keywords}
    assert {h.code for h in module_ws.catalogue.search("mb")} == expected


def test_several_words_must_all_match(module_ws: Workstation) -> None:
    assert [h.name for h in module_ws.catalogue.search("个体 注销")] == ["个体工商户注销登记"]
    assert [h.name for h in module_ws.catalogue.search("营业执照　补领")] == [
        "营业执照遗失补领（个体工商户）"]  # an ideographic space separates words too
    assert module_ws.catalogue.search("个体 结婚") == []


def test_merging_takes_the_strictest_form_and_source() -> None:
    from app.domain.catalogue import (
        Bundle,
        Category,
        Department,
        Fee,
        ItemKind,
        Level,
        Material,
        MaterialForm,
        MaterialSource,
        ServiceItem,
        TimeLimit,
    )

    def item(code: str, material: Material) -> ServiceItem:
        return ServiceItem(code, code, Department("局"), Category.LICENSE, Level.COUNTY,
                           ItemKind.PROMISED, TimeLimit(20), TimeLimit(5), Fee(),
                           (material,), "1")

    lease = Material("m1", "租赁协议", MaterialForm.ORIGINAL, Necessity.OPTIONAL,
                     commitment=True, deferrable=True, source=MaterialSource.SHARED)
    strict = Material("m9", "租赁 协议", MaterialForm.COPY, Necessity.REQUIRED, copies=2,
                      commitment=False, deferrable=True, source=MaterialSource.APPLICANT)
    items = {"A": item("A", lease), "B": item("B", strict)}
    (merged,) = Bundle("X", "一件事", ("A", "B")).merged_materials(items)
    m = merged.material
    assert merged.item_codes == ("A", "B")
    assert (m.form, m.copies, m.necessity) == (
        MaterialForm.ORIGINAL_AND_COPY, 2, Necessity.REQUIRED)
    assert (m.commitment, m.deferrable, m.source) == (False, True, MaterialSource.APPLICANT)
