"""Replay other hold budgets on a calibrate demo's stored scores (no model, no HTTP): thresholds fitted by
`service.calibrate.fit` on the first phase's stored comments, hold rate measured on the second phase's.

bench/calibrate_demo.py leaves its SQLite database behind (phase 1 ids start `p1-`, phase 2 `p2-`); this reads
it to show what `calibrate --apply` would have done for budgets the shipped thresholds do not already meet.

    .venv/bin/python bench/calibrate_replay.py --db /tmp/calibrate-demo-XXXX/demo.db --budgets 0.01 0.02 0.03
"""
import argparse
import json
import sqlite3
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service import calibrate  # noqa: E402
from service.policy import TUNABLE  # noqa: E402


def phase(rows, prefix):
    chosen = [(json.loads(s), json.loads(r or "[]")) for cid, s, r in rows if cid.startswith(prefix)]
    chosen = [(s, r) for s, r in chosen if all(isinstance(s.get(h), (int, float)) for h in TUNABLE)]
    scores = np.array([[float(s[h]) for h in TUNABLE] for s, _ in chosen])
    fixed = np.array([bool(set(r) & calibrate.FIXED_HOLDS) for _, r in chosen])
    nan = np.full(len(chosen), np.nan)
    return calibrate.Stored(scores, fixed, nan, nan.copy())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", type=Path, required=True)
    ap.add_argument("--site", default="demo")
    ap.add_argument("--budgets", type=float, nargs="+", default=[0.01, 0.02, 0.03, 0.05])
    args = ap.parse_args()
    con = sqlite3.connect(f"file:{args.db}?mode=ro", uri=True)
    rows = con.execute("select comment_id, scores, reasons from comments where site = ?", (args.site,)).fetchall()
    shipped = json.loads(con.execute("select thresholds from comments where comment_id like 'p1-%' "
                                     "and thresholds is not null limit 1").fetchone()[0])
    first, second = phase(rows, "p1-"), phase(rows, "p2-")
    print(f"phase 1: {len(first)} comments, phase 2: {len(second)}; thresholds in force in phase 1: {shipped}\n")
    print("| budget | abusive | off_topic | spam | phase 1 held (fitted on) | phase 2 held (next comments) | within 1 point |")
    print("|---|---|---|---|---|---|---|")
    for budget in args.budgets:
        fitted = calibrate.fit(first, shipped, budget, budget)
        a, b = calibrate.held(first, fitted).mean(), calibrate.held(second, fitted).mean()
        print(f"| {budget:.0%} | {fitted['abusive']:.4f} | {fitted['off_topic']:.4f} | {fitted['spam']:.4f} | "
              f"{a:.2%} | {b:.2%} | {'yes' if abs(b - budget) <= 0.01 else 'no'} |")


if __name__ == "__main__":
    main()
