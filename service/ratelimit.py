"""Per-key rate limit with a fixed window. Counters live in the database (shared by every worker and host),
or in Redis when REDIS_URL is set. Over the limit: 429 with Retry-After.

One bucket per API key, whichever door it comes in by (/v1, Perspective). While Redis does not answer, the
database counts instead (a warning is logged, /readyz shows it), and Redis is tried again after a few seconds.
"""
import logging
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


log = logging.getLogger(__name__)

_redis_clients = {}
REDIS_TIMEOUT_S = 0.25          # a rate-limit check must not hold a request for long
REDIS_RETRY_AFTER_S = 5.0       # after a failure, count in the database for this long before trying Redis again
_redis_down: dict = {}          # url -> (monotonic time until which Redis is skipped, error class name)


def bucket_for(key) -> str:
    """The one bucket of an API key; the prefix keeps keys of different databases apart in a shared Redis."""
    return f"key:{key.id}:{key.prefix}"


def redis_client(url: str):
    import redis  # optional dependency: pip install redis

    client = _redis_clients.get(url)
    if client is None:
        client = _redis_clients.setdefault(url, redis.Redis.from_url(
            url, socket_connect_timeout=REDIS_TIMEOUT_S, socket_timeout=REDIS_TIMEOUT_S))
    return client


def redis_state(url: str) -> dict:
    """For /readyz: is Redis answering, and if not, what counts instead."""
    try:
        redis_client(url).ping()
        return {"ok": True}
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "error": exc.__class__.__name__, "fallback": "database counters"}


def _count_in_redis(url: str, bucket: str, window_start: int, window: int) -> int:
    client = redis_client(url)
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
    count = None
    if url and time.monotonic() >= _redis_down.get(url, (0.0, ""))[0]:
        try:
            count = _count_in_redis(url, bucket, window_start, window)
            _redis_down.pop(url, None)
        except Exception as exc:  # noqa: BLE001 - Redis down: fall back rather than fail every request
            if url not in _redis_down:
                log.warning("Redis at %s does not answer (%s): counting requests in the database meanwhile",
                            url.split("@")[-1], exc.__class__.__name__)
            _redis_down[url] = (time.monotonic() + REDIS_RETRY_AFTER_S, exc.__class__.__name__)
    if count is None:
        count = _count_in_db(bucket, window_start)
    if count > limit:
        err = ApiError(429, f"rate limit of {limit} requests per {window} s exceeded for this API key",
                       code="rate_limited")
        err.headers = {"Retry-After": str(max(1, int(window_start + window - now + 0.999)))}
        raise err
