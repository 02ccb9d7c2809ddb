"""The /review pages in real headless Chromium (Debian `chromium`, driven by Playwright; no downloaded browser).

Skipped, saying why, when Chromium or the playwright package is missing (`apt-get install chromium`,
`pip install -e '.[test]'`). CHROMIUM overrides the browser path (default /usr/bin/chromium).
"""
import os
import re
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from review_helpers import PASSWORD, add_held, add_user, review_config
from service.db import Article, Comment, db_session

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]
PAYLOADS = Path(__file__).parent / "data" / "xss_payloads.txt"

pytestmark = [pytest.mark.browser, pytest.mark.slow]
sync_playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed "
                                      "(pip install -e '.[test]')").sync_playwright
if not (shutil.which(CHROMIUM) or os.path.exists(CHROMIUM)):
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set CHROMIUM)", allow_module_level=True)


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def app_config(tmp_path):
    return review_config(tmp_path, REVIEW_PAGE_SIZE=100)


@pytest.fixture
def server(app):
    """The app on 127.0.0.1 in a thread; yields its base URL."""
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()


class Listener:
    """Counts every request made to it: a payload that runs (or loads anything) calls here."""

    def __init__(self):
        self.hits = []
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                listener.hits.append(self.path)
                self.send_response(204)
                self.end_headers()

            do_POST = do_GET

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener():
    listener = Listener()
    yield listener
    listener.close()


def payloads(hit_url: str) -> list[str]:
    pwn = f"window.pwned=1,fetch(`{hit_url}/pwned`)"
    lines = [line for line in PAYLOADS.read_text(encoding="utf-8").splitlines() if line and not line.startswith("# ")]
    return [line.replace("PWN", pwn).replace("HIT", hit_url) for line in lines]


def log_in(page, base, username):
    page.goto(f"{base}/review/")
    assert "/review/login" in page.url
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/review/(\?.*)?$"))


def statuses(app):
    with app.app_context():
        return dict(db_session().execute(select(Comment.comment_id, Comment.status)).all())


def test_log_in_approve_with_keyboard_bulk_reject_and_see_audit(app, server, browser):
    for score in (0.95, 0.9, 0.85, 0.8):
        add_held(app, abusive=score, text=f"held comment scored {score}")
    add_user(app, "boss", role="admin")
    page = browser.new_page()
    log_in(page, server, "boss")
    assert page.locator("li.item").count() == 4
    assert "a approve" in page.inner_text("#shortcuts")

    # keyboard: j moves to the second item (score 0.9, comment c2), a approves it
    page.keyboard.press("j")
    assert page.get_attribute("li.item.current", "id") == page.locator("li.item").nth(1).get_attribute("id")
    with page.expect_navigation():
        page.keyboard.press("a")
    assert "c2 approved" in page.inner_text(".flash")
    assert statuses(app)["c2"] == "approved" and page.locator("li.item").count() == 3

    # bulk: tick the first two items left (c1, c3) and reject them together
    boxes = page.locator("li.item input[type=checkbox]")
    boxes.nth(0).check()
    boxes.nth(1).check()
    with page.expect_navigation():
        page.click("#bulk button[value=reject]")
    assert "2 comment(s) rejected" in page.inner_text(".flash")
    assert statuses(app) == {"c1": "rejected", "c2": "approved", "c3": "rejected", "c4": "held"}

    page.click("text=Audit log")
    rows = [tuple(r.split("\t")[1:4]) for r in page.locator("tr.entry").all_inner_texts()]
    assert ("boss", "approve", "test-site/c2") in rows
    assert ("boss", "reject", "test-site/c1") in rows and ("boss", "reject", "test-site/c3") in rows
    assert sum(1 for r in rows if r[1] in ("approve", "reject")) == 3
    page.close()


def test_xss_corpus_renders_as_text_and_runs_nothing(app, server, browser, listener):
    corpus = payloads(listener.url)
    assert len(corpus) >= 50
    for text in corpus:   # highlight the middle of each: the <mark> pieces must be escaped too
        add_held(app, text=text, spans=[{"begin": len(text) // 3, "end": 2 * len(text) // 3, "score": 0.9}])
    with app.app_context():   # the article's title and body are attacker-reachable too
        article = db_session().scalars(select(Article)).one()
        article.title, article.body = corpus[0], corpus[10]
        db_session().commit()
    add_user(app, "mia")
    page = browser.new_page()
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    log_in(page, server, "mia")
    page.wait_for_load_state("networkidle")
    for selector in ("li.item", "li.item .text", "details.history summary"):
        for element in page.locator(selector).all()[:20]:   # hover/click what a moderator would touch
            element.hover()

    shown = page.locator("li.item .text").all_inner_texts()
    assert sorted(shown) == sorted(corpus)           # every payload is on the page, as the literal text
    # nothing inside a comment became an element, except our own <mark>s
    assert page.evaluate("document.querySelectorAll('li.item .text *:not(mark)').length") == 0
    page.click("a.article >> nth=0")
    page.wait_for_load_state("networkidle")
    assert page.inner_text("h1") == corpus[0]
    page.go_back()
    page.wait_for_timeout(300)
    assert page.evaluate("typeof window.pwned") == "undefined"
    assert listener.hits == [] and dialogs == []
    page.close()


def test_the_corpus_does_run_when_not_escaped(browser, listener):
    """Control: the same payloads pasted raw into a page without CSP do run, so the checks above can fail."""
    page = browser.new_page()
    page.set_content("<body>" + "\n".join(payloads(listener.url)) + "</body>")
    page.wait_for_timeout(500)
    assert page.evaluate("window.pwned") == 1
    assert any(hit.startswith("/pwned") for hit in listener.hits)
    page.close()
