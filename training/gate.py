"""The promote gate: a candidate bundle must not decide worse than the default one on a fixed evaluation set.

The set: a fixed sample of public news comments (UCC's test split, labelled abusive or not, no article; SFU/SOCC
comments under the title of the article they were posted under, on-topic) and the newest part of the site's
labelled exports (rows are in decision order, so the newest part is held out by time). Both bundles decide
through `models.decide`, and are compared twice per part, refused when worse by more than the tolerance on either:
- at the shipped policy's thresholds (the TOML `[policy]`, over each bundle's own where it names none), as the
  service would decide: false-hold rate (ordinary comments held, any reason) higher, or a catch rate (abusive /
  off-topic comments held) lower;
- at an equal false-hold rate: each bundle's thresholds scaled by the one factor that holds as many ordinary
  comments as the current bundle holds at the policy; a catch rate lower. A bundle that only moved its operating
  point (lower thresholds: more caught, more false holds) does not pass for a better ranking here.
"""
from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

import models
from training.data import LabelledDataError, _load_ucc, load_labelled_export, load_news_on_topic

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
        lines = [f"{'':40} {'':22} {'':5} {'at the policy thresholds':^42} {'at equal false-hold':^42}",
                 f"{'part':40} {'bundle':22} {'n':>5} {'false-hold':>10} {'catch abusive':>14} {'catch off-topic':>16}"
                 f" {'false-hold':>10} {'catch abusive':>14} {'catch off-topic':>16}"]
        for row in self.table:
            lines.append(f"{row['part']:40} {row['bundle']:22} {row['n']:5d} {_pct(row['false_hold'], row['ordinary'])}"
                         f" {_pct(row['catch_abusive'], row['abusive'], 14)} {_pct(row['catch_off_topic'], row['off_topic'], 16)}"
                         f" {_pct(row.get('equal_false_hold'), row['ordinary'])}"
                         f" {_pct(row.get('equal_catch_abusive'), row['abusive'], 14)}"
                         f" {_pct(row.get('equal_catch_off_topic'), row['off_topic'], 16)}")
        return "\n".join(lines)


def _pct(value, n, width=10) -> str:
    text = "-" if value is None else f"{100 * value:.1f}% ({n})"
    return f"{text:>{width}}"


def _sample(df: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    return df if len(df) <= n else df.sample(n=n, random_state=seed).sort_index()


def public_news(root, *, abusive: int = 150, ordinary: int = 300, on_topic: int = 200, seed: int = 0) -> list[Part]:
    """The fixed public part: the same rows for every bundle and every run with the same arguments."""
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


def policy_from_config(path) -> dict:
    """The `[policy]` table of the service's TOML config (the shipped policy); {} without a config."""
    if not path:
        return {}
    with open(path, "rb") as fh:
        return dict(tomllib.load(fh).get("policy") or {})


def _ratio(score: float, threshold: float) -> float:
    return math.inf if threshold <= 0 else score / threshold


def _decisions(bundle, part: Part, thresholds: dict, batch: int) -> tuple[np.ndarray, np.ndarray]:
    """Held at `thresholds` (through models.decide), and each comment's hold margin: the largest score/threshold
    over the heads (held at a common scaling c of every threshold iff margin >= c), inf when a rule holds it."""
    held, margin = [], []
    for i in range(0, len(part), batch):
        pairs = list(zip(part.texts[i:i + batch], part.articles[i:i + batch]))
        for s in bundle.score_many(pairs):
            held.append(models.decide(s, thresholds).held)
            limits = {**(s.thresholds or {}), **thresholds}
            if models.decide(s, {h: math.inf for h in limits}).held:   # held at any threshold: a rule, an error
                margin.append(math.inf)
            else:
                scores = s.head_scores()
                margin.append(max(_ratio(float(scores[h]), float(t)) for h, t in limits.items() if h in scores))
    return np.asarray(held, bool), np.asarray(margin, float)


def _masks(part: Part) -> dict[str, np.ndarray]:
    abusive, off_topic = part.abusive == 1, part.off_topic == 1
    ordinary = ~abusive & ~off_topic & ~(np.isnan(part.abusive) & np.isnan(part.off_topic))
    return {"ordinary": ordinary, "abusive": abusive, "off_topic": off_topic}


def _rate(held: np.ndarray, mask: np.ndarray):
    return float(held[mask].mean()) if mask.any() else None


def measure(bundle, part: Part, policy: dict | None = None, site: str | None = None, batch: int = 64) -> dict:
    """The bundle's false-hold and catch rates on `part` at the policy's thresholds over its own (what the
    service would apply to `site`); `margin` is kept for the comparison at an equal false-hold rate."""
    thresholds = models.thresholds_for(policy, getattr(bundle, "thresholds", None) or {}, site)
    held, margin = _decisions(bundle, part, thresholds, batch)
    masks = _masks(part)
    out = {"part": part.name, "bundle": bundle.version, "n": len(part), "thresholds": thresholds,
           "false_hold": _rate(held, masks["ordinary"]), "catch_abusive": _rate(held, masks["abusive"]),
           "catch_off_topic": _rate(held, masks["off_topic"]), "margin": margin,
           "false_holds": int(held[masks["ordinary"]].sum())}
    out.update({name: int(mask.sum()) for name, mask in masks.items()})
    return out


def at_false_holds(result: dict, part: Part, false_holds: int) -> dict:
    """Catch rates when the bundle's thresholds are all scaled by the one factor that holds at most
    `false_holds` ordinary comments (the most it can catch at that false-hold rate)."""
    masks = _masks(part)
    margin = result["margin"]
    ordinary = np.sort(margin[masks["ordinary"]])[::-1]
    cut = ordinary[false_holds] if false_holds < len(ordinary) else -math.inf
    held = margin > cut
    return {"catch_abusive": _rate(held, masks["abusive"]), "catch_off_topic": _rate(held, masks["off_topic"]),
            "false_hold": _rate(held, masks["ordinary"])}


def compare(current: dict, candidate: dict, tolerance: float, where: str = "") -> list[str]:
    """Failures of the candidate against the current bundle; `where` names the comparison in each message."""
    failures = []
    if current["false_hold"] is not None and candidate["false_hold"] > current["false_hold"] + tolerance:
        failures.append(f"{candidate['part']}: false-hold rate {candidate['false_hold']:.1%} vs "
                        f"{current['false_hold']:.1%} now{where} (tolerance {tolerance:.1%})")
    for key, n in (("catch_abusive", "abusive"), ("catch_off_topic", "off_topic")):
        if current[key] is None or current[n] < MIN_POSITIVES:
            continue
        if candidate[key] < current[key] - tolerance:
            failures.append(f"{candidate['part']}: {key.replace('_', ' ')} rate {candidate[key]:.1%} vs "
                            f"{current[key]:.1%} now{where} (tolerance {tolerance:.1%})")
    return failures


def gate(current, candidate, parts: list[Part], tolerance: float = 0.02, policy: dict | None = None,
         site: str | None = None) -> GateResult:
    """Refuse the candidate when, on any part, it decides worse than the current bundle by more than `tolerance`:
    at the policy's thresholds (false-hold or catch rate), or in catch rate at the current bundle's false-hold
    rate (each bundle's thresholds scaled to hold as many ordinary comments as the current one does at the policy)."""
    failures, table = [], []
    for part in parts:
        if not len(part):
            continue
        now, new = measure(current, part, policy, site), measure(candidate, part, policy, site)
        failures += compare(now, new, tolerance, " at the policy's thresholds")
        k = now["false_holds"]
        equal = [{**r, **at_false_holds(r, part, k)} for r in (now, new)]
        failures += compare({**equal[0], "false_hold": None}, equal[1], tolerance,
                            f" at the current false-hold rate ({k} of {now['ordinary']} ordinary held)")
        for row, eq in zip((now, new), equal):
            row.pop("margin")
            row.update({"equal_false_hold": eq["false_hold"], "equal_catch_abusive": eq["catch_abusive"],
                        "equal_catch_off_topic": eq["catch_off_topic"]})
            table.append(row)
    return GateResult(not failures, failures, table)
