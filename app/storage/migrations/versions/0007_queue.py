"""queue: categories, windows, tickets, their events, the daily number series, 好差评

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05

The local queue authority (architecture.md, "Queue authority"). Ticket numbers count per
business day and category in ``queue_number_counters``: a new day starts a new row, so
nothing is deleted. The demo site's categories and windows are written here, so an
upgraded install has a working queue at once; an administrator edits them afterwards.
``queue_ratings`` holds the applicants' 好差评 of a finished ticket (one each), with the
clerk taken from the ticket's 办结 event; ``queue_rating_followups`` a supervisor's 回访
of a 差评.
"""

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

_CATEGORIES = [("A", "综合受理", 1), ("B", "出件", 2), ("C", "咨询", 3)]
_WINDOWS = [("1", "1号窗口", [["A", 1], ["C", 2]]),
            ("2", "2号窗口", [["A", 1], ["B", 2]]),
            ("3", "3号窗口", [["B", 1], ["C", 1]])]


def _append_only(table: str, clash: str) -> None:
    """The database itself refuses to update, delete or replace a row of ``table``
    (``clash``: when an insert would replace one)."""
    for what, when in (("update", "UPDATE"), ("delete", "DELETE")):
        op.execute(f"CREATE TRIGGER {table}_no_{what} BEFORE {when} ON {table} "
                   f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END")
    op.execute(f"CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table} "
               f"WHEN EXISTS (SELECT 1 FROM {table} WHERE {clash}) "
               f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END")


def upgrade() -> None:
    categories = op.create_table(
        'queue_categories',
        sa.Column('prefix', sa.String(1), primary_key=True),
        sa.Column('name', sa.String(20), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
    )
    windows = op.create_table(
        'queue_windows',
        sa.Column('number', sa.String(8), primary_key=True),
        sa.Column('name', sa.String(20), nullable=False),
        sa.Column('categories', sa.JSON(), nullable=False),
        sa.Column('paused', sa.Boolean(), nullable=False),
        sa.Column('preferred_streak', sa.Integer(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
    )
    op.create_table(
        'queue_number_counters',
        sa.Column('day', sa.Date(), primary_key=True),
        sa.Column('prefix', sa.String(1), primary_key=True),
        sa.Column('last_seq', sa.Integer(), nullable=False),
    )
    op.create_table(
        'queue_tickets',
        sa.Column('id', sa.String(36), primary_key=True),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('number', sa.String(8), nullable=False),
        sa.Column('category', sa.String(1), nullable=False),
        sa.Column('ticket_class', sa.String(8), nullable=False),
        sa.Column('priority_reason', sa.String(32), nullable=False),
        sa.Column('appointment', sa.String(32), nullable=False),
        sa.Column('id_number', sa.String(64), nullable=False),
        sa.Column('status', sa.String(16), nullable=False),
        sa.Column('issued_at', sa.String(32), nullable=False),
        sa.Column('queued_at', sa.String(32), nullable=False),
        sa.Column('target_window', sa.String(8), nullable=False),
        sa.Column('window', sa.String(8), nullable=False),
        sa.Column('recalls', sa.Integer(), nullable=False),
        sa.Column('returns', sa.Integer(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.UniqueConstraint('day', 'number'),
    )
    op.create_index('ix_queue_tickets_day_status', 'queue_tickets',
                    ['day', 'status', 'category'])
    op.create_table(
        'queue_ticket_events',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('event_id', sa.String(36), nullable=False),
        sa.Column('ticket_id', sa.String(36), sa.ForeignKey('queue_tickets.id'),
                  nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(16), nullable=False),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.Column('window', sa.String(8), nullable=False),
        sa.Column('clerk_id', sa.String(36), nullable=False),
        sa.Column('occurred_at', sa.String(32), nullable=False),
        sa.UniqueConstraint('ticket_id', 'seq'),
        sa.UniqueConstraint('event_id'),
    )
    op.create_index('ix_queue_ticket_events_ticket_id', 'queue_ticket_events', ['ticket_id'])
    op.create_index('ix_queue_ticket_events_at', 'queue_ticket_events', ['occurred_at'])
    # The tickets' events are the waiting and service times reported to the county: the
    # database itself refuses their edit, deletion and replacement, as for case_events.
    _append_only("queue_ticket_events", "id = NEW.id OR event_id = NEW.event_id")
    op.create_table(
        'queue_ratings',
        sa.Column('id', sa.String(36), primary_key=True),
        sa.Column('ticket_id', sa.String(36), sa.ForeignKey('queue_tickets.id'),
                  nullable=False),
        sa.Column('ticket_number', sa.String(8), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('case_id', sa.String(36), nullable=False),
        sa.Column('window', sa.String(8), nullable=False),
        sa.Column('clerk_id', sa.String(36), nullable=False),
        sa.Column('grade', sa.Integer(), nullable=False),
        sa.Column('reasons', sa.JSON(), nullable=False),
        sa.Column('rated_at', sa.String(32), nullable=False),
        sa.Column('follow_up_required', sa.Boolean(), nullable=False),
        sa.UniqueConstraint('ticket_id'),
        sa.CheckConstraint('grade BETWEEN 1 AND 5', name='ck_queue_ratings_grade'),
    )
    op.create_index('ix_queue_ratings_day', 'queue_ratings', ['day'])
    # A rating is the applicant's word on a clerk: nobody edits, removes or replaces it.
    _append_only("queue_ratings", "id = NEW.id OR ticket_id = NEW.ticket_id")
    op.create_table(
        'queue_rating_followups',
        sa.Column('id', sa.String(36), primary_key=True),
        sa.Column('rating_id', sa.String(36), sa.ForeignKey('queue_ratings.id'),
                  nullable=False),
        sa.Column('supervisor_id', sa.String(36), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('at', sa.String(32), nullable=False),
    )
    op.create_index('ix_queue_rating_followups_rating_id', 'queue_rating_followups',
                    ['rating_id'])
    op.bulk_insert(categories, [{"prefix": p, "name": n, "active": True, "position": i}
                                for p, n, i in _CATEGORIES])
    op.bulk_insert(windows, [{"number": w, "name": n, "categories": c, "paused": False,
                              "preferred_streak": 0, "version": 1} for w, n, c in _WINDOWS])


def downgrade() -> None:
    for what in ("update", "delete", "replace"):
        op.execute(f"DROP TRIGGER IF EXISTS queue_ratings_no_{what}")
        op.execute(f"DROP TRIGGER IF EXISTS queue_ticket_events_no_{what}")
    op.drop_table('queue_rating_followups')
    op.drop_table('queue_ratings')
    op.drop_table('queue_ticket_events')
    op.drop_table('queue_tickets')
    op.drop_table('queue_number_counters')
    op.drop_table('queue_windows')
    op.drop_table('queue_categories')
