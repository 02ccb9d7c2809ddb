"""SemEval cross-validation by thread: every labelled row is scored once, by a model that never saw its thread."""
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

import models
from models.offtopic import pairs

from tiny_data import make_tiny_data, write
from training import crossval, data


pytestmark = pytest.mark.model  # trains or runs the real sentence encoder

def _threads(root, n=15):
    """n forum threads of 4 answers: two on the question's subject, two unrelated (Bad)."""
    topics = ["bank", "visa", "school", "car", "flat", "doctor", "phone", "salary", "beach", "gym",
              "driving", "rent", "food", "taxi", "flight"]
    body = []
    for i, t in enumerate(topics[:n]):
        body.append(f"""<Thread THREAD_SEQUENCE="Q{i}_R1"><RelQuestion RELQ_ID="Q{i}_R1">
<RelQSubject>Best {t} in Doha?</RelQSubject><RelQBody>Where can I find a good {t} here?</RelQBody></RelQuestion>
<RelComment RELC_ID="a{i}" RELC_RELEVANCE2RELQ="Good"><RelCText>The {t} near the corniche is good</RelCText></RelComment>
<RelComment RELC_ID="b{i}" RELC_RELEVANCE2RELQ="PotentiallyUseful"><RelCText>Try a {t} in Al Sadd</RelCText></RelComment>
<RelComment RELC_ID="c{i}" RELC_RELEVANCE2RELQ="Bad"><RelCText>thanks for the info number {i}</RelCText></RelComment>
<RelComment RELC_ID="d{i}" RELC_RELEVANCE2RELQ="Bad"><RelCText>hello everyone {i} lol</RelCText></RelComment>
</Thread>""")
    write(root / "topic/semeval2016_cqa/more.xml", "<xml>" + "\n".join(body) + "</xml>\n")
    return root


class _Overlap:
    """Off-topic when the comment shares no word with its question."""

    def predict_proba(self, X):
        p = np.array([0.1 if set(c.lower().split()) & set(f"{a.title} {a.body}".lower().replace("?", "").split())
                      else 0.9 for c, a in X])
        return np.column_stack([1 - p, p])


def test_each_semeval_row_is_scored_once_by_a_model_that_never_saw_its_thread(tmp_path, monkeypatch):
    root = _threads(make_tiny_data(tmp_path / "data"))
    seen = []

    def fake_fit(o_train, o_cal, news, store, **params):
        assert params == {"comment_head": False}  # passed through to the classifier
        seen.append((set(o_train[o_train.source == "semeval2016_cqa"].group),
                     set(o_cal[o_cal.source == "semeval2016_cqa"].group)))
        return _Overlap(), 0.5, {}

    monkeypatch.setattr(crossval, "fit_off_topic", fake_fit)
    result = crossval.semeval_crossval(root, folds=3, quick=True, store={}, comment_head=False)
    sem = data.load_topic_sets(root, sources=("semeval2016_cqa",))
    fold = data.grouped_folds(sem, 3)
    assert len(seen) == 3 and result["folds"] == 3
    assert sum(f["n"] for f in result["per_fold"]) == result["pooled"]["n"] == len(sem)
    for k, (train_groups, cal_groups) in enumerate(seen):
        held = set(sem[fold == k].group)
        assert held and not held & (train_groups | cal_groups)
        assert result["per_fold"][k]["threads"] == len(held)
    # the scorer is fixed, so pooled and per-fold numbers must be its own on the same rows
    p = _Overlap().predict_proba(pairs(sem.comment, [models.ArticleText(t, b) for t, b in
                                                              zip(sem.article_title, sem.article_body)]))[:, 1]
    y = sem.label.to_numpy()
    assert result["pooled"]["roc_auc"] == pytest.approx(roc_auc_score(y, p))
    for k, f in enumerate(result["per_fold"]):
        assert f["roc_auc"] == pytest.approx(roc_auc_score(y[fold == k], p[fold == k]))
        assert f["recall"] == pytest.approx((p[(fold == k) & (y == 1)] >= 0.5).mean())
    assert result["pooled"]["baseline_roc_auc"] > 0.5  # TF-IDF cosine also sees the word overlap
    # hard negatives: each fold's on-topic answers, also paired with another held-out thread's question
    for k, f in enumerate(result["per_fold"]):
        test = sem[fold == k]
        hard = data.build_hard_negatives(test, seed=0)
        assert f["hard_negatives"] == len(hard) > 0 and not (hard.group.map(dict(zip(test.group, test.article_title)))
                                                             == hard.article_title).any()
        rows = pd.concat([test[test.label == 0], hard])
        hp = _Overlap().predict_proba(pairs(rows.comment, [models.ArticleText(t, b) for t, b in
                                                                    zip(rows.article_title, rows.article_body)]))[:, 1]
        assert f["hard_roc_auc"] == pytest.approx(roc_auc_score(rows.label, hp), abs=1e-4)
    assert result["mean_hard_roc_auc"] == pytest.approx(np.mean([f["hard_roc_auc"] for f in result["per_fold"]]))
    # and the evaluation report shows every fold, the mean and the pooled numbers
    from training.evaluate import write_report
    report = tmp_path / "report.md"
    write_report({"bundle_version": "v", "command": "moderation evaluate --semeval-folds 3", "date": "today",
                  "seconds": 1.0, "held_out": {}, "thresholds": {}, "sets": [], "semeval_crossval": result}, [], report)
    text = report.read_text()
    assert "## SemEval cross-validated by thread (3 folds)" in text
    assert f"**{result['mean_roc_auc']:.3f} ± {result['sd_roc_auc']:.3f}**" in text
    assert sum(line.startswith(f"| {k} | ") for k in range(3) for line in text.splitlines()) == 3
    assert f"{result['mean_hard_roc_auc']:.3f} (mean)" in text

def test_crossval_needs_two_folds(tmp_path):
    with pytest.raises(ValueError, match="at least 2 folds"):
        crossval.semeval_crossval(tmp_path, folds=1, store={})


def test_evaluate_refuses_a_single_fold():
    from click.testing import CliRunner
    from service.cli import main

    result = CliRunner().invoke(main, ["evaluate", "--semeval-folds", "1"])
    assert result.exit_code == 2 and "at least 2 folds" in result.output
