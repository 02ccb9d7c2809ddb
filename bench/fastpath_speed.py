"""The fast path's cost per comment, before and after a change, in one run, and whether its scores are the same.

    .venv/bin/python bench/fastpath_speed.py [--before 0e16146] [--n 1000] [--warm 3000] [--rounds 5]

"Before" is models/ at a git revision (default: the commit before the fast path was made faster), extracted into a
temporary package and run on the same bundle object as "after" (this checkout). Both first read `--warm` comments
(OLID and UCC train/dev: the service has seen other comments before these), then score `--n` held-out test
comments one at a time: a first pass (words not seen before cost more: the new code remembers words) and
`--rounds` repeat passes, alternating before/after. It prints µs of CPU per comment (medians of the rounds) and
the largest score difference between the two on every comment (the goal: none beyond float rounding).
"""
from __future__ import annotations

import argparse
import importlib
import io
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def models_at(rev: str, where: Path):
    """models/ as it was at `rev`, importable as the package `models_before`."""
    raw = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "models"], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        tar.extractall(where, filter="data")
    (where / "models").rename(where / "models_before")
    sys.path.insert(0, str(where))
    return importlib.import_module("models_before.fastpath")


def cpu_us(fn, texts) -> float:
    t = time.process_time()
    for x in texts:
        fn(x)
    return (time.process_time() - t) * 1e6 / len(texts)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--before", default="0e16146")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--warm", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args(argv)

    import models
    from models.fastpath import FastPath
    from training.data import load_abuse_sets

    bundle = models.load_bundle()
    df = load_abuse_sets(Path(args.data), sources=("olid", "ucc"))
    warm = df[df.split != "test"].text.tolist()[: args.warm]
    texts = df[df.split == "test"].sample(frac=1.0, random_state=0).text.tolist()[: args.n]
    with tempfile.TemporaryDirectory() as tmp:
        old = models_at(args.before, Path(tmp)).FastPath(bundle)
    new = FastPath(bundle)
    load = os.getloadavg()[0]
    for fp in (old, new):
        for x in warm:
            fp.score(x)
    first = {"before": cpu_us(old.score, texts), "after": cpu_us(new.score, texts)}
    rounds = {"before": [], "after": []}
    for _ in range(args.rounds):
        rounds["before"].append(cpu_us(old.score, texts))
        rounds["after"].append(cpu_us(new.score, texts))
    a, b = old.scores(texts), new.scores(texts)
    diff = max(abs(x[k] - y[k]) for x, y in zip(a, b) for k in ("abusive", "spam"))
    same = sum(x == y for x, y in zip(a, b))
    ratios = [x / y for x, y in zip(rounds["before"], rounds["after"])]
    print(f"bundle {bundle.version}; before = models/ at {args.before}; {len(texts)} held-out comments (OLID + UCC "
          f"test), after {len(warm)} others; {args.rounds} rounds; {os.cpu_count()} CPUs, load average "
          f"{load:.1f} at start, {os.getloadavg()[0]:.1f} at end\n")
    print("| | before µs/comment | after µs/comment | before / after |")
    print("|---|---|---|---|")
    print(f"| first pass over these comments | {first['before']:.0f} | {first['after']:.0f} | "
          f"{first['before'] / first['after']:.2f}x |")
    print(f"| repeat passes (median of {args.rounds}) | {statistics.median(rounds['before']):.0f} | "
          f"{statistics.median(rounds['after']):.0f} | {statistics.median(ratios):.2f}x "
          f"(per round {min(ratios):.2f}-{max(ratios):.2f}x) |")
    print(f"\nscores: {same} of {len(texts)} comments identical in both heads; largest difference {diff:.2e}")


if __name__ == "__main__":
    main()
