"""The promote gate: a candidate bundle must not decide worse than the default one on a fixed evaluation set.

The set: a fixed sample of public news comments (UCC's test split, labelled abusive or not, no article; SFU/SOCC
comments under the title of the article they were posted under, on-topic) and the newest part of the site's
labelled exports (rows are in decision order, so the newest part is held out by time). Both bundles decide with
their own thresholds, through `models.decide`. Per part, the candidate is refused when its false-hold rate
(ordinary comments held, any reason) is higher, or a catch rate (abusive / off-topic comments held) lower, than
the current bundle's by more than the tolerance.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

import models

MIN_POSITIVES = 10    # a catch rate over fewer labelled positives is reported, not gated on


@dataclass
class Part:
    name: str
    texts: list[str]
    articles: list[dict | None]
    abusive: np.ndarray      # 1 / 0 / NaN (unknown)
    off_topic: np.ndarray

    def __len__(self):
        return len(self.texts)


@dataclass
class GateResult:
    passed: bool
    failures: list[str]
    table: list[dict] = field(default_factory=list)   # per part and bundle: the rates

    def format(self) -> str:
        lines = [f"{'part':40} {'bundle':22} {'n':>5} {'false-hold':>10} {'catch abusive':>14} {'catch off-topic':>16}"]
        for row in self.table:
            lines.append(f"{row['part']:40} {row['bundle']:22} {row['n']:5d} {_pct(row['false_hold'], row['ordinary'])}"
                         f" {_pct(row['catch_abusive'], row['abusive'], 14)} {_pct(row['catch_off_topic'], row['off_topic'], 16)}")
        return "\n".join(lines)


def _pct(value, n, width=10) -> str:
    text = "-" if value is None else f"{100 * value:.1f}% ({n})"
    return f"{text:>{width}}"


def _sample(df: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    return df if len(df) <= n else df.sample(n=n, random_state=seed).sort_index()


def public_news(root, *, abusive: int = 150, ordinary: int = 300, on_topic: int = 200, seed: int = 0) -> list[Part]:
    """The fixed public part: the same rows for every bundle and every run with the same arguments."""
    from training.data import _load_ucc, load_news_on_topic

    root = Path(root)
    ucc = _load_ucc(root)
    ucc = ucc[ucc.split == "test"].drop_duplicates("text")
    ucc = pd.concat([_sample(ucc[ucc.label == 1], abusive, seed), _sample(ucc[ucc.label == 0], ordinary, seed)])
    parts = [Part("public: UCC news comments", ucc.text.astype(str).tolist(), [None] * len(ucc),
                  ucc.label.to_numpy(float), np.full(len(ucc), np.nan))]
    _, sfu = load_news_on_topic(root)
    sfu = _sample(sfu, on_topic, seed)
    parts.append(Part("public: SFU under own title", sfu.comment.tolist(),
                      [{"title": t} for t in sfu.article_title], np.full(len(sfu), np.nan), np.zeros(len(sfu))))
    return parts


def site_holdout(paths, fraction: float = 0.25) -> list[Part]:
    """The newest `fraction` of each labelled export (exports list decisions oldest first)."""
    from training.data import LabelledDataError, load_labelled_export

    parts = []
    for path in paths:
        rows, errors = load_labelled_export(path)
        if errors:
            raise LabelledDataError(f"{path}: {len(errors)} bad row(s): " + "; ".join(errors[:5]))
        tail = rows.iloc[len(rows) - max(1, math.ceil(len(rows) * fraction)):]
        articles = [{"title": t, "body": b} if (t or b) else None for t, b in zip(tail.article_title, tail.article_body)]
        off = tail.off_topic.astype(float).to_numpy()
        parts.append(Part(f"site: newest {fraction:.0%} of {Path(path).name}", tail.text.tolist(), articles,
                          tail.abusive.astype(float).to_numpy(), off))
    return parts


def measure(bundle, part: Part, batch: int = 64) -> dict:
    held = []
    for i in range(0, len(part), batch):
        pairs = list(zip(part.texts[i:i + batch], part.articles[i:i + batch]))
        held += [models.decide(s).decision == "hold" for s in bundle.score_many(pairs)]
    held = np.asarray(held, bool)
    abusive, off_topic = part.abusive == 1, part.off_topic == 1
    ordinary = ~abusive & ~off_topic & ~(np.isnan(part.abusive) & np.isnan(part.off_topic))

    def rate(mask):
        return (float(held[mask].mean()) if mask.any() else None), int(mask.sum())

    out = {"part": part.name, "bundle": bundle.version, "n": len(part)}
    for name, mask in (("false_hold", ordinary), ("catch_abusive", abusive), ("catch_off_topic", off_topic)):
        out[name], n = rate(mask)
        out[{"false_hold": "ordinary", "catch_abusive": "abusive", "catch_off_topic": "off_topic"}[name]] = n
    return out


def compare(current: dict, candidate: dict, tolerance: float) -> list[str]:
    failures = []
    if current["false_hold"] is not None and candidate["false_hold"] > current["false_hold"] + tolerance:
        failures.append(f"{candidate['part']}: false-hold rate {candidate['false_hold']:.1%} vs "
                        f"{current['false_hold']:.1%} now (tolerance {tolerance:.1%})")
    for key, n in (("catch_abusive", "abusive"), ("catch_off_topic", "off_topic")):
        if current[key] is None or current[n] < MIN_POSITIVES:
            continue
        if candidate[key] < current[key] - tolerance:
            failures.append(f"{candidate['part']}: {key.replace('_', ' ')} rate {candidate[key]:.1%} vs "
                            f"{current[key]:.1%} now (tolerance {tolerance:.1%})")
    return failures


def gate(current, candidate, parts: list[Part], tolerance: float = 0.02) -> GateResult:
    failures, table = [], []
    for part in parts:
        if not len(part):
            continue
        now, new = measure(current, part), measure(candidate, part)
        table += [now, new]
        failures += compare(now, new, tolerance)
    return GateResult(not failures, failures, table)
