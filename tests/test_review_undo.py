"""Undo within a window, with a correcting webhook, and the "recently decided" view (issue 18, item 6)."""
import datetime as dt
import json

import pytest
from sqlalchemy import select

from review_helpers import add_held, add_user, csrf, login, review_config
from review_helpers import database_url  # noqa: F401  (fixture: SQLite, and PostgreSQL in a throw-away schema)
from service.db import Comment, db_session
from service.review import actions
from service.review.tables import AuditEntry, Decision, OutboxItem, User


@pytest.fixture
def app_config(tmp_path, database_url):  # noqa: F811
    return review_config(tmp_path, DATABASE_URL=database_url, WEBHOOK_URLS={"*": "http://127.0.0.1:9/hook"})


@pytest.fixture
def mod(app, client):
    add_user(app, "mia")
    login(client, "mia")
    return client


def post(client, path, **data):
    return client.post(path, data={"csrf_token": csrf(client), **data}, follow_redirects=True)


def outbox_events(app):
    with app.app_context():
        return [json.loads(i.body) for i in db_session().scalars(select(OutboxItem).order_by(OutboxItem.id))]


def test_undo_holds_again_removes_the_label_and_sends_a_correcting_webhook(app, mod):
    pk, = add_held(app, 1)
    post(mod, f"/review/item/{pk}/decide", action="reject")
    queue = mod.get("/review/").get_data(as_text=True)
    assert f"/review/item/{pk}/undo" in queue            # offered right away on the queue (key u)
    page = post(mod, f"/review/item/{pk}/undo").get_data(as_text=True)
    assert "Undone: comment c1 is held again" in page
    with app.app_context():
        assert db_session().get(Comment, pk).status == "held"
        assert db_session().scalars(select(Decision)).all() == []     # the export no longer carries it
        assert [e.action for e in db_session().scalars(select(AuditEntry).where(AuditEntry.comment_pk == pk))
                .all()] == ["reject", "undo"]
    first, correction = outbox_events(app)
    assert first["event"] == "comment.decided" and first["decision"] == "reject"
    assert correction["event"] == "comment.decision_undone" and correction["status"] == "held"
    assert correction["undone"]["decision"] == "reject" and correction["event_id"] != first["event_id"]
    # decided again afterwards: a normal decision
    assert "c1 approved" in post(mod, f"/review/item/{pk}/decide", action="approve").get_data(as_text=True)


def test_undo_is_refused_after_the_window_and_for_someone_elses_decision(app, mod):
    app.config["REVIEW_UNDO_SECONDS"] = 60
    a, b = add_held(app, 2)
    post(mod, f"/review/item/{a}/decide", action="approve")
    with app.app_context():
        user = db_session().scalar(select(User).where(User.username == "mia"))
        later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=61)
        with pytest.raises(actions.CannotUndo, match="older than the undo window"):
            actions.undo(db_session(), app.config, a, user=user, now=later)
    add_user(app, "max")
    other = app.test_client()
    login(other, "max")
    post(other, f"/review/item/{b}/decide", action="reject")
    refused = post(mod, f"/review/item/{b}/undo").get_data(as_text=True)
    assert "Not undone" in refused and "not yours" in refused
    with app.app_context():
        assert db_session().get(Comment, b).status == "rejected"
    assert "no decision to undo" in post(mod, f"/review/item/{add_held(app, 1)[0]}/undo").get_data(as_text=True)


def test_recently_decided_lists_newest_first_with_undo_for_own(app, mod):
    a, b = add_held(app, 2, text="comment {i}")
    post(mod, f"/review/item/{a}/decide", action="approve")
    add_user(app, "max")
    other = app.test_client()
    login(other, "max")
    post(other, f"/review/item/{b}/decide", action="reject")
    html = mod.get("/review/recent").get_data(as_text=True)
    assert html.index("comment 1") < html.index("comment 0")           # newest first
    assert f"/review/item/{a}/undo" in html and f"/review/item/{b}/undo" not in html
    assert "max" in html and "mia" in html
