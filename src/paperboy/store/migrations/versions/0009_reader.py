"""One reader's radar: private ratings of papers, the followed categories and authors, and
papers found by DOI."""

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0009", "0008"  # created 2026-12-02


def _ref(name: str, type_: sa.types.TypeEngine, target: str) -> sa.Column:
    return sa.Column(
        name, type_, sa.ForeignKey(target, ondelete="CASCADE"), primary_key=True, nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "ratings",
        _ref("user_id", sa.Integer(), "users.id"),
        _ref("paper_id", sa.String(64), "papers.id"),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_ratings_user", "ratings", ["user_id", "created_at"])
    op.create_table(
        "reader_profiles",
        _ref("user_id", sa.Integer(), "users.id"),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("authors", sa.JSON(), nullable=False),
        sa.Column("feed_key", sa.String(64), nullable=True, unique=True),
        sa.Column("last_visit_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    # Library files (BibTeX, CSL JSON) are matched to papers by DOI, whatever its case.
    op.create_index("ix_papers_doi", "papers", [sa.text("lower(doi)")])


def downgrade() -> None:
    op.drop_index("ix_papers_doi", table_name="papers")
    op.drop_table("reader_profiles")
    op.drop_index("ix_ratings_user", table_name="ratings")
    op.drop_table("ratings")
