"""Reading and writing catalogue files (``docs/catalogue-format.md``, format_version 1).

The reader checks the whole document and collects *every* problem, each naming the item,
the field and what is wrong, so an administrator can fix a file in one pass. Nothing is
returned unless the whole file is valid. Text may hold no control, invisible format or
lone surrogate characters (see :mod:`app.domain.text_checks`); the prose fields
(受理条件, 设定依据, notes, descriptions) may hold line breaks.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from app.domain.catalogue import (
    Bundle,
    Catalogue,
    Category,
    Department,
    Fee,
    ItemKind,
    Level,
    LimitUnit,
    Material,
    MaterialForm,
    MaterialSource,
    Necessity,
    Scenario,
    ServiceItem,
    TimeLimit,
)
from app.domain.catalogue_writer import FORMAT_NAME, FORMAT_VERSION
from app.domain.text_checks import LINE_BREAK, forbidden_character, printable
from app.errors import UserError

MAX_CODE_LEN = 64
MAX_KEYWORDS = 10
MAX_FILE_BYTES = 50 * 1024 * 1024

E = TypeVar("E", bound=StrEnum)


@dataclass(frozen=True, slots=True)
class CatalogueIssue:
    """One problem in a catalogue file: where (item), which field, what is wrong."""

    where: str
    field: str
    problem: str

    def __post_init__(self) -> None:
        # Values quoted from the file may hold a lone surrogate or a control character:
        # shown escaped, so printing the issue (terminal, log, JSON) can never fail.
        for name in ("where", "field", "problem"):
            object.__setattr__(self, name, printable(getattr(self, name)))

    def __str__(self) -> str:
        place = f"{self.where}，" if self.where else ""
        fld = f"字段 {self.field}：" if self.field else ""
        return f"{place}{fld}{self.problem}"


class CatalogueFileError(UserError, ValueError):
    """The file is not a valid catalogue; ``issues`` lists every problem found."""

    def __init__(self, issues: list[CatalogueIssue]) -> None:
        self.issues = issues
        head = str(issues[0]) if issues else "目录文件无效"
        more = f"（共{len(issues)}处问题）" if len(issues) > 1 else ""
        super().__init__(head + more)


def _quote(value: Any, limit: int = 40) -> str:
    """A value from the file as a message quotes it: at most ``limit`` characters."""
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "…"


class _Reader:
    """Collects issues while reading fields of one JSON object.

    ``check_chars`` False skips the character checks: an item stored before they
    existed must still load for the cases accepted under it.
    """

    def __init__(self, issues: list[CatalogueIssue], where: str, obj: Any, prefix: str = "",
                 *, check_chars: bool = True):
        self.issues = issues
        self.where = where
        self.prefix = prefix
        self.check_chars = check_chars
        self.ok = isinstance(obj, dict)
        self.obj: dict[str, Any] = obj if isinstance(obj, dict) else {}
        if not self.ok:
            self.issue("", f"应为对象（{{…}}），实际是{_json_type(obj)}")

    def issue(self, name: str, problem: str) -> None:
        fld = f"{self.prefix}{name}" if name else self.prefix.rstrip(".")
        self.issues.append(CatalogueIssue(self.where, fld, problem))

    def no_unknown_fields(self, allowed: frozenset[str]) -> None:
        """A field the format does not define is a typo that would silently be lost."""
        unknown = set(self.obj) - allowed
        if unknown:
            names = "、".join(sorted(_quote(k) for k in unknown))
            self.issue("", f"有未知字段：{names}（拼写错误？）")

    def child(self, name: str, obj: Any) -> _Reader:
        return _Reader(self.issues, self.where, obj, f"{self.prefix}{name}.",
                       check_chars=self.check_chars)

    def _check_chars(self, name: str, value: str, *, prose: bool = False) -> bool:
        if not self.check_chars:
            return True
        bad = forbidden_character(value, allow=LINE_BREAK if prose else "")
        if bad is not None:
            self.issue(name, bad)
            return False
        return True

    def _get(self, name: str, required: bool) -> Any:
        if name not in self.obj or self.obj[name] is None:
            if required and self.ok:
                self.issue(name, "缺少必填字段")
            return None
        return self.obj[name]

    def text(self, name: str, *, required: bool = False, max_len: int = 4000,
             prose: bool = False) -> str:
        """A text field, stripped; ``prose`` text may run over several lines."""
        value = self._get(name, required)
        if value is None:
            return ""
        if not isinstance(value, str):
            self.issue(name, f"应为文本，实际是{_json_type(value)}")
            return ""
        stripped: str = value.strip()
        if required and not stripped:
            self.issue(name, "不能为空")
        if len(stripped) > max_len:
            self.issue(name, f"长度{len(stripped)}超过上限{max_len}")
        if not self._check_chars(name, stripped, prose=prose):
            return ""
        return stripped

    def integer(self, name: str, *, default: int, low: int, high: int,
                required: bool = False) -> int:
        value = self._get(name, required)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.issue(name, f"应为整数，实际是{_json_type(value)}")
            return default
        if not low <= value <= high:
            self.issue(name, f"数值{value}超出范围（{low}-{high}）")
            return default
        return value

    def boolean(self, name: str, *, default: bool) -> bool:
        value = self._get(name, False)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.issue(name, f"应为 true 或 false，实际是{_json_type(value)}")
            return default
        return value

    def enum(self, name: str, kind: type[E], *, default: E | None = None) -> E:
        value = self._get(name, default is None)
        allowed = "、".join(e.value for e in kind)
        if value is None:
            return default if default is not None else next(iter(kind))
        try:
            return kind(value)
        except ValueError:
            self.issue(name, f"值“{_quote(value)}”无效，应为以下之一：{allowed}")
            return default if default is not None else next(iter(kind))

    def date(self, name: str) -> dt.date | None:
        value = self._get(name, False)
        if value is None:
            return None
        if not isinstance(value, str):
            self.issue(name, f"应为日期文本 YYYY-MM-DD，实际是{_json_type(value)}")
            return None
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            self.issue(name, f"日期“{_quote(value)}”无效，应为 YYYY-MM-DD")
            return None

    def array(self, name: str, *, required: bool = False) -> list[Any]:
        value = self._get(name, required)
        if value is None:
            return []
        if not isinstance(value, list):
            self.issue(name, f"应为数组（[…]），实际是{_json_type(value)}")
            return []
        return value

    def strings(self, name: str) -> tuple[str, ...]:
        out = []
        for i, v in enumerate(self.array(name)):
            if isinstance(v, str) and v.strip():
                if self._check_chars(f"{name}[{i}]", v.strip()):
                    out.append(v.strip())
            else:
                self.issue(f"{name}[{i}]", "应为非空文本")
        return tuple(out)


def _json_type(value: Any) -> str:
    return {
        dict: "对象", list: "数组", str: "文本", bool: "布尔值", int: "数字",
        float: "数字", type(None): "null",
    }.get(type(value), type(value).__name__)


def parse_catalogue_bytes(data: bytes) -> Catalogue:
    """Parse a catalogue file's bytes; raise CatalogueFileError with every problem."""
    if len(data) > MAX_FILE_BYTES:
        raise CatalogueFileError([CatalogueIssue("", "", "文件超过50MB，不像是事项目录文件")])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CatalogueFileError([CatalogueIssue(
            "", "", f"文件不是UTF-8编码（第{exc.start}字节附近），请用UTF-8另存后再导入")
        ]) from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CatalogueFileError([CatalogueIssue(
            "", "", f"不是有效的JSON：第{exc.lineno}行第{exc.colno}列，{exc.msg}")
        ]) from None
    except (RecursionError, ValueError):  # absurd nesting, a number of thousands of digits
        raise CatalogueFileError([CatalogueIssue(
            "", "", "文件嵌套过深或含有过大的数字，不是事项目录文件")]) from None
    return parse_catalogue(doc)


def parse_catalogue(doc: Any) -> Catalogue:
    """Build a Catalogue from an already-decoded JSON document."""
    issues: list[CatalogueIssue] = []
    top = _Reader(issues, "文件", doc)
    if not top.ok:
        raise CatalogueFileError(issues)
    if doc.get("format") != FORMAT_NAME:
        top.issue("format", f"应为“{FORMAT_NAME}”，这不是一窗通事项目录文件")
        raise CatalogueFileError(issues)
    if doc.get("format_version") != FORMAT_VERSION:
        found = _quote(doc.get("format_version"))
        top.issue("format_version", f"不支持的格式版本“{found}”，本程序支持 {FORMAT_VERSION}")
        raise CatalogueFileError(issues)
    top.no_unknown_fields(_TOP_FIELDS)
    version = top.text("version", required=True, max_len=64)
    published_at = top.date("published_at")
    publisher = top.text("publisher", max_len=200)
    raw_items = top.array("items", required=True)
    if "items" in doc and not raw_items and isinstance(doc.get("items"), list):
        top.issue("items", "至少要有一个事项")

    items: list[ServiceItem] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(raw_items):
        item = _parse_item(raw, index, issues)
        if item is None:
            continue
        if item.code in seen:
            issues.append(CatalogueIssue(
                f"第{index + 1}个事项（{item.code}）", "code",
                f"事项编码重复，与第{seen[item.code] + 1}个事项相同"))
            continue
        seen[item.code] = index
        items.append(item)

    # Bundles may name an item that has problems of its own: it is in the file, so it is
    # not reported a second time as missing.
    in_file = {raw["code"].strip() for raw in raw_items
               if isinstance(raw, dict) and isinstance(raw.get("code"), str)}
    bundles = _parse_bundles(top.array("bundles"), {i.code for i in items}, in_file, issues)
    if issues:
        raise CatalogueFileError(issues)
    return Catalogue(version=version, items=tuple(items), bundles=tuple(bundles),
                     published_at=published_at, publisher=publisher)


def _item_label(raw: Any, index: int) -> str:
    if isinstance(raw, dict):
        code = raw.get("code") if isinstance(raw.get("code"), str) else ""
        name = raw.get("name") if isinstance(raw.get("name"), str) else ""
        if code or name:
            label = f"{_quote(code, 64) or '无编码'} {_quote(name)}"
            return f"第{index + 1}个事项（{label}）".replace(" ）", "）")
    return f"第{index + 1}个事项"


def _parse_item(raw: Any, index: int, issues: list[CatalogueIssue], *,
                check_chars: bool = True) -> ServiceItem | None:
    before = len(issues)
    r = _Reader(issues, _item_label(raw, index), raw, check_chars=check_chars)
    if not r.ok:
        return None
    code = r.text("code", required=True, max_len=MAX_CODE_LEN)
    if code and any(c.isspace() for c in code):
        r.issue("code", "事项编码不能包含空格")
    name = r.text("name", required=True, max_len=200)
    dept_r = r.child("department", r._get("department", True))
    dept_r.no_unknown_fields(frozenset({"name", "code"}))
    department = Department(dept_r.text("name", required=True, max_len=200),
                            dept_r.text("code", max_len=64)) if dept_r.ok else Department("")
    category = r.enum("category", Category)
    level = r.enum("level", Level)
    kind = r.enum("kind", ItemKind)
    legal = _parse_limit(r, "legal_limit")
    promised = _parse_limit(r, "promised_limit")
    if legal and promised and legal.unit == promised.unit and promised.value > legal.value:
        r.issue("promised_limit",
                f"承诺时限{promised}不能长于法定时限{legal}")
    if kind is ItemKind.PROMISED and promised is not None and promised.value == 0:
        r.issue("promised_limit", "承诺件的承诺时限应大于0；当场办结的事项请将 kind 设为“即办件”")
    fee = _parse_fee(r)
    materials = _parse_materials(r)
    scenarios = _parse_scenarios(r, materials)
    keywords = r.strings("keywords")
    if len(keywords) > MAX_KEYWORDS:
        r.issue("keywords", f"关键词最多{MAX_KEYWORDS}个")
    for kw in keywords:
        if len(kw) > 20:
            r.issue("keywords", f"关键词“{kw[:20]}…”超过20个字")
    version = r.text("version", required=True, max_len=32)
    item_kwargs: dict[str, Any] = dict(
        conditions=r.text("conditions", prose=True), basis=r.text("basis", prose=True),
        place=r.text("place", max_len=200), hours=r.text("hours", max_len=200),
        result=r.text("result", max_len=100),
        special_procedures=r.text("special_procedures", max_len=200),
        deferral_consequence=r.text("deferral_consequence", max_len=500, prose=True),
        correction_limit=(_parse_limit(r, "correction_limit")
                          if r._get("correction_limit", False) is not None else None),
        phone=r.text("phone", max_len=64), online=r.boolean("online", default=False),
        visits=r.integer("visits", default=1, low=0, high=5),
        effective_from=r.date("effective_from"), withdrawn_at=r.date("withdrawn_at"),
    )
    correction = item_kwargs["correction_limit"]
    if correction is not None and correction.value == 0:
        r.issue("correction_limit", "补正期限至少为1天（0天的期限在出具当天就已届满）")
    r.no_unknown_fields(_ITEM_FIELDS)
    if len(issues) > before or legal is None or promised is None:
        return None
    return ServiceItem(
        code=code, name=name, department=department, category=category, level=level,
        kind=kind, legal_limit=legal, promised_limit=promised, fee=fee,
        materials=tuple(materials), scenarios=tuple(scenarios), keywords=keywords,
        version=version, **item_kwargs,
    )


_TOP_FIELDS = frozenset({"format", "format_version", "version", "published_at", "publisher",
                         "items", "bundles"})
_ITEM_FIELDS = frozenset({
    "code", "name", "department", "category", "level", "kind", "legal_limit",
    "promised_limit", "conditions", "basis", "fee", "place", "hours", "phone", "online",
    "visits", "materials", "scenarios", "keywords", "result", "version", "effective_from",
    "withdrawn_at", "special_procedures", "correction_limit", "deferral_consequence",
})
_MATERIAL_FIELDS = frozenset({"id", "name", "form", "copies", "necessity", "deferrable",
                              "commitment", "source", "note", "template"})


def _parse_limit(r: _Reader, name: str) -> TimeLimit | None:
    lr = r.child(name, r._get(name, True))
    if not lr.ok:
        return None
    lr.no_unknown_fields(frozenset({"value", "unit"}))
    value = lr.integer("value", default=-1, low=0, high=3650, required=True)
    unit = lr.enum("unit", LimitUnit)
    return TimeLimit(value, unit) if value >= 0 else None


def _parse_fee(r: _Reader) -> Fee:
    fr = r.child("fee", r._get("fee", True))
    if not fr.ok:
        return Fee()
    fr.no_unknown_fields(frozenset({"free", "amount", "basis"}))
    free = fr.boolean("free", default=True)
    amount = fr.text("amount", max_len=200)
    if not free and not amount:
        fr.issue("amount", "收费事项必须写明收费标准")
    return Fee(free=free, amount=amount, basis=fr.text("basis", max_len=500, prose=True))


def _parse_materials(r: _Reader) -> list[Material]:
    raw_list = r.array("materials", required=True)
    if "materials" in r.obj and isinstance(r.obj["materials"], list) and not raw_list:
        r.issue("materials", "至少要有一项申请材料")
    out: list[Material] = []
    ids: set[str] = set()
    for i, raw in enumerate(raw_list):
        mr = r.child(f"materials[{i}]", raw)
        if not mr.ok:
            continue
        mr.no_unknown_fields(_MATERIAL_FIELDS)
        mid = mr.text("id", required=True, max_len=32)
        if mid in ids:
            mr.issue("id", f"材料编号“{mid}”在本事项中重复")
        ids.add(mid)
        out.append(Material(
            id=mid, name=mr.text("name", required=True, max_len=200),
            form=mr.enum("form", MaterialForm), necessity=mr.enum("necessity", Necessity),
            copies=mr.integer("copies", default=1, low=0, high=99),
            deferrable=mr.boolean("deferrable", default=False),
            commitment=mr.boolean("commitment", default=False),
            source=mr.enum("source", MaterialSource, default=MaterialSource.APPLICANT),
            note=mr.text("note", max_len=1000, prose=True), template=mr.text("template", max_len=200),
        ))
    return out


def _parse_scenarios(r: _Reader, materials: list[Material]) -> list[Scenario]:
    material_ids = {m.id for m in materials}
    out: list[Scenario] = []
    ids: set[str] = set()
    added: set[str] = set()
    for i, raw in enumerate(r.array("scenarios")):
        sr = r.child(f"scenarios[{i}]", raw)
        if not sr.ok:
            continue
        sr.no_unknown_fields(frozenset({"id", "name", "adds", "removes"}))
        sid = sr.text("id", required=True, max_len=32)
        if sid in ids:
            sr.issue("id", f"情形编号“{sid}”在本事项中重复")
        ids.add(sid)
        adds, removes = sr.strings("adds"), sr.strings("removes")
        for key, refs in (("adds", adds), ("removes", removes)):
            for ref in refs:
                if ref not in material_ids:
                    sr.issue(key, f"引用了本事项中不存在的材料“{_quote(ref)}”")
        added.update(adds)
        out.append(Scenario(sid, sr.text("name", required=True, max_len=200), adds, removes))
    for m in materials:
        if m.necessity is Necessity.SCENARIO and m.id not in added:
            r.issue("materials",
                    f"材料“{m.name}”（{m.id}）标为情形必要，但没有任何办理情形需要它")
    return out


def _parse_bundles(raw_list: list[Any], item_codes: set[str], all_codes: set[str],
                   issues: list[CatalogueIssue]) -> list[Bundle]:
    out: list[Bundle] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_list):
        label = f"第{i + 1}个一件事"
        if isinstance(raw, dict) and isinstance(raw.get("name"), str):
            label += f"（{_quote(raw['name'])}）"
        br = _Reader(issues, label, raw)
        if not br.ok:
            continue
        br.no_unknown_fields(frozenset({"code", "name", "items", "description"}))
        code = br.text("code", required=True, max_len=MAX_CODE_LEN)
        if code in seen:
            br.issue("code", f"一件事编码“{code}”重复")
        if code in all_codes:
            br.issue("code", f"一件事编码“{code}”与某个事项编码相同")
        seen.add(code)
        refs = br.strings("items")
        if len(refs) < 2:
            br.issue("items", "一件事至少要包含两个事项")
        for ref in refs:
            if ref not in all_codes:
                br.issue("items", f"引用了目录中不存在的事项“{_quote(ref)}”")
        if len(set(refs)) != len(refs):
            br.issue("items", "同一事项列了多次")
        name = br.text("name", required=True, max_len=200)
        if all(ref in item_codes for ref in refs):
            out.append(Bundle(code, name, refs,
                              br.text("description", max_len=2000, prose=True)))
    return out


def item_from_json(doc: dict[str, Any]) -> ServiceItem:
    """Rebuild one stored item (already validated once); raise CatalogueFileError if not."""
    issues: list[CatalogueIssue] = []
    item = _parse_item(doc, 0, issues, check_chars=False)
    if item is None:
        raise CatalogueFileError(issues)
    return item

