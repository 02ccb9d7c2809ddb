"""The /v1 API through the Flask test client: every endpoint, the policy plumbing, and every error class."""
import json

import pytest
from sqlalchemy import func, select

from service import create_app
from service.db import Comment, db_session

NEVER = {"abusive": 1.01, "off_topic": 1.01, "spam": 1.01}   # no score reaches these: publish
ALWAYS = {"abusive": 0.0, "off_topic": 0.0, "spam": 0.0}     # every score reaches these: hold


@pytest.fixture
def headers(api_key):
    return {"Authorization": f"Bearer {api_key}"}


def body(comment_id="c1", text="The new timetable for the number 7 bus is much better.", **article):
    article = article or {"id": "a1", "title": "New bus timetable from Monday",
                          "body": "The city publishes a new timetable for buses 7 and 12."}
    return {"comment": {"id": comment_id, "text": text}, "article": article}


def stored(app, **where):
    with app.app_context():
        return db_session().scalars(select(Comment).filter_by(**where)).all()


def make_app(app_config, **overrides):
    return create_app({**app_config, **overrides})


# -- moderate ---------------------------------------------------------------------------------------

def test_moderate_returns_decision_scores_and_stores_it(app, client, headers, bundle):
    r = client.post("/v1/moderate", json=body(), headers=headers)
    assert r.status_code == 200, r.json
    out = r.json
    assert out["comment_id"] == "c1"
    assert out["decision"] in ("publish", "hold")
    assert set(out["scores"]) >= {"abusive", "off_topic", "spam"}
    assert all(0.0 <= v <= 1.0 for v in out["scores"].values())
    assert out["model_version"] == bundle.version
    [row] = stored(app, site="test-site", comment_id="c1")
    assert row.text == body()["comment"]["text"] and row.article_id == "a1"
    assert row.decision == out["decision"] and row.reasons == out["reasons"] and row.scores == out["scores"]
    assert row.status == {"publish": "published", "hold": "held"}[out["decision"]]


def test_abusive_comment_is_held_with_spans(client, headers):
    text = "You are a stupid worthless idiot, shut up."
    out = client.post("/v1/moderate", json=body(text=text), headers=headers).json
    assert out["decision"] == "hold" and "abusive" in out["reasons"]
    assert out["review_id"] > 0
    assert out["spans"], "the words driving the abuse score are reported"
    for span in out["spans"]:
        assert 0 <= span["begin"] < span["end"] <= len(text)


def test_policy_thresholds_per_site_and_section(app_config, api_key):
    policy = {**NEVER, "sites": {"test-site": {"sections": {"politics": ALWAYS}}}}
    app = make_app(app_config, POLICY=policy)
    client = app.test_client()
    h = {"X-API-Key": api_key}
    sport = client.post("/v1/moderate", json=body("s1", id="a1", title="Cup final", section="sport"), headers=h)
    politics = client.post("/v1/moderate", json=body("p1", id="a2", title="Budget vote", section="politics"),
                           headers=h)
    assert sport.json["decision"] == "publish"
    assert politics.json["decision"] == "hold"
    assert {"abusive", "off_topic", "spam"} <= set(politics.json["reasons"])


def test_same_comment_twice_returns_stored_decision_and_stores_once(app, client, headers):
    first = client.post("/v1/moderate", json=body(), headers=headers).json
    second = client.post("/v1/moderate", json=body(text="a different text the second time"), headers=headers).json
    assert second == first
    assert len(stored(app, comment_id="c1")) == 1


def test_same_comment_id_on_two_sites_is_two_comments(app, client, headers):
    from service.auth import create_api_key
    with app.app_context():
        other = create_api_key("other-site", "tests")
    client.post("/v1/moderate", json=body(), headers=headers)
    client.post("/v1/moderate", json=body(), headers={"X-API-Key": other})
    assert {r.site for r in stored(app, comment_id="c1")} == {"test-site", "other-site"}


def test_article_registered_by_put_is_used_when_sent_by_id(app_config, client, headers):
    put = client.put("/v1/articles/a9", json={"title": "Budget vote", "body": "Parliament votes.", "section": "politics",
                                              "url": "https://news.example/a9"}, headers=headers)
    assert put.status_code == 201 and put.json["section"] == "politics"
    again = client.put("/v1/articles/a9", json={"title": "Budget vote (updated)"}, headers=headers)
    assert again.status_code == 200 and again.json["title"] == "Budget vote (updated)"
    assert again.json["section"] is None, "PUT replaces the whole article"
    assert client.get("/v1/articles/a9", headers=headers).json["title"] == "Budget vote (updated)"
    known = client.post("/v1/moderate", json=body("k1", id="a9"), headers=headers).json
    unknown = client.post("/v1/moderate", json=body("k2", id="never-registered"), headers=headers).json
    assert "article_unknown" not in known["reasons"]
    assert "article_unknown" in unknown["reasons"]


def _encoded_texts(monkeypatch, bundle):
    """Every text the shared encoder is asked to encode from now on."""
    enc = bundle.off_topic._encoder()
    seen, real = [], enc.encode_chunks
    monkeypatch.setattr(enc, "encode_chunks", lambda texts, **kw: seen.extend(texts) or real(texts, **kw))
    return seen


@pytest.mark.model
def test_registered_article_is_encoded_once_on_put_not_per_worker(app, client, headers, bundle, monkeypatch):
    article = {"title": "Harbour bridge closes for repairs",
               "body": "The harbour bridge will be closed for six weeks from June while its cables are replaced."}
    seen = _encoded_texts(monkeypatch, bundle)
    assert client.put("/v1/articles/bridge", json=article, headers=headers).status_code == 201
    assert article["body"] in seen, "PUT encodes the article"
    with app.app_context():
        from service.db import Article
        row = db_session().scalar(select(Article).filter_by(article_id="bridge"))
        assert row.embeddings
    bundle.off_topic._lru = None  # as in a worker that never saw the article
    seen.clear()
    comment = "Six weeks without the bridge means an hour longer to work for me."
    out = client.post("/v1/moderate", json=body("b1", text=comment, id="bridge"), headers=headers).json
    assert "article_unknown" not in out["reasons"]
    assert seen == [models_normalize(comment)], "only the comment is encoded; the article comes from the database"
    reference = bundle.score(comment, {"title": article["title"], "body": article["body"]})
    assert out["scores"]["off_topic"] == pytest.approx(reference.off_topic, abs=1e-6)


def test_put_article_still_registers_when_the_model_cannot_encode(app, client, headers, bundle, monkeypatch):
    monkeypatch.setattr(type(bundle), "article_embeddings", lambda self, a: 1 / 0)
    r = client.put("/v1/articles/a-fail", json={"title": "Any title"}, headers=headers)
    assert r.status_code == 201
    assert client.get("/v1/articles/a-fail", headers=headers).json["title"] == "Any title"


def models_normalize(text):
    from models import normalize
    return normalize(text)


def test_section_of_registered_article_selects_thresholds(app_config, api_key):
    client = make_app(app_config, POLICY={**NEVER, "sections": {"politics": ALWAYS}}).test_client()
    h = {"X-API-Key": api_key}
    client.put("/v1/articles/a1", json={"title": "Budget vote", "section": "politics"}, headers=h)
    assert client.post("/v1/moderate", json=body("x", id="a1"), headers=h).json["decision"] == "hold"


def test_model_failure_holds_with_model_error_and_is_stored(app_config, api_key):
    class Broken:
        version = "broken-1"
        thresholds = {"abusive": 0.5, "off_topic": 0.5, "spam": 0.5}

        def score(self, text, article=None):
            raise RuntimeError("encoder exploded")

        score_many = lambda self, pairs: self.score(None)  # noqa: E731

    app = make_app(app_config, BUNDLE_INSTANCE=Broken())
    r = app.test_client().post("/v1/moderate", json=body(), headers={"X-API-Key": api_key})
    assert r.status_code == 200
    assert r.json["decision"] == "hold" and r.json["reasons"] == ["model_error"]
    assert r.json["model_version"] == "broken-1"
    [row] = stored(app, comment_id="c1")
    assert row.status == "held" and row.reasons == ["model_error"]


def test_missing_bundle_holds_and_readyz_says_not_ready(app_config, api_key, tmp_path):
    app = make_app(app_config, BUNDLE_INSTANCE=None, BUNDLE=str(tmp_path / "no-such-bundle"))
    client = app.test_client()
    out = client.post("/v1/moderate", json=body(), headers={"X-API-Key": api_key}).json
    assert out["decision"] == "hold" and out["reasons"] == ["model_error"]
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json["checks"]["bundle"]["ok"] is False


def test_too_long_comment_is_held_and_only_its_start_is_scored(app_config, api_key, bundle):
    seen = []

    class Recording:
        version, thresholds = bundle.version, bundle.thresholds

        def score_many(self, pairs):
            seen.extend(text for text, _ in pairs)
            return bundle.score_many(pairs)

    client = make_app(app_config, MAX_TEXT_CHARS=40, POLICY=NEVER, BUNDLE_INSTANCE=Recording()).test_client()
    text = "A calm and long remark. " * 5
    out = client.post("/v1/moderate", json=body(text=text), headers={"X-API-Key": api_key}).json
    assert out["decision"] == "hold" and "too_long" in out["reasons"]
    assert seen == [text[:40]]
    assert out["scores"], "the start is scored so that moderators still see scores"


# -- batch ------------------------------------------------------------------------------------------

def test_batch_one_result_per_item_and_bad_item_fails_alone(app, client, headers):
    items = [body("b1"), {"comment": {"id": "b2", "text": "   "}, "article": {"id": "a1"}},
             body("b3", text="You stupid idiot."), {"comment": {"id": "b4"}, "article": {"id": "a1"}}]
    r = client.post("/v1/moderate/batch", json={"items": items}, headers=headers)
    assert r.status_code == 200
    results = r.json["results"]
    assert len(results) == 4
    assert results[0]["comment_id"] == "b1" and results[2]["comment_id"] == "b3"
    assert results[1]["error"]["field"] == "items[1].comment.text"
    assert results[3]["error"]["field"] == "items[3].comment.text"
    assert sorted(r.comment_id for r in stored(app)) == ["b1", "b3"]


def test_batch_limit(app_config, api_key):
    client = make_app(app_config, BATCH_MAX_ITEMS=2).test_client()
    r = client.post("/v1/moderate/batch", json={"items": [body("1"), body("2"), body("3")]},
                    headers={"X-API-Key": api_key})
    assert r.status_code == 400 and r.json["error"]["field"] == "items"


def test_batch_repeats_are_idempotent(app, client, headers):
    r = client.post("/v1/moderate/batch", json={"items": [body("d"), body("d")]}, headers=headers)
    first, second = r.json["results"]
    assert first == second
    assert len(stored(app, comment_id="d")) == 1


# -- comment state ----------------------------------------------------------------------------------

def test_get_comment_state(app, client, headers):
    out = client.post("/v1/moderate", json=body(), headers=headers).json
    state = client.get("/v1/comments/c1", headers=headers)
    assert state.status_code == 200
    assert state.json["status"] == {"publish": "published", "hold": "held"}[out["decision"]]
    assert state.json["decision"] == out["decision"] and state.json["article_id"] == "a1"
    with app.app_context():
        row = db_session().scalar(select(Comment).filter_by(comment_id="c1"))
        row.status = "approved"
        db_session().commit()
    assert client.get("/v1/comments/c1", headers=headers).json["status"] == "approved"


def test_get_unknown_comment_is_404_json(client, headers):
    r = client.get("/v1/comments/nope", headers=headers)
    assert r.status_code == 404 and r.json["error"]["field"] == "comment_id"


def test_comment_of_another_site_is_not_visible(app, client, headers):
    from service.auth import create_api_key
    with app.app_context():
        other = create_api_key("other-site", "tests")
    client.post("/v1/moderate", json=body(), headers=headers)
    assert client.get("/v1/comments/c1", headers={"X-API-Key": other}).status_code == 404


# -- auth -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("hdrs", [{}, {"Authorization": "Bearer mod_wrongwrongwrongwrong"}, {"X-API-Key": "x"},
                                  {"Authorization": "Basic Zm9vOmJhcg=="}])
def test_missing_or_wrong_key_is_401_json(client, hdrs):
    r = client.post("/v1/moderate", json=body(), headers=hdrs)
    assert r.status_code == 401 and r.json["error"]["code"] == "unauthorized"


def test_revoked_key_is_401(app, client, api_key, headers):
    from service.auth import revoke_api_key, verify_api_key
    with app.app_context():
        key = verify_api_key(api_key)
        assert key.site == "test-site"
        assert revoke_api_key(key.id)
    assert client.post("/v1/moderate", json=body(), headers=headers).status_code == 401


def test_key_is_stored_hashed(app, api_key):
    from service.db import ApiKey
    with app.app_context():
        [row] = db_session().scalars(select(ApiKey)).all()
    assert api_key not in (row.key_hash, row.prefix) and api_key[12:] not in row.key_hash


def test_site_in_body_must_match_key(client, headers):
    r = client.post("/v1/moderate", json={**body(), "site": "someone-else"}, headers=headers)
    assert r.status_code == 403 and r.json["error"]["field"] == "site"
    assert client.post("/v1/moderate", json={**body(), "site": "test-site"}, headers=headers).status_code == 200


def test_rate_limit_429_with_retry_after(app_config, api_key):
    client = make_app(app_config, RATE_LIMIT=3, RATE_LIMIT_WINDOW=3600).test_client()
    h = {"X-API-Key": api_key}
    codes = [client.get("/v1/comments/x", headers=h).status_code for _ in range(4)]
    assert codes == [404, 404, 404, 429]
    r = client.get("/v1/comments/x", headers=h)
    assert r.status_code == 429 and r.json["error"]["code"] == "rate_limited"
    assert 1 <= int(r.headers["Retry-After"]) <= 3600


# -- bad input: always a 4xx JSON naming the field, never a 500 -------------------------------------

def post_raw(client, headers, data, content_type="application/json"):
    return client.post("/v1/moderate", data=data, headers={**headers, "Content-Type": content_type})


@pytest.mark.parametrize("payload, field, status", [
    (b'{"comment": ', "body", 400),                                               # invalid JSON
    (b"[1, 2]", "body", 400),                                                     # not an object
    (b'{"comment": {"id": "1", "text": NaN}, "article": {"id": "a"}}', "body", 400),
    (b"\xff\xfe{}", "body", 400),                                                 # not UTF-8
    (b"[" * 100000 + b"]" * 100000, "body", 400),                                 # absurd nesting
    (json.dumps({"article": {"id": "a"}}).encode(), "comment", 400),              # missing
    (json.dumps({"comment": {"id": "1", "text": "hi"}}).encode(), "article", 400),
    (json.dumps({"comment": {"text": "hi"}, "article": {"id": "a"}}).encode(), "comment.id", 400),
    (json.dumps({"comment": {"id": "1", "text": ""}, "article": {"id": "a"}}).encode(), "comment.text", 400),
    (json.dumps({"comment": {"id": "1", "text": " \n\t"}, "article": {"id": "a"}}).encode(), "comment.text", 400),
    (json.dumps({"comment": {"id": "1", "text": 42}, "article": {"id": "a"}}).encode(), "comment.text", 400),
    (json.dumps({"comment": {"id": True, "text": "hi"}, "article": {"id": "a"}}).encode(), "comment.id", 400),
    (json.dumps({"comment": {"id": "1", "text": "hi"}, "article": "a1"}).encode(), "article", 400),
    (json.dumps({"comment": {"id": "1", "text": "hi"}, "article": {"id": ["a"]}}).encode(), "article.id", 400),
    (json.dumps({"comment": {"id": "1", "text": "hi", "score": 1}, "article": {"id": "a"}}).encode(),
     "comment.score", 400),                                                       # unknown field
    (json.dumps({"comment": {"id": "1", "text": "hi"}, "article": {"id": "a"}, "x": 1}).encode(), "x", 400),
    (json.dumps({"comment": {"id": "1", "text": "a\u0000b"}, "article": {"id": "a"}}).encode(), "comment.text", 400),
    (b'{"comment": {"id": "1", "text": "\\ud800"}, "article": {"id": "a"}}', "comment.text", 400),
    (json.dumps({"comment": {"id": "1", "text": "hi", "created_at": "yesterday"},
                 "article": {"id": "a"}}).encode(), "comment.created_at", 400),
    (json.dumps({"comment": {"id": "1", "text": "hi"}, "article": {"id": "a"},
                 "callback_url": "javascript:alert(1)"}).encode(), "callback_url", 400),
    (json.dumps({"comment": {"id": "x" * 256, "text": "hi"}, "article": {"id": "a"}}).encode(), "comment.id", 400),
])
def test_bad_input_is_4xx_json_naming_the_field(app, client, headers, payload, field, status):
    r = post_raw(client, headers, payload)
    assert r.status_code == status, r.data[:300]
    assert r.is_json and r.json["error"]["field"] == field and r.json["error"]["message"]
    assert stored(app) == []


def test_wrong_content_type_is_415(client, headers):
    r = post_raw(client, headers, json.dumps(body()), content_type="text/plain")
    assert r.status_code == 415 and r.json["error"]["field"] == "Content-Type"
    r = client.post("/v1/moderate", data={"comment": "x"}, headers=headers)   # form post
    assert r.status_code == 415


def test_huge_body_is_413(app_config, api_key):
    client = make_app(app_config, MAX_CONTENT_LENGTH=1000).test_client()
    r = post_raw(client, {"X-API-Key": api_key}, json.dumps(body(text="x" * 2000)))
    assert r.status_code == 413 and r.is_json and "1000" in r.json["error"]["message"]


def test_put_article_bad_input(client, headers):
    r = client.put("/v1/articles/a1", json={"title": 5}, headers=headers)
    assert r.status_code == 400 and r.json["error"]["field"] == "title"
    r = client.put("/v1/articles/a1", json={"url": "not a url"}, headers=headers)
    assert r.status_code == 400 and r.json["error"]["field"] == "url"
    r = client.put("/v1/articles/" + "x" * 300, json={}, headers=headers)
    assert r.status_code == 400 and r.json["error"]["field"] == "article_id"


def test_unknown_route_and_wrong_method_are_json(client, headers):
    assert client.get("/v1/nothing-here", headers=headers).json["error"]["status"] == 404
    r = client.get("/v1/moderate", headers=headers)
    assert r.status_code == 405 and r.json["error"]["code"] == "method_not_allowed"


def test_unexpected_exception_is_json_500_not_html(app_config, api_key, monkeypatch):
    app = make_app(app_config, PROPAGATE_EXCEPTIONS=False)
    import service.api
    monkeypatch.setattr(service.api, "moderate_many", lambda *a, **k: 1 / 0)
    r = app.test_client().post("/v1/moderate", json=body(), headers={"X-API-Key": api_key})
    assert r.status_code == 500 and r.json["error"]["code"] == "internal_error"
    assert "ZeroDivision" not in r.get_data(as_text=True)


# -- health, metrics, openapi -----------------------------------------------------------------------

def test_healthz_and_readyz(client, bundle):
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json["checks"]["bundle"]["model_version"] == bundle.version


def test_metrics_count_requests_by_endpoint_and_decision(client, headers, bundle):
    decision = client.post("/v1/moderate", json=body(), headers=headers).json["decision"]
    text = client.get("/metrics").get_data(as_text=True)
    line = next(l for l in text.splitlines() if l.startswith("moderation_requests_total")
                and 'endpoint="/v1/moderate"' in l)
    assert f'decision="{decision}"' in line and line.endswith(" 1")
    assert f'moderation_model_info{{model_version="{bundle.version}"}} 1' in text
    assert f"moderation_review_queue_size {1 if decision == 'hold' else 0}" in text
    assert 'moderation_request_duration_seconds_bucket{endpoint="/v1/moderate"' in text


def test_openapi_documents_every_api_route(app, client):
    doc = client.get("/openapi.json").json
    assert doc["openapi"].startswith("3.")
    documented = {(p, m.upper()) for p, ops in doc["paths"].items() for m in ops}
    served = {(r.rule.replace("<path:", "{").replace(">", "}"), m) for r in app.url_map.iter_rules()
              for m in r.methods - {"HEAD", "OPTIONS"} if r.rule.startswith("/v1/")
              and r.endpoint.startswith("api.")}
    assert served <= documented
    req = doc["components"]["schemas"]["ModerateRequest"]
    assert req["required"] == ["comment", "article"] and req["additionalProperties"] is False
    assert req["properties"]["comment"]["required"] == ["id", "text"]


def test_openapi_example_request_is_accepted(client, headers):
    """The examples in the document are a request the code accepts."""
    props = client.get("/openapi.json").json["components"]["schemas"]["ModerateRequest"]["properties"]
    example = {part: {k: v["example"] for k, v in props[part]["properties"].items() if "example" in v}
               for part in ("comment", "article")}
    r = client.post("/v1/moderate", json=example, headers=headers)
    assert r.status_code == 200, r.json


def test_docs_page_lists_endpoints(client):
    page = client.get("/docs").get_data(as_text=True)
    assert "POST /v1/moderate" in page and "/openapi.json" in page


@pytest.mark.parametrize("path, field", [("/v1/comments/a%00b", "comment_id"), ("/v1/articles/a%00b", "article_id"),
                                         ("/v1/comments/" + "x" * 300, "comment_id")])
def test_bad_ids_in_paths_are_400(client, headers, path, field):
    r = client.get(path, headers=headers)
    assert r.status_code == 400 and r.json["error"]["field"] == field


def test_nul_in_api_key_is_401_not_500(client):
    assert client.get("/v1/comments/x", headers={"X-API-Key": "mod_\x00abcdefghijk"}).status_code == 401


def test_batch_scoring_failure_holds_only_the_failing_item(app_config, api_key, bundle):
    """score_many fails for the batch; one by one, only the comment the model cannot score is held."""
    class Flaky:
        version, thresholds = bundle.version, bundle.thresholds

        def score_many(self, pairs):
            raise RuntimeError("batch failed")

        def score(self, text, article=None):
            if "poison" in text:
                raise RuntimeError("cannot score this one")
            return bundle.score(text, article)

    client = make_app(app_config, BUNDLE_INSTANCE=Flaky(), POLICY=NEVER).test_client()
    results = client.post("/v1/moderate/batch", json={"items": [body("f1"), body("f2", text="poison pill"),
                                                                body("f3")]},
                          headers={"X-API-Key": api_key}).json["results"]
    assert [r["decision"] for r in results] == ["publish", "hold", "publish"]
    assert results[1]["reasons"] == ["model_error"]
