"""Auditing the case record: every chain walked, every case replayed, the anchors and
the number marks compared, and the code on a paper checked against the record.

Read-only: nothing here writes. :class:`app.services.integrity.IntegrityService` uses the
same comparison at start-up, and ``yichuang audit verify`` / ``check-paper`` print these
reports.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.case import ReplayError
from app.services.attachments import attachment_problems
from app.storage.anchor import AnchorFile, AnchorState
from app.storage.blobs import BlobStore
from app.storage.case_log import COLUMN_NAMES, case_events, projection_diff
from app.storage.chain import ChainName, chain_name, chains_present, row_hash, walk_chain
from app.storage.db import Database
from app.storage.install_meta import meta_get
from app.storage.models import (
    CaseDocumentRow,
    CaseEventRow,
    CaseNumberCounter,
    CaseRow,
    DocumentNumberCounter,
)

MIN_PAPER_CHARS = 12   # what the paper prints: 48 bits, grouped 4-4-4


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing that is wrong, in words an administrator can act on."""

    where: str          # "办件 3301…" / "终端 01 办件记录链" / "锚定文件"
    problem: str
    case_number: str = ""
    fields: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ChainSummary:
    chain: ChainName
    site: str
    terminal: str
    rows: int
    intact: bool
    anchored: bool      # the anchor's head was found in this chain with the same hash
    unwitnessed: int    # rows written after the newest anchored head


@dataclass
class AuditReport:
    chains: list[ChainSummary] = field(default_factory=list)
    cases: int = 0
    findings: list[Finding] = field(default_factory=list)
    anchor_lines: int = 0
    # Every time an administrator accepted a database that did not match (recover, or a
    # restore of an older backup): when, who, why. Not failures, but never silent.
    recoveries: list[dict[str, str]] = field(default_factory=list)
    adopted: list[dict[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


@dataclass(frozen=True, slots=True)
class PaperCheck:
    agrees: bool
    message: str
    case_number: str = ""
    event_kind: str = ""
    occurred_at: str = ""


_CHAIN_WORDS = {"events": "办件记录链", "documents": "文书档案链"}


def compare_with_anchors(session: Session, state: AnchorState, install_id: str | None
                         ) -> list[Finding]:
    """What the database lacks of what the anchors say (cheap: no chain walk)."""
    findings = []
    if state.install_id and install_id != state.install_id:
        findings.append(Finding("数据库", "数据库是空的或不是本机原来的数据库" if not install_id
                                else "数据库属于另一个安装（安装编号不符）"))
    for head in state.heads.values():
        row: CaseEventRow | CaseDocumentRow | None
        if head.chain == "events":
            row = session.scalars(select(CaseEventRow).where(
                CaseEventRow.event_id == head.key)).first()
        else:
            row = session.get(CaseDocumentRow, head.key)
        where = f"终端{head.terminal} {_CHAIN_WORDS[head.chain]}"
        if row is None:
            findings.append(Finding(where, f"{where}缺少已锚定的记录 {head.key[:8]}（数据库被截断、"
                                    "替换或回退到旧副本）"))
        elif row.hash != head.hash or row_hash(row) != row.hash:
            findings.append(Finding(where, f"{where}中已锚定的记录 {head.key[:8]} 被改写"))
    findings += number_findings(session, state)
    return findings


def number_findings(session: Session, state: AnchorState) -> list[Finding]:
    """Numbers already on paper (case numbers, 文号) that the database would issue again."""
    findings = []
    for (site, terminal), (day, seq) in sorted(state.numbers.items()):
        counter = session.get(CaseNumberCounter, (site, terminal, dt.date.fromisoformat(day)))
        if counter is None or counter.last_seq < seq:
            have = counter.last_seq if counter else 0
            findings.append(Finding(f"终端{terminal}", f"终端{terminal}在{day}已发出第{seq}号办件编号，"
                                    f"数据库只记到第{have}号"))
    for (prefix, year, site, terminal), seq in sorted(state.docnos.items()):
        doc = session.get(DocumentNumberCounter, (prefix, year, site, terminal))
        if doc is None or doc.last_seq < seq:
            have = doc.last_seq if doc else 0
            findings.append(Finding(f"终端{terminal}", f"终端{terminal}已发出文号{prefix}〔{year}〕"
                                    f"第{seq}号，数据库只记到第{have}号"))
    return findings


def verify_record(db: Database, anchor: AnchorFile) -> AuditReport:
    """Everything: every chain walked, every case replayed, anchors and number marks."""
    report = AuditReport()
    state = anchor.state(everything=True)
    report.anchor_lines = state.lines
    report.recoveries = [{"at": str(r.get("at", "")), "os_user": str(r.get("os_user", "")),
                          "reason": str(r.get("reason", ""))} for r in state.recoveries]
    report.adopted = list(state.adopted)
    if state.unreadable:
        report.findings.append(Finding("锚定文件", f"锚定文件中有{state.unreadable}行不是有效的锚定记录"
                                       "（被人改动过）"))
    with db.read() as session:
        install_id = meta_get(session, "install_id")
        if state.empty and meta_get(session, "anchor_started"):
            report.findings.append(Finding("锚定文件", f"锚定目录 {anchor.folder} 不见了或为空"))
        if state.install_id and install_id != state.install_id:
            report.findings.append(Finding("数据库", "数据库是空的或不是本机原来的数据库"))
        chains = chains_present(session) | {(chain_name(h.chain), h.site, h.terminal)
                                            for h in state.heads.values()}
        for chain, site, terminal in sorted(chains):
            report.chains.append(_verify_chain(session, state, chain, site, terminal,
                                                    report.findings))
        report.cases = _verify_cases(session, report.findings)
        report.findings += number_findings(session, state)
        # The pages and documents the record names, on disk and unchanged.
        blobs = BlobStore(anchor.folder.parent / "blobs")
        report.findings += [Finding(f"办件{p.case_number}", p.message, p.case_number)
                            for p in attachment_problems(session, blobs)]
    return report


def _verify_chain(session: Session, state: AnchorState, chain: ChainName,
                  site: str, terminal: str, findings: list[Finding]) -> ChainSummary:
    anchored = state.heads.get((chain, site, terminal))
    written = state.written.get((chain, site, terminal), [])
    want = frozenset(key for key, _n in written) | (
        frozenset({anchored.key}) if anchored else frozenset())
    walk = walk_chain(session, chain, site, terminal, want_positions=want)
    where = f"站点{site}终端{terminal}{_CHAIN_WORDS[chain]}"
    if walk.broken_at:
        findings.append(Finding(where, f"{where}在第{walk.broken_position}条（{walk.broken_at[:8]}）"
                                "处断开：该条或其前一条记录被改动或删除"))
    ok_anchor, unwitnessed = anchored is None, 0
    if anchored is not None:
        found = walk.positions.get(anchored.key)
        if found is None:
            findings.append(Finding(where, f"{where}缺少已锚定的第 {anchored.key[:8]} 条记录："
                                    "记录被删除，或数据库被替换、回退"))
        elif found[1] != anchored.hash:
            findings.append(Finding(where, f"{where}中已锚定的记录 {anchored.key[:8]} 的校验值与"
                                    "锚定文件不符：记录被改写后重新计算了哈希"))
        else:
            # The furthest row any line names (lines of two processes may interleave).
            last = max([found[0], *(walk.positions[k][0] for k, _n in written
                                    if k in walk.positions)])
            ok_anchor, unwitnessed = True, walk.count - last
            stray = _unwritten_positions(written, walk.positions, last)
            if stray:
                shown = "、".join(map(str, stray[:5])) + ("等" if len(stray) > 5 else "")
                findings.append(Finding(
                    where, f"{where}第{shown}条（共{len(stray)}条）没有对应的锚定记录：可能是写入后"
                    "程序被强行中断、未能记下，也可能是有人绕过程序直接写入了数据库。请逐条核对，"
                    "确认无误后由管理员执行 yichuang recover --reason 原因"))
    return ChainSummary(chain, site, terminal, walk.count, walk.intact, ok_anchor,
                        unwitnessed)


def _unwritten_positions(written: list[tuple[str, int]],
                         positions: dict[str, tuple[int, str]], head: int) -> list[int]:
    """Positions up to the anchored head that no anchored commit accounts for.

    Each head line says "this commit appended n rows ending at key": those n positions
    are this program's writes. Any other position before the head was put there some
    other way. (Rows after the head are the unwitnessed tail a power cut may leave.)
    """
    covered = [False] * (head + 1)
    for key, rows in written:
        found = positions.get(key)
        if found is None:
            continue
        end = found[0]
        for p in range(max(1, end - rows + 1), min(end, head) + 1):
            covered[p] = True
    return [p for p in range(1, head + 1) if not covered[p]]


def _verify_cases(session: Session, findings: list[Finding]) -> int:
    count = 0
    events_by_case: dict[str, list[CaseEventRow]] = {}
    for e in session.scalars(select(CaseEventRow).order_by(
            CaseEventRow.case_id, CaseEventRow.case_seq).execution_options(yield_per=5000)):
        events_by_case.setdefault(e.case_id, []).append(e)
    seen: set[str] = set()
    for row in session.scalars(select(CaseRow).execution_options(yield_per=2000)):
        count += 1
        seen.add(row.id)
        where = f"办件{row.number}"
        events = events_by_case.get(row.id, [])
        try:
            diff = projection_diff(row, events)
        except ReplayError as exc:
            findings.append(Finding(where, f"{where}的记录无法重放：{exc}", row.number))
            continue
        if diff:
            names = tuple(COLUMN_NAMES[c] for c in diff)
            findings.append(Finding(where, f"{where}的当前数据与办件记录不符：{'、'.join(names)}",
                                    row.number, names))
    for case_id, events in events_by_case.items():
        if case_id not in seen:
            number = str(events[0].payload.get("number", case_id))
            findings.append(Finding(f"办件{number}", f"办件记录中有办件{number}（{len(events)}条记录），"
                                    "但当前状态表中没有它：记录被删除或伪造", number))
    return count


def check_paper(db: Database, number: str, code: str) -> PaperCheck:
    """Does the record still hold the event whose code is printed on the paper?"""
    wanted = "".join(c for c in code.lower() if c in "0123456789abcdef")
    if len(wanted) < MIN_PAPER_CHARS or len(wanted) != len(
            "".join(c for c in code if not c.isspace() and c != "-")):
        raise ValueError(f"校验码“{code}”无效：应为文书上印的至少{MIN_PAPER_CHARS}位十六进制数字"
                         "（如 1a2b-3c4d-5e6f）")
    with db.read() as session:
        row = session.scalars(select(CaseRow).where(CaseRow.number == number)).first()
        if row is None:
            return PaperCheck(False, f"数据库中没有办件{number}：记录可能被删除或数据库被替换。", number)
        events = case_events(session, row.id)
        match = [e for e in events if e.hash.startswith(wanted)]
        if not match:
            return PaperCheck(False, f"办件{number}的记录中没有校验码为 {code} 的记录："
                              "纸面文书与数据库不一致，记录可能被改写。", number)
        event = match[-1]
        walk = walk_chain(session, "events", event.site, event.terminal,
                          want_positions=frozenset({event.event_id}))
        try:
            diff = projection_diff(row, events)
        except ReplayError:
            diff = ["(replay)"]
    if event.event_id not in walk.positions or (
            walk.broken_position is not None
            and walk.broken_position <= walk.positions[event.event_id][0]):
        return PaperCheck(False, f"办件{number}的记录链在该记录之前已断开：记录被改动过。", number,
                          event.kind, event.occurred_at)
    if diff:
        return PaperCheck(False, f"纸面校验码对应的记录仍在，但办件{number}的当前数据与记录不符"
                          "（请运行 yichuang audit verify）。", number, event.kind, event.occurred_at)
    what = _KIND_WORDS.get(event.kind, event.kind)
    later = [e for e in events if e.case_seq > event.case_seq]
    since = ("此后该办件又有" + "、".join(
        f"{_KIND_WORDS.get(e.kind, e.kind)}（{_local(e.occurred_at)}）" for e in later)
        + "，纸面内容可能已不是最新状态。") if later else ""
    return PaperCheck(True, f"一致：办件{number}的记录与纸面校验码相符（{what}，"
                      f"{_local(event.occurred_at)}，经办人 {event.clerk_name}）。{since}",
                      number, event.kind, event.occurred_at)


_KIND_WORDS = {"opened": "收件", "materials_recorded": "收取材料", "decided": "作出决定",
               "status_changed": "状态变更", "deadline_recomputed": "重算承诺日期",
               "delivered": "出件", "deferred_supplied": "容缺补交"}



def _local(iso: str) -> str:
    return dt.datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")
