"""other failures: the attempts that failed otherwise than at the vendor, which ``max_attempts`` caps

``attempts`` counts vendor failures too (a 5xx, a timeout), which the retry horizon ends instead: capped on it,
a request that waited out an outage failed on the first other error after it (a database hiccup), however
many tries ``HUB_INBOX_MAX_ATTEMPTS`` allowed. Rows of older databases start at 0.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 06:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ('inbox_events', 'outbox_actions'):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('other_failures', sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    for table in ('outbox_actions', 'inbox_events'):
        with op.batch_alter_table(table) as batch:
            batch.drop_column('other_failures')
