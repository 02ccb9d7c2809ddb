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


def _filtered(site=None, section=None, reason=None, since=None, until=None, sites=None):
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
    return query


def _cursor_values(cursor: str, sort: str):
    try:
        last, last_id = _decode(cursor)
        return (float(last) if sort == "score" else dt.datetime.fromisoformat(last)), int(last_id)
    except (TypeError, ValueError):
        raise BadFilter("the page cursor is not valid; start again from the first page") from None


def _key(sort):
    return Comment.review_priority if sort == "score" else Comment.received_at


def _ahead(sort, values):
    """Rows shown before the row whose sort key is `values` (a row-value comparison: one index range)."""
    pair = tuple_(_key(sort), Comment.id)
    return pair < tuple_(*values) if sort == "oldest" else pair > tuple_(*values)


def _behind(sort, values):
    pair = tuple_(_key(sort), Comment.id)
    return pair > tuple_(*values) if sort == "oldest" else pair < tuple_(*values)


def browse(session, *, sort="score", after: str | None = None, before: str | None = None, size: int = PAGE_SIZE,
           count: bool = True, **filters) -> dict:
    """One queue page: rows [(Comment, Article|None)], `next` and `prev` cursors (None at either end), and with
    count: `total` held comments that match and the 1-based `position` of the page's first row."""
    if sort not in SORTS:
        raise BadFilter(f"sort must be one of {', '.join(SORTS)}")
    query = _filtered(**filters)
    key = _key(sort)
    if sort == "oldest":
        forward, backward = (key.asc(), Comment.id.asc()), (key.desc(), Comment.id.desc())
    else:
        forward, backward = (key.desc(), Comment.id.desc()), (key.asc(), Comment.id.asc())
    rows = None
    if before:
        rows = session.execute(query.where(_ahead(sort, _cursor_values(before, sort)))
                               .order_by(*backward).limit(size + 1)).all()
        has_prev, rows = len(rows) > size, rows[:size][::-1]
        has_next = True
        if not has_prev:
            # back at the start: show the first page itself, so deciding here refills it like the first page
            rows, before = None, None
    if rows is None:
        query_page = query.where(_behind(sort, _cursor_values(after, sort))) if after else query
        rows = session.execute(query_page.order_by(*forward).limit(size + 1)).all()
        has_next, rows = len(rows) > size, rows[:size]
        has_prev = bool(after)
    out = {"rows": rows,
           "next": _encode(_sort_key(rows[-1][0], sort)) if has_next and rows else None,
           "prev": _encode(_sort_key(rows[0][0], sort)) if has_prev and rows else None}
    if count:
        def n(q):
            return session.scalar(select(func.count()).select_from(q.subquery()))
        out["total"] = n(query)
        out["position"] = (n(query.where(_ahead(sort, _sort_key_values(rows[0][0], sort)))) + 1) if rows else 0
    return out


def _sort_key_values(comment, sort):
    return (comment.review_priority if sort == "score" else comment.received_at), comment.id


def page(session, *, site=None, section=None, reason=None, since=None, until=None, sort="score",
         after: str | None = None, size: int = PAGE_SIZE, sites=None):
    """Return (rows [(Comment, Article|None)], next cursor or None). sites: only these (None: every site)."""
    got = browse(session, sort=sort, after=after, size=size, count=False, site=site, section=section,
                 reason=reason, since=since, until=until, sites=sites)
    return got["rows"], got["next"]


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


def author_counts_many(session, site_authors) -> dict:
    """author_counts for every (site, author) of a page in one query: {(site, author_id): {status: n}}."""
    pairs = {(s, a) for s, a in site_authors if a}
    if not pairs:
        return {}
    rows = session.execute(select(Comment.site, Comment.author_id, Comment.status, func.count())
                           .where(Comment.author_id.in_({a for _, a in pairs}),
                                  Comment.site.in_({s for s, _ in pairs}))
                           .group_by(Comment.site, Comment.author_id, Comment.status)).all()
    out: dict = {}
    for site, author, status, n in rows:
        if (site, author) in pairs:
            out.setdefault((site, author), {})[status] = n
    return out


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
