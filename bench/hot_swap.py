"""Hot swap under load: promote a bundle and change a threshold while clients drive POST /v1/moderate, then roll back.

`moderation serve` (gunicorn, SQLite) loads the default bundle of a registry folder of its own
(MODERATION_BUNDLES_DIR: copies of the two shipped bundles, FROM the default). A closed-loop load of
--connections keep-alive clients posts comments the whole time (a Python client rather than wrk, so that the
load lasts exactly as long as the changes take and every answer's model_version is kept). After --warm seconds
the bench runs `moderation models promote TO --force` (the gate is skipped with --force --no-public: the swap is
what is measured here), waits until the answers come from TO, then `moderation policy set --threshold
abusive=...`, and keeps the load on for --tail seconds. Every answer is stored with the model version and
thresholds that made it, so the switch-over of both is read back from the database. Then `moderation models
rollback`, and the same probe comments are posted again: their answers (decision, reasons, scores, spans, model
version) must equal those before the promotion.

    .venv/bin/python bench/hot_swap.py
"""
import argparse
import datetime as dt
import http.client
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

from bench.http_moderate import TEXTS, start, stop  # noqa: E402

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


class Load:
    """`connections` closed-loop clients posting until stopped; keeps (time, status, model_version) per answer."""

    def __init__(self, port, key, connections):
        self.port, self.key, self.stop = port, key, threading.Event()
        self.answers, self.failures, self.lock = [], [], threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(c,), daemon=True) for c in range(connections)]

    def start(self):
        for t in self.threads:
            t.start()

    def _run(self, c):
        conn, i = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60), 0
        while not self.stop.is_set():
            i += 1
            body = json.dumps({"comment": {"id": f"load-{c}-{i}", "text": TEXTS[i % len(TEXTS)]},
                               "article": {"id": "a1"}})
            sent = time.time()
            try:
                conn.request("POST", "/v1/moderate", body, {"Content-Type": "application/json", "X-API-Key": self.key})
                r = conn.getresponse()
                data = r.read()
                ok = r.status == 200
                version = json.loads(data)["model_version"] if ok else None
            except (OSError, http.client.HTTPException, ValueError) as e:
                ok, version, data = False, None, repr(e).encode()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            with self.lock:
                self.answers.append((time.time(), time.time() - sent, ok, version))
                if not ok:
                    self.failures.append(data[:200])

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(120)

    def streak(self, version, n=20):
        with self.lock:
            last = [v for _, _, _, v in self.answers[-n:]]
        return len(last) == n and all(v == version for v in last)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--from-version", default="2026.11.28.6")
    ap.add_argument("--to-version", default="2026.11.28.4")
    ap.add_argument("--warm", type=int, default=20, help="seconds of load before the promotion")
    ap.add_argument("--tail", type=int, default=20, help="seconds of load after the threshold change")
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threshold", type=float, default=0.97, help="new abusive threshold for the load's site")
    ap.add_argument("--port", type=int, default=18151)
    ap.add_argument("--report", type=Path, default=ROOT / "bench/hot_swap.md")
    args = ap.parse_args()
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

    log = open(tmp / "server.log", "w")
    proc = start("service", args.port, args.workers, env, log)
    events = {}
    try:
        before = probe(args.port, probe_key, "before")
        load = Load(args.port, key, args.connections)
        t0 = time.time()
        load.start()
        time.sleep(args.warm)
        events["promote"] = time.time()
        out = subprocess.run(CLI + ["models", "promote", args.to_version, "--force", "--no-public",
                                    "--reason", "hot swap bench"], env=env, cwd=ROOT, capture_output=True, text=True)
        events["promoted"] = time.time()
        print(out.stdout, out.stderr, flush=True)
        deadline = time.time() + 240
        while not load.streak(args.to_version) and time.time() < deadline:
            time.sleep(0.5)
        events["swapped"] = time.time()
        events["policy"] = time.time()
        out = subprocess.run(CLI + ["policy", "set", "--site", "bench", "--threshold", f"abusive={args.threshold}"],
                             env=env, cwd=ROOT, capture_output=True, text=True)
        events["policy_set"] = time.time()
        print(out.stdout, out.stderr, flush=True)
        time.sleep(args.tail)
        load.finish()
        t_end = time.time()
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

    stamps = [(r.received_at.replace(tzinfo=dt.timezone.utc).timestamp(), r.model_version,
               (r.thresholds or {}).get("abusive")) for r in rows]
    old_t = {a for _, v, a in stamps if a != args.threshold}

    def window(pred_old, pred_new, event):
        olds = [t for t, v, a in stamps if pred_old(v, a)]
        news = [t for t, v, a in stamps if pred_new(v, a)]
        return {"old": len(olds), "new": len(news),
                "first_new_s": (min(news) - event) if news else None, "last_old_s": (max(olds) - event) if olds else None}

    # relative to the moment each change was written (the CLI command returned)
    model = window(lambda v, a: v == args.from_version, lambda v, a: v == args.to_version, events["promoted"])
    policy = window(lambda v, a: a != args.threshold, lambda v, a: a == args.threshold, events["policy_set"])
    differ = sum(answer(a) != answer(b) for a, b in zip(before, during))
    same = sum(answer(a) == answer(b) for a, b in zip(before, after))
    answers = load.answers
    failed = sum(not ok for _, _, ok, _ in answers)
    latency = sorted(1000 * d for _, d, _, _ in answers)

    def pct(q):
        return latency[min(len(latency) - 1, int(q * len(latency)))]

    by_version = {}
    for at, _, ok, version in answers:
        by_version.setdefault(version, []).append(at)
    ok = failed == 0 and model["new"] > 0 and policy["new"] > 0 and same == len(PROBES)

    def s(v):
        return "-" if v is None else f"{v:+.1f} s"

    lines = [
        f"# Hot swap under load: promote {args.to_version} and change a threshold while clients drive /v1/moderate",
        "",
        f"`python bench/hot_swap.py --connections {args.connections}`: gunicorn {args.workers} sync workers, SQLite, "
        f"{args.connections} closed-loop keep-alive clients for {t_end - t0:.0f} s, BUNDLE_CHECK_S = POLICY_CHECK_S "
        "= 1 s, on a 2-core machine shared with other jobs (so the rates are low and latencies high: what is "
        "measured is failures and switch-over).",
        "",
        "| answers | req/s | failed | p50 ms | p99 ms | max ms | answers per model_version |",
        "|---|---|---|---|---|---|---|",
        f"| {len(answers)} | {len(answers) / (t_end - t0):.1f} | {failed} | {pct(0.5):.0f} | {pct(0.99):.0f} | "
        f"{latency[-1]:.0f} | " + ", ".join(f"{v}: {len(ts)}" for v, ts in by_version.items()) + " |",
        "",
        "Switch-over, read back from the stored decisions (times relative to the moment the command had written the "
        "change; a worker notices within BUNDLE_CHECK_S and loads the new bundle beside the old one before "
        "swapping):",
        "",
        "| change | command took | answers before | answers after | first new answer | last old answer |",
        "|---|---|---|---|---|---|",
        f"| `models promote {args.to_version} --force` | {events['promoted'] - events['promote']:.0f} s | "
        f"{model['old']} ({args.from_version}) | {model['new']} ({args.to_version}) | {s(model['first_new_s'])} | "
        f"{s(model['last_old_s'])} |",
        f"| `policy set --site bench --threshold abusive={args.threshold}` | "
        f"{events['policy_set'] - events['policy']:.0f} s | {policy['old']} "
        f"(abusive {', '.join(f'{t:.4g}' for t in sorted(x for x in old_t if x is not None))}) | {policy['new']} | "
        f"{s(policy['first_new_s'])} | {s(policy['last_old_s'])} |",
        "",
        f"Rollback: {len(PROBES)} probe comments posted before the promotion, under {args.to_version} "
        f"({differ} answers differ from before) and after `models rollback` (both workers back on "
        f"{args.from_version} {back_s:.1f} s after it): **{same} of {len(PROBES)} answers identical** (decision, "
        "reasons, scores, spans, model version).",
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
