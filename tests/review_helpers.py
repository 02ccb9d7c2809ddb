"""Helpers shared by the review tests (test_review*, test_webhooks*, test_export*, test_browser*)."""
import datetime as dt
import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from migrated import sqlite_url
from service.db import Article, Comment, db_session
from service.review.signing import verify

PASSWORD = "correct horse battery"
SECRET = "whsec-test"   # the webhook secret review_config() sets for every site


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    """Import into a test module to run its tests on SQLite and on PostgreSQL: an empty database at head (conftest's
    session schema emptied for this test; skipped with the reason when the server is down)."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "review.db")
    return request.getfixturevalue("postgres_clean_url")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database_url(request, tmp_path):
    """Like database_url but with no tables at all (a throw-away schema on PostgreSQL): for tests of migrations."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/empty.db"
    return request.getfixturevalue("postgres_url")


def review_config(tmp_path, **extra) -> dict:
    """An app without the model bundle: review tests store held comments directly."""
    return {"TESTING": True, "DATABASE_URL": sqlite_url(tmp_path / "review.db"), "SECRET_KEY": "test-secret",
            "RATE_LIMIT": 0, "LOAD_BUNDLE_AT_START": False, "REVIEW_SECURE_COOKIES": False,
            "WEBHOOK_SECRETS": {"*": [SECRET]}, "WEBHOOK_ALLOW_HOSTS": {"*": ["127.0.0.1"]}, **extra}


def add_user(app, username, role="moderator", password=PASSWORD):
    from service.review.users import create_user
    with app.app_context():
        return create_user(db_session(), username, password, role).id


def add_held(app, n=1, *, site="test-site", text="you are an idiot {i}", reasons=("abusive",), abusive=0.9,
             section="news", author="author-1", received_at=None, callback_url=None, spans=None, **fields):
    """Store n held comments (and their article); return their primary keys."""
    with app.app_context():
        session = db_session()
        article = session.query(Article).filter_by(site=site, article_id="a1").one_or_none()
        if article is None:
            session.add(Article(site=site, article_id="a1", title="Council votes on the new bridge",
                                body="The council voted 7-2 for the bridge.", section=section))
        pks = []
        for i in range(n):
            t = text.replace("{i}", str(i))
            c = Comment(site=site, comment_id=f"c{session.query(Comment).count() + 1}", article_id="a1",
                        author_id=author, text=t, scores={"abusive": abusive, "off_topic": 0.1, "spam": 0.01},
                        spans=spans if spans is not None else [], decision="hold", reasons=list(reasons),
                        model_version="test-model-1", status="held", callback_url=callback_url,
                        received_at=received_at or dt.datetime.now(dt.timezone.utc), **fields)
            session.add(c)
            session.flush()
            pks.append(c.id)
        session.commit()
        return pks


def csrf(client) -> str:
    """This client's CSRF token, taken from a rendered form as a browser would."""
    page = client.get("/review/login").get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "no CSRF field on the page"
    return match.group(1)


def login(client, username, password=PASSWORD):
    response = client.post("/review/login", data={"username": username, "password": password,
                                                  "csrf_token": csrf(client)})
    assert response.status_code == 302, response.get_data(as_text=True)
    return response


class Receiver:
    """A CMS on 127.0.0.1 that verifies signatures, answers 503 for its first `fail_first` requests, and
    records each idempotency key it accepted (a duplicate would show up as a count of 2)."""

    def __init__(self, port, fail_first=0):
        self.port, self.fail_first = port, fail_first
        self.requests, self.accepted, self.bad_signatures = 0, {}, 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests += 1
                if not verify(body, self.headers.get("X-Moderation-Signature"), [SECRET]):
                    receiver.bad_signatures += 1
                    self.send_response(401)
                elif receiver.requests <= receiver.fail_first:
                    self.send_response(503)
                else:
                    key = self.headers["Idempotency-Key"]
                    assert json.loads(body)["event_id"] == key
                    receiver.accepted[key] = receiver.accepted.get(key, 0) + 1
                    receiver.bodies[key] = json.loads(body)
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.bodies = {}
        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
