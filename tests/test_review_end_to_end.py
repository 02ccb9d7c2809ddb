"""The whole loop with the real shipped bundle: /v1/moderate holds a comment -> it is in the queue with the
model's spans highlighted -> a moderator rejects it -> the signed webhook reaches the CMS -> the CMS polls the
final state -> the decision is in the labelled export."""
import json
import re

import pytest

from review_helpers import SECRET, Receiver, add_user, csrf, free_port, login
from service import create_app
from service.db import db_session
from service.review import outbox

TEXT = "You are a stupid worthless idiot, shut up."


@pytest.fixture
def app(app_config):
    app = create_app({**app_config, "REVIEW_SECURE_COOKIES": False, "WEBHOOK_SECRETS": {"*": [SECRET]},
                      "WEBHOOK_ALLOW_HOSTS": {"*": ["127.0.0.1"]}})   # the test CMS listens on loopback
    yield app
    app.extensions["db"]["engine"].dispose()


def test_held_by_the_model_decided_by_a_person_delivered_to_the_cms(app, client, api_key):
    port = free_port()
    headers = {"Authorization": f"Bearer {api_key}"}
    out = client.post("/v1/moderate", headers=headers, json={
        "comment": {"id": "e2e-1", "text": TEXT, "author_id": "reader-9"},
        "article": {"id": "a1", "title": "New bus timetable from Monday", "body": "Buses 7 and 12 change."},
        "callback_url": f"http://127.0.0.1:{port}/hook"}).get_json()
    assert out["decision"] == "hold" and "abusive" in out["reasons"] and out["spans"]

    add_user(app, "mia")
    login(client, "mia")
    page = client.get("/review/").get_data(as_text=True)
    marked = re.findall(r"<mark>([^<]*)</mark>", page)
    assert marked == [TEXT[s["begin"]:s["end"]] for s in sorted(out["spans"], key=lambda s: s["begin"])]
    pk = int(re.search(r'id="item-(\d+)"', page).group(1))
    assert client.post(f"/review/item/{pk}/decide", data={"action": "reject", "csrf_token": csrf(client)}
                       ).status_code == 302

    receiver = Receiver(port)
    try:
        with app.app_context():
            assert outbox.deliver_due(db_session(), app.config)["delivered"] == 1
    finally:
        receiver.close()
    [body] = receiver.bodies.values()
    assert (body["comment_id"], body["status"], body["model_version"]) == ("e2e-1", "rejected",
                                                                           out["model_version"])
    assert client.get("/v1/comments/e2e-1", headers=headers).get_json()["status"] == "rejected"
    exported = client.get("/v1/export", headers=headers).get_data(as_text=True).splitlines()
    assert [json.loads(line)["text"] for line in exported] == [TEXT]
