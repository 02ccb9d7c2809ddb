"""Core tables: articles, comments (the decisions and the review queue), API keys, rate-limit counters.

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade():
    op.create_table(
        "articles",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("site", sa.String(255), nullable=False),
        sa.Column("article_id", sa.String(255), nullable=False),
        sa.Column("title", sa.Text),
        sa.Column("body", sa.Text),
        sa.Column("section", sa.String(255)),
        sa.Column("url", sa.Text),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("site", "article_id", name="uq_articles_site_article"),
    )
    op.create_table(
        "comments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("site", sa.String(255), nullable=False),
        sa.Column("comment_id", sa.String(255), nullable=False),
        sa.Column("article_id", sa.String(255)),
        sa.Column("author_id", sa.String(255)),
        sa.Column("parent_id", sa.String(255)),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("created_at", TS),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("scores", sa.JSON, nullable=False),
        sa.Column("spans", sa.JSON, nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("reasons", sa.JSON, nullable=False),
        sa.Column("model_version", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("callback_url", sa.Text),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("site", "comment_id", name="uq_comments_site_comment"),
    )
    op.create_index("ix_comments_article_id", "comments", ["article_id"])
    op.create_index("ix_comments_status", "comments", ["status"])
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("site", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("revoked_at", TS),
    )
    op.create_index("ix_api_keys_prefix", "api_keys", ["prefix"])
    op.create_table(
        "rate_counters",
        sa.Column("bucket", sa.String(255), primary_key=True),
        sa.Column("window_start", sa.Integer, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
    )


def downgrade():
    op.drop_table("rate_counters")
    op.drop_index("ix_api_keys_prefix", "api_keys")
    op.drop_table("api_keys")
    op.drop_index("ix_comments_status", "comments")
    op.drop_index("ix_comments_article_id", "comments")
    op.drop_table("comments")
    op.drop_table("articles")
