"""OAI-PMH harvest checkpoints."""

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0002", "0001"  # created 2026-11-29


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
