"""Comments keep the author's display name; full-text search over comment text (SQLite FTS5, PostgreSQL a stored tsvector with a GIN index).

Revision ID: 0005_h18_author_search
Revises: 0004_h18_login_throttle
"""
import sqlalchemy as sa
from alembic import op

revision = "0005_h18_author_search"
down_revision = "0004_h18_login_throttle"
branch_labels = None
depends_on = None

# SQLite: an external-content FTS5 index over comments.text, kept in step by triggers
SQLITE_FTS = [
    "CREATE VIRTUAL TABLE comments_fts USING fts5(text, content='comments', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER comments_fts_insert AFTER INSERT ON comments BEGIN "
    "INSERT INTO comments_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER comments_fts_delete AFTER DELETE ON comments BEGIN "
    "INSERT INTO comments_fts(comments_fts, rowid, text) VALUES ('delete', old.id, old.text); END",
    "CREATE TRIGGER comments_fts_update AFTER UPDATE OF text ON comments BEGIN "
    "INSERT INTO comments_fts(comments_fts, rowid, text) VALUES ('delete', old.id, old.text); "
    "INSERT INTO comments_fts(rowid, text) VALUES (new.id, new.text); END",
    "INSERT INTO comments_fts(comments_fts) VALUES ('rebuild')",
]


def upgrade():
    with op.batch_alter_table("comments") as batch:
        batch.add_column(sa.Column("author_name", sa.String(255), nullable=True))
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for statement in SQLITE_FTS:
            op.execute(statement)
    elif dialect == "postgresql":
        # stored, not an expression index: a plan that walks the newest rows checks each one without re-parsing
        op.execute("ALTER TABLE comments ADD COLUMN text_tsv tsvector "
                   "GENERATED ALWAYS AS (to_tsvector('simple', text)) STORED")
        op.execute("CREATE INDEX ix_comments_text_tsv ON comments USING gin (text_tsv)")
    op.create_index("ix_comments_site_parent", "comments", ["site", "parent_id"])
    # search by author or comment id across every site (the older indexes lead with site)
    op.create_index("ix_comments_author_id", "comments", ["author_id", "id"])
    op.create_index("ix_comments_comment_id", "comments", ["comment_id"])


def downgrade():
    op.drop_index("ix_comments_comment_id", "comments")
    op.drop_index("ix_comments_author_id", "comments")
    op.drop_index("ix_comments_site_parent", "comments")
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER comments_fts_{name}")
        op.execute("DROP TABLE comments_fts")
    elif dialect == "postgresql":
        op.execute("DROP INDEX ix_comments_text_tsv")
        op.execute("ALTER TABLE comments DROP COLUMN text_tsv")
    with op.batch_alter_table("comments") as batch:
        batch.drop_column("author_name")
