"""Every table of the server, for Alembic and the schema test: importing this module
registers each area's models on the one ``Base``."""

from server.models import Base

__all__ = ["Base"]
