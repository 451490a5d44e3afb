"""integrity

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28

The case record proves itself: inserts that would replace an event or a print record are
refused (SQLite runs no DELETE trigger for INSERT OR REPLACE); the print archive is
hash-chained like the event log; the projection's ``opened_at`` is the OPENED event's own
time, so replaying the log reproduces it exactly; installation facts and login attempts
(kept per typed name, so unknown and known accounts behave alike) get tables.
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

_NO_REPLACE = (
    "CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table} "
    "WHEN EXISTS (SELECT 1 FROM {table} WHERE {clash}) "
    "BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
)


def upgrade() -> None:
    from app.storage.chain import GENESIS_HASH, document_hash

    op.execute(_NO_REPLACE.format(
        table="case_events",
        clash="id = NEW.id OR event_id = NEW.event_id "
              "OR (case_id = NEW.case_id AND case_seq = NEW.case_seq)"))
    op.execute(_NO_REPLACE.format(table="case_documents",
                                  clash="id = NEW.id OR rowid = NEW.rowid"))

    # Chain the print archive. Rows already there are chained once, here, in the order
    # they were written; the append-only trigger is lifted for exactly that.
    op.execute("DROP TRIGGER case_documents_no_update")
    op.add_column('case_documents', sa.Column('prev_hash', sa.String(length=64),
                                              nullable=False, server_default=''))
    op.add_column('case_documents', sa.Column('hash', sa.String(length=64),
                                              nullable=False, server_default=''))
    op.create_index('ix_case_documents_chain', 'case_documents', ['site', 'terminal'])
    conn = op.get_bind()
    rows = conn.execute(sa.text(
        "SELECT rowid, id, case_id, kind, title, sha256, size, pages, reprint, outcome, "
        "attempt_of, target, message, clerk_id, clerk_name, site, terminal, window, "
        "printed_at FROM case_documents ORDER BY rowid")).mappings().all()
    heads: dict[tuple[str, str], str] = {}
    for r in rows:
        chain = (r["site"], r["terminal"])
        prev = heads.get(chain, GENESIS_HASH)
        fields = dict(r)
        fields.pop("rowid")
        fields["reprint"] = bool(fields["reprint"])
        fields["printed_at"] = str(fields["printed_at"]).replace(" ", "T")
        digest = document_hash(prev, fields)
        conn.execute(sa.text("UPDATE case_documents SET prev_hash = :p, hash = :h "
                             "WHERE rowid = :rowid"), {"p": prev, "h": digest, "rowid": r["rowid"]})
        heads[chain] = digest
    op.execute(
        "CREATE TRIGGER case_documents_no_update BEFORE UPDATE ON case_documents "
        "BEGIN SELECT RAISE(ABORT, 'case_documents is append-only'); END"
    )

    # opened_at was taken a moment apart from the OPENED event's occurred_at; from now on
    # the projection uses the event's time (stored naive UTC).
    op.execute(
        "UPDATE cases SET opened_at = (SELECT substr(e.occurred_at, 1, 10) || ' ' || "
        "substr(e.occurred_at, 12, 15) FROM case_events e WHERE e.case_id = cases.id "
        "AND e.kind = 'opened') WHERE EXISTS (SELECT 1 FROM case_events e "
        "WHERE e.case_id = cases.id AND e.kind = 'opened')"
    )

    op.create_table('install_meta',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('login_attempts',
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_failure', sa.DateTime(), nullable=True),
    sa.Column('locked_wall', sa.DateTime(), nullable=True),
    sa.Column('locked_mono', sa.Float(), nullable=True),
    sa.Column('boot_id', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('username')
    )


def downgrade() -> None:
    op.drop_table('login_attempts')
    op.drop_table('install_meta')
    op.execute("DROP TRIGGER IF EXISTS case_events_no_replace")
    op.execute("DROP TRIGGER IF EXISTS case_documents_no_replace")
    op.execute("DROP TRIGGER IF EXISTS case_documents_no_update")
    op.drop_index('ix_case_documents_chain', table_name='case_documents')
    with op.batch_alter_table('case_documents', schema=None) as batch_op:
        batch_op.drop_column('hash')
        batch_op.drop_column('prev_hash')
    op.execute(
        "CREATE TRIGGER case_documents_no_update BEFORE UPDATE ON case_documents "
        "BEGIN SELECT RAISE(ABORT, 'case_documents is append-only'); END"
    )
