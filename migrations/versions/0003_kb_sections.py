"""kb_passages: each passage's section (heading path, and the section id where the source names one)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 13:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing passages predate sections: an empty heading path until the article is stored again.
    # `hub kb import` does that (the content hash now covers the sections); for knowledge sources the
    # sync cursors are reset, so the next `hub kb sync` re-reads every article and stores its sections.
    with op.batch_alter_table('kb_passages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('heading_path', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('section_id', sa.String(length=255), nullable=True))
    op.execute("UPDATE kb_passages SET heading_path = '[]'")
    with op.batch_alter_table('kb_passages', schema=None) as batch_op:
        batch_op.alter_column('heading_path', existing_type=sa.JSON(), nullable=False)
    op.execute("DELETE FROM cursors WHERE name LIKE 'kb.sync.%'")


def downgrade() -> None:
    with op.batch_alter_table('kb_passages', schema=None) as batch_op:
        batch_op.drop_column('section_id')
        batch_op.drop_column('heading_path')
