"""POST /v1/feedback: reader flags put a comment back in the queue; CMS corrections become labels."""
import pytest
from sqlalchemy import select

from review_helpers import add_held, review_config
from service.db import Comment, db_session
from service.review.tables import AuditEntry, Decision


@pytest.fixture
def app_config(tmp_path):
    return review_config(tmp_path)


def post(client, key, body):
    return client.post("/v1/feedback", json=body, headers={"Authorization": f"Bearer {key}"})


def comment(app, pk):
    with app.app_context():
        return db_session().get(Comment, pk)


def test_reader_flag_puts_a_published_comment_back_in_the_queue(app, client, api_key):
    pk, = add_held(app, reasons=())
    with app.app_context():
        db_session().get(Comment, pk).status = "published"
        db_session().commit()
    response = post(client, api_key, {"comment_id": "c1", "type": "flag", "note": "3 readers flagged it"})
    assert response.status_code == 200
    assert response.get_json() == {"comment_id": "c1", "status": "held", "reasons": ["reader_flag"]}
    assert comment(app, pk).status == "held"
    with app.app_context():
        entry = db_session().scalars(select(AuditEntry)).one()
        assert (entry.username, entry.action, entry.details["note"]) == ("cms:test-site", "reader_flag",
                                                                          "3 readers flagged it")


def test_correction_becomes_a_label(app, client, api_key):
    pk, = add_held(app, reasons=("off_topic",))
    response = post(client, api_key, {"comment_id": "c1", "type": "correction", "decision": "publish"})
    assert response.status_code == 200 and response.get_json()["status"] == "approved"
    with app.app_context():
        d = db_session().scalars(select(Decision)).one()
        assert (d.source, d.action, d.abusive, d.off_topic) == ("cms", "approve", False, False)


def test_flagging_a_rejected_comment_conflicts(app, client, api_key):
    pk, = add_held(app)
    post(client, api_key, {"comment_id": "c1", "type": "correction", "decision": "reject"})
    response = post(client, api_key, {"comment_id": "c1", "type": "flag"})
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "conflict"


@pytest.mark.parametrize("body, status, field", [
    ({"type": "flag"}, 422, "comment_id"),
    ({"comment_id": "c1", "type": "like"}, 422, "type"),
    ({"comment_id": "c1", "type": "correction"}, 422, "decision"),
    ({"comment_id": "c1", "type": "correction", "decision": "publish", "abusive": "yes"}, 422, "abusive"),
    ({"comment_id": "c1", "type": "flag", "note": "x" * 2001}, 422, "note"),
    ({"comment_id": "nope", "type": "flag"}, 404, "comment_id"),
    (["not", "an", "object"], 400, "body"),
])
def test_bad_feedback_gets_a_clear_4xx(app, client, api_key, body, status, field):
    add_held(app)
    response = post(client, api_key, body)
    assert response.status_code == status
    assert response.get_json()["error"]["field"] == field


def test_feedback_needs_the_sites_own_key(app, client, api_key):
    add_held(app, site="other-site")      # c1 belongs to another site
    assert client.post("/v1/feedback", json={"comment_id": "c1", "type": "flag"}).status_code == 401
    assert post(client, api_key, {"comment_id": "c1", "type": "flag"}).status_code == 404
