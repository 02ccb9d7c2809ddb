"""Author actions per site: trust (publish without holding, unless the abuse score passes a high bar) and ban
(hold everything). Set by moderators, audit-logged, sent to the CMS as a webhook, applied by /v1/moderate on the
next comment (one indexed lookup per comment, no cache: a ban is in force at once)."""
from types import SimpleNamespace

from sqlalchemy import select

from models.reasons import AUTHOR_BANNED, MODEL_ERROR, TOO_LONG

from service.db import utcnow

from . import outbox
from .actions import audit
from .tables import AuthorStatus

ACTIONS = {"trust": "trusted", "ban": "banned", "clear": None}
DEFAULTS = {"REVIEW_TRUST_ABUSIVE_BAR": 0.95}   # a trusted author's comment is still held at this abuse score
# reasons that mean the comment was not (fully) scored: never published on trust alone (fail closed)
UNSCORED = {MODEL_ERROR, TOO_LONG}


def status_of(session, site: str, author_id: str | None) -> str | None:
    if not author_id:
        return None
    return session.scalar(select(AuthorStatus.status).where(AuthorStatus.site == site,
                                                            AuthorStatus.author_id == author_id))


def statuses(session, site_authors) -> dict:
    """{(site, author_id): status} for many at once (a queue page)."""
    pairs = {(s, a) for s, a in site_authors if a}
    if not pairs:
        return {}
    rows = session.execute(select(AuthorStatus.site, AuthorStatus.author_id, AuthorStatus.status)
                           .where(AuthorStatus.author_id.in_({a for _, a in pairs}))).all()
    return {(s, a): st for s, a, st in rows if (s, a) in pairs}


def set_status(session, config, site: str, author_id: str, action: str, *, user, note: str | None = None):
    """Trust, ban or clear an author on a site; audit it and tell the CMS. The caller commits."""
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {', '.join(ACTIONS)}")
    if not author_id:
        raise ValueError("the comment has no author id")
    row = session.scalar(select(AuthorStatus).where(AuthorStatus.site == site, AuthorStatus.author_id == author_id))
    previous = row.status if row is not None else None
    status = ACTIONS[action]
    if status is None:
        if row is not None:
            session.delete(row)
    else:
        if row is None:
            row = AuthorStatus(site=site, author_id=author_id)
            session.add(row)
        row.status, row.set_by, row.set_at, row.note = status, user.username, utcnow(), (note or None)
    audit(session, username=user.username, user_id=user.id, action=f"author_{action}",
          site_author=f"{site}/{author_id}", previous=previous, note=note or None)
    outbox.enqueue(session, config, SimpleNamespace(site=site, callback_url=None), {
        "event": "author.status_changed", "site": site, "author_id": author_id, "status": status or "none",
        "previous": previous or "none", "by": user.username, "at": utcnow().isoformat()})
    return status


def apply(session, config, site: str, author_id, result: dict) -> dict:
    """The API's decision adjusted for the author's standing on this site."""
    status = status_of(session, site, author_id)
    if status == "banned":
        return {**result, "decision": "hold",
                "reasons": [AUTHOR_BANNED] + [r for r in result["reasons"] if r != AUTHOR_BANNED]}
    if status == "trusted" and result["decision"] == "hold" and not UNSCORED & set(result["reasons"]):
        bar = float(config.get("REVIEW_TRUST_ABUSIVE_BAR", DEFAULTS["REVIEW_TRUST_ABUSIVE_BAR"]))
        if float(result["scores"].get("abusive", 1.0)) < bar:
            return {**result, "decision": "publish", "reasons": []}
    return result
