"""Deadlines: past a request's time budget the fast path answers (degraded), and the full model's answer
replaces it in the background, moving a changed outcome into the queue and out to the CMS's webhook."""
import threading
import time

import pytest
from sqlalchemy import select

from models.cues import roman_urdu
from service import create_app
from service.db import Comment, db_session
from service.review.tables import OutboxItem
from tiny_data import KeywordBundle

from test_coral import CURRENT, coral_request, encode, sign


class Fast:
    """A fast path in the fast path's shape: abusive 0.9 for a keyword, 0.3 for 'rather', else 0.01; Roman Urdu
    comments scored by a language head (judged at the full model's thresholds), the rest at half of them."""
    version = "kw-1+fast"

    def judged(self, t):
        low = t.lower()
        a = 0.9 if any(w in low for w in KeywordBundle.ABUSIVE) else 0.3 if "rather" in low else 0.01
        return {"abusive": a, "spam": 0.01}, "ur-Latn" if roman_urdu(t) else None

    def thresholds(self, thresholds, language=None):
        return {h: (1.0 if language else 0.5) * thresholds[h] for h in ("abusive", "spam") if h in thresholds}


class SlowBundle(KeywordBundle):
    """The full model waits for `release` (a busy worker), then scores as KeywordBundle does."""

    def __init__(self):
        super().__init__()
        self.release = threading.Event()
        self.scored = []

    def score_many(self, items):
        self.release.wait(10)
        items = list(items)
        self.scored.extend(t for t, _ in items)
        return super().score_many(items)

    def fast_path(self):
        return Fast()


@pytest.fixture
def slow(app_config):
    bundle = SlowBundle()
    app = create_app({**app_config, "BUNDLE_INSTANCE": bundle, "WEBHOOK_URLS": {"test-site": "https://cms.example/h"},
                      "CORAL": {"sites": {"coral-site": {"site": "test-site", "secrets": [CURRENT]}}}})
    yield app, bundle
    bundle.release.set()
    app.extensions["db"]["engine"].dispose()


def key(app):
    from service.auth import create_api_key
    with app.app_context():
        return create_api_key("test-site", "tests")


def moderate(app, api_key, text, cid, headers=None, **extra):
    body = {"comment": {"id": cid, "text": text}, "article": {"id": "a1", "title": "Council budget vote"}, **extra}
    return app.test_client().post("/v1/moderate", json=body, headers={"Authorization": f"Bearer {api_key}",
                                                                       **(headers or {})})


def wait_for(predicate, seconds=10.0):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def stored(app, cid):
    with app.app_context():
        row = db_session().scalar(select(Comment).where(Comment.comment_id == cid))
        outbox = db_session().scalars(select(OutboxItem)).all()
        return row, [o.body for o in outbox]


def test_past_the_budget_the_fast_path_answers_and_the_full_model_replaces_it(slow):
    app, bundle = slow
    api_key = key(app)
    r = moderate(app, api_key, "The budget is fine", "c1", deadline_ms=50)
    assert r.status_code == 200
    body = r.get_json()
    assert body["degraded"] is True and body["decision"] == "publish" and body["model_version"] == "kw-1+fast"
    assert body["scores"] == {"abusive": 0.01, "spam": 0.01}
    row, _ = stored(app, "c1")
    assert row.status == "published" and row.model_version == "kw-1+fast"
    # the same comment again (idempotent replay) still says it was a degraded answer
    assert moderate(app, api_key, "The budget is fine", "c1").get_json()["degraded"] is True

    bundle.release.set()
    assert wait_for(lambda: stored(app, "c1")[0].model_version == "kw-1")
    row, outbox = stored(app, "c1")
    assert row.decision == "publish" and row.status == "published" and "off_topic" in row.scores
    assert outbox == []  # same outcome: nothing to tell the CMS
    assert "degraded" not in app.test_client().get(
        "/v1/comments/c1", headers={"Authorization": f"Bearer {api_key}"}).get_json()


def test_a_changed_outcome_goes_to_the_queue_and_the_webhook(slow):
    app, bundle = slow
    api_key = key(app)
    body = moderate(app, api_key, "Great football match", "c2", deadline_ms=30).get_json()  # off-topic: fast path cannot see it
    assert body["degraded"] is True and body["decision"] == "publish"
    bundle.release.set()
    assert wait_for(lambda: stored(app, "c2")[0].status == "held")
    row, outbox = stored(app, "c2")
    assert row.decision == "hold" and row.reasons == ["off_topic"] and row.model_version == "kw-1"
    assert len(outbox) == 1 and '"event":"comment.rescored"' in outbox[0] and '"status":"held"' in outbox[0]


def test_the_fast_path_holds_what_it_is_unsure_of(slow):
    app, bundle = slow
    api_key = key(app)
    unsure = moderate(app, api_key, "A rather sharp remark on the council budget", "c3", headers={"X-Deadline-Ms": "20"}).get_json()
    assert unsure["degraded"] is True and unsure["decision"] == "hold" and unsure["reasons"] == ["abusive"]
    bad = moderate(app, api_key, "You idiot", "c4", deadline_ms=20).get_json()
    assert bad["degraded"] is True and bad["decision"] == "hold"
    bundle.release.set()
    # the full model (keyword scores) publishes the unsure one: out of the queue, and the CMS is told
    assert wait_for(lambda: stored(app, "c3")[0].status == "published")
    assert wait_for(lambda: stored(app, "c4")[0].model_version == "kw-1")
    assert stored(app, "c4")[0].status == "held"


def test_a_comment_a_language_head_scored_is_judged_at_the_full_models_threshold(slow):
    app, bundle = slow
    api_key = key(app)
    urdu = moderate(app, api_key, "yaar ye rather theek baat hai", "u1", deadline_ms=20).get_json()
    assert urdu["degraded"] is True and urdu["decision"] == "publish" and urdu["scores"]["abusive"] == 0.3
    english = moderate(app, api_key, "That is a rather fair point", "u2", deadline_ms=20).get_json()
    assert english["degraded"] is True and english["decision"] == "hold" and english["scores"]["abusive"] == 0.3


def test_queue_wait_counts_against_the_budget(app, client, api_key):
    """A fast full model still answers degraded when the load balancer says the request waited past its budget."""
    app.extensions["moderation"]["bundle"].fast_path = lambda: Fast()
    waited = f"t={time.time() - 0.5:.3f}"
    r = moderate(app, api_key, "Budget talk", "q1", headers={"X-Request-Start": waited}, deadline_ms=150)
    assert r.get_json()["degraded"] is True
    r = moderate(app, api_key, "Budget talk", "q2", headers={"X-Request-Start": f"t={time.time():.3f}"},
                 deadline_ms=5000)
    assert "degraded" not in r.get_json() and r.get_json()["model_version"] == "kw-1"


def test_without_a_budget_the_full_model_is_awaited(slow):
    app, bundle = slow
    api_key = key(app)
    threading.Timer(0.3, bundle.release.set).start()
    body = moderate(app, api_key, "The budget is fine", "c5").get_json()
    assert "degraded" not in body and body["model_version"] == "kw-1"


@pytest.mark.parametrize("headers, extra, field", [
    ({"X-Deadline-Ms": "soon"}, {}, "X-Deadline-Ms"),
    ({"X-Deadline-Ms": "0"}, {}, "X-Deadline-Ms"),
    ({}, {"deadline_ms": 0}, "deadline_ms"),
    ({}, {"deadline_ms": True}, "deadline_ms"),
    ({}, {"deadline_ms": "150"}, "deadline_ms"),
    ({}, {"deadline_ms": 10 ** 9}, "deadline_ms"),
])
def test_bad_budgets_are_clear_400s(client, api_key, headers, extra, field):
    body = {"comment": {"id": "x", "text": "hello"}, "article": {"id": "a"}, **extra}
    r = client.post("/v1/moderate", json=body, headers={"Authorization": f"Bearer {api_key}", **headers})
    assert r.status_code == 400 and r.get_json()["error"]["field"] == field


def test_coral_has_a_150_ms_budget_by_default(slow):
    app, bundle = slow
    raw = encode(coral_request("You idiot"))
    started = time.monotonic()
    r = app.test_client().post("/coral/moderate", data=raw, headers={
        "Content-Type": "application/json", "X-Coral-Signature": sign(raw, CURRENT)})
    took = time.monotonic() - started
    assert r.status_code == 200 and r.get_json()["status"] == "SYSTEM_WITHHELD"
    assert r.headers["X-Moderation-Degraded"] == "true"
    assert not bundle.release.is_set() and took < 5  # answered while the full model was still blocked
    bundle.release.set()
    assert wait_for(lambda: "You idiot" in bundle.scored)  # the full model had started: it finishes, unused
    with app.app_context():
        assert db_session().scalars(select(Comment)).all() == []  # Coral's default: nothing stored


def test_a_busy_full_model_is_not_waited_for():
    """With comments queued ahead and a measured pace, a request whose budget cannot cover them answers at once."""
    from service import deadline

    run = deadline._Runner()
    run.per_comment = 0.2  # seconds, as measured
    gate = threading.Event()
    ahead = run.submit(lambda: gate.wait(10), 3)  # 3 comments queued ahead: about 0.8 s with one more
    assert run.predict(1) == pytest.approx(0.8)
    original, deadline._runner = deadline._runner, run
    try:
        started = time.monotonic()
        scores, later = deadline.score_by(started + 0.5, SlowBundle(), [("fine", None)], lambda b, p: ["full"])
        assert time.monotonic() - started < 0.3  # did not spend its budget waiting
        assert scores[0].degraded and later is not None  # and the full model will still score it
        scores, later = deadline.score_by(time.monotonic() + 0.5, SlowBundle(), [("fine", None)],
                                          lambda b, p: ["full"], background=False)
        assert scores[0].degraded and later is None  # not stored: nothing to re-score for
        gate.set()
        ahead.result()
        run.per_comment = 0.1  # idle and fast enough: the full model answers
        scores, later = deadline.score_by(time.monotonic() + 0.5, SlowBundle(), [("fine", None)],
                                          lambda b, p: ["full"])
        assert scores == ["full"] and later is None
    finally:
        deadline._runner = original
        gate.set()
        ahead.result()


def test_an_idle_full_model_too_slow_for_the_budget_is_not_started_but_probed_now_and_then(monkeypatch):
    """Idle, but its measured pace is over the budget (an overloaded machine): the fast path answers at once. Once
    per PROBE_S one request still tries the full model within its budget; the pace it measures is the pace now."""
    from service import deadline

    monkeypatch.setattr(deadline, "PROBE_S", 5.0)
    run = deadline._Runner()
    run.per_comment = 5.0  # seconds, measured while the machine was overloaded
    run.probed = time.monotonic()  # and just probed
    calls = []

    def full(bundle, pairs):
        calls.append(len(pairs))
        return ["full"] * len(pairs)

    original, deadline._runner = deadline._runner, run
    try:
        for _ in range(3):
            started = time.monotonic()
            scores, later = deadline.score_by(started + 0.5, SlowBundle(), [("fine", None)], full, background=False)
            assert scores[0].degraded and later is None and time.monotonic() - started < 0.3
        assert calls == []  # not started: no CPU spent on answers nobody waits for
        monkeypatch.setattr(deadline, "PROBE_S", 0.0)  # a probe is due
        scores, later = deadline.score_by(time.monotonic() + 0.5, SlowBundle(), [("fine", None)], full,
                                          background=False)
        assert scores == ["full"] and calls == [1] and run.per_comment < 0.1  # the pace now
        monkeypatch.setattr(deadline, "PROBE_S", 5.0)
        scores, later = deadline.score_by(time.monotonic() + 0.5, SlowBundle(), [("fine", None)], full)
        assert scores == ["full"] and later is None  # back to the full model
        run.per_comment = 0.6  # a little over the budget on average: an idle runner still tries
        scores, later = deadline.score_by(time.monotonic() + 0.5, SlowBundle(), [("fine", None)], full)
        assert scores == ["full"] and calls == [1, 1, 1]
    finally:
        deadline._runner = original
