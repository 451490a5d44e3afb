"""sync: pushed ops, cases and their events, chain heads per terminal, the pull sequence

Revision ID: s0004
Revises: s0003
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = 's0004'
down_revision = 's0003'
branch_labels = None
depends_on = None

_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table('sync_ops',
                    sa.Column('op_id', sa.String(36), primary_key=True),
                    sa.Column('site', sa.String(12), sa.ForeignKey('sites.code'),
                              nullable=False),
                    sa.Column('device_id', sa.String(36), sa.ForeignKey('devices.id'),
                              nullable=False),
                    sa.Column('user_id', sa.String(36), sa.ForeignKey('users.id'),
                              nullable=False),
                    sa.Column('device_seq', sa.BigInteger(), nullable=False),
                    sa.Column('entity', sa.String(32), nullable=False),
                    sa.Column('entity_id', sa.String(36), nullable=False),
                    sa.Column('kind', sa.String(32), nullable=False),
                    sa.Column('base_version', sa.Integer(), nullable=False),
                    sa.Column('payload', sa.JSON(), nullable=False),
                    sa.Column('blob_refs', sa.JSON(), nullable=False),
                    sa.Column('client_time', sa.String(40), nullable=False),
                    sa.Column('result', sa.String(16), nullable=False),
                    sa.Column('reason', sa.String(32), nullable=False),
                    sa.Column('message', sa.Text(), nullable=False),
                    sa.Column('received_at', _WHEN, nullable=False))
    op.create_index('ix_sync_ops_entity', 'sync_ops', ['entity', 'entity_id'])
    op.create_table('sync_cases',
                    sa.Column('id', sa.String(36), primary_key=True),
                    sa.Column('site', sa.String(12), sa.ForeignKey('sites.code'),
                              nullable=False),
                    sa.Column('terminal', sa.String(2), nullable=False),
                    sa.Column('owner_id', sa.String(36), nullable=False),
                    sa.Column('number', sa.String(32), nullable=False),
                    sa.Column('item_code', sa.String(64), nullable=False),
                    sa.Column('item_name', sa.String(200), nullable=False),
                    sa.Column('applicant_name', sa.String(200), nullable=False),
                    sa.Column('status', sa.String(8), nullable=False),
                    sa.Column('version', sa.Integer(), nullable=False),
                    sa.Column('conflicted', sa.Boolean(), nullable=False),
                    sa.Column('updated_at', _WHEN, nullable=False))
    op.create_index('ix_sync_cases_site', 'sync_cases', ['site'])
    op.create_index('ix_sync_cases_number', 'sync_cases', ['number'])
    op.create_table('sync_case_events',
                    sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True),
                    sa.Column('event_id', sa.String(36), nullable=False, unique=True),
                    sa.Column('case_id', sa.String(36), sa.ForeignKey('sync_cases.id'),
                              nullable=False),
                    sa.Column('case_seq', sa.Integer(), nullable=False),
                    sa.Column('kind', sa.String(32), nullable=False),
                    sa.Column('payload', sa.JSON(), nullable=False),
                    sa.Column('clerk_id', sa.String(36), nullable=False),
                    sa.Column('clerk_name', sa.String(64), nullable=False),
                    sa.Column('site', sa.String(12), nullable=False),
                    sa.Column('terminal', sa.String(2), nullable=False),
                    sa.Column('window', sa.String(8), nullable=False),
                    sa.Column('occurred_at', sa.String(40), nullable=False),
                    sa.Column('prev_hash', sa.String(64), nullable=False),
                    sa.Column('hash', sa.String(64), nullable=False),
                    sa.Column('origin', sa.String(8), nullable=False),
                    sa.Column('op_id', sa.String(36)),
                    sa.UniqueConstraint('case_id', 'case_seq'))
    op.create_index('ix_sync_case_events_case_id', 'sync_case_events', ['case_id'])
    op.create_table('chain_heads',
                    sa.Column('site', sa.String(12), primary_key=True),
                    sa.Column('terminal', sa.String(2), primary_key=True),
                    sa.Column('sequence', sa.BigInteger(), nullable=False),
                    sa.Column('event_id', sa.String(36), nullable=False),
                    sa.Column('hash', sa.String(64), nullable=False),
                    sa.Column('acknowledged_at', _WHEN, nullable=False))
    op.create_table('chain_links',
                    sa.Column('site', sa.String(12), primary_key=True),
                    sa.Column('terminal', sa.String(2), primary_key=True),
                    sa.Column('sequence', sa.BigInteger(), primary_key=True),
                    sa.Column('event_id', sa.String(36), nullable=False),
                    sa.Column('prev_hash', sa.String(64), nullable=False),
                    sa.Column('hash', sa.String(64), nullable=False),
                    sa.Column('op_id', sa.String(36), nullable=False))
    op.create_index('ix_chain_links_hash', 'chain_links', ['site', 'terminal', 'hash'])
    op.create_table('sync_flags',
                    sa.Column('id', sa.String(36), primary_key=True),
                    sa.Column('site', sa.String(12), sa.ForeignKey('sites.code'),
                              nullable=False),
                    sa.Column('kind', sa.String(32), nullable=False),
                    sa.Column('device_id', sa.String(36), sa.ForeignKey('devices.id'),
                              nullable=False),
                    sa.Column('terminal', sa.String(2), nullable=False),
                    sa.Column('op_id', sa.String(36), nullable=False),
                    sa.Column('entity_id', sa.String(36), nullable=False),
                    sa.Column('message', sa.Text(), nullable=False),
                    sa.Column('detail', sa.JSON(), nullable=False),
                    sa.Column('created_at', _WHEN, nullable=False),
                    sa.Column('resolved_at', _WHEN),
                    sa.Column('resolved_by', sa.String(36)))
    op.create_index('ix_sync_flags_site', 'sync_flags', ['site', 'resolved_at'])
    op.create_table('sync_changes',
                    sa.Column('seq', sa.BigInteger(), primary_key=True, autoincrement=False),
                    sa.Column('site', sa.String(12), sa.ForeignKey('sites.code'),
                              nullable=False),
                    sa.Column('entity', sa.String(32), nullable=False),
                    sa.Column('entity_id', sa.String(36), nullable=False),
                    sa.Column('kind', sa.String(32), nullable=False),
                    sa.Column('owner_id', sa.String(36)),
                    sa.Column('data', sa.JSON(), nullable=False),
                    sa.Column('changed_at', _WHEN, nullable=False))
    op.create_index('ix_sync_changes_site_seq', 'sync_changes', ['site', 'seq'])
    counters = op.create_table('sync_counters',
                               sa.Column('name', sa.String(32), primary_key=True),
                               sa.Column('value', sa.BigInteger(), nullable=False))
    # The row every writer of changes locks at the end of its transaction (see
    # server/sync_changes.py): it must exist before the first push.
    op.bulk_insert(counters, [{'name': 'changes', 'value': 0}])


def downgrade() -> None:
    for table in ('sync_counters', 'sync_changes', 'sync_flags', 'chain_links',
                  'chain_heads', 'sync_case_events', 'sync_cases', 'sync_ops'):
        op.drop_table(table)
