"""Catalogue search latency over a generated 5,000-item catalogue, per query kind.

The catalogue is imported through the real service (so the stored pinyin keys and the
index are the ones the window uses); queries are drawn from the items themselves:
Chinese substrings, full-pinyin fragments, initials prefixes and code prefixes.
"""

from __future__ import annotations

import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from app.services.catalogue import CatalogueService
from app.storage.db import open_database
from bench.common import summary, write_result

ITEMS = 5000
QUERIES_PER_KIND = 300
TARGET_P99_MS = 5.0

_SUBJECTS = ["个体工商户", "食品经营", "城乡居民基本养老保险", "残疾人证", "最低生活保障",
             "建筑工程施工", "农村宅基地", "居民身份证", "社会保障卡", "医疗保险", "失业保险",
             "特困人员", "高龄津贴", "动物防疫条件", "燃气经营", "道路运输", "排水许可",
             "出生医学证明", "独生子女父母", "退役军人优待", "义务教育", "营业执照",
             "药品零售", "户口", "婚姻", "殡葬", "公共场所卫生", "林木采伐", "取水许可",
             "渔业捕捞"]
_ACTIONS = ["设立登记", "变更登记", "注销登记", "许可证核发", "补领", "换领", "审核确认",
            "申领", "备案", "延续", "迁移", "认定", "待遇核定", "费用报销", "资格认证"]
_QUALIFIERS = ["", "（新办）", "（延续）", "（县级）", "（乡镇代办）", "（跨省通办）", "（告知承诺制）"]
_DEPTS = ["市场监督管理局", "人力资源和社会保障局", "医疗保障局", "民政局", "公安局",
          "农业农村局", "住房和城乡建设局", "卫生健康局", "交通运输局", "水利局"]


def generate(n: int, rng: random.Random) -> dict[str, Any]:
    items = []
    for i in range(n):
        name = rng.choice(_SUBJECTS) + rng.choice(_ACTIONS) + rng.choice(_QUALIFIERS)
        dept = "示例县" + rng.choice(_DEPTS)
        items.append({
            "code": f"1133{i:06d}MB{rng.randrange(10**8):08d}{i % 97:02d}",
            "name": name, "department": {"name": dept, "code": ""},
            "category": "行政许可", "level": rng.choice(["县级", "乡镇", "村"]),
            "kind": "承诺件", "legal_limit": {"value": 20, "unit": "工作日"},
            "promised_limit": {"value": 5, "unit": "工作日"}, "fee": {"free": True},
            "materials": [{"id": "m1", "name": "申请表", "form": "原件", "necessity": "必要"}],
            "version": "1",
        })
    return {"format": "yichuang-catalogue", "format_version": 1, "version": "bench",
            "items": items}


def _queries(service: CatalogueService, rng: random.Random) -> dict[str, list[str]]:
    entries = service.index().entries
    picks = [rng.choice(entries) for _ in range(QUERIES_PER_KIND)]

    def piece(text: str, lo: int, hi: int) -> str:
        size = min(len(text), rng.randint(lo, hi))
        start = rng.randrange(0, len(text) - size + 1)
        return text[start:start + size]

    return {
        "chinese_substring": [piece(e.name, 2, 4) for e in picks],
        "full_pinyin": [piece(e.pinyin, 4, 12) for e in picks],
        "initials": [e.initials[: rng.randint(2, 5)] for e in picks],
        "code_prefix": [e.code[: rng.randint(6, 12)] for e in picks],
        "two_words": [f"{piece(e.name, 2, 2)} {piece(e.name, 2, 3)}" for e in picks],
        # The first key of an instant search matches a large part of the catalogue.
        "first_keystroke": [e.initials[0] for e in picks],
    }


def main() -> dict[str, Any]:
    rng = random.Random(20261123)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "catalogue.json"
        path.write_text(json.dumps(generate(ITEMS, rng), ensure_ascii=False), encoding="utf-8")
        db = open_database(Path(tmp) / "bench.db")
        service = CatalogueService(db)
        t0 = time.perf_counter()
        service.import_file(path)
        import_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        service.index()
        load_s = time.perf_counter() - t0
        figures: dict[str, Any] = {"items": ITEMS, "target_p99_ms": TARGET_P99_MS,
                                   "import_s": import_s, "load_and_index_s": load_s,
                                   "kinds": {}}
        for kind, queries in _queries(service, rng).items():
            for q in queries[:20]:  # warm caches the same way a clerk's first keys do
                service.search(q)
            times, hits = [], []
            for q in queries:
                t = time.perf_counter_ns()
                result = service.search(q)
                times.append((time.perf_counter_ns() - t) / 1e6)
                hits.append(len(result))
            figures["kinds"][kind] = {**summary(times), "mean_hits": sum(hits) / len(hits)}
        db.dispose()
    path_out = write_result("search", figures)
    print(f"目录 {ITEMS} 项：导入 {import_s:.2f} s，载入并建索引 {load_s:.3f} s")
    for kind, f in figures["kinds"].items():
        print(f"  {kind:18s} p50 {f['median']:.3f} ms  p99 {f['p99']:.3f} ms  "
              f"(平均命中 {f['mean_hits']:.0f})  目标 p99 ≤ {TARGET_P99_MS} ms")
    print(f"→ {path_out}")
    return figures


if __name__ == "__main__":
    main()
