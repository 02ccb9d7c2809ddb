"""The deadline fast path routes Roman Urdu comments to the bundle's Roman Urdu head (models/fastpath.py): the same
abuse score and decision as the full path for them, English scores untouched. A tiny fitted bundle with a made-up
head (fast), then the shipped bundle and head (model)."""
import copy

import numpy as np
import pytest
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import make_pipeline

import models
from models.cues import language, roman_urdu
from models.fastpath import FastPath
from models.language_heads import LanguageHead
from test_language_heads import CLEAN, ENGLISH, INSULT, MADE_UP, made_up_head
from tiny_bundles import KIND, RUDE, make_bundle

URDU = MADE_UP[0] + MADE_UP[1] + ["yaar ye idiot hai kya", "bhai tum bilkul stupid moron ho"]
ENGLISH_TINY = RUDE + KIND + ["the council is a bunch of idiots", "ok", "", "main street bridge, to the river"]
# comments near the cue's edges: few Urdu words among English ones, other scripts, no letters, German "main"/"war"
EDGES = ["yaar", "Main bin kein Idiot, das war gut", "I told my bhai it was a great game", "hai hai hai!!!",
         "یہ بہت اچھا ہے tum", "1234 !!", "😀 ho", "the ko of the match", "tum", "k", "Ye sab bakwas hai"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """(a tiny fitted bundle with a made-up Roman Urdu head, the same bundle without it)."""
    bundle = models.load_bundle(make_bundle(tmp_path_factory.mktemp("b") / "v1", "v1"))
    plain = copy.copy(bundle)
    plain.language_heads = {}
    bundle.language_heads = {"ur-Latn": made_up_head(0.45)}
    return bundle, plain


def test_the_cue_is_the_language_ids_ur_latn():
    for text in URDU + ENGLISH_TINY + ENGLISH + EDGES + [INSULT, CLEAN]:
        assert roman_urdu(text) == (language(text) == "ur-Latn"), text


def test_english_comments_keep_their_fast_path_scores(tiny):
    bundle, plain = tiny
    with_head, without = FastPath(bundle), FastPath(plain)
    english = [t for t in ENGLISH_TINY + ENGLISH if not roman_urdu(t)]
    assert len(english) == len(ENGLISH_TINY + ENGLISH)
    for text in english:
        assert with_head.judged(text) == (without.score(text), None), text
    assert with_head.thresholds(bundle.thresholds) == without.thresholds(bundle.thresholds)


def full_path_agrees(fast, bundle, texts, policy):
    """The fast path's scores and decisions on `texts` are the full path's (abuse and spam; off_topic is 0)."""
    full = bundle.score_many([(t, None) for t in texts])
    for text, score in zip(texts, full):
        got, lang = fast.judged(text)
        assert lang == score.language == "ur-Latn", text
        assert got["abusive"] == pytest.approx(score.abusive, abs=1e-9) and score.off_topic == 0.0, text
        assert got["spam"] == pytest.approx(score.spam, abs=1e-6), text  # float32 cues: as tests/test_fastpath.py
        limits = models.thresholds_for(policy, bundle.thresholds)
        assert models.decide(got, fast.thresholds(limits, lang)).decision == models.decide(score, limits).decision


@pytest.mark.parametrize("policy", [None, {"abusive": 0.3}, {"abusive": 0.9}])
def test_roman_urdu_comments_get_the_full_paths_head_and_threshold(tiny, policy):
    bundle, _ = tiny
    fast = FastPath(bundle)
    full_path_agrees(fast, bundle, URDU, policy)
    # the full model's threshold (a site's policy applied), not the fast path's lowered one
    assert fast.thresholds({"abusive": 0.7, "spam": 0.6}, "ur-Latn") == {"abusive": 0.7, "spam": 0.6}
    assert fast.thresholds({"abusive": 0.7, "spam": 0.6})["abusive"] < 0.7
    held = [models.decide(s, fast.thresholds(bundle.thresholds, lang)).decision for s, lang in map(fast.judged, URDU)]
    assert "hold" in held and "publish" in held


def test_a_head_that_is_not_tfidf_and_logistic_regression_is_read_through_predict_proba(tiny):
    bundle, _ = tiny
    texts = MADE_UP[0] + MADE_UP[1]
    nb = make_pipeline(CountVectorizer(), MultinomialNB()).fit(texts, [1] * 4 + [0] * 4)
    other = copy.copy(bundle)
    other.language_heads = {"ur-Latn": LanguageHead("ur-Latn", nb, 0.5)}
    full_path_agrees(FastPath(other), other, URDU, None)


def test_without_a_head_roman_urdu_stays_on_the_n_gram_head(tiny):
    _, plain = tiny
    fast = FastPath(plain)
    assert all(fast.judged(t)[1] is None for t in URDU)


@pytest.mark.model
def test_shipped_roman_urdu_head_in_the_fast_path(real_bundle):
    plain = copy.copy(real_bundle)
    plain.language_heads = {}
    fast, english_only = FastPath(real_bundle), FastPath(plain)
    full_path_agrees(fast, real_bundle, [INSULT, CLEAN, "yaar ye banda bilkul pagal hai"], None)
    insult, clean = (models.decide(s, fast.thresholds(real_bundle.thresholds, lang)).decision
                     for s, lang in map(fast.judged, [INSULT, CLEAN]))
    assert (insult, clean) == ("hold", "publish")
    for text in ENGLISH:
        assert fast.judged(text) == (english_only.score(text), None), text


@pytest.mark.model
def test_shipped_head_read_as_the_fast_path_reads_it_equals_sklearn(real_bundle):
    from models.fastpath import _head_probability
    head = real_bundle.language_heads["ur-Latn"]
    texts = URDU + [INSULT, CLEAN] + EDGES
    read = _head_probability(head)
    for _ in range(2):  # words first seen, then remembered
        assert np.allclose([read(t) for t in texts], head.probability(texts), rtol=0, atol=1e-12)
