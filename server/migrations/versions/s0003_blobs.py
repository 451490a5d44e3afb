"""blobs: declared, received in chunks, verified by SHA-256

Revision ID: s0003
Revises: s0002
Create Date: 2026-11-29
"""

import sqlalchemy as sa  # noqa: F401 - the tables of this area go here
from alembic import op  # noqa: F401

revision = 's0003'
down_revision = 's0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
