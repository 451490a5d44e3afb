"""The form being typed, kept as a draft so a crash or a power cut does not lose it.

Until the case is opened nothing of the applicant is in the database: the clerk may be
half way through a long organisation name when the program is killed. The window saves
what is typed here (a second after the last keystroke, off the GUI thread) and offers it
back at the next start; opening the case, or discarding the form, clears it.

One draft per terminal, a small JSON file in the data directory written atomically
(temp file, fsync, rename): a kill mid-write leaves the previous draft, never half a
file. A draft that cannot be read (hand-edited, another version's) is moved aside and
ignored, never an error at start-up.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.storage.files import write_atomically

log = logging.getLogger(__name__)
MAX_DRAFT_BYTES = 64 * 1024    # a form is a few hundred bytes; anything larger is not ours


@dataclass(frozen=True, slots=True)
class AcceptanceDraft:
    """An applicant form not yet submitted, for one item under chosen 办理情形."""

    item_code: str
    scenarios: tuple[str, ...]
    form: dict[str, str | bool]      # ApplicantForm.values(): plain text and switches
    saved_at: str = ""                # local time, ISO, for the clerk

    def to_json(self) -> dict[str, Any]:
        return {"kind": "acceptance", "item_code": self.item_code,
                "scenarios": list(self.scenarios), "form": self.form,
                "saved_at": self.saved_at}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> AcceptanceDraft:
        form = d["form"]
        if d.get("kind") != "acceptance" or not isinstance(form, dict):
            raise ValueError("not an acceptance draft")
        clean = {str(k): v for k, v in form.items() if isinstance(v, (str, bool))}
        return cls(str(d["item_code"]), tuple(str(s) for s in d.get("scenarios", [])), clean,
                   str(d.get("saved_at", "")))


class DraftStore:
    """The form being typed at one window of one terminal (``yichuang --window N`` runs a
    workbench per window on one install: each keeps its own draft)."""

    def __init__(self, data_dir: Path, terminal: str, window: str = "", *,
                 adopt_legacy: bool = True) -> None:
        folder = data_dir / "drafts"
        self.path = folder / (f"acceptance-{terminal}-w{window}.json" if window
                              else f"acceptance-{terminal}.json")
        # Before drafts were per window the terminal had one file, typed at the install's
        # own window: that window takes it over (os.replace: once), no other window does.
        self._legacy = (folder / f"acceptance-{terminal}.json"
                        if window and adopt_legacy else None)

    def save(self, draft: AcceptanceDraft) -> None:
        stamped = AcceptanceDraft(draft.item_code, draft.scenarios, draft.form,
                                  dt.datetime.now().isoformat(timespec="seconds"))
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_atomically(self.path, json.dumps(stamped.to_json(), ensure_ascii=False))

    def load(self) -> AcceptanceDraft | None:
        if self._legacy is not None and not self.path.exists():
            with contextlib.suppress(OSError):   # gone already: another window took it
                os.replace(self._legacy, self.path)
        try:
            if self.path.stat().st_size > MAX_DRAFT_BYTES:
                raise ValueError("too large")
            return AcceptanceDraft.from_json(json.loads(self.path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            aside = self.path.with_suffix(".unreadable")
            log.warning("draft %s unreadable (%s); moved to %s", self.path, exc, aside)
            with contextlib.suppress(OSError):   # a read-only folder: ignored all the same
                os.replace(self.path, aside)
            return None

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
