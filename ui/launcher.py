"""Entry point of the ``yichuang`` command: no arguments opens the window, else the CLI.

Qt is imported only when the window is opened, so CLI commands start fast and run on
machines without a display.
"""

from __future__ import annotations

import sys


def main() -> int:
    args = sys.argv[1:]
    if args:
        from app.cli import main as cli_main

        return cli_main(args)
    from ui.app import run

    return run()


if __name__ == "__main__":
    raise SystemExit(main())
