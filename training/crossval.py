"""SemEval off-topic quality cross-validated by thread: the shipped training recipe, refitted once per fold.

The shipped bundle holds out one fold (fold 0 of 5: `grouped_split(test_size=0.2)`); one split of 790 rows
is a noisy estimate, so this refits the off-topic head k times, each time holding out another fifth of the
threads (grouped by thread and by identical text), with the same synthetic pairs, hard negatives, weights,
calibration split and threshold rule as `moderation train`. The TF-IDF cosine baseline is scored on the
same rows in the same run. Each fold also scores hard negatives: its on-topic answers paired with the most
similar question of another held-out thread, so a change that helps the human labels but blurs the pairing
shows up.
"""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from models.encoder import get_encoder
from models.offtopic import pairs

from . import data
from .embeddings import CACHE_DIR, EmbeddingStore
from .metrics import tfidf_offtopic_scores
from .train import CAPS, fit_off_topic, topic_splits, _articles, _auc

log = logging.getLogger("moderation.crossval")


def _at(y, p, t) -> tuple[float | None, float]:
    held = p >= t
    return (float(y[held].mean()) if held.any() else None), float(held[y == 1].mean()) if (y == 1).any() else 0.0


def semeval_crossval(root, folds: int = 5, seed: int = 0, quick: bool = False, store=None, **params) -> dict:
    """Per-fold and pooled out-of-fold ROC-AUC / PR-AUC on SemEval human labels, model beside TF-IDF cosine;
    precision and recall at each fold's own threshold (chosen as training chooses it, never on the fold).
    store: the encoder's embedding cache (default: the one `moderation train` keeps). params: OffTopicClassifier
    settings to change from the shipped recipe, to measure what one of them adds (e.g. comment_head=False)."""
    if folds < 2:
        raise ValueError("cross-validation needs at least 2 folds")
    caps = CAPS["quick" if quick else "full"]
    if store is None:  # embeddings `moderation train` cached are reused, new ones kept for the next run
        enc = get_encoder()
        if enc.store is None:
            enc.store = EmbeddingStore(CACHE_DIR / "embeddings.pkl")
        store = enc.store
    topics = data.load_topic_sets(root)
    news, _ = data.load_news_on_topic(root)
    rows, oof = [], []
    for k in range(folds):
        o_train, o_cal, o_held = topic_splits(root, caps, seed, semeval_fold=(k, folds), topics=topics)
        test = o_held[o_held.source == "semeval2016_cqa"]
        log.info("fold %d/%d: %d SemEval rows held out (%d threads)", k + 1, folds, len(test), test.group.nunique())
        off, t_off, _ = fit_off_topic(o_train, o_cal, news, store, **params)
        p = off.predict_proba(pairs(test.comment, _articles(test)))[:, 1]
        base = tfidf_offtopic_scores(test.comment.tolist(), test.article_title.tolist(), test.article_body.tolist())
        y = test.label.to_numpy(int)
        precision, recall = _at(y, p, t_off)
        hard = pd.concat([test[test.label == 0], data.build_hard_negatives(test, seed=seed)], ignore_index=True)
        hard_p = off.predict_proba(pairs(hard.comment, _articles(hard)))[:, 1]
        hard_base = tfidf_offtopic_scores(hard.comment.tolist(), hard.article_title.tolist(),
                                          hard.article_body.tolist())
        rows.append({"fold": k, "n": int(len(y)), "threads": int(test.group.nunique()), "positives": int(y.sum()),
                     "roc_auc": float(roc_auc_score(y, p)), "baseline_roc_auc": float(roc_auc_score(y, base)),
                     "pr_auc": float(average_precision_score(y, p)),
                     "baseline_pr_auc": float(average_precision_score(y, base)),
                     "threshold": float(t_off), "precision": precision, "recall": recall,
                     "hard_negatives": int(hard.label.sum()), "hard_roc_auc": _auc(hard.label.to_numpy(int), hard_p),
                     "baseline_hard_roc_auc": _auc(hard.label.to_numpy(int), hard_base)})
        oof.append((y, p, base))
        log.info("fold %d: ROC-AUC %.3f (TF-IDF cosine %.3f)", k, rows[-1]["roc_auc"], rows[-1]["baseline_roc_auc"])
    y, p, base = (np.concatenate(x) for x in zip(*oof))
    auc = np.array([r["roc_auc"] for r in rows])
    hard_auc = [r["hard_roc_auc"] for r in rows if r["hard_roc_auc"] is not None]
    base_auc = np.array([r["baseline_roc_auc"] for r in rows])
    return {"folds": folds, "seed": seed, "quick": quick, "params": params, "per_fold": rows,
            "mean_roc_auc": float(auc.mean()), "sd_roc_auc": float(auc.std(ddof=1)),
            "baseline_mean_roc_auc": float(base_auc.mean()), "baseline_sd_roc_auc": float(base_auc.std(ddof=1)),
            "mean_hard_roc_auc": float(np.mean(hard_auc)) if hard_auc else None,
            "pooled": {"n": int(len(y)), "positives": int(y.sum()), "roc_auc": float(roc_auc_score(y, p)),
                       "baseline_roc_auc": float(roc_auc_score(y, base)),
                       "pr_auc": float(average_precision_score(y, p)),
                       "baseline_pr_auc": float(average_precision_score(y, base))}}
