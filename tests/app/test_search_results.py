"""Searching for a document finds the items that produce it (the catalogue's ``result``).

Issue 9, item 14: a new clerk typed ``yyzz`` / ``营业执照`` / ``yingyezhizhao`` to register
a business and found only 营业执照遗失补领; 个体工商户设立登记, whose result is the
licence, was not found at all.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.domain.catalogue import Category, ItemKind
from app.services.search import CatalogueIndex, SearchEntry, keyword_tokens, pinyin_keys, search_tokens
from app.workstation import Workstation

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO = REPO_ROOT / "resources" / "catalogue" / "demo.json"
GETI_SHELI = "11330100MB0000001X4000116001000"    # 个体工商户设立登记, result 营业执照
YYZZ_BULING = "11330100MB0000001X4000119001000"   # 营业执照遗失补领（个体工商户）
MARKET_DEPT = "示例县市场监督管理局"
COMPANY = "有限责任公司设立登记"


def _demo_items() -> list[dict[str, Any]]:
    doc = json.loads(DEMO.read_text(encoding="utf-8"))
    items: list[dict[str, Any]] = doc["items"]
    return items


def _licence_producers() -> set[str]:
    return {i["code"] for i in _demo_items() if i.get("result") == "营业执照"}


def _entry(code: str, name: str, *, keywords: tuple[str, ...] = (),
           result: str = "") -> SearchEntry:
    return SearchEntry("item", code, name, "示例局", *pinyin_keys(name),
                       keywords=search_tokens(keywords, result))


# ---- the demo catalogue, imported as at a first start --------------------------------


@pytest.mark.parametrize("query", ["yyzz", "营业执照", "yingyezhizhao", "YingYeZhiZhao"])
def test_a_licence_query_lists_every_item_producing_the_licence_first(
        module_ws: Workstation, query: str) -> None:
    hits = module_ws.catalogue.search(query)
    producers = _licence_producers()
    assert GETI_SHELI in producers and len(producers) >= 3
    assert {h.code for h in hits[:len(producers)]} == producers, [h.name for h in hits]


def test_the_lost_licence_item_stays_first_among_the_licence_producers(
        module_ws: Workstation) -> None:
    # Its name begins with the word as well, so it leads; the registrations follow it.
    assert module_ws.catalogue.search("营业执照")[0].code == YYZZ_BULING


def test_the_demo_catalogue_has_a_company_registration_producing_the_licence(
        module_ws: Workstation) -> None:
    entries = [i for i in _demo_items() if i["name"] == COMPANY]
    assert len(entries) == 1
    item = module_ws.catalogue.item(entries[0]["code"])
    assert item.department.name == MARKET_DEPT
    assert item.category is Category.LICENSE
    assert item.result == "营业执照"
    assert item.kind is ItemKind.PROMISED
    assert len(item.checklist()) >= 5
    assert item.keywords
    # Coded like the department's other items: its prefix, 31 characters, unique.
    siblings = [i["code"] for i in _demo_items()
                if i["department"]["name"] == MARKET_DEPT and i["name"] != COMPANY]
    assert item.code[:18] == siblings[0][:18] == item.department.code
    assert len(item.code) == len(siblings[0]) and item.code.endswith("001000")
    assert [i["code"] for i in _demo_items()].count(item.code) == 1


@pytest.mark.parametrize("query", ["开公司", "kgs", "公司注册", "yxzrgs"])
def test_the_company_registration_is_found_by_its_keywords_and_name(
        module_ws: Workstation, query: str) -> None:
    assert module_ws.catalogue.search(query)[0].name == COMPANY


# ---- the index ------------------------------------------------------------------------


def _licence_index() -> CatalogueIndex:
    return CatalogueIndex([
        _entry("N1", "营业执照信息查询"),                        # names it, produces nothing
        _entry("P1", "公司设立登记", result="营业执照"),
        _entry("N2", "食品经营许可", keywords=("营业执照",)),    # a keyword only
        _entry("P2", "营业执照遗失补领", result="营业执照"),
        _entry("X1", "结婚登记", result="结婚证"),
    ])


@pytest.mark.parametrize("query", ["营业执照", "yyzz", "yingyezhizhao", "执照", "zhizhao",
                                   "zz"])
def test_items_producing_the_document_rank_ahead_of_items_only_naming_it(query: str) -> None:
    hits = _licence_index().search(query)
    codes = [h.entry.code for h in hits]
    assert codes[:2] == ["P2", "P1"], codes   # both produce it; P2's name matches as well
    assert set(codes[2:]) == {"N1", "N2"}
    assert [h.produces for h in hits] == [True, True, False, False]


def test_a_result_only_match_ranks_after_any_name_or_keyword_match() -> None:
    hits = _licence_index().search("营业执照")
    by_code = {h.entry.code: h.rank for h in hits}
    assert by_code["P1"] > max(by_code["N1"], by_code["N2"], by_code["P2"])


def test_every_word_must_match_somewhere_and_result_words_count() -> None:
    index = _licence_index()
    assert [h.entry.code for h in index.search("公司 yyzz")] == ["P1"]
    assert index.search("结婚 yyzz") == []


def test_keys_stored_before_results_were_indexed_still_search() -> None:
    """Rows imported by an older version hold keyword tokens only."""
    old = SearchEntry("item", "K1", "最低生活保障审核确认", "示例局",
                      *pinyin_keys("最低生活保障审核确认"), keywords=keyword_tokens(["低保"]))
    index = CatalogueIndex([old])
    assert [h.entry.code for h in index.search("低保")] == ["K1"]
    assert [h.entry.code for h in index.search("dibao")] == ["K1"]


def test_search_tokens_without_a_result_are_the_keyword_tokens() -> None:
    assert search_tokens(("低保",), "") == keyword_tokens(["低保"])
    assert "yingyezhizhao" in search_tokens((), "营业执照")
