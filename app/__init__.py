"""一窗通 core library: domain rules, storage, services and the CLI.

Nothing in this package imports Qt; the window in ``ui/`` and the ``yichuang`` command
are both clients of the services defined here.
"""

__version__ = "0.1.0"
