"""Realistic decisions of the shipped default bundle (issue 2, point 5). Uses the `bundle` fixture."""
import pytest

import models

pytestmark = [pytest.mark.slow, pytest.mark.model]

ARTICLE = {
    "id": "budget-2026",
    "title": "City council passes budget with new bus routes and a property tax rise",
    "body": (
        "The city council on Tuesday approved next year's budget by a vote of nine to four. The plan adds "
        "six new bus routes in the east end, hires forty more transit drivers and raises the property tax "
        "by 2.5 per cent. Mayor Linda Park said the tax increase was needed to pay for transit and for "
        "repairs to roads damaged in last spring's floods. Councillor James Osei, who voted against, said "
        "homeowners were already struggling with rising mortgage rates and that the city should have cut "
        "spending on consultants first. The budget also sets aside money for affordable housing near the "
        "new transit lines, and for a study of a light rail line along the waterfront. "
    ) * 2,
}


def decide(bundle, text, article=ARTICLE):
    score = bundle.score(text, article)
    return models.decide(score), score


def test_long_rambling_on_topic_comment_is_published(bundle):
    text = (
        "I have lived in the east end for thirty years and I have to say this budget is a mixed bag. "
        "The new bus routes are long overdue, my daughter spends an hour each way getting to work, and "
        "forty more drivers might finally mean the buses come on time. On the other hand a 2.5 per cent "
        "property tax rise is not nothing when mortgage rates are where they are, and I agree with the "
        "councillor that the consultants should have been the first thing to go. I remember when the "
        "council promised light rail along the waterfront back in the nineties and nothing came of it, "
        "so forgive me if I do not hold my breath for the study. Still, fixing the roads after the flood "
        "has to be paid for somehow, and the housing near transit is a good idea if it is really affordable."
    )
    d, s = decide(bundle, text)
    assert d.decision == "publish", (d.reasons, s.to_dict())
    assert s.article_known


def test_insult_at_another_reader_is_held_as_abusive(bundle):
    d, s = decide(bundle, "@mike_1987 you are a complete idiot, nobody cares about your stupid opinion. Shut up.")
    assert d.decision == "hold" and "abusive" in d.reasons, s.to_dict()
    assert s.spans, "the insulting words should be marked"


def test_comment_about_an_unrelated_sports_match_is_held_as_off_topic(bundle):
    d, s = decide(bundle, "What a match last night! The Lakers were down twelve at half time and came back to win "
                          "in overtime, best game of the season so far.")
    assert d.decision == "hold" and "off_topic" in d.reasons, s.to_dict()
    assert "abusive" not in d.reasons


def test_check_out_my_site_spam_is_held_as_spam(bundle):
    d, s = decide(bundle, "Great article!! Check out my site www.cheap-deals-now.biz for amazing discounts, "
                          "make money from home today!")
    assert d.decision == "hold" and {"spam", "off_topic"} & set(d.reasons), s.to_dict()
    assert "abusive" not in d.reasons


def test_short_polite_on_topic_comment_is_published(bundle):
    d, s = decide(bundle, "Good to see the east end finally getting more buses.")
    assert d.decision == "publish", (d.reasons, s.to_dict())


def test_obfuscated_insult_is_still_held(bundle):
    d, s = decide(bundle, "y o u are a st*pid 1d10t")
    assert "abusive" in d.reasons, s.to_dict()


def test_without_article_the_decision_says_so(bundle):
    d, s = decide(bundle, "I think the council got this one right.", None)
    assert s.article_known is False and "article_unknown" in d.reasons
    assert d.decision == "publish", (d.reasons, s.to_dict())


def test_shipped_bundle_has_metadata_for_the_model_card(bundle):
    meta = bundle.metadata
    assert meta["version"] == bundle.version
    assert set(bundle.thresholds) == {"abusive", "off_topic", "spam"}
    assert all(0 < v < 1 for v in bundle.thresholds.values())
    licences = {s["name"]: s["licence"] for s in meta["sources"]}
    assert "CC BY-NC-SA" in licences["c3"]
    assert (models.default_bundle_path() / "MODEL_CARD.md").exists()
