"""HTTP benchmark: wrk against gunicorn on loopback.

For 1 and 2 workers, in the same run and with the same gunicorn settings (service.commands.run_gunicorn):
  * a bare Flask endpoint (parse JSON, answer JSON): the floor of Flask + gunicorn + wrk on this machine;
  * POST /v1/moderate with the shipped model, SQLite storage, rate limiting on (every request scored and stored);
then the target: POST /v1/moderate paced at --rate requests/s for --paced-seconds (goal p99 <= 50 ms, 0 errors).
Memory per worker: RSS and PSS (PSS splits shared pages fairly) read from /proc after the saturated run.

    .venv/bin/python bench/http_moderate.py              # needs `wrk` (apt-get install -y wrk)
    .venv/bin/python bench/http_moderate.py --duration 5 --paced-seconds 10 --workers 1   # quick look
    .venv/bin/python bench/http_moderate.py --database-url postgresql://postgres@127.0.0.1:5432/bench

wrk's latency is measured per request on each connection (closed loop); in paced mode each of the
10 connections pauses between requests, the pause calibrated by a 10 s trial so that the measured rate is the
target rate; MET needs at least 98% of it, p99 <= 50 ms and no errors.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Synthetic comments written for this benchmark (no data set text), 10 to 60 words.
TEXTS = [
    "Thanks for explaining the new timetable, the number 7 finally runs on Sundays.",
    "I doubt the council will keep this promise, they said the same thing about the bridge in 2019 and nothing happened.",
    "Who pays for all this? The article does not say how much the extra buses cost or where the money comes from.",
    "Check out my channel for the best deals on cheap flights, link in my profile!!!",
    "You clearly have no idea what you are talking about, go read the report before commenting.",
    "My daughter takes bus 12 to school every morning and it has been late almost every day this month. "
    "If the new timetable fixes that I will be happy, but I will believe it when I see it.",
    "Great reporting, more of this please.",
    "The mayor is an idiot and everyone who voted for him is stupid.",
]
ARTICLE = {"title": "New bus timetable from Monday",
           "body": "The city transport authority publishes a new timetable: buses 7 and 12 will run every ten "
                   "minutes on weekdays and every twenty minutes on Sundays. The change costs 1.2 million a year.",
           "section": "local"}

LUA = r"""
local counter = 0
local texts = {%(texts)s}
local prefix = "x"
local pause = 0
function setup(thread)
  thread:set("tid", tostring(math.random(1, 1e9)))
end
function init(args)
  prefix = (args[1] or "run") .. "-" .. tid
  pause = tonumber(args[2] or "0")
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["X-API-Key"] = "%(key)s"
end
function delay()
  return pause
end
function request()
  counter = counter + 1
  local text = texts[(counter %% #texts) + 1]
  local body = string.format('{"comment": {"id": "%%s-%%d", "text": "%%s"}, "article": {"id": "a1"}}',
                             prefix, counter, text)
  return wrk.format(nil, "%(path)s", nil, body)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('JSON{"requests": %%d, "seconds": %%f, "p50_ms": %%f, "p90_ms": %%f, "p99_ms": %%f, '
    .. '"max_ms": %%f, "errors": %%d, "non_2xx": %%d}\n', summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1e3, latency:percentile(90) / 1e3, latency:percentile(99) / 1e3, latency.max / 1e3,
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""


def bare_app():
    from flask import Flask, jsonify, request
    app = Flask("bare")

    @app.post("/v1/moderate")
    def bare():
        data = request.get_json()
        return jsonify({"comment_id": data["comment"]["id"], "decision": "publish", "reasons": []})

    @app.get("/healthz")
    def healthz():
        return jsonify({"status": "ok"})
    return app


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def workers_of(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as fh:
        return [int(p) for p in fh.read().split()]


def memory_mib(pid):
    fields = {}
    with open(f"/proc/{pid}/smaps_rollup") as fh:
        for line in fh:
            parts = line.split()
            if parts[0] in ("Rss:", "Pss:"):
                fields[parts[0][:-1]] = int(parts[1]) / 1024
    return fields


def wait_ready(url, proc, workers, timeout=240):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200 and len(workers_of(proc.pid)) == workers:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{url} not ready after {timeout} s")


def start(kind, port, workers, env, log, cwd=ROOT):
    if kind == "bare":
        code = ("import sys; sys.path.insert(0, %r); from bench.http_moderate import bare_app; "
                "from service.commands import run_gunicorn; run_gunicorn(bare_app, '127.0.0.1', %d, %d, 60)"
                % (str(ROOT), port, workers))
        cmd = [sys.executable, "-c", code]
        ready = "/healthz"
    else:
        cmd = [sys.executable, "-c", "from service.cli import main; main()", "serve", "--host", "127.0.0.1",
               "--port", str(port), "--workers", str(workers), "--timeout", "60"]
        ready = "/readyz"
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=cwd)
    wait_ready(f"http://127.0.0.1:{port}{ready}", proc, workers)
    return proc


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


def wrk(port, script, seconds, connections, tag, pause_ms=0):
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", script,
                          f"http://127.0.0.1:{port}", "--", tag, str(pause_ms)],
                         capture_output=True, text=True, check=True).stdout
    line = next(l for l in out.splitlines() if l.startswith("JSON"))
    result = json.loads(line[4:])
    result["rps"] = result["requests"] / result["seconds"]
    return result


def model_only_ms(n=40):
    """The model alone in this process (1 encoder thread, same comments and article): what HTTP adds is the rest."""
    from models.encoder import set_threads

    import models
    set_threads(1)
    bundle = models.load_bundle()
    article = models.ArticleText(title=ARTICLE["title"], body=ARTICLE["body"])
    bundle.score_many([(t, article) for t in TEXTS])
    times = []
    for i in range(n):
        started = time.perf_counter()
        bundle.score(f"{TEXTS[i % len(TEXTS)]} ({i})", article)
        times.append((time.perf_counter() - started) * 1e3)
    times.sort()
    return {"p50": times[n // 2], "p90": times[int(n * 0.9)]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--duration", type=int, default=10, help="seconds per saturated run")
    ap.add_argument("--connections", type=int, default=4, help="wrk connections in saturated runs")
    ap.add_argument("--rate", type=float, default=50.0, help="paced run: requests/s")
    ap.add_argument("--paced-seconds", type=int, default=60)
    ap.add_argument("--paced-workers", type=int, default=2)
    ap.add_argument("--database-url", help="e.g. postgresql://postgres@127.0.0.1:5432/bench (an empty database);"
                                           " default: a fresh SQLite file")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk not found: apt-get install -y wrk")

    from service import create_app
    from service.auth import create_api_key

    tmp = Path(tempfile.mkdtemp(prefix="bench-http-"))
    db_url = args.database_url or f"sqlite:///{tmp}/bench.db"
    db_name = db_url.split(":", 1)[0].split("+")[0]
    admin = create_app({"DATABASE_URL": db_url, "LOAD_BUNDLE_AT_START": False, "SECRET_KEY": "bench"})
    with admin.app_context():
        key = create_api_key("bench-site", "bench")
    script = tmp / "moderate.lua"
    script.write_text(LUA % {"texts": ", ".join(json.dumps(t) for t in TEXTS), "key": key, "path": "/v1/moderate"})
    env = {**os.environ, "MODERATION_DATABASE_URL": db_url, "MODERATION_SECRET_KEY": "bench",
           "MODERATION_RATE_LIMIT": str(10 ** 9), "OMP_NUM_THREADS": "1"}
    log = open(tmp / "server.log", "w")
    rows, memory, version = [], {}, "?"

    def put_article(port):
        req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/articles/a1", data=json.dumps(ARTICLE).encode(),
                                     method="PUT", headers={"Content-Type": "application/json", "X-API-Key": key})
        urllib.request.urlopen(req, timeout=10).read()

    for workers in args.workers:
        for kind in ("bare", "service"):
            port = free_port()
            proc = start(kind, port, workers, env, log)
            try:
                if kind == "service":
                    put_article(port)
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz") as r:
                        version = json.load(r)["checks"]["bundle"]["model_version"]
                wrk(port, str(script), 3, args.connections, f"warm-{kind}-{workers}")
                result = wrk(port, str(script), args.duration, args.connections, f"{kind}-{workers}")
                if kind == "service":
                    memory[workers] = [memory_mib(p) for p in workers_of(proc.pid)]
            finally:
                stop(proc)
            rows.append((kind, workers, result))

    model_ms = model_only_ms()

    paced = None
    if args.paced_seconds > 0:
        port = free_port()
        proc = start("service", port, args.paced_workers, env, log)
        try:
            put_article(port)
            probe = wrk(port, str(script), 3, 1, "probe")        # one connection: latency of a lone request
            connections = 10
            pause = max(0.0, 1000.0 * connections / args.rate - probe["p50_ms"])
            # wrk paces each connection by a pause after its answer (closed loop), so latency under load lowers
            # the rate: measure the rate 10 s at this pause, then shorten the pause by the cycle time it lost
            trial = wrk(port, str(script), 10, connections, "pace-trial", int(round(pause)))
            pause = max(0.0, pause - (1000.0 * connections / trial["rps"] - 1000.0 * connections / args.rate))
            paced = wrk(port, str(script), args.paced_seconds, connections, "paced", int(round(pause)))
        finally:
            stop(proc)
    log.close()

    print(f"\nHTTP benchmark, wrk -t1 -c{args.connections} -d{args.duration}s against gunicorn on 127.0.0.1 "
          f"(sync workers, {os.cpu_count()} CPUs shared with wrk), model {version}, {db_name}, encoder 1 thread/worker\n")
    print("| endpoint | workers | req/s | p50 ms | p90 ms | p99 ms | errors | non-2xx |")
    print("|---|---|---|---|---|---|---|---|")
    for kind, workers, r in rows:
        name = "bare Flask `POST` (baseline)" if kind == "bare" else "`POST /v1/moderate` (model + storage)"
        print(f"| {name} | {workers} | {r['rps']:.1f} | {r['p50_ms']:.1f} | {r['p90_ms']:.1f} | {r['p99_ms']:.1f} "
              f"| {r['errors']} | {r['non_2xx']} |")
    print(f"| model alone, in process (`bundle.score(text, article)`, no HTTP) | - | "
          f"{1000 / model_ms['p50']:.1f} | {model_ms['p50']:.1f} | {model_ms['p90']:.1f} | | | |")
    print("\n| workers | service req/s ÷ bare req/s | service p50 ÷ bare p50 |")
    print("|---|---|---|")
    for workers in args.workers:
        bare = next(r for k, w, r in rows if k == "bare" and w == workers)
        svc = next(r for k, w, r in rows if k == "service" and w == workers)
        print(f"| {workers} | {svc['rps'] / bare['rps']:.3f} | {svc['p50_ms'] / max(bare['p50_ms'], 1e-9):.1f}x |")
    print("\nMemory per service worker after the saturated run (MiB): " + "; ".join(
        f"{w} worker(s): " + ", ".join(f"RSS {m['Rss']:.0f} / PSS {m['Pss']:.0f}" for m in ms)
        for w, ms in memory.items()))
    if paced:
        ok = paced["p99_ms"] <= 50 and paced["errors"] == 0 and paced["non_2xx"] == 0 \
            and paced["rps"] >= 0.98 * args.rate
        print(f"\nTarget: {args.rate:.0f} req/s for {args.paced_seconds} s, {args.paced_workers} workers "
              f"(10 connections, {pause:.0f} ms pause each): measured {paced['rps']:.1f} req/s, "
              f"p50 {paced['p50_ms']:.1f} ms, p90 {paced['p90_ms']:.1f} ms, p99 {paced['p99_ms']:.1f} ms, "
              f"max {paced['max_ms']:.1f} ms, errors {paced['errors']}, non-2xx {paced['non_2xx']} -> "
              f"{'MET' if ok else 'NOT MET'} (goal p99 <= 50 ms, 0 errors)")
    print(f"\n(server log: {tmp / 'server.log'})")


if __name__ == "__main__":
    main()
