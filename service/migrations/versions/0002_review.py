"""Review: moderators, decisions (labels), append-only audit log, webhook outbox; queue indexes on comments.

Revision ID: 0002
Revises: 0001
"""
import json

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
PRIORITY_SCORES = ("abusive", "off_topic", "spam")   # same as service.review.tables (migrations stay frozen)


def upgrade():
    with op.batch_alter_table("comments") as batch:
        batch.add_column(sa.Column("review_priority", sa.Float))
    _backfill_priority()
    op.create_index("ix_comments_queue_age", "comments", ["status", "received_at", "id"])
    op.create_index("ix_comments_queue_score", "comments", ["status", "review_priority", "id"])
    op.create_index("ix_comments_author", "comments", ["site", "author_id", "id"])

    op.create_table(
        "review_users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(255), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("session_token", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("disabled_at", TS),
    )
    op.create_table(
        "review_decisions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("comment_pk", sa.Integer, sa.ForeignKey("comments.id"), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("review_users.id")),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("abusive", sa.Boolean),
        sa.Column("off_topic", sa.Boolean),
        sa.Column("reject_reason", sa.Text),
        sa.Column("decided_at", TS, nullable=False),
    )
    op.create_index("ix_review_decisions_comment_pk", "review_decisions", ["comment_pk"])
    op.create_index("ix_review_decisions_decided_at", "review_decisions", ["decided_at"])
    op.create_table(
        "review_audit",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("user_id", sa.Integer),
        sa.Column("username", sa.String(255), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("comment_pk", sa.Integer),
        sa.Column("site", sa.String(255)),
        sa.Column("comment_id", sa.String(255)),
        sa.Column("scores", sa.JSON),
        sa.Column("model_version", sa.String(255)),
        sa.Column("details", sa.JSON, nullable=False),
    )
    op.create_index("ix_review_audit_at", "review_audit", ["at"])
    op.create_index("ix_review_audit_username", "review_audit", ["username"])
    _append_only_triggers()
    op.create_table(
        "review_outbox",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("site", sa.String(255), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.Float, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("delivered_at", TS),
    )
    op.create_index("ix_review_outbox_due", "review_outbox", ["status", "next_attempt_at"])


def _backfill_priority():
    comments = sa.table("comments", sa.column("id", sa.Integer), sa.column("scores", sa.JSON),
                        sa.column("review_priority", sa.Float))
    bind = op.get_bind()
    for row in bind.execute(sa.select(comments.c.id, comments.c.scores)).all():
        scores = row.scores if isinstance(row.scores, dict) else json.loads(row.scores or "{}")
        values = [float(v) for k, v in scores.items() if k in PRIORITY_SCORES and isinstance(v, (int, float))]
        bind.execute(comments.update().where(comments.c.id == row.id)
                     .values(review_priority=max(values) if values else 1.0))


def _append_only_triggers():
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER review_audit_no_{verb.lower()} BEFORE {verb} ON review_audit "
                       "BEGIN SELECT RAISE(ABORT, 'review_audit is append-only'); END")
    elif op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE FUNCTION review_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS "
                   "$$ BEGIN RAISE EXCEPTION 'review_audit is append-only'; END $$")
        op.execute("CREATE TRIGGER review_audit_append_only BEFORE UPDATE OR DELETE ON review_audit "
                   "FOR EACH ROW EXECUTE FUNCTION review_audit_append_only()")


def downgrade():
    op.drop_table("review_outbox")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION review_audit_append_only() CASCADE")
    op.drop_table("review_audit")
    op.drop_table("review_decisions")
    op.drop_table("review_users")
    op.drop_index("ix_comments_author", "comments")
    op.drop_index("ix_comments_queue_score", "comments")
    op.drop_index("ix_comments_queue_age", "comments")
    with op.batch_alter_table("comments") as batch:
        batch.drop_column("review_priority")
