"""What `moderation evaluate`, its news report and SemEval cross-validation share: metrics, the baselines measured
beside the model, and batch scoring."""
from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import average_precision_score, confusion_matrix, f1_score, roc_auc_score
from tqdm import tqdm

HOLD_GRID = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


def ece(y, p, bins: int = 10) -> float:
    """Expected calibration error over equal-width bins."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    idx = np.minimum((p * bins).astype(int), bins - 1)
    return float(sum(abs(y[idx == b].mean() - p[idx == b].mean()) * (idx == b).mean()
                     for b in range(bins) if (idx == b).any()))


def reliability(y, p, bins: int = 10) -> list[tuple[float, float, int]]:
    """(mean predicted, observed rate, count) per non-empty bin."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    idx = np.minimum((p * bins).astype(int), bins - 1)
    return [(float(p[idx == b].mean()), float(y[idx == b].mean()), int((idx == b).sum()))
            for b in range(bins) if (idx == b).any()]


def binary_metrics(y, p, threshold: float | None = None) -> dict:
    y, p = np.asarray(y, int), np.asarray(p, float)
    out = {"n": int(len(y)), "positives": int(y.sum())}
    if len(np.unique(y)) < 2:
        return out | {"roc_auc": None, "pr_auc": None}
    out |= {"roc_auc": float(roc_auc_score(y, p)), "pr_auc": float(average_precision_score(y, p)),
            "brier": float(np.mean((p - y) ** 2)), "ece": ece(y, p)}
    if threshold is not None:
        pred = p >= threshold
        tn, fp, fn, tp = confusion_matrix(y, pred, labels=[0, 1]).ravel()
        out |= {"threshold": float(threshold), "f1": float(f1_score(y, pred, zero_division=0)),
                "precision": float(tp / max(tp + fp, 1)), "recall": float(tp / max(tp + fn, 1)),
                "confusion": {"tn": int(tn), "fp": int(fp), "fn": int(fn), "tp": int(tp)}}
    return out


def auc_bootstrap(y, p, q, n: int = 1000, seed: int = 0) -> dict | None:
    """95% bootstrap intervals for the ROC-AUC of p, of q, and of p - q on the same resampled rows (paired,
    stratified by class): whether the model beats the baseline beyond what a few hundred rows can show."""
    y, p, q = np.asarray(y, int), np.asarray(p, float), np.asarray(q, float)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    if not len(pos) or not len(neg):
        return None
    rng = np.random.default_rng(seed)
    a, b = np.empty(n), np.empty(n)
    for i in range(n):
        idx = np.concatenate([rng.choice(pos, len(pos)), rng.choice(neg, len(neg))])
        a[i], b[i] = roc_auc_score(y[idx], p[idx]), roc_auc_score(y[idx], q[idx])
    ci = lambda v: [float(np.quantile(v, 0.025)), float(np.quantile(v, 0.975))]  # noqa: E731
    return {"model": ci(a), "baseline": ci(b), "difference": ci(a - b), "resamples": n}


def auc(y, p) -> float | None:
    y = np.asarray(y, int)
    return float(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else None


def hold_table(y, p, grid=HOLD_GRID) -> list[dict]:
    """For each threshold: share of all comments held, and share of abusive ones caught."""
    y, p = np.asarray(y, int), np.asarray(p, float)
    return [{"threshold": t, "hold_rate": float((p >= t).mean()),
             "recall": float((p[y == 1] >= t).mean()) if y.any() else None} for t in grid]


def char_f1(pred: set, gold: set) -> float:
    """Toxic-spans F1 of one post: both empty counts as a perfect 1."""
    if not pred and not gold:
        return 1.0
    if not pred or not gold:
        return 0.0
    tp = len(pred & gold)
    return 2 * tp / (len(pred) + len(gold))


def profanity_check_scores(texts) -> np.ndarray:
    from profanity_check import predict_prob  # lazy: alt-profanity-check is a test-only extra and slow to import

    return np.asarray(predict_prob(list(texts)), float)


def tfidf_offtopic_scores(comments, titles, bodies) -> np.ndarray:
    """1 - cosine(comment, article title + body) with a TF-IDF fitted on this set's texts."""
    articles = [f"{t} {b}".strip() for t, b in zip(titles, bodies)]
    try:
        vec = TfidfVectorizer(sublinear_tf=True, stop_words="english").fit(list(comments) + articles)
    except ValueError:  # nothing but stop words in the whole set: no word in common anywhere
        return np.ones(len(articles))
    c, a = vec.transform(comments), vec.transform(articles)
    return 1.0 - np.asarray(c.multiply(a).sum(axis=1)).ravel()


def score_pairs(bundle, pairs, batch_size: int = 64, desc: str = "") -> list:
    """bundle.score_many over (text, article) pairs in batches, with a progress bar."""
    out = []
    for i in tqdm(range(0, len(pairs), batch_size), desc=f"score {desc}", unit="batch", leave=False):
        out += bundle.score_many(pairs[i:i + batch_size])
    return out
