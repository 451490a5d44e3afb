"""The legal frame of a decision notice: who decides, on what basis, who hears appeals.

A notice (受理通知书, 补正材料通知书, 不予受理决定书…) states facts that must not change
after it is handed over: the issuing authority (the item's 实施主体, and the window
acting on its behalf when entrusted), the seal, the legal basis, the 文号, the deadlines
and the remedy. :func:`frame_notice` works them out at decision time from the catalogue
item and the site's settings; the result travels in the decision event (``notice``)
and every print renders from it, so a reprint a month later says what the original said
even if the catalogue or the settings changed since.

The wording fits the item's category: only 行政许可 cites 《行政许可法》 (its article 32
is about acceptance of license applications); other categories cite the item's own
设定依据, or the published 办事指南 where the catalogue names none.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from app.domain.catalogue import Category, LimitUnit, ServiceItem, TimeLimit
from app.errors import UserError

LICENSE_LAW = "《中华人民共和国行政许可法》"


# The site default 补正期限 when neither the item nor settings.toml names one.
DEFAULT_CORRECTION_LIMIT = TimeLimit(30, LimitUnit.CALENDAR_DAYS)


class NoticeConfigError(UserError, ValueError):
    """The site's settings lack what a notice must state (message in Chinese)."""


class RejectionGround(StrEnum):
    """Why an application is not accepted; each has its own legal basis for 行政许可."""

    NOT_REQUIRED = "不需要办理"      # 申请事项依法不需要取得行政许可 / 不属于本事项
    NOT_COMPETENT = "不属于本机关职权"  # another authority is competent (named on the notice)
    NOT_ELIGIBLE = "不符合受理条件"


@dataclass(frozen=True, slots=True)
class AuthoritySettings:
    """What this site knows of one 实施主体 (settings.toml ``[authorities."名称"]``)."""

    name: str
    review: str = ""        # 行政复议机关
    court: str = ""         # 有管辖权的人民法院
    seal: str = ""          # the authority's own 受理专用章 (when not entrusted)
    prefix: str = ""        # 文号 prefix, e.g. "城关烟专受"; unique per site in the county
    entrusted: bool = False  # this site's window accepts on the authority's behalf (受……委托)
    # False for a body that is not an administrative organ (a 村民委员会): its refusal is
    # not open to 行政复议, so the notice names where to raise an objection instead.
    administrative: bool = True

    @property
    def seal_name(self) -> str:
        return self.seal or f"{self.name}受理专用章"


@dataclass(frozen=True, slots=True)
class NoticeSettings:
    """The site's part of every notice: its name and seal, default 补正期限, authorities."""

    site_name: str
    site_seal: str = ""
    correction_limit: TimeLimit = DEFAULT_CORRECTION_LIMIT
    authorities: dict[str, AuthoritySettings] = field(default_factory=dict)

    @property
    def site_seal_name(self) -> str:
        return self.site_seal or f"{self.site_name}综合受理专用章"

    def authority(self, name: str, *, remedy: bool) -> AuthoritySettings:
        """The settings for ``name``; NoticeConfigError when a notice could not be right."""
        found = self.authorities.get(name)
        key = f'settings.toml 的 [authorities."{name}"]'
        if found is None:
            raise NoticeConfigError(
                f"本站点未登记实施主体“{name}”，文书无法写明出具机关和救济途径：请管理员在{key}"
                "中填写 review（复议机关）、court（人民法院）、prefix（文号前缀），受其委托受理的再加"
                " entrusted = true。")
        missing = [label for label, value in (("review（复议机关）", found.review),
                                              ("court（人民法院）", found.court)) if not value]
        if remedy and missing:
            raise NoticeConfigError(f"不予受理决定书须写明复议机关和人民法院：请管理员在{key}中"
                                    f"填写{'、'.join(missing)}。")
        return found


@dataclass(frozen=True, slots=True)
class NoticeFacts:
    """What a decision notice states beyond the case itself, frozen in the event."""

    authority: str                  # 实施主体: the deciding authority
    category: str                   # 事项类型 at decision time (decides the wording)
    seal: str                       # the seal the notice is stamped with
    entrusted_site: str = ""        # the window's site when it accepts on the authority's behalf
    document_number: str = ""       # 文号, e.g. 城关烟专受〔2026〕第01-0007号
    basis: str = ""                 # the legal basis the decision cites
    review: str = ""                # 复议机关 (不予受理)
    court: str = ""                 # 人民法院 (不予受理)
    ground: str = ""                # RejectionGround value (不予受理)
    correct_by: dt.date | None = None   # 补正期限 (补正)
    correction_limit: str = ""      # the period as words, e.g. 30个自然日
    special_procedures: str = ""    # 特别程序 whose time is not counted
    deferral_consequence: str = ""  # 容缺: consequence of a missed 补交期限, as configured
    site_name: str = ""             # the window's site, as named when deciding (footer, pickup)
    administrative: bool = True     # see AuthoritySettings.administrative

    @property
    def issuer(self) -> str:
        """The name the notice is issued under (the site when entrusted, as 受托机构)."""
        return self.entrusted_site or self.authority

    @property
    def on_behalf(self) -> str:
        return f"受{self.authority}委托" if self.entrusted_site else ""

    @property
    def license(self) -> bool:
        return self.category == str(Category.LICENSE)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "authority": self.authority, "category": self.category, "seal": self.seal,
            "entrusted_site": self.entrusted_site, "document_number": self.document_number,
            "basis": self.basis, "review": self.review, "court": self.court,
            "ground": self.ground, "correction_limit": self.correction_limit,
            "special_procedures": self.special_procedures,
            "deferral_consequence": self.deferral_consequence, "site_name": self.site_name,
            "administrative": self.administrative}
        out["correct_by"] = self.correct_by.isoformat() if self.correct_by else None
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> NoticeFacts:
        return cls(
            authority=str(d["authority"]), category=str(d["category"]), seal=str(d["seal"]),
            entrusted_site=str(d.get("entrusted_site", "")),
            document_number=str(d.get("document_number", "")), basis=str(d.get("basis", "")),
            review=str(d.get("review", "")), court=str(d.get("court", "")),
            ground=str(d.get("ground", "")),
            correct_by=dt.date.fromisoformat(d["correct_by"]) if d.get("correct_by") else None,
            correction_limit=str(d.get("correction_limit", "")),
            special_procedures=str(d.get("special_procedures", "")),
            deferral_consequence=str(d.get("deferral_consequence", "")),
            site_name=str(d.get("site_name", "")),
            administrative=bool(d.get("administrative", True)))


def item_basis(item: ServiceItem) -> str:
    """The item's 设定依据 as one citation: its first source ("…等" when there are more)."""
    text = item.basis.strip()
    if not text:
        return ""
    first = text.replace("\n", "；").split("；")[0].strip().rstrip("。；;")
    return first + ("等" if first != text.rstrip("。；;") else "")


def _and(own: str, other: str) -> str:
    """Two citations in one: "《甲》第三条等规定和《乙》第五条"."""
    if not own:
        return other
    return f"{own}{'规定' if own.endswith('等') else ''}和{other}"


def decision_basis(item: ServiceItem, decision: str, ground: RejectionGround | None) -> str:
    """The legal basis a decision cites, fitting the item's category.

    ``decision`` is the Decision value (受理 / 容缺受理 / 补正 / 不予受理 / 即办).
    """
    own = item_basis(item)
    if item.category is Category.LICENSE:
        if decision == "补正":
            return f"{LICENSE_LAW}第三十二条第一款第（四）项"
        if decision == "不予受理":
            if ground is RejectionGround.NOT_REQUIRED:
                return f"{LICENSE_LAW}第三十二条第一款第（一）项"
            if ground is RejectionGround.NOT_COMPETENT:
                return f"{LICENSE_LAW}第三十二条第一款第（二）项"
            # Not fit to be accepted under the item's own law; article 32 still governs
            # how a license application is received.
            return _and(own, f"{LICENSE_LAW}第三十二条")
        if decision == "容缺受理":
            # 容缺受理 is a local rule, not the License Law's: cite the item and say so.
            return _and(own, "本地容缺受理有关规定")
        return f"{LICENSE_LAW}第三十二条第一款第（五）项"
    if decision == "容缺受理":
        return _and(own, "本地容缺受理有关规定")
    return own or "本事项办事指南"


def frame_notice(item: ServiceItem, decision: str, settings: NoticeSettings, *,
                 ground: RejectionGround | None = None, document_number: str = "",
                 correct_by: dt.date | None = None) -> NoticeFacts:
    """The notice facts for deciding ``item`` at this site (NoticeConfigError if the
    settings cannot support them)."""
    auth = settings.authority(item.department.name, remedy=decision == "不予受理")
    limit = item.correction_limit or settings.correction_limit
    return NoticeFacts(
        authority=item.department.name, category=str(item.category),
        seal=settings.site_seal_name if auth.entrusted else auth.seal_name,
        entrusted_site=settings.site_name if auth.entrusted else "",
        document_number=document_number,
        basis=decision_basis(item, decision, ground),
        review=auth.review if decision == "不予受理" else "",
        court=auth.court if decision == "不予受理" else "",
        ground=str(ground) if ground else "",
        correct_by=correct_by if decision == "补正" else None,
        correction_limit=str(limit) if decision == "补正" else "",
        special_procedures=item.special_procedures,
        deferral_consequence=item.deferral_consequence if decision == "容缺受理" else "",
        site_name=settings.site_name, administrative=auth.administrative)


def document_number(prefix: str, year: int, terminal: str, seq: int) -> str:
    """A 文号 as printed: 城关烟专受〔2026〕第01-0007号 (the terminal keeps two offline
    terminals of one site apart, as in case numbers)."""
    return f"{prefix}〔{year}〕第{terminal}-{seq:04d}号"
