"""Perspective client libraries from PyPI against our server on loopback; what each needs to be redirected:

* `perspective` 1.0.3 (stdlib only) keeps its endpoint template in `api_client.url`
  ("https://commentanalyzer.googleapis.com/v1alpha1/{endpoint}"): set it to our base URL.
* google-api-python-client (Perspective's discovery sample): `discoveryServiceUrl` pointing at our
  `/$discovery/rest?version=v1alpha1`; the description it fetches there roots the methods at our server.
* Perspective's documented `requests` sample: its `url` (it posts `data=json.dumps(...)`, no Content-Type).
* `PyPerspective` 1.0.4 (on PyPI as pyperspective): its module constant `base_url`.
* Node (tests/node, installed by `npm ci` there on first use): Perspective's documented googleapis sample
  (`DISCOVERY_URL`), and npm `perspective-api-client` (Google's URL redirected in the axios it requires).
"""
import json
import shutil
import subprocess
import threading
import urllib.error
from pathlib import Path

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
    summary = {"value": toxicity(bundle, text), "type": "PROBABILITY"}
    assert out == {"attributeScores": {"TOXICITY": {"spanScores": [{"begin": 0, "end": len(text), "score": summary}],
                                                    "summaryScore": summary}},
                   "languages": ["en"], "detectedLanguages": ["en"]}
    out = client.comments().suggestscore(body={"comment": {"text": text}, "clientToken": "g-1", "attributeScores": {
        "TOXICITY": {"summaryScore": {"value": 0.0}}}}).execute()
    assert out == {"detectedLanguages": ["en"], "clientToken": "g-1"}
    with pytest.raises(HttpError) as caught:
        client.comments().analyze(body={"comment": {"text": text}, "requestedAttributes": {"FLIRTATION": {}}}).execute()
    assert caught.value.resp.status == 400 and "FLIRTATION" in json.loads(caught.value.content)["error"]["message"]


def test_perspectives_documented_requests_sample(base_url, api_key, bundle):
    """The Python sample of Perspective's docs: requests.post(url=..., data=json.dumps(data_dict)), then
    json.loads(response.content); only the URL (and key) differ."""
    import requests

    url = (base_url + "/v1alpha1/comments:analyze" + "?key=" + api_key)
    data_dict = {"comment": {"text": "what kind of idiot name is foo?"}, "languages": ["en"],
                 "requestedAttributes": {"TOXICITY": {}}}
    response = requests.post(url=url, data=json.dumps(data_dict))
    assert "Content-Type" not in response.request.headers   # what makes it the sample: no JSON content type
    response_dict = json.loads(response.content)
    value = toxicity(bundle, "what kind of idiot name is foo?")
    assert response_dict == {"attributeScores": {"TOXICITY": {
        "spanScores": [{"begin": 0, "end": 31, "score": {"value": value, "type": "PROBABILITY"}}],
        "summaryScore": {"value": value, "type": "PROBABILITY"}}},
        "languages": ["en"], "detectedLanguages": ["en"]}


@pytest.fixture
def pyperspective(base_url, api_key, monkeypatch):
    from PyPerspective import Perspective as module

    assert module.base_url == "https://commentanalyzer.googleapis.com/v1alpha1/comments:analyze"
    monkeypatch.setattr(module, "base_url", base_url + "/v1alpha1/comments:analyze")   # the one change
    return module


def test_pyperspective_key_check_and_scores(pyperspective, api_key, bundle):
    # its constructor posts an empty body and reads error.details[0]: a good key passes, a bad one is refused
    with pytest.raises(pyperspective.InvalidAuthKey):
        pyperspective.Perspective("mod_not_a_key")
    client = pyperspective.Perspective(api_key)
    text = "You are a stupid idiot and a moron."
    comment = client.get_score(text, tests=["TOXICITY", "INSULT"], langs=["en"])
    assert comment.requests_langs == ["en"] and comment.detected_langs == ["en"]
    toxic = comment["TOXICITY"]
    assert toxic.score == toxicity(bundle, text) and toxic.score_type == "PROBABILITY"
    assert [(s.start, s.end, s.score) for s in toxic.spans] == [(0, len(text), toxic.score)]
    assert str(toxic[0]) == text
    assert comment["INSULT"].score == round(bundle.score(text).sub_scores["insult"], 6)


def test_pyperspective_takes_its_error_branch(pyperspective, api_key):
    """PyPerspective 1.0.4 builds ApiException with a keyword argument it does not accept, so any API error (from
    Google too) surfaces as that TypeError: what our answer must do is reach that branch, not a KeyError."""
    client = pyperspective.Perspective(api_key)
    with pytest.raises(TypeError, match="ApiException"):
        client.get_score("   ", tests=["TOXICITY"])


NODE = Path(__file__).resolve().parent / "node"


@pytest.fixture(scope="session")
def node_clients():
    """tests/node's pinned packages (package-lock.json), installed by `npm ci` into its git-ignored node_modules
    the first time; skipped only where node or npm is missing or the registry cannot be reached."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed for the node Perspective clients (tests/node)")
    if not (NODE / "node_modules" / ".package-lock.json").exists():
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=NODE,
                              capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            pytest.skip(f"npm ci in tests/node failed (no registry?): {done.stderr.strip()[-300:]}")
    return node


def test_node_clients(node_clients, base_url, api_key, bundle):
    texts = {"civil": "Thanks for the thoughtful reporting.", "nasty": "You are a stupid idiot and a moron.",
             "html": "<p>You <b>idiot</b></p>", "emoji": "\U0001F600 you idiot"}
    done = subprocess.run([node_clients, str(NODE / "perspective_clients.js")], capture_output=True, text=True,
                          input=json.dumps({"base": base_url, "key": api_key, "texts": texts}), timeout=120)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    nasty = toxicity(bundle, texts["nasty"])
    whole = [{"begin": 0, "end": len(texts["nasty"]), "score": {"value": nasty, "type": "PROBABILITY"}}]

    google = out["googleapis"]
    assert google["analyze"]["data"] == {
        "attributeScores": {"TOXICITY": {"spanScores": whole, "summaryScore": whole[0]["score"]}},
        "languages": ["en"], "detectedLanguages": ["en"]}
    assert google["suggest"]["data"] == {"detectedLanguages": ["en"], "clientToken": "node-1"}
    assert google["unsupported"]["error"]["status"] == 400
    assert "FLIRTATION" in google["unsupported"]["error"]["data"]["error"]["message"]

    loria = out["perspective-api-client"]
    assert loria["analyze"]["data"]["attributeScores"]["TOXICITY"]["summaryScore"]["value"] == nasty
    assert loria["analyze"]["data"]["attributeScores"]["SPAM"]["summaryScore"]["value"] == round(
        bundle.score(texts["nasty"]).spam, 6)
    # the library strips tags itself before sending (stripHTML defaults to true)
    assert loria["html"]["data"]["attributeScores"]["TOXICITY"]["summaryScore"]["value"] == toxicity(
        bundle, "You idiot")
    spans = loria["spans"]["data"]["attributeScores"]["TOXICITY"]["spanScores"]
    assert spans and all(2 <= s["begin"] < s["end"] <= len(texts["emoji"]) + 1 for s in spans)  # UTF-16: emoji is 2
    assert any(s["end"] - s["begin"] == len("idiot") for s in spans)
    assert loria["unsupported"]["error"]["status"] == 400
    assert "FLIRTATION" in loria["unsupported"]["error"]["message"]
