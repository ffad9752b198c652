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
    # Existing passages predate sections: an empty heading path (re-importing the KB fills it in).
    with op.batch_alter_table('kb_passages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('heading_path', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('section_id', sa.String(length=255), nullable=True))
    op.execute("UPDATE kb_passages SET heading_path = '[]'")
    with op.batch_alter_table('kb_passages', schema=None) as batch_op:
        batch_op.alter_column('heading_path', existing_type=sa.JSON(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('kb_passages', schema=None) as batch_op:
        batch_op.drop_column('section_id')
        batch_op.drop_column('heading_path')
