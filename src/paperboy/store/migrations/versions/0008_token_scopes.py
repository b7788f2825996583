"""API token scopes: read, write, admin; tokens made before get read and write, never admin."""

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0008", "0007"  # created 2026-12-02


def upgrade() -> None:
    # The server default fills the rows already there (on SQLite and PostgreSQL alike); new
    # tokens always name their scopes.
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(
            sa.Column("scopes", sa.String(64), nullable=False, server_default="read write")
        )


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("scopes")
