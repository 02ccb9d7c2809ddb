"""Storage: SQLAlchemy engine per app, one Session per app context, the core tables, Alembic upgrades.

SQLite (a file) by default, PostgreSQL when DATABASE_URL says so. Other modules define their tables on `Base`.
"""
import datetime as dt
import os
from pathlib import Path

from flask import current_app, g
from sqlalchemy import (JSON, DateTime, Float, Integer, LargeBinary, String, Text, TypeDecorator, UniqueConstraint,
                        create_engine, event, make_url)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def iso(value: dt.datetime | None) -> str | None:
    """ISO 8601 in UTC; SQLite hands back naive datetimes, which we stored as UTC."""
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)).isoformat()


class UTCDateTime(TypeDecorator):
    """A timestamp stored as UTC and read back aware. SQLite keeps no offset (it would store 12:00+02:00 as
    12:00, read back as 12:00 UTC), so every value is converted to UTC first; PostgreSQL does the same itself."""
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


class Base(DeclarativeBase):
    pass


class Article(Base):
    __tablename__ = "articles"
    __table_args__ = (UniqueConstraint("site", "article_id", name="uq_articles_site_article"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site: Mapped[str] = mapped_column(String(255))
    article_id: Mapped[str] = mapped_column(String(255))
    title: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)
    section: Mapped[str | None] = mapped_column(String(255))
    url: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # the encoder's output for title and body (models.Bundle.article_embeddings), computed on PUT so that no
    # worker runs the encoder on the article when its comments arrive; tagged with the text it was made from
    embeddings: Mapped[bytes | None] = mapped_column(LargeBinary)


class Comment(Base):
    __tablename__ = "comments"
    __table_args__ = (UniqueConstraint("site", "comment_id", name="uq_comments_site_comment"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site: Mapped[str] = mapped_column(String(255))
    comment_id: Mapped[str] = mapped_column(String(255))
    article_id: Mapped[str | None] = mapped_column(String(255), index=True)
    author_id: Mapped[str | None] = mapped_column(String(255))
    author_name: Mapped[str | None] = mapped_column(String(255))   # display name, when the CMS sends it
    parent_id: Mapped[str | None] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    scores: Mapped[dict] = mapped_column(JSON, default=dict)
    spans: Mapped[list] = mapped_column(JSON, default=list)
    decision: Mapped[str] = mapped_column(String(16))             # publish | hold (the model's answer)
    reasons: Mapped[list] = mapped_column(JSON, default=list)
    model_version: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), index=True)   # published | held | approved | rejected | analyzed
    callback_url: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # what made the decision (migration 0004): enforce | shadow, the policy's own decision (in shadow mode
    # `decision` is publish whatever this says), and the thresholds applied beside model_version
    mode: Mapped[str | None] = mapped_column(String(16))
    would_decision: Mapped[str | None] = mapped_column(String(16))
    thresholds: Mapped[dict | None] = mapped_column(JSON)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    key_hash: Mapped[str] = mapped_column(String(64))
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ThresholdWarning(Base):
    """A Perspective client asking for a TOXICITY threshold that catches almost no toxic comment on the served
    scale: one row per API key, attribute and threshold (last_seen refreshed), shown on the admins' dashboard."""
    __tablename__ = "threshold_warnings"
    __table_args__ = (UniqueConstraint("api_key_id", "attribute", "threshold", name="uq_threshold_warning"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site: Mapped[str] = mapped_column(String(255))
    api_key_id: Mapped[int] = mapped_column(Integer)
    key_prefix: Mapped[str] = mapped_column(String(16))
    attribute: Mapped[str] = mapped_column(String(64))
    threshold: Mapped[float] = mapped_column(Float)
    expected_catch: Mapped[float] = mapped_column(Float)
    first_seen: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class RateCounter(Base):
    """Fixed-window request counter per API key; in the database so that all workers and hosts share it."""
    __tablename__ = "rate_counters"

    bucket: Mapped[str] = mapped_column(String(255), primary_key=True)
    window_start: Mapped[int] = mapped_column(Integer)
    count: Mapped[int] = mapped_column(Integer)


def _sqlite_pragmas(dbapi_connection, _record):
    # WAL lets readers run beside a writer; busy_timeout makes concurrent workers wait instead of failing.
    # synchronous=NORMAL in WAL mode: a commit survives a killed process (it is in the WAL file) but skips the
    # fsync per commit; only a power cut / OS crash can lose the last commits. Use PostgreSQL for more.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str):
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        # SQLAlchemy 2.1 picks psycopg 3 for a bare postgresql:// URL; we ship psycopg2
        url = parsed.set(drivername="postgresql+psycopg2")
    if parsed.drivername.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        # connect_timeout: while the database is unreachable, a request fails (503) in seconds, not minutes
        engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10,
                               connect_args={"connect_timeout": 3})
    return engine


def database_url(app) -> str:
    url = app.config.get("DATABASE_URL")
    if not url:
        os.makedirs(app.instance_path, exist_ok=True)
        url = "sqlite:///" + os.path.join(app.instance_path, "moderation.sqlite")
    return url


def init_app(app):
    engine = make_engine(database_url(app))
    app.extensions["db"] = {"engine": engine, "sessionmaker": sessionmaker(engine, expire_on_commit=False)}
    app.teardown_appcontext(_close_session)
    if app.config.get("AUTO_MIGRATE"):
        upgrade(engine)


def engine():
    return current_app.extensions["db"]["engine"]


def db_session() -> Session:
    """The Session of the current app context (one per request), closed at teardown."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["db"]["sessionmaker"]()
    return g.db_session


def _close_session(_exc=None):
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def alembic_config(connection=None):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine, revision: str = "head"):
    """Bring the schema to `revision`; existing rows are kept (migrations only alter)."""
    from alembic import command

    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Several workers may start at once: one migrates, the others wait and then find nothing to do.
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(727274)")
        command.upgrade(alembic_config(connection), revision)
