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


FOREIGN_POLICY = {
    "title": "Ottawa weighs new sanctions as talks with Beijing stall over detained citizens",
    "body": ("The federal government is considering a new round of targeted sanctions after a third week of talks "
             "with Chinese officials ended without an agreement on the release of two detained Canadian citizens. "
             "The foreign minister told reporters that all options remained on the table, including restrictions "
             "on officials linked to the detentions, but warned that trade with China supports thousands of jobs "
             "in canola farming and seafood. Opposition critics said the government had been too slow to "
             "coordinate with allies in Washington, London and Canberra. ") * 2,
}


def test_long_rambling_on_topic_comment_on_foreign_policy_is_published(bundle):
    """Issue 15's seed case: a reader's long, wandering, but on-topic answer to a foreign-policy article."""
    text = (
        "Well, I have been following this since the beginning and honestly I am not sure sanctions do much. My "
        "brother-in-law farms canola near Saskatoon and when the last dispute happened his prices dropped for "
        "two years, so the people who pay are not the officials in Beijing, it is farmers here. That said, you "
        "cannot just let a country hold our citizens and shrug. I remember when we were told quiet diplomacy "
        "would work, and here we are. Maybe the critics are right that we should line up with the Americans and "
        "the Australians first, because on our own we are small. Anyway, I hope the two men come home soon, "
        "their families have been through enough, and I hope whoever negotiates remembers the farmers too."
    )
    d, s = decide(bundle, text, FOREIGN_POLICY)
    assert d.decision == "publish", (d.reasons, s.to_dict())


def test_insult_at_another_reader_is_held_as_abusive(bundle):
    d, s = decide(bundle, "@mike_1987 you are a complete idiot, nobody cares about your stupid opinion. Shut up.")
    assert d.decision == "hold" and "abusive" in d.reasons, s.to_dict()
    assert s.spans, "the insulting words should be marked"


SPORTS = ("What a match last night! The Lakers were down twelve at half time and came back to win in overtime, "
          "best game of the season so far.")


def test_comment_about_an_unrelated_sports_match_ranks_as_off_topic(bundle):
    """Issue 15 puts the hold budget first (at most 3% of ordinary news comments held as off_topic), so a short
    unrelated comment is not always held at the shipped threshold (2026.12.03.1 publishes this one; a site that
    wants more caught lowers the threshold along the report's trade-off table). It must still score as more
    off-topic than on-topic comments under the same article, and than under an article about its own subject."""
    d, s = decide(bundle, SPORTS)
    assert "abusive" not in d.reasons
    on_topic = [bundle.score(t, ARTICLE).off_topic for t in (
        "Good to see the east end finally getting more buses.",
        "A 2.5 per cent tax rise on top of these mortgage rates will hurt homeowners.")]
    assert s.off_topic > max(on_topic), (s.off_topic, on_topic)
    basketball = {"title": "Lakers rally from twelve down to beat the Celtics in overtime"}
    assert bundle.score(SPORTS, basketball).off_topic < s.off_topic


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
