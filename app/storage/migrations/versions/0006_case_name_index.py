"""case list: applicant name index

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29

A search by part of an applicant's name (``LIKE '%明%'``) cannot seek in any index; with
100,000 cases, walking the table for a name that matches nothing took 100 ms. The
(applicant_name, opened_at) index is a tenth of the table: the case list scans it for
the matching cases first (app.services.case_list).
"""

from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_cases_name_opened', 'cases', ['applicant_name', 'opened_at'])


def downgrade() -> None:
    op.drop_index('ix_cases_name_opened', 'cases')
