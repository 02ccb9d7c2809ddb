"""Queue ergonomics (issue 18, item 7): total count and position, previous and next pages (keyset both ways),
readable and paged audit details. On SQLite and PostgreSQL."""
import datetime as dt
import re

import pytest

from review_helpers import add_held, add_user, csrf, login, review_config
from review_helpers import database_url  # noqa: F401  (fixture: SQLite, and PostgreSQL in a throw-away schema)


@pytest.fixture
def app_config(tmp_path, database_url):  # noqa: F811
    return review_config(tmp_path, DATABASE_URL=database_url, REVIEW_PAGE_SIZE=3)


@pytest.fixture
def admin(app, client):
    add_user(app, "boss", role="admin")
    login(client, "boss")
    return client


def ids(page):
    return [int(i) for i in re.findall(r'<li class="item" id="item-(\d+)"', page)]


def link(page, cls):
    found = re.search(rf'class="{cls}" href="([^"]+)"', page)
    return found and found.group(1).replace("&amp;", "&")


def position(page):
    text = re.sub(r"<[^>]+>", "", re.search(r'<p class="position".*?</p>', page, re.S).group(0))
    return " ".join(text.split()[:4])


@pytest.mark.parametrize("sort", ["score", "oldest", "newest"])
def test_next_and_previous_pages_with_position(app, admin, sort):
    base = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
    scores = [0.55, 0.9, 0.7, 0.9, 0.6, 0.99, 0.8, 0.75]
    for i, s in enumerate(scores):
        add_held(app, abusive=s, received_at=base + dt.timedelta(hours=i))
    pages, url = [], f"/review/?sort={sort}"
    while url:
        page = admin.get(url).get_data(as_text=True)
        pages.append((ids(page), position(page)))
        url = link(page, "next")
    assert [len(p) for p, _ in pages] == [3, 3, 2]
    assert [pos for _, pos in pages] == ["Comments 1–3 of 8", "Comments 4–6 of 8", "Comments 7–8 of 8"]
    back, url = [], link(page, "prev")
    while url:
        page = admin.get(url).get_data(as_text=True)
        back.append((ids(page), position(page)))
        url = link(page, "prev")
    assert back == pages[:-1][::-1]            # the same pages, walking back to the first
    assert link(admin.get(f"/review/?sort={sort}").get_data(as_text=True), "prev") is None


def test_position_counts_only_what_the_filters_match(app, admin):
    add_held(app, 4, reasons=("abusive",))
    add_held(app, 2, reasons=("spam",))
    page = admin.get("/review/?reason=spam").get_data(as_text=True)
    assert position(page) == "Comments 1–2 of 2"


def test_audit_details_are_readable_and_paged(app, admin):
    app.config["REVIEW_AUDIT_PAGE_SIZE"] = 5
    pks = add_held(app, 7)
    token = csrf(admin)
    for pk in pks:
        admin.post(f"/review/item/{pk}/decide", data={"action": "reject", "abusive": "no", "csrf_token": token,
                                                      "reject_reason": "rude <b>x</b>"})
    first = admin.get("/review/audit").get_data(as_text=True)
    assert first.count('<tr class="entry">') == 5
    assert "{'" not in first and "'abusive'" not in first        # no Python dict reprs
    assert "abusive: no" in re.sub(r"<[^>]+>", "", first) and "rude &lt;b&gt;x&lt;/b&gt;" in first
    older = link(first, "next")
    assert older
    second = admin.get(older).get_data(as_text=True)
    assert second.count('<tr class="entry">') == 3             # 7 decisions + the log-in = 8 entries
