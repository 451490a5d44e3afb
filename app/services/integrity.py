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
import time
import uuid
from collections.abc import Callable, Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.case import ReplayError
from app.domain.numbering import CaseNumber
from app.errors import IntegrityProblem
from app.services.audit import (
    AuditReport,
    Finding,
    PaperCheck,
    check_paper,
    compare_with_anchors,
    verify_record,
)
from app.storage.anchor import AnchorError, AnchorFile, docno_line, head_line, number_line
from app.storage.case_log import (
    COLUMN_NAMES,
    IssuedDocumentNumber,
    case_events,
    projection_diff,
)
from app.storage.chain import (
    GENESIS_HASH,
    chains_present,
    head_of,
    position_of,
    row_hash,
)
from app.storage.db import Database, DatabaseError
from app.storage.install_meta import meta_get, meta_set
from app.storage.models import (
    CaseDocumentRow,
    CaseEventRow,
    CaseNumberCounter,
    CaseRow,
    DocumentNumberCounter,
    UserRow,
)

log = logging.getLogger(__name__)

CLOCK_SLACK = dt.timedelta(minutes=5)
ADOPT_GRACE = 0.5   # seconds another process gets to anchor a commit it just made


class IntegrityAlarm(IntegrityProblem, DatabaseError):
    """The database disagrees with what was witnessed outside it; work must not go on."""


class CaseIntegrityError(ValueError):
    """A case's current state disagrees with its own log (message in Chinese)."""


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# ---- writing the witnesses ---------------------------------------------------------------


class Witness:
    """Appends chain heads and issued numbers to the anchor file after each commit.

    A failed append never undoes or hides the committed work (the applicant is at the
    window); it is remembered in ``problem`` for doctor and the status bar, and its lines
    are kept and written first by the next append that succeeds, so no commit of this
    process ever goes unwitnessed while the process lives.
    """

    MAX_UNSENT = 10_000

    def __init__(self, anchor: AnchorFile) -> None:
        self.anchor = anchor
        self.problem = ""
        self.latest_written = ""   # newest event time this process wrote (UTC ISO)
        self._unsent: list[dict[str, object]] = []

    def record(self, *, events: Sequence[CaseEventRow] = (),
               documents: Sequence[CaseDocumentRow] = (),
               numbers: Iterable[CaseNumber] = (),
               docnos: Iterable[IssuedDocumentNumber] = ()) -> None:
        lines = [number_line(n.site, n.terminal, n.day, n.seq) for n in numbers]
        lines += [docno_line(d.prefix, d.year, d.site, d.terminal, d.seq) for d in docnos]
        for chain, rows in (("events", events), ("documents", documents)):
            last: dict[tuple[str, str], CaseEventRow | CaseDocumentRow] = {}
            count: dict[tuple[str, str], int] = {}
            for r in rows:
                last[(r.site, r.terminal)] = r
                count[(r.site, r.terminal)] = count.get((r.site, r.terminal), 0) + 1
            for (site, terminal), r in last.items():
                key = r.event_id if isinstance(r, CaseEventRow) else r.id
                time = (r.occurred_at if isinstance(r, CaseEventRow)
                        else r.printed_at.replace(tzinfo=dt.UTC).isoformat())
                lines.append(head_line(chain, site, terminal, key, r.hash, time,
                                       count[(site, terminal)]))
                if chain == "events":
                    self.latest_written = max(self.latest_written, time)
        pending = [*self._unsent, *lines]
        try:
            self.anchor.append(*pending)
            self._unsent, self.problem = [], ""
        except AnchorError as exc:
            self._unsent = pending[-self.MAX_UNSENT:]
            self.problem = str(exc)
            log.error("anchor append failed: %s", exc)


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

    def start(self, *, site: str, terminal: str, adopt: bool = True) -> None:
        """Check the database against the anchors; on the first start, begin them.

        Raises IntegrityAlarm, with what is wrong and how to restore, when the database
        lacks what the anchors witnessed. Writes only when anchoring begins here, or, with
        ``adopt``, to anchor a tail the anchors missed (inspection opens pass False).
        """
        state = self.anchor.state()
        self._latest_anchor_time = state.latest_time
        with self._db.read() as session:
            install_id = meta_get(session, "install_id")
            started = meta_get(session, "anchor_started")
            empty_db = not session.scalars(select(UserRow.id).limit(1)).first() and not (
                session.scalars(select(CaseRow.id).limit(1)).first())
            findings = (compare_with_anchors(session, state, install_id) if not state.empty
                        else [])
        if state.empty:
            traces = self._traces_of_use()
            if not started and empty_db and traces:
                raise IntegrityAlarm(
                    f"数据库是空的，锚定记录也不见了，但数据目录里还有使用过的痕迹（{traces}）："
                    "这不是新安装，数据库和锚定文件可能被人删除。请从备份恢复（yichuang restore 备份目录），"
                    "或由管理员核实后执行 yichuang recover --reason 原因。")
            if started:
                raise IntegrityAlarm(
                    f"数据库记录锚定已于 {started} 开始，但锚定目录 {self.anchor.folder} 不见了或为空："
                    "数据目录可能被人改动。请从备份恢复（yichuang restore 备份目录），"
                    "或由管理员核实后执行 yichuang recover --reason 原因。")
            self._begin(site, terminal)
            self.began = True
            return
        if not findings and not state.unreadable and adopt:
            try:
                self._adopt_tails()
            except AnchorError as exc:   # a full disk must not keep the window shut
                self.witness.problem = str(exc)
        if state.unreadable:
            findings.insert(0, Finding("锚定文件", f"锚定文件中有{state.unreadable}行不是有效的锚定记录"
                                       "（被人改动过）"))
        if findings:
            marks = "、".join(f"终端{t} {d} 第{q}号" for (_s, t), (d, q) in state.numbers.items())
            docnos = "、".join(f"{p}〔{y}〕第{t}-{q:04d}号"
                               for (p, y, _s, t), q in sorted(state.docnos.items()))
            raise IntegrityAlarm(
                "数据完整性检查未通过：" + "；".join(f.problem for f in findings[:3])
                + (f"（另有{len(findings) - 3}处）" if len(findings) > 3 else "")
                + (f"。本机已发出的办件编号至 {marks}" if marks else "")
                + (f"，文号至 {docnos}" if docnos else "")
                + "。为免重复发号，程序停止：请从备份恢复（yichuang restore 备份目录），"
                "或由管理员核实后执行 yichuang recover --reason 原因（编号将从上述编号之后继续）。")

    def _adopt_tails(self) -> None:
        """Anchor rows the database has beyond its anchored heads, marked as adopted.

        A power cut between a commit and its anchor line leaves such a tail; so does a
        row written into the database around the program. Both are taken into the anchors
        here — the next write would otherwise bury them — and ``audit verify`` lists every
        adoption, so neither passes unseen. Another process that has just committed is
        given a moment to write its own line first, so its rows are not adopted.
        """
        candidates = self._tails()
        if candidates:
            time.sleep(ADOPT_GRACE)
            settled = self._tails()
            lines = [line for line in settled if line in candidates]
            if lines:
                self.anchor.append(*lines)

    def _tails(self) -> list[dict[str, object]]:
        """Head lines for the rows beyond what the anchors name (database read first,
        then the anchors, so a commit racing this start is seen in both or in neither)."""
        with self._db.read() as session:
            heads = {(c, s, t): head_of(session, c, s, t) for c, s, t in chains_present(session)}
            state = self.anchor.state()
            lines: list[dict[str, object]] = []
            for (chain, site, terminal), head in heads.items():
                if head is None:
                    continue
                anchored = state.heads.get((chain, site, terminal))
                # Lines of two processes may cross: any line naming the head counts.
                seen = {key for key, _n in state.written.get((chain, site, terminal), [])}
                if anchored is not None and (head.key == anchored.key or head.key in seen):
                    continue
                if anchored is None:   # a chain the anchors never saw at all
                    rows = head.count
                else:
                    position = position_of(session, chain, site, terminal, anchored.key)
                    if not position or head.count <= position:
                        continue
                    rows = head.count - position
                lines.append({**head_line(chain, site, terminal, head.key, head.hash, "",
                                          rows), "adopted": True})
            # Numbers the lost commit issued are on paper too: a later restore and recover
            # must resume above them, so their marks are anchored with the rows.
            for counter in session.scalars(select(CaseNumberCounter)):
                mark = (counter.day.isoformat(), counter.last_seq)
                if mark > state.numbers.get((counter.site, counter.terminal), ("", 0)):
                    lines.append(number_line(counter.site, counter.terminal, counter.day,
                                             counter.last_seq))
            for doc in session.scalars(select(DocumentNumberCounter)):
                key = (doc.prefix, doc.year, doc.site, doc.terminal)
                if doc.last_seq > state.docnos.get(key, 0):
                    lines.append(docno_line(*key, doc.last_seq))
        return lines

    def _traces_of_use(self) -> str:
        """What in the data directory says it was used before (empty when it was not)."""
        home = self.anchor.folder.parent
        found = [name for name in ("anchors", "blobs", "replaced", "未打印文书")
                 if (home / name).is_dir() and any((home / name).iterdir())]
        return "、".join(found)

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
                # Everything written before anchoring began (or before a recovery).
                lines.append(head_line(chain, site, terminal, head.key, head.hash, "",
                                       head.count))
        for counter in session.scalars(select(CaseNumberCounter).order_by(
                CaseNumberCounter.day)):
            lines.append(number_line(counter.site, counter.terminal, counter.day,
                                     counter.last_seq))
        for doc in session.scalars(select(DocumentNumberCounter)):
            lines.append(docno_line(doc.prefix, doc.year, doc.site, doc.terminal,
                                    doc.last_seq))
        return lines

    # -- clock -----------------------------------------------------------------------------

    def clock_problem(self, covered_years: frozenset[int] | set[int],
                      now: dt.datetime | None = None) -> str:
        """Why this terminal must not issue final numbers now, or "" if its clock is sane."""
        now = now or self.clock()
        # The floor is what was witnessed (the anchors at start, this process's own writes),
        # never a row someone could insert into the database with a time of their choosing.
        latest = max(self._latest_anchor_time, self.witness.latest_written)
        if latest:
            last = dt.datetime.fromisoformat(latest)
            if now < last - CLOCK_SLACK:
                local = last.astimezone().strftime("%Y-%m-%d %H:%M")
                return (f"本机时钟（{now.astimezone():%Y-%m-%d %H:%M}）早于本终端最近一次办件记录的时间"
                        f"（{local}），不能发出办件编号：请先校正系统时间。若那次记录的时间本身有误"
                        "（当时时钟偏快），由管理员核实后执行 yichuang recover --reason 原因。")
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
        bad = [e for e in events if row_hash(e) != e.hash or not _linked(session, e)]
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

    # -- audit (app.services.audit does the work) ----------------------------------------

    def verify(self) -> AuditReport:
        """Everything: every chain walked, every case replayed, anchors and number marks."""
        return verify_record(self._db, self.anchor)

    def check_paper(self, number: str, code: str) -> PaperCheck:
        """Does the record still hold the event whose code is printed on the paper?"""
        return check_paper(self._db, number, code)

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
            docnos_bumped = []
            for (prefix, year, site, terminal), seq in state.docnos.items():
                doc = session.get(DocumentNumberCounter, (prefix, year, site, terminal))
                if doc is None or doc.last_seq < seq:
                    if doc is None:
                        session.add(DocumentNumberCounter(prefix=prefix, year=year, site=site,
                                                          terminal=terminal, last_seq=seq))
                    else:
                        doc.last_seq = seq
                    docnos_bumped.append(f"{prefix}〔{year}〕第{terminal}-{seq:04d}号")
            meta_set(session, "last_recovery", f"{_utc_now().isoformat(timespec='seconds')} "
                     f"{os_user or _os_user()}: {reason}")
            lines = self._present_lines(session)
        self.anchor.append({
            "kind": "recovery", "install_id": install_id, "replaced_install_id": state.install_id,
            "reason": reason, "os_user": os_user or _os_user(),
            "numbers": [{"site": s, "terminal": t, "day": d, "seq": q}
                        for (s, t), (d, q) in state.numbers.items()],
            "docnos": state.docno_lines()}, *lines)
        return {"install_id": install_id, "numbers_resumed_above": bumped,
                "document_numbers_resumed_above": docnos_bumped,
                "previous_install_id": state.install_id}


def _linked(session: Session, event: CaseEventRow) -> bool:
    """Whether the event sits in its chain: its neighbours point at it and it at them."""
    where = (CaseEventRow.site == event.site, CaseEventRow.terminal == event.terminal)
    before = session.scalars(select(CaseEventRow.hash).where(*where, CaseEventRow.id < event.id)
                             .order_by(CaseEventRow.id.desc()).limit(1)).first()
    after = session.scalars(select(CaseEventRow.prev_hash).where(*where,
                                                                 CaseEventRow.id > event.id)
                            .order_by(CaseEventRow.id).limit(1)).first()
    return (event.prev_hash == (before or GENESIS_HASH)
            and (after is None or after == event.hash))


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "?"
