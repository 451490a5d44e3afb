"""sync: a supervisor's note on how a flag was settled (sync_flags.resolution)

Revision ID: s0007
Revises: s0006
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = 's0007'
down_revision = 's0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sync_flags') as batch:
        batch.add_column(sa.Column('resolution', sa.Text()))


def downgrade() -> None:
    with op.batch_alter_table('sync_flags') as batch:
        batch.drop_column('resolution')
