"""Entry point of the ``yichuang`` command: no arguments opens the window, else the CLI.

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


def main() -> int:
    args = sys.argv[1:]
    if args:
        from app.cli import main as cli_main

        return cli_main(args)
    if not has_display():
        # Without this Qt aborts with an English plugin error and a core dump.
        print(NO_DISPLAY, file=sys.stderr)
        return NO_DISPLAY_STATUS
    from ui.app import run

    return run()


if __name__ == "__main__":
    raise SystemExit(main())
