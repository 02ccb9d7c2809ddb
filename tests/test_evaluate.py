"""`moderation evaluate`: metrics on hand-computed cases, and a whole run on tiny data with a keyword bundle."""
import json

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.metrics import roc_auc_score

import models
from tiny_data import KeywordBundle, make_tiny_data
from training import evaluate as ev


pytestmark = pytest.mark.model  # trains or runs the real sentence encoder

def test_binary_metrics_by_hand():
    y = [0, 0, 0, 1, 1]
    p = [0.1, 0.4, 0.6, 0.7, 0.3]
    m = ev.binary_metrics(y, p, threshold=0.5)
    assert m["confusion"] == {"tn": 2, "fp": 1, "fn": 1, "tp": 1}
    assert m["precision"] == 0.5 and m["recall"] == 0.5 and m["f1"] == pytest.approx(0.5)
    assert m["roc_auc"] == pytest.approx(4 / 6)  # 4 of the 6 (pos, neg) pairs ordered right
    assert m["brier"] == pytest.approx(np.mean([0.01, 0.16, 0.36, 0.09, 0.49]))
    assert ev.binary_metrics([1, 1], [0.2, 0.9])["roc_auc"] is None  # one class: no AUC, no crash


def test_calibration_error():
    y = np.array([0] * 80 + [1] * 20)
    assert ev.ece(y, np.full(100, 0.2)) == pytest.approx(0.0)
    assert ev.ece(y, np.full(100, 0.7)) == pytest.approx(0.5)
    assert ev.reliability(y, np.full(100, 0.2)) == [(pytest.approx(0.2), pytest.approx(0.2), 100)]


def test_hold_table():
    rows = ev.hold_table([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9], grid=(0.3, 0.5))
    assert rows == [{"threshold": 0.3, "hold_rate": 0.75, "recall": 1.0},
                    {"threshold": 0.5, "hold_rate": 0.5, "recall": 0.5}]


def test_char_f1_and_list_baseline():
    assert ev.char_f1(set(), set()) == 1.0
    assert ev.char_f1({1}, set()) == 0.0
    assert ev.char_f1({1, 2, 3, 4}, {3, 4}) == pytest.approx(2 * 2 / 6)
    text = "what a shit idea, you twat"
    assert [text[s["begin"]:s["end"]] for s in ev.profanity_list_spans(text)] == ["shit", "twat"]


def test_tfidf_baseline_ranks_unrelated_higher():
    s = ev.tfidf_offtopic_scores(["the council budget raises taxes", "great goal in the cup final"],
                                 ["Council budget", "Council budget"], ["Taxes rise", "Taxes rise"])
    assert s[0] < s[1] and s[1] == pytest.approx(1.0)


def test_profanity_check_baseline_runs():
    p = ev.profanity_check_scores(["you are a fucking idiot", "the weather is nice today"])
    assert p[0] > 0.5 > p[1]


@pytest.fixture
def run(tmp_path):
    root = make_tiny_data(tmp_path / "data")
    bundle = KeywordBundle(metadata={"held_out": {"c3_test_size": 0.9, "semeval_test_size": 0.9, "seed": 0}})
    out = tmp_path / "report"
    return ev.evaluate(bundle, root, out, obfuscated=10, span_posts=10), out


def test_evaluate_writes_report_plots_and_results(run):
    results, out = run
    names = [s["name"] for s in results["sets"]]
    assert "OLID test" in names and "ARC test (unseen comments)" in names and "ARC hard negatives" in names
    olid = next(s for s in results["sets"] if s["name"] == "OLID test")
    # OLID test: "those people are vermin" (OFF) and "hello" (NOT): the keyword bundle ranks them right
    assert olid["model"]["roc_auc"] == 1.0 and olid["model"]["confusion"] == {"tn": 1, "fp": 0, "fn": 0, "tp": 1}
    assert "roc_auc" in olid["baseline"] and len(olid["hold"]) == len(ev.HOLD_GRID)
    arc = next(s for s in results["sets"] if s["name"] == "ARC test (unseen comments)")
    assert arc["kind"] == "synthetic" and arc["model"]["n"] >= 1
    assert results["held_out"]["c3_test_size"] == 0.9
    assert results["obfuscation"]["rows"][0]["method"] == "original"
    assert {r["method"] for r in results["obfuscation"]["rows"][1:]} == set(ev.METHODS)
    assert 0 <= results["obfuscation"]["n_listed"] <= results["obfuscation"]["n"]
    report = (out / "report.md").read_text()
    assert "# Model evaluation: bundle kw-1" in report and "alt-profanity-check" in report
    assert "Hold rate against abuse recall" in report and "Obfuscated abuse" in report
    assert (out / "abuse.png").stat().st_size > 1000 and "![abuse.png](abuse.png)" in report
    assert json.loads((out / "results.json").read_text())["bundle_version"] == "kw-1"


def test_contested_aucs_by_hand():
    y = [1, 1, 0, 0, 0]
    contested = [False, False, False, True, True]
    out = ev.contested_aucs(y, contested, {"model": [0.9, 0.6, 0.1, 0.7, 0.5]})
    # against every clean row: 5 of 6 pairs right; against the unanimous one: 2 of 2; against the contested: 3 of 4
    assert out["all"] == {"negatives": 3, "model": 5 / 6}
    assert out["unanimous"] == {"negatives": 1, "model": 1.0}
    assert out["contested"] == {"negatives": 2, "model": 0.75} and out["positives"] == 2


def test_evaluate_reports_contested_labels_and_ucc_attributes(run):
    results, out = run
    ag = results["label_agreement"]
    # UCC test (tiny): "Fine analysis" (antagonize, 0.1), "Shut up, you idiot" (both, 0.9); clean: "Thanks for the
    # clear report" (unanimous, 0.1), "Rather harsh words" (a third said hostile: contested, 0.1)
    ucc = ag["UCC test"]
    assert ucc["positives"] == 2 and ucc["unanimous"]["negatives"] == 1 and ucc["contested"]["negatives"] == 1
    assert ucc["all"]["model"] == 0.75 and ucc["contested"]["model"] == 0.75
    attrs = ag["UCC test by attribute"]
    assert attrs["hostile"]["model"] == 1.0 and attrs["hostile"]["positives"] == 1
    assert attrs["antagonize"]["model"] == 0.75 and attrs["antagonize"]["published_bert"] == 0.82
    report = (out / "report.md").read_text()
    assert "Abuse labels: unanimous and contested" in report and "| hostile | 4 (1) | **1.000** |" in report


def test_evaluate_command(monkeypatch, tmp_path):
    from service.cli import main

    root = make_tiny_data(tmp_path / "data")
    monkeypatch.setattr(models, "load_bundle", lambda path=None: KeywordBundle())
    out = tmp_path / "r"
    result = CliRunner().invoke(main, ["evaluate", "--data", str(root), "--output", str(out), "--obfuscated", "0",
                                       "--span-posts", "0"])
    assert result.exit_code == 0, result.output
    assert "OLID test" in result.output and (out / "report.md").exists()


def test_evaluate_on_a_labelled_export(monkeypatch, tmp_path):
    from service.cli import main

    monkeypatch.setattr(models, "load_bundle", lambda path=None: KeywordBundle())
    good = tmp_path / "site.jsonl"
    rows = [("you idiot", 1, 0), ("thanks, useful budget piece", 0, 0), ("what a clown", 1, 0),
            ("the football final was great", 0, 1), ("budget taxes too high", 0, 0)]
    good.write_text("".join(json.dumps({"text": t, "article_title": "City budget", "article_body": "Taxes rise.",
                                        "abusive": a, "off_topic": o}) + "\n" for t, a, o in rows))
    out = tmp_path / "r"
    result = CliRunner().invoke(main, ["evaluate", "--no-public", "--labelled", str(good), "--output", str(out),
                                       "--obfuscated", "0"])
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    by_name = {s["name"]: s for s in results["sets"]}
    assert by_name["site.jsonl (abusive)"]["model"]["roc_auc"] == 1.0
    assert by_name["site.jsonl (off-topic)"]["model"]["positives"] == 1

    bad = tmp_path / "bad.csv"
    bad.write_text("text,abusive\nfine,0\nhm,maybe\n")
    result = CliRunner().invoke(main, ["evaluate", "--no-public", "--labelled", str(bad), "--output", str(out)])
    assert result.exit_code == 1 and "1 bad row(s)" in result.output and "line 3: abusive must be 0 or 1" in result.output
    result = CliRunner().invoke(main, ["evaluate", "--no-public", "--output", str(out)])
    assert result.exit_code == 2 and "--labelled" in result.output


def test_on_topic_news_comments_split_by_article_and_false_holds_counted(tmp_path):
    import pandas as pd

    from training import data
    titles = [f"Story number {i} about the harbour budget" for i in range(12)]
    comments = [f"Comment {j} on item {i}" + (" harbour budget" if j % 2 else " nothing shared") for i in range(12)
                for j in range(4)]
    root = tmp_path / "data"
    (root / "abuse/sfu_ctc").mkdir(parents=True)
    pd.DataFrame({"comment": comments + ["   "], "title": [t for t in titles for _ in range(4)] + [titles[0]]}).to_csv(
        root / "abuse/sfu_ctc/SFU_constructiveness_toxicity.csv", index=False)
    bound, held_out = data.load_news_on_topic(root)
    assert len(bound) + len(held_out) == 48 and (bound.label == 0).all() and (held_out.label == 0).all()
    assert not set(bound.article_title) & set(held_out.article_title), "split by article"
    result = ev.news_hold_check(KeywordBundle(), root, batch_size=8)
    # the keyword bundle holds (0.8 >= 0.5) exactly the comments that share no 4+ letter word with the title
    assert result["n"] == len(held_out) and result["held"] == pytest.approx(0.5)
    assert [x["held"] for x in result["by_threshold"]][0] == 1.0


def test_auc_bootstrap_brackets_the_auc_and_the_paired_difference():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 200)
    good = y + rng.normal(0, 0.7, len(y))      # AUC about 0.84
    noise = rng.normal(0, 1, len(y))            # AUC about 0.5
    bs = ev.auc_bootstrap(y, good, noise, n=300)
    auc_good, auc_noise = roc_auc_score(y, good), roc_auc_score(y, noise)
    assert bs["model"][0] < auc_good < bs["model"][1] and bs["baseline"][0] < auc_noise < bs["baseline"][1]
    assert bs["difference"][0] > 0.2             # clearly ahead, beyond noise
    same = ev.auc_bootstrap(y, good, good + 1e-9, n=100)
    assert same["difference"][0] <= 0 <= same["difference"][1]
    assert ev.auc_bootstrap([1, 1, 1], [0.1, 0.2, 0.3], [0.3, 0.2, 0.1]) is None   # one class: no interval
