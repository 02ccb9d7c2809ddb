"""Articles sent inline with a comment are stored as PUT /v1/articles stores them (issue 18, item 1)."""
import json

import pytest
from sqlalchemy import select

from review_helpers import add_user, login
from service.db import Article, Comment, db_session


def headers(api_key):
    return {"Authorization": f"Bearer {api_key}"}


ARTICLE = {"id": "a-inline", "title": "Harbour bridge closes for repairs", "section": "local",
           "body": "The harbour bridge will be closed for six weeks from June while its cables are replaced."}
RUDE = "You are a stupid worthless idiot, shut up."


def post(client, api_key, cid, text=RUDE, article=ARTICLE):
    r = client.post("/v1/moderate", json={"comment": {"id": cid, "text": text}, "article": article},
                    headers=headers(api_key))
    assert r.status_code == 200, r.json
    return r.json


def articles(app):
    with app.app_context():
        return {a.article_id: (a.title, a.body, a.section) for a in db_session().scalars(select(Article))}


def test_inline_article_is_upserted_newest_title_and_body_win(app, client, api_key):
    post(client, api_key, "c1")
    assert articles(app) == {"a-inline": (ARTICLE["title"], ARTICLE["body"], "local")}
    post(client, api_key, "c2", article={"id": "a-inline", "title": "Bridge closure delayed", "body": "New body."})
    # section not sent: the stored one is kept (a later inline copy without it must not empty the filter)
    assert articles(app) == {"a-inline": ("Bridge closure delayed", "New body.", "local")}
    # an id alone reads the stored article
    assert client.get("/v1/articles/a-inline", headers=headers(api_key)).json["title"] == "Bridge closure delayed"
    out = post(client, api_key, "c3", text="Fine by me.", article={"id": "a-inline"})
    assert "article_unknown" not in out["reasons"]


@pytest.mark.model
def test_inline_article_is_encoded_once_for_its_comments(app, client, api_key, bundle, monkeypatch):
    enc = bundle.off_topic._encoder()
    seen, real = [], enc.encode_chunks
    monkeypatch.setattr(enc, "encode_chunks", lambda texts, **kw: seen.extend(texts) or real(texts, **kw))
    for i in range(3):
        bundle.off_topic._lru = None   # each comment as in a fresh worker: only the database can spare the work
        post(client, api_key, f"c{i}", text=f"Six weeks without the bridge, comment {i}.")
    encoded_bodies = [t for t in seen if "six weeks from June" in t.lower() or "cables are replaced" in t]
    assert len(encoded_bodies) == 1, seen
    with app.app_context():
        assert db_session().scalar(select(Article.embeddings)) is not None   # stored with the article


def test_queue_section_filter_and_export_see_the_inline_article(app, client, api_key):
    out = post(client, api_key, "c1")
    assert out["decision"] == "hold"
    add_user(app, "boss", role="admin")
    login(client, "boss")
    page = client.get("/review/?section=local").get_data(as_text=True)
    assert ARTICLE["title"] in page and "article a-inline" not in page
    assert "No held comments match" in client.get("/review/?section=sport").get_data(as_text=True)
    with app.app_context():
        pk = db_session().scalar(select(Comment.id).where(Comment.comment_id == "c1"))
    token = client.get("/review/").get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    client.post(f"/review/item/{pk}/decide", data={"action": "reject", "csrf_token": token})
    rows = [json.loads(line) for line in client.get("/v1/export", headers=headers(api_key)).get_data(as_text=True)
            .splitlines()]
    assert [(r["id"], r["article_title"], r["article_body"]) for r in rows] == [
        ("test-site:c1", ARTICLE["title"], ARTICLE["body"])]


def test_article_storage_failure_does_not_fail_the_comment(app, client, api_key, monkeypatch):
    from service import moderation

    def broken(*args, **kwargs):
        raise RuntimeError("database hiccup")
    monkeypatch.setattr(moderation, "article_embeddings", broken)
    out = post(client, api_key, "c1")
    assert out["decision"] == "hold" and "article_unknown" not in out["reasons"]
