"""sync: a case number names one case (a unique index on sync_cases.number)

Revision ID: s0006
Revises: s0005
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = 's0006'
down_revision = 's0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Before s0006 a terminal could push a case under another terminal's number. Such a
    # database cannot take the index: say which numbers, rather than fail on the index.
    taken = op.get_bind().execute(sa.text(
        'SELECT number FROM sync_cases GROUP BY number HAVING COUNT(*) > 1')).scalars().all()
    if taken:
        raise RuntimeError('以下办件编号对应多个办件，请先核查并删除冒用编号的办件再升级：'
                           + '、'.join(sorted(taken)[:20]))
    op.drop_index('ix_sync_cases_number', table_name='sync_cases')
    op.create_index('ix_sync_cases_number', 'sync_cases', ['number'], unique=True)


def downgrade() -> None:
    op.drop_index('ix_sync_cases_number', table_name='sync_cases')
    op.create_index('ix_sync_cases_number', 'sync_cases', ['number'])
