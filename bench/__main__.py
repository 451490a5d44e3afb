"""``python -m bench`` (or ``./run bench``): run every benchmark, print the figures."""

from __future__ import annotations

from bench import (
    acceptance,
    blobs,
    capture,
    cli_startup,
    display,
    documents,
    imports,
    integrity,
    keystrokes,
    queue,
    search,
    server,
    startup,
)


def main() -> None:
    for module in (startup, cli_startup, search, documents, imports, integrity, acceptance,
                   keystrokes, queue, display, blobs, server, capture):
        print(f"== {module.__name__}")
        module.main()


if __name__ == "__main__":
    main()
