"""The deadline fast path on Roman Urdu, before and after it routes ur-Latn comments to the bundle's Roman Urdu
head, in one run: what it holds of RUHSOLD's test tweets, what routing costs per comment, and whether English
comments keep their scores.

    .venv/bin/python bench/fastpath_languages.py [--before c512403] [--n 1000] [--rounds 5] [--full N]

"Before" is models/ at a git revision (default: main before the fast path knew languages), extracted as in
bench/fastpath_speed.py and run on the same bundle object as "after" (this checkout). Roman Urdu: RUHSOLD task 1's
test split (training.language_heads.ruhsold: rows also in train/validation dropped), the tweets models.cues.language
labels ur-Latn. English: `--n` held-out OLID + UCC test comments. Decisions at the bundle's own thresholds (no site
policy), false holds (normal tweets held) and catches (abusive tweets held) with 95% bootstrap intervals; --full N
also scores N of the tweets with the whole bundle (the encoder: slow) for the full path's decisions beside them.
Costs: µs of CPU per comment, the median of `--rounds` passes over each set after a first (warming) pass.
"""
from __future__ import annotations

import argparse
from collections import Counter
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.fastpath_speed import models_at  # noqa: E402


def median_us(fns, texts, rounds: int) -> list[float]:
    """Each function's µs of CPU per comment: the median of `rounds` passes, the functions taking turns."""
    for fn in fns:
        for x in texts:
            fn(x)  # first pass: words seen for the first time, models loaded
    out = [[] for _ in fns]
    for _ in range(rounds):
        for fn, got in zip(fns, out):
            t = time.process_time()
            for x in texts:
                fn(x)
            got.append((time.process_time() - t) * 1e6 / len(texts))
    return [statistics.median(x) for x in out]


def held(decide, scores_and_thresholds) -> np.ndarray:
    return np.array([decide(s, t).decision == "hold" for s, t in scores_and_thresholds])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--before", default="c512403")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--full", type=int, default=0)
    args = ap.parse_args(argv)

    import models
    from models.cues import language, roman_urdu
    from models.fastpath import FastPath, _head_probability
    from training.data import load_abuse_sets
    from training.language_heads import LANGUAGE, rate_ci, ruhsold

    bundle = models.load_bundle()
    head = bundle.language_heads[LANGUAGE]
    test = ruhsold(Path(args.data))["test"]
    langs = [language(t) for t in test.text]
    ur = test[[x == LANGUAGE for x in langs]].reset_index(drop=True)
    english = load_abuse_sets(Path(args.data), sources=("olid", "ucc"))
    english = english[english.split == "test"].sample(frac=1.0, random_state=0).text.tolist()[: args.n]
    with tempfile.TemporaryDirectory() as tmp:
        old = models_at(args.before, Path(tmp)).FastPath(bundle)
    new = FastPath(bundle)
    load = os.getloadavg()[0]
    print(f"bundle {bundle.version}; before = models/ at {args.before}; {os.cpu_count()} CPUs, load average "
          f"{load:.1f} at start\n")

    # -- decisions on the Roman Urdu test tweets ---------------------------------------------------------------
    y = ur.y.to_numpy()
    base = bundle.thresholds
    before = held(models.decide, [(s, old.thresholds(base)) for s in old.scores(ur.text)])
    judged = [new.judged(t) for t in ur.text]
    after = held(models.decide, [(s, new.thresholds(base, lang)) for s, lang in judged])
    head_only = head.probability(ur.text) >= head.threshold
    rows = [("fast path before", before), ("fast path after", after), ("Roman Urdu head alone at its threshold",
                                                                         head_only)]
    if args.full:
        part = np.arange(min(args.full, len(ur)))
        full = np.array([models.decide(s).decision == "hold"
                         for s in bundle.score_many([(t, None) for t in ur.text[part]])])
        rows.append((f"full path (first {len(part)} tweets only)", full))
    reasons = Counter(r for s, lang in judged for r in models.decide(s, new.thresholds(base, lang)).reasons)
    print(f"RUHSOLD task 1 test tweets labelled {LANGUAGE}: {len(ur)} of {len(test)} ({int(y.sum())} abusive); "
          f"routed by the fast path after: {sum(lang == LANGUAGE for _, lang in judged)}; its holds by reason: "
          f"{dict(reasons)}\n")
    print("| | normal tweets held (false holds) [95%] | abusive tweets held (catch) [95%] |")
    print("|---|---|---|")
    for name, h in rows:
        yy = y[: len(h)]
        fh, ca = h[yy == 0], h[yy == 1]
        lo, hi = rate_ci(fh)
        clo, chi = rate_ci(ca)
        print(f"| {name} | {fh.mean():.1%} [{lo:.1%}, {hi:.1%}] | {ca.mean():.1%} [{clo:.1%}, {chi:.1%}] |")

    # -- the cue against the language ID -----------------------------------------------------------------------
    print("\n| comments | language() says ur-Latn | roman_urdu() says so | disagree |")
    print("|---|---|---|---|")
    for name, texts, ids in (("RUHSOLD test (all)", test.text.tolist(), langs),
                             ("English held-out (OLID + UCC test)", english, [language(t) for t in english])):
        cue = [roman_urdu(t) for t in texts]
        full_id = [x == LANGUAGE for x in ids]
        print(f"| {name} ({len(texts)}) | {sum(full_id)} | {sum(cue)} | {sum(a != b for a, b in zip(cue, full_id))} |")

    # -- cost per comment --------------------------------------------------------------------------------------
    fast_head = _head_probability(head)
    ur_texts = ur.text.tolist()
    costs = [("fast path before", old.score), ("fast path after", new.score),
             ("language() (py3langid + word cue)", language), ("roman_urdu() word cue", roman_urdu),
             ("Roman Urdu head, sklearn predict_proba", lambda t: head.probability([t])),
             ("Roman Urdu head, read as in the fast path", fast_head)]
    print(f"\nµs of CPU per comment, median of {args.rounds} passes after a first one\n")
    print(f"| step | English held-out ({len(english)}) | Roman Urdu test ({len(ur_texts)}) |")
    print("|---|---|---|")
    fns = [fn for _, fn in costs]
    for (name, _), en_us, ur_us in zip(costs, median_us(fns, english, args.rounds), median_us(fns, ur_texts,
                                                                                            args.rounds)):
        print(f"| {name} | {en_us:.0f} | {ur_us:.0f} |")

    a, b = old.scores(english), new.scores(english)
    diff = max(abs(x[k] - z[k]) for x, z in zip(a, b) for k in ("abusive", "spam"))
    print(f"\nEnglish held-out: {sum(x == z for x, z in zip(a, b))} of {len(english)} comments' fast-path scores "
          f"identical before/after (largest difference {diff:.2e}); routed to the Roman Urdu head: "
          f"{sum(new.judged(t)[1] is not None for t in english)}")
    p_sk, p_fast = head.probability(ur_texts), np.array([fast_head(t) for t in ur_texts])
    print(f"Roman Urdu head read as in the fast path vs sklearn: largest difference {np.abs(p_sk - p_fast).max():.2e}")
    print(f"load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
