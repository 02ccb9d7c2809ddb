"""Loaders against tiny hand-written copies of each data set's file format (never the real data)."""
import json

import numpy as np
import pandas as pd
import pytest

from tiny_data import make_tiny_data
from training import data


@pytest.fixture
def root(tmp_path):
    return make_tiny_data(tmp_path / "data")


def test_abuse_label_mapping_and_columns(root):
    df = data.load_abuse_sets(root)
    assert list(df.columns) == data.ABUSE_COLUMNS
    by_text = df.set_index("text")
    assert by_text.loc["You are a clown and a liar", "label"] == 1
    assert by_text.loc["You are a clown and a liar", "insult"] == 1  # personal_attack 2 of 3
    assert by_text.loc["Taxes are too high", "insult"] == pytest.approx(2 / 3)  # 1 of 3: soft, not a full label
    assert by_text.loc["Fine analysis", "label"] == 1 and by_text.loc["Fine analysis", "split"] == "test"
    assert by_text.loc["Morons all", "label"] == 1 and by_text.loc["Nice", "label"] == 0
    assert by_text.loc["@USER you are dumb & loud", "insult"] == 1  # html entities decoded
    assert by_text.loc["shit day", "obscene"] == 1
    assert by_text.loc["those people are vermin", "identity_attack"] == 1
    assert by_text.loc["those people are vermin", "split"] == "test"
    assert by_text.loc["covert jab", "label"] == 0 and by_text.loc["you rascal", "label"] == 1
    assert by_text.loc["hit them", "split"] == "dev"
    assert by_text.loc["you suck", "label"] == 1 and np.isnan(by_text.loc["you suck", "identity_attack"])
    assert by_text.loc["group x are vermin", "identity_attack"] == 1
    assert by_text.loc["You idiot, shut up", "insult"] == 1
    assert by_text.loc["You idiot, shut up", "threat"] == 0  # only one annotator of three said threat
    # a non-abusive comment is none of the sub-types, whatever its set says
    assert by_text.loc["Good point about the budget", ["insult", "obscene", "identity_attack", "threat"]].eq(0).all()


def test_c3_trains_towards_its_crowd_rating_and_other_sets_towards_their_label(root):
    df = data.load_abuse_sets(root)
    by_text = df.set_index("text")
    assert by_text.loc["You are a clown and a liar", "target"] == 1.0  # mean rating 3: past "toxic" (2)
    assert by_text.loc["Taxes are too high", "target"] == 1.0  # exactly 2.0, as the label's threshold
    assert by_text.loc["Good point about the budget", "target"] == 0.0
    sharp = by_text.loc["A rather sharp remark"]  # mean rating 1.4: not abusive, but 40% of the way there
    assert sharp["label"] == 0 and sharp["target"] == pytest.approx(0.4)
    others = df[df.source != "c3"]
    assert (others.target == others.label).all()


def test_c3_and_ucc_duplicate_kept_once_on_the_held_out_side(root):
    df = data.load_abuse_sets(root)
    keys = df["text"].map(data.text_key)
    assert keys.is_unique
    shared = df[keys == "shared text that ucc also has"]
    assert len(shared) == 1 and shared["source"].item() == "ucc" and shared["split"].item() == "dev"


def test_davidson_is_capped(root):
    df = data.load_abuse_sets(root, davidson_cap=5, seed=1)
    assert (df["source"] == "davidson").sum() == 5
    assert (data.load_abuse_sets(root, davidson_cap=None)["source"] == "davidson").sum() == 20


def test_unknown_set_is_an_error(root):
    with pytest.raises(ValueError, match="unknown abuse sets"):
        data.load_abuse_sets(root, sources=("c3", "nope"))


def test_spans_majority_of_marking_annotators(root):
    spans = data.load_spans(root).set_index("comment_id")
    assert spans.loc["100", "spans"] == [{"begin": 4, "end": 9, "type": "insult"}]
    assert spans.loc["101", "spans"] == []
    assert set(spans["split"]) <= {"train", "test"}


def test_topic_sets(root):
    df = data.load_topic_sets(root)
    assert list(df.columns) == data.TOPIC_COLUMNS
    sem = df[df.source == "semeval2016_cqa"].set_index("comment")
    assert sem.loc["lol first", "label"] == 1 and sem.loc["maybe QNB", "label"] == 0
    assert sem.loc["HSBC is good", "article_title"] == "Best bank?"
    assert sem["group"].nunique() == 1 and (sem["kind"] == "human").all()
    arc = df[df.source == "arc"]
    assert (arc["kind"] == "synthetic").all()
    # body 1 is in train, so its test row is marked; body 3 is only in test
    test = arc[arc.split == "test"].set_index("comment")
    assert test.loc["Bike lanes slow traffic", "seen_in_train"]
    assert not test.loc["Comment sections are toxic", "seen_in_train"]
    # a comment's group is its own debate, also on its unrelated rows
    assert set(arc[arc.comment == "Bike lanes slow traffic"]["group"]) == {"arc:Bike lanes work"}
    fnc = df[df.source == "fnc1"]
    assert fnc.set_index("comment").loc["Meteorite in Nicaragua"].label.tolist() == [0, 1]
    yt = df[df.source == "youtube_spam"].set_index("comment")
    assert yt.loc["check out my channel", "label"] == 1 and yt.loc["love this song", "article_title"] == "PSY - Gangnam Style"


def test_hard_negatives_pick_the_closest_other_article():
    pairs = pd.DataFrame({
        "comment": ["Rates rise again", "The striker scored twice", "Mortgage costs up"],
        "article_title": ["Central bank raises interest rates", "Local team wins cup final",
                          "Banks raise mortgage rates"],
        "article_body": ["", "", ""], "label": [0, 0, 0], "group": ["a", "b", "c"],
        "source": "t", "kind": "human", "split": "train", "seen_in_train": False})
    hard = data.build_hard_negatives(pairs, max_article_similarity=0.99)
    assert (hard["label"] == 1).all() and (hard["kind"] == "hard_negative").all()
    first = hard[hard.comment == "Rates rise again"]
    assert first["article_title"].item() == "Banks raise mortgage rates"
    assert first["group"].item() == "a"
    # near-copies of the own article are excluded
    assert data.build_hard_negatives(pairs, max_article_similarity=0.01).empty
    # a pool widens the candidates beyond the pairs' own articles
    pool = pairs.assign(article_title=["", "", "Rates rise at the central bank"], group=["a", "b", "d"])
    wide = data.build_hard_negatives(pairs.iloc[:2], max_article_similarity=0.99, pool=pool.iloc[2:])
    assert wide.set_index("comment").loc["Rates rise again", "article_title"] == "Rates rise at the central bank"


def test_grouped_split_keeps_groups_and_texts_apart():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"text": [f"text {i}" for i in range(400)], "group": rng.integers(0, 60, 400).astype(str)})
    df.loc[5, "text"] = df.loc[300, "text"] = "same words"  # identical text in two groups
    df.loc[300, "group"] = "other"
    train, test = data.grouped_split(df, "group", test_size=0.3, seed=3)
    assert len(train) + len(test) == len(df)
    assert not set(train["group"]) & set(test["group"])
    assert not set(train["text"]) & set(test["text"])
    assert 0.1 < len(test) / len(df) < 0.5
    # reproducible from (seed, test_size) alone, whatever the row order
    _, test2 = data.grouped_split(df.sample(frac=1, random_state=1), "group", test_size=0.3, seed=3)
    assert set(test2.index) == set(test.index)


def test_grouped_folds_keep_groups_and_texts_in_one_fold_and_fold_0_is_the_shipped_split():
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"comment": [f"text {i}" for i in range(500)], "group": rng.integers(0, 80, 500).astype(str)})
    df.loc[7, "comment"] = df.loc[400, "comment"] = "same words"  # identical text in two groups
    df.loc[400, "group"] = "other"
    fold = data.grouped_folds(df, 5, seed=0)
    assert set(fold) == set(range(5))
    assert (df.groupby("group").apply(lambda g: fold[g.index].min() == fold[g.index].max(), include_groups=False)).all()
    assert fold[7] == fold[400]
    _, test = data.grouped_split(df, test_size=0.2, seed=0)
    assert set(test.index) == set(df.index[fold == 0])
    assert (data.grouped_folds(df.iloc[::-1], 5, seed=0) == fold[::-1]).all()  # row order never matters


def test_labelled_export_csv_reports_bad_rows_by_line(tmp_path):
    p = tmp_path / "export.csv"
    p.write_text('text,article_title,article_body,abusive,off_topic\n'
                 '"Fine, thanks",Budget,"Long\nbody",0,0\n'
                 'you idiot,Budget,,1,\n'
                 ',Budget,,0,0\n'
                 'hello,Budget,,2,0\n'
                 'hi,Budget,,true,yes\n', encoding="utf-8")
    df, errors = data.load_labelled_export(p)
    assert df["text"].tolist() == ["Fine, thanks", "you idiot"]
    assert df["abusive"].tolist() == [0, 1]
    assert df["off_topic"].iloc[0] == 0 and np.isnan(df["off_topic"].iloc[1])
    assert errors == ["line 5: text is missing or empty", "line 6: abusive must be 0 or 1, got '2'",
                      "line 7: off_topic must be 0 or 1, got 'yes'"]


def test_labelled_export_jsonl(tmp_path):
    p = tmp_path / "export.jsonl"
    lines = [json.dumps({"text": "ok", "article_title": "T", "abusive": 0}), "{broken",
             json.dumps([1]), "", json.dumps({"text": "bad", "abusive": None}),
             json.dumps({"text": "x", "abusive": 1, "off_topic": 1, "article_body": 5})]
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    df, errors = data.load_labelled_export(p)
    assert df["text"].tolist() == ["ok"] and df["article_title"].tolist() == ["T"]
    assert [e.split(":")[0] for e in errors] == ["line 2", "line 3", "line 5", "line 6"]
    assert "abusive is missing" in errors[2] and "article_body must be a string" in errors[3]


def test_labelled_export_unreadable_files(tmp_path):
    with pytest.raises(data.LabelledDataError, match="missing column"):
        p = tmp_path / "a.csv"
        p.write_text("comment,label\nx,1\n")
        data.load_labelled_export(p)
    with pytest.raises(data.LabelledDataError, match="expected a .csv"):
        p = tmp_path / "a.xlsx"
        p.write_text("x")
        data.load_labelled_export(p)
    with pytest.raises(data.LabelledDataError, match="no such file"):
        data.load_labelled_export(tmp_path / "missing.csv")


def test_labelled_export_spam_column_is_optional(tmp_path):
    new, old = tmp_path / "new.csv", tmp_path / "old.jsonl"
    new.write_text("text,abusive,off_topic,spam\nbuy pills,0,1,1\nnice,0,0,0\nhm,0,1,\nodd,0,0,maybe\n")
    old.write_text(json.dumps({"text": "buy pills", "abusive": 0, "off_topic": 1}) + "\n")
    df, errors = data.load_labelled_export(new)
    assert df.spam.tolist()[:2] == [1, 0] and np.isnan(df.spam[2]) and errors == ["line 5: spam must be 0 or 1, got 'maybe'"]
    df, errors = data.load_labelled_export(old)   # exports from before the spam label still load
    assert not errors and np.isnan(df.spam[0]) and df.off_topic.tolist() == [1]
