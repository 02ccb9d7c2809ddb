"""Decisions on held comments: one conditional UPDATE decides who wins, then the label, audit entry and webhook."""
from sqlalchemy import select, update

from models import reasons as registry
from service.db import Comment, utcnow

from . import outbox
from .tables import AuditEntry, Decision

STATUS_FOR = {"approve": "approved", "reject": "rejected"}


class AlreadyDecided(Exception):
    def __init__(self, comment):
        self.comment = comment
        super().__init__(f"comment {comment.comment_id} was already {comment.status} by someone else")


def same_as_last(session, comment, action: str, user) -> bool:
    """True when the comment's latest decision is this moderator's same action: a double submit (a second click,
    a reload that re-posts), which is then a no-op rather than a conflict."""
    if user is None:
        return False
    latest = session.scalars(select(Decision).where(Decision.comment_pk == comment.id)
                             .order_by(Decision.id.desc()).limit(1)).first()
    return latest is not None and latest.source == "moderator" and latest.user_id == user.id and \
        latest.action == action and comment.status == STATUS_FOR[action]


def default_labels(comment, action: str) -> dict:
    """What a decision says about the comment when the moderator corrects nothing: approving means neither
    abusive nor off-topic; rejecting confirms the reasons the model held it for."""
    if action == "approve":
        return {label: False for label in registry.LABELS}
    return registry.labels_for(comment.reasons)


def audit(session, *, username: str, action: str, user_id=None, comment=None, **details):
    session.add(AuditEntry(
        user_id=user_id, username=username, action=action, at=utcnow(),
        comment_pk=comment.id if comment else None, site=comment.site if comment else None,
        comment_id=comment.comment_id if comment else None,
        scores=dict(comment.scores or {}) if comment else None,
        model_version=comment.model_version if comment else None, details=details))


def record_decision(session, config, comment_pk: int, action: str, *, user=None, abusive: bool | None = None,
           off_topic: bool | None = None, spam: bool | None = None, reject_reason: str | None = None,
           bulk: bool = False):
    """Approve or reject one held comment and commit. Raises AlreadyDecided if it is no longer held,
    LookupError if there is no such comment."""
    if action not in STATUS_FOR:
        raise ValueError("action must be approve or reject")
    now = utcnow()
    won = session.execute(
        update(Comment).where(Comment.id == comment_pk, Comment.status == "held")
        .values(status=STATUS_FOR[action], updated_at=now)
        .execution_options(synchronize_session=False)).rowcount
    comment = session.get(Comment, comment_pk)
    if comment is None:
        session.rollback()
        raise LookupError(f"no comment {comment_pk}")
    session.refresh(comment)
    if not won:
        session.rollback()
        raise AlreadyDecided(comment)
    corrections = {"abusive": abusive, "off_topic": off_topic, "spam": spam}
    labels = registry.with_corrections(default_labels(comment, action), corrections)
    reject_reason = (reject_reason or "").strip()[:1000] or None if action == "reject" else None
    session.add(Decision(comment_pk=comment.id, source="moderator", user_id=user.id if user else None,
                         action=action, reject_reason=reject_reason, decided_at=now, **labels))
    audit(session, username=user.username if user else "system", user_id=user.id if user else None,
          action=action, comment=comment, labels=labels, reject_reason=reject_reason, bulk=bulk,
          corrected=any(v is not None for v in corrections.values()))
    outbox.enqueue(session, config, comment, {
        "event": "comment.decided", "site": comment.site, "comment_id": comment.comment_id,
        "status": comment.status, "decision": "publish" if action == "approve" else "reject",
        "labels": labels, "reject_reason": reject_reason, "decided_at": now.isoformat(),
        "model_version": comment.model_version})
    session.commit()
    return comment


def record_correction(session, comment, action: str, *, who: str, abusive: bool | None = None,
                      off_topic: bool | None = None, spam: bool | None = None, note: str | None = None) -> dict:
    """The CMS (or a Perspective suggestscore) overrules a decision: set the status, store the label (source
    'cms'), audit it. No webhook: the CMS already knows. The caller commits. Returns the labels stored."""
    if action not in STATUS_FOR:
        raise ValueError("action must be approve or reject")
    labels = registry.with_corrections(default_labels(comment, action),
                                       {"abusive": abusive, "off_topic": off_topic, "spam": spam})
    comment.status = STATUS_FOR[action]
    session.add(Decision(comment_pk=comment.id, source="cms", action=action, decided_at=utcnow(),
                         reject_reason=note if action == "reject" else None, **labels))
    audit(session, username=who, action="cms_correction", comment=comment, labels=labels, note=note)
    return labels


class CannotUndo(Exception):
    pass


def undo(session, config, comment_pk: int, *, user, now=None):
    """Take back this moderator's latest decision on a comment within REVIEW_UNDO_SECONDS: the comment is held
    again, its label removed (the export stops carrying it), the undo audited, and the CMS told by a new webhook
    (its own idempotency key) that corrects the first. Raises CannotUndo saying why not."""
    now = now or utcnow()
    comment = session.get(Comment, comment_pk)
    if comment is None:
        raise LookupError(f"no comment {comment_pk}")
    latest = session.scalars(select(Decision).where(Decision.comment_pk == comment_pk)
                             .order_by(Decision.id.desc()).limit(1)).first()
    if latest is None or comment.status not in ("approved", "rejected") or \
            comment.status != STATUS_FOR.get(latest.action):
        raise CannotUndo(f"comment {comment.comment_id} has no decision to undo")
    if latest.source != "moderator" or latest.user_id != user.id:
        raise CannotUndo(f"the latest decision on comment {comment.comment_id} is not yours")
    decided = latest.decided_at if latest.decided_at.tzinfo else latest.decided_at.replace(tzinfo=now.tzinfo)
    window = float(config.get("REVIEW_UNDO_SECONDS", 600))
    if (now - decided).total_seconds() > window:
        raise CannotUndo(f"the decision on comment {comment.comment_id} is older than the undo window "
                         f"({int(window)} s)")
    won = session.execute(
        update(Comment).where(Comment.id == comment_pk, Comment.status == comment.status)
        .values(status="held", updated_at=now).execution_options(synchronize_session=False)).rowcount
    if not won:
        session.rollback()
        raise CannotUndo(f"comment {comment.comment_id} changed meanwhile")
    undone = {"action": latest.action, "decided_at": decided.isoformat(),
              "labels": {label: getattr(latest, label) for label in registry.LABELS}}
    session.delete(latest)
    session.refresh(comment)
    audit(session, username=user.username, user_id=user.id, action="undo", comment=comment, undone=undone)
    outbox.enqueue(session, config, comment, {
        "event": "comment.decision_undone", "site": comment.site, "comment_id": comment.comment_id,
        "status": "held", "decision": "hold", "undone": {"decision": "publish" if latest.action == "approve"
                                                          else "reject", "decided_at": decided.isoformat()},
        "undone_at": now.isoformat(), "model_version": comment.model_version})
    session.commit()
    return comment


def recent_decisions(session, *, sites=None, before: int | None = None, limit: int = 50):
    """Moderators' decisions, newest first: [(Decision, Comment, username)]."""
    from .tables import User
    query = (select(Decision, Comment, User.username).join(Comment, Comment.id == Decision.comment_pk)
             .outerjoin(User, User.id == Decision.user_id).where(Decision.source == "moderator"))
    if sites is not None:
        query = query.where(Comment.site.in_(list(sites)))
    if before is not None:
        query = query.where(Decision.id < before)
    return session.execute(query.order_by(Decision.id.desc()).limit(limit)).all()
