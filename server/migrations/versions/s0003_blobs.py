"""blobs: declared, received in chunks, verified by SHA-256

Revision ID: s0003
Revises: s0002
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = 's0003'
down_revision = 's0002'
branch_labels = None
depends_on = None

_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table('blobs',
                    sa.Column('sha256', sa.String(64), primary_key=True),
                    sa.Column('size', sa.BigInteger(), nullable=False),
                    sa.Column('media_type', sa.String(64), nullable=False),
                    sa.Column('received', sa.BigInteger(), nullable=False),
                    sa.Column('declared_at', _WHEN, nullable=False),
                    sa.Column('accepted_at', _WHEN),
                    sa.Column('lease', sa.String(32)),
                    sa.Column('lease_until', _WHEN))
    op.create_table('blob_sites',
                    sa.Column('sha256', sa.String(64),
                              sa.ForeignKey('blobs.sha256', ondelete='CASCADE'),
                              primary_key=True),
                    sa.Column('site_code', sa.String(12), sa.ForeignKey('sites.code'),
                              primary_key=True),
                    sa.Column('declared_by', sa.String(36), sa.ForeignKey('users.id'),
                              nullable=False),
                    sa.Column('declared_at', _WHEN, nullable=False))


def downgrade() -> None:
    op.drop_table('blob_sites')
    op.drop_table('blobs')
