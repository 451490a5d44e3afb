"""reference data: catalogue versions, calendar, credit list, queue categories

Revision ID: s0002
Revises: s0001
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = 's0002'
down_revision = 's0001'
branch_labels = None
depends_on = None

_WHEN = sa.DateTime(timezone=True)
KINDS = ('catalogue', 'calendar', 'credit-list')


def upgrade() -> None:
    op.create_table('reference_versions',
                    sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True),
                    sa.Column('kind', sa.String(16), nullable=False),
                    sa.Column('version', sa.String(64), nullable=False),
                    sa.Column('sha256', sa.String(64), nullable=False),
                    sa.Column('document', sa.Text(), nullable=False),
                    sa.Column('size', sa.Integer(), nullable=False),
                    sa.Column('entries', sa.Integer(), nullable=False),
                    sa.Column('published_by', sa.String(64), nullable=False),
                    sa.Column('published_at', _WHEN, nullable=False),
                    sa.UniqueConstraint('kind', 'version'),
                    sa.UniqueConstraint('kind', 'sha256'))
    current = op.create_table('reference_current',
                              sa.Column('kind', sa.String(16), primary_key=True),
                              sa.Column('version_id', sa.Integer(),
                                        sa.ForeignKey('reference_versions.id')),
                              sa.Column('changed_at', _WHEN))
    # One row per kind from the start: publishing locks it (SELECT … FOR UPDATE).
    op.bulk_insert(current, [{'kind': k, 'version_id': None, 'changed_at': None}
                             for k in KINDS])
    op.create_table('reference_catalogue_items',
                    sa.Column('code', sa.String(64), primary_key=True),
                    sa.Column('version', sa.String(32), primary_key=True),
                    sa.Column('sha256', sa.String(64), nullable=False),
                    sa.Column('first_version_id', sa.Integer(),
                              sa.ForeignKey('reference_versions.id'), nullable=False))
    op.create_table('site_queue_categories',
                    sa.Column('site_code', sa.String(12), sa.ForeignKey('sites.code'),
                              primary_key=True),
                    sa.Column('prefix', sa.String(1), primary_key=True),
                    sa.Column('name', sa.String(20), nullable=False),
                    sa.Column('active', sa.Boolean(), nullable=False),
                    sa.Column('position', sa.Integer(), nullable=False))


def downgrade() -> None:
    for table in ('site_queue_categories', 'reference_catalogue_items', 'reference_current',
                  'reference_versions'):
        op.drop_table(table)
