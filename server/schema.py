"""Every table of the server, for Alembic and the schema test: importing this module
registers each area's models on the one ``Base``."""

from server import blob_models, queue_models, reference_models, sync_models
from server.models import Base

__all__ = ["Base", "blob_models", "queue_models", "reference_models", "sync_models"]
