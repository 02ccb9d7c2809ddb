"""News-comment decisions (issue 15): the news sets and their pairs, false-hold and catch rates, thresholds for a hold
budget, and the off-topic pair head, on tiny hand-written data (never the real sets)."""
import numpy as np
import pandas as pd
import pytest

import models
from models.offtopic import pairs
from tiny_data import KeywordBundle, make_tiny_data
from training import data, news
from training import evaluate as ev


def add_news_sets(root):
    """Ruddit and One Million Posts in their file formats, beside make_tiny_data's sets."""
    (root / "abuse/ruddit").mkdir(parents=True, exist_ok=True)
    titles = {f"p{i}": t for i, t in enumerate(["CMV: bike lanes make cities better", "CMV: casinos ruin small towns",
                                               "CMV: homework should be banned", "CMV: cats beat dogs",
                                               "CMV: taxes on sugar work", "[deleted by user]"])}
    rows = []
    for pid, title in titles.items():
        for j, score in enumerate((-0.5, 0.2, 0.7)):
            rows.append({"comment_id": f"{pid}c{j}", "post_id": pid, "offensiveness_score": score,
                         "post_title": title, "comment_body": f"About {title[5:]}: reply {j}"})
    rows.append({"comment_id": "gone", "post_id": "p0", "offensiveness_score": 0.1, "post_title": titles["p0"],
                 "comment_body": "[deleted]"})
    pd.DataFrame(rows).to_csv(root / "abuse/ruddit/ruddit_with_text.csv", index=False)
    (root / "abuse/one_million_posts").mkdir(parents=True, exist_ok=True)
    arts = pd.DataFrame({"id_article": [1, 2, 3, 4, 5, 6],
                         "article_title": ["Budget der Stadt", "Fußball-Cup", "Wahl in Wien", "Neue Buslinie",
                                           "Tennis-Finale", "Wahlrecht"],
                         "article_path": ["Newsroom/Inland/Wien", "Newsroom/Sport", "Newsroom/Inland/Wahl",
                                          "Newsroom/Inland/Verkehr", "Newsroom/Sport/Tennis", "Newsroom/Inland"],
                         "article_publishing_date": ["2015-06-01", "2015-06-02", "2015-06-20", "2015-06-03",
                                                     "2015-06-04", "2015-07-30"]})
    arts.to_csv(root / "abuse/one_million_posts/article_titles_partial.csv", index=False)
    posts = []
    for pid, art in enumerate([1, 1, 2, 3, 4, 5, 6, 7]):  # article 7 has no title: left out
        for cat, val in (("Inappropriate", int(pid == 1)), ("Discriminating", 0), ("OffTopic", int(pid == 2)),
                         ("SentimentNegative", 0)):
            posts.append({"ID_Post": pid, "ID_Parent_Post": None, "ID_Article": art, "ID_User": 1,
                          "CreatedAt": "2015-06-05", "Status": "online", "Headline": f"Titel {pid}",
                          "Body": f"Beitrag {pid}", "PositiveVotes": 0, "NegativeVotes": 0, "Category": cat,
                          "Value": val, "Fold": 1})
    posts.append({**posts[-1], "ID_Post": 99, "Category": "PersonalStories"})  # unlabelled for the three: left out
    pd.DataFrame(posts).to_csv(root / "abuse/one_million_posts/posts_labeled.csv.xz", index=False, compression="xz")
    return root


@pytest.fixture
def root(tmp_path):
    return add_news_sets(make_tiny_data(tmp_path / "data"))


def test_news_sets_are_loaded_labelled_and_split_by_article(root):
    df = data.load_news_comments(root, max_per_split=None, c3_test_size=0.9)
    assert set(df.site) == {"sfu", "ruddit", "omp", "c3", "ucc", "civil"}
    rud = df[df.site == "ruddit"]
    assert "[deleted]" not in set(rud.comment) and "[deleted by user]" not in set(rud.article_title)
    by_score = {c.rsplit(" ", 1)[-1]: a for c, a in zip(rud.comment, rud.abusive)}
    assert by_score["0"] == 0 and by_score["2"] == 1 and np.isnan(by_score["1"])  # -0.5 clean, 0.7 abusive, 0.2 neither
    omp = df[df.site == "omp"].set_index("comment")
    assert len(omp) == 7  # the post under the untitled article and the unlabelled one are left out
    assert omp.loc["Titel 1\nBeitrag 1", "abusive"] == 1 and omp.loc["Titel 2\nBeitrag 2", "off_topic"] == 1
    assert omp.loc["Titel 0\nBeitrag 0", "section"] == "Newsroom/Inland"
    for site in ("ruddit", "omp"):
        g = df[df.site == site]
        assert not set(g[g.split == "test"].article_id) & set(g[g.split == "validation"].article_id)
    assert (df[df.site == "civil"].abusive == 1).all() and set(df[df.site == "c3"].split) == {"test"}
    assert set(df[df.site == "ucc"].split) == {"validation", "test"}
    assert (df[df.site.isin(["c3", "ucc", "civil"])].article_title == "").all()


def test_each_comment_goes_under_another_and_a_close_article_of_its_site_and_half(root):
    df = data.load_news_comments(root, max_per_split=None)
    pairs = data.news_pairs(df)
    moved = pairs[pairs.pair != "own"]
    assert (moved.article_id != moved.own_article_id).all() and (moved.off_topic_pair == 1).all()
    titles = df.drop_duplicates("article_id").set_index("article_id")
    for _, r in moved.iterrows():
        assert titles.loc[r.article_id, "site"] == r.site and titles.loc[r.article_id, "split"] == r.split
        assert titles.loc[r.article_id, "article_title"] == r.article_title
    own = pairs[pairs.pair == "own"]
    assert len(own) == (df.article_title != "").sum() and own.off_topic_pair.equals(own.off_topic)
    # One Million Posts: the close article is in the same section, nearest in time; its sections here are
    # Newsroom/Inland (articles 1, 3, 4, 6) and Newsroom/Sport (2, 5)
    omp = pairs[(pairs.site == "omp") & (pairs.pair == "close")]
    section = titles.section
    for _, r in omp.iterrows():
        same = titles[(titles.site == "omp") & (titles.split == r.split) & (section == section[r.own_article_id])]
        if len(same) > 1:
            assert section[r.article_id] == section[r.own_article_id]


def test_budget_threshold_holds_at_most_the_budget_on_every_site():
    scores = {"a": np.linspace(0, 1, 101), "b": np.r_[np.zeros(90), np.full(10, 0.95)]}
    t = news.budget_threshold(scores, 0.05)
    assert (scores["a"] >= t).mean() <= 0.05 and (scores["b"] >= t).mean() <= 0.05
    assert t > 0.95  # site b's tenth of high scores sets it
    assert (scores["a"] >= news.budget_threshold({"a": scores["a"]}, 0.05)).mean() == pytest.approx(0.05, abs=0.01)


def test_thresholds_for_a_hold_budget_meet_it_per_reason_and_in_all():
    rng = np.random.default_rng(0)
    n = 400
    v = pd.DataFrame({"site": np.repeat(["sfu", "ruddit"], n // 2), "split": "validation",
                      "score_abusive": rng.random(n), "score_off_topic": rng.random(n), "score_spam": rng.random(n) * 0.5,
                      "language_supported": True, "abusive": 0.0, "off_topic": 0.0})
    v.loc[:9, "abusive"] = 1.0  # not ordinary: never counted against the budget
    v.loc[:9, "score_abusive"] = 1.0
    t = news.choose_thresholds(v, sites={r: ("sfu", "ruddit") for r in news.SCORED}, floors={"spam": 0.9})
    o = v[v.abusive == 0]
    for site, g in o.groupby("site"):
        for r in news.SCORED:
            assert (g[f"score_{r}"] >= t[r]).mean() <= 0.03
        held = (g.score_abusive >= t["abusive"]) | (g.score_off_topic >= t["off_topic"]) | (g.score_spam >= t["spam"])
        assert held.mean() <= 0.05
    assert t["spam"] == 0.9 and t["worst_site_total"] <= 0.05
    # a per-reason budget the total cannot take is tightened until it can
    t2 = news.choose_thresholds(v, reason_budget=0.04, total_budget=0.05, sites={r: ("sfu", "ruddit") for r in news.SCORED})
    assert t2["budget_reason"] < 0.04 and t2["worst_site_total"] <= 0.05


def test_false_holds_and_catches_counted_with_a_keyword_bundle(root):
    comments = pd.DataFrame({
        "site": "sfu", "comment": ["The bike lanes help", "Bike lanes, you idiot", "Lovely weather today",
                                   "Casinos bring jobs", "Casinos, you clown"],
        "article_id": ["a", "a", "a", "b", "b"], "article_title": ["Bike lanes", "Bike lanes", "Bike lanes",
                                                                   "Casinos in town", "Casinos in town"],
        "section": "", "date": pd.NaT, "abusive": [0.0, 1.0, 0.0, 0.0, 1.0], "off_topic": 0.0, "split": "test",
        "group": ["sfu:a", "sfu:a", "sfu:a", "sfu:b", "sfu:b"]})
    pairs = data.news_pairs(comments)
    scored = news.score_rows(KeywordBundle(), comments, pairs, batch_size=2)
    row = news.decision_table(scored)[0]
    # ordinary: "The bike lanes help" (shares a word: published), "Lovely weather today" (no shared word: held
    # as off_topic), "Casinos bring jobs" (published): 1 of 3
    assert row["n_ordinary"] == 3 and row["false_hold"] == pytest.approx(1 / 3)
    assert row["false_hold_by_reason"]["off_topic"] == pytest.approx(1 / 3)
    assert row["false_hold_by_reason"]["abusive"] == 0
    assert row["n_abusive"] == 2 and row["abusive_caught"] == 1.0
    # under the other article no comment shares a word of 4+ letters with its title: all held as off_topic
    assert row["other_caught_as_off_topic"] == 1.0 and row["n_other"] == 5
    assert news._catch_at_false_hold([0.1, 0.2, 0.3, 0.4], [0.35, 0.5], 0.25) == 0.5


@pytest.mark.model  # the cosine baseline runs the real sentence encoder
def test_news_only_evaluation_writes_the_report_and_the_card_tables(root, tmp_path):
    card = tmp_path / "bundle"
    card.mkdir()
    (card / "MODEL_CARD.md").write_text("# Model card: kw-1\n\nWhat it does.\n")
    out = tmp_path / "news"
    r = ev.evaluate_news(KeywordBundle(), root, out, others={"kw-old": KeywordBundle()}, model_card=card,
                         max_per_split=50)
    assert {d["site"] for d in r["decisions"]} >= {"sfu", "ruddit", "omp"}
    report = (out / "report.md").read_text()
    assert "False holds and catches on news comments" in report and "frozen MiniLM cosine" in report
    assert "Trade-off: hold budget against catch rate" in report
    text = (card / "MODEL_CARD.md").read_text()
    assert text.startswith("# Model card: kw-1\n") and "What it does." in text and text.count(ev.CARD_START) == 1
    ev.write_card_tables(card, r)  # a second run replaces the tables, it does not stack them
    assert (card / "MODEL_CARD.md").read_text().count(ev.CARD_START) == 1


ARTICLE = {"title": "City council approves new budget for buses and housing"}
OTHER = {"title": "Local team wins the football cup final"}
BUDGET = [f"The {w} in this budget {v}." for w in ("bus money", "housing plan", "tax rise", "council vote")
          for v in ("is overdue", "costs too much", "helps families", "needs an audit", "was rushed")]
FOOTBALL = [f"The {w} {v}." for w in ("striker", "goalkeeper", "home side", "cup final")
            for v in ("played brilliantly", "was a disgrace", "deserved to win", "let the fans down", "was tense")]


@pytest.mark.model  # trains an off-topic head on the real sentence encoder
def test_pair_head_ranks_own_article_first_and_scores_without_an_article(tmp_path):
    comments = BUDGET + FOOTBALL + BUDGET + FOOTBALL
    arts = [ARTICLE] * 20 + [OTHER] * 20 + [OTHER] * 20 + [ARTICLE] * 20
    y = [0] * 40 + [1] * 40
    off = models.OffTopicClassifier(max_iter=30, min_samples_leaf=3).fit(pairs(comments, arts), y)
    before = off.predict_proba(pairs(comments[:2], arts[:2]))
    off.fit_pair_head(pairs(comments, arts), y, columns=list(models.offtopic.PAIR_ONLY))
    assert off.pair_head_["names"] == list(models.offtopic.PAIR_ONLY)
    own = off.predict_proba([("Will the bus plan raise my taxes?", ARTICLE)])[0, 1]
    moved = off.predict_proba([("Will the bus plan raise my taxes?", OTHER)])[0, 1]
    assert own < moved
    # without an article, the pair columns take what comments under their own article typically show
    # without an article the pair columns take what comments under their own article typically show: with pair
    # inputs only, every comment without an article gets that one score, whatever it says
    p = off.predict_proba(pairs(["Anything at all", "lol first", "The budget is a scandal"]))[:, 1]
    assert 0 < p[0] < 1 and p == pytest.approx(np.full(3, p[0]))
    assert p[0] < moved
    import joblib

    joblib.dump(off, tmp_path / "off.joblib")
    again = joblib.load(tmp_path / "off.joblib")
    assert again.predict_proba([("Will the bus plan raise my taxes?", OTHER)])[0, 1] == pytest.approx(moved)
    assert before.shape == (2, 2)
