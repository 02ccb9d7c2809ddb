"""Migration 0002 on SQLite and PostgreSQL: existing comments get their queue priority; downgrade removes it all."""
from sqlalchemy import inspect, text

from service.db import make_engine, upgrade
from review_helpers import empty_database_url  # noqa: F401  (fixture: SQLite, and PostgreSQL in a throw-away schema)


def test_0002_backfills_priority_and_downgrades_cleanly(empty_database_url):  # noqa: F811
    from alembic import command
    from service.db import alembic_config

    engine = make_engine(empty_database_url)
    try:
        upgrade(engine, "0001")
        with engine.begin() as conn:
            for cid, scores in (("c1", '{"abusive": 0.8, "off_topic": 0.3}'), ("c2", "{}")):
                conn.execute(text(
                    "INSERT INTO comments (site, comment_id, text, received_at, scores, spans, decision, reasons, "
                    "model_version, status, updated_at) VALUES ('s', :cid, 't', CURRENT_TIMESTAMP, :scores, '[]', "
                    "'hold', '[]', 'm', 'held', CURRENT_TIMESTAMP)"), {"cid": cid, "scores": scores})
        upgrade(engine)
        with engine.connect() as conn:
            got = dict(conn.execute(text("SELECT comment_id, review_priority FROM comments")).all())
        assert got == {"c1": 0.8, "c2": 1.0}     # unscored (model_error) items sort first
        tables = set(inspect(engine).get_table_names())
        assert {"review_users", "review_decisions", "review_audit", "review_outbox"} <= tables
        with engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0001")
        inspector = inspect(engine)
        assert not {"review_users", "review_audit"} & set(inspector.get_table_names())
        assert "review_priority" not in {c["name"] for c in inspector.get_columns("comments")}
        upgrade(engine)   # and back up again
    finally:
        engine.dispose()
