"""The clerk's window (PySide6). A client of the services in ``app``; no rules live here."""
