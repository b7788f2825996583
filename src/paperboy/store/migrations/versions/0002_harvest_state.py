"""OAI-PMH harvest checkpoints

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "harvest_state",
        sa.Column("set_spec", sa.String(64), primary_key=True),
        sa.Column("last_datestamp", sa.String(10), nullable=True),
        sa.Column("from_date", sa.String(10), nullable=True),
        sa.Column("until_date", sa.String(10), nullable=True),
        sa.Column("resumption_token", sa.Text, nullable=True),
        sa.Column("max_datestamp", sa.String(10), nullable=True),
        sa.Column("pages_done", sa.Integer, nullable=False),
        sa.Column("records_done", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("harvest_state")
