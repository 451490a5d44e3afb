"""The case record proves itself: anchors outside the database, replay, paper witnesses.

- :class:`Witness` writes each new chain head and each issued case number to the anchor
  file right after the commit that made it (see :mod:`app.storage.anchor`).
- :meth:`IntegrityService.start` runs before anything else touches a database: a database
  that is missing rows the anchors saw (replaced, emptied, rolled back, re-hashed) stops
  the start, so numbers already printed on receipts can never be issued again.
- :meth:`IntegrityService.verify` walks every chain, replays every case and compares it
  with the ``cases`` projection, and checks the anchors and the number marks.
- :meth:`IntegrityService.check_paper` answers whether the record still agrees with the
  code printed on a document an applicant holds.

What this cannot do is written in docs/integrity.md: whoever controls the machine before
any paper is printed or the server has seen a head can rewrite the file and the
database together.
"""

from __future__ import annotations

import datetime as dt
import getpass
import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.case import ReplayError
from app.domain.numbering import CaseNumber
from app.storage.anchor import AnchorError, AnchorFile, AnchorState, head_line, number_line
from app.storage.case_log import COLUMN_NAMES, case_events, projection_diff
from app.storage.chain import (
    ChainName,
    chains_present,
    head_of,
    row_hash,
    walk_chain,
)
from app.storage.db import Database, DatabaseError
from app.storage.models import (
    CaseDocumentRow,
    CaseEventRow,
    CaseNumberCounter,
    CaseRow,
    InstallMeta,
)

log = logging.getLogger(__name__)

CLOCK_SLACK = dt.timedelta(minutes=5)
WITNESS_CHARS = 12   # printed on documents: 48 bits, grouped 4-4-4
MIN_PAPER_CHARS = 8


class IntegrityAlarm(DatabaseError):
    """The database disagrees with what was witnessed outside it; work must not go on."""


class CaseIntegrityError(ValueError):
    """A case's current state disagrees with its own log (message in Chinese)."""


def short_witness(full_hash: str) -> str:
    """The code printed on documents: the first 12 hex digits, as 1a2b-3c4d-5e6f."""
    h = full_hash[:WITNESS_CHARS]
    return "-".join(h[i:i + 4] for i in range(0, len(h), 4))


# ---- install facts ---------------------------------------------------------------------


def meta_get(session: Session, key: str) -> str | None:
    row = session.get(InstallMeta, key)
    return row.value if row else None


def meta_set(session: Session, key: str, value: str) -> None:
    row = session.get(InstallMeta, key)
    if row is None:
        session.add(InstallMeta(key=key, value=value))
    else:
        row.value = value


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# ---- writing the witnesses ---------------------------------------------------------------


class Witness:
    """Appends chain heads and issued numbers to the anchor file after each commit.

    A failed append never undoes or hides the committed work (the applicant is at the
    window); it is remembered in ``problem`` for doctor and the status bar, and the next
    successful append carries the newer head anyway.
    """

    def __init__(self, anchor: AnchorFile) -> None:
        self.anchor = anchor
        self.problem = ""

    def record(self, *, events: Sequence[CaseEventRow] = (),
               documents: Sequence[CaseDocumentRow] = (),
               numbers: Iterable[CaseNumber] = ()) -> None:
        lines = [number_line(n.site, n.terminal, n.day, n.seq) for n in numbers]
        for chain, rows in (("events", events), ("documents", documents)):
            last: dict[tuple[str, str], CaseEventRow | CaseDocumentRow] = {}
            for r in rows:
                last[(r.site, r.terminal)] = r
            for (site, terminal), r in last.items():
                key = r.event_id if isinstance(r, CaseEventRow) else r.id
                time = (r.occurred_at if isinstance(r, CaseEventRow)
                        else r.printed_at.replace(tzinfo=dt.UTC).isoformat())
                lines.append(head_line(chain, site, terminal, key, r.hash, time))
        try:
            self.anchor.append(*lines)
            self.problem = ""
        except AnchorError as exc:
            self.problem = str(exc)
            log.error("anchor append failed: %s", exc)


# ---- reports -----------------------------------------------------------------------------


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


# ---- the service -------------------------------------------------------------------------


class IntegrityService:
    def __init__(self, db: Database, anchor: AnchorFile, *,
                 clock: Callable[[], dt.datetime] = _utc_now) -> None:
        self._db = db
        self.anchor = anchor
        self.clock = clock
        self.witness = Witness(anchor)
        self._latest_anchor_time = ""
        self.began = False   # this start began the anchors: the installation's first start

    # -- at start ------------------------------------------------------------------------

    def start(self, *, site: str, terminal: str) -> None:
        """Check the database against the anchors; on the first start, begin them.

        Raises IntegrityAlarm, with what is wrong and how to restore, when the database
        lacks what the anchors witnessed. Read-only unless anchoring begins here.
        """
        state = self.anchor.state()
        self._latest_anchor_time = state.latest_time
        with self._db.read() as session:
            install_id = meta_get(session, "install_id")
            started = meta_get(session, "anchor_started")
            findings = (self._compare(session, state, install_id) if not state.empty
                        else [])
        if state.empty:
            if started:
                raise IntegrityAlarm(
                    f"数据库记录锚定已于 {started} 开始，但锚定目录 {self.anchor.folder} 不见了或为空："
                    "数据目录可能被人改动。请从备份恢复（yichuang restore 备份目录），"
                    "或由管理员核实后执行 yichuang recover --reason 原因。")
            self._begin(site, terminal)
            self.began = True
            return
        if findings:
            marks = "、".join(f"终端{t} {d} 第{q}号" for (_s, t), (d, q) in state.numbers.items())
            raise IntegrityAlarm(
                "数据完整性检查未通过：" + "；".join(f.problem for f in findings[:3])
                + (f"（另有{len(findings) - 3}处）" if len(findings) > 3 else "")
                + (f"。本机已发出的办件编号至 {marks}" if marks else "")
                + "。为免重复发号，程序停止：请从备份恢复（yichuang restore 备份目录），"
                "或由管理员核实后执行 yichuang recover --reason 原因（编号将从上述编号之后继续）。")

    def _begin(self, site: str, terminal: str) -> None:
        """First start with anchors: new installation, or an upgrade from before them."""
        with self._db.write() as session:
            install_id = meta_get(session, "install_id") or str(uuid.uuid4())
            meta_set(session, "install_id", install_id)
            meta_set(session, "anchor_started", _utc_now().isoformat(timespec="seconds"))
            lines = self._present_lines(session)
        self.anchor.append({"kind": "install", "install_id": install_id,
                            "site": site, "terminal": terminal}, *lines)

    def _present_lines(self, session: Session) -> list[dict[str, object]]:
        """Heads of every chain and the highest number of every terminal, as they are."""
        lines: list[dict[str, object]] = []
        for chain, site, terminal in sorted(chains_present(session)):
            head = head_of(session, chain, site, terminal)
            if head is not None:
                lines.append(head_line(chain, site, terminal, head.key, head.hash, ""))
        for counter in session.scalars(select(CaseNumberCounter).order_by(
                CaseNumberCounter.day)):
            lines.append(number_line(counter.site, counter.terminal, counter.day,
                                     counter.last_seq))
        return lines

    def _compare(self, session: Session, state: AnchorState, install_id: str | None
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
        for (site, terminal), (day, seq) in state.numbers.items():
            counter = session.get(CaseNumberCounter, (site, terminal, dt.date.fromisoformat(day)))
            if counter is None or counter.last_seq < seq:
                have = counter.last_seq if counter else 0
                findings.append(Finding(f"终端{terminal}", f"终端{terminal}在{day}已发出第{seq}号办件编号，"
                                        f"数据库只记到第{have}号"))
        return findings

    # -- clock -----------------------------------------------------------------------------

    def clock_problem(self, session: Session, site: str, terminal: str,
                      covered_years: frozenset[int] | set[int], now: dt.datetime | None = None
                      ) -> str:
        """Why this terminal must not issue final numbers now, or "" if its clock is sane."""
        now = now or self.clock()
        latest = session.scalars(
            select(CaseEventRow.occurred_at).where(CaseEventRow.site == site,
                                                   CaseEventRow.terminal == terminal)
            .order_by(CaseEventRow.id.desc()).limit(1)).first() or ""
        latest = max(latest, self._latest_anchor_time)
        if latest:
            last = dt.datetime.fromisoformat(latest)
            if now < last - CLOCK_SLACK:
                local = last.astimezone().strftime("%Y-%m-%d %H:%M")
                return (f"本机时钟（{now.astimezone():%Y-%m-%d %H:%M}）早于本终端最近一次办件记录的时间"
                        f"（{local}），不能发出办件编号：请先校正系统时间。")
        if covered_years:
            low, high = min(covered_years), max(covered_years) + 1
            year = now.astimezone().year
            if not low <= year <= high:
                return (f"本机时钟的年份（{year}）超出工作日历的范围（{low}–{high}），不能发出办件编号："
                        "请先校正系统时间，或导入当年的节假日安排。")
        return ""

    # -- per case --------------------------------------------------------------------------

    def check_case(self, session: Session, case_id: str) -> None:
        """Raise CaseIntegrityError if the case's row disagrees with its own events."""
        row = session.get(CaseRow, case_id)
        if row is None:
            return
        events = case_events(session, case_id)
        bad = [e for e in events if row_hash(e) != e.hash]
        if bad:
            raise CaseIntegrityError(
                f"办件{row.number}的记录被改动过（第{bad[0].case_seq}条记录的校验值不符），"
                "已停止打印：请联系管理员运行 yichuang audit verify。")
        try:
            diff = projection_diff(row, events)
        except ReplayError as exc:
            raise CaseIntegrityError(f"办件{row.number}的记录无法重放（{exc}），已停止打印："
                                     "请联系管理员运行 yichuang audit verify。") from exc
        if diff:
            names = "、".join(COLUMN_NAMES[c] for c in diff)
            raise CaseIntegrityError(
                f"办件{row.number}的当前数据与办件记录不一致（{names}），已停止打印："
                "请联系管理员运行 yichuang audit verify。")

    # -- audit -----------------------------------------------------------------------------

    def verify(self) -> AuditReport:
        """Everything: every chain walked, every case replayed, anchors and number marks."""
        report = AuditReport()
        state = self.anchor.state(everything=True)
        report.anchor_lines = state.lines
        if state.unreadable:
            report.findings.append(Finding("锚定文件", f"锚定文件中有{state.unreadable}行无法读取"
                                           "（断电时最后一行可能不完整；多行则可能被改动）"))
        with self._db.read() as session:
            install_id = meta_get(session, "install_id")
            if state.empty and meta_get(session, "anchor_started"):
                report.findings.append(Finding("锚定文件", f"锚定目录 {self.anchor.folder} 不见了或为空"))
            if state.install_id and install_id != state.install_id:
                report.findings.append(Finding("数据库", "数据库是空的或不是本机原来的数据库"))
            chains = chains_present(session) | {(_chain(h.chain), h.site, h.terminal)
                                                for h in state.heads.values()}
            for chain, site, terminal in sorted(chains):
                report.chains.append(self._verify_chain(session, state, chain, site, terminal,
                                                        report.findings))
            report.cases = self._verify_cases(session, report.findings)
            for (site, terminal), (day, seq) in sorted(state.numbers.items()):
                counter = session.get(CaseNumberCounter,
                                      (site, terminal, dt.date.fromisoformat(day)))
                if counter is None or counter.last_seq < seq:
                    report.findings.append(Finding(
                        f"终端{terminal}", f"终端{terminal}在{day}已发出第{seq}号办件编号，数据库只记到第"
                        f"{counter.last_seq if counter else 0}号"))
        return report

    def _verify_chain(self, session: Session, state: AnchorState, chain: ChainName,
                      site: str, terminal: str, findings: list[Finding]) -> ChainSummary:
        anchored = state.heads.get((chain, site, terminal))
        want = frozenset({anchored.key}) if anchored else frozenset()
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
                ok_anchor, unwitnessed = True, walk.count - found[0]
        return ChainSummary(chain, site, terminal, walk.count, walk.intact, ok_anchor,
                            unwitnessed)

    def _verify_cases(self, session: Session, findings: list[Finding]) -> int:
        count = 0
        events_by_case: dict[str, list[CaseEventRow]] = {}
        for e in session.scalars(select(CaseEventRow).order_by(
                CaseEventRow.case_id, CaseEventRow.case_seq).execution_options(yield_per=5000)):
            events_by_case.setdefault(e.case_id, []).append(e)
        for row in session.scalars(select(CaseRow).execution_options(yield_per=2000)):
            count += 1
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
        return count

    # -- paper -----------------------------------------------------------------------------

    def check_paper(self, number: str, code: str) -> PaperCheck:
        """Does the record still hold the event whose code is printed on the paper?"""
        wanted = "".join(c for c in code.lower() if c in "0123456789abcdef")
        if len(wanted) < MIN_PAPER_CHARS or len(wanted) != len(
                "".join(c for c in code if not c.isspace() and c != "-")):
            raise ValueError(f"校验码“{code}”无效：应为文书上印的至少{MIN_PAPER_CHARS}位十六进制数字"
                             "（如 1a2b-3c4d-5e6f）")
        with self._db.read() as session:
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
        return PaperCheck(True, f"一致：办件{number}的记录与纸面校验码相符（{what}，"
                          f"{_local(event.occurred_at)}，经办人 {event.clerk_name}）。", number,
                          event.kind, event.occurred_at)

    # -- recovery --------------------------------------------------------------------------

    def recover(self, reason: str, *, os_user: str = "") -> dict[str, object]:
        """Accept the present database after an alarm; numbering resumes above every mark.

        Logged in the anchor file (who, when, why, what was replaced) and in the
        database. Returns what was done, as plain data.
        """
        reason = " ".join(reason.split())
        if len(reason) < 4:
            raise ValueError("请用 --reason 写明原因（至少4个字），例如“硬盘损坏，数据库从旧备份恢复”。")
        state = self.anchor.state(everything=True)
        bumped = []
        with self._db.write() as session:
            old_install = meta_get(session, "install_id")
            install_id = old_install or str(uuid.uuid4())
            meta_set(session, "install_id", install_id)
            meta_set(session, "anchor_started", _utc_now().isoformat(timespec="seconds"))
            for (site, terminal), (day, seq) in state.numbers.items():
                when = dt.date.fromisoformat(day)
                counter = session.get(CaseNumberCounter, (site, terminal, when))
                if counter is None:
                    session.add(CaseNumberCounter(site=site, terminal=terminal, day=when,
                                                  last_seq=seq))
                    bumped.append((terminal, day, seq))
                elif counter.last_seq < seq:
                    counter.last_seq = seq
                    bumped.append((terminal, day, seq))
            meta_set(session, "last_recovery", f"{_utc_now().isoformat(timespec='seconds')} "
                     f"{os_user or _os_user()}: {reason}")
            lines = self._present_lines(session)
        self.anchor.append({
            "kind": "recovery", "install_id": install_id, "replaced_install_id": state.install_id,
            "reason": reason, "os_user": os_user or _os_user(),
            "numbers": [{"site": s, "terminal": t, "day": d, "seq": q}
                        for (s, t), (d, q) in state.numbers.items()]}, *lines)
        return {"install_id": install_id, "numbers_resumed_above": bumped,
                "previous_install_id": state.install_id}


_KIND_WORDS = {"opened": "收件", "materials_recorded": "收取材料", "decided": "作出决定",
               "status_changed": "状态变更", "deadline_recomputed": "重算承诺日期"}


def _chain(name: str) -> ChainName:
    return "documents" if name == "documents" else "events"


def _local(iso: str) -> str:
    return dt.datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "?"
