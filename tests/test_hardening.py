"""Findings of the fault and attack run (issue 19), each reproduced: poison timestamps, callback URLs (intake, SSRF at
delivery, poison outbox rows), nulls, surrogates, chunked bodies, model_error re-scoring, one rate-limit bucket."""
import datetime as dt
import json
import socket
import threading
import time

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from review_helpers import SECRET, review_config
from service import create_app
from service.db import Comment, db_session
from service.review import outbox
from service.review.tables import OutboxItem


@pytest.fixture
def headers(api_key):
    return {"Authorization": f"Bearer {api_key}"}


def moderate_body(comment_id="c1", text="The new timetable for the number 7 bus is much better.", **extra):
    comment = {"id": comment_id, "text": text}
    comment.update(extra.pop("comment", {}))
    return {"comment": comment, "article": {"id": "a1", "title": "Bus timetable", "body": "Buses 7 and 12."},
            **extra}


# -- 1. timestamps ------------------------------------------------------------------------------------

@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_store_app(request, app_config):
    config = dict(app_config)
    if request.param == "postgresql":
        config["DATABASE_URL"] = request.getfixturevalue("postgres_clean_url")
    app = create_app(config)
    yield app
    app.extensions["db"]["engine"].dispose()


@pytest.mark.parametrize("created_at", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00",
                                        "0001-01-01T00:00:00", "9999-12-31T23:59:59Z"])
def test_timestamps_no_store_can_read_back_are_refused(any_store_app, created_at):
    from service.auth import create_api_key
    with any_store_app.app_context():
        key = create_api_key("s", "t")
    client = any_store_app.test_client()
    h = {"X-API-Key": key}
    r = client.post("/v1/moderate", json=moderate_body(comment={"created_at": created_at}), headers=h)
    assert r.status_code == 400 and r.json["error"]["field"] == "comment.created_at"
    assert "out of range" in r.json["error"]["message"]
    # nothing was stored: the comment can be sent again with a good date, and read back
    good = moderate_body(comment={"created_at": "2026-03-01T08:30:00-05:00"})
    assert client.post("/v1/moderate", json=good, headers=h).status_code == 200
    assert client.get("/v1/comments/c1", headers=h).status_code == 200
    assert client.post("/v1/moderate", json=good, headers=h).status_code == 200   # resent: the stored answer
    with any_store_app.app_context():
        [row] = db_session().scalars(select(Comment)).all()
        # the instant survives on both stores (SQLite used to keep 08:30 and call it UTC)
        assert row.created_at == dt.datetime(2026, 3, 1, 13, 30, tzinfo=dt.timezone.utc)


def test_batch_items_with_bad_timestamps_or_urls_fail_one_by_one(client, headers, app):
    items = [moderate_body("ok-1"),
             moderate_body("bad-date", comment={"created_at": "0001-01-01T00:00:00+14:00"}),
             moderate_body("bad-url", callback_url="http://[::1"),
             moderate_body("ok-2", callback_url="https://cms.example.org/hook")]
    r = client.post("/v1/moderate/batch", json={"items": items}, headers=headers)
    assert r.status_code == 200, r.json
    results = r.json["results"]
    assert results[0]["comment_id"] == "ok-1" and results[3]["comment_id"] == "ok-2"
    assert results[1]["error"]["field"] == "items[1].comment.created_at"
    assert results[2]["error"]["field"] == "items[2].callback_url"
    with app.app_context():
        assert sorted(db_session().scalars(select(Comment.comment_id))) == ["ok-1", "ok-2"]


# -- 2. callback URLs ------------------------------------------------------------------------------------

BAD_CALLBACKS = ["http://[::1", "http://cms.example.org/a hook", "http://cms.example.org/\thook",
                 "http://cms.example.org/hook\r\nX-Injected: 1", "http://user:pass@cms.example.org/hook",
                 "ftp://cms.example.org/hook", "http://cms.example.org:99999/hook", "javascript:alert(1)",
                 "http://cms.example.org/\u202ehook"]


@pytest.mark.parametrize("url", BAD_CALLBACKS)
def test_bad_callback_urls_are_400_at_intake(client, headers, url):
    r = client.post("/v1/moderate", json=moderate_body(callback_url=url), headers=headers)
    assert r.status_code == 400 and r.json["error"]["field"] == "callback_url", r.json
    r = client.put("/v1/articles/a9", json={"title": "t", "url": url}, headers=headers)
    assert r.status_code == 400 and r.json["error"]["field"] == "url", r.json


INTERNAL = ["http://127.0.0.1:{port}/", "http://0x7f000001:{port}/", "http://2130706433:{port}/",
            "http://[::1]:{port}/", "http://localhost:{port}/", "http://169.254.169.254/latest/meta-data/",
            "http://10.1.2.3/", "http://192.168.0.1/", "http://[::ffff:127.0.0.1]:{port}/", "http://0.0.0.0:{port}/"]


class Listener:
    """A TCP port that records whether anything connected to it, and answers like a non-HTTP service would."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            try:
                conn.recv(1024)
                conn.sendall(b"-ERR unknown command\r\n")   # what Redis says to an HTTP request
            finally:
                conn.close()

    def close(self):
        self.sock.close()


@pytest.mark.parametrize("template", INTERNAL)
def test_delivery_refuses_internal_addresses(template):
    listener = Listener()
    try:
        url = template.format(port=listener.port)
        error = outbox.http_post(url, b"{}", {}, 2.0)
        assert error and "not a public address" in error
        assert listener.connections == 0
    finally:
        listener.close()


def test_an_allowed_internal_host_is_delivered_to_and_errors_do_not_tell_open_from_closed_ports():
    listener = Listener()
    closed = socket.create_server(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    try:
        allow = {"127.0.0.1"}
        open_error = outbox.http_post(f"http://127.0.0.1:{listener.port}/", b"{}", {}, 2.0, allow)
        closed_error = outbox.http_post(f"http://127.0.0.1:{closed_port}/", b"{}", {}, 2.0, allow)
        assert listener.connections == 1
        assert open_error == closed_error and "no answer" in open_error
        assert str(listener.port) not in open_error
    finally:
        listener.close()


def test_poison_outbox_rows_fail_and_the_runner_goes_on(tmp_path, monkeypatch):
    config = review_config(tmp_path, WEBHOOK_MAX_ATTEMPTS=2, WEBHOOK_ALLOW_HOSTS={})
    app = create_app(config)
    urls = ["http://cms.example.org/a hook", "http://cms.example.org/\thook", "http://x/\r\nHost: evil",
            "http://[::1", "http://127.0.0.1:5432/"]
    with app.app_context():
        session = db_session()
        for i, url in enumerate(urls):
            session.add(OutboxItem(event_id=f"e{i}", site="test-site", url=url, body="{}", status="pending",
                                   attempts=0, next_attempt_at=0.0))
        session.commit()
    app.extensions["db"]["engine"].dispose()
    monkeypatch.setenv("MODERATION_DATABASE_URL", config["DATABASE_URL"])
    monkeypatch.setenv("MODERATION_WEBHOOK_SECRETS", json.dumps({"*": [SECRET]}))
    monkeypatch.setenv("MODERATION_WEBHOOK_MAX_ATTEMPTS", "2")
    from service.cli import main
    first = CliRunner().invoke(main, ["webhooks", "run", "--once"])
    assert first.exit_code == 0, first.output
    assert "'failed': 4" in first.output and "'retry': 1" in first.output   # malformed ones: at once
    with app.app_context():
        db_session().execute(OutboxItem.__table__.update().values(next_attempt_at=0.0))
        db_session().commit()
    second = CliRunner().invoke(main, ["webhooks", "run", "--once"])
    assert second.exit_code == 0 and "'failed': 1" in second.output, second.output
    with app.app_context():
        rows = db_session().scalars(select(OutboxItem).order_by(OutboxItem.id)).all()
        assert [r.status for r in rows] == ["failed"] * 5
        assert "not a public address" in rows[-1].last_error and "5432" not in rows[-1].last_error
    app.extensions["db"]["engine"].dispose()


# -- 4./5. operations: configuration, secrets in logs, one rate-limit bucket -----------------------------

def test_an_empty_database_url_is_an_error_not_a_sqlite_file_in_the_package(monkeypatch):
    from service.config import load_config
    with pytest.raises(ValueError, match="MODERATION_DATABASE_URL is set but empty"):
        load_config(environ={"MODERATION_DATABASE_URL": ""})
    monkeypatch.setenv("MODERATION_DATABASE_URL", " ")
    from service.cli import main
    result = CliRunner().invoke(main, ["keys", "list"])
    assert result.exit_code != 0 and "set but empty" in str(result.exception)


def test_access_log_masks_api_keys():
    from datetime import timedelta
    from types import SimpleNamespace

    from gunicorn.config import Config

    from service.worker import SecretMaskingLogger
    cfg = Config()
    cfg.set("access_log_format", '%(r)s %(q)s %(f)s %({x-api-key}i)s %({authorization}i)s')
    logger = SecretMaskingLogger(cfg)
    environ = {"REQUEST_METHOD": "POST", "RAW_URI": "/v1alpha1/comments:analyze?alt=json&key=mod_SECRET123",
               "SERVER_PROTOCOL": "HTTP/1.1", "QUERY_STRING": "alt=json&key=mod_SECRET123",
               "HTTP_REFERER": "https://x.example/?key=mod_SECRET123"}
    resp = SimpleNamespace(status="200 OK", headers=[], sent=10)
    req = SimpleNamespace(headers=[("X-API-KEY", "mod_SECRET123"), ("AUTHORIZATION", "Bearer mod_SECRET123")])
    atoms = logger.atoms(resp, req, environ, timedelta(seconds=0.01))
    line = cfg.access_log_format % atoms
    assert "SECRET123" not in line and line.count("***") == 5, line
    assert "alt=json&key=***" in line


def test_one_rate_limit_bucket_per_key_across_v1_and_perspective(app_config, api_key):
    app = create_app({**app_config, "RATE_LIMIT": 3, "RATE_LIMIT_WINDOW": 3600})
    client = app.test_client()
    analyze = {"comment": {"text": "Nice article."}, "requestedAttributes": {"TOXICITY": {}}}
    codes = [client.get("/v1/comments/x", headers={"X-API-Key": api_key}).status_code,
             client.post(f"/v1alpha1/comments:analyze?key={api_key}", json=analyze).status_code,
             client.get("/v1/comments/x", headers={"X-API-Key": api_key}).status_code,
             client.post(f"/v1alpha1/comments:analyze?key={api_key}", json=analyze).status_code]
    assert codes == [404, 200, 404, 429]
    app.extensions["db"]["engine"].dispose()


# -- 8. pinned installs ----------------------------------------------------------------------------------

def test_constraints_pin_every_declared_dependency_within_its_range():
    import tomllib
    from pathlib import Path

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
    root = Path(__file__).resolve().parent.parent
    pins = {}
    for line in (root / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    declared = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
    for spec in map(Requirement, declared):
        name = canonicalize_name(spec.name)
        if name == canonicalize_name(project["name"]):
            continue   # an extra that includes another extra of this project
        assert name in pins, f"{spec.name} is not pinned in constraints.txt (run .ci/freeze-constraints)"
        assert spec.specifier.contains(pins[name], prereleases=True), f"{spec.name}=={pins[name]} not in {spec}"
    assert "-c constraints.txt" in (root / ".ci" / "run").read_text()
    assert "-c constraints.txt" in (root / "Dockerfile").read_text()


# -- 6. bidi and invisible characters ---------------------------------------------------------------------

@pytest.mark.model
def test_abuse_typed_backwards_under_a_right_to_left_override_is_held(client, headers):
    text = "\u202etoidi gnikcuf a era uoy"   # displays as "you are a fucking idiot"
    out = client.post("/v1/moderate", json=moderate_body(text=text), headers=headers).json
    assert out["decision"] == "hold" and "abusive" in out["reasons"], out
    assert all(0 <= s["begin"] < s["end"] <= len(text) for s in out["spans"])


def test_a_comment_of_invisible_characters_is_empty(app, client, headers):
    blank = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
    r = client.post("/v1/moderate", json=moderate_body(text=blank), headers=headers)
    assert r.status_code == 400 and r.json["error"]["code"] == "empty"
    r = client.post(f"/v1alpha1/comments:analyze?key={headers['Authorization'][7:]}",
                    json={"comment": {"text": blank}, "requestedAttributes": {"TOXICITY": {}}})
    assert r.status_code == 400 and "non-empty" in r.json["error"]["message"]
    with app.app_context():
        assert db_session().scalar(select(Comment.id)) is None


# -- 7. smaller ones -----------------------------------------------------------------------------------

@pytest.mark.parametrize("do_not_store", [False, True])
def test_a_lone_surrogate_on_the_perspective_endpoint_is_400(client, api_key, do_not_store):
    raw = ('{"comment": {"text": "you \\ud800 idiot"}, "requestedAttributes": {"TOXICITY": {}}, '
           f'"doNotStore": {json.dumps(do_not_store)}}}').encode()
    r = client.post(f"/v1alpha1/comments:analyze?key={api_key}", data=raw,
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json["error"]["status"] == "INVALID_ARGUMENT", r.json
    assert "comment.text" in r.json["error"]["message"]


def test_a_chunked_body_over_the_limit_is_413(client, headers):
    import io
    big = json.dumps(moderate_body(text="word " * 60_000)).encode()   # ~300 kB, over the 256 kB limit
    r = client.post("/v1/moderate", input_stream=io.BytesIO(big),
                    headers={**headers, "Content-Type": "application/json", "Transfer-Encoding": "chunked"},
                    environ_overrides={"wsgi.input_terminated": True})   # as gunicorn says of chunked bodies
    assert r.status_code == 413, r.json
    small = json.dumps(moderate_body()).encode()
    r = client.post("/v1/moderate", input_stream=io.BytesIO(small),
                    headers={**headers, "Content-Type": "application/json", "Transfer-Encoding": "chunked"},
                    environ_overrides={"wsgi.input_terminated": True})
    assert r.status_code == 200, r.json


@pytest.mark.parametrize("payload, field", [
    ({**moderate_body(), "site": None}, "site"),
    ({"comment": {"id": "c1", "text": "hi"}, "article": {"id": "a1", "url": None}}, "article.url"),
    ({"comment": {"id": None, "text": "hi"}, "article": {"id": "a1"}}, "comment.id"),
])
def test_null_is_not_a_value_for_site_or_url(client, headers, payload, field):
    r = client.post("/v1/moderate", json=payload, headers=headers)
    assert r.status_code == 400 and r.json["error"]["field"] == field, r.json
    assert client.put("/v1/articles/a1", json={"url": None}, headers=headers).status_code == 400
    # documented as nullable: a CMS may send null for "none"
    ok = moderate_body(comment={"parent_id": None, "author_id": None, "created_at": None}, callback_url=None)
    assert client.post("/v1/moderate", json=ok, headers=headers).status_code == 200


def test_openapi_documents_nulls_and_the_400_for_long_path_ids(client, headers):
    doc = client.get("/openapi.json").json
    comment = doc["components"]["schemas"]["ModerateRequest"]["properties"]["comment"]["properties"]
    assert {"type": "null"} in comment["parent_id"]["oneOf"]
    assert "null" not in json.dumps(doc["components"]["schemas"]["ModerateRequest"]["properties"]["site"])
    get_comment = doc["paths"]["/v1/comments/{comment_id}"]["get"]
    assert get_comment["parameters"][0]["schema"]["maxLength"] == 255 and "400" in get_comment["responses"]
    r = client.get("/v1/comments/" + "x" * 256, headers=headers)
    assert r.status_code == 400 and r.json["error"]["field"] == "comment_id"


def test_a_model_error_hold_is_rescored_when_the_comment_comes_again(app, client, headers, monkeypatch, bundle):
    def broken(self, *args, **kwargs):
        raise RuntimeError("model broke")
    with monkeypatch.context() as m:
        m.setattr(type(bundle), "score_many", broken)
        m.setattr(type(bundle), "score", broken)
        first = client.post("/v1/moderate", json=moderate_body(), headers=headers).json
    assert first["decision"] == "hold" and first["reasons"] == ["model_error"]
    again = client.post("/v1/moderate", json=moderate_body(), headers=headers).json   # the model works again
    assert "model_error" not in again["reasons"] and again["scores"]
    with app.app_context():
        [row] = db_session().scalars(select(Comment)).all()
        assert row.reasons == again["reasons"] and row.status == ("held" if again["decision"] == "hold"
                                                                   else "published")
    # a decision the model made is kept: sending it again does not score it again
    with monkeypatch.context() as m:
        m.setattr(type(bundle), "score_many", broken)
        m.setattr(type(bundle), "score", broken)
        assert client.post("/v1/moderate", json=moderate_body(), headers=headers).json == again
