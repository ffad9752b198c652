"""lease tokens: every claim of an inbox or outbox row numbers its holder (fencing a holder whose lease lapsed)

``attempts`` cannot serve: a 429 gives its attempt back and ``hub retry`` sets it to 0, so a number a stale
holder still carries could come round again. ``lease_token`` only ever grows. Rows of older databases start
at 0; claims number from 1.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 10:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ('inbox_events', 'outbox_actions'):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('lease_token', sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    for table in ('outbox_actions', 'inbox_events'):
        with op.batch_alter_table(table) as batch:
            batch.drop_column('lease_token')
