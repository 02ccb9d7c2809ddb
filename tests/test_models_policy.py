"""models.decide: scores and thresholds -> publish/hold with reasons; fails closed."""
import math

import models
from models.bundle import Score

T = {"abusive": 0.5, "off_topic": 0.6, "spam": 0.7}


def score(**kw):
    base = dict(abusive=0.1, off_topic=0.1, spam=0.1, sub_scores={}, spans=[], article_known=True,
                language="en", language_supported=True, model_version="t", length=20, thresholds=T)
    base.update(kw)
    return Score(**base)


def test_clean_comment_is_published():
    d = models.decide(score())
    assert (d.decision, d.reasons) == ("publish", [])


def test_each_score_holds_at_its_threshold():
    assert models.decide(score(abusive=0.5)).reasons == ["abusive"]
    assert models.decide(score(off_topic=0.65)).reasons == ["off_topic"]
    assert models.decide(score(spam=0.7, off_topic=0.7)).reasons == ["off_topic", "spam"]
    assert models.decide(score(abusive=0.49)).decision == "publish"


def test_thresholds_argument_overrides_the_bundle():
    assert models.decide(score(abusive=0.3), {"abusive": 0.2}).reasons == ["abusive"]
    assert models.decide(score(abusive=0.6), {"abusive": 0.9}).decision == "publish"


def test_article_unknown_is_informational():
    d = models.decide(score(article_known=False))
    assert d.decision == "publish" and d.reasons == ["article_unknown"]


def test_too_long_and_unsupported_language_hold():
    assert models.decide(score(length=5000), max_chars=4000).reasons == ["too_long"]
    assert models.decide(score(length=5000)).decision == "publish"
    assert models.decide(score(language="und", language_supported=False)).reasons == ["unsupported_language"]


def test_fails_closed():
    assert models.decide(None).to_dict() == {"decision": "hold", "reasons": ["model_error"]}
    assert models.decide(score(abusive=math.nan)).reasons == ["model_error"]
    assert models.decide(score(thresholds={})).reasons == ["model_error"]


def test_unscorable_language_is_published_with_a_note_only_when_the_policy_says_so():
    german = score(abusive=0.9, language="de", language_supported=False)   # an English head's score on German
    held = models.decide(german)
    assert (held.decision, held.reasons) == ("hold", ["abusive", "unsupported_language"])
    published = models.decide(german, unsupported_language="publish")
    assert (published.decision, published.reasons) == ("publish", ["language_unscored"])
    assert models.decide(german, unsupported_language="anything else").decision == "hold"   # fail safe
    long = models.decide(german, max_chars=10, unsupported_language="publish")
    assert (long.decision, long.reasons) == ("hold", ["too_long", "language_unscored"])


def test_setting_for_takes_the_most_specific_level():
    policy = {"unsupported_language": "hold", "sections": {"sport": {"unsupported_language": "publish"}},
              "sites": {"a": {"unsupported_language": "publish",
                              "sections": {"news": {"unsupported_language": "hold"}}}}}
    assert models.setting_for(policy, "unsupported_language", "b") == "hold"
    assert models.setting_for(policy, "unsupported_language", "b", "sport") == "publish"
    assert models.setting_for(policy, "unsupported_language", "a") == "publish"
    assert models.setting_for(policy, "unsupported_language", "a", "news") == "hold"
    assert models.setting_for({}, "unsupported_language", "a") is None
