"""The moderators' workflow of issue 18 in real headless Chromium (Debian `chromium`, driven by Playwright).

Skipped, saying why, when Chromium or playwright is missing (see test_browser_review.py).
"""
import contextlib
import json
import re
import threading

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from review_helpers import PASSWORD, add_held, add_user, review_config
from service import create_app
from service.db import Comment, db_session
# the same Chromium and browser fixture as that module (and its skip when there is none)
from test_browser_review import browser  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PORTS = range(18180, 18190)   # this work's port range on the shared machine


@contextlib.contextmanager
def serving(app):
    for port in PORTS:
        try:
            srv = make_server("127.0.0.1", port, app, threaded=True)
            break
        except OSError:
            continue
    else:
        pytest.skip("no free port in 18180-18189")
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.fixture
def app_config(tmp_path):
    return review_config(tmp_path, REVIEW_PAGE_SIZE=100)


@pytest.fixture
def server(app):
    with serving(app) as base:
        yield base


def log_in(page, base, username):
    page.goto(f"{base}/review/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    # (a regex on the URL would already match the log-in page's own ?next=/review/?)
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert re.search(r"/review/(\?[^/]*)?$", page.url), page.url


def page_width(page):
    return page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")


def test_inline_article_title_section_filter_and_export(tmp_path, bundle, browser):
    app = create_app({**review_config(tmp_path, REVIEW_PAGE_SIZE=100), "BUNDLE_INSTANCE": bundle})
    from service.auth import create_api_key
    with app.app_context():
        key = create_api_key("test-site", "cms")
    api = app.test_client()
    article = {"id": "a-inline", "title": "Harbour bridge closes for repairs", "section": "local",
               "body": "The harbour bridge will be closed for six weeks from June while its cables are replaced."}
    out = api.post("/v1/moderate", headers={"Authorization": f"Bearer {key}"}, json={
        "comment": {"id": "c-inline", "text": "You are a stupid worthless idiot, shut up."}, "article": article}).json
    assert out["decision"] == "hold"
    add_user(app, "boss", role="admin")
    with serving(app) as base:
        page = browser.new_page()
        log_in(page, base, "boss")
        assert page.inner_text("li.item a.article") == article["title"]
        assert page.inner_text("li.item .section") == "local"
        page.fill("input[name=section]", "local")
        with page.expect_navigation():
            page.click("form.filters button[type=submit]")
        assert page.locator("li.item").count() == 1
        page.click("li.item a.article")
        assert page.inner_text("h1") == article["title"] and article["body"] in page.inner_text(".article-body")
        page.go_back()
        with page.expect_navigation():
            page.click("li.item form.decide button[value=reject]")
        page.close()
    rows = [json.loads(line) for line in api.get("/v1/export", headers={"Authorization": f"Bearer {key}"})
            .get_data(as_text=True).splitlines()]
    assert [(r["id"], r["article_title"], r["article_body"]) for r in rows] == [
        ("test-site:c-inline", article["title"], article["body"])]


def test_a_long_unbroken_body_wraps(app, server, browser):
    long = "A" * 5200
    add_held(app, text=long)
    with app.app_context():   # the article page and title too
        from service.db import Article
        art = db_session().scalars(select(Article)).one()
        art.title, art.body = "T" * 800, "B" * 5200
        db_session().commit()
    add_user(app, "mia")
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    log_in(page, server, "mia")
    assert page.inner_text("li.item .text") == long
    scroll, inner = page_width(page)
    assert scroll <= inner, f"queue page is {scroll} px wide in a {inner} px window"
    page.click("li.item a.article")
    scroll, inner = page_width(page)
    assert scroll <= inner, f"article page is {scroll} px wide in a {inner} px window"
    page.close()


def decided(app):
    from service.review.tables import Decision
    with app.app_context():
        rows = db_session().execute(select(Comment.text, Comment.status)).all()
        labels = {c: (d.action, d.abusive) for d, c in db_session().execute(
            select(Decision, Comment.text).join(Comment, Comment.id == Decision.comment_pk)).all()}
        return dict(rows), labels


def current_text(page):
    return page.inner_text("li.item.current .text")


def test_keyboard_only_session(app, server, browser):
    app.config["REVIEW_PAGE_SIZE"] = 3
    for i, score in enumerate([0.99, 0.97, 0.95, 0.93, 0.91, 0.89, 0.87]):
        add_held(app, abusive=score, text=f"held number {i}")
    add_user(app, "mia")
    page = browser.new_page()
    page.goto(f"{server}/review/")
    autofocused = "document.activeElement && document.activeElement.name === '{}'"
    page.wait_for_function(autofocused.format("username"))
    page.keyboard.type("mia")               # the user name field has focus
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "Comments 1–3 of 7" in page.inner_text("#position")
    assert current_text(page) == "held number 0"

    # j past the page edge opens the next page at its first comment; k back opens the previous at its last
    page.keyboard.press("j")
    page.keyboard.press("j")
    with page.expect_navigation():
        page.keyboard.press("j")
    assert "Comments 4–6 of 7" in page.inner_text("#position") and current_text(page) == "held number 3"
    with page.expect_navigation():
        page.keyboard.press("k")
    page.wait_for_selector("li.item.current")
    assert current_text(page) == "held number 2"

    # approve, then undo it, then reject the first
    with page.expect_navigation():
        page.keyboard.press("a")
    assert "approved" in page.inner_text(".flash")
    with page.expect_navigation():
        page.keyboard.press("u")
    assert "Undone" in page.inner_text(".flash")
    statuses, _ = decided(app)
    assert statuses["held number 2"] == "held"
    assert current_text(page) == "held number 0"
    with page.expect_navigation():
        page.keyboard.press("r")
    # a label correction by key: 1 sets abusive to "yes" on the (new) first comment, then approve it
    assert current_text(page) == "held number 1"
    page.keyboard.press("1")
    assert page.eval_on_selector("li.item.current select[name=abusive]", "s => s.value") == "yes"
    with page.expect_navigation():
        page.keyboard.press("a")
    # bulk: select two with x, approve both with shift+a
    page.keyboard.press("x")
    page.keyboard.press("j")
    page.keyboard.press("x")
    with page.expect_navigation():
        page.keyboard.press("Shift+A")
    assert "2 comment(s) approved" in page.inner_text(".flash")
    statuses, labels = decided(app)
    assert statuses["held number 0"] == "rejected" and labels["held number 1"] == ("approve", True)
    assert statuses["held number 2"] == statuses["held number 3"] == "approved"
    assert "Comments 1–3 of 3" in page.inner_text("#position")

    # search: / opens it with the box focused, Enter runs it
    with page.expect_navigation():
        page.keyboard.press("/")
    page.wait_for_function(autofocused.format("q"))
    page.keyboard.type("number 5")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("li.result").count() == 1 and "held number 5" in page.inner_text("li.result")
    page.close()


def test_comment_page_author_actions_recent_and_site_roles(app, server, browser):
    from service.review.users import create_user
    parent, = add_held(app, 1, text="the parent comment", author="u-2")
    with app.app_context():
        parent_cid = db_session().get(Comment, parent).comment_id
    pk, = add_held(app, 1, text="a reply worth a look", author="u-1", author_name="Ann Lee", parent_id=parent_cid)
    add_held(app, 1, site="other-site", text="on the other site")
    with app.app_context():
        create_user(db_session(), "ann", PASSWORD, sites=["test-site"])
    page = browser.new_page()
    log_in(page, server, "ann")
    assert "on the other site" not in page.inner_text("ol.queue")       # only her site
    page.click(f"#item-{pk} a.permalink")
    assert page.inner_text("h1").startswith("Comment")
    assert "Ann Lee" in page.inner_text("p.author") and "the parent comment" in page.inner_text(".parent")
    with page.expect_navigation():
        page.click("form.author-actions button.ban")
    assert "banned" in page.inner_text(".flash") and page.inner_text(".standing") == "banned"
    with page.expect_navigation():
        page.click("form.decide button.reject")
    page.click("text=Recently decided")
    assert "a reply worth a look" in page.inner_text("table.recent")
    with page.expect_navigation():
        page.click("table.recent form.undo button")
    assert "held again" in page.inner_text(".flash")
    page.close()
