"""kb_embeddings: retrieval units' dense vectors, shared by every process on the database

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 23:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('kb_embeddings',
    sa.Column('model', sa.String(length=255), nullable=False),
    sa.Column('text_sha1', sa.String(length=40), nullable=False),
    sa.Column('vector', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('model', 'text_sha1')
    )


def downgrade() -> None:
    op.drop_table('kb_embeddings')
