"""Storage on SQLite and on PostgreSQL (127.0.0.1:5432, database `test`, a throw-away schema per test):
migrations keep data, idempotency holds under racing requests, rate-limit counters are shared by workers."""
import threading

import pytest
from sqlalchemy import func, select, text

from service import create_app
from service.db import Comment, db_session, make_engine, upgrade


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/storage.db"
    return request.getfixturevalue("postgres_url")   # skipped, with the reason, when the server is down


@pytest.fixture
def make(database_url, bundle):
    apps = []

    def make(**overrides):
        app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "x", "RATE_LIMIT": 0,
                          "BUNDLE_INSTANCE": bundle, **overrides})
        apps.append(app)
        return app
    yield make
    for app in apps:
        app.extensions["db"]["engine"].dispose()


def comment(cid="c1", text="The bus timetable change is welcome."):
    return {"id": cid, "text": text}


ARTICLE = {"id": "a1", "title": "New bus timetable", "body": "Buses 7 and 12 run more often from Monday."}


def count(app, **where):
    with app.app_context():
        return db_session().scalar(select(func.count()).select_from(Comment).filter_by(**where))


def test_every_decision_is_stored_with_its_details(make, bundle):
    from service.moderation import moderate
    app = make()
    text = "Zürich’s trams 🚋 — \"quoted\" <b>tags</b> and 'apostrophes'"
    with app.app_context():
        out = moderate("site-a", {**comment(text=text), "author_id": 7, "parent_id": "p0",
                                  "created_at": "2026-05-01T10:00:00Z"}, ARTICLE, callback_url="https://cms.example/cb")
        row = db_session().scalar(select(Comment).filter_by(site="site-a", comment_id="c1"))
    assert row.text == text and row.author_id == "7" and row.parent_id == "p0" and row.article_id == "a1"
    assert row.created_at.year == 2026 and row.received_at is not None and row.updated_at is not None
    assert row.scores == out["scores"] and row.spans == out["spans"] and row.reasons == out["reasons"]
    assert row.model_version == bundle.version and row.callback_url == "https://cms.example/cb"
    assert row.decision == out["decision"]


def test_store_false_stores_nothing(make):
    from service.moderation import moderate
    app = make()
    with app.app_context():
        out = moderate("site-a", comment(), ARTICLE, store=False)
    assert out["comment_id"] == "c1" and "review_id" not in out
    assert count(app) == 0


def test_upgrade_keeps_existing_data(database_url, make):
    """Rows written at revision 0001 (plain SQL: the ORM already knows later columns) survive the upgrade
    to the newest revision, and are then served as stored decisions."""
    from service.moderation import moderate
    engine = make_engine(database_url)
    upgrade(engine, "0001")
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO comments (site, comment_id, article_id, text, received_at, scores, spans, decision,"
            " reasons, model_version, status, updated_at) VALUES ('site-a', 'old-1', 'a1', 'kept text',"
            " :now, :scores, '[]', 'hold', :reasons, 'v-old', 'held', :now)"),
            {"now": "2026-01-01T00:00:00+00:00", "scores": '{"abusive": 0.9}', "reasons": '["abusive"]'})
    upgrade(engine)          # to head (later revisions included)
    upgrade(engine)          # idempotent
    engine.dispose()
    app = make(AUTO_MIGRATE=False)
    with app.app_context():
        out = moderate("site-a", {"id": "old-1", "text": "a new text"}, ARTICLE)
        version = db_session().scalar(text("SELECT version_num FROM alembic_version"))
    assert out["decision"] == "hold" and out["reasons"] == ["abusive"] and out["model_version"] == "v-old"
    assert out["scores"] == {"abusive": 0.9}
    from alembic.script import ScriptDirectory
    from service.db import alembic_config
    assert version == ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert count(app) == 1


@pytest.mark.parametrize("racers", [2, 6])
def test_racing_requests_for_one_comment_store_it_once(make, bundle, racers):
    """All racers pass the 'already stored?' check before any inserts (the barrier sits inside scoring),
    so the unique constraint decides; the losers return the winner's stored decision."""
    barrier = threading.Barrier(racers, timeout=30)

    class Gate:
        version, thresholds = bundle.version, bundle.thresholds

        def score_many(self, pairs):
            barrier.wait()
            return bundle.score_many(pairs)

    app = make(BUNDLE_INSTANCE=Gate())
    from service.moderation import moderate
    results, errors = [None] * racers, []

    def run(i):
        try:
            with app.app_context():
                results[i] = moderate("site-a", comment(text=f"racer {i}: the timetable is fine"), ARTICLE)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(racers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert all(r == results[0] for r in results)
    assert count(app, site="site-a", comment_id="c1") == 1


def test_racing_requests_over_http(make, api_key_for):
    """Same race through the API: several requests for one comment at once, one row, identical answers."""
    app = make()
    key = api_key_for(app)
    barrier = threading.Barrier(4, timeout=30)
    answers = []

    def run():
        client = app.test_client()
        barrier.wait()
        r = client.post("/v1/moderate", json={"comment": comment("h1"), "article": ARTICLE}, headers={"X-API-Key": key})
        answers.append((r.status_code, r.get_json()))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == 4 and all(a == answers[0] for a in answers) and answers[0][0] == 200
    assert count(app, comment_id="h1") == 1


@pytest.fixture
def api_key_for():
    def create(app, site="site-a"):
        from service.auth import create_api_key
        with app.app_context():
            return create_api_key(site, "tests")
    return create


def test_rate_limit_is_shared_between_workers(make, api_key_for):
    """Two app instances on one database stand for two gunicorn workers (or two hosts)."""
    worker_a = make(RATE_LIMIT=5, RATE_LIMIT_WINDOW=3600)
    worker_b = make(RATE_LIMIT=5, RATE_LIMIT_WINDOW=3600, AUTO_MIGRATE=False)
    key = api_key_for(worker_a)
    h = {"X-API-Key": key}
    codes = [(worker_a if i % 2 else worker_b).test_client().get("/v1/comments/x", headers=h).status_code
             for i in range(7)]
    assert codes == [404] * 5 + [429] * 2


def test_rate_limit_counts_concurrent_requests_exactly(make, api_key_for):
    app = make(RATE_LIMIT=10, RATE_LIMIT_WINDOW=3600)
    key = api_key_for(app)
    codes = []

    def run():
        codes.append(app.test_client().get("/v1/comments/x", headers={"X-API-Key": key}).status_code)

    threads = [threading.Thread(target=run) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [404] * 10 + [429] * 6


def test_article_upsert(make, api_key_for):
    app = make()
    h = {"X-API-Key": api_key_for(app)}
    client = app.test_client()
    assert client.put("/v1/articles/a1", json={"title": "One"}, headers=h).status_code == 201
    assert client.put("/v1/articles/a1", json={"title": "Two", "body": "b"}, headers=h).status_code == 200
    assert client.get("/v1/articles/a1", headers=h).get_json()["title"] == "Two"
