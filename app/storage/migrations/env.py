"""Alembic environment: always run against the connection the application hands over."""

from alembic import context

from app.storage.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only the application runs migrations
    raise RuntimeError("run migrations through app.storage.db.Database.migrate()")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies tables
)
with context.begin_transaction():
    context.run_migrations()
