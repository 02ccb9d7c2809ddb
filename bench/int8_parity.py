"""The int8 encoder against fp32, in one run on the same comments: speed, embedding drift, and the shipped
bundle's abuse ROC-AUC and operating point on held-out sets with paired bootstrap intervals.

    .venv/bin/python bench/int8_parity.py [--n 400] [--bootstrap 1000] [--speed-n 200] [--data ../shared/data]

Sets: OLID's level-A test set and UCC's test split, a seeded random sample of --n comments each (neither set is
trained on). The bundle is the same object for both runs; only its encoder changes (the abuse branch stays fp32).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.fastpath_quality import auc, paired_bootstrap  # noqa: E402


def use(bundle, encoder):
    bundle.abuse.encoder = encoder
    bundle.off_topic.encoder = encoder
    bundle.off_topic._lru = None


def speed(enc, texts, batch: int) -> float:
    """comments/s encoding texts in batches of `batch`."""
    t = time.perf_counter()
    for i in range(0, len(texts), batch):
        enc.encode_chunks(texts[i:i + batch])
    return len(texts) / (time.perf_counter() - t)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--speed-n", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    args = ap.parse_args(argv)

    import models
    from models.encoder import Encoder, set_threads
    from models.normalize import normalize
    from training.data import load_abuse_sets

    set_threads(1)
    bundle = models.load_bundle()
    encoders = {p: Encoder(precision=p) for p in ("fp32", "int8")}
    for enc in encoders.values():  # the abuse branch runs on whichever encoder scores
        use(bundle, enc)
        bundle.abuse._encoder()
    df = load_abuse_sets(Path(args.data), sources=("olid", "ucc"))
    load_start = os.getloadavg()[0]
    threshold = bundle.thresholds["abusive"]
    print(f"bundle {bundle.version}, abusive threshold {threshold:.4f}; {args.bootstrap} paired bootstrap resamples; "
          f"1 encoder thread")
    print("| set | n (abusive) | fp32 ROC-AUC [95%] | int8 ROC-AUC [95%] | int8 - fp32 [95%] | fp32 held / caught "
          "| int8 held / caught | same decision |")
    print("|---|---|---|---|---|---|---|---|")
    texts_all = []
    for source in ("olid", "ucc"):
        part = df[(df.source == source) & (df.split == "test")].sample(frac=1.0, random_state=0).head(args.n)
        texts, y = part.text.tolist(), part.label.to_numpy().astype(int)
        texts_all += texts
        got = {}
        for p, enc in encoders.items():
            use(bundle, enc)
            got[p] = np.array([s.abusive for i in range(0, len(texts), 32)
                               for s in bundle.score_many([(t, None) for t in texts[i:i + 32]])])
        (fa, fb), (ia, ib), (da, db) = paired_bootstrap(y, got["int8"], got["fp32"], args.bootstrap)
        f32, i8 = auc(y, got["fp32"]), auc(y, got["int8"])
        hf, hi = got["fp32"] >= threshold, got["int8"] >= threshold
        print(f"| {source} test | {len(y)} ({y.sum()}) | {f32:.3f} [{ia:.3f}, {ib:.3f}] | {i8:.3f} [{fa:.3f}, {fb:.3f}] "
              f"| {i8 - f32:+.4f} [{da:+.4f}, {db:+.4f}] | {hf.mean():.1%} / {hf[y == 1].mean():.1%} | "
              f"{hi.mean():.1%} / {hi[y == 1].mean():.1%} | {(hf == hi).mean():.1%} |", flush=True)
    norm = [normalize(t) for t in texts_all[: args.speed_n * 2]]
    a, b = encoders["fp32"].encode_chunks(norm), encoders["int8"].encode_chunks(norm)
    cos = np.array([float(x.mean @ z.mean) for x, z in zip(a, b)])
    fcos = np.array([float(x.feature_mean @ z.feature_mean) / 2 for x, z in zip(a, b)])
    print(f"\nembedding drift on {len(norm)} comments: sentence embedding cosine int8 vs fp32 mean {cos.mean():.4f}, "
          f"min {cos.min():.4f}; abuse features cosine mean {fcos.mean():.4f}, min {fcos.min():.4f}")
    sample = norm[: args.speed_n]
    rates = {(p, bs): [] for p in encoders for bs in (1, 16)}
    for r in range(args.rounds):
        for p in (("fp32", "int8") if r % 2 == 0 else ("int8", "fp32")):
            for bs in (1, 16):
                rates[p, bs].append(speed(encoders[p], sample, bs))
    print(f"encoder speed, {len(sample)} comments, {args.rounds} alternating rounds, medians (comments/s):")
    for bs in (1, 16):
        f, i = statistics.median(rates["fp32", bs]), statistics.median(rates["int8", bs])
        ratio = statistics.median(x / y for x, y in zip(rates["int8", bs], rates["fp32", bs]))
        print(f"  batch {bs:>2}: fp32 {f:.1f}, int8 {i:.1f} (int8/fp32 per round, median {ratio:.2f}x)")
    from models.encoder import _onnx_file
    path = _onnx_file(encoders["fp32"].model_path)
    q = path.with_name(path.stem + "-int8.onnx")
    print(f"graph size: fp32 {path.stat().st_size / 1e6:.0f} MB, int8 {q.stat().st_size / 1e6:.0f} MB; "
          f"load average {load_start:.1f} at start, {os.getloadavg()[0]:.1f} at end")


if __name__ == "__main__":
    main()
