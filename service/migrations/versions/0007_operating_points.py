"""Per-site operating points: the policy stored in the database (append-only versions), and on every comment
the mode, the would-be decision and the thresholds that made it.

Revision ID: 0004_h15svc
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004_h15svc"
down_revision = "0006_h18_authors_roles"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade():
    op.create_table(
        "policy_versions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("site", sa.String(255), nullable=False),
        sa.Column("section", sa.String(255), nullable=False),   # "" = the whole site
        sa.Column("thresholds", sa.JSON, nullable=False),
        sa.Column("mode", sa.String(16)),                         # enforce | shadow | NULL (inherit)
        sa.Column("model_version", sa.String(255)),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("note", sa.Text),
    )
    op.create_index("ix_policy_versions_site_section", "policy_versions", ["site", "section", "id"])
    with op.batch_alter_table("comments") as batch:
        batch.add_column(sa.Column("mode", sa.String(16)))             # enforce | shadow (NULL: before 0004)
        batch.add_column(sa.Column("would_decision", sa.String(16)))   # the policy's decision, even in shadow
        batch.add_column(sa.Column("thresholds", sa.JSON))
    op.create_index("ix_comments_site_received", "comments", ["site", "received_at"])


def downgrade():
    op.drop_index("ix_comments_site_received", "comments")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite drops a column in place (3.35+): a batch rebuild of comments would lose 0005's FTS triggers
        for column in ("thresholds", "would_decision", "mode"):
            op.execute(f"ALTER TABLE comments DROP COLUMN {column}")
    else:
        with op.batch_alter_table("comments") as batch:
            batch.drop_column("thresholds")
            batch.drop_column("would_decision")
            batch.drop_column("mode")
    op.drop_index("ix_policy_versions_site_section", "policy_versions")
    op.drop_table("policy_versions")
