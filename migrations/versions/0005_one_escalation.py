"""one escalation per request: a partial unique index on outcomes(ticket_ref) where kind = 'escalated'

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

ONE_ESCALATION = sa.text("kind = 'escalated'")


def upgrade() -> None:
    # Older databases may hold the doubles of concurrent escalations: keep the first of each ticket.
    op.execute(
        "DELETE FROM outcomes WHERE kind = 'escalated' AND id NOT IN "
        "(SELECT MIN(id) FROM outcomes WHERE kind = 'escalated' GROUP BY ticket_ref)"
    )
    op.create_index(
        'uq_outcomes_one_escalation', 'outcomes', ['ticket_ref'], unique=True,
        sqlite_where=ONE_ESCALATION, postgresql_where=ONE_ESCALATION,
    )


def downgrade() -> None:
    op.drop_index('uq_outcomes_one_escalation', table_name='outcomes')
