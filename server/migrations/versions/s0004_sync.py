"""sync: pushed ops, cases and their events, chain heads per terminal, the pull sequence

Revision ID: s0004
Revises: s0003
Create Date: 2026-11-29
"""

import sqlalchemy as sa  # noqa: F401 - the tables of this area go here
from alembic import op  # noqa: F401

revision = 's0004'
down_revision = 's0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
