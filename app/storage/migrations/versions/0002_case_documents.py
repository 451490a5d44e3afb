"""case documents

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

The archive of printed documents: append-only rows for each attempt to print or export
a case document and its outcome, pointing at its PDF in the content-addressed blob store.
"""

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('case_documents',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=64), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('pages', sa.Integer(), nullable=False),
    sa.Column('reprint', sa.Boolean(), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('attempt_of', sa.String(length=36), nullable=False),
    sa.Column('target', sa.String(length=300), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('clerk_id', sa.String(length=36), nullable=False),
    sa.Column('clerk_name', sa.String(length=64), nullable=False),
    sa.Column('site', sa.String(length=12), nullable=False),
    sa.Column('terminal', sa.String(length=2), nullable=False),
    sa.Column('window', sa.String(length=8), nullable=False),
    sa.Column('printed_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('case_documents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_documents_case_id'), ['case_id'], unique=False)
    op.execute(
        "CREATE TRIGGER case_documents_no_update BEFORE UPDATE ON case_documents "
        "BEGIN SELECT RAISE(ABORT, 'case_documents is append-only'); END"
    )
    op.execute(
        "CREATE TRIGGER case_documents_no_delete BEFORE DELETE ON case_documents "
        "BEGIN SELECT RAISE(ABORT, 'case_documents is append-only'); END"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS case_documents_no_update")
    op.execute("DROP TRIGGER IF EXISTS case_documents_no_delete")
    with op.batch_alter_table('case_documents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_documents_case_id'))
    op.drop_table('case_documents')
