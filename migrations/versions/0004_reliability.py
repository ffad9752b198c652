"""reliability: one request decision per ticket (a unique index), re-queue times on inbox and outbox rows

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 13:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

ONE_REQUEST = sa.text("\"trigger\" = 'request'")


def upgrade() -> None:
    with op.batch_alter_table('inbox_events') as batch:
        batch.add_column(sa.Column('requeued_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('outbox_actions') as batch:
        batch.add_column(sa.Column('requeued_at', sa.DateTime(timezone=True), nullable=True))
    # Older databases may hold concurrent duplicates: keep the first request decision of each ticket.
    op.execute(
        "UPDATE decisions SET \"trigger\" = 'follow_up' WHERE \"trigger\" = 'request' AND id NOT IN "
        "(SELECT MIN(id) FROM decisions WHERE \"trigger\" = 'request' GROUP BY ticket_ref)"
    )
    op.create_index(
        'uq_decisions_one_request', 'decisions', ['ticket_ref'], unique=True,
        sqlite_where=ONE_REQUEST, postgresql_where=ONE_REQUEST,
    )


def downgrade() -> None:
    op.drop_index('uq_decisions_one_request', table_name='decisions')
    with op.batch_alter_table('outbox_actions') as batch:
        batch.drop_column('requeued_at')
    with op.batch_alter_table('inbox_events') as batch:
        batch.drop_column('requeued_at')
