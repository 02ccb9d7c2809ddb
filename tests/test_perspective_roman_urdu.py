"""Roman Urdu on the Perspective endpoint: TOXICITY comes from the bundle's Roman Urdu head, the attributes the head
cannot give answer Google's 400 for an unsupported attribute and language (or are dropped), English is untouched;
Coral's external phase scores Roman Urdu as /v1 does. A fake bundle with a made-up head (fast), then the shipped one."""
import numpy as np
import pytest

import models
from service import create_app
from service.perspective import attributes
from test_language_heads import CLEAN, ENGLISH, INSULT
from test_language_policy import coral
from test_perspective import analyze, google_error, on_scale, rows
from tiny_data import KeywordBundle

URDU_SCRIPT = "یہ بہت اچھی خبر ہے، شکریہ"


class RomanUrduBundle(KeywordBundle):
    """The fake bundle with a Roman Urdu head, routed as models.Bundle routes: a comment the language ID labels
    ur-Latn gets the head's abuse score alone (0.9 with a word from GAALI, else 0.05), no sub-scores, no spans."""
    GAALI = {"chutiye", "kutta", "ullu"}
    language_heads = {"ur-Latn": "a head"}

    def _one(self, text, article):
        score = super()._one(text, article)
        score.language = models.cues.language(text)
        if score.language == "ur-Latn":
            score.abusive = 0.9 if set(models.cues.words(text.lower())) & self.GAALI else 0.05
            score.off_topic, score.sub_scores, score.spans = 0.0, {}, []
        return score


@pytest.fixture
def bundle(request):
    if request.node.get_closest_marker("model"):
        return request.getfixturevalue("real_bundle")
    return RomanUrduBundle()


def toxicity(client, key, text, **extra):
    r = analyze(client, key, {"comment": {"text": text}, "requestedAttributes": {"TOXICITY": {}}, **extra})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


# -- the endpoint's rules, on the fake bundle -----------------------------------------------------------------

def test_roman_urdu_toxicity_is_the_heads_score_and_the_language_ids_label(client, api_key):
    nasty, calm = toxicity(client, api_key, INSULT), toxicity(client, api_key, CLEAN)
    assert nasty["detectedLanguages"] == nasty["languages"] == ["ur-Latn"]
    assert nasty["attributeScores"]["TOXICITY"]["summaryScore"]["value"] == 0.9
    assert calm["attributeScores"]["TOXICITY"]["summaryScore"]["value"] == 0.05


@pytest.mark.parametrize("code", ["ur", "ur-Latn", "UR-latn", "ur_Latn", "ur-PK", "ur-Latn-PK"])
def test_requested_urdu_in_latin_script_is_served_by_the_head_and_echoed(client, api_key, code):
    out = toxicity(client, api_key, INSULT, languages=[code])
    assert out["languages"] == [code] and out["detectedLanguages"] == ["ur-Latn"]
    assert out["attributeScores"]["TOXICITY"]["summaryScore"]["value"] == 0.9


@pytest.mark.parametrize("text, code", [(INSULT, "ur-Arab"), (URDU_SCRIPT, "ur")])
def test_urdu_in_arabic_script_is_not_the_heads(app, client, api_key, text, code):
    r = analyze(client, api_key, {"comment": {"text": text}, "languages": [code],
                                  "requestedAttributes": {"TOXICITY": {}}})
    assert google_error(r, 400, "INVALID_ARGUMENT") == f"Attribute TOXICITY does not support request languages: {code}"
    assert rows(app) == []


@pytest.mark.parametrize("languages", [None, ["ur"], ["en"]])   # ["en"]: the head scores it whatever the client says
def test_an_attribute_the_head_cannot_give_is_googles_400(app, client, api_key, languages):
    body = {"comment": {"text": INSULT}, "requestedAttributes": {"TOXICITY": {}, "INSULT": {}}}
    r = analyze(client, api_key, {**body, "languages": languages} if languages else body)
    named = "ur" if languages == ["ur"] else "ur-Latn"
    assert google_error(r, 400, "INVALID_ARGUMENT") == f"Attribute INSULT does not support request languages: {named}"
    detail = r.get_json()["error"]["details"][0]
    assert detail["errorType"] == "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE"
    assert detail["languageNotSupportedByAttributeError"]["attribute"] == "INSULT"
    assert detail["languageNotSupportedByAttributeError"]["detectedLanguages"] == ["ur-Latn"]
    assert rows(app) == []


def test_drop_unsupported_attributes_keeps_toxicity_alone(client, api_key):
    names = [n for n, key in attributes().items() if key in {"abusive", "off_topic", "spam", "insult"}]
    r = analyze(client, api_key, {"comment": {"text": INSULT}, "dropUnsupportedAttributes": True,
                                  "requestedAttributes": {n: {} for n in names}, "clientToken": "t"})
    assert r.status_code == 200, r.get_json()
    out = r.get_json()
    assert set(out["attributeScores"]) == {"TOXICITY"} and out["clientToken"] == "t"
    english = analyze(client, api_key, {"comment": {"text": "You idiot."}, "dropUnsupportedAttributes": True,
                                        "requestedAttributes": {n: {} for n in names}}).get_json()
    assert set(english["attributeScores"]) == set(names)   # English keeps every attribute


def test_span_annotations_give_the_whole_comment_span(client, api_key):
    out = toxicity(client, api_key, INSULT, spanAnnotations=True)
    summary = {"value": 0.9, "type": "PROBABILITY"}
    assert out["attributeScores"]["TOXICITY"] == {"spanScores": [{"begin": 0, "end": len(INSULT), "score": summary}],
                                                  "summaryScore": summary}


def test_a_bundle_without_the_head_still_answers_googles_400(app_config):
    app = create_app({**app_config, "BUNDLE_INSTANCE": KeywordBundle()})
    from service.auth import create_api_key
    with app.app_context():
        key = create_api_key("test-site", "t")
    r = analyze(app.test_client(), key, {"comment": {"text": INSULT}, "languages": ["ur"],
                                         "requestedAttributes": {"TOXICITY": {}}})
    assert google_error(r, 400, "INVALID_ARGUMENT") == "Attribute TOXICITY does not support request languages: ur"
    app.extensions["db"]["engine"].dispose()


# -- the shipped bundle's Roman Urdu head ---------------------------------------------------------------------

@pytest.mark.model
def test_roman_urdu_insult_is_toxic_and_a_clean_comment_is_not(client, api_key, bundle):
    head, scale = bundle.language_heads["ur-Latn"], bundle.perspective_scale
    held_at = float(scale.toxicity(bundle.thresholds["abusive"]))   # an English comment held on /v1 scores this
    got = {}
    for text in (INSULT, CLEAN):
        out = toxicity(client, api_key, text)
        assert out["detectedLanguages"] == ["ur-Latn"]
        got[text] = out["attributeScores"]["TOXICITY"]["summaryScore"]["value"]
        expected = scale.toxicity(head.abusive([text], bundle.thresholds["abusive"]))[0]
        assert got[text] == round(float(expected), 6)   # the head's score on the English Perspective scale
    assert got[INSULT] > held_at > got[CLEAN]
    assert got[INSULT] >= 0.5 and got[CLEAN] < 0.2


@pytest.mark.model
def test_severe_toxicity_for_roman_urdu_is_googles_400_unless_dropped(app, client, api_key):
    body = {"comment": {"text": INSULT}, "requestedAttributes": {"TOXICITY": {}, "SEVERE_TOXICITY": {}}}
    r = analyze(client, api_key, body)
    assert google_error(r, 400, "INVALID_ARGUMENT") == \
        "Attribute SEVERE_TOXICITY does not support request languages: ur-Latn"
    assert rows(app) == []
    out = analyze(client, api_key, {**body, "dropUnsupportedAttributes": True}).get_json()
    assert set(out["attributeScores"]) == {"TOXICITY"} and out["detectedLanguages"] == ["ur-Latn"]


@pytest.mark.model
def test_english_answers_are_unchanged_by_the_head(client, api_key, bundle):
    names = [n for n, key in attributes().items() if key in on_scale(bundle, bundle.score(ENGLISH[0]))]
    assert {"TOXICITY", "SEVERE_TOXICITY"} <= set(names)

    def answers():
        return [analyze(client, api_key, {"comment": {"text": t}, "requestedAttributes": {n: {} for n in names},
                                          "spanAnnotations": True, "doNotStore": True}).get_json() for t in ENGLISH]

    with_head = answers()
    heads, bundle.language_heads = bundle.language_heads, {}
    try:
        without = answers()
    finally:
        bundle.language_heads = heads
    assert with_head == without
    for text, out in zip(ENGLISH, with_head):
        assert out["detectedLanguages"] == ["en"]
        ours = on_scale(bundle, bundle.score(text))
        assert {n: s["summaryScore"]["value"] for n, s in out["attributeScores"].items()} == \
            {n: ours[attributes()[n]] for n in names}
    values = [out["attributeScores"]["TOXICITY"]["summaryScore"]["value"] for out in with_head]
    assert len(set(values)) > 3 and np.ptp(values) > 0.1   # the sample spans calm to abusive


# -- Coral's external phase ------------------------------------------------------------------------------------

@pytest.mark.model
def test_coral_withholds_a_roman_urdu_insult_as_toxic_and_publishes_a_clean_one(app_config):
    # a deadline the full model always meets here: this is about the head, not the fast path
    coral_config = {"sites": {"coral-site": {"site": "test-site", "secrets": ["sec"], "deadline_ms": 60000}}}
    app = create_app({**app_config, "CORAL": coral_config})
    nasty = coral(app, INSULT)
    assert nasty.status_code == 200 and nasty.headers.get("X-Moderation-Degraded") is None
    assert nasty.get_json() == {"status": "SYSTEM_WITHHELD",
                                "actions": [{"actionType": "FLAG", "reason": "COMMENT_DETECTED_TOXIC"}]}
    calm = coral(app, CLEAN)
    assert calm.status_code == 204, calm.get_data(as_text=True)
    app.extensions["db"]["engine"].dispose()
