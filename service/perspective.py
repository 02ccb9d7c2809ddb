"""Perspective API drop-in: `comments:analyze` and `comments:suggestscore` at Google's paths and in Google's
shapes, so a Perspective client only changes its base URL. The key comes as `?key=` as Perspective clients
send it; errors are Google's `{"error": {"code", "message", "status"}}`, not the /v1 error shape.
Google's discovery-based clients (google-api-python-client) find the two methods at `/$discovery/rest`.
"""
import hashlib
import logging
import uuid

from flask import Blueprint, current_app, g, jsonify, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

from models import reasons as registry

from .api import json_body, reject_surrogates
from .auth import verify_api_key
from .db import Article, Comment, db_session
from .errors import ApiError, unavailable
from .moderation import BundleUnavailable, get_bundle, moderate
from .plaintext import html_to_text
from .ratelimit import bucket_for, check_rate_limit
from .schema import is_blank

log = logging.getLogger(__name__)

bp = Blueprint("perspective", __name__)

# Perspective attribute -> our score key: the heads' attributes are declared in models.reasons (OFF_TOPIC and
# SPAM are ours, judged against the article given in `context`); the abuse sub-scores exist only where the
# bundle's training data had them, and label `abusive` when a client suggests a score.
SUB_ATTRIBUTES = {"SEVERE_TOXICITY": "severe_toxicity", "INSULT": "insult", "PROFANITY": "obscene",
                  "THREAT": "threat", "IDENTITY_ATTACK": "identity_attack"}


def attributes() -> dict[str, str]:
    return {**{r.perspective: r.name for r in registry.all_reasons() if r.perspective}, **SUB_ATTRIBUTES}


def attribute_label(attribute: str) -> str:
    """The moderator label a suggested score for this attribute gives."""
    reason = registry.get(attributes().get(attribute, ""))
    return reason.label if reason is not None and reason.label else "abusive"

GOOGLE_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                 405: "INVALID_ARGUMENT", 413: "INVALID_ARGUMENT", 415: "INVALID_ARGUMENT",
                 422: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}


def _bad(message: str) -> ApiError:
    return ApiError(400, message)


@bp.errorhandler(Exception)
def google_error(exc):
    """Every error of this blueprint in Google's shape, including those raised by shared code (JSON, rate limit)."""
    headers = None
    exc = unavailable(exc) or exc
    if isinstance(exc, ApiError):
        code, message, headers = exc.status, exc.message, getattr(exc, "headers", None)
        if exc.field and exc.field not in message:
            message = f"{exc.field}: {message}"
    elif isinstance(exc, HTTPException):
        code, message = exc.code or 500, exc.description or exc.name
    else:
        log.exception("unhandled error on %s %s", request.method, request.path)
        code, message = 500, "Internal error encountered."
    response = jsonify({"error": {"code": code, "message": message, "status": GOOGLE_STATUS.get(code, "UNKNOWN")}})
    response.status_code = code
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _authenticate() -> str:
    """Perspective clients send the key as `?key=` (or Google's `X-Goog-Api-Key` header); answers as Google does."""
    raw = request.args.get("key") or request.headers.get("X-Goog-Api-Key")
    if not raw:
        raise ApiError(403, "The request is missing a valid API key.")
    key = verify_api_key(raw)
    if key is None:
        raise ApiError(400, "API key not valid. Please pass a valid API key.")
    g.site, g.api_key = key.site, key
    check_rate_limit(bucket_for(key))  # the same bucket as the key's /v1 requests
    return key.site


def _body() -> dict:
    data = json_body()
    if not isinstance(data, dict):
        raise _bad("Invalid JSON payload received. The request body must be a JSON object.")
    return reject_surrogates(data, "request")


def _text_of(entry, where: str) -> str:
    """`{"text", "type"?}` (a comment or a context entry) -> plain text."""
    if not isinstance(entry, dict) or not isinstance(entry.get("text"), str):
        raise _bad(f"{where}.text is required and must be a string.")
    kind = entry.get("type", "PLAIN_TEXT")
    if kind not in ("PLAIN_TEXT", "HTML"):
        raise _bad(f"{where}.type must be PLAIN_TEXT or HTML, not {kind!r}.")
    text = entry["text"]
    if "\x00" in text:
        raise _bad(f"{where}.text must not contain NUL characters.")
    return html_to_text(text) if kind == "HTML" else text


def _comment_text(data: dict) -> str:
    text = _text_of(data.get("comment"), "comment")
    if is_blank(text):
        raise _bad("Comment must be non-empty.")
    return text


def _article_text(data: dict) -> str | None:
    """The article for OFF_TOPIC/SPAM: `context.articleAndParentComment.article`, else the `context.entries`."""
    context = data.get("context")
    if context is None:
        return None
    if not isinstance(context, dict):
        raise _bad("context must be an object.")
    parts = []
    pair = context.get("articleAndParentComment")
    if pair is not None:
        if not isinstance(pair, dict):
            raise _bad("context.articleAndParentComment must be an object.")
        if pair.get("article") is not None:
            parts.append(_text_of(pair["article"], "context.articleAndParentComment.article"))
    entries = context.get("entries") or []
    if not isinstance(entries, list):
        raise _bad("context.entries must be a list.")
    if not parts:
        parts = [_text_of(entry, f"context.entries[{i}]") for i, entry in enumerate(entries)]
    text = "\n\n".join(p for p in parts if p.strip())
    return text or None


def _languages(data: dict) -> list[str]:
    langs = data.get("languages")
    if langs is None:
        return []
    if not isinstance(langs, list) or not all(isinstance(x, str) and x.strip() for x in langs):
        raise _bad("languages must be a list of ISO 639-1 language codes.")
    return [x.strip().lower() for x in langs]


def _optional(data: dict, name: str, kind: type):
    value = data.get(name)
    if value is not None and not isinstance(value, kind):
        raise _bad(f"{name} must be a {'boolean' if kind is bool else 'string'}.")
    return value


def _available(bundle) -> set[str]:
    """Score keys this bundle produces (sub-scores vary with its training data): probed once per bundle."""
    cache = current_app.extensions.setdefault("perspective_keys", {})
    if id(bundle) not in cache:
        probe = bundle.score("Thank you for the article.")
        cache[id(bundle)] = {*probe.head_scores(), *probe.sub_scores}
    return cache[id(bundle)]


def _bundle():
    try:
        return get_bundle()
    except BundleUnavailable:
        raise ApiError(503, "The model is not available right now; try again later.") from None


def _requested(data: dict, available: set[str]) -> dict[str, float | None]:
    """requestedAttributes -> {name: scoreThreshold or None}; an attribute we cannot score is a 400 naming it."""
    requested = data.get("requestedAttributes")
    if not isinstance(requested, dict) or not requested:
        raise _bad("requestedAttributes must name at least one attribute, e.g. {\"TOXICITY\": {}}.")
    supported = sorted(name for name, key in attributes().items() if key in available)
    out = {}
    for name, options in requested.items():
        if attributes().get(name) not in available:
            raise _bad(f"Attribute {name} is not supported by this server. Supported: {', '.join(supported)}.")
        options = {} if options is None else options
        if not isinstance(options, dict):
            raise _bad(f"requestedAttributes.{name} must be an object.")
        if options.get("scoreType", "PROBABILITY") != "PROBABILITY":
            raise _bad(f"requestedAttributes.{name}.scoreType {options['scoreType']!r} is not supported; "
                       "only PROBABILITY.")
        threshold = options.get("scoreThreshold")
        if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float))
                                      or not 0 <= threshold <= 1):
            raise _bad(f"requestedAttributes.{name}.scoreThreshold must be a number from 0 to 1.")
        out[name] = threshold
    return out


def _detected_language(text: str) -> str:
    from models.cues import language  # the guess the bundle itself makes (score.language)
    return language(text)


def _check_languages(bundle, text: str, languages: list[str], attribute: str) -> str:
    """Perspective's rule: every requested language must be supported; with none requested, the detected one."""
    supported = set(getattr(bundle, "SUPPORTED_LANGUAGES", ("en",)))
    detected = _detected_language(text)
    unsupported = [x for x in (languages or [detected]) if x.split("-")[0] not in supported]
    if unsupported:
        raise _bad(f"Attribute {attribute} does not support request languages: {', '.join(unsupported)}")
    return detected


def _probability(value: float) -> dict:
    return {"value": value, "type": "PROBABILITY"}


def _span_scores(name: str, value: float, spans: list, text: str) -> list:
    """TOXICITY: the words that drive the abuse score; other attributes have no word spans, so one span over
    the whole comment carries the summary (as Perspective does for attributes without span models)."""
    if name == "TOXICITY":
        return [{"begin": s["begin"], "end": s["end"], "score": _probability(s["score"])} for s in spans]
    return [{"begin": 0, "end": len(text), "score": _probability(value)}]


def _new_comment_id() -> str:
    # Perspective requests carry no comment id: every analysis is its own record.
    return "perspective-" + uuid.uuid4().hex


def _context_article(site: str, article_text: str | None, store: bool) -> dict | None:
    """A stored comment keeps its context as a registered article (id from its content), so that the labelled
    export carries the article an off-topic correction was made against."""
    if not article_text:
        return None
    if not store:
        return {"body": article_text}
    article_id = "perspective-" + hashlib.sha256(article_text.encode("utf-8")).hexdigest()[:32]
    session = db_session()
    if session.scalar(select(Article.id).where(Article.site == site, Article.article_id == article_id)) is None:
        session.add(Article(site=site, article_id=article_id, body=article_text))
        try:
            session.commit()
        except IntegrityError:
            session.rollback()  # a concurrent request registered the same context first
    return {"id": article_id, "body": article_text}


def _moderated(site, text, article_text, *, store: bool) -> dict:
    article = _context_article(site, article_text, store)
    result = moderate(site, {"id": _new_comment_id(), "text": text}, article, store=store)
    if registry.MODEL_ERROR in result["reasons"]:
        raise ApiError(503, "The model could not score this comment; try again later.")
    return result


@bp.post("/v1alpha1/comments:analyze")
def analyze():
    site = _authenticate()
    data = _body()
    text = _comment_text(data)
    article_text = _article_text(data)
    languages = _languages(data)
    spans_wanted = _optional(data, "spanAnnotations", bool)
    do_not_store = _optional(data, "doNotStore", bool)
    token = _optional(data, "clientToken", str)
    bundle = _bundle()
    requested = _requested(data, _available(bundle))
    detected = _check_languages(bundle, text, languages, next(iter(requested)))

    result = _moderated(site, text, article_text, store=not do_not_store)

    scores = {}
    for name, threshold in requested.items():
        value = result["scores"][attributes()[name]]
        if threshold is not None and value < threshold:
            continue  # Perspective leaves out attributes below the requested threshold
        scores[name] = {"summaryScore": _probability(value)}
        if spans_wanted:
            scores[name]["spanScores"] = _span_scores(name, value, result["spans"], text)
    body = {"languages": languages or [detected], "detectedLanguages": [detected]}
    if scores:
        body["attributeScores"] = scores
    if token is not None:
        body["clientToken"] = token
    return jsonify(body)


def _labels(attribute_scores) -> dict:
    """Suggested scores -> our labels: >= 0.5 is a yes. Toxicity-like attributes label `abusive`, ours `off_topic`."""
    if not isinstance(attribute_scores, dict) or not attribute_scores:
        raise _bad("attributeScores must not be empty.")
    labels: dict = {}
    for name, entry in attribute_scores.items():
        if name not in attributes():
            raise _bad(f"Attribute {name} is not supported by this server. "
                       f"Supported: {', '.join(sorted(attributes()))}.")
        summary = entry.get("summaryScore") if isinstance(entry, dict) else None
        value = summary.get("value") if isinstance(summary, dict) else None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise _bad(f"attributeScores.{name}.summaryScore.value must be a number from 0 to 1.")
        label = attribute_label(name)
        labels[label] = labels.get(label, False) or value >= 0.5
    return labels


def _record_correction(site: str, comment_id: str, labels: dict, token: str | None):
    """The suggestion becomes a CMS correction in the review tables, so the labelled export picks it up."""
    from .review.actions import record_correction

    session = db_session()
    row = session.scalar(select(Comment).where(Comment.site == site, Comment.comment_id == comment_id))
    record_correction(session, row, "reject" if any(labels.values()) else "approve", who=f"perspective:{site}",
                      note="comments:suggestscore" + (f" clientToken={token}" if token else ""), **labels)
    session.commit()


@bp.post("/v1alpha1/comments:suggestscore")
def suggestscore():
    site = _authenticate()
    data = _body()
    text = _comment_text(data)
    article_text = _article_text(data)
    languages = _languages(data)
    token = _optional(data, "clientToken", str)
    labels = _labels(data.get("attributeScores"))
    _bundle()

    result = _moderated(site, text, article_text, store=True)
    _record_correction(site, result["comment_id"], labels, token)

    body = {"detectedLanguages": [_detected_language(text)]}
    if languages:
        body["requestedLanguages"] = languages
    if token is not None:
        body["clientToken"] = token
    return jsonify(body)


def _method(name: str, request_schema: str, response_schema: str) -> dict:
    path = f"v1alpha1/comments:{name}"
    return {"id": f"commentanalyzer.comments.{name}", "path": path, "flatPath": path, "httpMethod": "POST",
            "parameters": {}, "parameterOrder": [], "request": {"$ref": request_schema},
            "response": {"$ref": response_schema}}


@bp.get("/$discovery/rest")
def discovery():
    """Google's API description of the two methods, rooted at this server: a discovery-based client built with
    `discoveryServiceUrl="<our base URL>/$discovery/rest?version=v1alpha1"` then calls us, key and all."""
    version = request.args.get("version", "v1alpha1")
    if version != "v1alpha1":
        raise ApiError(404, f"No API description for version {version!r}; only v1alpha1.")
    root = request.url_root
    schemas = {name: {"id": name, "type": "object"} for name in (
        "AnalyzeCommentRequest", "AnalyzeCommentResponse", "SuggestCommentScoreRequest",
        "SuggestCommentScoreResponse")}
    return jsonify({
        "kind": "discovery#restDescription", "discoveryVersion": "v1", "id": "commentanalyzer:v1alpha1",
        "name": "commentanalyzer", "version": "v1alpha1", "protocol": "rest",
        "title": "Perspective Comment Analyzer API (served by comment-moderation)",
        "rootUrl": root, "servicePath": "", "baseUrl": root, "batchPath": "batch",
        "parameters": {"key": {"type": "string", "location": "query", "description": "API key"},
                       "alt": {"type": "string", "location": "query", "default": "json", "enum": ["json"]}},
        "schemas": schemas,
        "resources": {"comments": {"methods": {
            "analyze": _method("analyze", "AnalyzeCommentRequest", "AnalyzeCommentResponse"),
            "suggestscore": _method("suggestscore", "SuggestCommentScoreRequest", "SuggestCommentScoreResponse"),
        }}},
    })
