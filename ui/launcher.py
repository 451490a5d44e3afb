"""Entry point of the ``yichuang`` command: no arguments opens the window, else the CLI.

Qt is imported only when the window is opened, so CLI commands start fast and run on
machines without a display.
"""

from __future__ import annotations

import os
import sys

NO_DISPLAY = ("yichuang: 没有可用的图形界面（未设置 DISPLAY 或 WAYLAND_DISPLAY），无法打开窗口。"
              "请在桌面环境中运行；命令行功能见 yichuang --help。")


def has_display() -> bool:
    """Whether Qt can open a window here (Linux/BSD need an X or Wayland display)."""
    if not sys.platform.startswith(("linux", "freebsd", "openbsd")):
        return True
    env = os.environ
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY") or env.get("QT_QPA_PLATFORM"))


def main() -> int:
    args = sys.argv[1:]
    if args:
        from app.cli import main as cli_main

        return cli_main(args)
    if not has_display():
        # Without this Qt aborts with an English plugin error and a core dump.
        print(NO_DISPLAY, file=sys.stderr)
        return 2
    from ui.app import run

    return run()


if __name__ == "__main__":
    raise SystemExit(main())
