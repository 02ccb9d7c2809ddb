"""Abuse heads for languages the English bundle cannot score (models/language_heads.py): the artefact's threshold
mapping and round trip on a made-up head (fast), then the shipped Roman Urdu head through /v1/moderate (model)."""
import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

import models
from models.language_heads import LanguageHead, load_language_heads
from training.language_heads import threshold_for_budget

MADE_UP = (["tum pagal ho", "gandey insan ho tum", "kutta hai tu", "ullu ka pattha ho"],
           ["bohat acha kaam hai", "shukriya bhai", "aap theek kehte hain", "yeh khabar achi hai"])


def made_up_head(threshold):
    texts = MADE_UP[0] + MADE_UP[1]
    y = [1] * len(MADE_UP[0]) + [0] * len(MADE_UP[1])
    model = make_pipeline(TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4)), LogisticRegression(C=10))
    return LanguageHead("ur-Latn", model.fit(texts, y), threshold, {"note": "made up"})


def test_the_heads_threshold_lands_on_the_bundles():
    head = made_up_head(0.5)
    p = head.probability(MADE_UP[0] + MADE_UP[1])
    mapped = head.abusive(MADE_UP[0] + MADE_UP[1], bundle_threshold=0.17)
    assert np.array_equal(p >= 0.5, mapped >= 0.17)          # the same comments reach their thresholds
    assert np.all(np.diff(mapped[np.argsort(p)]) >= 0)        # and the order is kept
    assert mapped[:4].min() >= 0.17 > mapped[4:].max()


def test_save_and_load_beside_a_bundle(tmp_path):
    head = made_up_head(0.42)
    head.save(tmp_path)
    (tmp_path / "abuse_de.json").write_text('{"language": "de", "threshold": 0.5}')   # no .joblib: not a head
    loaded = load_language_heads(tmp_path)
    assert list(loaded) == ["ur-Latn"] and loaded["ur-Latn"].threshold == 0.42
    assert loaded["ur-Latn"].meta["note"] == "made up"
    assert np.allclose(loaded["ur-Latn"].probability(MADE_UP[0]), head.probability(MADE_UP[0]))


def test_threshold_for_budget_is_the_lowest_within_it():
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 1, 1000)
    y = (rng.uniform(0, 1, 1000) < p).astype(int)
    t = threshold_for_budget(y, p, 0.03)
    clean = p[y == 0]
    assert (clean >= t).mean() <= 0.03 < (clean >= t - 0.001).mean()


# -- the shipped Roman Urdu head, through the service ----------------------------------------------------------

# an English-language Pakistani news site whose readers sometimes write Roman Urdu
ARTICLE = {"id": "budget", "title": "Federal budget raises petrol levy", "body": (
    "The federal government presented its budget on Friday, raising the petrol levy and widening the tax net to "
    "retailers. The finance minister said the measures were needed to meet the IMF programme's targets.")}
INSULT = "tum bohat bare chutiye ho, sharam karo kuch"
CLEAN = "bhai aap ki baat bilkul theek hai, shukriya is khabar ke liye"
# English comments of the kinds a news site gets (civil, rude, abusive, short): scored with and without the head
ENGLISH = ["Thanks for the clear explanation of the budget vote.", "This is the worst article I have read all year.",
           "You are a complete idiot and should stop writing.", "lol", "Great reporting, keep it up!",
           "The mayor is a liar and a crook, everyone knows it.", "Can someone explain why taxes went up again?",
           "Go back to where you came from, nobody wants you here.", "I disagree, but it is a fair point.",
           "What a load of rubbish from this paper."]


@pytest.fixture
def moderate(client, api_key):
    def call(text, n=[0]):
        n[0] += 1
        r = client.post("/v1/moderate", headers={"X-API-Key": api_key},
                        json={"comment": {"id": f"ur-{n[0]}", "text": text}, "article": ARTICLE})
        assert r.status_code == 200, r.get_json()
        return r.get_json()
    return call


@pytest.mark.model
def test_shipped_bundle_has_the_roman_urdu_head(bundle):
    assert "ur-Latn" in bundle.language_heads
    assert models.cues.language(INSULT) == models.cues.language(CLEAN) == "ur-Latn"


@pytest.mark.model
def test_a_roman_urdu_insult_is_held_as_abusive(moderate):
    out = moderate(INSULT)
    assert out["decision"] == "hold"
    assert "abusive" in out["reasons"] and "unsupported_language" not in out["reasons"]


@pytest.mark.model
def test_a_clean_roman_urdu_comment_is_published(moderate):
    out = moderate(CLEAN)
    assert out["decision"] == "publish", out
    assert "unsupported_language" not in out["reasons"] and "language_unscored" not in out["reasons"]


@pytest.mark.model
def test_english_decisions_are_unchanged_by_the_head(bundle):
    heads = bundle.language_heads
    with_head = bundle.score_many([(t, None) for t in ENGLISH])
    bundle.language_heads = {}
    try:
        without = bundle.score_many([(t, None) for t in ENGLISH])
    finally:
        bundle.language_heads = heads
    assert [s.language for s in with_head].count("ur-Latn") == 0
    assert [models.decide(s).to_dict() for s in with_head] == [models.decide(s).to_dict() for s in without]
    assert [s.head_scores() for s in with_head] == [s.head_scores() for s in without]
    assert {models.decide(s).decision for s in with_head} == {"hold", "publish"}   # the sample has both
