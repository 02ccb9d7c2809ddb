"""Deadlines: a request's time budget, and the fast path when the full model cannot answer within it.

A request may carry a budget in milliseconds (`deadline_ms` in the body, or the X-Deadline-Ms header); each
integration has a default (DEADLINE_MS for /v1: none; Coral: 150 ms, under its 200 ms phase timeout). The budget
runs from when the request reached us: the load balancer's X-Request-Start (t=<epoch seconds, ms or µs>) when it
sends one, so time queued in front of a busy worker counts, else from the start of the request here.

The full model scores in this process's one scoring thread. If it has not answered when only MARGIN_MS of the
budget is left (it was busy, or the comment is slow), or cannot (at its measured pace, this comment and those
queued ahead of it take longer than the budget left: then it is not started), the answer comes from the bundle's
fast path (models.fastpath: n-gram abuse and spam heads, no encoder) with `degraded: true`; the fast path holds
whatever it is unsure of. When the comment is stored, the full model's answer replaces it when it comes; if the
outcome changed, the comment moves in or out of the review queue (its status) and the CMS's webhook is told. A
comment that is not stored (Coral's default) is not re-scored: its answer is final, so under overload the full
model's time goes to requests still within their budget.
"""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from flask import current_app, g, request

import models

from .errors import ApiError

log = logging.getLogger(__name__)

HEADER = "X-Deadline-Ms"
START_HEADER = "X-Request-Start"
MAX_BUDGET_MS = 60_000
MARGIN_MS = 10          # kept for the fast path, storing and answering once the full model is given up on
MAX_BACKLOG = 256       # comments waiting for the full model in one process; past it a degraded answer stays
IDLE_SLACK = 1.5        # an idle full model is tried while its average pace is within this multiple of the budget
PROBE_S = 0.5           # an idle full model too slow for the budgets is still tried at most this often
FAST_SUFFIX = "+fast"   # model_version of an answer from the fast path


def init_app(app):
    app.config.setdefault("DEADLINE_MS", None)

    @app.before_request
    def _received():
        g.received_at = time.monotonic()


def budget_ms(value=None, default=None, field: str = "deadline_ms") -> int | None:
    """The request's budget: the body's value, else the header, else the integration's default (None: none)."""
    source = field
    if value is None and request.headers.get(HEADER) is not None:
        value, source = request.headers.get(HEADER), HEADER
        try:
            value = int(value)
        except ValueError:
            raise ApiError(400, "must be an integer number of milliseconds", field=HEADER,
                           code="invalid_value") from None
    if value is None:
        return None if default is None else int(default)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_BUDGET_MS:
        raise ApiError(400, f"must be an integer from 1 to {MAX_BUDGET_MS} (milliseconds)", field=source,
                       code="invalid_value")
    return value


def _started() -> float:
    """When the request reached us, on the monotonic clock."""
    now_mono, now_wall = time.monotonic(), time.time()
    start = g.get("received_at", now_mono)
    raw = request.headers.get(START_HEADER, "")
    try:
        t = float(raw.strip().removeprefix("t="))
    except ValueError:
        return start
    for scale in (1.0, 1e-3, 1e-6):  # seconds, milliseconds or microseconds since the epoch
        waited = now_wall - t * scale
        if 0 <= waited < 60:
            return min(start, now_mono - waited)
    return start


def deadline_for(ms: int | None) -> float | None:
    return None if ms is None else _started() + ms / 1000.0


class FastScore:
    """A fast-path score where `models.decide` takes a Score: the heads it has, and lowered thresholds."""
    degraded = True
    sub_scores: dict = {}
    spans: list = []

    def __init__(self, scores: dict, fast, language: str | None = None):
        self._scores, self._fast = scores, fast
        self.language = language  # the language whose own head scored abuse (None: the fast path's n-gram head)
        self.model_version = fast.version

    def head_scores(self) -> dict:
        return dict(self._scores)

    def adjust_thresholds(self, thresholds: dict) -> dict:
        return self._fast.thresholds(thresholds, self.language)


class _Runner:
    """This process's full-model scoring thread (one: the encoder already uses the worker's cores). It keeps a
    moving average of its seconds per comment, so a request whose budget cannot cover its own comments and those
    queued ahead of it answers from the fast path at once instead of spending the budget waiting (and the CPU on
    an answer nobody waits for). Idle but too slow for the budgets (an overloaded machine), it is still tried (and
    waited for, within the budget) once per PROBE_S, so the pace is measured again and recovers when the load eases."""

    def __init__(self):
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="full-model")
        self.backlog = 0
        self.per_comment: float | None = None
        self.probed = float("-inf")
        self.lock = threading.Lock()

    def probe_due(self) -> bool:
        """True (once per PROBE_S) when the idle full model may be tried although its pace says it is too slow."""
        with self.lock:
            now = time.monotonic()
            if self.backlog or now - self.probed < PROBE_S:
                return False
            self.probed = now
            return True

    def predict(self, n: int) -> float:
        """Seconds until n more comments would be scored (0 while nothing has been measured)."""
        with self.lock:
            return (self.backlog + n) * (self.per_comment or 0.0)

    def submit(self, fn, n: int, weight: float = 0.2):
        """fn's future, its n comments counted in the backlog until done; its pace weighs `weight` in the average."""
        with self.lock:
            if self.backlog + n > MAX_BACKLOG:
                return None
            self.backlog += n

        def timed():
            started = time.perf_counter()
            try:
                return fn()
            finally:
                took = (time.perf_counter() - started) / max(n, 1)
                with self.lock:
                    old = self.per_comment
                    self.per_comment = took if old is None else (1 - weight) * old + weight * took

        future = self.pool.submit(timed)
        future.add_done_callback(lambda _: self._done(n))
        return future

    def _done(self, n):
        with self.lock:
            self.backlog -= n


_runner: _Runner | None = None
_runner_lock = threading.Lock()


def runner() -> _Runner:
    global _runner
    with _runner_lock:
        if _runner is None:
            _runner = _Runner()
    return _runner


def score_by(deadline: float, bundle, pairs, score_all, background: bool = True):
    """(scores, None) from the full model when it answers in time; else (fast-path scores, the full model's future
    to replace them with, or None when `background` is False: nothing would keep its answer)."""
    run = runner()
    wait = deadline - time.monotonic() - MARGIN_MS / 1000.0
    future = None
    # it can make it (or nothing has been measured yet); an idle runner's pace is an average: half its runs are faster
    fits = wait > 0 and run.predict(len(pairs)) <= wait * (IDLE_SLACK if run.backlog == 0 else 1.0)
    probe = wait > 0 and not fits and run.probe_due()
    if fits or probe:
        # a probe's pace, measured on an idle runner while its request waits, is the pace now (it recovers at once)
        future = run.submit(lambda: score_all(bundle, pairs), len(pairs), 1.0 if probe else 0.2)
        if future is not None:
            try:
                return future.result(timeout=max(0.0, deadline - time.monotonic() - MARGIN_MS / 1000.0)), None
            except FutureTimeout:
                if not background:
                    future.cancel()  # not started yet: the CPU goes to the requests still in time
                    future = None
    elif background:
        future = run.submit(lambda: score_all(bundle, pairs), len(pairs))
        if future is None:
            log.warning("full-model backlog over %d comments: the degraded answer stays", MAX_BACKLOG)
    try:
        from models.fastpath import fast_path

        fast = fast_path(bundle)
        scores = [FastScore(s, fast, language) for s, language in map(fast.judged, [text for text, _ in pairs])]
    except Exception as exc:  # noqa: BLE001 - no fast path: hold (fail closed) until the full model answers
        log.exception("fast path failed")
        scores = [exc] * len(pairs)
    return scores, future


def rescore_later(future, site: str, todo: list, store: bool, decide, bundle):
    """When the full model's scores arrive, replace the degraded answers (todo: moderate_many's entries)."""
    if future is None:
        return
    app = current_app._get_current_object()

    def finish(f):
        try:
            scores = f.result()
        except Exception:  # noqa: BLE001 - the degraded answer stays, held if the fast path was unsure
            log.exception("background re-scoring failed")
            return
        with app.app_context():
            try:
                _apply(app, site, todo, scores, store, decide, bundle)
            except Exception:  # noqa: BLE001
                log.exception("storing the full model's answer failed")

    future.add_done_callback(finish)


def _apply(app, site, todo, scores, store, decide, bundle):
    from sqlalchemy import select

    from .db import Comment, db_session
    session = db_session()
    for (_, comment, _, article, *_), score in zip(todo, scores):
        result = decide(bundle, None if isinstance(score, Exception) else score, site, article.get("section"),
                        comment["text"])
        if not store:
            log.info("comment %s re-scored by the full model: %s %s (answered degraded)", comment["id"],
                     result["decision"], result["reasons"])
            continue
        row = session.scalar(select(Comment).where(Comment.site == site, Comment.comment_id == str(comment["id"])))
        if row is None or not row.model_version.endswith(FAST_SUFFIX) or row.status not in ("published", "held"):
            continue  # a moderator or an earlier re-score got there first
        changed = row.decision != result["decision"]
        row.scores, row.spans, row.reasons = result["scores"], result["spans"], result["reasons"]
        row.decision, row.model_version = result["decision"], result["model_version"]
        row.status = "published" if result["decision"] == "publish" else "held"
        if changed:
            from .review import outbox
            outbox.enqueue(session, app.config, row, {
                "event": "comment.rescored", "site": row.site, "comment_id": row.comment_id, "status": row.status,
                "decision": row.decision, "reasons": row.reasons, "model_version": row.model_version})
        session.commit()
