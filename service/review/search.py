"""Search the whole comment store by text, author or comment id, newest first.

Text goes through the database's own full-text index (SQLite FTS5; PostgreSQL a stored
`to_tsvector('simple', text)` column with a GIN index; migration 0005_h18), so a search stays an index lookup
at millions of comments. Every word must occur (AND); the user's words are quoted, never query syntax.
"""
import re
from dataclasses import dataclass

from sqlalchemy import and_, false, func, literal_column, select, text as sql_text

from service.db import Article, Comment

LIMIT = 50
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass
class Query:
    words: list[str]
    author: str | None = None
    comment_id: str | None = None

    @property
    def empty(self) -> bool:
        return not (self.words or self.author or self.comment_id)


def parse(q: str) -> Query:
    """`author:ID`, `id:COMMENT_ID`, and free words (matched as whole words, all of them)."""
    query = Query(words=[])
    for token in (q or "").split():
        key, _, value = token.partition(":")
        if key.lower() == "author" and value:
            query.author = value[:255]
        elif key.lower() == "id" and value:
            query.comment_id = value[:255]
        else:
            query.words.extend(_WORD.findall(token))
    query.words = query.words[:20]
    return query


def _fts_match(words: list[str]) -> str:
    """FTS5 query text: each word a quoted string (AND between them), so nothing typed is query syntax."""
    return " ".join('"' + w.replace('"', '""') + '"' for w in words)


def _fts_newest_ids(session, words, before, limit) -> list[int]:
    """SQLite, words alone: the newest matching rowids straight from the FTS index (no scan of the matches)."""
    sql = "SELECT rowid FROM comments_fts WHERE comments_fts MATCH :match"
    params = {"match": _fts_match(words), "limit": limit}
    if before is not None:
        sql += " AND rowid < :before"
        params["before"] = before
    return [row[0] for row in session.execute(sql_text(sql + " ORDER BY rowid DESC LIMIT :limit"), params)]


def _text_condition(session, words):
    if session.get_bind().dialect.name == "sqlite":
        # per candidate row: FTS5 seeks the rowid in the words' doclists (cheap when author/id narrowed the rows)
        return sql_text("EXISTS (SELECT 1 FROM comments_fts WHERE comments_fts MATCH :fts_match "
                        "AND comments_fts.rowid = comments.id)").bindparams(fts_match=_fts_match(words))
    return literal_column("comments.text_tsv").op("@@")(
        func.plainto_tsquery(literal_column("'simple'::regconfig"), " ".join(words)))


PG_PROBE = 2000


def _pg_words(session, words, sites, before):
    """PostgreSQL: a rare word must not send the planner down the primary key (newest first, LIMIT 50) through
    every row in search of matches it wrongly expects to find soon. An unordered probe of up to PG_PROBE matches
    (GIN bitmap when rare, a short sequential read when common) tells which: a rare word's matches are then all
    known and fetched by id; a common word keeps the newest-first walk, which finds 50 matches at once."""
    probe = select(Comment.id).where(_text_condition(session, words))
    if sites is not None:
        probe = probe.where(Comment.site.in_(list(sites)))
    if before is not None:
        probe = probe.where(Comment.id < before)
    ids = session.scalars(probe.limit(PG_PROBE + 1)).all()
    if len(ids) <= PG_PROBE:
        return Comment.id.in_(ids) if ids else false()
    return _text_condition(session, words)


def run(session, q: str, *, sites=None, before: int | None = None, limit: int = LIMIT):
    """Return (rows [(Comment, Article|None)], next `before` cursor or None). `sites`: None for every site,
    else only these."""
    query = parse(q)
    if query.empty:
        return [], None
    stmt = (select(Comment, Article)
            .outerjoin(Article, and_(Article.site == Comment.site, Article.article_id == Comment.article_id)))
    if sites is not None:
        stmt = stmt.where(Comment.site.in_(list(sites)))
    if query.author:
        stmt = stmt.where(Comment.author_id == query.author)
    if query.comment_id:
        stmt = stmt.where(Comment.comment_id == query.comment_id)
    if before is not None:
        stmt = stmt.where(Comment.id < before)
    if query.words:
        sqlite = session.get_bind().dialect.name == "sqlite"
        if sqlite and not (query.author or query.comment_id) and sites is None:
            stmt = stmt.where(Comment.id.in_(_fts_newest_ids(session, query.words, before, limit + 1)))
        elif not sqlite and not (query.author or query.comment_id):
            stmt = stmt.where(_pg_words(session, query.words, sites, before))
        else:
            stmt = stmt.where(_text_condition(session, query.words))
    rows = session.execute(stmt.order_by(Comment.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1][0].id if more and rows else None)
