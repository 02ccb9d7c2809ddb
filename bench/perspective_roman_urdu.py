"""What Perspective-era TOXICITY thresholds catch and hold on Roman Urdu, as `comments:analyze` scores it: the
shipped Roman Urdu head's score on the bundle's abusive scale, through the bundle's perspective_scale.json (fitted
on English rater fractions; RUHSOLD has one label per tweet, so no Roman Urdu map can be fitted to rater shares).

    python bench/perspective_roman_urdu.py [--data ../shared/data] [--bundle models/bundles/<v>]

RUHSOLD task 1 test (the head never trained on it): every tweet through the head, and the tweets the language ID
labels ur-Latn (those the endpoint sends to the head; the rest it scores as English).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import models  # noqa: E402
from models.cues import language  # noqa: E402
from training.language_heads import rate_ci, ruhsold  # noqa: E402

THRESHOLDS = (0.1, 0.15, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--bundle", type=Path, default=None)
    args = parser.parse_args(argv)
    bundle = models.load_bundle(args.bundle)
    head, scale = bundle.language_heads["ur-Latn"], bundle.perspective_scale
    test = ruhsold(args.data)["test"]
    y = test["y"].to_numpy().astype(bool)
    tox = scale.toxicity(head.abusive(test["text"], bundle.thresholds["abusive"]))
    routed = np.array([language(t) == "ur-Latn" for t in test["text"]])
    at_ours = float(scale.toxicity(bundle.thresholds["abusive"]))
    print(f"bundle {bundle.version}; RUHSOLD test: {len(y)} tweets, {int(y.sum())} abusive; "
          f"{routed.mean():.1%} labelled ur-Latn by the language ID")
    print(f"TOXICITY at the bundle's own hold threshold: {at_ours:.3f}; highest TOXICITY the scale gives: "
          f"{float(scale.toxicity(1.0)):.3f}\n")
    print("| TOXICITY threshold | catch, all (95 % CI) | false hold, all (95 % CI) | catch, ur-Latn | false hold, ur-Latn |")
    print("|---|---|---|---|---|")
    for t in (*THRESHOLDS, round(at_ours, 3)):
        hold = tox >= t
        ci = lambda m: "-".join(f"{v:.1%}" for v in rate_ci(hold[m]))  # noqa: E731
        print(f"| {t} | {hold[y].mean():.1%} ({ci(y)}) | {hold[~y].mean():.1%} ({ci(~y)}) | "
              f"{hold[y & routed].mean():.1%} | {hold[~y & routed].mean():.1%} |")


if __name__ == "__main__":
    main()
