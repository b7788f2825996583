"""Change sequence on papers (for incremental indexes) and stored embeddings."""

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0004", "0003"  # created 2026-11-29


def upgrade() -> None:
    with op.batch_alter_table("papers") as batch:
        batch.add_column(
            sa.Column("change_seq", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch.create_index("ix_papers_change_seq", ["change_seq", "id"])
    op.create_table(
        "embeddings",
        sa.Column(
            "paper_id",
            sa.String(64),
            sa.ForeignKey("papers.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("model", sa.String(64), primary_key=True),
        sa.Column("paper_seq", sa.BigInteger(), nullable=False),
        sa.Column("text_hash", sa.String(64), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_embeddings_model_seq", "embeddings", ["model", "seq", "paper_id"])


def downgrade() -> None:
    op.drop_index("ix_embeddings_model_seq", table_name="embeddings")
    op.drop_table("embeddings")
    with op.batch_alter_table("papers") as batch:
        batch.drop_index("ix_papers_change_seq")
        batch.drop_column("change_seq")
