"""Author actions per site (issue 18, item 5 of "What to build"): trust and ban, audited, sent to the CMS as a
webhook, applied by /v1/moderate on the author's next comment."""
import json

import pytest
from sqlalchemy import select

from review_helpers import add_held, add_user, csrf, login, review_config
from service import create_app
from service.db import db_session
from service.review.tables import AuditEntry, AuthorStatus, OutboxItem

RUDE = "You are a stupid worthless idiot, shut up."
FINE = "The new timetable for the number 7 bus is much better."
ARTICLE = {"id": "a1", "title": "New bus timetable from Monday",
           "body": "The city publishes a new timetable for buses 7 and 12."}


@pytest.fixture
def app(tmp_path, bundle):
    app = create_app({**review_config(tmp_path, WEBHOOK_URLS={"test-site": "http://127.0.0.1:9/cms"}),
                      "BUNDLE_INSTANCE": bundle})
    yield app
    app.extensions["db"]["engine"].dispose()


@pytest.fixture
def key(app):
    from service.auth import create_api_key
    with app.app_context():
        return create_api_key("test-site", "cms")


def moderate(app, key, cid, text, author="u-1"):
    r = app.test_client().post("/v1/moderate", headers={"Authorization": f"Bearer {key}"}, json={
        "comment": {"id": cid, "text": text, "author_id": author}, "article": ARTICLE})
    assert r.status_code == 200, r.json
    return r.json


def act(client, action, author="u-1", site="test-site"):
    return client.post("/review/author", data={"csrf_token": csrf(client), "site": site, "author_id": author,
                                               "action": action, "next": "/review/"}, follow_redirects=True)


def test_ban_holds_everything_from_that_author_on_that_site_only(app, key, client):
    assert moderate(app, key, "c1", FINE)["decision"] == "publish"
    add_user(app, "mia")
    login(client, "mia")
    assert "banned" in act(client, "ban").get_data(as_text=True)
    held = moderate(app, key, "c2", FINE)
    assert held["decision"] == "hold" and held["reasons"][0] == "author_banned"
    assert moderate(app, key, "c3", FINE, author="u-2")["decision"] == "publish"   # other authors unaffected
    with app.app_context():
        entry = db_session().scalar(select(AuditEntry).where(AuditEntry.action == "author_ban"))
        assert entry.username == "mia" and entry.details["site_author"] == "test-site/u-1"
        event = json.loads(db_session().scalar(select(OutboxItem.body)))
        assert event["event"] == "author.status_changed" and event["status"] == "banned"
        assert event["author_id"] == "u-1" and event["site"] == "test-site"
    act(client, "clear")
    assert moderate(app, key, "c4", FINE)["decision"] == "publish"
    with app.app_context():
        assert db_session().scalars(select(AuthorStatus)).all() == []


def test_trust_publishes_unless_the_abuse_score_passes_the_bar(app, key, client):
    first = moderate(app, key, "c1", RUDE)
    assert first["decision"] == "hold"
    score = first["scores"]["abusive"]
    add_user(app, "mia")
    login(client, "mia")
    act(client, "trust")
    app.config["REVIEW_TRUST_ABUSIVE_BAR"] = score + 0.001
    trusted = moderate(app, key, "c2", RUDE)
    assert trusted["decision"] == "publish" and trusted["reasons"] == []
    app.config["REVIEW_TRUST_ABUSIVE_BAR"] = score - 0.001
    assert moderate(app, key, "c3", RUDE)["decision"] == "hold"


def test_author_buttons_on_the_queue_and_refusals(app, client):
    add_held(app, 1, author="u-9")
    add_user(app, "mia")
    login(client, "mia")
    page = client.get("/review/").get_data(as_text=True)
    assert 'value="trust"' in page and 'value="ban"' in page
    bad = client.post("/review/author", data={"csrf_token": csrf(client), "site": "test-site", "author_id": "u-9",
                                              "action": "delete"})
    assert bad.status_code == 400
    assert app.test_client().post("/review/author", data={"site": "test-site", "author_id": "u-9",
                                                          "action": "ban"}).status_code == 400   # no CSRF
    act(client, "ban", author="u-9")
    assert 'class="standing banned"' in client.get("/review/").get_data(as_text=True)
