"""Fail closed when a dependency really goes away: PostgreSQL behind a TCP proxy that the test kills, and a Redis
server the test starts on its own port and stops. No mocks: the sockets close as they would in an outage."""
import hashlib
import hmac
import json
import shutil
import subprocess
import time

import pytest

from service import create_app
from tcp_proxy import TcpProxy

PROXY_PORT = 18191   # this test's ports (127.0.0.1 only)
REDIS_PORT = 18192
CORAL_SECRET = "coral-outage-secret"
ABUSE = "You are a stupid worthless idiot and a piece of shit, shut up."
FINE = "Thanks, the new timetable for the number 7 bus is much better."


def coral_call(client, text, site="coral-site"):
    raw = json.dumps({"action": "NEW", "comment": {"body": text}, "author": {"id": "u1"},
                      "story": {"id": "story-1", "url": "https://news.example/story-1"}, "site": {"id": site},
                      "tenantID": "tenant-1"}).encode()
    signature = "sha256=" + hmac.new(CORAL_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    return client.post("/coral/moderate", data=raw, headers={"Content-Type": "application/json",
                                                             "X-Coral-Signature": signature})


@pytest.mark.postgres
def test_database_outage_fails_closed(app_config, postgres_url):
    proxy = TcpProxy(PROXY_PORT, ("127.0.0.1", 5432)).start()
    url = postgres_url.replace("127.0.0.1:5432", f"127.0.0.1:{PROXY_PORT}")
    coral = {"sites": {"coral-site": {"site": "s", "secrets": [CORAL_SECRET], "store": False},
                       "coral-stored": {"site": "s", "secrets": [CORAL_SECRET], "store": True}}}
    app = create_app({**app_config, "DATABASE_URL": url, "CORAL": coral})
    try:
        from service.auth import create_api_key
        with app.app_context():
            key = create_api_key("s", "outage")
        client, h = app.test_client(), {"X-API-Key": key}
        body = {"comment": {"id": "c1", "text": FINE}, "article": {"id": "story-1"}}
        put = client.put("/v1/articles/story-1", json={"title": "Bus timetable", "body": "Buses 7 and 12.",
                                                        "url": "https://news.example/story-1"}, headers=h)
        assert put.status_code == 201
        assert client.post("/v1/moderate", json=body, headers=h).status_code == 200
        assert coral_call(client, FINE).status_code == 204            # the article is now cached
        assert app.extensions["coral_articles"]["articles"]

        proxy.stop()   # PostgreSQL is gone

        for r in (client.post("/v1/moderate", json={**body, "comment": {"id": "c2", "text": ABUSE}}, headers=h),
                  client.get("/v1/comments/c1", headers=h),
                  client.put("/v1/articles/a2", json={"title": "t"}, headers=h)):
            assert r.status_code == 503, r.get_data(as_text=True)
            assert r.json["error"]["code"] == "unavailable" and int(r.headers["Retry-After"]) > 0
        r = client.post(f"/v1alpha1/comments:analyze?key={key}",
                        json={"comment": {"text": ABUSE}, "requestedAttributes": {"TOXICITY": {}}})
        assert r.status_code == 503 and r.json["error"]["status"] == "UNAVAILABLE" and r.headers["Retry-After"]
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json["checks"]["database"]["ok"] is False

        # Coral: store=false judges without the database (cached article, then the text alone)
        held = coral_call(client, ABUSE)
        assert held.status_code == 200 and held.json["status"] == "SYSTEM_WITHHELD"
        assert coral_call(client, FINE).status_code == 204
        app.extensions["coral_articles"]["articles"].clear()           # nothing cached: the text alone
        app.extensions["coral_articles"]["down_until"] = 0.0
        assert coral_call(client, ABUSE).json["status"] == "SYSTEM_WITHHELD"
        assert coral_call(client, FINE).status_code == 204
        # store=true cannot store: withheld, never a 500 (which Coral would treat as publish)
        stored = coral_call(client, FINE, site="coral-stored")
        assert stored.status_code == 200 and stored.json["status"] == "SYSTEM_WITHHELD"

        proxy.start()  # back: the pool reconnects (pre-ping), no restart needed
        r = client.post("/v1/moderate", json={**body, "comment": {"id": "c3", "text": FINE}}, headers=h)
        assert r.status_code == 200, r.get_data(as_text=True)
        assert client.get("/readyz").status_code == 200
    finally:
        proxy.stop()
        app.extensions["db"]["engine"].dispose()


@pytest.fixture
def own_redis(tmp_path):
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed")
    pytest.importorskip("redis")
    proc = subprocess.Popen([server, "--port", str(REDIS_PORT), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
    import redis
    client = redis.Redis(port=REDIS_PORT, socket_connect_timeout=1)
    for _ in range(50):
        try:
            client.ping()
            break
        except redis.RedisError:
            time.sleep(0.1)
    yield proc, f"redis://127.0.0.1:{REDIS_PORT}/0"
    if proc.poll() is None:
        proc.terminate()
        proc.wait(10)


def test_redis_outage_falls_back_to_database_counters(app_config, api_key, own_redis, caplog):
    proc, url = own_redis
    app = create_app({**app_config, "REDIS_URL": url, "RATE_LIMIT": 3, "RATE_LIMIT_WINDOW": 3600})
    client, h = app.test_client(), {"X-API-Key": api_key}
    assert client.get("/v1/comments/x", headers=h).status_code == 404
    assert client.get("/readyz").json["checks"]["redis"] == {"ok": True}

    proc.terminate()   # Redis is gone
    proc.wait(10)
    codes = [client.get("/v1/comments/x", headers=h).status_code for _ in range(4)]
    assert codes == [404, 404, 404, 429], "requests go on, limited by the database counter"
    assert any("Redis" in r.getMessage() and "database" in r.getMessage() for r in caplog.records)
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json["status"] == "degraded"
    assert ready.json["checks"]["redis"]["ok"] is False
    assert ready.json["checks"]["redis"]["fallback"] == "database counters"
