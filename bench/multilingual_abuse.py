"""Abuse (and German off-topic) in Roman Urdu and German: what a per-language model could reach, beside the
baselines, measured in one run: whether a per-language head is worth shipping. The Roman Urdu one now is
(`python -m training.language_heads build`, measured in the bundle's model card); German is not.

    python bench/multilingual_abuse.py [--data ../shared/data] [--bundle-sample 500]

Sets and splits:
  Roman Urdu  RUHSOLD task 1: train (+ validation) to fit, test to measure; abusive = label 0.
  German      One Million Posts (DER STANDARD), the 3,599 posts with moderator labels; abusive = Inappropriate or
              Discriminating, off-topic = OffTopic; split by article (hash of ID_Article, 20 % test), so no
              article's posts sit on both sides. Text = headline + body.
Models (ROC-AUC on the test side, 95 % paired bootstrap interval against the word TF-IDF baseline):
  char TF-IDF LR   character 2-5-grams (robust to Roman Urdu's free spelling), logistic regression (candidate)
  word TF-IDF LR   word 1-2-grams, logistic regression (the TF-IDF baseline)
  alt-profanity-check  the English profanity model (a baseline that needs no training)
  shipped bundle   our English abuse score, on a random --bundle-sample of the test side (scoring is slow here)
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from training.language_heads import char_model, word_model  # noqa: E402  (the shipped Roman Urdu head's recipe)


def roman_urdu(root: Path):
    read = lambda name: pd.read_csv(root / "abuse/ruhsold" / name, sep="\t", header=None,  # noqa: E731
                                    quoting=csv.QUOTE_NONE, names=["text", "label"])
    train = pd.concat([read("task_1_train.tsv"), read("task_1_validation.tsv")], ignore_index=True)
    test = read("task_1_test.tsv")
    for d in (train, test):
        d["text"] = d["text"].astype(str)
        d["y"] = (d["label"] == 0).astype(int)
    return train, test


def german(root: Path):
    d = pd.read_csv(root / "abuse/one_million_posts/posts_labeled.csv.xz")
    d = d[d.Category.isin(["Inappropriate", "Discriminating", "OffTopic"])]
    wide = d.pivot_table(index=["ID_Post", "ID_Article"], columns="Category", values="Value", aggfunc="max")
    wide = wide.dropna().reset_index()
    text = d.drop_duplicates("ID_Post").set_index("ID_Post")
    wide["text"] = (text.loc[wide.ID_Post, "Headline"].fillna("").astype(str).values + "\n" +
                    text.loc[wide.ID_Post, "Body"].fillna("").astype(str).values)
    wide["y"] = ((wide.Inappropriate == 1) | (wide.Discriminating == 1)).astype(int)
    wide["off_topic"] = (wide.OffTopic == 1).astype(int)
    test = wide.ID_Article.map(lambda a: int(hashlib.sha256(f"omp:{a}".encode()).hexdigest()[:8], 16) / 2**32 < 0.2)
    return wide[~test].reset_index(drop=True), wide[test].reset_index(drop=True)


def paired_ci(y, p, q, n=1000, seed=0):
    y, p, q = np.asarray(y), np.asarray(p), np.asarray(q)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    rng = np.random.default_rng(seed)
    a, b = np.empty(n), np.empty(n)
    for i in range(n):
        idx = np.concatenate([rng.choice(pos, len(pos)), rng.choice(neg, len(neg))])
        a[i], b[i] = roc_auc_score(y[idx], p[idx]), roc_auc_score(y[idx], q[idx])
    return np.quantile(a, [0.025, 0.975]), np.quantile(a - b, [0.025, 0.975])


def run(name, train, test, target, bundle, sample):
    rows = []
    word = word_model().fit(train.text, train[target]).predict_proba(test.text)[:, 1]
    scores = {"char TF-IDF LR": char_model().fit(train.text, train[target]).predict_proba(test.text)[:, 1],
              "word TF-IDF LR (baseline)": word}
    try:
        from profanity_check import predict_prob
        scores["alt-profanity-check"] = predict_prob(test.text.tolist())
    except ImportError:
        pass
    for model, p in scores.items():
        ci, diff = paired_ci(test[target], p, word)
        rows.append((name, model, len(test), int(test[target].sum()), roc_auc_score(test[target], p), ci, diff))
    if bundle is not None and sample:
        part = test.sample(n=min(sample, len(test)), random_state=0)
        raw = np.array([s.abusive for s in bundle.score_many([(t if t.strip() else ".", None) for t in part.text])])
        base = word[part.index.to_numpy()]
        ci, diff = paired_ci(part[target], raw, base)
        rows.append((name, f"shipped bundle (sample of {len(part)})", len(part), int(part[target].sum()),
                     roc_auc_score(part[target], raw), ci, diff))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--bundle-sample", type=int, default=500)
    args = parser.parse_args(argv)
    bundle = None
    if args.bundle_sample:
        import models
        bundle = models.load_bundle()
    ru_train, ru_test = roman_urdu(args.data)
    de_train, de_test = german(args.data)
    rows = run("Roman Urdu abuse (RUHSOLD)", ru_train, ru_test, "y", bundle, args.bundle_sample)
    rows += run("German abuse (One Million Posts)", de_train, de_test, "y", bundle, args.bundle_sample)
    rows += run("German off-topic (One Million Posts)", de_train, de_test, "off_topic", None, 0)
    print(f"train sizes: Roman Urdu {len(ru_train)}, German {len(de_train)}\n")
    print("| task | model | test comments | positives | ROC-AUC | 95% interval | minus word TF-IDF, 95% interval |")
    print("|---|---|---|---|---|---|---|")
    for task, model, n, pos, auc, ci, diff in rows:
        print(f"| {task} | {model} | {n} | {pos} | {auc:.3f} | {ci[0]:.3f}-{ci[1]:.3f} | {diff[0]:+.3f} to {diff[1]:+.3f} |")


if __name__ == "__main__":
    main()
