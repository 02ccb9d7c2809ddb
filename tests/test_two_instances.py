"""Scale-out: two app instances (separate processes on loopback ports) sharing one PostgreSQL and one Redis, as
behind a load balancer. A duplicate sent to the other instance gets the stored answer, not a second row, and the
per-key rate limit counts the requests of both. Skipped, saying why, without PostgreSQL or Redis."""
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import func, select

from service import create_app
from service.db import Comment, db_session

pytestmark = pytest.mark.postgres
LIMIT = 24  # requests per API key per hour
TESTS = Path(__file__).resolve().parent
# One instance: the app with the fake bundle, served by werkzeug's threaded server (its own process, own memory).
SERVE = """
import json, os, sys
sys.path.insert(0, {tests!r})
from werkzeug.serving import make_server
from service import create_app
from tiny_data import KeywordBundle
app = create_app({{**json.loads(os.environ["INSTANCE_CONFIG"]), "BUNDLE_INSTANCE": KeywordBundle()}})
server = make_server("127.0.0.1", 0, app, threaded=True)
print(server.server_port, flush=True)
server.serve_forever()
"""


@pytest.fixture(scope="module")
def instances(postgres_url_module, redis_url, tmp_path_factory):
    config = {"DATABASE_URL": postgres_url_module, "REDIS_URL": redis_url, "SECRET_KEY": "two-instances",
              "RATE_LIMIT": LIMIT, "RATE_LIMIT_WINDOW": 3600}
    admin = create_app({**config, "LOAD_BUNDLE_AT_START": False})
    tmp_path = tmp_path_factory.mktemp("instances")
    procs, bases = [], []
    try:
        for n in range(2):
            log = open(tmp_path / f"instance{n}.log", "w")
            proc = subprocess.Popen([sys.executable, "-c", SERVE.format(tests=str(TESTS))], stdout=subprocess.PIPE,
                                    stderr=log, text=True, env={**os.environ, "INSTANCE_CONFIG": json.dumps(config)})
            procs.append((proc, log))
            line = proc.stdout.readline()
            if not line.strip().isdigit():
                pytest.fail(f"instance {n} did not start:\n" + (tmp_path / f"instance{n}.log").read_text()[-3000:])
            bases.append(f"http://127.0.0.1:{int(line)}")
        yield admin, bases
    finally:
        for proc, log in procs:
            proc.terminate()
            proc.wait(timeout=30)
            log.close()
        admin.extensions["db"]["engine"].dispose()


def call(url, key, payload=None):
    req = urllib.request.Request(url, data=None if payload is None else json.dumps(payload).encode(),
                                 method="GET" if payload is None else "POST",
                                 headers={"Content-Type": "application/json", "X-API-Key": key})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def body(cid, text="The council's bridge vote was close."):
    return {"comment": {"id": cid, "text": text}, "article": {"id": "a1", "title": "Council votes on the bridge"}}


def new_key(app):
    from service.auth import create_api_key
    with app.app_context():
        return create_api_key("test-site", "two instances")


def rows(app, cid):
    with app.app_context():
        return db_session().scalar(select(func.count()).select_from(Comment).where(Comment.comment_id == cid))


def test_a_duplicate_sent_to_the_other_instance_gets_the_stored_answer(instances):
    admin, (a, b) = instances
    key = new_key(admin)
    status, first = call(a + "/v1/moderate", key, body("d1", "You idiot"))
    assert status == 200 and first["decision"] == "hold"
    status, again = call(b + "/v1/moderate", key, body("d1", "You idiot"))
    assert status == 200 and again == first
    assert call(b + "/v1/comments/d1", key)[1]["decision"] == "hold"
    assert rows(admin, "d1") == 1


def test_the_same_comment_sent_to_both_instances_at_once_is_stored_once(instances):
    admin, (a, b) = instances
    key = new_key(admin)
    for n in range(5):
        cid, answers = f"race{n}", []
        threads = [threading.Thread(target=lambda base: answers.append(call(base + "/v1/moderate", key, body(cid))),
                                    args=(base,)) for base in (a, b, a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert [s for s, _ in answers] == [200] * 4
        assert all(answer == answers[0][1] for _, answer in answers), answers
        assert rows(admin, cid) == 1


def test_the_rate_limit_counts_the_requests_of_both_instances(instances):
    admin, (a, b) = instances
    key = new_key(admin)
    codes = [call((a, b)[i % 2] + "/v1/comments/none", key)[0] for i in range(LIMIT + 4)]
    assert codes == [404] * LIMIT + [429] * 4  # half on each instance used the key's LIMIT for the window
    started = time.monotonic()
    assert call(a + "/v1/comments/none", key)[0] == 429 and call(b + "/v1/comments/none", key)[0] == 429
    assert time.monotonic() - started < 10
