"""Decisions back to the CMS: signatures, and outbox delivery to a receiver that is down at first."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from review_helpers import SECRET, Receiver, add_held, add_user, free_port, review_config
from service import create_app
from service.db import db_session
from review_helpers import database_url  # noqa: F401  (fixture: SQLite, and PostgreSQL in a throw-away schema)
from service.review import actions, outbox
from service.review.signing import sign, verify
from service.review.tables import OutboxItem, User



@pytest.fixture
def app_config(tmp_path, database_url):  # noqa: F811  (SQLite and PostgreSQL)
    return review_config(tmp_path, DATABASE_URL=database_url, WEBHOOK_BACKOFF_BASE=5.0, WEBHOOK_BACKOFF_MAX=60.0)


# ---------------------------------------------------------------- signatures

def test_signature_verifies_and_rejects_tampering_wrong_secret_and_replays():
    body = b'{"comment_id":"c1","status":"approved"}'
    header = sign(body, ["s3cret"], timestamp=1_000_000)
    assert header.startswith("t=1000000,v1=")
    assert verify(body, header, ["s3cret"], now=1_000_010)
    assert not verify(body + b" ", header, ["s3cret"], now=1_000_010)
    assert not verify(body, header, ["other"], now=1_000_010)
    assert not verify(body, header, ["s3cret"], now=1_000_000 + 301)      # too old: replay window closed
    assert not verify(body, header.replace("t=1000000", "t=1000001"), ["s3cret"], now=1_000_010)
    assert not verify(body, None, ["s3cret"]) and not verify(body, "garbage", ["s3cret"])
    with pytest.raises(ValueError):
        sign(body, [])


def test_rotation_signs_with_every_active_secret():
    body = b"{}"
    header = sign(body, ["new", "old"], timestamp=50)
    assert header.count("v1=") == 2
    assert verify(body, header, ["old"], now=50) and verify(body, header, ["new"], now=50)


def test_backoff_doubles_up_to_the_cap():
    assert [outbox.backoff(n, 5, 60) for n in range(1, 7)] == [5, 10, 20, 40, 60, 60]


# ---------------------------------------------------------------- delivery

def decide_all(app, pks, action="reject"):
    with app.app_context():
        user = db_session().scalars(select(User)).one()
        for pk in pks:
            actions.record_decision(db_session(), app.config, pk, action, user=user)


def deliver(app, now):
    with app.app_context():
        return outbox.deliver_due(db_session(), app.config, now=now)


def test_every_decision_arrives_exactly_once_through_downtime_and_a_restart(app, app_config):
    port = free_port()
    url = f"http://127.0.0.1:{port}/moderation-hook"
    pks = add_held(app, 4, callback_url=url)
    add_user(app, "mia")
    decide_all(app, pks[:2], "approve")
    decide_all(app, pks[2:], "reject")
    clock = 2_000_000_000.0

    # 1) the CMS is not listening at all: connection refused, nothing delivered, retry scheduled after 5 s
    assert deliver(app, clock) == {"delivered": 0, "retry": 4, "failed": 0}
    with app.app_context():
        items = db_session().scalars(select(OutboxItem)).all()
        assert {i.attempts for i in items} == {1} and all("no answer" in i.last_error for i in items)
        assert {i.next_attempt_at for i in items} == {clock + 5}
    assert deliver(app, clock + 4)["retry"] == 0     # not due yet

    # 2) the service restarts (a new app on the same database); the CMS comes up but answers 503 five times
    app.extensions["db"]["engine"].dispose()
    app2 = create_app(app_config)
    receiver = Receiver(port, fail_first=5)
    try:
        assert deliver(app2, clock + 5) == {"delivered": 0, "retry": 4, "failed": 0}
        with app2.app_context():
            assert {i.next_attempt_at for i in db_session().scalars(select(OutboxItem))} == {clock + 15}
        rounds = [deliver(app2, clock + t) for t in (15, 35, 75, 135)]
    finally:
        receiver.close()
        app2.extensions["db"]["engine"].dispose()
    assert sum(r["delivered"] for r in rounds) == 4
    assert receiver.bad_signatures == 0
    assert sorted(receiver.accepted.values()) == [1, 1, 1, 1]        # each decision exactly once
    statuses = sorted((b["comment_id"], b["status"], b["decision"]) for b in receiver.bodies.values())
    assert statuses == [("c1", "approved", "publish"), ("c2", "approved", "publish"),
                        ("c3", "rejected", "reject"), ("c4", "rejected", "reject")]
    with create_app(app_config).app_context():
        assert {i.status for i in db_session().scalars(select(OutboxItem))} == {"delivered"}
    assert deliver(app, clock + 10_000) == {"delivered": 0, "retry": 0, "failed": 0}   # nothing is sent again


def test_a_row_claimed_by_one_worker_is_not_sent_by_another(app):
    pks = add_held(app, 1, callback_url="http://127.0.0.1:9/hook")
    add_user(app, "mia")
    decide_all(app, pks)
    sent = []

    def slow_post(url, body, headers, timeout):
        # while this worker is "in the POST", a second worker polls: the lease keeps it away
        sent.append(headers["Idempotency-Key"])
        if len(sent) == 1:
            assert deliver_with(app, 5e9, fast_post) == {"delivered": 0, "retry": 0, "failed": 0}
        return None

    def fast_post(url, body, headers, timeout):
        sent.append("second worker")
        return None

    def deliver_with(app, now, post):
        with app.app_context():
            return outbox.deliver_due(db_session(), app.config, now=now, post=post)

    assert deliver_with(app, 5e9, slow_post)["delivered"] == 1
    assert len(sent) == 1 and sent[0] != "second worker"


def test_missing_secret_and_giving_up_are_recorded(tmp_path):
    app = create_app(review_config(tmp_path, WEBHOOK_SECRETS={}, WEBHOOK_MAX_ATTEMPTS=2,
                                   WEBHOOK_URLS={"test-site": "http://127.0.0.1:9/hook"}))
    pks = add_held(app, 1)   # no callback_url on the comment: the site's URL is used
    add_user(app, "mia")
    decide_all(app, pks)
    assert deliver(app, 5e9)["retry"] == 1
    with app.app_context():
        item = db_session().scalars(select(OutboxItem)).one()
        assert item.url == "http://127.0.0.1:9/hook" and "no webhook secret" in item.last_error
    assert deliver(app, 5e9 + 10_000)["failed"] == 1
    with app.app_context():
        assert db_session().scalars(select(OutboxItem.status)).one() == "failed"
    app.extensions["db"]["engine"].dispose()


def test_no_url_means_no_webhook(app):
    pks = add_held(app, 1)
    add_user(app, "mia")
    decide_all(app, pks)
    with app.app_context():
        assert db_session().scalars(select(OutboxItem)).all() == []


def test_webhooks_run_once_command_delivers(app, app_config, monkeypatch):
    port = free_port()
    pks = add_held(app, 2, callback_url=f"http://127.0.0.1:{port}/hook")
    add_user(app, "mia")
    decide_all(app, pks)
    app.extensions["db"]["engine"].dispose()
    monkeypatch.setenv("MODERATION_DATABASE_URL", app_config["DATABASE_URL"])
    monkeypatch.setenv("MODERATION_WEBHOOK_SECRETS", json.dumps({"*": [SECRET]}))
    monkeypatch.setenv("MODERATION_WEBHOOK_ALLOW_HOSTS", json.dumps({"test-site": ["127.0.0.1"]}))
    receiver = Receiver(port)
    try:
        from service.cli import main
        result = CliRunner().invoke(main, ["webhooks", "run", "--once"])
    finally:
        receiver.close()
    assert result.exit_code == 0, result.output
    assert "'delivered': 2" in result.output and sorted(receiver.accepted.values()) == [1, 1]


def test_the_worker_thread_delivers_in_the_background(tmp_path):
    import time
    port = free_port()
    receiver = Receiver(port)
    app = create_app(review_config(tmp_path, WEBHOOK_WORKER_THREAD=True, WEBHOOK_POLL_INTERVAL=0.05))
    try:
        pks = add_held(app, 1, callback_url=f"http://127.0.0.1:{port}/hook")
        add_user(app, "mia")
        decide_all(app, pks)
        deadline = time.monotonic() + 10
        while not receiver.accepted and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        app.extensions["review_outbox_stop"].set()
        receiver.close()
    assert list(receiver.accepted.values()) == [1]


def test_a_polling_cms_sees_the_final_state(app, client, api_key):
    pks = add_held(app, 2)
    add_user(app, "mia")
    decide_all(app, pks[:1], "approve")
    headers = {"Authorization": f"Bearer {api_key}"}
    assert client.get("/v1/comments/c1", headers=headers).get_json()["status"] == "approved"
    assert client.get("/v1/comments/c2", headers=headers).get_json()["status"] == "held"


def test_redirects_and_non_http_urls_are_not_deliveries():
    class Redirect(BaseHTTPRequestHandler):
        def do_POST(self):
            self.send_response(302)
            self.send_header("Location", "/elsewhere")
            self.end_headers()

        def do_GET(self):   # what urllib would fetch if it followed the redirect
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/hook"
        assert outbox.http_post(url, b"{}", {}, 5.0, {"127.0.0.1"}) == "HTTP 302"
    finally:
        server.shutdown()
        server.server_close()
    assert "must be http or https" in outbox.http_post("file:///etc/passwd", b"{}", {}, 5.0)
