"""Memory of `moderation serve`'s workers with the bundle loaded before forking (the default) and without, same run.

    .venv/bin/python bench/worker_pss.py [--workers 2] [--requests 40] [--port 18204] [--arena]

Starts the server twice (MODERATION_PRELOAD_BUNDLE=true / false; with --arena a third time, preloaded with
MODERATION_ENCODER_ARENA=false), sends --requests /v1/moderate requests with an
article (every worker has scored), then reads RSS and PSS (shared pages split between the processes sharing them)
of the gunicorn master and each worker from /proc/<pid>/smaps_rollup.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.http_moderate import ARTICLE, TEXTS, memory_mib, start, stop, workers_of  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--requests", type=int, default=40)
    ap.add_argument("--port", type=int, default=18204)
    ap.add_argument("--arena", action="store_true", help="also: preloaded, ONNX Runtime's CPU arena off")
    args = ap.parse_args()
    from service import create_app
    from service.auth import create_api_key

    rows = []
    variants = [("true", "true"), ("false", "true")] + ([("true", "false")] if args.arena else [])
    for n, (preload, arena) in enumerate(variants):
        tmp = Path(tempfile.mkdtemp(prefix="bench-pss-"))
        db_url = f"sqlite:///{tmp}/bench.db"
        admin = create_app({"DATABASE_URL": db_url, "LOAD_BUNDLE_AT_START": False, "SECRET_KEY": "bench"})
        with admin.app_context():
            key = create_api_key("bench-site", "bench")
        env = {**os.environ, "MODERATION_DATABASE_URL": db_url, "MODERATION_SECRET_KEY": "bench",
               "MODERATION_RATE_LIMIT": str(10 ** 9), "OMP_NUM_THREADS": "1", "MODERATION_PRELOAD_BUNDLE": preload,
               "MODERATION_ENCODER_ARENA": arena}
        port = args.port + n
        with open(tmp / "server.log", "w") as log:
            proc = start("service", port, args.workers, env, log)
            try:
                def one(i):
                    body = {"comment": {"id": f"c{i}", "text": TEXTS[i % len(TEXTS)]},
                            "article": {"id": "a1", **{k: ARTICLE[k] for k in ("title", "body")}}}
                    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/moderate", data=json.dumps(body).encode(),
                                                 headers={"Content-Type": "application/json", "X-API-Key": key})
                    urllib.request.urlopen(req, timeout=120).read()
                with ThreadPoolExecutor(args.workers * 2) as pool:
                    list(pool.map(one, range(args.requests)))
                master = memory_mib(proc.pid)
                workers = [memory_mib(p) for p in workers_of(proc.pid)]
                rows.append((preload, arena, master, workers))
            finally:
                stop(proc)
    print(f"`moderation serve`, {args.workers} gunicorn workers, after {args.requests} requests; "
          f"load average {os.getloadavg()[0]:.1f}\n")
    print("| bundle loaded before forking | ONNX Runtime CPU arena | master RSS / PSS | each worker RSS / PSS "
          "| master + workers PSS |")
    print("|---|---|---|---|---|")
    for preload, arena, master, workers in rows:
        each = ", ".join(f"{w['Rss']:.0f} / {w['Pss']:.0f}" for w in workers)
        total = master["Pss"] + sum(w["Pss"] for w in workers)
        print(f"| {preload} | {'on' if arena == 'true' else 'off'} | {master['Rss']:.0f} / {master['Pss']:.0f} MiB | {each} MiB | {total:.0f} MiB |")


if __name__ == "__main__":
    main()
