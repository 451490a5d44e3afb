"""reference data: catalogue versions, calendar, credit list, queue categories

Revision ID: s0002
Revises: s0001
Create Date: 2026-11-29
"""

import sqlalchemy as sa  # noqa: F401 - the tables of this area go here
from alembic import op  # noqa: F401

revision = 's0002'
down_revision = 's0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
