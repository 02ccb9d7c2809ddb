"""Rate limiting with Redis counters (REDIS_URL): shared by workers, 429 + Retry-After, windows roll over."""
import time

import pytest

from service import create_app


def test_redis_counters_are_shared_between_workers(app_config, redis_url, api_key):
    worker_a = create_app({**app_config, "REDIS_URL": redis_url, "RATE_LIMIT": 4, "RATE_LIMIT_WINDOW": 3600})
    worker_b = create_app({**app_config, "REDIS_URL": redis_url, "RATE_LIMIT": 4, "RATE_LIMIT_WINDOW": 3600})
    h = {"X-API-Key": api_key}
    codes = [(worker_a, worker_b)[i % 2].test_client().get("/v1/comments/x", headers=h).status_code
             for i in range(6)]
    assert codes == [404] * 4 + [429] * 2
    r = worker_a.test_client().get("/v1/comments/x", headers=h)
    assert r.status_code == 429 and 1 <= int(r.headers["Retry-After"]) <= 3600


def test_window_rolls_over(app_config, api_key):
    """Database counters: a new window starts from zero."""
    app = create_app({**app_config, "RATE_LIMIT": 2, "RATE_LIMIT_WINDOW": 2})
    client, h = app.test_client(), {"X-API-Key": api_key}
    # start at the beginning of a window so that three requests fall into the same one
    time.sleep(2 - time.time() % 2)
    assert [client.get("/v1/comments/x", headers=h).status_code for _ in range(3)] == [404, 404, 429]
    time.sleep(2 - time.time() % 2 + 0.05)
    assert client.get("/v1/comments/x", headers=h).status_code == 404


def test_keys_are_limited_separately(app, app_config, api_key):
    from service.auth import create_api_key
    with app.app_context():
        other = create_api_key("test-site", "second key")
    limited = create_app({**app_config, "RATE_LIMIT": 1, "RATE_LIMIT_WINDOW": 3600}).test_client()
    assert limited.get("/v1/comments/x", headers={"X-API-Key": api_key}).status_code == 404
    assert limited.get("/v1/comments/x", headers={"X-API-Key": api_key}).status_code == 429
    assert limited.get("/v1/comments/x", headers={"X-API-Key": other}).status_code == 404
