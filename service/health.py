"""Liveness, readiness and Prometheus metrics.

Each process counts its own requests. Under gunicorn (`moderation serve` sets METRICS_DIR) every worker also
rewrites its counters to METRICS_DIR/<pid>.json from a background thread once a second (when they changed;
not on the request path), and /metrics sums the files of all workers, dead ones included, so a scrape sees
the whole server whichever worker answers (other workers' last second may be missing). The review queue size comes from the database.
"""
import bisect
import json
import os
import threading
import time

from flask import Blueprint, Response, current_app, g, jsonify, request
from sqlalchemy import func, select, text

from .db import Comment, db_session

bp = Blueprint("health", __name__)
DUMP_EVERY_S = 1.0

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    def __init__(self, folder: str | None = None):
        self.lock = threading.Lock()
        self.dump_lock = threading.Lock()   # a later dump always writes a later snapshot
        self.writer = None
        self.dirty = False
        self.folder = folder
        self.requests: dict = {}     # (endpoint, method, status, decision) -> count
        self.latency: dict = {}      # (endpoint, decision) -> ([count per bucket..., +Inf], sum of seconds)

    def observe(self, endpoint, method, status, decision, seconds):
        with self.lock:
            key = (endpoint, method, str(status), decision)
            self.requests[key] = self.requests.get(key, 0) + 1
            counts, total = self.latency.get((endpoint, decision), ([0] * (len(BUCKETS) + 1), 0.0))
            counts[bisect.bisect_left(BUCKETS, seconds)] += 1
            self.latency[(endpoint, decision)] = (counts, total + seconds)
            self.dirty = True
        if self.folder and self.writer is None:
            self._start_writer()

    def _start_writer(self):
        # started on first use, i.e. inside the gunicorn worker (threads do not survive a fork)
        with self.dump_lock:
            if self.writer is None:
                self.writer = threading.Thread(target=self._write_loop, name="metrics-writer", daemon=True)
                self.writer.start()

    def _write_loop(self):
        while True:
            time.sleep(DUMP_EVERY_S)
            if self.dirty:
                try:
                    self.dump()
                except OSError:
                    pass

    def snapshot(self) -> dict:
        with self.lock:
            return {"requests": [[*k, n] for k, n in self.requests.items()],
                    "latency": [[*k, list(c), s] for k, (c, s) in self.latency.items()]}

    def dump(self):
        os.makedirs(self.folder, exist_ok=True)
        path = os.path.join(self.folder, f"{os.getpid()}.json")
        with self.dump_lock:
            self.dirty = False
            snapshot = self.snapshot()
            with open(path + ".tmp", "w") as fh:
                json.dump(snapshot, fh)
            os.replace(path + ".tmp", path)  # readers never see half a file

    def merged(self):
        """(requests, latency) summed over every worker that wrote a file, or this process alone."""
        snapshots = [self.snapshot()]
        if self.folder:
            self.dump()
            snapshots = []
            for name in os.listdir(self.folder):
                if name.endswith(".json"):
                    try:
                        with open(os.path.join(self.folder, name)) as fh:
                            snapshots.append(json.load(fh))
                    except (OSError, ValueError):
                        continue
        requests, latency = {}, {}
        for snap in snapshots:
            for *key, n in snap["requests"]:
                requests[tuple(key)] = requests.get(tuple(key), 0) + n
            for endpoint, decision, counts, total in snap["latency"]:
                old_counts, old_total = latency.get((endpoint, decision), ([0] * len(counts), 0.0))
                latency[(endpoint, decision)] = ([a + b for a, b in zip(old_counts, counts)], old_total + total)
        return requests, latency


def _labels(**labels) -> str:
    def esc(v):
        return str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return "{" + ",".join(f'{k}="{esc(v)}"' for k, v in labels.items()) + "}"


def init_app(app):
    app.extensions["metrics"] = Metrics(app.config.get("METRICS_DIR"))

    @app.before_request
    def _start_timer():
        g.started = time.perf_counter()

    @app.after_request
    def _record(response):
        started = g.get("started")
        if started is not None:
            endpoint = request.url_rule.rule if request.url_rule else "unmatched"
            app.extensions["metrics"].observe(endpoint, request.method, response.status_code,
                                              g.get("decision", "none"), time.perf_counter() - started)
        return response


@bp.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    from .moderation import get_bundle
    checks, ready = {}, True
    try:
        bundle = get_bundle()
        checks["bundle"] = {"ok": True, "model_version": bundle.version}
    except Exception as exc:  # noqa: BLE001
        checks["bundle"] = {"ok": False, "error": str(exc)}
        ready = False
    try:
        db_session().execute(text("SELECT 1"))
        checks["database"] = {"ok": True}
    except Exception as exc:  # noqa: BLE001
        checks["database"] = {"ok": False, "error": exc.__class__.__name__}
        ready = False
    degraded = False
    if current_app.config.get("REDIS_URL"):
        # without Redis the rate limit counts in the database: still ready, but say so
        from .ratelimit import redis_state
        checks["redis"] = redis_state(current_app.config["REDIS_URL"])
        degraded = not checks["redis"]["ok"]
    status = ("degraded" if degraded else "ready") if ready else "not ready"
    return jsonify({"status": status, "checks": checks}), 200 if ready else 503


@bp.get("/metrics")
def metrics():
    requests, latency = current_app.extensions["metrics"].merged()
    lines = ["# HELP moderation_requests_total HTTP requests by endpoint, method, status and decision.",
             "# TYPE moderation_requests_total counter"]
    for (endpoint, method, status, decision), n in sorted(requests.items()):
        lines.append("moderation_requests_total" + _labels(endpoint=endpoint, method=method, status=status,
                                                           decision=decision) + f" {n}")
    lines += ["# HELP moderation_request_duration_seconds Request latency by endpoint and decision.",
              "# TYPE moderation_request_duration_seconds histogram"]
    for (endpoint, decision), (counts, total) in sorted(latency.items()):
        running = 0
        for bound, count in zip([*map(str, BUCKETS), "+Inf"], counts):
            running += count
            lines.append("moderation_request_duration_seconds_bucket"
                         + _labels(endpoint=endpoint, decision=decision, le=bound) + f" {running}")
        base = _labels(endpoint=endpoint, decision=decision)
        lines.append(f"moderation_request_duration_seconds_sum{base} {total:.6f}")
        lines.append(f"moderation_request_duration_seconds_count{base} {running}")
    bundle = current_app.extensions["moderation"].get("bundle")
    lines += ["# HELP moderation_model_info The loaded model bundle (1 when loaded).",
              "# TYPE moderation_model_info gauge",
              "moderation_model_info" + _labels(model_version=getattr(bundle, "version", "none"))
              + f" {1 if bundle is not None else 0}"]
    try:
        queue = db_session().scalar(select(func.count()).select_from(Comment).where(Comment.status == "held"))
        lines += ["# HELP moderation_review_queue_size Comments held and waiting for a moderator.",
                  "# TYPE moderation_review_queue_size gauge", f"moderation_review_queue_size {queue}"]
    except Exception:  # noqa: BLE001 - metrics must answer even when the database does not
        pass
    return Response("\n".join(lines) + "\n", mimetype="text/plain; version=0.0.4")
