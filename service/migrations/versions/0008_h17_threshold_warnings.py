"""Perspective clients whose TOXICITY threshold catches almost nothing: recorded so the admins' dashboard shows them.

Revision ID: 0008_h17_threshold_warnings
Revises: 0004_h15svc
"""
import sqlalchemy as sa
from alembic import op

revision = "0008_h17_threshold_warnings"
down_revision = "0004_h15svc"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade():
    op.create_table(
        "threshold_warnings",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("site", sa.String(255), nullable=False),
        sa.Column("api_key_id", sa.Integer, nullable=False),
        sa.Column("key_prefix", sa.String(16), nullable=False),
        sa.Column("attribute", sa.String(64), nullable=False),
        sa.Column("threshold", sa.Float, nullable=False),
        sa.Column("expected_catch", sa.Float, nullable=False),
        sa.Column("first_seen", TS, nullable=False),
        sa.Column("last_seen", TS, nullable=False),
        sa.UniqueConstraint("api_key_id", "attribute", "threshold", name="uq_threshold_warning"),
    )
    op.create_index("ix_threshold_warnings_last_seen", "threshold_warnings", ["last_seen"])


def downgrade():
    op.drop_index("ix_threshold_warnings_last_seen", "threshold_warnings")
    op.drop_table("threshold_warnings")
