"""document numbers, case list indexes

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28

The 文号 register: the last sequence issued per printed prefix, year, site and terminal for
decision notices, bumped in the decision's own write transaction like case numbers. And
the indexes the clerk's case lists walk (newest first, per item) with 100,000 cases.
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
    op.create_index('ix_cases_opened_at', 'cases', ['opened_at'])
    op.create_index('ix_cases_item_opened', 'cases', ['item_code', 'opened_at'])
    op.create_index('ix_cases_applicant_opened', 'cases', ['applicant_id_number', 'opened_at'])


def downgrade() -> None:
    op.drop_index('ix_cases_applicant_opened', 'cases')
    op.drop_index('ix_cases_item_opened', 'cases')
    op.drop_index('ix_cases_opened_at', 'cases')
    op.drop_table('document_number_counters')
