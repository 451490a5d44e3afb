"""The hall's screens as the hall sees them: on a real X server (Xvfb) at 1920×1080 and
1366×768, full screen — the kiosk (its categories, a number just taken), the hall display
(a call showing, the windows, the waiting counts, the notice) and the evaluation screen
(its grades, the reasons of a 差评).

Each size runs this file as a program under ``xvfb-run`` (the test process itself is on
the offscreen platform). The program shows every view full screen as the hall's
programs do (ui.queue.screen.show_full_screen), grabs the *screen*
to /tmp/shots/xvfb-<view>-<size>.png for a person to look at, and reports the layout
facts asserted here: every visible label and button lies on the screen, and its text
fits it (a label's size hint within its geometry, a wrapped one's height for its width).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHOTS = Path("/tmp/shots")
SIZES = ((1920, 1080), (1366, 768))
VIEWS = ("kiosk", "kiosk-number", "display", "evaluation", "evaluation-reasons")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Xvfb is an X server")
@pytest.mark.parametrize(("width", "height"), SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_every_hall_screen_fits_a_real_screen(width: int, height: int) -> None:
    assert shutil.which("xvfb-run"), "packaging/setup-env.sh installs xvfb and xauth"
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "DISPLAY")}
    env["QT_QPA_PLATFORM"] = "xcb"
    done = subprocess.run(
        ["xvfb-run", "-a", "-s", f"-screen 0 {width}x{height}x24", sys.executable,
         __file__, str(width), str(height)],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["screen"] == [width, height]
    assert sorted(report["views"]) == sorted(VIEWS)
    for view, found in report["views"].items():
        assert found["size"] == [width, height], view      # really full screen
        assert found["problems"] == [], view
        assert (SHOTS / f"xvfb-{view}-{width}x{height}.png").is_file()


# ---- the program, run under Xvfb ------------------------------------------------------


def main(width: int, height: int) -> int:
    from PySide6.QtCore import QPoint, QRect
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QAbstractButton, QApplication, QLabel, QWidget

    from app.domain.rating import Grade
    from app.workstation import open_workstation
    from ui import ops
    from ui.queue.display import HallDisplay
    from ui.queue.display_parts import HallSettings
    from ui.queue.evaluation import EvaluationView
    from ui.queue.kiosk import KioskView
    from ui.queue.screen import show_full_screen

    app = QApplication([sys.argv[0]])
    screen = app.primaryScreen()
    area = screen.geometry()

    def settle(ms: int = 600) -> None:
        # Reads finished, then the pages laid out and painted on the X server.
        ops.wait_idle(30_000)
        QTest.qWait(ms)
        ops.wait_idle(30_000)

    def problems(view: QWidget) -> list[str]:
        found: list[str] = []
        for w in [view, *view.findChildren(QWidget)]:
            if not w.isVisible():
                continue
            text = w.text() if isinstance(w, QLabel | QAbstractButton) else ""
            name = f"{type(w).__name__}“{text[:24]}”"
            rect = QRect(w.mapToGlobal(QPoint(0, 0)), w.size())
            if not area.contains(rect):
                found.append(f"{name} 超出屏幕：{rect.getRect()}")
            if isinstance(w, QLabel) and w.text():
                if w.wordWrap():
                    need = w.heightForWidth(w.width())
                    if need > w.height():
                        found.append(f"{name} 需高 {need}，只有 {w.height()}")
                else:
                    hint = w.sizeHint()
                    if hint.width() > w.width() or hint.height() > w.height():
                        found.append(f"{name} 需 {hint.width()}×{hint.height()}，"
                                     f"只有 {w.width()}×{w.height()}")
            if isinstance(w, QAbstractButton) and w.text():
                hint = w.sizeHint()
                if hint.width() > w.width() or hint.height() > w.height():
                    found.append(f"{name} 需 {hint.width()}×{hint.height()}，"
                                 f"只有 {w.width()}×{w.height()}")
        return found

    report: dict[str, dict[str, object]] = {}

    def look(view: QWidget, name: str) -> None:
        settle()
        shot = screen.grabWindow(0)
        SHOTS.mkdir(exist_ok=True)
        shot.save(str(SHOTS / f"xvfb-{name}-{width}x{height}.png"))
        report[name] = {"size": [view.width(), view.height()], "problems": problems(view)}

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        (home / "settings.toml").write_text(
            f'[printers]\nticket = "escpos:{Path(tmp) / "lp0"}"\n'
            '[voice]\nengine = "none"\n', encoding="utf-8")
        station = open_workstation(home)
        queue = station.queue
        try:
            for prefix in "AAAAABBC":
                queue.take(prefix)
            queue.call_next("1")
            queue.finish("1")                  # A001: the evaluation screen's ticket
            queue.call_next("1")
            queue.call_next("3")

            kiosk = KioskView(station)
            show_full_screen(kiosk)
            look(kiosk, "kiosk")
            kiosk.take("A")
            look(kiosk, "kiosk-number")
            kiosk.close()

            display = HallDisplay(station, settings=HallSettings(voice_engine="none"))
            show_full_screen(display)
            settle()
            queue.call_next("2")               # the call showing large
            look(display, "display")
            display.close()

            evaluation = EvaluationView(station, "1", station.ratings)
            show_full_screen(evaluation)
            look(evaluation, "evaluation")
            evaluation.choose(Grade.VERY_DISSATISFIED)
            for button in list(evaluation.reason_buttons.values())[:2]:
                button.setChecked(True)
            look(evaluation, "evaluation-reasons")
            evaluation.close()
        finally:
            ops.wait_idle(30_000)
            station.close()
    print(json.dumps({"screen": [area.width(), area.height()], "views": report},
                     ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main(int(sys.argv[1]), int(sys.argv[2])))
