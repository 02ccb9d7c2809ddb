"""Perspective client libraries from PyPI against our server on loopback; what each needs to be redirected:

* `perspective` 1.0.3 (stdlib only) keeps its endpoint template in `api_client.url`
  ("https://commentanalyzer.googleapis.com/v1alpha1/{endpoint}"): set it to our base URL.
* google-api-python-client (Perspective's own Python sample): `discoveryServiceUrl` pointing at our
  `/$discovery/rest?version=v1alpha1`; the description it fetches there roots the methods at our server.
"""
import json
import threading
import urllib.error

import pytest
from perspective import PerspectiveAPI

from test_perspective import toxicity
from werkzeug.serving import make_server


@pytest.fixture
def base_url(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def client_lib(base_url, api_key):
    api = PerspectiveAPI(api_key)
    assert api.api_client.url == "https://commentanalyzer.googleapis.com/v1alpha1/{endpoint}"
    api.api_client.url = base_url + "/v1alpha1/{endpoint}"   # the one change a Perspective user makes
    return api


def test_analyze_comment_through_the_library(client_lib, bundle):
    text = "You are a stupid idiot and a moron."
    out = client_lib.analyze_comment(text, requested_attributes={"TOXICITY": {}, "SPAM": {}},
                                     languages=["en"], span_annotations=True, do_not_store=True,
                                     client_token="lib-1")
    score = bundle.score(text)
    assert out["clientToken"] == "lib-1" and out["languages"] == ["en"]
    assert out["attributeScores"]["TOXICITY"]["summaryScore"] == {"value": toxicity(bundle, text),
                                                                  "type": "PROBABILITY"}
    assert out["attributeScores"]["SPAM"]["summaryScore"]["value"] == round(score.spam, 6)
    assert len(out["attributeScores"]["TOXICITY"]["spanScores"]) == len(score.spans)


def test_score_shortcut_and_context_through_the_library(client_lib, bundle):
    scores = client_lib.score("Thanks for the thoughtful reporting.", tests=["TOXICITY", "OFF_TOPIC"])
    assert set(scores) == {"TOXICITY", "OFF_TOPIC"}
    assert scores["TOXICITY"] == toxicity(bundle, "Thanks for the thoughtful reporting.")
    out = client_lib.analyze_comment("The striker scored twice.", requested_attributes={"OFF_TOPIC": {}},
                                     context=[{"text": "Council approves the bus budget.", "type": "PLAIN_TEXT"}])
    assert out["attributeScores"]["OFF_TOPIC"]["summaryScore"]["value"] == round(
        bundle.score("The striker scored twice.", {"body": "Council approves the bus budget."}).off_topic, 6)


def test_suggest_score_through_the_library(client_lib):
    out = client_lib.suggest_score("Nice piece.", {"TOXICITY": {"summaryScore": {"value": 0.0}}},
                                   client_token="lib-2")
    assert out == {"detectedLanguages": ["en"], "clientToken": "lib-2"}


def test_library_sees_googles_error_for_an_attribute_we_do_not_have(client_lib):
    with pytest.raises(urllib.error.HTTPError) as caught:
        client_lib.analyze_comment("Hello there.", requested_attributes={"FLIRTATION": {}})
    assert caught.value.code == 400
    error = json.loads(caught.value.read())["error"]
    assert error["status"] == "INVALID_ARGUMENT" and "FLIRTATION" in error["message"]


def test_googles_discovery_client_with_our_discovery_url(base_url, api_key, bundle):
    """google-api-python-client, as in Perspective's own Python sample: only discoveryServiceUrl changes."""
    from googleapiclient import discovery
    from googleapiclient.errors import HttpError

    client = discovery.build("commentanalyzer", "v1alpha1", developerKey=api_key, static_discovery=False,
                             discoveryServiceUrl=base_url + "/$discovery/rest?version=v1alpha1")
    text = "friendly greetings from python"
    out = client.comments().analyze(body={"comment": {"text": text},
                                          "requestedAttributes": {"TOXICITY": {}}}).execute()
    assert out == {"attributeScores": {"TOXICITY": {"summaryScore": {"value": toxicity(bundle, text),
                                                                     "type": "PROBABILITY"}}},
                   "languages": ["en"], "detectedLanguages": ["en"]}
    out = client.comments().suggestscore(body={"comment": {"text": text}, "clientToken": "g-1", "attributeScores": {
        "TOXICITY": {"summaryScore": {"value": 0.0}}}}).execute()
    assert out == {"detectedLanguages": ["en"], "clientToken": "g-1"}
    with pytest.raises(HttpError) as caught:
        client.comments().analyze(body={"comment": {"text": text}, "requestedAttributes": {"FLIRTATION": {}}}).execute()
    assert caught.value.resp.status == 400 and "FLIRTATION" in json.loads(caught.value.content)["error"]["message"]
