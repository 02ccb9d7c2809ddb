"""The deadline fast path (models.fastpath) beside alt-profanity-check, in one run: ROC-AUC on held-out abuse
test sets with paired bootstrap intervals, what the fast path holds at its operating point, and speed per comment.

    .venv/bin/python bench/fastpath_quality.py [--data ../shared/data] [--bootstrap 1000] [--full N]
    .venv/bin/python bench/fastpath_quality.py --choose 0.9   # write the operating point, then measure

Sets: OLID's level-A test set and UCC's test split (neither is trained on). --full N also scores the first N
comments of each set with the full bundle, for its ROC-AUC on the same comments (slow: the encoder).
--choose R picks the fast path's publish threshold on validation data only (UCC's dev split): the score above
which it holds a share R of the abusive comments; it is written to the bundle folder's fastpath.json.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def auc(y, s) -> float:
    from sklearn.metrics import roc_auc_score
    return float(roc_auc_score(y, s))


def paired_bootstrap(y, a, b, n: int, seed: int = 0):
    """95% intervals of AUC(a), AUC(b) and AUC(a) - AUC(b) over the same resampled comments."""
    rng = np.random.default_rng(seed)
    ra, rb, rd = [], [], []
    for _ in range(n):
        i = rng.integers(0, len(y), len(y))
        if len(np.unique(y[i])) < 2:
            continue
        x, z = auc(y[i], a[i]), auc(y[i], b[i])
        ra.append(x), rb.append(z), rd.append(x - z)
    q = lambda v: (float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5)))  # noqa: E731
    return q(ra), q(rb), q(rd)


def per_comment_ms(fn, texts) -> tuple[float, float]:
    """(median CPU ms, median wall ms) of fn(text) over texts, one at a time."""
    cpu, wall = [], []
    for t in texts:
        c, w = time.process_time(), time.perf_counter()
        fn(t)
        cpu.append((time.process_time() - c) * 1000)
        wall.append((time.perf_counter() - w) * 1000)
    return statistics.median(cpu), statistics.median(wall)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--speed-n", type=int, default=500)
    ap.add_argument("--full", type=int, default=0, help="also score this many comments per set with the full model")
    ap.add_argument("--choose", type=float, default=None, metavar="RECALL")
    args = ap.parse_args(argv)

    import models
    from models.fastpath import FastPath
    from profanity_check import predict_prob
    from training.data import load_abuse_sets

    bundle = models.load_bundle()
    df = load_abuse_sets(Path(args.data), sources=("olid", "ucc"))
    if args.choose is not None:
        import json

        from models.fastpath import OPERATING_POINT
        dev = df[(df.source == "ucc") & (df.split == "dev")]
        s = np.array([x["abusive"] for x in FastPath(bundle, operating_point={}).scores(dev.text.tolist())])
        y = dev.label.to_numpy().astype(int)
        t = float(np.quantile(s[y == 1], 1 - args.choose))
        (bundle.path / OPERATING_POINT).write_text(json.dumps({
            "abusive": round(t, 6), "chosen_on": "UCC dev split (abuse/ucc/val.csv)",
            "held_share_of_abusive": args.choose, "held_share_of_all": round(float((s >= t).mean()), 4)}, indent=2) + "\n")
        print(f"wrote {bundle.path / OPERATING_POINT}: abusive {t:.4f}")
    fast = FastPath(bundle)
    limit = fast.thresholds(bundle.thresholds)["abusive"]
    load_start = os.getloadavg()[0]
    point = fast.operating_point or f"no operating point: {fast.publish_below} x the abusive threshold"
    print(f"bundle {bundle.version}; fast path publishes below {limit:.4f} ({point}); "
          f"{args.bootstrap} paired bootstrap resamples")
    print("| set | n (abusive) | fast path ROC-AUC [95%] | alt-profanity-check ROC-AUC [95%] | difference [95%] "
          "| fast path holds | of the abusive, held |")
    print("|---|---|---|---|---|---|---|")
    all_texts = []
    for source in ("olid", "ucc"):
        part = df[(df.source == source) & (df.split == "test")]
        texts, y = part.text.tolist(), part.label.to_numpy().astype(int)
        all_texts += texts
        f = np.array([s["abusive"] for s in fast.scores(texts)])
        p = np.asarray(predict_prob(texts))
        (fa, fb), (pa, pb), (da, db) = paired_bootstrap(y, f, p, args.bootstrap)
        held = f >= limit
        print(f"| {source} test | {len(y)} ({y.sum()}) | {auc(y, f):.3f} [{fa:.3f}, {fb:.3f}] | "
              f"{auc(y, p):.3f} [{pa:.3f}, {pb:.3f}] | {auc(y, f) - auc(y, p):+.3f} [{da:+.3f}, {db:+.3f}] | "
              f"{held.mean():.1%} | {held[y == 1].mean():.1%} |")
        if args.full:
            k = min(args.full, len(texts))
            full = np.array([s.abusive for s in bundle.score_many([(t, None) for t in texts[:k]])])
            print(f"|   full model, first {k} | | {auc(y[:k], full):.3f} (fast path on these: "
                  f"{auc(y[:k], f[:k]):.3f}; alt-profanity-check: {auc(y[:k], p[:k]):.3f}) | | | | |")
    sample = all_texts[: args.speed_n]
    fast.score("warm up")
    predict_prob(["warm up"])
    fc, fw = per_comment_ms(fast.score, sample)
    pc, pw = per_comment_ms(lambda t: predict_prob([t]), sample)
    print(f"\nspeed, one comment at a time ({len(sample)} comments, medians): fast path {fc:.3f} ms CPU "
          f"({fw:.3f} ms wall); alt-profanity-check {pc:.3f} ms CPU ({pw:.3f} ms wall); "
          f"load average {load_start:.1f} at start, {os.getloadavg()[0]:.1f} at end")


if __name__ == "__main__":
    main()
