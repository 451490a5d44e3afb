"""Entry point of the ``yichuang`` command: no arguments opens the window, else the CLI.

``yichuang --window N`` opens the workbench as window N of this install (one PC serving
two windows: each clerk's workbench calls for its own window; ``[terminal] window`` in
settings.toml is the default).

Three more full-screen views open from here, each from its own process on the same data
directory: ``yichuang kiosk`` (自助取号机), ``yichuang display`` (the hall display with
its spoken calls) and ``yichuang evaluate --window N`` (好差评, turned to the applicant).

Qt is imported only when the window is opened, so CLI commands start fast and run on
machines without a display.

Exit status of the window: 0 closed normally, or handed over to the window already open
on the same data directory; 1 that window did not answer; 2 it cannot open here — no
display (one line on stderr, :data:`NO_DISPLAY`) or an installation that cannot be
opened. With arguments, the CLI's own exit statuses apply.
"""

from __future__ import annotations

import os
import sys

NO_DISPLAY = ("yichuang: 没有可用的图形界面（未设置 DISPLAY 或 WAYLAND_DISPLAY），无法打开窗口。"
              "请在桌面环境中运行；命令行功能见 yichuang --help。")
NO_DISPLAY_STATUS = 2   # non-zero: a desktop launcher or script must see that no window opened


def has_display() -> bool:
    """Whether Qt can open a window here (Linux/BSD need an X or Wayland display).

    ``QT_QPA_PLATFORM`` may name a list of platforms to try (``wayland;xcb``): one that
    needs no display server (``offscreen``, ``eglfs``, ``vnc``…) will do, ``xcb`` only
    with ``DISPLAY`` and ``wayland`` only with ``WAYLAND_DISPLAY`` — Qt aborts otherwise.
    """
    if not sys.platform.startswith(("linux", "freebsd", "openbsd")):
        return True
    env = os.environ
    x11, wayland = bool(env.get("DISPLAY")), bool(env.get("WAYLAND_DISPLAY"))
    chosen = [p.split(":", 1)[0].strip().lower()
              for p in env.get("QT_QPA_PLATFORM", "").split(";")]
    chosen = [p for p in chosen if p]
    if not chosen:
        return x11 or wayland
    return any((x11 if p == "xcb" else wayland if p.startswith("wayland") else True)
               for p in chosen)


SCREENS = {"kiosk": "自助取号机", "display": "大厅叫号显示屏", "evaluate": "窗口评价器"}


def run_screen(args: list[str]) -> int:
    """``yichuang kiosk|display|evaluate [--window N] [--home DIR]``."""
    import argparse
    from pathlib import Path

    parser = argparse.ArgumentParser(prog=f"yichuang {args[0]}", description=SCREENS[args[0]])
    if args[0] == "evaluate":
        parser.add_argument("--window", required=True, help="评价器所在的窗口号")
    parser.add_argument("--home", type=Path, help="数据目录（默认同窗口程序）")
    options = parser.parse_args(args[1:])
    if not has_display():
        print(NO_DISPLAY, file=sys.stderr)
        return NO_DISPLAY_STATUS
    if args[0] == "kiosk":
        from ui.queue.kiosk import run_kiosk

        return run_kiosk(options.home)
    if args[0] == "display":
        from ui.queue.display import run_display

        return run_display(options.home)
    from ui.queue.evaluation import run_evaluate

    return run_evaluate(options.home, options.window)


def workbench_window(args: list[str]) -> str | None:
    """The window of ``yichuang --window N`` (a workbench for window N of this install),
    or None when ``args`` are not that."""
    if len(args) == 2 and args[0] == "--window":
        return args[1]
    if len(args) == 1 and args[0].startswith("--window="):
        return args[0].split("=", 1)[1]
    return None


def main() -> int:
    args = sys.argv[1:]
    if args and args[0] in SCREENS:
        return run_screen(args)
    window = workbench_window(args)
    if args and window is None:
        from app.cli import main as cli_main

        return cli_main(args)
    if window is not None:
        from app.domain.queue import QueueRuleError, check_window  # light: no database

        try:
            window = check_window(window.strip())
        except QueueRuleError as exc:
            print(f"yichuang: {exc}", file=sys.stderr)
            return 2
    if not has_display():
        # Without this Qt aborts with an English plugin error and a core dump.
        print(NO_DISPLAY, file=sys.stderr)
        return NO_DISPLAY_STATUS
    from ui.app import run

    return run(window)


if __name__ == "__main__":
    raise SystemExit(main())
