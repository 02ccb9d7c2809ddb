"""Labelled export: every human-decided comment (latest decision wins) in the schema that
`training.data.load_labelled_export` (and so `moderation train`) reads: id, text, article_id, article_title,
article_body, one 0/1 column per moderator label (models.reasons.LABELS; empty where not labelled), and the model's reasons (`;`-joined)."""
import csv
import io
import json

from sqlalchemy import and_, func, select

from models import reasons as registry
from service.db import Article, Comment

from .tables import Decision

COLUMNS = ("id", "text", "article_id", "article_title", "article_body", *registry.LABELS, "reasons")
FORMATS = ("csv", "jsonl")


def _flag(value):
    """1/0; None (an empty CSV cell) where the decision has no such label (spam, on decisions before migration 0009)."""
    return None if value is None else int(bool(value))


def rows(session, since=None, site: str | None = None):
    latest = select(func.max(Decision.id).label("id")).group_by(Decision.comment_pk).subquery()
    query = (select(*(getattr(Decision, label) for label in registry.LABELS), Comment.site, Comment.comment_id,
                    Comment.text, Comment.article_id, Comment.reasons, Article.title, Article.body)
             .join(latest, latest.c.id == Decision.id)
             .join(Comment, Comment.id == Decision.comment_pk)
             .outerjoin(Article, and_(Article.site == Comment.site, Article.article_id == Comment.article_id))
             .order_by(Decision.id))
    if since is not None:
        query = query.where(Decision.decided_at >= since)
    if site:
        query = query.where(Comment.site == site)
    for r in session.execute(query.execution_options(yield_per=1000)):
        yield {"id": f"{r.site}:{r.comment_id}", "text": r.text,
               "article_id": f"{r.site}:{r.article_id}" if r.article_id else "",
               "article_title": r.title or "", "article_body": r.body or "",
               **{label: _flag(getattr(r, label)) for label in registry.LABELS},
               "reasons": ";".join(r.reasons or [])}


# A spreadsheet runs a cell that starts with one of these as a formula (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
ESCAPE = "'"


def neutralise(value):
    """The OWASP prefix: a leading ' makes the spreadsheet show the cell as text. Cells that already start with '
    get one too, so training.data strips exactly one ' and reads back every text unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS + (ESCAPE,)):
        return ESCAPE + value
    return value


def serialise(records, fmt: str):
    """Yield the export as text chunks (streams: the whole export is never in memory). CSV cells are
    neutralised against formula injection; JSONL is written as stored."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    if fmt == "jsonl":
        for record in records:
            yield json.dumps(record, ensure_ascii=False) + "\n"
        return
    buffer = io.StringIO()
    # RFC 4180 line ends: with "\n" alone the writer leaves a cell holding a lone "\r" unquoted (a broken row)
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for record in records:
        writer.writerow({k: neutralise(v) for k, v in record.items()})
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
