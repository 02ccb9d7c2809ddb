"""Shared fixtures: `app` (fresh SQLite database and a model bundle), `client`, `api_key`.

The bundle is a small deterministic fake (tests/tiny_data.py:KeywordBundle) unless the test is marked
`model`, which gets the real shipped bundle: `pytest -m "not model"` is the fast tier.
Moderators' passwords are hashed with scrypt at a work factor of 2**10 instead of the shipped 2**15: each hash
took ~0.2 s of CPU and the review tests make hundreds (test_review checks that the shipped factor is 2**15).
"""
import functools

import pytest

from migrated import sqlite_url
from service import create_app
from tiny_data import KeywordBundle


TEST_PASSWORD_METHOD = "scrypt:1024:8:1"


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashes():
    from werkzeug.security import generate_password_hash

    from service.review import users
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(users, "generate_password_hash",
                   functools.partial(generate_password_hash, method=TEST_PASSWORD_METHOD))
        mp.setattr(users, "_DUMMY_HASH", generate_password_hash("not a real password", method=TEST_PASSWORD_METHOD))
        yield


@pytest.fixture(scope="session")
def real_bundle():
    """The shipped model bundle, loaded once per test session (loading takes seconds)."""
    import models
    return models.load_bundle()


@pytest.fixture
def bundle(request):
    if request.node.get_closest_marker("model"):
        return request.getfixturevalue("real_bundle")
    return KeywordBundle()


@pytest.fixture(autouse=True)
def fresh_deadline_runner():
    """Each test starts with no measured full-model pace (the scoring thread and its pace are per process)."""
    yield
    from service import deadline
    deadline._runner = None


@pytest.fixture
def app_config(tmp_path, bundle):
    return {"TESTING": True, "DATABASE_URL": sqlite_url(tmp_path / "test.db"), "SECRET_KEY": "test-secret",
            "BUNDLE_INSTANCE": bundle, "RATE_LIMIT": 0}


@pytest.fixture
def app(app_config):
    app = create_app(app_config)
    yield app
    app.extensions["db"]["engine"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def api_key(app):
    from service.auth import create_api_key
    with app.app_context():
        return create_api_key("test-site", "tests")


# -- PostgreSQL: a throw-away schema in the local server's `test` database ---------------------------

PG_SERVER = "postgresql://postgres@127.0.0.1:5432/test"   # as a user writes it (no driver name)


def _postgres_schema():
    """Yield a URL whose search_path is a fresh schema (dropped afterwards); skip, saying why, without a server."""
    import uuid

    from sqlalchemy import create_engine, text

    from service.db import make_engine
    try:
        probe = create_engine(PG_SERVER.replace("postgresql:", "postgresql+psycopg2:"),
                              connect_args={"connect_timeout": 3})
        with probe.connect() as conn:
            conn.execute(text("SELECT 1"))
        probe.dispose()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 (database test) does not answer: {exc.__class__.__name__}")
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = make_engine(PG_SERVER)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_SERVER}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def postgres_url():
    """An empty schema of its own (for tests of migrations)."""
    yield from _postgres_schema()


@pytest.fixture(scope="session")
def _postgres_at_head():
    """One schema migrated to head for the whole session (a fresh one per test cost about a second each)."""
    from sqlalchemy import inspect, text

    from service.db import make_engine, upgrade
    schemas = _postgres_schema()
    url = next(schemas)
    engine = make_engine(url)
    upgrade(engine)
    tables = [t for t in inspect(engine).get_table_names() if t != "alembic_version"]
    with engine.connect() as conn:
        sequences = conn.execute(text("SELECT sequence_name FROM information_schema.sequences "
                                      "WHERE sequence_schema = current_schema()")).scalars().all()
    yield url, engine, tables, sequences
    engine.dispose()
    schemas.close()


@pytest.fixture
def postgres_clean_url(_postgres_at_head):
    """The session's schema at head, emptied: every table as a fresh migration leaves it, ids restarting at 1."""
    url, engine, tables, sequences = _postgres_at_head
    with engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL lock_timeout = '10s'")   # a connection a test left open fails, not hangs
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")   # past review_audit's append-only trigger
        for table in tables:
            conn.exec_driver_sql(f'DELETE FROM "{table}"')
        for sequence in sequences:
            conn.exec_driver_sql(f'ALTER SEQUENCE "{sequence}" RESTART')
    return url


@pytest.fixture(scope="module")
def postgres_url_module():
    yield from _postgres_schema()


# -- Redis: database 15 of the local server ----------------------------------------------------------------------

REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture(scope="session")
def redis_url():
    """The local Redis server's URL; skip, saying why, without the package or the server."""
    try:
        import redis
    except ImportError:
        pytest.skip("the redis package is not installed (pip install -e '.[redis]')")
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis at 127.0.0.1:6379 does not answer: {exc}")
    return REDIS_URL
