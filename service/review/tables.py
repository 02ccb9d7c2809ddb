"""The review side's tables: moderators, their decisions (the labels), the append-only audit log, the webhook outbox.

Also adds `comments.review_priority` (the highest of the item's scores) so that "sort by score" is an index scan;
it is kept up to date by an ORM hook whenever a comment's scores are written.
"""
import datetime as dt

from sqlalchemy import (JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint,
                        event)
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, Comment, utcnow

ROLES = ("moderator", "admin")
PRIORITY_SCORES = ("abusive", "off_topic", "spam")

# Appended to the core's Comment mapping (SQLAlchemy supports adding columns to a mapped class).
Comment.review_priority = mapped_column("review_priority", Float, nullable=True)
Index("ix_comments_queue_age", Comment.status, Comment.received_at, Comment.id)
Index("ix_comments_queue_score", Comment.status, Comment.review_priority, Comment.id)
Index("ix_comments_author", Comment.site, Comment.author_id, Comment.id)
# migration 0005_h18: thread and search lookups
Index("ix_comments_site_parent", Comment.site, Comment.parent_id)
Index("ix_comments_author_id", Comment.author_id, Comment.id)
Index("ix_comments_comment_id", Comment.comment_id)


def priority_of(scores) -> float:
    """The highest of the item's scores; 1.0 when unscored (held for model_error), so those come first."""
    values = [float(v) for k, v in (scores or {}).items()
              if k in PRIORITY_SCORES and isinstance(v, (int, float)) and not isinstance(v, bool)]
    return max(values) if values else 1.0


@event.listens_for(Comment, "before_insert")
@event.listens_for(Comment, "before_update")
def _set_priority(_mapper, _connection, comment):
    comment.review_priority = priority_of(comment.scores)


class User(Base):
    __tablename__ = "review_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(255), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    # Rotated at log-out and password change: cookies that carry an older value stop working.
    session_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    disabled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    sites: Mapped[list | None] = mapped_column(JSON)   # the sites this user reviews; None: every site

    def may_review(self, site: str) -> bool:
        return self.sites is None or site in self.sites


class Decision(Base):
    """A human's verdict on a comment: the label that the export turns into training data (latest one wins)."""
    __tablename__ = "review_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    comment_pk: Mapped[int] = mapped_column(ForeignKey("comments.id"), index=True)
    source: Mapped[str] = mapped_column(String(16))            # moderator | cms
    user_id: Mapped[int | None] = mapped_column(ForeignKey("review_users.id"))
    action: Mapped[str] = mapped_column(String(16))            # approve | reject
    abusive: Mapped[bool | None] = mapped_column(Boolean)
    off_topic: Mapped[bool | None] = mapped_column(Boolean)
    spam: Mapped[bool | None] = mapped_column(Boolean)        # migration 0009; NULL on decisions made before it
    reject_reason: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class AuditEntry(Base):
    """Append-only: the ORM refuses updates and deletes, and the migration adds triggers that refuse them in SQL."""
    __tablename__ = "review_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(Integer)
    username: Mapped[str] = mapped_column(String(255), index=True)   # kept as text: survives user changes
    action: Mapped[str] = mapped_column(String(32))
    comment_pk: Mapped[int | None] = mapped_column(Integer)
    site: Mapped[str | None] = mapped_column(String(255))
    comment_id: Mapped[str | None] = mapped_column(String(255))
    scores: Mapped[dict | None] = mapped_column(JSON)
    model_version: Mapped[str | None] = mapped_column(String(255))
    details: Mapped[dict] = mapped_column(JSON, default=dict)


@event.listens_for(AuditEntry, "before_update")
@event.listens_for(AuditEntry, "before_delete")
def _append_only(_mapper, _connection, _entry):
    raise PermissionError("the audit log is append-only")


class OutboxItem(Base):
    """One webhook to deliver. State lives here so that retries survive restarts."""
    __tablename__ = "review_outbox"
    __table_args__ = (Index("ix_review_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)   # the idempotency key the receiver sees
    site: Mapped[str] = mapped_column(String(255))
    url: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)                          # exact JSON bytes that get signed
    status: Mapped[str] = mapped_column(String(16), default="pending")   # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[float] = mapped_column(Float)           # unix seconds; also the claim lease
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class LoginThrottle(Base):
    """Failed log-ins per (client address, user name) ("pair") and per address ("address"), shared by all
    workers. Failures past a free allowance back off exponentially; a success clears the pair's row."""
    __tablename__ = "review_login_throttle"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)   # sha256 of kind, address and name
    kind: Mapped[str] = mapped_column(String(8))
    address: Mapped[str] = mapped_column(String(64))
    username: Mapped[str | None] = mapped_column(String(255), index=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[float] = mapped_column(Float)
    blocked_until: Mapped[float] = mapped_column(Float, default=0.0)
    # failed log-ins for unknown names since the address's last audit row, and that row's window
    unknown_failures: Mapped[int] = mapped_column(Integer, default=0)
    audited_window: Mapped[int | None] = mapped_column(Integer)


class AuthorStatus(Base):
    """A moderator's standing decision on an author, per site: trusted (published without holding unless the
    abuse score passes a high bar) or banned (everything held). Read by /v1/moderate on every comment."""
    __tablename__ = "review_author_status"
    __table_args__ = (UniqueConstraint("site", "author_id", name="uq_review_author_status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site: Mapped[str] = mapped_column(String(255))
    author_id: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))          # trusted | banned
    set_by: Mapped[str] = mapped_column(String(255))
    set_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    note: Mapped[str | None] = mapped_column(Text)
