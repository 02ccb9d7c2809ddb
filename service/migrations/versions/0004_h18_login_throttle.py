"""Log-in throttle counters per (client address, user name) and per address: back-off, never a lock on a name.

Revision ID: 0004_h18_login_throttle
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004_h18_login_throttle"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "review_login_throttle",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("username", sa.String(255)),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("window_start", sa.Float, nullable=False),
        sa.Column("blocked_until", sa.Float, nullable=False),
        sa.Column("unknown_failures", sa.Integer, nullable=False),
        sa.Column("audited_window", sa.Integer),
    )
    op.create_index("ix_review_login_throttle_username", "review_login_throttle", ["username"])


def downgrade():
    op.drop_table("review_login_throttle")
