"""The moderators' spam label on decisions (models.reasons.LABELS); earlier decisions keep NULL: not labelled.

Revision ID: 0009_h15_spam_label
Revises: 0008_h17_threshold_warnings
"""
import sqlalchemy as sa
from alembic import op

revision = "0009_h15_spam_label"
down_revision = "0008_h17_threshold_warnings"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("review_decisions", sa.Column("spam", sa.Boolean, nullable=True))


def downgrade():
    with op.batch_alter_table("review_decisions") as batch:   # SQLite drops a column by copying the table
        batch.drop_column("spam")
