"""The deadline under load: Coral's endpoint at 1 / 4 / 8 / 16 connections, with its 150 ms budget and without.

    .venv/bin/python bench/deadline_http.py [--duration 5] [--connections 1 4 8 16] [--workers 2] [--port 18200]
    .venv/bin/python bench/deadline_http.py --before 0e16146 --no-baseline   # a change against the code before it

`moderation serve` instances (its gunicorn worker, SQLite, the shipped bundle), each load run on each in turn:
Coral's default budget (150 ms), optionally the same at another git revision (--before), and the same with
`deadline_ms = 60000` (in effect none: the baseline, same run). A closed-loop
client (one keep-alive connection per thread) posts signed Coral requests and sets X-Request-Start as a load
balancer would, so time queued in front of a busy worker counts against the budget. It reports req/s, p50 / p99,
the share of degraded answers (X-Moderation-Degraded) and the share over Coral's 200 ms.
"""
from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.http_moderate import ARTICLE, TEXTS, start, stop  # noqa: E402

SECRET = "bench-coral-secret"
CORAL_MS = 200.0


def bodies(n=64):
    out = []
    for i in range(n):
        body = json.dumps({
            "action": "NEW", "comment": {"body": f"{TEXTS[i % len(TEXTS)]} ({i})", "parentID": None},
            "author": {"id": f"user-{i}", "role": "COMMENTER"},
            "story": {"id": "a1", "url": "https://news.example/bus-timetable"}, "site": {"id": "bench-coral"},
            "tenantID": "bench-tenant", "tenantDomain": "comments.news.example"}, indent=2).encode()
        out.append((body, "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()))
    return out


def load(port: int, connections: int, seconds: float, items) -> dict:
    results, lock = [], threading.Lock()
    end = time.monotonic() + seconds

    def client(k):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        i = k
        mine = []
        while time.monotonic() < end:
            body, sig = items[i % len(items)]
            i += connections
            t = time.perf_counter()
            conn.request("POST", "/coral/moderate", body=body, headers={
                "Content-Type": "application/json", "X-Coral-Signature": sig,
                "X-Request-Start": f"t={time.time():.6f}"})
            r = conn.getresponse()
            r.read()
            mine.append(((time.perf_counter() - t) * 1000, r.status, r.getheader("X-Moderation-Degraded") == "true"))
        conn.close()
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(connections)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.monotonic() - started
    lat = sorted(r[0] for r in results)
    pick = lambda q: lat[min(len(lat) - 1, int(q * (len(lat) - 1)))]  # noqa: E731
    return {"n": len(lat), "rps": len(lat) / took, "p50": pick(0.5), "p99": pick(0.99),
            "degraded": sum(r[2] for r in results) / len(lat), "over": sum(x > CORAL_MS for x in lat) / len(lat),
            "errors": sum(r[1] not in (200, 204) for r in results)}


def tree_at(rev: str, where: Path) -> Path:
    """The project's files at git revision `rev`, to run its server ("before") beside this checkout's."""
    raw = subprocess.run(["git", "-C", str(ROOT), "archive", rev], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        tar.extractall(where, filter="data")
    return where


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--duration", type=float, default=5)
    ap.add_argument("--connections", type=int, nargs="+", default=[1, 4, 8, 16])
    ap.add_argument("--port", type=int, default=18200)
    ap.add_argument("--before", metavar="REV", help="also run the server at this git revision (150 ms budget)")
    ap.add_argument("--no-baseline", action="store_true", help="leave out the server without a budget")
    args = ap.parse_args()

    from service import create_app
    from service.auth import create_api_key

    items = bodies()
    tmp_root = Path(tempfile.mkdtemp(prefix="bench-deadline-"))
    servers = [("Coral default budget, 150 ms" + (" (this checkout)" if args.before else ""), ROOT, None)]
    if args.before:
        servers.insert(0, (f"Coral default budget, 150 ms, before ({args.before})",
                           tree_at(args.before, tmp_root / "before"), None))
    if not args.no_baseline:
        servers.append(("no budget (60 s)", ROOT, 60000))
    running = []
    load_before = os.getloadavg()[0]
    try:
        for n, (label, tree, budget) in enumerate(servers):
            db_url = f"sqlite:///{tmp_root}/bench{n}.db"
            admin = create_app({"DATABASE_URL": db_url, "LOAD_BUNDLE_AT_START": False, "SECRET_KEY": "bench"})
            with admin.app_context():
                key = create_api_key("bench-site", "bench")
            site = {"site": "bench-site", "secrets": [SECRET], "response": "status"}
            if budget is not None:
                site["deadline_ms"] = budget
            env = {**os.environ, "MODERATION_DATABASE_URL": db_url, "MODERATION_SECRET_KEY": "bench",
                   "MODERATION_RATE_LIMIT": str(10 ** 9), "OMP_NUM_THREADS": "1", "MODERATION_ENCODER_THREADS": "1",
                   "MODERATION_CORAL": json.dumps({"sites": {"bench-coral": site}})}
            port = args.port + n
            log = open(tmp_root / f"server{n}.log", "w")
            running.append((label, port, start("service", port, args.workers, env, log, cwd=tree), log))
            req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/articles/a1", method="PUT", data=json.dumps(
                {**ARTICLE, "url": "https://news.example/bus-timetable"}).encode(),
                headers={"Content-Type": "application/json", "X-API-Key": key})
            urllib.request.urlopen(req, timeout=60).read()
        rows = {label: [] for label, *_ in running}
        for c in args.connections:  # the servers in turn at each load, so they see the same machine
            for label, port, *_ in running:
                load(port, args.workers, 3, items)  # warm every worker (and let the last load drain)
                rows[label].append((c, load(port, c, args.duration, items)))
                print(label, c, rows[label][-1][1], file=sys.stderr, flush=True)
    finally:
        for _, _, proc, log in running:
            stop(proc)
            log.close()
    print(f"Coral endpoint, {args.workers} gunicorn workers (`moderation serve`), {os.cpu_count()} CPUs shared with "
          f"the client, {args.duration:.0f} s per row, servers in turn at each load; 1-min load average "
          f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after\n")
    print("| server | connections | req/s | p50 ms | p99 ms | degraded | over 200 ms | errors |")
    print("|---|---|---|---|---|---|---|---|")
    for label, got in rows.items():
        for c, r in got:
            print(f"| {label} | {c} | {r['rps']:.1f} | {r['p50']:.0f} | {r['p99']:.0f} | {r['degraded']:.0%} | "
                  f"{r['over']:.1%} | {r['errors']} |")


if __name__ == "__main__":
    main()
