"""Coral Talk's external moderation phase. Coral POSTs every new or edited comment here, signed with
`X-Coral-Signature: sha256=<hex HMAC-SHA256 of the raw body>[,sha256=...]` (one signature per active signing
secret while a rotation is under way), and waits at most its phase timeout (200 ms by default). Coral treats
an error or a timeout as "no opinion" and goes on, so this path does no more than one score and one lookup.

Answers, in Coral's format: 204 to publish; to hold, per site `response`:
  "status" -> {"status": "SYSTEM_WITHHELD"} (Coral's pre-moderation queue), with the FLAG action(s) below beside it
              when the hold has a reason Coral can show (as Coral's own toxic phase answers),
  "flag"   -> {"actions": [{"actionType": "FLAG", "reason": "COMMENT_DETECTED_TOXIC" | "COMMENT_DETECTED_SPAM"}]}
              (published and flagged into Coral's reported queue); a hold Coral has no flag reason for
              (off-topic, unsupported language, too long, model error) falls back to SYSTEM_WITHHELD.

Config (TOML `[coral]`, or MODERATION_CORAL as JSON), entries keyed by Coral's `site.id` or its `tenantID`:
  [coral.sites."<coral site id>"]
  site = "example.org"          # our site (articles, policy); default: the key
  secrets = ["<current>", { secret = "<previous>", inactive_at = 2026-12-01T00:00:00Z }]
  response = "status"           # or "flag"
  store = false                 # true: also keep the comment in our database (not in our review queue's way)
  deadline_ms = 150             # time budget (also [coral] deadline_ms); past it the fast path answers
"""
import datetime as dt
import hashlib
import hmac
import logging
import time

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import or_, select
from werkzeug.exceptions import HTTPException

from models import reasons as registry

from .api import json_body, reject_surrogates
from .db import Article, db_session
from .errors import ApiError, error_response
from .deadline import budget_ms, deadline_for
from .moderation import moderate
from .plaintext import html_to_text
from .schema import is_blank

log = logging.getLogger(__name__)

bp = Blueprint("coral", __name__, url_prefix="/coral")

HEADER = "X-Coral-Signature"
MAX_SIGNATURES = 8          # Coral sends one per active secret; more is not Coral
RESPONSES = ("status", "flag")
WITHHELD = {"status": "SYSTEM_WITHHELD"}
DEADLINE_MS = 150           # default budget: past it the fast path answers, inside Coral's 200 ms phase timeout


@bp.errorhandler(Exception)
def _json_error(exc):
    """4xx errors as JSON. Anything that goes wrong on our side (the database down, a bug) answers
    SYSTEM_WITHHELD: Coral publishes on an error, and a comment we could not judge must not go out."""
    if isinstance(exc, ApiError) and exc.status < 500:
        return error_response(exc)
    if isinstance(exc, HTTPException) and (exc.code or 500) < 500:
        return error_response(ApiError(exc.code, exc.description or exc.name))
    log.exception("Coral comment withheld after an error on %s %s", request.method, request.path)
    return jsonify(WITHHELD)


def _utc(value) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, dt.datetime):
        value = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


@bp.record_once
def _check_config(state):
    """A bad [coral] section fails at start with a message, not as 500s on Coral's requests."""
    sites = (state.app.config.get("CORAL") or {}).get("sites") or {}
    for key, entry in sites.items():
        where = f"CORAL sites[{key!r}]"
        if not isinstance(entry, dict):
            raise ValueError(f"{where} must be a table")
        if entry.get("response", "status") not in RESPONSES:
            raise ValueError(f"{where}.response must be one of {RESPONSES}")
        secrets = entry.get("secrets")
        if not isinstance(secrets, list) or not secrets:
            raise ValueError(f"{where}.secrets must be a non-empty list")
        for item in secrets:
            if isinstance(item, dict) and isinstance(item.get("secret"), str) and item["secret"]:
                try:
                    _utc(item.get("inactive_at"))
                except (TypeError, ValueError):
                    raise ValueError(f"{where}: inactive_at {item.get('inactive_at')!r} is not a date-time") from None
            elif not (isinstance(item, str) and item):
                raise ValueError(f"{where}.secrets: each is a string or {{secret, inactive_at}}")


def active_secrets(entry: dict, now: dt.datetime) -> list[bytes]:
    """The entry's secrets that are still active: a plain string, or {secret, inactive_at} during a rotation."""
    out = []
    for item in entry.get("secrets") or []:
        if isinstance(item, str):
            secret, until = item, None
        elif isinstance(item, dict) and isinstance(item.get("secret"), str):
            secret, until = item["secret"], _utc(item.get("inactive_at"))
        else:
            continue
        if secret and (until is None or now < until):
            out.append(secret.encode("utf-8"))
    return out


def signature_valid(header: str | None, body: bytes, secrets: list[bytes]) -> bool:
    """True when any `sha256=` signature in the header is the HMAC of the body under any active secret."""
    given = [part.strip()[len("sha256="):].encode("utf-8", "replace")
             for part in (header or "").split(",")[:MAX_SIGNATURES] if part.strip().startswith("sha256=")]
    valid = False
    for secret in secrets:
        expected = hmac.new(secret, body, hashlib.sha256).hexdigest().encode("ascii")
        for signature in given:
            valid |= hmac.compare_digest(expected, signature)  # no early exit: timing says nothing
    return valid


def _field(data: dict, path: str, required: bool = True):
    value = data
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise ApiError(400, "required, a string", field=path, code="wrong_type")
    return value


def _entry(data: dict) -> tuple[str, dict]:
    sites = (current_app.config.get("CORAL") or {}).get("sites") or {}
    for key in (_field(data, "site.id", False), _field(data, "tenantID", False)):
        if key is not None and isinstance(sites.get(key), dict):
            return key, sites[key]
    raise ApiError(401, f"{HEADER} does not verify for this site", field=HEADER, code="bad_signature")


ARTICLE_CACHE_S = 60.0       # a registered article is looked up again after this long
ARTICLE_CACHE_MAX = 10_000
DB_RETRY_AFTER_S = 5.0       # after a failed lookup, articles come from the cache alone for this long


def _cache() -> dict:
    """Per app (and so per process): {"articles": {(site, story id, url): (looked up at, article)}, "down_until"}."""
    return current_app.extensions.setdefault("coral_articles", {"articles": {}, "down_until": 0.0})


def _lookup_article(site: str, story_id: str | None, story_url: str | None) -> dict | None:
    rows = db_session().scalars(select(Article).where(
        Article.site == site,
        or_(Article.article_id == story_id, Article.url == story_url) if story_url else
        Article.article_id == story_id)).all()
    if not rows:
        return {"id": story_id} if story_id else None
    row = next((r for r in rows if r.article_id == story_id), rows[0])
    return {"id": row.article_id, "title": row.title, "body": row.body, "section": row.section,
            "_embeddings": row.embeddings}


def _article(site: str, story_id: str | None, story_url: str | None) -> dict | None:
    """The registered article for Coral's story: by id (Coral's story id = the CMS article id), else by URL.
    Cached per process, so that Coral's 200 ms budget is not spent on the database, and so that while the
    database is down the comment is still judged against its article (or against nothing: the text alone)."""
    if not story_id and not story_url:
        return None
    key, cache = (site, story_id, story_url), _cache()
    cached = cache["articles"].get(key)
    now = time.monotonic()
    if cached is not None and now - cached[0] < ARTICLE_CACHE_S:
        return cached[1]
    if now >= cache["down_until"]:
        try:
            article = _lookup_article(site, story_id, story_url)
        except Exception as exc:  # noqa: BLE001 - the database is down or slow: judge without it
            log.warning("Coral: article lookup failed (%s); scoring against %s", exc.__class__.__name__,
                        "the cached article" if cached else "the comment text alone")
            cache["down_until"] = now + DB_RETRY_AFTER_S
            db_session().rollback()
        else:
            if len(cache["articles"]) >= ARTICLE_CACHE_MAX:
                cache["articles"].clear()
            cache["articles"][key] = (now, article)
            return article
    return cached[1] if cached else ({"id": story_id} if story_id else None)


def _hold_answer(reasons: list[str], style: str) -> dict:
    flags = (registry.get(r) and registry.get(r).coral_flag for r in reasons)
    actions = [{"actionType": "FLAG", "reason": f} for f in dict.fromkeys(flags) if f]
    if style == "flag" and actions:
        return {"actions": actions}
    return {**WITHHELD, "actions": actions} if actions else dict(WITHHELD)


@bp.post("/moderate")
def coral_moderate():
    if not request.headers.get(HEADER):
        raise ApiError(401, f"missing {HEADER} header", field=HEADER, code="unauthorized")
    data = json_body()
    if not isinstance(data, dict):
        raise ApiError(400, "must be a JSON object", field="body", code="wrong_type")
    reject_surrogates(data)
    key, entry = _entry(data)
    if not signature_valid(request.headers.get(HEADER), request.get_data(cache=True),
                           active_secrets(entry, dt.datetime.now(dt.timezone.utc))):
        log.warning("Coral request for %r with a signature no active secret produced", key)
        raise ApiError(401, f"{HEADER} does not verify for this site", field=HEADER, code="bad_signature")

    text = html_to_text(_field(data, "comment.body"))
    if "\x00" in text:
        raise ApiError(400, "must not contain NUL characters", field="comment.body", code="invalid_value")
    if is_blank(text):
        # a media-only comment (image, GIF, embed): no visible text scores nothing, so it publishes as Coral does
        log.info("Coral comment for %r with no text (media only): published", key)
        return "", 204
    site = entry.get("site") or key
    story_id, story_url = _field(data, "story.id", False), _field(data, "story.url", False)
    author = _field(data, "author.id", False)
    # Coral sends no comment id: an edit of the same text by the same author on the same story is the same comment
    identity = [_field(data, "tenantID", False) or "", story_id or "", author or "", text]
    digest = hashlib.sha256("\x00".join(identity).encode("utf-8")).hexdigest()[:40]
    comment = {"id": f"coral-{digest}", "text": text, "author_id": author,
               "parent_id": _field(data, "comment.parentID", False)}
    budget = budget_ms(None, entry.get("deadline_ms", (current_app.config.get("CORAL") or {}).get(
        "deadline_ms", DEADLINE_MS)), field=HEADER)
    # a language we cannot score publishes (noted language_unscored) unless the site's policy holds it: what Coral
    # does when its own Perspective phase gets Google's 400 for that language
    result = moderate(site, comment, _article(site, story_id, story_url), store=bool(entry.get("store", False)),
                      language_default="publish", lookup_articles=False, deadline=deadline_for(budget))

    degraded = {"X-Moderation-Degraded": "true"} if result.get("degraded") else {}  # answered by the fast path
    if result["decision"] == "publish":
        return "", 204, degraded
    style = entry.get("response") or (current_app.config.get("CORAL") or {}).get("response") or "status"
    if style not in RESPONSES:
        log.error("CORAL response %r for %r is not one of %s; answering with status", style, key, RESPONSES)
        style = "status"
    return jsonify(_hold_answer(result["reasons"], style)), 200, degraded
