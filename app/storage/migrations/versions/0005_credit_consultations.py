"""credit list, consultation log

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

The 失信名单 for 信用核查 (its imports, and the entries of the current one, looked up by
normalised identity number) and the 咨询登记 log of enquiries that open no case.
"""

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'credit_lists',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('version', sa.String(64), nullable=False),
        sa.Column('publisher', sa.String(200), nullable=False),
        sa.Column('published_at', sa.Date(), nullable=False),
        sa.Column('imported_at', sa.DateTime(), nullable=False),
        sa.Column('imported_by', sa.String(64), nullable=False),
        sa.Column('origin', sa.String(500), nullable=False),
        sa.Column('sha256', sa.String(64), nullable=False),
        sa.Column('entry_count', sa.Integer(), nullable=False),
        sa.Column('is_current', sa.Boolean(), nullable=False),
    )
    op.create_index('ix_credit_lists_is_current', 'credit_lists', ['is_current'])
    op.create_table(
        'credit_entries',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('id_type', sa.String(32), nullable=False),
        sa.Column('id_number', sa.String(64), nullable=False),
        sa.Column('name', sa.String(200), nullable=False),
        sa.Column('measure', sa.String(200), nullable=False),
        sa.Column('source', sa.String(200), nullable=False),
        sa.Column('until', sa.Date(), nullable=True),
        sa.UniqueConstraint('id_number', 'id_type'),
    )
    op.create_table(
        'consultations',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('site', sa.String(12), nullable=False),
        sa.Column('terminal', sa.String(2), nullable=False),
        sa.Column('window', sa.String(8), nullable=False),
        sa.Column('clerk_id', sa.String(36), nullable=False),
        sa.Column('clerk_name', sa.String(64), nullable=False),
        sa.Column('name', sa.String(100), nullable=False),
        sa.Column('phone', sa.String(20), nullable=False),
        sa.Column('id_type', sa.String(32), nullable=False),
        sa.Column('id_number', sa.String(64), nullable=False),
        sa.Column('item_code', sa.String(64), nullable=False),
        sa.Column('item_name', sa.String(200), nullable=False),
        sa.Column('question', sa.Text(), nullable=False),
        sa.Column('answer', sa.Text(), nullable=False),
        sa.Column('checklist', sa.Boolean(), nullable=False),
    )
    op.create_index('ix_consultations_day', 'consultations', ['day'])
    op.create_index('ix_consultations_item_day', 'consultations', ['item_code', 'day'])


def downgrade() -> None:
    op.drop_index('ix_consultations_item_day', 'consultations')
    op.drop_index('ix_consultations_day', 'consultations')
    op.drop_table('consultations')
    op.drop_table('credit_entries')
    op.drop_index('ix_credit_lists_is_current', 'credit_lists')
    op.drop_table('credit_lists')
