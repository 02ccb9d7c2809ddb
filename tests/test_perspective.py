"""Perspective API drop-in: requests exactly as Perspective's documentation writes them, every field of the
answers checked against the bundle's own scores, and Google's error shape for what we cannot do."""
import json
import logging
import re

import numpy as np
import pytest
from sqlalchemy import select

import models
from service.db import Article, Comment, db_session
from service.perspective import attributes

ANALYZE = "/v1alpha1/comments:analyze"
SUGGEST = "/v1alpha1/comments:suggestscore"
ARTICLE = ("The city council voted on Tuesday to approve a budget that funds more buses, new housing and "
           "repairs to the flood defences. The mayor said taxes would rise slightly.")
CIVIL = "The council should fund more buses, the article explains why well."
NASTY = "You are a stupid idiot and a moron, nobody cares what you think."


def supported(bundle) -> list[str]:
    keys = {"abusive", "off_topic", "spam", *bundle.score(CIVIL).sub_scores}
    return [name for name, key in attributes().items() if key in keys]


def on_scale(bundle, score) -> dict:
    """Our score keys -> what the Perspective endpoint must answer: TOXICITY and SEVERE_TOXICITY through the bundle's
    perspective_scale.json (read here from the file's numbers, not through the code under test), the rest as is."""
    ours = {"abusive": score.abusive, "off_topic": score.off_topic, "spam": score.spam, **score.sub_scores}
    ours = {k: round(v, 6) for k, v in ours.items()}
    scale = getattr(bundle, "perspective_scale", None)
    if scale is None:
        return ours
    tox, sev = scale.spec["TOXICITY"], scale.spec.get("SEVERE_TOXICITY")
    if sev:
        p = min(max(ours["abusive"], 1e-6), 1 - 1e-6)
        feats = [np.log(p / (1 - p))] + [ours[k] for k in ("insult", "obscene", "identity_attack", "threat")]
        linear = float(np.dot(sev["coef"], feats) + sev["intercept"])
        ours["severe_toxicity"] = round(float(np.interp(linear, sev["x"], sev["y"])), 6)
    ours["abusive"] = round(float(np.interp(ours["abusive"], tox["x"], tox["y"])), 6)
    return ours


def toxicity(bundle, text, article=None) -> float:
    return on_scale(bundle, bundle.score(text, article))["abusive"]


def analyze(client, key, body):
    return client.post(f"{ANALYZE}?key={key}", json=body)


def rows(app):
    with app.app_context():
        return db_session().scalars(select(Comment)).all()


def google_error(r, code, status, *needles):
    assert r.status_code == code, r.get_json()
    body = r.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "status", "details"}
    assert body["error"]["code"] == code and body["error"]["status"] == status
    [detail] = body["error"]["details"]   # clients read details[0] (PyPerspective does, unguarded)
    assert detail["@type"].startswith("type.googleapis.com/")
    for needle in needles:
        assert needle in body["error"]["message"]
    return body["error"]["message"]


# -- analyze --------------------------------------------------------------------------------------

def test_documented_toxicity_request(client, api_key, bundle):
    # The request from Perspective's "About the API: methods" page.
    r = analyze(client, api_key, {"comment": {"text": NASTY}, "languages": ["en"],
                                  "requestedAttributes": {"TOXICITY": {}}})
    assert r.status_code == 200, r.get_json()
    summary = {"value": toxicity(bundle, NASTY), "type": "PROBABILITY"}
    assert r.get_json() == {   # spanScores without spanAnnotations: one whole-comment span, as Google answers
        "attributeScores": {"TOXICITY": {"spanScores": [{"begin": 0, "end": len(NASTY), "score": summary}],
                                         "summaryScore": summary}},
        "languages": ["en"],
        "detectedLanguages": ["en"],
    }


def test_every_supported_attribute_maps_to_our_score(client, api_key, bundle):
    names = supported(bundle)
    assert {"TOXICITY", "OFF_TOPIC", "SPAM"} <= set(names)
    r = analyze(client, api_key, {
        "comment": {"text": CIVIL, "type": "PLAIN_TEXT"},
        "context": {"entries": [{"text": ARTICLE, "type": "PLAIN_TEXT"}]},
        "requestedAttributes": {name: {"scoreType": "PROBABILITY"} for name in names},
        "clientToken": "comment-77",
    })
    assert r.status_code == 200, r.get_json()
    out = r.get_json()
    score = bundle.score(CIVIL, models.ArticleText(body=ARTICLE))
    ours = on_scale(bundle, score)
    assert set(out) == {"attributeScores", "languages", "detectedLanguages", "clientToken"}
    assert out["clientToken"] == "comment-77"
    assert out["languages"] == out["detectedLanguages"] == ["en"]   # none requested: the detected one
    assert set(out["attributeScores"]) == set(names)
    for name in names:
        summary = {"value": ours[attributes()[name]], "type": "PROBABILITY"}
        assert out["attributeScores"][name] == {"spanScores": [{"begin": 0, "end": len(CIVIL), "score": summary}],
                                                "summaryScore": summary}


def test_off_topic_is_judged_against_the_article_in_context(client, api_key, bundle):
    football = "The striker scored twice in the second half, what a cup final."
    body = {"comment": {"text": football}, "requestedAttributes": {"OFF_TOPIC": {}},
            "context": {"articleAndParentComment": {"article": {"text": ARTICLE}}}}
    with_article = analyze(client, api_key, body).get_json()
    without = analyze(client, api_key, {**body, "context": None}).get_json()
    value = with_article["attributeScores"]["OFF_TOPIC"]["summaryScore"]["value"]
    assert value == round(bundle.score(football, models.ArticleText(body=ARTICLE)).off_topic, 6)
    assert without["attributeScores"]["OFF_TOPIC"]["summaryScore"]["value"] == round(
        bundle.score(football).off_topic, 6)


def test_score_threshold_leaves_out_attributes_below_it(client, api_key, bundle):
    value = toxicity(bundle, CIVIL)
    out = analyze(client, api_key, {"comment": {"text": CIVIL}, "requestedAttributes": {
        "TOXICITY": {"scoreThreshold": min(1.0, value + 0.01)}, "SPAM": {"scoreThreshold": 0}}}).get_json()
    assert set(out["attributeScores"]) == {"SPAM"}
    out = analyze(client, api_key, {"comment": {"text": CIVIL},
                                    "requestedAttributes": {"TOXICITY": {"scoreThreshold": 1}}}).get_json()
    assert "attributeScores" not in out and out["languages"] == ["en"]   # as Perspective: the map left out


def test_span_annotations(client, api_key, bundle):
    r = analyze(client, api_key, {"comment": {"text": NASTY}, "spanAnnotations": True,
                                  "requestedAttributes": {"TOXICITY": {}, "SPAM": {}}})
    out = r.get_json()["attributeScores"]
    score = bundle.score(NASTY)
    scale = getattr(bundle, "perspective_scale", None)
    tox = scale.spec["TOXICITY"] if scale is not None else {"x": [0, 1], "y": [0, 1]}
    assert out["TOXICITY"]["spanScores"] == [
        {"begin": s["begin"], "end": s["end"],
         "score": {"value": round(float(np.interp(s["score"], tox["x"], tox["y"])), 6), "type": "PROBABILITY"}}
        for s in score.spans]
    for span in out["TOXICITY"]["spanScores"]:
        assert 0 <= span["begin"] < span["end"] <= len(NASTY)
    assert out["SPAM"]["spanScores"] == [{"begin": 0, "end": len(NASTY),
                                          "score": out["SPAM"]["summaryScore"]}]
    # without spanAnnotations Google still answers spanScores: one span over the whole comment with the summary
    plain = analyze(client, api_key, {"comment": {"text": NASTY}, "requestedAttributes": {"TOXICITY": {}}})
    toxic = plain.get_json()["attributeScores"]["TOXICITY"]
    assert toxic["spanScores"] == [{"begin": 0, "end": len(NASTY), "score": toxic["summaryScore"]}]


def test_html_comment_is_scored_as_its_text(client, api_key, bundle):
    out = analyze(client, api_key, {"comment": {"text": "<p>You <b>idiot</b>&nbsp;moron</p>", "type": "HTML"},
                                    "requestedAttributes": {"TOXICITY": {}}}).get_json()
    assert out["attributeScores"]["TOXICITY"]["summaryScore"]["value"] == toxicity(bundle, "You idiot\xa0moron")


def test_do_not_store_stores_nothing_of_the_comment(app, client, api_key):
    secret = "A very particular sentence about the harbour ferry timetable."
    body = {"comment": {"text": secret}, "requestedAttributes": {"TOXICITY": {}}, "doNotStore": True}
    assert analyze(client, api_key, body).status_code == 200
    assert rows(app) == []
    assert analyze(client, api_key, {**body, "doNotStore": False}).status_code == 200
    [row] = rows(app)
    assert row.text == secret and row.site == "test-site" and row.comment_id.startswith("perspective-")
    assert row.scores["abusive"] >= 0


# -- analyze errors --------------------------------------------------------------------------------

def test_missing_and_wrong_key_answer_like_google(client, api_key):
    body = {"comment": {"text": CIVIL}, "requestedAttributes": {"TOXICITY": {}}}
    google_error(client.post(ANALYZE, json=body), 403, "PERMISSION_DENIED", "missing a valid API key")
    google_error(client.post(f"{ANALYZE}?key=mod_wrong", json=body), 400, "INVALID_ARGUMENT", "API key not valid")
    assert client.post(ANALYZE, json=body, headers={"X-Goog-Api-Key": api_key}).status_code == 200


def test_attribute_we_do_not_have_is_a_400_naming_it(app, client, api_key):
    r = analyze(client, api_key, {"comment": {"text": CIVIL},
                                  "requestedAttributes": {"TOXICITY": {}, "FLIRTATION": {}}})
    google_error(r, 400, "INVALID_ARGUMENT", "FLIRTATION", "TOXICITY")   # names it, lists what we have
    assert rows(app) == []   # refused before anything is scored or stored


@pytest.mark.parametrize("languages, named", [(["de"], "de"), (["en", "fr"], "fr")])
def test_unsupported_requested_language_is_a_400(app, client, api_key, languages, named):
    r = analyze(client, api_key, {"comment": {"text": CIVIL}, "languages": languages,
                                  "requestedAttributes": {"TOXICITY": {}}})
    message = google_error(r, 400, "INVALID_ARGUMENT")
    assert message == f"Attribute TOXICITY does not support request languages: {named}"
    assert rows(app) == []


@pytest.mark.parametrize("text, code", [
    ("Это очень длинный комментарий на русском языке.", "ru"),
    ("Das ist doch völliger Unsinn, was der Minister da über die Pensionen erzählt.", "de"),
    ("yeh kya bakwas hai yaar, tum log kuch nahi samajhte", "ur-Latn"),
])
def test_detected_language_we_cannot_score_is_googles_400_naming_it(client, api_key, text, code):
    r = analyze(client, api_key, {"comment": {"text": text}, "requestedAttributes": {"TOXICITY": {}}})
    assert google_error(r, 400, "INVALID_ARGUMENT") == f"Attribute TOXICITY does not support request languages: {code}"
    assert r.get_json()["error"]["details"][0]["languageNotSupportedByAttributeError"]["detectedLanguages"] == [code]


def test_drop_unsupported_attributes_answers_without_scores(app, client, api_key):
    text = "Das ist doch völliger Unsinn, was der Minister da über die Pensionen erzählt."
    r = analyze(client, api_key, {"comment": {"text": text}, "requestedAttributes": {"TOXICITY": {}, "SPAM": {}},
                                  "dropUnsupportedAttributes": True, "clientToken": "t"})
    assert r.status_code == 200
    assert r.get_json() == {"languages": ["de"], "detectedLanguages": ["de"], "clientToken": "t"}
    assert rows(app) == []
    english = analyze(client, api_key, {"comment": {"text": CIVIL}, "requestedAttributes": {"TOXICITY": {}},
                                        "dropUnsupportedAttributes": True}).get_json()
    assert set(english["attributeScores"]) == {"TOXICITY"} and english["detectedLanguages"] == ["en"]


@pytest.mark.parametrize("body, needle", [
    ({"requestedAttributes": {"TOXICITY": {}}}, "comment.text"),
    ({"comment": {"text": "   "}, "requestedAttributes": {"TOXICITY": {}}}, "non-empty"),
    ({"comment": {"text": CIVIL, "type": "MARKDOWN"}, "requestedAttributes": {"TOXICITY": {}}}, "comment.type"),
    ({"comment": {"text": CIVIL}}, "requestedAttributes"),
    ({"comment": {"text": CIVIL}, "requestedAttributes": {}}, "requestedAttributes"),
    ({"comment": {"text": CIVIL}, "requestedAttributes": {"TOXICITY": {"scoreType": "STD_DEV_SCORE"}}},
     "scoreType"),
    ({"comment": {"text": CIVIL}, "requestedAttributes": {"TOXICITY": {"scoreThreshold": 1.5}}},
     "scoreThreshold"),
    ({"comment": {"text": CIVIL}, "requestedAttributes": {"TOXICITY": {}}, "languages": "en"}, "languages"),
    ({"comment": {"text": CIVIL}, "requestedAttributes": {"TOXICITY": {}}, "doNotStore": "yes"}, "doNotStore"),
    ({"comment": {"text": CIVIL}, "requestedAttributes": {"TOXICITY": {}}, "context": {"entries": [{}]}},
     "context.entries[0].text"),
])
def test_bad_requests_are_400_in_googles_shape(client, api_key, body, needle):
    google_error(analyze(client, api_key, body), 400, "INVALID_ARGUMENT", needle)


def test_bad_json_and_content_type_are_googles_shape_too(client, api_key):
    r = client.post(f"{ANALYZE}?key={api_key}", data="{nope", content_type="application/json")
    google_error(r, 400, "INVALID_ARGUMENT", "invalid JSON")
    r = client.post(f"{ANALYZE}?key={api_key}", data="x", content_type="text/plain")
    google_error(r, 415, "INVALID_ARGUMENT", "Content-Type")


# -- suggestscore ---------------------------------------------------------------------------------

def _decisions(app):
    from service.review.tables import Decision
    with app.app_context():
        return db_session().scalars(select(Decision)).all()


def test_documented_suggestscore_records_the_correction(app, client, api_key):
    r = client.post(f"{SUGGEST}?key={api_key}", json={
        "comment": {"text": CIVIL}, "languages": ["en"], "clientToken": "c-12",
        "attributeScores": {"TOXICITY": {"summaryScore": {"value": 0.9, "type": "PROBABILITY"}}}})
    assert r.status_code == 200, r.get_json()
    assert r.get_json() == {"detectedLanguages": ["en"], "requestedLanguages": ["en"], "clientToken": "c-12"}
    [row] = rows(app)
    assert row.text == CIVIL and row.status == "rejected"
    [decision] = _decisions(app)
    assert (decision.comment_pk, decision.source, decision.action) == (row.id, "cms", "reject")
    assert decision.abusive is True


def test_suggesting_a_low_score_approves_and_labels_not_abusive_nor_off_topic(app, client, api_key):
    r = client.post(f"{SUGGEST}?key={api_key}", json={
        "comment": {"text": NASTY},
        "attributeScores": {"TOXICITY": {"summaryScore": {"value": 0.1}}, "OFF_TOPIC": {"summaryScore": {"value": 0}}}})
    assert r.get_json() == {"detectedLanguages": ["en"]}
    [row] = rows(app)
    [decision] = _decisions(app)
    assert row.status == "approved" and decision.action == "approve"
    assert decision.abusive is False and decision.off_topic is False


@pytest.mark.parametrize("scores, needle", [
    ({}, "attributeScores"),
    ({"FLIRTATION": {"summaryScore": {"value": 1}}}, "FLIRTATION"),
    ({"TOXICITY": {"summaryScore": {"value": 1.5}}}, "TOXICITY.summaryScore.value"),
    ({"TOXICITY": {"spanScores": []}}, "TOXICITY.summaryScore.value"),
])
def test_bad_suggestions_are_400_and_store_nothing(app, client, api_key, scores, needle):
    r = client.post(f"{SUGGEST}?key={api_key}", json={"comment": {"text": CIVIL}, "attributeScores": scores})
    google_error(r, 400, "INVALID_ARGUMENT", needle)
    assert rows(app) == [] and _decisions(app) == []


def test_suggestscore_needs_the_key(client):
    r = client.post(SUGGEST, json={"comment": {"text": CIVIL},
                                   "attributeScores": {"TOXICITY": {"summaryScore": {"value": 1}}}})
    google_error(r, 403, "PERMISSION_DENIED")


def test_rate_limit_is_googles_resource_exhausted(app_config):
    from service import create_app
    from service.auth import PREFIX_LEN, create_api_key
    app = create_app({**app_config, "RATE_LIMIT": 1, "RATE_LIMIT_WINDOW": 3600})
    with app.app_context():
        key = create_api_key("test-site", "limited")
    client = app.test_client()
    body = {"comment": {"text": CIVIL}, "requestedAttributes": {"TOXICITY": {}}}
    assert analyze(client, key, body).status_code == 200
    r = analyze(client, key, body)
    google_error(r, 429, "RESOURCE_EXHAUSTED")
    assert int(r.headers["Retry-After"]) > 0
    app.extensions["db"]["engine"].dispose()


def test_discovery_document_roots_the_methods_at_this_server(client):
    doc = client.get("/$discovery/rest?version=v1alpha1").get_json()
    assert doc["rootUrl"] == "http://localhost/" and doc["name"] == "commentanalyzer"
    methods = doc["resources"]["comments"]["methods"]
    assert {m["path"] for m in methods.values()} == {"v1alpha1/comments:analyze", "v1alpha1/comments:suggestscore"}
    google_error(client.get("/$discovery/rest?version=v1"), 404, "NOT_FOUND", "v1alpha1")


def test_suggestion_with_context_reaches_the_labelled_export_with_its_article(app, client, api_key):
    football = "The striker scored twice in the second half, what a cup final."
    r = client.post(f"{SUGGEST}?key={api_key}", json={
        "comment": {"text": football}, "context": {"entries": [{"text": ARTICLE, "type": "PLAIN_TEXT"}]},
        "attributeScores": {"OFF_TOPIC": {"summaryScore": {"value": 1.0}}}})
    assert r.status_code == 200, r.get_json()
    export = client.get("/v1/export?format=jsonl", headers={"X-API-Key": api_key})
    assert export.status_code == 200
    [record] = [json.loads(line) for line in export.get_data(as_text=True).splitlines()]
    assert record["text"] == football and record["article_body"] == ARTICLE
    assert record["off_topic"] == 1 and record["abusive"] == 0


def test_do_not_store_registers_no_article_either(app, client, api_key):
    body = {"comment": {"text": CIVIL}, "requestedAttributes": {"OFF_TOPIC": {}}, "doNotStore": True,
            "context": {"entries": [{"text": ARTICLE}]}}
    assert analyze(client, api_key, body).status_code == 200
    with app.app_context():
        assert db_session().scalars(select(Article)).all() == []


# -- client fidelity ---------------------------------------------------------------------------------

def detail(r) -> dict:
    return r.get_json()["error"]["details"][0]


def test_span_offsets_count_utf16_units_like_javascript(client, api_key, bundle):
    text = "\U0001F600\U0001F600 " + NASTY   # two emoji: two code points, four UTF-16 units
    out = analyze(client, api_key, {"comment": {"text": text}, "spanAnnotations": True,
                                    "requestedAttributes": {"TOXICITY": {}, "SPAM": {}}}).get_json()
    spans = out["attributeScores"]["TOXICITY"]["spanScores"]
    ours = bundle.score(text).spans
    assert spans and len(spans) == len(ours)
    units = text.encode("utf-16-le")
    for got, span in zip(spans, ours):
        assert (got["begin"], got["end"]) == (span["begin"] + 2, span["end"] + 2)
        assert units[2 * got["begin"]:2 * got["end"]].decode("utf-16-le") == text[span["begin"]:span["end"]]
    assert out["attributeScores"]["SPAM"]["spanScores"][0]["end"] == len(text) + 2


@pytest.mark.parametrize("body, error_type", [
    ({"comment": {"text": "  "}, "requestedAttributes": {"TOXICITY": {}}}, "COMMENT_EMPTY"),
    ({"comment": {}, "requestedAttributes": {"TOXICITY": {}}}, "COMMENT_EMPTY"),
    ({"comment": {"text": CIVIL}, "requestedAttributes": {}}, "NO_REQUESTED_ATTRIBUTES"),
    ({"comment": {"text": CIVIL}, "requestedAttributes": {"TOXICITY": {"scoreType": "X"}}}, "INVALID_REQUEST"),
])
def test_errors_carry_googles_error_type(client, api_key, body, error_type):
    r = analyze(client, api_key, body)
    assert r.status_code == 400
    assert detail(r) == {"@type": "type.googleapis.com/google.commentanalyzer.v1alpha1.Error", "errorType": error_type}


def test_unsupported_language_error_names_attribute_and_languages(client, api_key):
    r = analyze(client, api_key, {"comment": {"text": CIVIL}, "languages": ["xx"],
                                  "requestedAttributes": {"TOXICITY": {}}})
    d = detail(r)
    assert d["errorType"] == "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE"
    assert d["languageNotSupportedByAttributeError"]["attribute"] == "TOXICITY"
    assert d["languageNotSupportedByAttributeError"]["requestedLanguages"] == ["xx"]


def test_key_errors_carry_googles_error_info_reason(client):
    body = {"comment": {"text": CIVIL}, "requestedAttributes": {"TOXICITY": {}}}
    r = client.post(f"{ANALYZE}?key=mod_wrong", json=body)
    assert detail(r) == {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                         "domain": "googleapis.com", "metadata": {"service": "commentanalyzer.googleapis.com"}}
    assert detail(client.post(ANALYZE, json=body))["reason"] == "CREDENTIALS_MISSING"


def test_json_without_content_type_is_read_on_perspective_endpoints_only(client, api_key, bundle):
    raw = json.dumps({"comment": {"text": CIVIL}, "requestedAttributes": {"TOXICITY": {}}})
    r = client.post(f"{ANALYZE}?key={api_key}", data=raw)
    assert r.request.headers.get("Content-Type") is None
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["attributeScores"]["TOXICITY"]["summaryScore"]["value"] == toxicity(bundle, CIVIL)
    suggest = json.dumps({"comment": {"text": CIVIL}, "attributeScores": {"TOXICITY": {"summaryScore": {"value": 0}}}})
    assert client.post(f"{SUGGEST}?key={api_key}", data=suggest).status_code == 200
    # an empty untyped body (PyPerspective's key check) is Google's 400 with details, not a 415 or a crash
    r = client.post(f"{ANALYZE}?key={api_key}", data=b"")
    assert r.status_code == 400 and detail(r)["errorType"] == "INVALID_REQUEST"
    v1 = client.post("/v1/moderate", data=json.dumps({"comment": {"id": "1", "text": CIVIL}}),
                     headers={"X-API-Key": api_key})
    assert v1.status_code == 415


def test_text_type_unspecified_is_plain_text(client, api_key, bundle):
    text = "<b>plain</b> words about the bus timetable"
    out = analyze(client, api_key, {"comment": {"text": text, "type": "TEXT_TYPE_UNSPECIFIED"},
                                    "requestedAttributes": {"TOXICITY": {}}}).get_json()
    assert out["attributeScores"]["TOXICITY"]["summaryScore"]["value"] == toxicity(bundle, text)


def test_languages_are_echoed_as_sent(client, api_key):
    out = analyze(client, api_key, {"comment": {"text": CIVIL}, "languages": ["en-US"],
                                    "requestedAttributes": {"TOXICITY": {}}}).get_json()
    assert out["languages"] == ["en-US"]


def _queue(app):
    from service.review.queue import page
    with app.app_context():
        return page(db_session())[0]


def test_identical_analyze_calls_store_one_row_outside_the_review_queue(app_config, monkeypatch):
    from service import create_app
    from service.auth import PREFIX_LEN, create_api_key
    app = create_app({**app_config, "POLICY": {"abusive": 0.0}, "PERSPECTIVE": {"store_window": 600}})
    with app.app_context():
        key = create_api_key("test-site", "p")
    client = app.test_client()
    body = {"comment": {"text": NASTY}, "requestedAttributes": {"TOXICITY": {}}}
    for _ in range(3):
        assert analyze(client, key, body).status_code == 200
    [row] = rows(app)
    assert row.status == "analyzed" and row.decision == "hold"
    assert _queue(app) == []
    analyze(client, key, {**body, "context": {"entries": [{"text": ARTICLE}]}})   # other context: its own row
    assert len(rows(app)) == 2
    import service.perspective as perspective
    later = perspective.time.time() + 601
    monkeypatch.setattr(perspective.time, "time", lambda: later)   # the next window: stored again
    analyze(client, key, body)
    assert len(rows(app)) == 3
    app.extensions["db"]["engine"].dispose()


def test_analyze_calls_reach_the_queue_when_the_site_says_they_are_comments(app_config):
    from service import create_app
    from service.auth import PREFIX_LEN, create_api_key
    app = create_app({**app_config, "POLICY": {"abusive": 0.0},
                      "PERSPECTIVE": {"sites": {"test-site": {"analyze_is_comment": True}}}})
    with app.app_context():
        key, other = create_api_key("test-site", "p"), create_api_key("other-site", "p")
    client = app.test_client()
    body = {"comment": {"text": NASTY}, "requestedAttributes": {"TOXICITY": {}}}
    analyze(client, key, body)
    analyze(client, key, body)
    analyze(client, other, body)
    statuses = sorted((r.site, r.status) for r in rows(app))
    assert statuses == [("other-site", "analyzed"), ("test-site", "held")]
    assert [c.site for c, _ in _queue(app)] == ["test-site"]
    app.extensions["db"]["engine"].dispose()


# -- Perspective's scale -----------------------------------------------------------------------------

@pytest.mark.model   # the shipped bundle and its perspective_scale.json
def test_toxicity_is_on_the_perspective_scale_and_v1_is_not(client, api_key, bundle):
    assert bundle.perspective_scale is not None   # the shipped bundle carries perspective_scale.json
    out = analyze(client, api_key, {"comment": {"text": NASTY}, "requestedAttributes": {"TOXICITY": {}}}).get_json()
    raw = round(bundle.score(NASTY).abusive, 6)
    assert out["attributeScores"]["TOXICITY"]["summaryScore"]["value"] == toxicity(bundle, NASTY) != raw
    v1 = client.post("/v1/moderate", json={"comment": {"id": "n1", "text": NASTY}, "article": {"id": "a1"}},
                     headers={"X-API-Key": api_key})
    assert v1.get_json()["scores"]["abusive"] == raw


@pytest.mark.model   # the shipped bundle and its perspective_scale.json
def test_scale_is_monotone_and_within_zero_and_one(bundle):
    mapped = bundle.perspective_scale.toxicity(np.linspace(0, 1, 501))
    assert np.all(np.diff(mapped) >= 0) and 0 <= mapped.min() and mapped.max() <= 1
    assert mapped[-1] > mapped[0]


@pytest.mark.model   # the shipped bundle and its perspective_scale.json
def test_severe_toxicity_is_scored_from_the_scale(client, api_key, bundle):
    out = analyze(client, api_key, {"comment": {"text": NASTY},
                                    "requestedAttributes": {"SEVERE_TOXICITY": {}, "TOXICITY": {}}}).get_json()
    expected = on_scale(bundle, bundle.score(NASTY))
    assert out["attributeScores"]["SEVERE_TOXICITY"]["summaryScore"]["value"] == expected["severe_toxicity"]
    calm = analyze(client, api_key, {"comment": {"text": CIVIL},
                                     "requestedAttributes": {"SEVERE_TOXICITY": {}}}).get_json()
    assert calm["attributeScores"]["SEVERE_TOXICITY"]["summaryScore"]["value"] <= expected["severe_toxicity"]


@pytest.mark.model   # the shipped bundle and its perspective_scale.json
def test_a_threshold_that_catches_almost_nothing_is_logged_once(client, api_key, caplog):
    body = {"comment": {"text": CIVIL}, "requestedAttributes": {"TOXICITY": {"scoreThreshold": 0.8}}}
    with caplog.at_level(logging.WARNING, logger="service.perspective"):
        analyze(client, api_key, body)
        analyze(client, api_key, body)
        analyze(client, api_key, {**body, "requestedAttributes": {"TOXICITY": {"scoreThreshold": 0.1}}})
    warnings = [r.getMessage() for r in caplog.records if "TOXICITY >= " in r.getMessage()]
    assert len(warnings) == 1 and "TOXICITY >= 0.8" in warnings[0]


def test_a_blind_threshold_is_shown_on_the_admins_dashboard(app_config, bundle):
    """A migrating client keeping Perspective's 0.8 on a scale where 0.8 catches 2 % of toxic comments: the admins'
    dashboard names the key and the threshold; a threshold that still catches is not listed."""
    from models.calibration import PerspectiveScale
    from review_helpers import add_user, login
    from service import create_app
    from service.auth import PREFIX_LEN, create_api_key

    bundle.perspective_scale = PerspectiveScale({"TOXICITY": {"x": [0, 1], "y": [0, 1]},
                                                 "catch": {"0.5": 0.4, "0.7": 0.1, "0.8": 0.02, "0.9": 0.01}})
    app = create_app({**app_config, "REVIEW_SECURE_COOKIES": False})
    with app.app_context():
        key = create_api_key("tribune", "coral")
    client = app.test_client()
    add_user(app, "boss", role="admin")
    login(client, "boss")
    assert "threshold-warnings" not in client.get("/review/dashboard").get_data(as_text=True)

    for threshold in (0.8, 0.8, 0.5, 0.75):   # 0.75 catches about 6 %: above the warning's 5 %
        r = analyze(client, key, {"comment": {"text": CIVIL},
                                  "requestedAttributes": {"TOXICITY": {"scoreThreshold": threshold}}})
        assert r.status_code == 200, r.get_json()
    page = client.get("/review/dashboard").get_data(as_text=True)
    assert page.count('id="threshold-warnings"') == 1
    rows = re.findall(r"<tr><td>tribune</td><td><code>([^<]+)…</code></td><td>TOXICITY</td>\s*<td>([\d.]+)</td>"
                      r"<td>([\d.]+ %)</td>", page)
    assert rows == [(key[:PREFIX_LEN], "0.8", "2.0 %")]
    app.extensions["db"]["engine"].dispose()
