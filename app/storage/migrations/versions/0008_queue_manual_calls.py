"""queue_manual_calls: numbers called by voice while the queue could not be used; the
queue's lane index

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29

architecture.md, "Queue authority": when the queue cannot be used (the site server out of
reach, the kiosk or its printer down and numbers handed out on paper), the clerk calls by
voice and types the number announced. Each such call is kept here — once per number and
day — for the day's figures and the county; like the tickets' events, nobody edits it.

叫号 reads the first waiting ticket of each lane (category × class × target window, in
queue order: app.services.queue_store). The (day, status, category) index of 0007 becomes
one that ends in the lane and its order, so each lane's head is one index step; it still
serves every lookup the old one did.
"""

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

_TABLE = "queue_manual_calls"


_LANE = ['day', 'status', 'category', 'ticket_class', 'target_window', 'queued_at', 'number']


def upgrade() -> None:
    op.drop_index('ix_queue_tickets_day_status', 'queue_tickets')
    op.create_index('ix_queue_tickets_lane', 'queue_tickets', _LANE)
    op.create_table(
        _TABLE,
        sa.Column('id', sa.String(36), primary_key=True),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('number', sa.String(16), nullable=False),
        sa.Column('window', sa.String(8), nullable=False),
        sa.Column('clerk_id', sa.String(36), nullable=False),
        sa.Column('reason', sa.String(200), nullable=False),
        sa.Column('called_at', sa.String(32), nullable=False),
        sa.UniqueConstraint('day', 'number'),
    )
    op.create_index('ix_queue_manual_calls_day', _TABLE, ['day'])
    for what, when in (("update", "UPDATE"), ("delete", "DELETE")):
        op.execute(f"CREATE TRIGGER {_TABLE}_no_{what} BEFORE {when} ON {_TABLE} "
                   f"BEGIN SELECT RAISE(ABORT, '{_TABLE} is append-only'); END")
    # INSERT OR REPLACE deletes without firing the delete trigger: refuse it too.
    op.execute(f"CREATE TRIGGER {_TABLE}_no_replace BEFORE INSERT ON {_TABLE} "
               f"WHEN EXISTS (SELECT 1 FROM {_TABLE} WHERE id = NEW.id "
               f"OR (day = NEW.day AND number = NEW.number)) "
               f"BEGIN SELECT RAISE(ABORT, '{_TABLE} is append-only'); END")


def downgrade() -> None:
    for what in ("update", "delete", "replace"):
        op.execute(f"DROP TRIGGER IF EXISTS {_TABLE}_no_{what}")
    op.drop_table(_TABLE)
    op.drop_index('ix_queue_tickets_lane', 'queue_tickets')
    op.create_index('ix_queue_tickets_day_status', 'queue_tickets', _LANE[:3])
