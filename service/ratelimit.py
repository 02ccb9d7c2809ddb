"""Per-key rate limit with a fixed window. Counters live in the database (shared by every worker and host),
or in Redis when REDIS_URL is set. Over the limit: 429 with Retry-After."""
import time

from flask import current_app
from sqlalchemy import case, text

from .db import RateCounter, db_session
from .errors import ApiError


def _upsert(dialect: str):
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def _count_in_db(bucket: str, window_start: int) -> int:
    """Increment atomically in one statement (no read-modify-write race between workers)."""
    session = db_session()
    dialect = session.get_bind().dialect.name
    insert = _upsert(dialect)
    if dialect == "postgresql":
        # a counter lost in a crash costs nothing; waiting for its WAL flush costs every request a disk sync
        session.execute(text("SET LOCAL synchronous_commit TO OFF"))
    table = RateCounter.__table__
    stmt = insert(table).values(bucket=bucket, window_start=window_start, count=1)
    same_window = table.c.window_start == stmt.excluded.window_start
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.bucket],
        set_={"count": case((same_window, table.c.count + 1), else_=1), "window_start": stmt.excluded.window_start},
    ).returning(table.c.count)
    count = session.execute(stmt).scalar_one()
    session.commit()
    return count


_redis_clients = {}


def _count_in_redis(url: str, bucket: str, window_start: int, window: int) -> int:
    import redis  # optional dependency: pip install redis

    client = _redis_clients.get(url) or _redis_clients.setdefault(url, redis.Redis.from_url(url))
    name = f"moderation:rl:{bucket}:{window_start}"
    pipe = client.pipeline()
    pipe.incr(name)
    pipe.expire(name, window * 2)
    return int(pipe.execute()[0])


def check_rate_limit(bucket: str):
    limit = int(current_app.config.get("RATE_LIMIT") or 0)
    if limit <= 0:
        return
    window = int(current_app.config.get("RATE_LIMIT_WINDOW") or 60)
    now = time.time()
    window_start = int(now // window) * window
    url = current_app.config.get("REDIS_URL")
    count = _count_in_redis(url, bucket, window_start, window) if url else _count_in_db(bucket, window_start)
    if count > limit:
        err = ApiError(429, f"rate limit of {limit} requests per {window} s exceeded for this API key",
                       code="rate_limited")
        err.headers = {"Retry-After": str(max(1, int(window_start + window - now + 0.999)))}
        raise err
