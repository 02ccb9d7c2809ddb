"""Smaller review bugs (issue 18, item 4): Secure cookie over plain http, double submit by the same moderator."""
from review_helpers import PASSWORD, add_held, add_user, csrf, login, review_config
from service import create_app

import pytest


@pytest.fixture
def app_config(tmp_path):
    return review_config(tmp_path)


def test_secure_cookie_over_plain_http_says_so_instead_of_invalid_csrf(tmp_path):
    app = create_app(review_config(tmp_path, REVIEW_SECURE_COOKIES=True))
    add_user(app, "mia")
    client = app.test_client()
    page = client.get("/review/login").get_data(as_text=True)
    assert "reached over plain http" in page and "REVIEW_SECURE_COOKIES" in page
    # a browser drops the Secure cookie over http: the form comes back without a session
    fresh = app.test_client()
    response = fresh.post("/review/login", data={"username": "mia", "password": PASSWORD, "csrf_token": "x"})
    text = response.get_data(as_text=True)
    assert response.status_code == 400 and "plain http" in text and "CSRF" not in text
    # over https the same steps work, and a forged token is still refused as such
    secure = app.test_client()
    token = csrf(secure)
    ok = secure.post("/review/login", data={"username": "mia", "password": PASSWORD, "csrf_token": token},
                     base_url="https://localhost")
    assert ok.status_code == 302
    forged = app.test_client().post("/review/login", data={"username": "mia", "password": PASSWORD,
                                                           "csrf_token": "x"}, base_url="https://localhost")
    assert forged.status_code == 400 and "CSRF" in forged.get_data(as_text=True)


def test_double_submit_by_the_same_moderator_is_a_no_op(app, client):
    pk, = add_held(app, 1)
    add_user(app, "mia")
    login(client, "mia")
    token = csrf(client)
    first = client.post(f"/review/item/{pk}/decide", data={"action": "approve", "csrf_token": token},
                        follow_redirects=True).get_data(as_text=True)
    second = client.post(f"/review/item/{pk}/decide", data={"action": "approve", "csrf_token": token},
                         follow_redirects=True).get_data(as_text=True)
    assert "c1 approved" in first
    assert "already done so" in second and "another moderator" not in second
    bulk = client.post("/review/bulk", data={"action": "approve", "ids": [str(pk)], "csrf_token": token},
                       follow_redirects=True).get_data(as_text=True)
    assert "1 comment(s) approved" in bulk and "skipped" not in bulk
    # the opposite action, or another moderator, is still a conflict
    again = client.post(f"/review/item/{pk}/decide", data={"action": "reject", "csrf_token": token},
                        follow_redirects=True).get_data(as_text=True)
    assert "another moderator" in again
    add_user(app, "max")
    other = app.test_client()
    login(other, "max")
    theirs = other.post(f"/review/item/{pk}/decide", data={"action": "approve", "csrf_token": csrf(other)},
                        follow_redirects=True).get_data(as_text=True)
    assert "another moderator" in theirs
