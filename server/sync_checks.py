"""What the server checks in a pushed op before it stores anything of it (docs/sync-protocol.md §5).

Two stages, because a case event is also a link of its terminal's chain:

* :func:`event_of` — before the event is witnessed. Only what makes it a link of THIS
  terminal's chain at all: the fields the client hashes, of the types it hashes, agreeing
  with the op, written by this site and terminal. What fails here is refused and nothing
  is kept (``bad_op``, ``other_site``, ``other_terminal``).
* :func:`stored_problem` and :func:`opened_problem` — after it is witnessed. Everything the
  server stores from an event (columns of ``sync_case_events`` and ``sync_cases``) must
  fit its column, be text where text is stored and hold no control character (PostgreSQL
  refuses NUL; a printer or a terminal chokes on the others). An event failing these was
  still written by the terminal, so it stays witnessed and the op is kept as a rejection:
  one refused op never blocks the terminal's chain.

:func:`payload_problem` guards every op's payload before its row is inserted: no lone
surrogate (no client can hash it, and pull could not send it back as UTF-8) and not
absurdly deep. A NUL inside the JSON is stored escaped by both databases; it is refused
only where it would land in a column.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from app.domain.case import CaseEventKind
from app.domain.numbering import CaseNumber, CaseNumberError
from app.domain.text_checks import forbidden_character
from server.chain_witness import EVENT_KEYS

if TYPE_CHECKING:
    from server.sync import OpIn

HEX64 = re.compile(r"[0-9a-f]{64}")
# Columns of sync_case_events (server/sync_models.py), the same as the client's
# case_events. site, terminal, case_id, kind are checked against the device and the op.
_PRE_WITNESS = {"event_id": 36, "case_id": 36, "kind": 32, "site": 12, "terminal": 2}
_STORED = {"clerk_id": 36, "clerk_name": 64, "window": 8, "occurred_at": 40}
# Columns of sync_cases filled from an ``opened`` payload (number is checked by parsing).
_OPENED = {"item_code": 64, "item_name": 200}
APPLICANT_NAME = 200
MAX_DEPTH = 32    # the client's deepest payload (materials) is 4 levels


class OpProblem(ValueError):
    """Why an op cannot be taken: ``reason`` (stable code) and a Chinese message."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason, self.message = reason, message


def payload_problem(payload: Any) -> str | None:
    """Why a payload cannot be stored as it is, or None. Iterative: no recursion limit."""
    stack: list[tuple[Any, int]] = [(payload, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            return f"内容嵌套超过{MAX_DEPTH}层。"
        if isinstance(value, dict):
            stack.extend((k, depth + 1) for k in value)
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
        elif isinstance(value, str) and not _utf8(value):
            return "内容中有不成对的代理字符，不是有效的 UTF-8 文本。"
    return None


def _utf8(text: str) -> bool:
    """Whether ``text`` is valid UTF-8 text: only a lone surrogate cannot be encoded (the
    encoder's C loop, not one Python step per character: a push checks every string)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _text(value: Any, limit: int) -> bool:
    return isinstance(value, str) and len(value) <= limit and forbidden_character(value) is None


def event_of(op: OpIn) -> dict[str, Any]:
    """The op's case event: hashable, well-formed, agreeing with the op. Raises
    OpProblem(``bad_op``) — the event is then no link of any chain and nothing is kept."""
    e = op.payload
    missing = [k for k in EVENT_KEYS if k not in e]
    unknown = sorted(set(e) - set(EVENT_KEYS))
    if missing or unknown:
        raise OpProblem("bad_op", f"办件记录字段不符：缺少 {', '.join(missing) or '无'}，"
                        f"多出 {', '.join(unknown) or '无'}。")
    bad = [k for k, n in _PRE_WITNESS.items() if not _text(e[k], n) or not e[k]]
    bad += [k for k in _STORED if not isinstance(e[k], str)]   # hashed as text
    bad += [k for k in ("prev_hash", "hash")
            if not isinstance(e[k], str) or not HEX64.fullmatch(e[k])]
    if type(e["case_seq"]) is not int or not isinstance(e["payload"], dict):
        bad.append("case_seq/payload")
    if bad:
        raise OpProblem("bad_op", f"办件记录字段类型或长度不对：{', '.join(bad)}。")
    if (e["case_id"], e["kind"], e["case_seq"]) != (op.entity_id, op.kind,
                                                     op.base_version + 1):
        raise OpProblem("bad_op", "办件记录与操作不一致（case_id、kind 应相同，case_seq 应为 "
                        "base_version + 1）。")
    return e


def stored_problem(event: dict[str, Any]) -> str | None:
    """Why the witnessed event's own columns cannot be stored, or None."""
    bad = [k for k, n in _STORED.items() if not _text(event[k], n)]
    if bad:
        return f"办件记录的 {', '.join(bad)} 过长或含控制字符。"
    return None


def opened_problem(event: dict[str, Any]) -> OpProblem | None:
    """Why an ``opened`` event cannot create a case on the server, or None: its number
    must be a valid case number of the event's own site and terminal, written as the
    client writes it, and the projected fields must be text that fits."""
    p = event["payload"]
    number = p.get("number")
    if not isinstance(number, str):
        return OpProblem("bad_case_number", "收件记录中的办件编号不是文本。")
    try:
        parsed = CaseNumber.parse(number)
    except CaseNumberError as exc:
        return OpProblem("bad_case_number", f"收件记录中的办件编号“{number[:40]}”无效：{exc}")
    if str(parsed) != number:
        return OpProblem("bad_case_number", f"办件编号应写作 {parsed}。")
    if (parsed.site, parsed.terminal) != (event["site"], event["terminal"]):
        # Numbers are unique only because each terminal issues its own (app.domain.numbering).
        return OpProblem("bad_case_number", f"办件编号 {number} 属于站点 {parsed.site} 终端 "
                         f"{parsed.terminal}，不是本终端（{event['site']}-{event['terminal']}）"
                         "签发的。")
    bad = [k for k, n in _OPENED.items() if not _text(p.get(k), n)]
    applicant = p.get("applicant")
    if not isinstance(applicant, dict) or not _text(applicant.get("name"), APPLICANT_NAME):
        bad.append("applicant.name")
    if bad:
        return OpProblem("bad_payload", f"收件记录的 {', '.join(bad)} 不是文本、过长或含控制字符。")
    return None


def named_pages(entity: str, kind: str, op_payload: Any) -> set[str]:
    """The SHA-256 of every scanned page a ``pages_recorded`` case event names (its
    ``appended`` and ``materials`` lists); malformed parts are skipped here and refused
    by the case's own replay."""
    if entity != "case" or kind != CaseEventKind.PAGES_RECORDED:
        return set()
    event = op_payload.get("payload") if isinstance(op_payload, dict) else None
    if not isinstance(event, dict):
        return set()
    found: set[str] = set()
    for part in ("appended", "materials"):
        lists = event.get(part)
        if not isinstance(lists, dict):
            continue
        for pages in lists.values():
            for page in pages if isinstance(pages, list) else ():
                sha = page.get("sha256") if isinstance(page, dict) else None
                if isinstance(sha, str) and HEX64.fullmatch(sha):
                    found.add(sha)
    return found
