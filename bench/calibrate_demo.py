"""Calibrate demo on a simulated site: onboarding in shadow mode, `moderation calibrate --apply`, then holds on.

1. `moderation serve` (gunicorn, SQLite) with the TOML policy putting site `demo` in shadow mode.
2. The first --n comments of one news set (C3: Globe and Mail reader comments; shuffled with a fixed seed) are
   posted through POST /v1/moderate/batch, --batch comments a request (the same decision path and storage as
   POST /v1/moderate, which --batch 1 uses instead): every answer is publish, the would-be decision is stored.
3. `moderation calibrate --site demo --hold-budget B --apply` writes the site's thresholds into the database
   policy; `moderation policy set --site demo --mode enforce` switches holds on. No restart: the workers
   re-read the policy within POLICY_CHECK_S (1 s here).
4. The next --n comments are posted: their hold rate must be within +-1 point of the budget.

    nice .venv/bin/python bench/calibrate_demo.py             # 5,000 + 5,000 comments, budget 0.05
    nice .venv/bin/python bench/calibrate_demo.py --n 1000    # a quicker look

Prints a markdown report (also written to --report).
"""
import argparse
import http.client
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.http_moderate import start, stop  # noqa: E402

CLI = [sys.executable, "-c", "import sys; sys.argv[0] = 'moderation'; from service.cli import main; main()"]
REASONS = ("abusive", "off_topic", "spam", "unsupported_language", "too_long", "model_error")


def load_comments(root: Path, n: int, seed: int):
    import pandas as pd
    d = pd.read_csv(root / "abuse/c3/C3_anonymized.csv")
    d = d[d.comment_text.notna()]
    d = d.assign(text=d.comment_text.astype(str).str.strip())
    d = d[d.text != ""].drop_duplicates("text").sample(frac=1.0, random_state=seed)
    if len(d) < 2 * n:
        raise SystemExit(f"C3 has {len(d)} usable comments, fewer than 2 x {n}")
    return [(f"c3:{a}", t) for a, t in zip(d.article_id.head(2 * n), d.text.head(2 * n))]


class Client:
    """One keep-alive connection per thread."""

    def __init__(self, port, key):
        self.port, self.key, self.local = port, key, threading.local()

    def request(self, path, body):
        if not hasattr(self.local, "conn"):
            self.local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        for attempt in range(2):
            try:
                self.local.conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json",
                                                                         "X-API-Key": self.key})
                r = self.local.conn.getresponse()
                data = r.read()
                return r.status, json.loads(data) if data else {}
            except (OSError, http.client.HTTPException):
                self.local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
                if attempt:
                    raise

    def post(self, items):
        """[(cid, article_id, text)] -> [(status, body)], one per comment: through /v1/moderate/batch, or
        /v1/moderate for a single comment."""
        bodies = [{"comment": {"id": cid, "text": text}, "article": {"id": article_id}}
                  for cid, article_id, text in items]
        if len(bodies) == 1:
            return [self.request("/v1/moderate", bodies[0])]
        status, answer = self.request("/v1/moderate/batch", {"items": bodies})
        if status != 200:
            return [(status, answer)] * len(bodies)
        return [(400 if "error" in r else 200, r) for r in answer["results"]]


def post_all(client, items, tag, threads, batch):
    numbered = [(f"{tag}-{i}", article_id, text) for i, (article_id, text) in enumerate(items)]
    chunks = [numbered[i:i + batch] for i in range(0, len(numbered), batch)]
    started = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        results = [r for answers in pool.map(client.post, chunks) for r in answers]
    return results, time.monotonic() - started


def summarise(results, shadow: bool):
    n = len(results)
    failed = sum(status != 200 for status, _ in results)
    held, per_reason, versions = 0, Counter(), Counter()
    for status, body in results:
        if status != 200:
            continue
        versions[body.get("model_version")] += 1
        decision = body.get("shadow", {}).get("decision") if shadow else body["decision"]
        reasons = body.get("shadow", {}).get("reasons", []) if shadow else body["reasons"]
        if decision == "hold":
            held += 1
            per_reason.update(set(reasons) & set(REASONS))
    return {"n": n, "failed": failed, "held": held, "rate": held / n,
            "per_reason": {r: per_reason[r] / n for r in REASONS}, "versions": dict(versions)}


def wilson(k, n, z=1.96):
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared/data")
    ap.add_argument("--n", type=int, default=5000, help="comments per phase")
    ap.add_argument("--budget", type=float, default=0.05)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2, help="client connections")
    ap.add_argument("--batch", type=int, default=50,
                    help="comments per POST /v1/moderate/batch request (1: one by one through POST /v1/moderate)")
    ap.add_argument("--port", type=int, default=18150)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--report", type=Path, default=ROOT / "bench/calibrate_demo.md")
    args = ap.parse_args()

    items = load_comments(args.data, args.n, args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="calibrate-demo-"))
    db_url = f"sqlite:///{tmp}/demo.db"
    config = tmp / "moderation.toml"
    config.write_text('[policy.sites.demo]\nmode = "shadow"\n')
    env = {**os.environ, "MODERATION_DATABASE_URL": db_url, "MODERATION_SECRET_KEY": "demo",
           "MODERATION_BATCH_MAX_ITEMS": str(max(100, args.batch)),
           "MODERATION_CONFIG": str(config), "MODERATION_RATE_LIMIT": "0", "MODERATION_POLICY_CHECK_S": "1",
           "OMP_NUM_THREADS": "1"}
    os.environ.update({k: env[k] for k in ("MODERATION_DATABASE_URL", "MODERATION_CONFIG")})
    from service import create_app
    from service.auth import create_api_key
    admin = create_app({"LOAD_BUNDLE_AT_START": False, "SECRET_KEY": "demo"})
    with admin.app_context():
        key = create_api_key("demo", "demo")
    admin.extensions["db"]["engine"].dispose()

    log = open(tmp / "server.log", "w")
    proc = start("service", args.port, args.workers, env, log)
    try:
        client = Client(args.port, key)
        first, t1 = post_all(client, items[:args.n], "p1", args.threads, args.batch)
        shadow = summarise(first, shadow=True)
        print(f"phase 1 (shadow): {args.n} comments in {t1:.0f} s, would-be hold rate {shadow['rate']:.1%}",
              flush=True)
        cal = subprocess.run(CLI + ["calibrate", "--site", "demo", "--hold-budget", str(args.budget), "--apply"],
                             env=env, cwd=ROOT, capture_output=True, text=True)
        print(cal.stdout, cal.stderr, flush=True)
        if cal.returncode:
            raise SystemExit("calibrate failed")
        switch = subprocess.run(CLI + ["policy", "set", "--site", "demo", "--mode", "enforce",
                                       "--note", "calibrate demo: holds on"],
                                env=env, cwd=ROOT, capture_output=True, text=True, check=True)
        print(switch.stdout, flush=True)
        time.sleep(2.5)   # > POLICY_CHECK_S: every worker has re-read the policy
        second, t2 = post_all(client, items[args.n:], "p2", args.threads, args.batch)
        live = summarise(second, shadow=False)
    finally:
        stop(proc)
        log.close()
    endpoint = "/v1/moderate" if args.batch == 1 else "/v1/moderate/batch"
    lo, hi = wilson(live["held"], live["n"])
    ok = abs(live["rate"] - args.budget) <= 0.01 and live["failed"] == 0 and shadow["failed"] == 0
    lines = [
        f"# Calibrate demo: {args.n:,} + {args.n:,} C3 comments through POST {endpoint}, hold budget {args.budget:.0%}",
        "",
        f"`nice python bench/calibrate_demo.py --n {args.n} --budget {args.budget} --batch {args.batch}`: gunicorn "
        f"{args.workers} workers, SQLite, {args.threads} client connections, "
        f"{'one comment a request' if args.batch == 1 else f'{args.batch} comments a request'}, "
        f"comments shuffled with seed {args.seed} (no article text: "
        f"C3 has none, so every comment is scored as under an unknown article). Model "
        f"{', '.join(shadow['versions'])}.",
        "",
        "| phase | comments | failed | held | hold rate | " + " | ".join(REASONS) + " | comments/s |",
        "|---|---|---|---|---|" + "---|" * len(REASONS) + "---|",
        f"| 1: shadow mode, shipped thresholds (would-be) | {shadow['n']} | {shadow['failed']} | {shadow['held']} | "
        f"{shadow['rate']:.2%} | " + " | ".join(f"{shadow['per_reason'][r]:.2%}" for r in REASONS)
        + f" | {shadow['n'] / t1:.1f} |",
        f"| 2: enforce, thresholds from `calibrate --apply` | {live['n']} | {live['failed']} | {live['held']} | "
        f"{live['rate']:.2%} | " + " | ".join(f"{live['per_reason'][r]:.2%}" for r in REASONS)
        + f" | {live['n'] / t2:.1f} |",
        "",
        f"Phase 2 hold rate {live['rate']:.2%} (95% Wilson interval {lo:.2%} to {hi:.2%}) against the budget "
        f"{args.budget:.0%} +- 1 point: **{'MET' if ok else 'NOT MET'}**.",
        "",
        "`moderation calibrate --site demo --hold-budget %s --apply` printed:" % args.budget,
        "",
        "```",
        cal.stdout.strip(),
        "```",
    ]
    report = "\n".join(lines) + "\n"
    print(report)
    args.report.write_text(report)
    print(f"(server log: {tmp / 'server.log'})")


if __name__ == "__main__":
    main()
