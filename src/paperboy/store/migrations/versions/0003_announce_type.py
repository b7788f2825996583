"""arXiv announce type on feed entries."""

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0003", "0002"  # created 2026-11-30


def upgrade() -> None:
    with op.batch_alter_table("feed_entries") as batch:
        batch.add_column(sa.Column("announce_type", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("feed_entries") as batch:
        batch.drop_column("announce_type")
