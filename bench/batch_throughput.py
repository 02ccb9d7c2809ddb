"""`moderation score` throughput before and after, in one run, on the same comments.

    .venv/bin/python bench/batch_throughput.py [--n 2000] [--articles 40] [--rounds 3] [--before REF]
                                               [--data ../shared/data] [--dask] [--int8]

Runs the `score` command of commit REF (default: the merge base with main; extracted with `git archive` into a
temporary folder) and of this tree with --jobs 1, --jobs 2 and, with --dask, --dask local --jobs 2, as real
subprocesses (JSONL in and out, bundle load included), in alternating order for --rounds rounds. Prints the median
comments/s of each and its ratio to the baseline measured in the same round, peak RSS (the CLI's own report for
the workers), peak PSS of the whole process tree sampled every 0.5 s (forked workers share the bundle's pages
copy-on-write; Dask's workers are spawned and load their own), and whether the outputs are identical (this tree's variants must match byte for byte; against the
baseline, the differing lines and largest score difference are shown: the baseline batches differently).
Comments and articles come from ../shared/data (bench/score_speed.py's mix), read at run time, never written
into the project.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def pss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith("Pss:")) / 1024
    except (OSError, StopIteration):
        return 0.0


def tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            tasks = os.listdir(f"/proc/{p}/task")  # children started by any thread (Dask's nanny runs in one)
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo += [int(c) for c in fh.read().split()]
            except OSError:
                pass
    return out


def sample_pss(pid: int, stop, peak: dict):
    """Peak PSS of the whole process tree (pages shared copy-on-write are split between the sharers), and of one
    process in it, sampled every 0.5 s."""
    while not stop.wait(0.5):
        each = [pss_mb(p) for p in tree(pid)]
        peak["total"] = max(peak.get("total", 0.0), sum(each))
        peak["one"] = max(peak.get("one", 0.0), max(each, default=0.0))


def run(cwd: Path, args: list[str], src: Path, dst: Path, env: dict | None = None) -> dict:
    cmd = [sys.executable, "-c", "from service.cli import main; main()", "score", str(src), "--output", str(dst), *args]
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(cwd), **(env or {})})
    import threading
    stop, peak = threading.Event(), {}
    sampler = threading.Thread(target=sample_pss, args=(proc.pid, stop, peak), daemon=True)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    stop.set()
    sampler.join()
    err = proc.stderr.read()
    if status != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err[-3000:]}")
    worker = re.search(r"largest of \d+ worker\(s\) (\d+) MB", err)
    own = re.search(r"this process (\d+) MB", err)
    return {"wall": wall, "rss": float(own.group(1)) if own else usage.ru_maxrss / 1024,
            "worker_rss": float(worker.group(1)) if worker else None, "pss": peak.get("total", 0.0),
            "pss_one": peak.get("one", 0.0)}


def compare(a: Path, b: Path) -> tuple[int, float]:
    """(lines whose decision or reasons differ, largest absolute score difference)."""
    differ, worst = 0, 0.0
    for x, y in zip(a.read_text().splitlines(), b.read_text().splitlines()):
        x, y = json.loads(x), json.loads(y)
        differ += (x.get("decision"), x.get("reasons")) != (y.get("decision"), y.get("reasons"))
        for k, v in (x.get("scores") or {}).items():
            worst = max(worst, abs(v - (y.get("scores") or {}).get(k, v)))
    return differ, worst


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--articles", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--before", default=None, help="git ref of the baseline (default: merge base with main)")
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--dask", action="store_true", help="also --dask local --jobs 2")
    ap.add_argument("--int8", action="store_true", help="also --jobs 1 and 2 with the int8 encoder")
    args = ap.parse_args(argv)
    from bench.score_speed import comment_pairs

    ref = args.before or subprocess.run(["git", "merge-base", "HEAD", "main"], cwd=ROOT, capture_output=True,
                                        text=True, check=True).stdout.strip()
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        before = tmp / "before"
        before.mkdir()
        archive = subprocess.run(["git", "archive", ref], cwd=ROOT, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(before)], input=archive, check=True)
        src = tmp / "in.jsonl"
        src.write_text("".join(json.dumps(x) + "\n" for x in comment_pairs(Path(args.data), args.n, args.articles)))
        int8 = {"MODERATION_ENCODER_PRECISION": "int8"}
        variants = {f"before ({ref[:7]}), 1 process": (before, [], None),
                    "after, --jobs 1": (ROOT, ["--jobs", "1"], None),
                    "after, --jobs 2": (ROOT, ["--jobs", "2"], None)}
        if args.int8:
            variants["after, --jobs 1, int8 encoder"] = (ROOT, ["--jobs", "1"], int8)
            variants["after, --jobs 2, int8 encoder"] = (ROOT, ["--jobs", "2"], int8)
        if args.dask:
            variants["after, --dask local --jobs 2"] = (ROOT, ["--dask", "local", "--jobs", "2"], None)
        names = list(variants)
        results = {k: [] for k in names}
        for r in range(args.rounds):
            order = names if r % 2 == 0 else names[::-1]
            for name in order:
                cwd, extra, env = variants[name]
                got = run(cwd, extra, src, tmp / f"{names.index(name)}.jsonl", env)
                results[name].append(got)
                print(f"round {r + 1}: {name}: {args.n / got['wall']:.1f} comments/s", file=sys.stderr, flush=True)
        outs = [tmp / f"{i}.jsonl" for i in range(len(names))]
        fp32 = [o for o, name in zip(outs, names) if "int8" not in name]
        identical = all(o.read_bytes() == fp32[1].read_bytes() for o in fp32[2:])
        int8_diff = [compare(outs[1], o) for o, name in zip(outs, names) if "int8" in name]
        differ, worst = compare(outs[0], outs[1])
    base = [args.n / r["wall"] for r in results[names[0]]]
    print(f"{args.n} comments under {args.articles} articles, {args.rounds} round(s), {os.cpu_count()} CPUs, "
          f"load average {load_start:.1f} at start, {os.getloadavg()[0]:.1f} at end")
    print("| variant | comments/s (median, incl. bundle load) | ratio to before, same round (median) | peak RSS "
          "| peak PSS, all processes (largest one) |")
    print("|---|---|---|---|---|")
    for name in names:
        rates = [args.n / r["wall"] for r in results[name]]
        ratios = [x / b for x, b in zip(rates, base)]
        rss = statistics.median(r["rss"] for r in results[name])
        worker = [r["worker_rss"] for r in results[name] if r["worker_rss"]]
        mem = f"{rss:.0f} MB" + (f" + largest worker {statistics.median(worker):.0f} MB" if worker else "")
        pss = statistics.median(r["pss"] for r in results[name])
        one = statistics.median(r["pss_one"] for r in results[name])
        print(f"| {name} | {statistics.median(rates):.1f} | {statistics.median(ratios):.2f}x | {mem} | "
              f"{pss:.0f} MB ({one:.0f} MB) |")
    print(f"\nthis tree's fp32 variants write identical output: {identical}; against before: {differ} line(s) with "
          f"another decision, largest score difference {worst:.2g}")
    for d, w in int8_diff[:1]:
        print(f"int8 against fp32 (--jobs 1): {d} of {args.n} line(s) with another decision, largest score "
              f"difference {w:.2g}")


if __name__ == "__main__":
    main()
