"""cases.pages: the scanned pages of each material, projected from the case log

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29

Issue 12 (capture): a case's scanned pages are recorded by ``pages_recorded`` events
(app.domain.case_pages); the projection keeps the current list per material beside the
material states, so the window and the case PDF read it without replaying the log. A
case from before has no such event: its list is empty, which is what the log replays to.
"""

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cases') as batch:
        batch.add_column(sa.Column('pages', sa.JSON(), nullable=False, server_default='[]'))


def downgrade() -> None:
    with op.batch_alter_table('cases') as batch:
        batch.drop_column('pages')
