"""The real thing: `moderation serve` (gunicorn, 2 workers, shipped bundle; SQLite, then PostgreSQL) on a
loopback port.
Includes the crash test: kill -9 a worker while requests are in flight."""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest
from sqlalchemy import select

from service import create_app
from service.db import Comment, db_session

pytestmark = [pytest.mark.slow, pytest.mark.model]
ALWAYS = {"abusive": 0.0, "off_topic": 0.0, "spam": 0.0}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(url, method="GET", payload=None, key=None, raw=None, timeout=30):
    data = raw if raw is not None else (json.dumps(payload).encode() if payload is not None else None)
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if key:
        req.add_header("X-API-Key", key)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def workers_of(master_pid):
    with open(f"/proc/{master_pid}/task/{master_pid}/children") as fh:
        return [int(p) for p in fh.read().split()]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def server(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("gunicorn")
    if request.param == "sqlite":
        db_url = f"sqlite:///{folder}/served.db"
    else:
        db_url = request.getfixturevalue("postgres_url_module")
    admin = create_app({"DATABASE_URL": db_url, "LOAD_BUNDLE_AT_START": False, "SECRET_KEY": "x"})
    from service.auth import create_api_key
    with admin.app_context():
        key = create_api_key("site-a", "gunicorn-test")
    port = free_port()
    env = {**os.environ, "MODERATION_DATABASE_URL": db_url, "MODERATION_SECRET_KEY": "s",
           "MODERATION_POLICY": json.dumps({"sections": {"hold-all": ALWAYS}}), "MODERATION_RATE_LIMIT": "0"}
    log = open(folder / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-c", "from service.cli import main; main()", "serve",
                             "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            if call(base + "/readyz", timeout=5)[0] == 200 and len(workers_of(proc.pid)) == 2:
                break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("server did not become ready:\n" + (folder / "server.log").read_text()[-3000:])
        time.sleep(0.5)
    yield {"base": base, "key": key, "pid": proc.pid, "app": admin, "log": folder / "server.log"}
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    finally:
        proc.kill()
        log.close()
        admin.extensions["db"]["engine"].dispose()


def moderate_body(cid, section=None, text="Buses 7 and 12 now run every ten minutes, good news."):
    article = {"id": "a1", "title": "New bus timetable", "body": "Buses 7 and 12 run more often."}
    if section:
        article["section"] = section
    return {"comment": {"id": cid, "text": text}, "article": article}


def test_served_endpoints(server):
    base, key = server["base"], server["key"]
    assert call(base + "/healthz") == (200, {"status": "ok"})
    status, out = call(base + "/v1/moderate", "POST", moderate_body("g1"), key)
    assert status == 200 and out["decision"] in ("publish", "hold") and out["model_version"]
    status, state = call(base + "/v1/comments/g1", key=key)
    assert status == 200 and state["decision"] == out["decision"]
    assert call(base + "/v1/moderate", "POST", moderate_body("g1"), key)[1] == out   # idempotent across workers
    status, err = call(base + "/v1/moderate", "POST", raw=b"{not json", key=key)
    assert status == 400 and err["error"]["field"] == "body"
    assert call(base + "/v1/moderate", "POST", moderate_body("g2"))[0] == 401
    status, err = call(base + "/v1/moderate", "POST", moderate_body("g2", text="x" * 300_000), key)
    assert status == 413 and err["error"]["code"] == "payload_too_large"
    status, err = call(base + "/v1/moderate", "POST", raw=b'{"comment": "\xff"}', key=key)
    assert status == 400 and err["error"]["code"] == "invalid_encoding"
    status, batch = call(base + "/v1/moderate/batch", "POST", {"items": [moderate_body("g3"), moderate_body("g4")]},
                         key)
    assert status == 200 and [r["comment_id"] for r in batch["results"]] == ["g3", "g4"]


def test_metrics_add_up_over_all_workers(server):
    """Whichever worker answers the scrape, it counts the requests every worker served."""
    base, key = server["base"], server["key"]

    def served():
        _, text = call_text(base + "/metrics")
        return sum(int(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith('moderation_requests_total{endpoint="/v1/comments/<path:comment_id>"')
                   and 'status="404"' in line)

    before = 0  # no other test asks for an unknown comment
    for i in range(12):
        assert call(base + f"/v1/comments/m{i}", key=key)[0] == 404
    # each worker writes its counters once a second (later on a loaded machine): wait until they agree
    deadline = time.monotonic() + 20
    while True:
        seen = {served() for _ in range(6)}
        if seen == {before + 12} or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert seen == {before + 12}


def call_text(url):
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.status, r.read().decode()


def test_kill_9_a_worker_in_flight_every_hold_answer_is_stored_and_service_recovers(server):
    base, key, master = server["base"], server["key"], server["pid"]
    answers, lock = {}, threading.Lock()

    def send(i):
        cid = f"crash-{i}"
        try:
            status, out = call(base + "/v1/moderate", "POST", moderate_body(cid, section="hold-all"), key, timeout=60)
        except OSError as exc:   # connection reset by the killed worker: no answer, nothing promised
            status, out = None, repr(exc)
        with lock:
            answers[cid] = (status, out)

    victim = workers_of(master)[0]
    threads = [threading.Thread(target=send, args=(i,)) for i in range(40)]
    for i, t in enumerate(threads):
        t.start()
        if i == 10:
            time.sleep(0.05)
            os.kill(victim, signal.SIGKILL)
    for t in threads:
        t.join()

    held = [cid for cid, (status, out) in answers.items() if status == 200 and out["decision"] == "hold"]
    print(f"crash test: {len(held)} answered hold, {sum(s != 200 for s, _ in answers.values())} unanswered")
    assert held, answers
    assert all(out["reasons"] and "abusive" in out["reasons"] for s, out in answers.values() if s == 200)
    with server["app"].app_context():
        rows = {r.comment_id: r for r in db_session().scalars(select(Comment).where(Comment.comment_id.in_(held)))}
    missing = set(held) - set(rows)
    assert not missing, f"answered hold but not stored: {missing}"
    assert all(rows[c].status == "held" and rows[c].decision == "hold" for c in held)

    # recovery: gunicorn replaces the worker by itself, and every request is answered again
    deadline = time.monotonic() + 120
    while len(workers_of(master)) < 2 or victim in workers_of(master):
        assert time.monotonic() < deadline, "worker was not replaced"
        time.sleep(0.5)
    results = [call(base + "/v1/moderate", "POST", moderate_body(f"after-{i}"), key)[0] for i in range(10)]
    assert results == [200] * 10
    # and a comment that got no answer during the crash can simply be sent again
    lost = [cid for cid, (status, _) in answers.items() if status != 200]
    for cid in lost:
        assert call(base + "/v1/moderate", "POST", moderate_body(cid, section="hold-all"), key)[0] == 200
