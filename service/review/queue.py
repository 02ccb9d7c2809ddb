"""The held-comment queue: filters and keyset pagination (each page is an index range scan, however deep)."""
import base64
import datetime as dt
import json

from sqlalchemy import Text, and_, cast, func, select, tuple_

from service.db import Article, Comment

SORTS = ("score", "oldest", "newest")
PAGE_SIZE = 25


class BadFilter(ValueError):
    pass


def parse_date(value: str | None, name: str) -> dt.datetime | None:
    if not value:
        return None
    try:
        day = dt.date.fromisoformat(value.strip())
    except ValueError:
        raise BadFilter(f"{name} must be a date like 2026-11-27, got {value!r}") from None
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)


def _encode(values) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def _decode(cursor: str):
    try:
        return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError:
        raise BadFilter("the page cursor is not valid; start again from the first page") from None


def _sort_key(comment, sort):
    if sort == "score":
        return [comment.review_priority, comment.id]
    return [comment.received_at.isoformat(), comment.id]


def page(session, *, site=None, section=None, reason=None, since=None, until=None, sort="score",
         after: str | None = None, size: int = PAGE_SIZE, sites=None):
    """Return (rows [(Comment, Article|None)], next cursor or None). sites: only these (None: every site)."""
    if sort not in SORTS:
        raise BadFilter(f"sort must be one of {', '.join(SORTS)}")
    query = (select(Comment, Article)
             .outerjoin(Article, and_(Article.site == Comment.site, Article.article_id == Comment.article_id))
             .where(Comment.status == "held"))
    if site:
        query = query.where(Comment.site == site)
    if sites is not None:
        query = query.where(Comment.site.in_(list(sites)))
    if section:
        query = query.where(Article.section == section)
    if reason:
        # reasons is a JSON list; its text form contains the quoted name on SQLite and PostgreSQL alike
        query = query.where(cast(Comment.reasons, Text).like('%' + json.dumps(reason) + '%'))
    start, end = parse_date(since, "since"), parse_date(until, "until")
    if start:
        query = query.where(Comment.received_at >= start)
    if end:
        query = query.where(Comment.received_at < end + dt.timedelta(days=1))

    if sort == "score":
        key, order = Comment.review_priority, (Comment.review_priority.desc(), Comment.id.desc())
    else:
        key = Comment.received_at
        order = ((Comment.received_at.asc(), Comment.id.asc()) if sort == "oldest"
                 else (Comment.received_at.desc(), Comment.id.desc()))
    if after:
        cursor = _decode(after)
        try:
            last, last_id = cursor
            last = float(last) if sort == "score" else dt.datetime.fromisoformat(last)
            last_id = int(last_id)
        except (TypeError, ValueError):
            raise BadFilter("the page cursor is not valid; start again from the first page") from None
        # a row-value comparison: SQLite and PostgreSQL both turn it into one index range
        if sort == "oldest":
            query = query.where(tuple_(key, Comment.id) > tuple_(last, last_id))
        else:
            query = query.where(tuple_(key, Comment.id) < tuple_(last, last_id))
    rows = session.execute(query.order_by(*order).limit(size + 1)).all()
    more = len(rows) > size
    rows = rows[:size]
    return rows, (_encode(_sort_key(rows[-1][0], sort)) if more else None)


def author_history(session, comment, limit: int = 5):
    """The author's earlier comments on the same site, newest first, with what happened to them."""
    if not comment.author_id:
        return []
    # two columns, not whole rows: this runs once per queue item, so ORM loading would dominate the page
    return session.execute(
        select(Comment.status, Comment.text)
        .where(Comment.site == comment.site, Comment.author_id == comment.author_id, Comment.id < comment.id)
        .order_by(Comment.id.desc()).limit(limit)).all()


def author_counts(session, site: str, author_id: str | None) -> dict:
    """How many of the author's comments on this site are in each state (published, held, approved, rejected)."""
    if not author_id:
        return {}
    return dict(session.execute(select(Comment.status, func.count())
                                .where(Comment.site == site, Comment.author_id == author_id)
                                .group_by(Comment.status)).all())


def thread(session, comment, limit: int = 20) -> dict:
    """The stored parent, siblings (same parent) and replies of a comment; empty when none are stored."""
    def same_site(*where):
        return session.scalars(select(Comment).where(Comment.site == comment.site, *where)
                               .order_by(Comment.id).limit(limit)).all()
    parent = None
    siblings = []
    if comment.parent_id:
        parent = session.scalar(select(Comment).where(Comment.site == comment.site,
                                                      Comment.comment_id == comment.parent_id))
        siblings = same_site(Comment.parent_id == comment.parent_id, Comment.id != comment.id)
    replies = same_site(Comment.parent_id == comment.comment_id)
    return {"parent": parent, "siblings": siblings, "replies": replies}


def highlight(text: str, spans) -> list[tuple[str, bool]]:
    """Split text into (piece, is_span) pieces; the template escapes each piece (never joins raw HTML)."""
    marks = sorted((max(0, int(s["begin"])), min(len(text), int(s["end"])))
                   for s in (spans or []) if isinstance(s, dict) and "begin" in s and "end" in s)
    pieces, pos = [], 0
    for begin, end in marks:
        begin = max(begin, pos)
        if end <= begin:
            continue
        if begin > pos:
            pieces.append((text[pos:begin], False))
        pieces.append((text[begin:end], True))
        pos = end
    if pos < len(text):
        pieces.append((text[pos:], False))
    return pieces
