"""The decision path: score with the bundle, apply the site/section policy, store, answer. Fails closed.

`moderate()` is the one entry point for every transport (/v1, Perspective, Coral).
"""
import datetime as dt
import logging
import threading
import time

from flask import current_app
from sqlalchemy import select

import models
from models.reasons import MODEL_ERROR
from sqlalchemy.exc import IntegrityError

from . import policy
from .db import Article, Comment, db_session
from .schema import parse_datetime

log = logging.getLogger(__name__)

_lock = threading.RLock()
_cache: dict = {}          # bundle path -> loaded bundle, shared by every app in this process
RETRY_LOAD_AFTER_S = 30     # after a failed load, wait before trying again (each try costs seconds)
_preloaded: dict = {}      # bundle path -> bundle loaded before forking workers (preload), warmed up in each worker


def preload(path=None):
    """Load the bundle now, in the process that will fork the workers: its arrays and vocabularies are then shared
    copy-on-write instead of copied into every worker. Nothing is scored here: the encoder's ONNX Runtime sessions
    (and their threads) are created in each worker, after the fork."""
    import gc

    path = path or models.bundle.default_bundle_path()   # the key get_bundle loads it under
    _preloaded[str(path)] = models.load_bundle(path)
    gc.collect()
    gc.freeze()  # the collector in the workers then leaves the bundle's pages shared


class BundleUnavailable(RuntimeError):
    pass


def get_bundle():
    """The app's model bundle, loaded once per process (create_app loads it before the first request).

    When the app loads the default bundle (BUNDLE unset), it looks at models/bundles/current.txt at most every
    BUNDLE_CHECK_S seconds; when it names another bundle, a thread loads and warms that one while requests
    keep being scored by the old one, then swaps it in (`moderation models promote|rollback` need no restart).
    """
    state = current_app.extensions["moderation"]
    if state.get("bundle") is not None:
        if state.get("swappable"):
            _maybe_swap(current_app._get_current_object(), state)
        return state["bundle"]
    with _lock:
        if state.get("bundle") is None:
            if time.monotonic() - state.get("failed_at", -1e9) < RETRY_LOAD_AFTER_S:
                raise BundleUnavailable(state.get("error", "model bundle not loaded"))
            path = current_app.config.get("BUNDLE")
            try:
                if path is None:
                    path = models.bundle.default_bundle_path()
                    state["swappable"], state["checked_at"] = True, time.monotonic()
                state["bundle"], state["path"] = _load(path), path
            except Exception as exc:  # noqa: BLE001 - any load failure means: not ready, hold everything
                state["failed_at"] = time.monotonic()
                state["error"] = f"model bundle could not be loaded: {exc}"
                log.exception("model bundle %s could not be loaded", path or "(default)")
                raise BundleUnavailable(state["error"]) from exc
    return state["bundle"]


def _load(path):
    """Load (or reuse) the bundle at path; keeps the two most recent in memory, so a rollback is instant."""
    if path not in _cache:
        bundle = _preloaded.pop(str(path), None) or models.load_bundle(path)
        _warm_up(bundle)
        with _lock:
            _cache[path] = bundle
            while len(_cache) > 2:
                _cache.pop(next(iter(_cache)))
    return _cache[path]


def _maybe_swap(app, state):
    now = time.monotonic()
    if now - state.get("checked_at", -1e9) < float(app.config.get("BUNDLE_CHECK_S", 5)):
        return
    state["checked_at"] = now
    try:
        path = models.bundle.default_bundle_path()
    except Exception:  # noqa: BLE001 - no pointer readable now: keep the bundle we have
        log.exception("default bundle pointer unreadable; keeping %s", state["bundle"].version)
        return
    if path == state.get("path") or path == state.get("loading"):
        return
    if state.get("failed_path") == path and now - state.get("failed_at", -1e9) < RETRY_LOAD_AFTER_S:
        return
    state["loading"] = path
    loader = threading.Thread(target=_swap, args=(state, path), name="bundle-swap", daemon=True)
    state["loader"] = loader
    loader.start()


def _swap(state, path):
    """Load the new default bundle beside the one serving, then switch: no request waits or fails for it."""
    try:
        bundle = _load(path)
    except Exception:  # noqa: BLE001
        log.exception("new default bundle %s could not be loaded; still serving %s", path, state["bundle"].version)
        state["failed_path"], state["failed_at"] = path, time.monotonic()
        return
    finally:
        state["loading"] = None
    previous = state["bundle"].version
    state["bundle"], state["path"] = bundle, path   # one reference swap: a request holds whichever it fetched
    log.info("default bundle switched from %s to %s without a restart", previous, bundle.version)


def _warm_up(bundle):
    """Score once now: the text encoder and tokenizer load on first use (seconds), which must not be the
    first reader's comment. Both paths (with and without an article) are exercised."""
    started = time.perf_counter()
    bundle.score_many([("Warming up the model before the first comment.", None),
                       ("Warming up the model.", models.ArticleText(title="Warm-up", body="Warm-up article."))])
    log.info("model bundle %s loaded and warmed up in %.1f s", bundle.version, time.perf_counter() - started)


def init_app(app):
    from . import deadline
    deadline.init_app(app)
    app.extensions["moderation"] = {"bundle": app.config.get("BUNDLE_INSTANCE")}
    if app.config.get("LOAD_BUNDLE_AT_START") and app.extensions["moderation"]["bundle"] is None:
        with app.app_context():
            try:
                get_bundle()
            except BundleUnavailable:
                pass  # /readyz says so; /v1/moderate holds with model_error until it loads


def _parse_time(value, field: str):
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        value = value.isoformat()
    return parse_datetime(str(value), field)  # in UTC, so that SQLite keeps the instant (it drops offsets)


def _as_id(value):
    return None if value is None else str(value)


def response_from_row(row: Comment) -> dict:
    body = _response(row.comment_id, {"decision": row.decision, "reasons": row.reasons, "scores": row.scores,
                                      "spans": row.spans, "model_version": row.model_version, "mode": row.mode,
                                      "would_decision": row.would_decision})
    if row.decision == "hold" and row.status != "analyzed":
        body["review_id"] = row.id
    if (row.model_version or "").endswith("+fast"):  # answered by the fast path, the full model not yet stored
        body["degraded"] = True
    return body


def _response(comment_id, result: dict) -> dict:
    """In shadow mode the CMS gets publish with no reasons; what the policy would have done is under `shadow`."""
    body = {"comment_id": comment_id, "decision": result["decision"], "reasons": list(result["reasons"] or []),
            "scores": dict(result["scores"] or {}), "spans": list(result["spans"] or []),
            "model_version": result["model_version"]}
    if result.get("mode") == "shadow":
        body["shadow"] = {"decision": result.get("would_decision"), "reasons": body["reasons"]}
        body["reasons"] = []
    if result.get("degraded"):
        body["degraded"] = True
    return body


def _apply_mode(result: dict, site: str, section) -> dict:
    """Shadow mode: everything is scored, decided and stored as usual, and published (model errors included:
    a site in shadow mode has not switched holds on)."""
    try:
        mode = policy.mode(site, section)
    except Exception:  # noqa: BLE001 - fail closed: enforce
        log.exception("policy mode unavailable; enforcing")
        mode = "enforce"
    result = {**result, "mode": mode, "would_decision": result["decision"]}
    if mode == "shadow":
        result["decision"] = "publish"
    return result


def _resolve_article(session, site: str, article: dict | None):
    """Inline title/body are stored as PUT /v1/articles would store them (so the queue, section filter and
    export see them); an article sent by id alone is looked up among the stored ones."""
    article = dict(article or {})
    article_id = _as_id(article.get("id"))
    if article_id is None:
        return article_id, article
    if article.get("title") or article.get("body"):
        row = _upsert_inline_article(session, site, article_id, article)
    else:
        row = session.scalar(select(Article).where(Article.site == site, Article.article_id == article_id))
        if row is not None:
            article["title"], article["body"] = row.title, row.body
    if row is not None:
        article["_embeddings"] = row.embeddings
        if article.get("section") is None:
            article["section"] = row.section
    return article_id, article


def _upsert_inline_article(session, site: str, article_id: str, article: dict):
    """Upsert by (site, article id): the newest title and body win; section and url are kept when not sent.
    Embeddings are computed only when the text changed, so a thread's comments encode their article once.
    Storage trouble never fails the comment: it is then scored with the inline text alone."""
    query = select(Article).where(Article.site == site, Article.article_id == article_id)
    title, body = article.get("title"), article.get("body")
    try:
        row = session.scalar(query)
        if row is not None and row.title == title and row.body == body and \
                all(article.get(k) is None or getattr(row, k) == article[k] for k in ("section", "url")):
            return row
        embeddings = row.embeddings if row is not None and (row.title, row.body) == (title, body) \
            else article_embeddings(title, body)
        for attempt in range(2):
            if row is None:
                row = Article(site=site, article_id=article_id)
                session.add(row)
            row.title, row.body, row.embeddings = title, body, embeddings
            for name in ("section", "url"):
                if article.get(name) is not None:
                    setattr(row, name, article[name])
            try:
                session.commit()
                return row
            except IntegrityError:
                # a concurrent request stored this article first: update that row instead
                session.rollback()
                row = session.scalar(query)
                if row is None or attempt:
                    raise
    except Exception:  # noqa: BLE001
        session.rollback()
        log.exception("inline article %s/%s could not be stored", site, article_id)
    return None


def _model_article(article: dict):
    if not (article.get("title") or article.get("body")):
        return None
    # no id: the bundle then caches embeddings by content, so an updated article is never scored stale
    return models.ArticleText(title=article.get("title"), body=article.get("body"), embeddings=article.get("_embeddings"))


def article_embeddings(title, body) -> bytes | None:
    """Embeddings to store with a registered article; None (its first comment then encodes it) if the model
    is not loaded or fails: registering an article must not fail because of the model."""
    if not (title or body):
        return None
    try:
        return get_bundle().article_embeddings(models.ArticleText(title=title, body=body))
    except Exception:  # noqa: BLE001
        log.exception("article embeddings could not be computed; they will be computed on first use")
        return None


def _score_all(bundle, pairs):
    """Batched scoring; if the batch fails, score one by one so one bad item cannot fail the others."""
    try:
        scores = list(bundle.score_many(pairs))
        if len(scores) == len(pairs):
            return scores
        log.error("score_many returned %d scores for %d comments; scoring one by one", len(scores), len(pairs))
    except Exception:  # noqa: BLE001
        log.exception("batched scoring failed; retrying item by item")
    results = []
    for text, article in pairs:
        try:
            results.append(bundle.score(text, article))
        except Exception as exc:  # noqa: BLE001
            log.exception("scoring failed")
            results.append(exc)
    return results


def _max_chars():
    return current_app.config.get("MAX_TEXT_CHARS") or None


def _scored_text(text: str) -> str:
    """Only the first MAX_TEXT_CHARS are scored: scoring time grows with length (about a minute for 250 kB,
    past the worker timeout), and a longer comment is held as too_long whatever its scores."""
    limit = _max_chars()
    return text[:limit] if limit else text


def _decide(bundle, score, site: str, section, text: str, language_default: str | None = None) -> dict:
    """The response body for one scored comment (score=None: the model could not score it).
    language_default: what a path does with a language we cannot score when the site's policy does not say
    (`unsupported_language`); None: hold, fail safe."""
    thresholds = {} if score is None else policy.thresholds(bundle, site, section)
    if hasattr(score, "adjust_thresholds"):  # the fast path decides with lowered thresholds (service.deadline)
        thresholds = score.adjust_thresholds(thresholds)
    language = models.setting_for(current_app.config.get("POLICY"), "unsupported_language", site, section) \
        or language_default or "hold"
    verdict = models.decide(score, thresholds, length=len(text), max_chars=_max_chars(), unsupported_language=language)
    scores = {} if score is None else {**score.head_scores(), **(score.sub_scores or {})}
    body = {"decision": verdict.decision, "reasons": verdict.reasons,
            "scores": {k: round(float(v), 6) for k, v in scores.items()},
            "spans": [] if score is None else list(score.spans or []),
            "model_version": (score.model_version if score is not None else None)
            or getattr(bundle, "version", None) or "unavailable", "thresholds": thresholds or None}
    if getattr(score, "degraded", False):
        body["degraded"] = True
    return body


def _author_standing(session, site: str, comment: dict, result: dict) -> dict:
    """Moderators' trust/ban of the author on this site (service.review.authors) adjusts the decision."""
    from .review import authors
    try:
        return authors.apply(session, current_app.config, site, _as_id(comment.get("author_id")), result)
    except Exception:  # noqa: BLE001
        session.rollback()
        log.exception("author standing could not be read; the model's decision stands")
        return result


def _store(session, site, comment, article_id, result, callback_url, queue=True):
    row = Comment(
        site=site, comment_id=_as_id(comment["id"]), article_id=article_id,
        author_id=_as_id(comment.get("author_id")), author_name=comment.get("author_name"), parent_id=_as_id(comment.get("parent_id")),
        text=comment["text"], created_at=_parse_time(comment.get("created_at"), "comment.created_at"),
        scores=result["scores"], spans=result["spans"], decision=result["decision"], reasons=result["reasons"],
        model_version=result["model_version"],
        status="analyzed" if not queue else "published" if result["decision"] == "publish" else "held",
        callback_url=callback_url, mode=result["mode"], would_decision=result["would_decision"],
        thresholds=result.get("thresholds"),
    )
    session.add(row)
    try:
        session.commit()
    except IntegrityError:
        # the same (site, comment_id) was stored by a concurrent request: its decision is the answer
        session.rollback()
        row = session.scalar(select(Comment).where(Comment.site == site, Comment.comment_id == row.comment_id))
        if row is None:
            raise
    return row


def _rescore_stored(session, row: Comment, result: dict):
    """A comment held only because the model failed, and not yet reviewed, takes the new model answer."""
    if MODEL_ERROR in result["reasons"]:
        return row
    row.scores, row.spans, row.decision = result["scores"], result["spans"], result["decision"]
    row.reasons, row.model_version = result["reasons"], result["model_version"]
    row.status = "published" if result["decision"] == "publish" else "held"
    session.commit()
    return row


def _awaits_rescore(row: Comment) -> bool:
    return MODEL_ERROR in (row.reasons or []) and row.status == "held"


def moderate_many(site: str, items: list[dict], *, store: bool = True, queue: bool = True,
                  language_default: str | None = None, lookup_articles: bool = True,
                  deadline: float | None = None) -> list[dict]:
    """items: [{"comment": {...}, "article": {...} | None, "callback_url": str | None}] -> one response each.
    queue=False: stored as "analyzed" (a score lookup, e.g. a Perspective analyze call), never in the review queue.
    store=False with lookup_articles=False touches no database (Coral's path: it resolves its article itself).
    deadline: time.monotonic() by which to answer; past it the fast path answers (service.deadline)."""
    session = db_session()
    out: list = [None] * len(items)
    todo = []
    for i, item in enumerate(items):
        comment = item["comment"]
        _parse_time(comment.get("created_at"), "comment.created_at")  # reject bad input before scoring
        existing = None
        if store:
            existing = session.scalar(select(Comment).where(Comment.site == site,
                                                            Comment.comment_id == _as_id(comment["id"])))
            if existing is not None and not _awaits_rescore(existing):
                out[i] = response_from_row(existing)
                continue
        if lookup_articles:
            article_id, article = _resolve_article(session, site, item.get("article"))
        else:
            article = dict(item.get("article") or {})
            article_id = _as_id(article.get("id"))
        todo.append((i, comment, article_id, article, item.get("callback_url"), existing))

    if todo:
        bundle, late = None, None
        try:
            bundle = get_bundle()
            pairs = [(_scored_text(c["text"]), _model_article(a)) for _, c, _, a, *_ in todo]
            if deadline is None:
                scores = _score_all(bundle, pairs)
            else:
                from .deadline import score_by
                scores, late = score_by(deadline, bundle, pairs, _score_all, background=store)
        except Exception as exc:  # noqa: BLE001 - fail closed
            scores = [exc] * len(todo)
        for (i, comment, article_id, article, callback_url, existing), score in zip(todo, scores):
            try:
                result = _decide(bundle, None if isinstance(score, Exception) else score, site,
                                 article.get("section"), comment["text"], language_default)
            except Exception:  # noqa: BLE001 - a broken policy holds, as a model failure does
                log.exception("policy failed")
                result = _decide(bundle, None, site, None, comment["text"])
            if store or lookup_articles:  # Coral's database-free path leaves the author's standing out
                result = _author_standing(session, site, comment, result)
            result = _apply_mode(result, site, article.get("section"))
            if existing is not None:
                out[i] = response_from_row(_rescore_stored(session, existing, result))
            elif store:
                out[i] = response_from_row(_store(session, site, comment, article_id, result, callback_url, queue))
            else:
                out[i] = _response(_as_id(comment["id"]), result)
        if late is not None:  # answered degraded: the full model's answer replaces it when it comes
            from .deadline import rescore_later
            rescore_later(late, site, todo, store, _decide, bundle)
    return out


def moderate(site: str, comment: dict, article: dict | None = None, *, store: bool = True,
             callback_url: str | None = None, queue: bool = True, language_default: str | None = None,
             lookup_articles: bool = True, deadline: float | None = None) -> dict:
    """One comment -> the /v1/moderate response body. Idempotent on (site, comment id) when storing."""
    return moderate_many(site, [{"comment": comment, "article": article, "callback_url": callback_url}],
                         store=store, queue=queue, language_default=language_default,
                         lookup_articles=lookup_articles, deadline=deadline)[0]
