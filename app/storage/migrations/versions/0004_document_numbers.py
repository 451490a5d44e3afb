"""document numbers

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28

The 文号 register: the last sequence issued per printed prefix, year, site and terminal for
decision notices, bumped in the decision's own write transaction like case numbers.
"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'document_number_counters',
        sa.Column('prefix', sa.String(40), primary_key=True),
        sa.Column('year', sa.Integer(), primary_key=True),
        sa.Column('site', sa.String(12), primary_key=True),
        sa.Column('terminal', sa.String(2), primary_key=True),
        sa.Column('last_seq', sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('document_number_counters')
