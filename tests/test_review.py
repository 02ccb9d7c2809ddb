"""Moderators' pages: log-in, refusals (no session, other user's session, bad CSRF), queue, decisions, audit."""
import datetime as dt
import re
import threading

import pytest
from sqlalchemy import select, text

from review_helpers import PASSWORD, add_held, add_user, csrf, login, review_config
from service import create_app
from service.db import Comment, db_session
from service.review import actions
from service.review.tables import AuditEntry, Decision, OutboxItem
from review_helpers import database_url  # noqa: F401  (fixture: SQLite, and PostgreSQL in a throw-away schema)


@pytest.fixture
def app_config(tmp_path, database_url):
    """Every test here runs on SQLite and on PostgreSQL (skipped, saying why, when the server is not up)."""
    return review_config(tmp_path, DATABASE_URL=database_url)


@pytest.fixture
def mod(app, client):
    add_user(app, "mia")
    login(client, "mia")
    return client


def status_of(app, pk):
    with app.app_context():
        return db_session().get(Comment, pk).status


def decisions(app, pk):
    with app.app_context():
        return db_session().scalars(select(Decision).where(Decision.comment_pk == pk)).all()


# ---------------------------------------------------------------- log-in and refusals

def test_login_sets_a_hardened_cookie_and_wrong_password_is_refused(app, client):
    add_user(app, "mia")
    bad = client.post("/review/login", data={"username": "mia", "password": "wrong password!",
                                             "csrf_token": csrf(client)})
    assert bad.status_code == 401 and "wrong password" in bad.get_data(as_text=True)
    ok = login(client, "mia")
    cookie = ok.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert client.get("/review/").status_code == 200


def test_repeated_failed_logins_slow_down_that_client_for_that_name_only(app, client):
    add_user(app, "mia")
    app.config["REVIEW_LOGIN_MAX_FAILURES"] = 3
    for _ in range(4):
        assert client.post("/review/login", data={"username": "mia", "password": "guess-guess",
                                                  "csrf_token": csrf(client)}).status_code == 401
    slowed = client.post("/review/login", data={"username": "mia", "password": PASSWORD, "csrf_token": csrf(client)})
    assert slowed.status_code == 429 and "Too many failed log-ins" in slowed.get_data(as_text=True)
    assert int(slowed.headers["Retry-After"]) >= 1
    with app.app_context():
        failed = db_session().scalars(select(AuditEntry).where(AuditEntry.action == "login_failed")).all()
        assert [e.username for e in failed] == ["mia"] * 4
    add_user(app, "max")
    login(client, "max")   # other names are not affected
    other = app.test_client()   # nor the same name from another address
    other.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    login(other, "mia")


def test_secure_cookie_flag_is_on_by_default(app_config):
    app = create_app({**app_config, "REVIEW_SECURE_COOKIES": True})
    add_user(app, "mia")
    client = app.test_client()
    token = csrf(client)
    response = client.post("/review/login", data={"username": "mia", "password": PASSWORD, "csrf_token": token},
                           base_url="https://localhost")
    assert response.status_code == 302 and "Secure" in response.headers["Set-Cookie"]


def test_passwords_are_hashed(app):
    add_user(app, "mia")
    with app.app_context():
        stored = db_session().execute(text("SELECT password_hash FROM review_users")).scalar()
    assert PASSWORD not in stored and stored.startswith(("scrypt:", "pbkdf2:"))


def test_shipped_password_hash_is_scrypt_at_2_to_the_15(app, monkeypatch):
    """conftest lowers the work factor for speed; the service's own call hashes at werkzeug's 2**15."""
    import werkzeug.security
    from service.review import users
    monkeypatch.setattr(users, "generate_password_hash", werkzeug.security.generate_password_hash)
    add_user(app, "mia")
    with app.app_context():
        stored = db_session().execute(text("SELECT password_hash FROM review_users")).scalar()
    assert stored.startswith("scrypt:32768:8:1$")


def test_no_session_is_refused(app, client):
    pk, = add_held(app)
    assert client.get("/review/").status_code == 302
    assert client.get("/review/audit").status_code == 302
    token = csrf(client)  # an anonymous visitor can get a token from the log-in form: still no decision
    response = client.post(f"/review/item/{pk}/decide", data={"action": "approve", "csrf_token": token})
    assert response.status_code == 401
    assert status_of(app, pk) == "held" and decisions(app, pk) == []


@pytest.mark.parametrize("token", [None, "", "forged-token"])
def test_missing_or_bad_csrf_is_refused(app, mod, token):
    pk, = add_held(app)
    data = {"action": "reject"} if token is None else {"action": "reject", "csrf_token": token}
    response = mod.post(f"/review/item/{pk}/decide", data=data)
    assert response.status_code == 400 and "CSRF" in response.get_data(as_text=True)
    assert mod.post("/review/bulk", data={**data, "ids": [pk]}).status_code == 400
    assert status_of(app, pk) == "held" and decisions(app, pk) == []


def test_another_users_csrf_token_is_refused(app, client):
    pk, = add_held(app)
    add_user(app, "mia")
    add_user(app, "max")
    other = app.test_client()
    login(other, "max")
    max_token = csrf(other)
    login(client, "mia")
    response = client.post(f"/review/item/{pk}/decide", data={"action": "approve", "csrf_token": max_token})
    assert response.status_code == 400 and status_of(app, pk) == "held"


def test_a_moderator_cannot_open_admin_pages(app, mod):
    assert mod.get("/review/audit").status_code == 403
    assert mod.get("/review/dashboard").status_code == 403
    assert mod.get("/review/export").status_code == 403


def test_logout_kills_a_copied_cookie_and_disable_ends_sessions(app, client):
    pk, = add_held(app)
    add_user(app, "mia")
    login(client, "mia")
    with client.session_transaction() as s:
        stolen = dict(s)
    token = csrf(client)
    assert client.post("/review/logout", data={"csrf_token": token}).status_code == 302
    thief = app.test_client()
    with thief.session_transaction() as s:
        s.update(stolen)
    assert thief.get("/review/").status_code == 302
    assert thief.post(f"/review/item/{pk}/decide", data={"action": "approve", "csrf_token": stolen["csrf"]}
                      ).status_code == 401

    login(client, "mia")
    with app.app_context():
        from service.review.users import disable_user
        disable_user(db_session(), "mia")
    assert client.get("/review/").status_code == 302
    bad = client.post("/review/login", data={"username": "mia", "password": PASSWORD, "csrf_token": csrf(client)})
    assert bad.status_code == 401


def test_pages_send_a_strict_csp_and_no_inline_script(app, mod):
    add_held(app)
    response = mod.get("/review/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "default-src 'none'" in csp
    page = response.get_data(as_text=True)
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page) == []
    assert mod.get("/review/static/review.js").status_code == 200


# ---------------------------------------------------------------- queue

def test_queue_shows_escaped_text_highlights_article_reasons_scores_history(app, mod):
    add_held(app, text="an earlier one {i}")
    with app.app_context():
        earlier = db_session().scalars(select(Comment)).one()
        earlier.status = "rejected"
        db_session().commit()
    hostile = "<script>alert(1)</script> you idiot"
    start = hostile.index("idiot")
    add_held(app, text=hostile, spans=[{"begin": start, "end": start + 5, "score": 0.9}])
    page = mod.get("/review/").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; you <mark>idiot</mark>" in page
    assert "Council votes on the new bridge" in page and 'href="/review/article/' in page
    assert "abusive 0.90" in page and ">abusive</span>" in page
    assert "Author's earlier comments (1)" in page and ">rejected</span> an earlier one 0" in page
    article = re.search(r'href="(/review/article/\d+)"', page).group(1)
    assert "voted 7-2 for the bridge" in mod.get(article).get_data(as_text=True)
    assert "j</kbd> next" in page and "a</kbd> approve" in page


def _ids_in(page):
    return [int(x) for x in re.findall(r'<li class="item" id="item-(\d+)"', page)]


def test_filters_and_keyset_pages_visit_every_item_once_in_order(app, mod):
    app.config["REVIEW_PAGE_SIZE"] = 3
    base = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
    scores = [0.55, 0.9, 0.7, 0.9, 0.6, 0.99, 0.8]
    pks = [add_held(app, abusive=s, received_at=base + dt.timedelta(hours=i))[0] for i, s in enumerate(scores)]
    other, = add_held(app, site="other-site", reasons=("off_topic",), received_at=base + dt.timedelta(days=3))

    def walk(**params):
        seen, url = [], "/review/"
        response = mod.get(url, query_string={**params, "sort": params.get("sort", "score")})
        while True:
            page = response.get_data(as_text=True)
            seen += _ids_in(page)
            nxt = re.search(r'class="next" href="([^"]+)"', page)
            if not nxt:
                return seen
            response = mod.get(nxt.group(1).replace("&amp;", "&"))

    by_score = walk(site="test-site")
    by_age = walk(site="test-site", sort="oldest")
    newest = walk(sort="newest")
    app.config["REVIEW_PAGE_SIZE"] = 25
    expected = [pk for _, pk in sorted(zip(scores, pks), key=lambda t: (-t[0], -t[1]))]
    assert by_score == expected
    assert by_age == pks and newest == [other] + pks[::-1]
    assert _ids_in(mod.get("/review/?reason=off_topic").get_data(as_text=True)) == [other]
    assert _ids_in(mod.get("/review/?section=sport").get_data(as_text=True)) == []
    assert set(_ids_in(mod.get("/review/?section=news").get_data(as_text=True))) == set(pks + [other])
    assert _ids_in(mod.get("/review/?since=2026-11-04&until=2026-11-04").get_data(as_text=True)) == [other]
    assert mod.get("/review/?since=yesterday").status_code == 400
    assert mod.get("/review/?sort=random").status_code == 400
    assert mod.get("/review/?after=!!notacursor").status_code == 400


# ---------------------------------------------------------------- decisions

def test_approve_with_correction_records_label_audit_and_webhook(app, mod):
    pk, = add_held(app, callback_url="http://cms.invalid/hook")
    response = mod.post(f"/review/item/{pk}/decide", data={
        "action": "reject", "abusive": "no", "off_topic": "yes", "reject_reason": "spam link",
        "csrf_token": csrf(mod)}, follow_redirects=True)
    assert "rejected" in response.get_data(as_text=True)
    assert status_of(app, pk) == "rejected"
    [d] = decisions(app, pk)
    assert (d.action, d.abusive, d.off_topic, d.reject_reason, d.source) == ("reject", False, True, "spam link",
                                                                            "moderator")
    with app.app_context():
        entry = db_session().scalars(select(AuditEntry).where(AuditEntry.action == "reject")).one()
        assert entry.username == "mia" and entry.scores["abusive"] == 0.9
        assert entry.model_version == "test-model-1" and entry.details["labels"] == {"abusive": False,
                                                                                      "off_topic": True,
                                                                                      "spam": False}
        item = db_session().scalars(select(OutboxItem)).one()
        assert item.url == "http://cms.invalid/hook" and '"status":"rejected"' in item.body


def test_default_labels_follow_the_action():
    comment = Comment(reasons=["abusive", "spam"])
    assert actions.default_labels(comment, "approve") == {"abusive": False, "off_topic": False, "spam": False}
    assert actions.default_labels(comment, "reject") == {"abusive": True, "off_topic": True, "spam": True}
    # a spam hold confirmed is off-topic too (spam is off-topic under any article)
    assert actions.default_labels(Comment(reasons=["spam"]), "reject") == {"abusive": False, "off_topic": True,
                                                                           "spam": True}


def test_a_moderator_labels_a_missed_spam_comment_spam(app, mod):
    pk, = add_held(app, text="visit kwikloans dot biz", reasons=("off_topic",))
    assert '<select name="spam">' in mod.get("/review/").get_data(as_text=True)   # one label toggle per LABELS
    mod.post(f"/review/item/{pk}/decide", data={"action": "reject", "spam": "yes", "csrf_token": csrf(mod)})
    [d] = decisions(app, pk)
    assert (d.abusive, d.off_topic, d.spam) == (False, True, True)


def test_second_decision_on_the_same_item_gets_a_clear_message(app, client):
    pk, = add_held(app)
    add_user(app, "mia")
    add_user(app, "max")
    other = app.test_client()
    login(client, "mia")
    login(other, "max")
    first = client.post(f"/review/item/{pk}/decide", data={"action": "approve", "csrf_token": csrf(client)})
    second = other.post(f"/review/item/{pk}/decide", data={"action": "reject", "csrf_token": csrf(other)},
                        follow_redirects=True)
    assert first.status_code == 302
    assert "already approved by another moderator" in second.get_data(as_text=True)
    assert status_of(app, pk) == "approved" and len(decisions(app, pk)) == 1


def test_concurrent_decisions_make_exactly_one(app):
    pks = add_held(app, 5)
    add_user(app, "mia")
    results = []
    barrier = threading.Barrier(4)

    def worker(action):
        with app.app_context():
            from service.review.tables import User
            user = db_session().scalars(select(User)).one()
            barrier.wait()
            for pk in pks:
                try:
                    actions.record_decision(db_session(), app.config, pk, action, user=user)
                    results.append((pk, action))
                except actions.AlreadyDecided:
                    pass

    threads = [threading.Thread(target=worker, args=(a,)) for a in ("approve", "reject", "approve", "reject")]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(pk for pk, _ in results) == pks
    for pk, action in results:
        assert status_of(app, pk) == actions.STATUS_FOR[action] and len(decisions(app, pk)) == 1


def test_bulk_reject_skips_items_already_decided(app, mod):
    pks = add_held(app, 3)
    actions_done = mod.post(f"/review/item/{pks[0]}/decide", data={"action": "approve", "csrf_token": csrf(mod)})
    assert actions_done.status_code == 302
    response = mod.post("/review/bulk", data={"action": "reject", "ids": pks, "csrf_token": csrf(mod)},
                        follow_redirects=True)
    assert "2 comment(s) rejected. 1 skipped" in response.get_data(as_text=True)
    assert [status_of(app, pk) for pk in pks] == ["approved", "rejected", "rejected"]
    assert mod.post("/review/bulk", data={"action": "reject", "ids": ["x"], "csrf_token": csrf(mod)}
                    ).status_code == 400
    assert mod.post(f"/review/item/{pks[0]}/decide", data={"action": "delete", "csrf_token": csrf(mod)}
                    ).status_code == 400
    assert mod.post("/review/item/99999/decide", data={"action": "approve", "csrf_token": csrf(mod)}
                    ).status_code == 404


# ---------------------------------------------------------------- audit log

def test_audit_log_is_append_only(app, mod):
    pk, = add_held(app)
    mod.post(f"/review/item/{pk}/decide", data={"action": "approve", "csrf_token": csrf(mod)})
    with app.app_context():
        session = db_session()
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "approve")).one()
        entry.username = "someone else"
        with pytest.raises(PermissionError):
            session.commit()
        session.rollback()
        for sql in ("UPDATE review_audit SET username = 'x'", "DELETE FROM review_audit"):
            with pytest.raises(Exception, match="append-only"):
                session.execute(text(sql))
            session.rollback()
        assert session.scalars(select(AuditEntry.username).where(AuditEntry.action == "approve")).one() == "mia"


def test_admin_sees_audit_entries_filtered_by_moderator_and_date(app, client):
    pks = add_held(app, 2)
    add_user(app, "mia")
    add_user(app, "boss", role="admin")
    login(client, "mia")
    client.post(f"/review/item/{pks[0]}/decide", data={"action": "approve", "csrf_token": csrf(client)})
    admin = app.test_client()
    login(admin, "boss")
    admin.post(f"/review/item/{pks[1]}/decide", data={"action": "reject", "csrf_token": csrf(admin)})
    today = dt.datetime.now(dt.timezone.utc).date().isoformat()
    page = admin.get("/review/audit", query_string={"user": "mia", "since": today, "until": today}
                     ).get_data(as_text=True)
    rows = re.findall(r'<td class="who">([^<]+)</td><td class="action">([^<]+)</td>', page)
    assert rows == [("mia", "approve"), ("mia", "login")]
    assert "test-model-1" in page and "abusive 0.90" in page
    assert "No entries" in admin.get("/review/audit?since=2001-01-01&until=2001-01-02").get_data(as_text=True)


# ---------------------------------------------------------------- dashboard

def test_dashboard_counts_and_chart(app, client):
    from service.review import dashboard
    pks = add_held(app, 3)
    with app.app_context():
        session = db_session()
        session.add(Comment(site="test-site", comment_id="pub", text="fine", scores={"abusive": 0.1}, spans=[],
                            decision="publish", reasons=[], model_version="m", status="published"))
        session.commit()
    add_user(app, "boss", role="admin")
    login(client, "boss")
    for pk, action in zip(pks, ("approve", "reject")):
        client.post(f"/review/item/{pk}/decide", data={"action": action, "csrf_token": csrf(client)})
    with app.app_context():
        stats = dashboard.compute(db_session(), days=7)
    assert (stats["received"], stats["held"], stats["decisions"], stats["waiting"]) == (4, 3, 2, 1)
    assert stats["hold_rate"] == 0.75 and stats["agreement"] == 0.5
    today = stats["per_day"][-1]
    assert (today["held"], today["approved"], today["rejected"]) == (3, 1, 1)
    assert stats["median_minutes"] is not None and stats["median_minutes"] >= 0
    page = client.get("/review/dashboard").get_data(as_text=True)
    assert "<svg" in page and "75.0 %" in page and "50.0 %" in page


def test_attacker_typed_names_and_notes_are_escaped_on_the_audit_page(app, client, api_key):
    add_held(app)
    evil = '<img src=x onerror="alert(1)">'
    client.post("/review/login", data={"username": evil, "password": "whatever-pass", "csrf_token": csrf(client)})
    client.post("/v1/feedback", headers={"X-API-Key": api_key},
                json={"comment_id": "c1", "type": "flag", "note": evil})
    add_user(app, "boss", role="admin")
    login(client, "boss")
    page = client.get("/review/audit").get_data(as_text=True)
    assert evil not in page and page.count("&lt;img src=x onerror=") == 2
