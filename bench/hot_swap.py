"""Hot swap under load: promote a bundle and change a threshold while wrk drives POST /v1/moderate, then roll back.

`moderation serve` (gunicorn, SQLite) loads the default bundle of a registry folder of its own
(MODERATION_BUNDLES_DIR: copies of the two shipped bundles, FROM the default). While wrk posts comments for
--seconds, the bench runs `moderation models promote TO --force` at 1/4 of the run (the gate is skipped with
--force --no-public: the swap is what is measured here) and `moderation policy set --threshold abusive=...` at
1/2. Every answer is stored with the model version and thresholds that made it, so the switch-over of each is
read back from the database. Then `moderation models rollback`, and the same probe comments are posted again:
their answers (decision, reasons, scores, spans, model version) must equal those before the promotion.

    .venv/bin/python bench/hot_swap.py                 # needs wrk (apt-get install -y wrk)
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.http_moderate import LUA, TEXTS, start, stop, wrk  # noqa: E402

CLI = [sys.executable, "-c", "import sys; sys.argv[0] = 'moderation'; from service.cli import main; main()"]
PROBES = [f"{t} ({i})" for i in range(5) for t in TEXTS]


def post(port, key, cid, text):
    body = json.dumps({"comment": {"id": cid, "text": text}, "article": {"id": "a1"}}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/moderate", data=body, method="POST",
                                 headers={"Content-Type": "application/json", "X-API-Key": key})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.load(r)


def probe(port, key, tag):
    return [post(port, key, f"{tag}-{i}", t) for i, t in enumerate(PROBES)]


def answer(body):
    return {k: v for k, v in body.items() if k not in ("comment_id", "review_id")}


def wait_for(port, key, version, timeout=180):
    """Post until 20 answers in a row come from `version` (both workers swapped); returns the seconds it took."""
    started, streak, i = time.monotonic(), 0, 0
    while time.monotonic() - started < timeout:
        i += 1
        streak = streak + 1 if post(port, key, f"wait-{version}-{time.time()}-{i}", "waiting")["model_version"] == version else 0
        if streak >= 20:
            return time.monotonic() - started
        time.sleep(0.05)
    raise SystemExit(f"workers did not switch to {version} within {timeout} s")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--from-version", default="2026.11.28.6")
    ap.add_argument("--to-version", default="2026.11.28.4")
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threshold", type=float, default=0.97, help="new abusive threshold for the load's site")
    ap.add_argument("--port", type=int, default=18151)
    ap.add_argument("--report", type=Path, default=ROOT / "bench/hot_swap.md")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk not found: apt-get install -y wrk")

    tmp = Path(tempfile.mkdtemp(prefix="hot-swap-"))
    registry = tmp / "bundles"
    for version in (args.from_version, args.to_version):
        shutil.copytree(ROOT / "models/bundles" / version, registry / version)
    (registry / "current.txt").write_text(args.from_version + "\n")
    db_url = f"sqlite:///{tmp}/swap.db"
    env = {**os.environ, "MODERATION_DATABASE_URL": db_url, "MODERATION_SECRET_KEY": "swap",
           "MODERATION_BUNDLES_DIR": str(registry), "MODERATION_RATE_LIMIT": "0", "MODERATION_BUNDLE_CHECK_S": "1",
           "MODERATION_POLICY_CHECK_S": "1", "OMP_NUM_THREADS": "1"}
    os.environ.update({k: env[k] for k in ("MODERATION_DATABASE_URL", "MODERATION_BUNDLES_DIR")})
    from sqlalchemy import select

    from service import create_app
    from service.auth import create_api_key
    from service.db import Comment, db_session
    admin = create_app({"LOAD_BUNDLE_AT_START": False, "SECRET_KEY": "swap"})
    with admin.app_context():
        key, probe_key = create_api_key("bench", "load"), create_api_key("probe", "probe")
    script = tmp / "moderate.lua"
    script.write_text(LUA % {"texts": ", ".join(json.dumps(t) for t in TEXTS), "key": key, "path": "/v1/moderate"})

    log = open(tmp / "server.log", "w")
    proc = start("service", args.port, args.workers, env, log)
    events = {}
    try:
        before = probe(args.port, probe_key, "before")
        result = {}
        load = threading.Thread(target=lambda: result.update(wrk(args.port, str(script), args.seconds,
                                                                 args.connections, "swap")))
        t0 = time.time()
        load.start()
        time.sleep(args.seconds / 4)
        events["promote"] = time.time()
        out = subprocess.run(CLI + ["models", "promote", args.to_version, "--force", "--no-public",
                                    "--reason", "hot swap bench"], env=env, cwd=ROOT, capture_output=True, text=True)
        print(out.stdout, out.stderr, flush=True)
        time.sleep(max(0.0, t0 + args.seconds / 2 - time.time()))
        events["policy"] = time.time()
        out = subprocess.run(CLI + ["policy", "set", "--site", "bench", "--threshold", f"abusive={args.threshold}"],
                             env=env, cwd=ROOT, capture_output=True, text=True)
        print(out.stdout, out.stderr, flush=True)
        load.join()
        during = probe(args.port, probe_key, "promoted")
        events["rollback"] = time.time()
        out = subprocess.run(CLI + ["models", "rollback"], env=env, cwd=ROOT, capture_output=True, text=True)
        print(out.stdout, out.stderr, flush=True)
        back_s = wait_for(args.port, probe_key, args.from_version)
        after = probe(args.port, probe_key, "rolled-back")
    finally:
        stop(proc)
        log.close()

    with admin.app_context():
        rows = db_session().execute(select(Comment.received_at, Comment.model_version, Comment.thresholds)
                                    .where(Comment.site == "bench").order_by(Comment.received_at)).all()
    admin.extensions["db"]["engine"].dispose()

    import datetime as dt
    stamps = [(r.received_at.replace(tzinfo=dt.timezone.utc).timestamp(), r.model_version,
               (r.thresholds or {}).get("abusive")) for r in rows]
    old_t = {a for _, v, a in stamps if a != args.threshold}

    def window(pred_old, pred_new, event):
        olds = [t for t, v, a in stamps if pred_old(v, a)]
        news = [t for t, v, a in stamps if pred_new(v, a)]
        return {"old": len(olds), "new": len(news),
                "first_new_s": (min(news) - event) if news else None, "last_old_s": (max(olds) - event) if olds else None}

    model = window(lambda v, a: v == args.from_version, lambda v, a: v == args.to_version, events["promote"])
    policy = window(lambda v, a: a != args.threshold, lambda v, a: a == args.threshold, events["policy"])
    differ = sum(answer(a) != answer(b) for a, b in zip(before, during))
    same = sum(answer(a) == answer(b) for a, b in zip(before, after))
    ok = result.get("errors") == 0 and result.get("non_2xx") == 0 and model["new"] > 0 and policy["new"] > 0 \
        and same == len(PROBES)

    def s(v):
        return "-" if v is None else f"{v:+.1f} s"

    lines = [
        f"# Hot swap under load: promote {args.to_version} and change a threshold while wrk drives /v1/moderate",
        "",
        f"`python bench/hot_swap.py --seconds {args.seconds}`: gunicorn {args.workers} sync workers, SQLite, "
        f"wrk -t1 -c{args.connections} -d{args.seconds}s, BUNDLE_CHECK_S = POLICY_CHECK_S = 1 s, on a 2-core "
        "machine shared with other jobs.",
        "",
        "| requests | req/s | errors | non-2xx | p50 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|---|",
        f"| {result['requests']} | {result['rps']:.1f} | {result['errors']} | {result['non_2xx']} | "
        f"{result['p50_ms']:.0f} | {result['p99_ms']:.0f} | {result['max_ms']:.0f} |",
        "",
        "Switch-over, read back from the stored decisions (times relative to the command):",
        "",
        "| change | answers before | answers after | first new answer | last old answer |",
        "|---|---|---|---|---|",
        f"| `models promote {args.to_version}` at {events['promote'] - t0:.0f} s | {model['old']} "
        f"({args.from_version}) | {model['new']} ({args.to_version}) | {s(model['first_new_s'])} | "
        f"{s(model['last_old_s'])} |",
        f"| `policy set --threshold abusive={args.threshold}` at {events['policy'] - t0:.0f} s | {policy['old']} "
        f"(abusive {', '.join(f'{t:.4g}' for t in sorted(x for x in old_t if x is not None))}) | {policy['new']} | "
        f"{s(policy['first_new_s'])} | {s(policy['last_old_s'])} |",
        "",
        f"Rollback: {len(PROBES)} probe comments posted before the promotion, under {args.to_version} "
        f"({differ} answers differ) and after `models rollback` (both workers back on {args.from_version} "
        f"{back_s:.1f} s after it): **{same} of {len(PROBES)} answers identical** (decision, reasons, scores, spans, "
        "model version).",
        "",
        f"Result: **{'PASS' if ok else 'FAIL'}** (0 failed requests, both changes picked up without a restart, "
        "rollback restores the answers exactly).",
    ]
    report = "\n".join(lines) + "\n"
    print(report)
    args.report.write_text(report)
    print(f"(server log: {tmp / 'server.log'})")


if __name__ == "__main__":
    main()
