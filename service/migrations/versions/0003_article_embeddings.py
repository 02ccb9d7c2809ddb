"""Articles keep the encoder's output for their title and body, computed when the CMS registers them.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("embeddings", sa.LargeBinary, nullable=True))


def downgrade():
    with op.batch_alter_table("articles") as batch:
        batch.drop_column("embeddings")
