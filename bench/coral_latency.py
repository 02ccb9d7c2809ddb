"""Coral endpoint latency under load: wrk against `moderation serve` (gunicorn) on loopback, vs Coral's 200 ms.

Coral gives an external moderation phase 200 ms by default and publishes the comment when no answer comes in
time, so p99 under load is what matters. In the same run and on the same server:
  * a bare Flask endpoint (bench/http_moderate.py's, same gunicorn settings): the floor of this machine;
  * POST /v1/moderate (scored and stored): our own API, the baseline the Coral path is compared with;
  * POST /coral/moderate with Coral's request body and a valid X-Coral-Signature (signature check, story
    lookup among registered articles, one score; not stored, the default).
Each at several wrk connection counts (closed loop: the load rises with the connections).

    .venv/bin/python bench/coral_latency.py                      # needs `wrk` (apt-get install -y wrk)
    .venv/bin/python bench/coral_latency.py --duration 5 --connections 1 4
"""
import argparse
import hashlib
import hmac
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.http_moderate import ARTICLE, LUA, TEXTS, free_port, start, stop, wrk  # noqa: E402

SECRET = "bench-coral-secret"
BUDGET_MS = 200.0

# Pre-signed Coral requests (wrk's Lua has no HMAC): the server cannot tell them from Coral's.
CORAL_LUA = r"""
local counter = 0
local items = {%(items)s}
local reqs = {}
local pause = 0
function init(args)
  pause = tonumber(args[2] or "0")
  for i, item in ipairs(items) do
    reqs[i] = wrk.format("POST", "/coral/moderate",
      {["Content-Type"] = "application/json", ["X-Coral-Signature"] = item[2]}, item[1])
  end
end
function delay()
  return pause
end
function request()
  counter = counter + 1
  return reqs[(counter %% #reqs) + 1]
end
""" + LUA[LUA.index("function done"):]


def coral_items(n=64):
    """Coral's request body (JSON.stringify(request, null, 2)) for our texts, and its signature header."""
    items = []
    for i in range(n):
        body = json.dumps({
            "action": "NEW", "comment": {"body": TEXTS[i % len(TEXTS)], "parentID": None},
            "author": {"id": f"user-{i}", "role": "COMMENTER"},
            "story": {"id": "a1", "url": "https://news.example/bus-timetable"}, "site": {"id": "bench-coral"},
            "tenantID": "bench-tenant", "tenantDomain": "comments.news.example"}, indent=2)
        signature = "sha256=" + hmac.new(SECRET.encode(), body.encode(), hashlib.sha256).hexdigest()
        assert "]==]" not in body
        items.append("{[==[%s]==], %s}" % (body, json.dumps(signature)))
    return ", ".join(items)


def warm(port, key, workers, rounds=3):
    """`workers` requests at once reach every sync worker; the first score in a worker loads the encoder."""
    def one(i):
        body = {"comment": {"id": f"warm-{time.monotonic_ns()}-{i}", "text": TEXTS[i % len(TEXTS)]},
                "article": {"id": "a1"}}
        req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/moderate", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json", "X-API-Key": key})
        urllib.request.urlopen(req, timeout=300).read()
    for _ in range(rounds):
        threads = [threading.Thread(target=one, args=(i,)) for i in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--duration", type=int, default=10, help="seconds per run")
    ap.add_argument("--connections", type=int, nargs="+", default=[1, 4, 8])
    args = ap.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk not found: apt-get install -y wrk")

    from service import create_app
    from service.auth import create_api_key

    tmp = Path(tempfile.mkdtemp(prefix="bench-coral-"))
    db_url = f"sqlite:///{tmp}/bench.db"
    admin = create_app({"DATABASE_URL": db_url, "LOAD_BUNDLE_AT_START": False, "SECRET_KEY": "bench"})
    with admin.app_context():
        key = create_api_key("bench-site", "bench")
    scripts = {"moderate": tmp / "moderate.lua", "coral": tmp / "coral.lua"}
    scripts["moderate"].write_text(LUA % {"texts": ", ".join(json.dumps(t) for t in TEXTS), "key": key,
                                          "path": "/v1/moderate"})
    scripts["coral"].write_text(CORAL_LUA % {"items": coral_items()})
    coral = {"sites": {"bench-coral": {"site": "bench-site", "secrets": [SECRET], "response": "status"}}}
    env = {**os.environ, "MODERATION_DATABASE_URL": db_url, "MODERATION_SECRET_KEY": "bench",
           "MODERATION_RATE_LIMIT": str(10 ** 9), "OMP_NUM_THREADS": "1", "MODERATION_CORAL": json.dumps(coral)}
    log = open(tmp / "server.log", "w")
    rows = []
    load_before = os.getloadavg()[0]

    for kind, endpoints in (("bare", ["moderate"]), ("service", ["moderate", "coral"])):
        port = free_port()
        proc = start(kind, port, args.workers, env, log)
        try:
            if kind == "service":
                req = urllib.request.Request(
                    f"http://127.0.0.1:{port}/v1/articles/a1", data=json.dumps(
                        {**ARTICLE, "url": "https://news.example/bus-timetable"}).encode(), method="PUT",
                    headers={"Content-Type": "application/json", "X-API-Key": key})
                urllib.request.urlopen(req, timeout=10).read()
                warm(port, key, args.workers)
            for endpoint in endpoints:
                wrk(port, str(scripts[endpoint]), 2, 2, f"warm-{kind}-{endpoint}")
                for c in args.connections:
                    rows.append((kind, endpoint, c, wrk(port, str(scripts[endpoint]), args.duration, c,
                                                        f"{kind}-{endpoint}-{c}")))
        finally:
            stop(proc)
    log.close()

    names = {("bare", "moderate"): "bare Flask `POST` (floor)",
             ("service", "moderate"): "`POST /v1/moderate` (score + store)",
             ("service", "coral"): "`POST /coral/moderate` (verify + lookup + score)"}
    print(f"\nCoral endpoint latency: wrk -t1 -d{args.duration}s against gunicorn on 127.0.0.1, {args.workers} sync "
          f"workers, {os.cpu_count()} CPUs shared with wrk, SQLite, encoder 1 thread/worker; 1-min load average "
          f"{load_before:.1f} before the run (other processes on the machine)\n")
    print("| endpoint | connections | req/s | p50 ms | p90 ms | p99 ms | max ms | errors | non-2xx |")
    print("|---|---|---|---|---|---|---|---|---|")
    for kind, endpoint, c, r in rows:
        print(f"| {names[kind, endpoint]} | {c} | {r['rps']:.1f} | {r['p50_ms']:.1f} | {r['p90_ms']:.1f} | "
              f"{r['p99_ms']:.1f} | {r['max_ms']:.1f} | {r['errors']} | {r['non_2xx']} |")
    print(f"\n| connections | coral p50 ÷ /v1/moderate p50 | coral p99 | within {BUDGET_MS:.0f} ms budget |")
    print("|---|---|---|---|")
    for c in args.connections:
        base = next(r for k, e, n, r in rows if (k, e, n) == ("service", "moderate", c))
        cor = next(r for k, e, n, r in rows if (k, e, n) == ("service", "coral", c))
        ok = cor["p99_ms"] < BUDGET_MS and cor["errors"] == 0 and cor["non_2xx"] == 0
        print(f"| {c} | {cor['p50_ms'] / max(base['p50_ms'], 1e-9):.2f} | {cor['p99_ms']:.1f} ms | "
              f"{'yes' if ok else 'NO'} |")
    print(f"\n(server log: {tmp / 'server.log'})")


if __name__ == "__main__":
    main()
