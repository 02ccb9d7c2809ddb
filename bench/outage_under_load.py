"""Worker kills and a database outage under load: are answers lost, and is every 5xx a 503 with Retry-After?

`moderation serve` (2 workers, shipped model) on SQLite or on PostgreSQL reached through a TCP proxy that this
script owns. `--clients` threads send POST /v1/moderate (each a new comment) for `--seconds`; meanwhile a worker
is killed with SIGKILL every `--kill-every` seconds, and (PostgreSQL only) the proxy is stopped for
`--outage-seconds` in the middle of the run, closing every database connection. Afterwards each 200 answer is
compared with the stored row (decision lost = answered but not stored, or stored differently).

    .venv/bin/python bench/outage_under_load.py --store sqlite
    .venv/bin/python bench/outage_under_load.py --store postgresql   # needs PostgreSQL at 127.0.0.1:5432
"""
import argparse
import collections
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.slowloris import ARTICLE, stop_server, workers_of  # noqa: E402
from tests.tcp_proxy import TcpProxy  # noqa: E402

TEXTS = ["Thanks for explaining the new timetable, the number 7 finally runs on Sundays. ({i})",
         "You are a stupid worthless idiot, nobody wants to read your garbage. ({i})"]


def start(port, db_url, folder):
    env = {**os.environ, "MODERATION_DATABASE_URL": db_url, "MODERATION_SECRET_KEY": "bench",
           "MODERATION_RATE_LIMIT": "0"}
    cli = [sys.executable, "-c", "from service.cli import main; main()"]
    key = subprocess.run(cli + ["keys", "create", "site-a", "outage"], env=env, cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout.strip().splitlines()[-1]
    log = open(Path(folder) / "server.log", "w")
    proc = subprocess.Popen(cli + ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
                            env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as r:
                if r.status == 200 and len(workers_of(proc.pid)) == 2:
                    return proc, key
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError("server not ready")


def client_loop(port, key, stop, results, prefix):
    i = 0
    while not stop.is_set():
        i += 1
        cid = f"{prefix}-{i}"
        body = json.dumps({"comment": {"id": cid, "text": TEXTS[i % 2].format(i=i)}, "article": ARTICLE}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/moderate", data=body, method="POST",
                                     headers={"Content-Type": "application/json", "X-API-Key": key})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                results.append((cid, r.status, json.loads(r.read())["decision"], None, time.monotonic()))
        except urllib.error.HTTPError as err:
            results.append((cid, err.code, None, err.headers.get("Retry-After"), time.monotonic()))
        except OSError as exc:   # connection reset by a killed worker: no answer, so nothing to lose
            results.append((cid, "no answer", None, type(exc).__name__, time.monotonic()))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--port", type=int, default=18197)
    parser.add_argument("--proxy-port", type=int, default=18198)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=40)
    parser.add_argument("--kill-every", type=float, default=10, help="a new worker needs seconds to load the model")
    parser.add_argument("--outage-seconds", type=float, default=5)
    args = parser.parse_args()

    from sqlalchemy import create_engine, text
    folder = tempfile.mkdtemp(prefix="outage-")
    proxy = schema = None
    if args.store == "postgresql":
        schema = "bench_" + uuid.uuid4().hex[:10]
        admin = create_engine("postgresql+psycopg2://postgres@127.0.0.1:5432/test")
        with admin.begin() as c:
            c.execute(text(f'CREATE SCHEMA "{schema}"'))
        proxy = TcpProxy(args.proxy_port, ("127.0.0.1", 5432))
        proxy.start()
        db_url = (f"postgresql://postgres@127.0.0.1:{args.proxy_port}/test?options=-csearch_path%3D{schema}")
        direct = db_url.replace(f":{args.proxy_port}/", ":5432/")
    else:
        db_url = direct = f"sqlite:///{folder}/outage.db"
    proc, key = start(args.port, db_url, folder)
    stop, results = threading.Event(), []
    threads = [threading.Thread(target=client_loop, args=(args.port, key, stop, results, f"t{n}"))
               for n in range(args.clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    kills, outage_done = 0, args.store != "postgresql"
    next_kill = started + args.kill_every
    try:
        while time.monotonic() - started < args.seconds:
            time.sleep(0.2)
            now = time.monotonic()
            if now >= next_kill and workers_of(proc.pid):
                os.kill(int(workers_of(proc.pid)[0]), signal.SIGKILL)
                kills += 1
                next_kill = now + args.kill_every
            if not outage_done and now - started >= args.seconds * 0.45:   # not at a kill: both at once leave no worker
                proxy.stop()
                outage = (time.monotonic(), time.monotonic() + args.outage_seconds)
                time.sleep(args.outage_seconds)
                proxy.start()
                outage_done = True
    finally:
        stop.set()
        for t in threads:
            t.join(60)
        stop_server(proc)

    from service.db import make_engine
    engine = make_engine(direct)
    with engine.connect() as c:
        stored = dict(c.execute(text("SELECT comment_id, decision FROM comments")).all())
    engine.dispose()
    if schema:
        with admin.begin() as c:
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    codes = collections.Counter(r[1] for r in results)
    answered = [r for r in results if r[1] == 200]
    lost = [r for r in answered if stored.get(r[0]) != r[2]]
    five_xx = [r for r in results if isinstance(r[1], int) and r[1] >= 500]
    bad_5xx = [r for r in five_xx if r[1] != 503 or not r[3]]
    print(f"store={args.store} clients={args.clients} seconds={args.seconds:g} worker kills={kills} "
          f"database outage={'%gs' % args.outage_seconds if args.store == 'postgresql' else 'none'}")
    print(f"{'requests':>9} {'200':>6} {'503+Retry-After':>16} {'other 5xx':>10} {'no answer':>10} {'lost':>5}")
    print(f"{len(results):9d} {codes[200]:6d} {len(five_xx) - len(bad_5xx):16d} {len(bad_5xx):10d} "
          f"{codes['no answer']:10d} {len(lost):5d}")
    if args.store == "postgresql":
        during = collections.Counter(r[1] for r in results if outage[0] <= r[4] <= outage[1])
        print("answers during the outage:", dict(during))
    if bad_5xx or lost:
        print("examples:", (bad_5xx + lost)[:5])
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
