"""The moderator's view of a comment (issue 18, item 5): author, author history with counts, thread, a page per
comment, and search by text, author and comment id. On SQLite (FTS5) and PostgreSQL (GIN full-text)."""
import re

import pytest
from sqlalchemy import select

from review_helpers import add_held, add_user, login, review_config
from review_helpers import database_url  # noqa: F401  (fixture: SQLite, and PostgreSQL in a throw-away schema)
from service.db import Comment, db_session
from service.review import search


@pytest.fixture
def app_config(tmp_path, database_url):  # noqa: F811
    return review_config(tmp_path, DATABASE_URL=database_url)


@pytest.fixture
def mod(app, client):
    add_user(app, "mia")
    login(client, "mia")
    return client


def visible(html: str) -> str:
    """The page's text as a reader sees it (tags removed), for phrases that span elements."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))


def set_status(app, pk, status):
    with app.app_context():
        db_session().get(Comment, pk).status = status
        db_session().commit()


def comment_id(app, pk):
    with app.app_context():
        return db_session().get(Comment, pk).comment_id


def test_author_name_sent_by_the_cms_is_stored(app, client, api_key, bundle):
    """Through /v1/moderate, scored by the fast tier's bundle (without one, the first request loaded the shipped one)."""
    app.extensions["moderation"]["bundle"] = bundle
    r = client.post("/v1/moderate", headers={"Authorization": f"Bearer {api_key}"}, json={
        "comment": {"id": "c9", "text": "hello", "author_id": "u-7", "author_name": "Ann <b>Lee</b>"},
        "article": {"id": "a1"}})
    assert r.status_code == 200
    with app.app_context():
        row = db_session().scalar(select(Comment).where(Comment.comment_id == "c9"))
        assert (row.author_id, row.author_name) == ("u-7", "Ann <b>Lee</b>")
    bad = client.post("/v1/moderate", headers={"Authorization": f"Bearer {api_key}"}, json={
        "comment": {"id": "c10", "text": "hello", "author_name": 7}, "article": {"id": "a1"}})
    assert bad.status_code == 400 and bad.json["error"]["field"] == "comment.author_name"


def test_queue_and_comment_page_show_author_counts_and_thread(app, mod):
    old = add_held(app, 3, author="u-1", author_name="Ann Lee", text="earlier {i}")
    set_status(app, old[0], "rejected")
    set_status(app, old[1], "approved")
    parent, = add_held(app, 1, author="u-2", text="the parent comment")
    parent_cid = comment_id(app, parent)
    sibling, = add_held(app, 1, author="u-3", text="a sibling reply", parent_id=parent_cid)
    pk, = add_held(app, 1, author="u-1", author_name="Ann <i>Lee</i>", text="the reply under review",
                   parent_id=parent_cid)
    reply, = add_held(app, 1, author="u-4", text="a reply to the reply", parent_id=comment_id(app, pk))

    queue = mod.get("/review/").get_data(as_text=True)
    assert "Ann &lt;i&gt;Lee&lt;/i&gt;" in queue and f"/review/comment/{pk}" in queue
    assert "1 approved, 2 held, 1 rejected" in visible(queue)   # u-1: two earlier ones decided, one earlier and this held

    page = mod.get(f"/review/comment/{pk}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "the reply under review" in html and "Ann &lt;i&gt;Lee&lt;/i&gt;" in html
    assert "In reply to" in html and "the parent comment" in html
    assert "a sibling reply" in html and "a reply to the reply" in html
    assert "earlier 0" in html and "1 approved, 2 held, 1 rejected" in visible(html)
    assert mod.get("/review/comment/999999").status_code == 404
    assert app.test_client().get(f"/review/comment/{pk}").status_code == 302   # log-in first


def test_search_by_text_author_and_comment_id(app, mod):
    a = add_held(app, 1, author="u-1", text="The bridge tolls are a scandal")[0]
    b = add_held(app, 1, author="u-2", text="Bridges and tolls: fine by me")[0]
    c = add_held(app, 1, author="u-1", text="Nothing to see, Ümlaut café")[0]

    def ids(q):
        with app.app_context():
            rows, _ = search.run(db_session(), q)
            return [row[0].id for row in rows]

    assert ids("tolls") == [b, a]                      # newest first
    assert ids("bridge tolls") == [a]                  # every word, whole words
    assert ids("TOLLS scandal") == [a]
    assert ids("author:u-1") == [c, a]
    assert ids("author:u-1 tolls") == [a]
    assert ids(f"id:{comment_id(app, b)}") == [b]
    assert ids("café") == ids("ümlaut") == [c]        # non-ASCII words, case-insensitive
    assert ids('") OR 1=1 --') == [] and ids("NEAR(") == [] and ids("*") == []   # no query syntax gets through
    assert ids("") == []
    html = mod.get("/review/search?q=tolls").get_data(as_text=True)
    assert html.count('class="result"') == 2 and f"/review/comment/{a}" in html


@pytest.mark.parametrize("probe", [2000, 2])   # PostgreSQL: rare-word path, and the common-word walk
def test_search_pages_past_the_limit(app, mod, monkeypatch, probe):
    monkeypatch.setattr(search, "PG_PROBE", probe)
    pks = add_held(app, 7, text="same words {i}")
    with app.app_context():
        first, cursor = search.run(db_session(), "same words", limit=5)
        second, end = search.run(db_session(), "same words", limit=5, before=cursor)
    assert [r[0].id for r in first] + [r[0].id for r in second] == sorted(pks, reverse=True) and end is None
    html = mod.get("/review/search?q=words").get_data(as_text=True)
    assert html.count('class="result"') == 7


def test_search_index_follows_text_changes(app, mod):
    pk, = add_held(app, 1, text="original wording")
    with app.app_context():
        db_session().get(Comment, pk).text = "edited wording"
        db_session().commit()
        assert [r[0].id for r in search.run(db_session(), "edited")[0]] == [pk]
        assert search.run(db_session(), "original")[0] == []
