"""Author standing per site (trusted / banned) and the sites each moderator may review.

Revision ID: 0006_h18_authors_roles
Revises: 0005_h18_author_search
"""
import sqlalchemy as sa
from alembic import op

revision = "0006_h18_authors_roles"
down_revision = "0005_h18_author_search"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "review_author_status",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("site", sa.String(255), nullable=False),
        sa.Column("author_id", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("set_by", sa.String(255), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text),
        sa.UniqueConstraint("site", "author_id", name="uq_review_author_status"),
    )
    with op.batch_alter_table("review_users") as batch:
        batch.add_column(sa.Column("sites", sa.JSON, nullable=True))   # null: every site


def downgrade():
    with op.batch_alter_table("review_users") as batch:
        batch.drop_column("sites")
    op.drop_table("review_author_status")
