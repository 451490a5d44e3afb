"""accounts: sites, users, devices, refresh tokens, shared server settings

Revision ID: s0001
Revises:
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = 's0001'
down_revision = None
branch_labels = None
depends_on = None

_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table('server_meta',
                    sa.Column('key', sa.String(64), primary_key=True),
                    sa.Column('value', sa.Text(), nullable=False))
    op.create_table('sites',
                    sa.Column('code', sa.String(12), primary_key=True),
                    sa.Column('name', sa.String(100), nullable=False),
                    sa.Column('level', sa.String(8), nullable=False),
                    sa.Column('next_terminal', sa.Integer(), nullable=False))
    op.create_table('users',
                    sa.Column('id', sa.String(36), primary_key=True),
                    sa.Column('username', sa.String(64), nullable=False, unique=True),
                    sa.Column('display_name', sa.String(64), nullable=False),
                    sa.Column('role', sa.String(16), nullable=False),
                    sa.Column('site_code', sa.String(12), sa.ForeignKey('sites.code'),
                              nullable=False),
                    sa.Column('password_hash', sa.String(255), nullable=False),
                    sa.Column('active', sa.Boolean(), nullable=False),
                    sa.Column('failed_logins', sa.Integer(), nullable=False),
                    sa.Column('locked_until', _WHEN),
                    sa.Column('created_at', _WHEN, nullable=False))
    op.create_table('devices',
                    sa.Column('id', sa.String(36), primary_key=True),
                    sa.Column('site_code', sa.String(12), sa.ForeignKey('sites.code'),
                              nullable=False),
                    sa.Column('terminal', sa.String(2), nullable=False),
                    sa.Column('name', sa.String(64), nullable=False),
                    sa.Column('token_hash', sa.String(64), nullable=False, unique=True),
                    sa.Column('registered_by', sa.String(36), sa.ForeignKey('users.id'),
                              nullable=False),
                    sa.Column('registered_at', _WHEN, nullable=False),
                    sa.Column('revoked_at', _WHEN),
                    sa.UniqueConstraint('site_code', 'terminal'))
    op.create_table('refresh_tokens',
                    sa.Column('id', sa.String(36), primary_key=True),
                    sa.Column('family', sa.String(36), nullable=False),
                    sa.Column('user_id', sa.String(36), sa.ForeignKey('users.id'),
                              nullable=False),
                    sa.Column('device_id', sa.String(36), sa.ForeignKey('devices.id'),
                              nullable=False),
                    sa.Column('token_hash', sa.String(64), nullable=False, unique=True),
                    sa.Column('expires_at', _WHEN, nullable=False),
                    sa.Column('used_at', _WHEN),
                    sa.Column('revoked_at', _WHEN))
    op.create_index('ix_refresh_tokens_family', 'refresh_tokens', ['family'])


def downgrade() -> None:
    for table in ('refresh_tokens', 'devices', 'users', 'sites', 'server_meta'):
        op.drop_table(table)
