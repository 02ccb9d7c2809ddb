"""Perspective API drop-in: `comments:analyze` and `comments:suggestscore` at Google's paths and in Google's
shapes, so a Perspective client only changes its base URL. The key comes as `?key=` as Perspective clients
send it; errors are Google's `{"error": {"code", "message", "status", "details"}}`, not the /v1 error shape.
Google's discovery-based clients (google-api-python-client) find the two methods at `/$discovery/rest`.

Config `[perspective]` (or MODERATION_PERSPECTIVE as JSON), with per-site overrides under `sites."<site>"`:
  analyze_is_comment = false   # true: stored analyze calls are real comments and held ones enter the review queue
  store_window = 3600          # seconds: identical analyze calls (text, context, key) in one window are stored once
"""
import hashlib
import logging
import time
import uuid

from flask import Blueprint, current_app, g, jsonify, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from werkzeug.exceptions import HTTPException

from models import reasons as registry
from models.cues import latin_share

from .api import json_body, reject_surrogates
from .auth import verify_api_key
from .db import Article, Comment, ThresholdWarning, db_session, utcnow
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

ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
ANALYZER_ERROR = "type.googleapis.com/google.commentanalyzer.v1alpha1.Error"
# Google's Perspective settings, as this server reads them; a site entry under "sites" overrides them for that site
PERSPECTIVE_DEFAULTS = {"analyze_is_comment": False, "store_window": 3600}
BLIND_CATCH = 0.05   # a TOXICITY threshold catching under this share of toxic validation comments is logged
WARNING_REFRESH = 3600   # seconds between one worker's refreshes of a recorded warning's last_seen

GOOGLE_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                 405: "INVALID_ARGUMENT", 413: "INVALID_ARGUMENT", 415: "INVALID_ARGUMENT",
                 422: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}


class PerspectiveError(ApiError):
    """An error with Google's `details` entry: the Comment Analyzer's `errorType` (COMMENT_EMPTY, ...) or, for the
    API key and quota, Google's ErrorInfo `reason` (API_KEY_INVALID, ...), which clients branch on."""

    def __init__(self, status: int, message: str, error_type: str | None = None, reason: str | None = None,
                 **extra):
        super().__init__(status, message)
        self.error_type, self.reason, self.extra = error_type, reason, extra


def _bad(message: str, error_type: str = "INVALID_REQUEST", **extra) -> ApiError:
    return PerspectiveError(400, message, error_type, **extra)


def _details(exc, code: int) -> list:
    reason = getattr(exc, "reason", None) or ("RATE_LIMIT_EXCEEDED" if code == 429 else None)
    if reason:
        return [{"@type": ERROR_INFO, "reason": reason, "domain": "googleapis.com",
                 "metadata": {"service": "commentanalyzer.googleapis.com"}}]
    error_type = getattr(exc, "error_type", None) or ("INVALID_REQUEST" if code < 500 else "ERROR_TYPE_UNSPECIFIED")
    return [{"@type": ANALYZER_ERROR, "errorType": error_type, **(getattr(exc, "extra", None) or {})}]


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
    response = jsonify({"error": {"code": code, "message": message, "status": GOOGLE_STATUS.get(code, "UNKNOWN"),
                                  "details": _details(exc, code)}})
    response.status_code = code
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _authenticate() -> str:
    """Perspective clients send the key as `?key=` (or Google's `X-Goog-Api-Key` header); answers as Google does."""
    raw = request.args.get("key") or request.headers.get("X-Goog-Api-Key")
    if not raw:
        raise PerspectiveError(403, "The request is missing a valid API key.", reason="CREDENTIALS_MISSING")
    key = verify_api_key(raw)
    if key is None:
        raise PerspectiveError(400, "API key not valid. Please pass a valid API key.", reason="API_KEY_INVALID")
    g.site, g.api_key = key.site, key
    check_rate_limit(bucket_for(key))  # the same bucket as the key's /v1 requests
    return key.site


def _body() -> dict:
    data = json_body(untyped_ok=True)
    if not isinstance(data, dict):
        raise _bad("Invalid JSON payload received. The request body must be a JSON object.")
    return reject_surrogates(data, "request")


TEXT_TYPES = ("PLAIN_TEXT", "HTML", "TEXT_TYPE_UNSPECIFIED")   # unspecified: plain text, as Google reads it


def _text_of(entry, where: str) -> str:
    """`{"text", "type"?}` (a comment or a context entry) -> plain text."""
    if not isinstance(entry, dict) or not isinstance(entry.get("text"), str):
        raise _bad(f"{where}.text is required and must be a string.",
                   "COMMENT_EMPTY" if where == "comment" else "INVALID_REQUEST")
    kind = entry.get("type") or "PLAIN_TEXT"
    if kind not in TEXT_TYPES:
        raise _bad(f"{where}.type must be PLAIN_TEXT or HTML, not {kind!r}.")
    text = entry["text"]
    if "\x00" in text:
        raise _bad(f"{where}.text must not contain NUL characters.")
    return html_to_text(text) if kind == "HTML" else text


def _comment_text(data: dict) -> str:
    text = _text_of(data.get("comment"), "comment")
    if is_blank(text):
        raise _bad("Comment must be non-empty.", "COMMENT_EMPTY")
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
    return [x.strip() for x in langs]   # echoed as sent ("en-US" stays "en-US"); compared case-blind


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
        keys = {*probe.head_scores(), *probe.sub_scores}
        scale = _scale(bundle)
        if scale is not None and scale.has_severe:
            keys.add("severe_toxicity")
        cache[id(bundle)] = keys
    return cache[id(bundle)]


def _scale(bundle):
    """The bundle's Perspective scale, or None (then TOXICITY is our raw abuse probability: said once in the log)."""
    scale = getattr(bundle, "perspective_scale", None)
    warned = current_app.extensions.setdefault("perspective_warned", set())
    if scale is None and "no-scale" not in warned:
        warned.add("no-scale")
        log.warning("model bundle %s has no perspective_scale.json: TOXICITY is served as the raw abuse probability, "
                    "on which Perspective-era thresholds (0.7-0.9) catch almost nothing; build it with "
                    "`python -m training.perspective_scale build`", getattr(bundle, "version", "?"))
    return scale


def _perspective_values(bundle, scores: dict) -> dict:
    """Our score keys -> the values the Perspective endpoint answers: TOXICITY and SEVERE_TOXICITY on
    Perspective's scale (rater share), the rest as our heads give them. /v1 is untouched by this."""
    values = dict(scores)
    scale = _scale(bundle)
    if scale is not None and "abusive" in scores:
        values["abusive"] = round(float(scale.toxicity(scores["abusive"])), 6)
        if scale.has_severe:
            values["severe_toxicity"] = round(scale.severe(scores), 6)
    return values


def _warn_if_blind(bundle, requested: dict):
    """A client threshold that would catch almost no toxic comment: logged once per key and threshold, and
    recorded (refreshed at most every WARNING_REFRESH seconds per worker) for the admins' dashboard."""
    threshold = requested.get("TOXICITY")
    scale = getattr(bundle, "perspective_scale", None)
    if threshold is None or scale is None:
        return
    catch = scale.expected_catch(threshold)
    if catch is None or catch >= BLIND_CATCH:
        return
    seen = current_app.extensions.setdefault("perspective_blind", {})
    key = (g.api_key.id, float(threshold))
    if key not in seen:
        log.warning("API key %s (site %s) asks for TOXICITY >= %s, which catches about %.0f%% of toxic comments on "
                    "our validation data: lower the threshold (see docs/perspective-migration.md)",
                    g.api_key.prefix, g.site, threshold, 100 * catch)
    elif time.monotonic() - seen[key] < WARNING_REFRESH:
        return
    seen[key] = time.monotonic()
    _record_warning("TOXICITY", float(threshold), catch)


def _record_warning(attribute: str, threshold: float, catch: float):
    session = db_session()
    where = (ThresholdWarning.api_key_id == g.api_key.id, ThresholdWarning.attribute == attribute,
             ThresholdWarning.threshold == threshold)
    try:
        row = session.scalar(select(ThresholdWarning).where(*where))
        if row is None:
            session.add(ThresholdWarning(site=g.site, api_key_id=g.api_key.id, key_prefix=g.api_key.prefix,
                                         attribute=attribute, threshold=threshold, expected_catch=catch))
        else:
            row.last_seen, row.expected_catch = utcnow(), catch
        session.commit()
    except SQLAlchemyError:   # a concurrent worker wrote it first, or the database hiccupped: the answer stands
        session.rollback()
        log.warning("could not record the threshold warning for API key %s", g.api_key.prefix, exc_info=True)


def _bundle():
    try:
        return get_bundle()
    except BundleUnavailable:
        raise ApiError(503, "The model is not available right now; try again later.") from None


def _requested(data: dict, available: set[str]) -> dict[str, float | None]:
    """requestedAttributes -> {name: scoreThreshold or None}; an attribute we cannot score is a 400 naming it."""
    requested = data.get("requestedAttributes")
    if not isinstance(requested, dict) or not requested:
        raise _bad("requestedAttributes must name at least one attribute, e.g. {\"TOXICITY\": {}}.",
                   "NO_REQUESTED_ATTRIBUTES")
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


def _base_language(code: str) -> str:
    """BCP-47 or ISO code -> its primary language, lower case: "en-US" -> "en", "hi-Latn" -> "hi"."""
    return code.replace("_", "-").split("-")[0].lower()


def _language_heads(bundle) -> dict:
    """The bundle's abuse heads of other languages ({} for a bundle that has none, as test bundles)."""
    return getattr(bundle, "language_heads", None) or {}


HEAD_KEYS = frozenset({"abusive"})   # a language head scores abuse alone: TOXICITY, no sub-scores, spans or others


def _head_for(bundle, code: str, text: str) -> str | None:
    """The bundle's language head that serves a language code, if any: its own tag ("ur-Latn", any case), or the
    bare language ("ur", "ur-PK") when the comment is written in the head's script (Latin for Roman Urdu; Urdu in
    Arabic script, or "ur-Arab", is not the head's)."""
    parts = code.replace("_", "-").lower().split("-")
    script = next((p for p in parts[1:] if len(p) == 4 and p.isalpha()), None)
    for tag in _language_heads(bundle):
        base, _, own = tag.lower().partition("-")
        if parts[0] != base:
            continue
        if script:   # the client names the script: it must be the head's
            if script == own or not own:
                return tag
        elif own != "latn" or (latin_share(text) or 0.0) >= 0.5:
            return tag
    return None


def _language_keys(bundle, code: str, text: str, available: set[str]) -> set[str]:
    """The score keys the bundle answers for a comment in this language: every one for English, the abuse score
    for a language with its own head, none otherwise."""
    if _base_language(code) in set(getattr(bundle, "SUPPORTED_LANGUAGES", ("en",))):
        return available
    return set(HEAD_KEYS) if _head_for(bundle, code, text) else set()


def _check_languages(bundle, text: str, languages: list[str], requested: dict, available: set[str],
                     drop: bool = False) -> tuple[str, dict]:
    """Perspective's rule, per attribute: every requested language (with none requested, the detected one) must
    support it. A comment the language ID routes to a language head is scored by that head whatever the client
    says, so its language must support the attribute too. -> (detected language, the attributes to score): an
    unsupported one is Google's 400, or dropped with dropUnsupportedAttributes."""
    detected = _detected_language(text)
    checked = list(languages or [detected])
    if detected in _language_heads(bundle) and \
            not any(_head_for(bundle, x, text) == detected for x in checked):
        checked.append(detected)
    keep = {}
    for attribute, threshold in requested.items():
        key = attributes()[attribute]
        unsupported = [x for x in checked if key not in _language_keys(bundle, x, text, available)]
        if not unsupported:
            keep[attribute] = threshold
        elif not drop:
            raise _bad(f"Attribute {attribute} does not support request languages: {', '.join(unsupported)}",
                       "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE", languageNotSupportedByAttributeError={
                           "detectedLanguages": [detected], "requestedLanguages": languages, "attribute": attribute})
    return detected, keep


def _probability(value: float) -> dict:
    return {"value": value, "type": "PROBABILITY"}


def utf16_offset(text: str, index: int) -> int:
    """A code-point index -> the same position in UTF-16 code units, which Perspective's offsets count (and
    JavaScript's string indices): a character outside the BMP (most emoji) is two units."""
    return index + sum(1 for c in text[:index] if ord(c) > 0xFFFF)


def _span_scores(name: str, value: float, spans: list | None, text: str) -> list:
    """With spanAnnotations, TOXICITY's spans are the words that drive the abuse score; otherwise (and for the
    attributes without word spans) one span over the whole comment carries the summary, as Google answers
    (clients such as PyPerspective read `spanScores` on every attribute)."""
    if name == "TOXICITY" and spans is not None:
        return [{"begin": utf16_offset(text, s["begin"]), "end": utf16_offset(text, s["end"]),
                 "score": _probability(s["score"])} for s in spans]
    return [{"begin": 0, "end": utf16_offset(text, len(text)), "score": _probability(value)}]


def _setting(site: str, name: str):
    config = current_app.config.get("PERSPECTIVE") or {}
    site_config = (config.get("sites") or {}).get(site) or {}
    for source in (site_config, config, PERSPECTIVE_DEFAULTS):
        if name in source:
            return source[name]


def _analysis_id(text: str, article_text: str | None) -> str:
    """Perspective requests carry no comment id: identical calls (key, text, context) within one store window
    share one id, so a client that retries or re-asks stores one row, not one per call."""
    window = max(1, int(_setting(g.site, "store_window") or 1))
    digest = hashlib.sha256("\x00".join([str(g.api_key.id), text, article_text or ""]).encode("utf-8"))
    return f"perspective-{digest.hexdigest()[:32]}-{int(time.time() // window)}"


def _new_comment_id() -> str:
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


def _moderated(site, text, article_text, *, store: bool, comment_id: str | None = None, queue: bool = True) -> dict:
    article = _context_article(site, article_text, store)
    result = moderate(site, {"id": comment_id or _new_comment_id(), "text": text}, article, store=store,
                      queue=queue)
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
    available = _available(bundle)
    requested = _requested(data, available)
    drop = _optional(data, "dropUnsupportedAttributes", bool)
    detected, requested = _check_languages(bundle, text, languages, requested, available, bool(drop))
    if not requested:   # every attribute dropped: nothing scored, nothing stored, as Google answers
        body = {"languages": languages or [detected], "detectedLanguages": [detected]}
        return jsonify({**body, "clientToken": token} if token is not None else body)

    result = _moderated(site, text, article_text, store=not do_not_store, comment_id=_analysis_id(text, article_text),
                        queue=bool(_setting(site, "analyze_is_comment")))

    _warn_if_blind(bundle, requested)
    values = _perspective_values(bundle, result["scores"])
    scale = getattr(bundle, "perspective_scale", None)
    spans = [{**s, "score": round(float(scale.toxicity(s["score"])), 6)} for s in result["spans"]] \
        if scale is not None else result["spans"]
    if detected in _language_heads(bundle):
        spans_wanted = False   # a language head marks no words: the whole-comment span, as without spanAnnotations
    scores = {}
    for name, threshold in requested.items():
        value = values[attributes()[name]]
        if threshold is not None and value < threshold:
            continue  # Perspective leaves out attributes below the requested threshold
        scores[name] = {"spanScores": _span_scores(name, value, spans if spans_wanted else None, text),
                        "summaryScore": _probability(value)}
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

    result = _moderated(site, text, article_text, store=True)   # a correction is about a real comment: queued
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
