"""queue: each site's hall queue (windows, counters, tickets, events, the display feed)

Revision ID: s0005
Revises: s0004
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = 's0005'
down_revision = 's0004'
branch_labels = None
depends_on = None

_SITE = sa.String(12)


def upgrade() -> None:
    op.create_table('queue_windows',
                    sa.Column('site', _SITE, primary_key=True),
                    sa.Column('number', sa.String(8), primary_key=True),
                    sa.Column('name', sa.String(20), nullable=False),
                    sa.Column('categories', sa.JSON(), nullable=False),
                    sa.Column('paused', sa.Boolean(), nullable=False),
                    sa.Column('preferred_streak', sa.Integer(), nullable=False),
                    sa.Column('version', sa.Integer(), nullable=False))
    op.create_table('queue_counters',
                    sa.Column('site', _SITE, primary_key=True),
                    sa.Column('day', sa.Date(), primary_key=True),
                    sa.Column('prefix', sa.String(1), primary_key=True),
                    sa.Column('last_seq', sa.Integer(), nullable=False))
    op.create_table('queue_tickets',
                    sa.Column('id', sa.String(36), primary_key=True),
                    sa.Column('site', _SITE, nullable=False),
                    sa.Column('day', sa.Date(), nullable=False),
                    sa.Column('seq', sa.Integer(), nullable=False),
                    sa.Column('number', sa.String(8), nullable=False),
                    sa.Column('category', sa.String(1), nullable=False),
                    sa.Column('ticket_class', sa.String(8), nullable=False),
                    sa.Column('priority_reason', sa.String(32), nullable=False),
                    sa.Column('appointment', sa.String(32), nullable=False),
                    sa.Column('id_number', sa.String(64), nullable=False),
                    sa.Column('status', sa.String(16), nullable=False),
                    sa.Column('issued_at', sa.String(40), nullable=False),
                    sa.Column('queued_at', sa.String(40), nullable=False),
                    sa.Column('target_window', sa.String(8), nullable=False),
                    sa.Column('window', sa.String(8), nullable=False),
                    sa.Column('recalls', sa.Integer(), nullable=False),
                    sa.Column('returns', sa.Integer(), nullable=False),
                    sa.Column('version', sa.Integer(), nullable=False),
                    sa.UniqueConstraint('site', 'day', 'number'))
    op.create_index('ix_queue_tickets_lane', 'queue_tickets',
                    ['site', 'day', 'status', 'category', 'ticket_class', 'target_window',
                     'queued_at', 'number'])
    op.create_table('queue_ticket_events',
                    sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True),
                    sa.Column('ticket_id', sa.String(36), nullable=False),
                    sa.Column('seq', sa.Integer(), nullable=False),
                    sa.Column('kind', sa.String(16), nullable=False),
                    sa.Column('payload', sa.JSON(), nullable=False),
                    sa.Column('window', sa.String(8), nullable=False),
                    sa.Column('clerk_id', sa.String(36), nullable=False),
                    sa.Column('occurred_at', sa.String(40), nullable=False),
                    sa.UniqueConstraint('ticket_id', 'seq'))
    op.create_index('ix_queue_ticket_events_ticket_id', 'queue_ticket_events', ['ticket_id'])
    op.create_table('queue_feed',
                    sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True),
                    sa.Column('site', _SITE, nullable=False),
                    sa.Column('number', sa.String(8), nullable=False),
                    sa.Column('kind', sa.String(16), nullable=False),
                    sa.Column('window', sa.String(8), nullable=False),
                    sa.Column('at', sa.String(40), nullable=False))
    op.create_index('ix_queue_feed_site', 'queue_feed', ['site'])


def downgrade() -> None:
    for table in ('queue_feed', 'queue_ticket_events', 'queue_tickets', 'queue_counters',
                  'queue_windows'):
        op.drop_table(table)
