"""Slow clients against `moderation serve`: POST /v1/moderate latency with and without 50 slowloris connections.

For each worker class (default: the shipped BufferedThreadWorker, then gunicorn's sync worker as the old default),
the server is started on SQLite with the shipped model; N sequential /v1/moderate requests (each a new comment,
so each is scored and stored) are timed unloaded, then again while `--connections` slow clients hold sockets open:
half send a request header one byte a second, half send a whole header with `Content-Length: 1000` and then the
body one byte a second (a closed connection is reopened at once). Prints p50/p99/max and the errors.

    .venv/bin/python bench/slowloris.py                       # buffered and sync, 2 workers
    .venv/bin/python bench/slowloris.py --worker-class service.worker.BufferedThreadWorker --requests 200
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TEXT = "Thanks for explaining the new timetable, the number 7 finally runs on Sundays. Comment {i}."
ARTICLE = {"id": "a1", "title": "New bus timetable from Monday",
           "body": "The city publishes a new timetable for buses 7 and 12, with Sunday service."}


def workers_of(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return fh.read().split()
    except OSError:
        return []


def start_server(port, workers, worker_class, folder, extra_env=None):
    """(process, API key): `moderation serve` on 127.0.0.1:port with a fresh SQLite database, ready."""
    db_url = f"sqlite:///{folder}/slowloris.db"
    env = {**os.environ, "MODERATION_DATABASE_URL": db_url, "MODERATION_SECRET_KEY": "bench",
           "MODERATION_RATE_LIMIT": "0", **(extra_env or {})}
    cli = [sys.executable, "-c", "from service.cli import main; main()"]
    key = subprocess.run(cli + ["keys", "create", "site-a", "slowloris"], env=env, cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout.strip().splitlines()[-1]
    log = open(Path(folder) / f"server-{port}.log", "w")
    proc = subprocess.Popen(cli + ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
                                   "--worker-class", worker_class, "--timeout", "60"],
                            env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {(Path(folder) / f'server-{port}.log').read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as r:
                if r.status == 200 and len(workers_of(proc.pid)) == workers:
                    return proc, key
        except OSError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise RuntimeError("server not ready")


def stop_server(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Slowloris:
    """`n` connections that never finish their request; each sends one more byte every `every` seconds."""

    def __init__(self, port, n=50, every=1.0):
        self.port, self.n, self.every = port, n, every
        self.stop_event = threading.Event()
        self.reopened = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _open(self, i):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        if i % 2:   # a whole header promising a body that comes a byte at a time
            s.sendall(b"POST /coral/moderate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"X-Coral-Signature: sha256=00\r\nContent-Length: 1000\r\n\r\n{")
        else:       # half a header
            s.sendall(b"POST /v1/moderate HTTP/1.1\r\nHost: x\r\n")
        return s

    def _run(self):
        socks = [self._open(i) for i in range(self.n)]
        while not self.stop_event.wait(self.every):
            for i, s in enumerate(socks):
                try:
                    s.send(b" " if i % 2 else b"X")
                except OSError:   # the server gave up on it: a real attacker reconnects
                    s.close()
                    try:
                        socks[i] = self._open(i)
                        self.reopened += 1
                    except OSError:
                        pass
        for s in socks:
            s.close()

    def __enter__(self):
        self.thread.start()
        time.sleep(2 * self.every)   # all open and trickling
        return self

    def __exit__(self, *exc):
        self.stop_event.set()
        self.thread.join(10)


def measure(port, key, n, start_id, timeout=10.0, give_up_after=5):
    """Latencies (s) of n sequential POST /v1/moderate, each a new comment; and the number of failures.
    Stops after `give_up_after` failures (a starved server would take n * timeout)."""
    latencies, errors = [], 0
    for i in range(start_id, start_id + n):
        if errors >= give_up_after:
            break
        body = json.dumps({"comment": {"id": f"c{i}", "text": TEXT.format(i=i)}, "article": ARTICLE}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/moderate", data=body, method="POST",
                                     headers={"Content-Type": "application/json", "X-API-Key": key})
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                r.read()
                ok = r.status == 200
        except (OSError, urllib.error.HTTPError):
            ok = False
        latencies.append(time.perf_counter() - started)
        errors += not ok
    return latencies, errors


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def run(port, workers, worker_class, requests, connections, folder):
    proc, key = start_server(port, workers, worker_class, folder)
    try:
        measure(port, key, 20, 0)   # warm-up: connections, caches
        unloaded, unloaded_errors = measure(port, key, requests, 1000)
        with Slowloris(port, connections) as slow:
            loaded, loaded_errors = measure(port, key, requests, 2000)
        return {"unloaded": unloaded, "unloaded_errors": unloaded_errors, "loaded": loaded,
                "loaded_errors": loaded_errors, "reopened": slow.reopened}
    finally:
        stop_server(proc)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=18194)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--worker-class", action="append",
                        help="repeatable; default: service.worker.BufferedThreadWorker and sync")
    args = parser.parse_args()
    classes = args.worker_class or ["service.worker.BufferedThreadWorker", "sync"]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for i, worker_class in enumerate(classes):
            sub = Path(folder) / str(i)
            sub.mkdir()
            r = run(args.port + i, args.workers, worker_class, args.requests, args.connections, sub)
            for phase in ("unloaded", "loaded"):
                lat = r[phase]
                rows.append((worker_class, phase, len(lat), percentile(lat, 50) * 1000, percentile(lat, 99) * 1000,
                             max(lat) * 1000, r[f"{phase}_errors"]))
    print(f"POST /v1/moderate, {args.workers} workers, {args.requests} sequential requests per phase; "
          f"loaded = with {args.connections} slowloris connections")
    print(f"(a phase stops after 5 failed requests, each failing after 10 s)")
    print(f"{'worker class':40} {'phase':9} {'n':>4} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'errors':>6}")
    for row in rows:
        print(f"{row[0]:40} {row[1]:9} {row[2]:4d} {row[3]:8.1f} {row[4]:8.1f} {row[5]:8.1f} {row[6]:6d}", flush=True)


if __name__ == "__main__":
    main()
