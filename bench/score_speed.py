"""Speed of the shipped bundle on this machine, beside alt-profanity-check measured in the same run.

    .venv/bin/python bench/score_speed.py [--n 10000] [--latency-n 300] [--bundle FOLDER] [--data ../shared/data]

Measures: bundle load time and memory (fresh process); `moderation score` comments/s on N comments spread
over 200 articles (a real subprocess, JSONL in and out, load time included and excluded), and its peak memory on
N/10 and N lines (streaming keeps it flat), against a process that scores comments one at a time (a service
worker); single-comment latency (median, p99) in one process.
Comments and articles come from ../shared/data (SemEval questions, ARC debates, FNC-1 news bodies), read
at run time and never written into the project.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def comment_pairs(data_root: Path, n: int, articles: int) -> list[dict]:
    """n score-input lines: a third each SemEval, ARC and FNC-1 (long news bodies), cycled if short,
    under `articles` distinct articles in all (a busy site: many comments per article)."""
    from training.data import load_topic_sets

    tp = load_topic_sets(data_root, sources=("semeval2016_cqa", "arc", "fnc1"))
    tp = tp.assign(_article=tp.article_title + "\n" + tp.article_body)
    parts = []
    for source in ("semeval2016_cqa", "arc", "fnc1"):
        part = tp[tp.source == source].sample(frac=1.0, random_state=0)
        keep = part["_article"].drop_duplicates().head(max(1, articles // 3))
        parts.append(part[part["_article"].isin(set(keep))])
    lines = []
    for i in range(n):
        part = parts[i % 3]
        row = part.iloc[(i // 3) % len(part)]
        article = {k: v for k, v in (("title", row.article_title), ("body", row.article_body)) if v}
        lines.append({"id": f"b{i}", "text": row.comment, "article": article})
    return lines


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def run_child(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


LOAD_CODE = """
import json, resource, time
t = time.perf_counter()
import models
b = models.load_bundle({bundle!r})
load = time.perf_counter() - t
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
b.score("warm up the encoder", {{"title": "Warm-up"}})
first = time.perf_counter() - t
print(json.dumps({{"load_s": load, "first_score_s": first, "rss_mb": rss,
                  "rss_after_first_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "version": b.version}}))
"""
# What a service worker holds: a fresh process that scores comments one at a time, as /v1/moderate does.
SINGLE_CODE = """
import json, resource
import models
b = models.load_bundle({bundle!r})
with open({path!r}) as f:
    lines = [json.loads(x) for x in f]
for x in lines:
    b.score(x["text"], x["article"] or None)
print(json.dumps({{"n": len(lines), "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def peak_rss_of(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS MB) of a child process."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    if status != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.read().decode()[-2000:]}")
    return wall, usage.ru_maxrss / 1024


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--latency-n", type=int, default=300)
    ap.add_argument("--articles", type=int, default=200, help="distinct articles the comments are spread over")
    ap.add_argument("--bundle", default=None)
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    args = ap.parse_args(argv)

    import models
    from profanity_check import predict_prob

    load_avg = os.getloadavg()
    lines = comment_pairs(Path(args.data), args.n, args.articles)
    rows = []
    load = run_child(LOAD_CODE.format(bundle=args.bundle))
    rows.append(("bundle load (fresh process)", f"{load['load_s']:.2f} s", f"peak RSS {load['rss_mb']:.0f} MB"))
    rows.append(("load + first score (encoder warm-up)", f"{load['first_score_s']:.2f} s",
                 f"peak RSS {load['rss_after_first_mb']:.0f} MB"))

    with tempfile.TemporaryDirectory() as tmp:
        script = Path(sys.executable).parent / "moderation"
        cmd_base = ([str(script)] if script.exists() else
                    [sys.executable, "-c", "from service.cli import main; main()"]) + ["score"]
        extra = ["--bundle", args.bundle] if args.bundle else []
        small, full = Path(tmp) / "small.jsonl", Path(tmp) / "full.jsonl"
        small.write_text("".join(json.dumps(x) + "\n" for x in lines[: max(1, args.n // 10)]))
        full.write_text("".join(json.dumps(x) + "\n" for x in lines))
        wall_small, rss_small = peak_rss_of(cmd_base + [str(small), "--output", os.devnull] + extra)
        wall, rss = peak_rss_of(cmd_base + [str(full), "--output", os.devnull] + extra)
        one = Path(tmp) / "single.jsonl"
        one.write_text("".join(json.dumps(x) + "\n" for x in lines[: args.latency_n]))
        single = run_child(SINGLE_CODE.format(bundle=args.bundle, path=str(one)))
    rate_all = args.n / wall
    rate_scoring = args.n / max(wall - load["first_score_s"], 1e-9)
    rows.append((f"`moderation score` {args.n} comments under {args.articles} articles", f"{rate_all:.1f} comments/s",
                 f"{wall:.1f} s wall incl. load; {rate_scoring:.1f}/s excl. load"))
    rows.append((f"`moderation score` peak RSS, {args.n // 10} vs {args.n} lines", f"{rss_small:.0f} vs {rss:.0f} MB",
                 "streaming: memory does not grow with input"))
    rows.append((f"{single['n']} comments one at a time, fresh process", f"peak RSS {single['rss_mb']:.0f} MB",
                 "what a service worker holds; `moderation score` runs 64 lines at a time, and the rest of its "
                 "peak is the encoder's and the abuse branch's working memory for those windows"))

    bundle = models.load_bundle(args.bundle)
    bundle.score("warm up", {"title": "Warm-up"})
    sample = lines[: args.latency_n]  # spread over the articles: some first comments, some repeats
    lat, lat_new, lat_seen, seen = [], [], [], set()
    for x in sample:
        key = json.dumps(x["article"], sort_keys=True)
        t = time.perf_counter()
        bundle.score(x["text"], x["article"] or None)
        lat.append((time.perf_counter() - t) * 1000)
        (lat_seen if key in seen else lat_new).append(lat[-1])
        seen.add(key)
    base_lat = []
    for x in sample:
        t = time.perf_counter()
        predict_prob([x["text"]])
        base_lat.append((time.perf_counter() - t) * 1000)
    t = time.perf_counter()
    predict_prob([x["text"] for x in lines])
    base_rate = len(lines) / (time.perf_counter() - t)
    med, p99 = statistics.median(lat), percentile(lat, 99)
    bmed, bp99 = statistics.median(base_lat), percentile(base_lat, 99)
    rows.append((f"single comment latency, {len(sample)} comments (bundle.score)", f"median {med:.1f} ms",
                 f"p99 {p99:.1f} ms"))
    for name, values in (("article seen before (cached)", lat_seen), ("first comment on an article", lat_new)):
        if values:
            rows.append((f"  of which {name}: {len(values)}", f"median {statistics.median(values):.1f} ms",
                         f"p99 {percentile(values, 99):.1f} ms"))
    rows.append(("baseline: alt-profanity-check, one comment", f"median {bmed:.2f} ms",
                 f"p99 {bp99:.2f} ms; bundle median is {med / bmed:.0f}x"))
    rows.append((f"baseline: alt-profanity-check batch of {len(lines)}", f"{base_rate:.0f} comments/s",
                 f"`moderation score` is {base_rate / rate_scoring:.0f}x slower (it also embeds and checks topic)"))

    print(f"bundle {load['version']}, {os.cpu_count()} CPUs, python {sys.version.split()[0]}, load average at start "
          f"{load_avg[0]:.1f}, at end {os.getloadavg()[0]:.1f} (other work on the machine slows every number)")
    width = max(len(r[0]) for r in rows)
    print(f"| {'measure'.ljust(width)} | value | notes |")
    print(f"|{'-' * (width + 2)}|---|---|")
    for r in rows:
        print(f"| {r[0].ljust(width)} | {r[1]} | {r[2]} |")


if __name__ == "__main__":
    main()
