"""Log-in throttling that cannot lock others out, the unlock/set-password commands, and the audit flood
(issue 18, item 2)."""
import random
import string

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from review_helpers import PASSWORD, add_user, csrf, review_config
from service.db import db_session
from service.review import throttle
from service.review.tables import AuditEntry, LoginThrottle


@pytest.fixture
def app_config(tmp_path):
    return review_config(tmp_path)


def client_at(app, address):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def attempt(client, username, password):
    return client.post("/review/login", data={"username": username, "password": password,
                                              "csrf_token": csrf(client)}).status_code


@pytest.fixture
def clock(monkeypatch):
    t = [1_800_000_000.0]
    monkeypatch.setattr(throttle, "now", lambda: t[0])
    return t


def audit_count(app, **where):
    with app.app_context():
        return db_session().scalar(select(func.count()).select_from(AuditEntry).filter_by(**where))


def test_ten_wrong_passwords_from_one_client_do_not_stop_the_right_one_from_another(app, clock):
    add_user(app, "mia")
    attacker, moderator = client_at(app, "203.0.113.9"), client_at(app, "198.51.100.4")
    codes = [attempt(attacker, "mia", f"wrong guess {i}") for i in range(10)]
    assert codes[:5] == [401] * 5 and 429 in codes   # free failures, then the attacker waits
    assert attempt(attacker, "mia", PASSWORD) == 429   # even the right password, from the guessing client
    assert attempt(moderator, "mia", PASSWORD) == 302  # the moderator, elsewhere, is not locked out


def test_back_off_doubles_and_ends(app, clock):
    add_user(app, "mia")
    app.config.update(REVIEW_LOGIN_MAX_FAILURES=2, REVIEW_LOGIN_BACKOFF_BASE=2.0, REVIEW_LOGIN_BACKOFF_MAX=60.0)
    c = client_at(app, "203.0.113.9")
    waits = []
    for _ in range(6):
        while attempt(c, "mia", "wrong guess!") == 429:   # wait out each back-off, then fail again
            with app.app_context():
                waits.append(throttle.wait_seconds(db_session(), app.config, "203.0.113.9", "mia"))
            clock[0] += waits[-1]
    assert waits == [2.0, 4.0, 8.0]                     # doubles after each failure past the free two
    clock[0] += 60
    assert attempt(c, "mia", PASSWORD) == 302          # never a hard lock: the wait ends
    with app.app_context():   # and success clears this client's count for the name
        assert db_session().scalar(select(func.count()).select_from(LoginThrottle)
                                   .where(LoginThrottle.kind == "pair")) == 0


def test_one_address_trying_many_names_is_slowed_down_too(app, clock):
    app.config["REVIEW_LOGIN_MAX_FAILURES_PER_ADDRESS"] = 5
    c = client_at(app, "203.0.113.9")
    codes = [attempt(c, f"name{i}", "wrong guess!") for i in range(8)]
    assert codes[:5] == [401] * 5 and codes[6:] == [429, 429]
    add_user(app, "mia")
    assert attempt(client_at(app, "198.51.100.4"), "mia", PASSWORD) == 302


@pytest.mark.slow   # 1,000 requests
def test_a_thousand_failed_logins_with_random_names_add_a_handful_of_audit_rows(app, clock, monkeypatch):
    # the flood is about rows, not hashing: a cheap password check keeps 1,000 requests quick
    monkeypatch.setattr("service.review.users.check_password_hash", lambda stored, given: False)
    app.config["REVIEW_LOGIN_MAX_FAILURES_PER_ADDRESS"] = 10_000   # let every attempt reach the password check
    before = audit_count(app)
    c = client_at(app, "203.0.113.9")
    token = csrf(c)   # one form, many posts: the flood's cost is in the posts
    rng = random.Random(18)
    for i in range(1000):
        name = "".join(rng.choices(string.ascii_lowercase, k=12))
        assert c.post("/review/login", data={"username": name, "password": "wrong guess!",
                                             "csrf_token": token}).status_code == 401
        clock[0] += 2.0    # 1,000 attempts over about 33 minutes: three 15-minute windows
    added = audit_count(app) - before
    assert 1 <= added <= 4, added
    with app.app_context():
        rows = db_session().scalars(select(AuditEntry).where(AuditEntry.action == "login_failed_unknown")
                                    .order_by(AuditEntry.id)).all()
        counter = db_session().scalar(select(LoginThrottle).where(LoginThrottle.kind == "address"))
    assert all(r.details["address"] == "203.0.113.9" for r in rows)
    # the counts are kept, not the rows: every failure is in some row's count or in the open window's counter
    assert sum(r.details["unknown_name_failures_before"] for r in rows) + counter.unknown_failures == 1000
    assert rows[-1].details["unknown_name_failures_before"] > 100


def test_failed_logins_for_a_real_name_are_audited_one_by_one(app, clock):
    add_user(app, "mia")
    c = client_at(app, "203.0.113.9")
    for _ in range(3):
        attempt(c, "mia", "wrong guess!")
    assert audit_count(app, action="login_failed", username="mia") == 3


def test_unlock_and_set_password_commands(app, clock, monkeypatch):
    from service.review import commands
    monkeypatch.setattr("service.review.commands._app", lambda: app)
    add_user(app, "mia")
    c = client_at(app, "203.0.113.9")
    for _ in range(8):
        attempt(c, "mia", "wrong guess!")
    assert attempt(c, "mia", PASSWORD) == 429
    runner = CliRunner()
    out = runner.invoke(commands.users, ["unlock", "mia"])
    assert out.exit_code == 0 and "unlocked mia" in out.output, out.output
    assert attempt(c, "mia", PASSWORD) == 302
    assert runner.invoke(commands.users, ["unlock", "nobody"]).exit_code != 0

    new = "a new long password"
    out = runner.invoke(commands.users, ["set-password", "mia"], input=f"{new}\n{new}\n")
    assert out.exit_code == 0, out.output
    assert attempt(client_at(app, "198.51.100.4"), "mia", PASSWORD) == 401
    assert attempt(client_at(app, "198.51.100.5"), "mia", new) == 302
    assert runner.invoke(commands.users, ["set-password", "mia"], input="short\nshort\n").exit_code != 0
    assert audit_count(app, action="set_password", username="mia") == 1
