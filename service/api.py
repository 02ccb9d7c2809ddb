"""The /v1 JSON API the CMS calls: moderate (one or a batch), register articles, poll a comment's state."""
import json

from flask import Blueprint, current_app, g, jsonify, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .auth import require_api_key
from .db import Article, Comment, db_session, iso
from .errors import ApiError
from .deadline import budget_ms, deadline_for
from .moderation import article_embeddings, moderate_many, response_from_row
from .schema import ARTICLE_FIELDS, MODERATE, Field, batch_schema, check, validate

bp = Blueprint("api", __name__, url_prefix="/v1")


def _reject_constant(name):
    raise ValueError(f"{name} is not valid JSON")


def json_body(untyped_ok: bool = False):
    """The request body as parsed JSON, or a 4xx ApiError saying exactly what is wrong with it.
    untyped_ok: a body sent with no Content-Type is read as JSON too (Perspective's own samples send none)."""
    if request.mimetype != "application/json" and not (untyped_ok and not request.mimetype):
        raise ApiError(415, f"Content-Type must be application/json (got {request.mimetype or 'none'})",
                       field="Content-Type", code="unsupported_media_type")
    raw = request.get_data(cache=True)  # 413 above MAX_CONTENT_LENGTH
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if request.content_length is None and limit and len(raw) >= limit:
        # a chunked body says no length up front: get_data stops at the limit and says nothing
        if request.environ["wsgi.input"].read(1):
            raise ApiError(413, f"request body larger than {limit} bytes", field="body", code="payload_too_large")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, f"body is not valid UTF-8 (bad byte at offset {exc.start})", field="body",
                       code="invalid_encoding") from None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ApiError(400, f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", field="body",
                       code="invalid_json") from None
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, f"invalid JSON: {exc}", field="body", code="invalid_json") from None


def reject_surrogates(data, where: str = "body"):
    """400 for an unpaired UTF-16 surrogate anywhere in parsed JSON (`"\\ud800"` is valid JSON, but not text:
    it cannot be stored, scored or logged)."""
    stack = [(data, where)]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ApiError(400, "contains an unpaired UTF-16 surrogate (\\ud800-\\udfff escape)", field=path,
                               code="invalid_value") from None
        elif isinstance(value, dict):
            stack += [(k, path) for k in value] + [(v, f"{path}.{k}") for k, v in value.items()]
        elif isinstance(value, list):
            stack += [(v, f"{path}[{i}]") for i, v in enumerate(value)]
    return data


def _check_site(site, field="site"):
    if site is not None and site != g.site:
        raise ApiError(403, f"this API key belongs to site {g.site!r}, not {site!r}", field=field, code="forbidden")


def _item(data: dict) -> dict:
    return {"comment": data["comment"], "article": data["article"], "callback_url": data.get("callback_url")}


@bp.post("/moderate")
@require_api_key
def moderate_one():
    data = validate(json_body(), MODERATE)
    _check_site(data.get("site"))
    budget = budget_ms(data.get("deadline_ms"), current_app.config.get("DEADLINE_MS"))
    result = moderate_many(g.site, [_item(data)], deadline=deadline_for(budget))[0]
    g.decision = result["decision"]
    return jsonify(result)


@bp.post("/moderate/batch")
@require_api_key
def moderate_batch():
    limit = int(current_app.config["BATCH_MAX_ITEMS"])
    data = validate(json_body(), batch_schema(limit))
    _check_site(data.get("site"))
    results: list = [None] * len(data["items"])
    valid, positions = [], []
    for i, raw in enumerate(data["items"]):
        try:
            item = validate(raw, MODERATE, f"items[{i}]")
            _check_site(item.get("site"), f"items[{i}].site")
        except ApiError as err:
            results[i] = err.to_dict()
            continue
        valid.append({**_item(item), "deadline_ms": item.get("deadline_ms")})
        positions.append(i)
    # one budget for the batch: the tightest an item asks for, else the header or the default
    asked = [item["deadline_ms"] for item in valid if item.get("deadline_ms") is not None]
    budget = budget_ms(min(asked) if asked else None, current_app.config.get("DEADLINE_MS"))
    for i, result in zip(positions, moderate_many(g.site, valid, deadline=deadline_for(budget)) if valid else []):
        results[i] = result
    return jsonify({"results": results})


def _article_json(row: Article) -> dict:
    return {"id": row.article_id, "title": row.title, "body": row.body, "section": row.section, "url": row.url,
            "updated_at": iso(row.updated_at)}


def _path_id(value: str, field: str) -> str:
    return check(Field("id"), value, field)


@bp.put("/articles/<path:article_id>")
@require_api_key
def put_article(article_id):
    article_id = _path_id(article_id, "article_id")
    data = validate(json_body(), ARTICLE_FIELDS)
    embeddings = article_embeddings(data.get("title"), data.get("body"))  # before the transaction: it takes a while
    session = db_session()
    query = select(Article).where(Article.site == g.site, Article.article_id == article_id)
    row = session.scalar(query)
    created = row is None
    if created:
        row = Article(site=g.site, article_id=article_id)
        session.add(row)

    def fill(row):
        for name in ARTICLE_FIELDS:  # PUT replaces: fields not sent are cleared
            setattr(row, name, data.get(name))
        row.embeddings = embeddings

    fill(row)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()  # a concurrent PUT created it first: update that row instead
        row = session.scalar(query)
        if row is None:
            raise
        fill(row)
        session.commit()
        created = False
    return jsonify(_article_json(row)), 201 if created else 200


@bp.get("/articles/<path:article_id>")
@require_api_key
def get_article(article_id):
    article_id = _path_id(article_id, "article_id")
    row = db_session().scalar(select(Article).where(Article.site == g.site, Article.article_id == article_id))
    if row is None:
        raise ApiError(404, "no article with this id for this site", field="article_id", code="not_found")
    return jsonify(_article_json(row))


@bp.get("/comments/<path:comment_id>")
@require_api_key
def get_comment(comment_id):
    comment_id = _path_id(comment_id, "comment_id")
    row = db_session().scalar(select(Comment).where(Comment.site == g.site, Comment.comment_id == comment_id))
    if row is None:
        raise ApiError(404, "no comment with this id for this site", field="comment_id", code="not_found")
    body = response_from_row(row)
    body.update(status=row.status, article_id=row.article_id, received_at=iso(row.received_at),
                updated_at=iso(row.updated_at))
    return jsonify(body)
