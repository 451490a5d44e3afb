"""The service catalogue (政务服务事项目录): items, materials, scenarios, bundles.

Plain frozen dataclasses mirroring ``docs/catalogue-format.md``; parsing and validation
of the JSON file live in :mod:`app.domain.catalogue_format`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace
from enum import StrEnum


class Category(StrEnum):
    LICENSE = "行政许可"
    CONFIRMATION = "行政确认"
    BENEFIT = "行政给付"
    ADJUDICATION = "行政裁决"
    REWARD = "行政奖励"
    INSPECTION = "行政检查"
    PUBLIC_SERVICE = "公共服务"
    OTHER = "其他"


class Level(StrEnum):
    COUNTY = "县级"
    TOWNSHIP = "乡镇"
    VILLAGE = "村"


class ItemKind(StrEnum):
    ON_THE_SPOT = "即办件"
    PROMISED = "承诺件"


class LimitUnit(StrEnum):
    WORKING_DAYS = "工作日"
    CALENDAR_DAYS = "自然日"


class MaterialForm(StrEnum):
    ORIGINAL = "原件"
    COPY = "复印件"
    ORIGINAL_AND_COPY = "原件和复印件"
    ELECTRONIC = "电子"


class Necessity(StrEnum):
    REQUIRED = "必要"
    OPTIONAL = "非必要"
    SCENARIO = "情形必要"


class MaterialSource(StrEnum):
    APPLICANT = "申请人自备"
    ISSUED = "部门核发"
    SHARED = "共享获取"


@dataclass(frozen=True, slots=True)
class TimeLimit:
    """A time limit such as 承诺办结时限: ``value`` days counted in ``unit``."""

    value: int
    unit: LimitUnit = LimitUnit.WORKING_DAYS

    def __str__(self) -> str:
        return "当场办结" if self.value == 0 else f"{self.value}个{self.unit}"


@dataclass(frozen=True, slots=True)
class Department:
    name: str
    code: str = ""


@dataclass(frozen=True, slots=True)
class Fee:
    free: bool = True
    amount: str = ""
    basis: str = ""

    def __str__(self) -> str:
        return "不收费" if self.free else self.amount


@dataclass(frozen=True, slots=True)
class Material:
    """One 申请材料 of an item, in the order it is printed."""

    id: str
    name: str
    form: MaterialForm
    necessity: Necessity
    copies: int = 1
    deferrable: bool = False
    commitment: bool = False
    source: MaterialSource = MaterialSource.APPLICANT
    note: str = ""
    template: str = ""

    @property
    def merge_key(self) -> str:
        """Name with spaces and brackets removed: how bundles decide two are the same."""
        return re.sub(r"[\s()（）【】\[\]]", "", self.name)


@dataclass(frozen=True, slots=True)
class Scenario:
    """A 办理情形: a named switch that adds or removes materials."""

    id: str
    name: str
    adds: tuple[str, ...] = ()
    removes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ServiceItem:
    """One 业务办理项 of the catalogue, at one version."""

    code: str
    name: str
    department: Department
    category: Category
    level: Level
    kind: ItemKind
    legal_limit: TimeLimit
    promised_limit: TimeLimit
    fee: Fee
    materials: tuple[Material, ...]
    version: str
    conditions: str = ""
    basis: str = ""
    place: str = ""
    hours: str = ""
    phone: str = ""
    online: bool = False
    visits: int = 1
    scenarios: tuple[Scenario, ...] = ()
    keywords: tuple[str, ...] = ()   # 常用简称 a clerk searches by (低保, 残疾证…)
    result: str = ""                 # 办理结果名称 handed out at pickup (营业执照…)
    # 特别程序 (现场核查、专家评审…) whose time the promised period does not count.
    special_procedures: str = ""
    correction_limit: TimeLimit | None = None   # 补正期限; None: the site's default
    deferral_consequence: str = ""   # 容缺: what follows a missed 补交期限, as the item's rules say
    effective_from: dt.date | None = None
    withdrawn_at: dt.date | None = None

    def material(self, material_id: str) -> Material:
        for m in self.materials:
            if m.id == material_id:
                return m
        raise KeyError(material_id)

    def is_withdrawn(self, on: dt.date) -> bool:
        return self.withdrawn_at is not None and self.withdrawn_at <= on

    def checklist(self, scenario_ids: frozenset[str] = frozenset()) -> tuple[Material, ...]:
        """The materials to ask for under the chosen scenarios (一次性告知 list).

        必要 and 非必要 materials are listed unless a chosen scenario removes them;
        情形必要 ones only when a chosen scenario adds them.
        """
        unknown = scenario_ids - {s.id for s in self.scenarios}
        if unknown:
            raise KeyError(f"unknown scenario(s) {sorted(unknown)} for item {self.code}")
        added: set[str] = set()
        removed: set[str] = set()
        for s in self.scenarios:
            if s.id in scenario_ids:
                added.update(s.adds)
                removed.update(s.removes)
        result = []
        for m in self.materials:
            if m.id in removed and m.id not in added:
                continue
            if m.necessity is Necessity.SCENARIO and m.id not in added:
                continue
            result.append(m)
        return tuple(result)


@dataclass(frozen=True, slots=True)
class BundleMaterial:
    """A material of a bundle's merged list and the items that ask for it."""

    material: Material
    item_codes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Bundle:
    """一件事一次办: several items applied for together with one merged material list."""

    code: str
    name: str
    item_codes: tuple[str, ...]
    description: str = ""

    def merged_materials(self, items: dict[str, ServiceItem]) -> tuple[BundleMaterial, ...]:
        """Each material once, in first-seen order, under the strictest terms any item sets.

        Copies: the largest number asked for. Form: the union of what is asked (原件 for
        one item and 复印件 for another means 原件和复印件). 容缺 and 告知承诺 only when
        every item allows them; 共享获取 only when every item can fetch it; necessity
        必要 when any item requires it.
        """
        merged: dict[str, tuple[Material, list[str]]] = {}
        for code in self.item_codes:
            for m in items[code].checklist():
                key = m.merge_key
                if key not in merged:
                    merged[key] = (m, [code])
                    continue
                kept, codes = merged[key]
                merged[key] = (_stricter(kept, m), [*codes, code])
        return tuple(BundleMaterial(m, tuple(codes)) for m, codes in merged.values())


_FORM_PARTS = {
    MaterialForm.ORIGINAL: {"原"}, MaterialForm.COPY: {"复"},
    MaterialForm.ORIGINAL_AND_COPY: {"原", "复"}, MaterialForm.ELECTRONIC: set(),
}


def _stricter(a: Material, b: Material) -> Material:
    parts = _FORM_PARTS[a.form] | _FORM_PARTS[b.form]
    form = (MaterialForm.ORIGINAL_AND_COPY if parts == {"原", "复"} else
            MaterialForm.ORIGINAL if parts == {"原"} else
            MaterialForm.COPY if parts == {"复"} else MaterialForm.ELECTRONIC)
    necessity = (Necessity.REQUIRED if Necessity.REQUIRED in (a.necessity, b.necessity)
                 else a.necessity)
    source = a.source if a.source == b.source else (
        MaterialSource.APPLICANT if MaterialSource.APPLICANT in (a.source, b.source)
        else MaterialSource.ISSUED)
    return replace(a, form=form, copies=max(a.copies, b.copies), necessity=necessity,
                   deferrable=a.deferrable and b.deferrable,
                   commitment=a.commitment and b.commitment, source=source)


@dataclass(frozen=True, slots=True)
class Catalogue:
    """A whole catalogue release as read from a file or the database."""

    version: str
    items: tuple[ServiceItem, ...]
    bundles: tuple[Bundle, ...] = ()
    published_at: dt.date | None = None
    publisher: str = ""
    by_code: dict[str, ServiceItem] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.by_code.update({item.code: item for item in self.items})
