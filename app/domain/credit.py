"""The credit blacklist (失信名单) and the check a case records against it (信用核查).

告知承诺制 and 容缺受理 are trust extended to the applicant; an applicant with a 失信
record in force gets neither (domain.md, "Other practices"). The list is reference data,
imported from a file now and synced from the server later; its format is in
docs/operations.md ("信用核查"). The reader checks the whole file and collects every
problem, each naming its entry, so nothing is stored unless the whole file is valid.

A check is frozen into the case's events with the list's version and age, so a decision
can be explained later from the log alone, whatever the list says by then.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.domain.case import Decision, IdType, MaterialState, MaterialStatus, normalise_identity
from app.domain.identity import IdentityError
from app.domain.text_checks import forbidden_character, printable
from app.errors import UserError

FORMAT_NAME = "yichuang-credit"
FORMAT_VERSION = 1
# A county list of 100,000 entries is about 25 MB; twice that is not a credit list.
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_ENTRIES = 500_000
MAX_TEXT = {"version": 64, "publisher": 200, "name": 200, "measure": 200, "source": 200}
# An administrator fixes the first problems and imports again; a line of 10,000 does
# not help. Every problem is still in ``CreditFileError.issues``.
SHOWN_ISSUES = 20

_ACCEPTING = frozenset({Decision.ACCEPT, Decision.ACCEPT_DEFERRED, Decision.ON_THE_SPOT})


class CreditFileError(UserError, ValueError):
    """The file is not a valid credit list; ``issues`` lists every problem found."""

    def __init__(self, issues: Sequence[str]) -> None:
        self.issues = [printable(i) for i in issues] or ["失信名单文件无效"]
        shown = "；".join(self.issues[:SHOWN_ISSUES])
        more = (f"（共{len(self.issues)}处问题，以上为前{SHOWN_ISSUES}处）"
                if len(self.issues) > SHOWN_ISSUES else
                f"（共{len(self.issues)}处问题）" if len(self.issues) > 1 else "")
        super().__init__(f"失信名单文件有误，未作任何改动：{shown}{more}")


@dataclass(frozen=True, slots=True)
class CreditEntry:
    """One subject on the list: whose number, which measure, from whom, until when."""

    id_type: IdType
    id_number: str          # normalised (app.domain.case.normalise_identity)
    name: str
    measure: str            # 惩戒措施, e.g. 限制适用告知承诺制和容缺受理
    source: str = ""        # 认定部门或文书
    until: dt.date | None = None   # last day in force; None = until removed from the list

    def in_force(self, day: dt.date) -> bool:
        return self.until is None or day <= self.until

    def describe(self) -> str:
        """The entry as a refusal names it."""
        parts = [self.measure]
        if self.source:
            parts.append(f"认定：{self.source}")
        parts.append(f"有效期至{self.until.isoformat()}" if self.until else "长期有效")
        return f"{self.name}，{'，'.join(parts)}"

    def to_json(self) -> dict[str, Any]:
        return {"id_type": str(self.id_type), "id_number": self.id_number, "name": self.name,
                "measure": self.measure, "source": self.source,
                "until": self.until.isoformat() if self.until else None}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> CreditEntry:
        until = d.get("until")
        return cls(IdType(d["id_type"]), d["id_number"], d["name"], d["measure"],
                   d.get("source", ""), dt.date.fromisoformat(until) if until else None)


@dataclass(frozen=True, slots=True)
class CreditFile:
    version: str
    published_at: dt.date
    publisher: str
    entries: tuple[CreditEntry, ...]


@dataclass(frozen=True, slots=True)
class CreditCheck:
    """The outcome of one 信用核查, as a case's event records it.

    ``list_version`` "" means no list had been imported: nothing could be checked, which
    the clerk is told, and which does not block anything (the window works offline).
    ``list_imported_at`` tells one import from another, so a decision can see that the
    list changed after the case was opened.
    """

    checked_on: dt.date
    list_version: str = ""
    list_published: dt.date | None = None
    list_imported_at: str = ""
    entry: CreditEntry | None = None     # the entry in force on ``checked_on``, if any

    @property
    def listed(self) -> bool:
        """Whether a list was there to check against."""
        return bool(self.list_version)

    @property
    def hit(self) -> bool:
        return self.entry is not None

    @property
    def age_days(self) -> int | None:
        """Days from the list's publication to the check: how stale the answer may be."""
        if self.list_published is None:
            return None
        return (self.checked_on - self.list_published).days

    def same_list(self, version: str, imported_at: str) -> bool:
        return (self.list_version, self.list_imported_at) == (version, imported_at)

    def blocking(self, day: dt.date) -> CreditEntry | None:
        """The entry that withholds 容缺 and 告知承诺 on ``day`` (None if none)."""
        return self.entry if self.entry is not None and self.entry.in_force(day) else None

    def summary(self) -> str:
        """One line for the clerk, in Chinese."""
        if not self.listed:
            return "尚未导入失信名单，未能进行信用核查"
        about = f"（名单版本 {self.list_version}，发布于 {self.list_published}，已 {self.age_days} 天）"
        if self.entry is None:
            return f"信用核查：未在失信名单中{about}"
        return f"信用核查：在失信名单中——{self.entry.describe()}{about}"

    def to_json(self) -> dict[str, Any]:
        return {"checked_on": self.checked_on.isoformat(), "list_version": self.list_version,
                "list_published": (self.list_published.isoformat()
                                   if self.list_published else None),
                "list_imported_at": self.list_imported_at, "age_days": self.age_days,
                "hit": self.hit, "entry": self.entry.to_json() if self.entry else None}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> CreditCheck:
        published = d.get("list_published")
        entry = d.get("entry")
        return cls(dt.date.fromisoformat(d["checked_on"]), d.get("list_version", ""),
                   dt.date.fromisoformat(published) if published else None,
                   d.get("list_imported_at", ""),
                   CreditEntry.from_json(entry) if entry else None)


def credit_refusal(check: CreditCheck | None, decision: Decision,
                   materials: Sequence[MaterialState], day: dt.date) -> list[str]:
    """Why ``decision`` may not be made for a listed applicant (empty if it may).

    容缺受理 and 告知承诺 (a material replaced by a signed commitment) rest on the
    applicant's credit; 受理 of fully received materials, 补正 and 不予受理 do not.
    """
    entry = check.blocking(day) if check is not None else None
    if entry is None or decision not in _ACCEPTING:
        return []
    problems = []
    if decision is Decision.ACCEPT_DEFERRED:
        problems.append(f"申请人在失信名单中（{entry.describe()}），不能容缺受理：请收齐材料后"
                        "受理，或出具补正通知。")
    promised = [m.name for m in materials if m.status is MaterialStatus.COMMITMENT]
    if promised:
        problems.append(f"申请人在失信名单中（{entry.describe()}），不适用告知承诺制："
                        f"{'、'.join(promised)}须收取材料本身。")
    return problems


# ---- the file --------------------------------------------------------------------------


def _date(value: Any) -> dt.date | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def _text(value: Any, field: str, label: str, problems: list[str], *,
          required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        problems.append(f"{label}字段 {field} 应为文本")
        return ""
    text = value.strip()
    if required and not text:
        problems.append(f"{label}缺少 {field}")
    elif len(text) > MAX_TEXT[field]:
        problems.append(f"{label}字段 {field} 超过{MAX_TEXT[field]}字")
    bad = forbidden_character(text)
    if bad:
        problems.append(f"{label}字段 {field} 含有{bad}")
    return text


def _entry(raw: Any, n: int, today: dt.date, problems: list[str]) -> CreditEntry | None:
    if not isinstance(raw, dict):
        problems.append(f"第{n}条应为对象")
        return None
    name = raw.get("name")
    label = f"第{n}条（{name[:20]}）" if isinstance(name, str) and name.strip() else f"第{n}条"
    before = len(problems)
    unknown = sorted(set(raw) - {"id_type", "id_number", "name", "measure", "source", "until"})
    if unknown:
        problems.append(f"{label}有无法识别的字段：{'、'.join(unknown)}")
    try:
        id_type: IdType | None = IdType(str(raw.get("id_type")))
    except ValueError:
        problems.append(f"{label}证件类型“{raw.get('id_type')}”无法识别，可用：{'、'.join(IdType)}")
        id_type = None
    number = raw.get("id_number")
    if not isinstance(number, str):
        problems.append(f"{label}缺少证件号码 id_number")
    elif id_type is not None:
        try:
            number = normalise_identity(id_type, number, today=today)
        except IdentityError as exc:
            problems.append(f"{label}证件号码“{number[:40]}”：{exc}")
    name = _text(name, "name", label, problems)
    measure = _text(raw.get("measure"), "measure", label, problems)
    source = _text(raw.get("source"), "source", label, problems, required=False)
    until = None
    if raw.get("until") is not None:
        until = _date(raw["until"])
        if until is None:
            problems.append(f"{label}字段 until 应为 YYYY-MM-DD 或 null")
    if len(problems) > before or id_type is None or not isinstance(number, str):
        return None
    return CreditEntry(id_type, number, name, measure, source, until)


def parse_credit_bytes(data: bytes, *, today: dt.date) -> CreditFile:
    """Parse a credit list file; raise CreditFileError with every problem.

    ``today`` is the day identity numbers are checked on (a birth date in the future).
    """
    if len(data) > MAX_FILE_BYTES:
        raise CreditFileError([f"文件超过{MAX_FILE_BYTES // 1048576}MB，不像是失信名单文件"])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CreditFileError([f"文件不是UTF-8编码（第{exc.start}字节附近），请用UTF-8另存后再导入"]
                              ) from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CreditFileError([f"不是有效的JSON：第{exc.lineno}行第{exc.colno}列，{exc.msg}"]
                              ) from None
    except (RecursionError, ValueError):   # absurd nesting, a number of thousands of digits
        raise CreditFileError(["文件嵌套过深或含有过大的数字，不是失信名单文件"]) from None
    return parse_credit(doc, today=today)


def parse_credit(doc: Any, *, today: dt.date) -> CreditFile:
    if not isinstance(doc, dict):
        raise CreditFileError(["文件顶层应为对象"])
    if doc.get("format") != FORMAT_NAME:
        raise CreditFileError([f"format 应为“{FORMAT_NAME}”，这不是失信名单文件"])
    if doc.get("format_version") != FORMAT_VERSION:
        raise CreditFileError([f"format_version 为 {doc.get('format_version')!r}，本程序只认"
                               f"{FORMAT_VERSION}：请升级一窗通或向发布方索取第{FORMAT_VERSION}版格式"])
    problems: list[str] = []
    version = _text(doc.get("version"), "version", "名单", problems)
    publisher = _text(doc.get("publisher"), "publisher", "名单", problems, required=False)
    published = _date(doc.get("published_at"))
    if published is None:
        problems.append("名单字段 published_at 应为发布日期 YYYY-MM-DD")
    elif published > today:
        problems.append(f"名单发布日期 {published} 晚于今天（{today}）：请核对文件或本机时钟")
    raw_entries = doc.get("entries")
    if not isinstance(raw_entries, list):
        problems.append("名单字段 entries 应为数组")
        raw_entries = []
    elif len(raw_entries) > MAX_ENTRIES:
        problems.append(f"名单有{len(raw_entries)}条，超过上限{MAX_ENTRIES}条")
        raw_entries = []
    entries: list[CreditEntry] = []
    first_seen: dict[tuple[IdType, str], int] = {}
    for n, raw in enumerate(raw_entries, 1):
        entry = _entry(raw, n, today, problems)
        if entry is None:
            continue
        key = (entry.id_type, entry.id_number)
        if key in first_seen:
            # One subject, one entry: the check answers with one measure and one date.
            problems.append(f"第{n}条（{entry.name}）与第{first_seen[key]}条是同一{entry.id_type}"
                            f"号码，请合并为一条")
            continue
        first_seen[key] = n
        entries.append(entry)
    if problems:
        raise CreditFileError(problems)
    assert published is not None
    return CreditFile(version, published, publisher, tuple(entries))
