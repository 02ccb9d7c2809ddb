"""Build the Perspective-scale artefact (`perspective_scale.json` beside a bundle) and measure it.

Perspective's TOXICITY means "about this share of readers would find the comment toxic". Our abuse score is a
probability of a 0/1 label with its own threshold (0.076), so Perspective-era thresholds (0.7-0.9) on it catch
almost nothing. This module fits two monotone maps from our scores, on data the bundle never trained on
(or, for SEVERE_TOXICITY, on the training split only), and writes them as a small JSON file:

  TOXICITY:        isotonic regression of the UCC dev rater fraction (the trust-weighted share of annotators who
                   called the comment hostile or antagonising, the larger of the two) on our abuse score.
  SEVERE_TOXICITY: logistic regression of "C3 crowd toxicity level >= 3" (the mean annotator rating is 'very' or
                   'extremely' toxic) on our abuse and insult/obscene/identity/threat sub-scores, C3 training
                   articles only, then isotonic on the same split so the output is monotone in the linear score.

    python -m training.perspective_scale build [--data ../shared/data] [--bundle models/bundles/<v>]
    python -m training.perspective_scale report   # the threshold table on held-out news comments

Scores are cached under .cache/perspective_scale/ (never committed) so `report` does not rescore.
"""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

import models
from models.calibration import PerspectiveScale
from models.encoder import set_threads

from . import data

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "perspective_scale"
DEFAULT_DATA = ROOT.parent / "shared" / "data"   # ../shared/data beside the project, as training uses
ARTEFACT = "perspective_scale.json"
HELD = {"c3_test_size": 0.2, "seed": 0}   # the bundle's own C3 hold-out (metadata held_out)
C3_CALM_SAMPLE = 1500                       # C3 training comments below level 2 scored for the severe fit
SEVERE_LEVEL = 3.0                          # C3 mean rating: 3 = very toxic, 4 = extremely toxic
THRESHOLDS = (0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9)   # Perspective-era ones (0.5-0.9) and lower ones that work
SCORE_KEYS = ("abusive", "insult", "obscene", "identity_attack", "threat")


def _frames(root: Path) -> dict[str, pd.DataFrame]:
    """The sets, as the bundle's training and evaluation split them: UCC dev/test, C3 train/test articles."""
    abuse = data.load_abuse_sets(root, sources=("c3", "ucc"))
    ucc = abuse[abuse.source == "ucc"]
    agree = data.load_ucc_attributes(root)
    fractions = []
    for a in data.UCC_ATTRIBUTES:
        conf = agree[f"{a}_agreement"].fillna(1.0)
        fractions.append(np.where(agree[a] == 1, conf, 1.0 - conf))
    agree = agree.assign(rater_fraction=np.max(fractions, axis=0))
    ucc = ucc.join(agree[["rater_fraction"]], on="group")
    raw = pd.read_csv(root / "abuse/c3/C3_anonymized.csv")
    level = dict(zip(raw["comment_text"].map(data.text_key), raw["crowd_toxicity_level"]))
    c3 = abuse[abuse.source == "c3"]
    c3 = c3.assign(level=c3["text"].map(lambda t: level.get(data.text_key(t), np.nan)))
    c3_train, c3_test = data.grouped_split(c3, test_size=HELD["c3_test_size"], seed=HELD["seed"])
    # every toxic training comment (level >= 2) and a weighted sample of the rest: scoring all 9,400 long comments
    # takes most of an hour on a shared 2-core machine, and the severe fit only needs the toxic end resolved
    calm = c3_train[~(c3_train["level"] >= 2)]
    sample = calm.sample(n=min(C3_CALM_SAMPLE, len(calm)), random_state=HELD["seed"])
    c3_train = pd.concat([c3_train[c3_train["level"] >= 2].assign(weight=1.0),
                          sample.assign(weight=len(calm) / len(sample))])
    return {"ucc_dev": ucc[ucc.split == "dev"], "ucc_test": ucc[ucc.split == "test"],
            "c3_test": c3_test, "c3_train": c3_train}


def scored(bundle, root: Path, batch_size: int = 64) -> dict[str, pd.DataFrame]:
    """Each set with our scores beside it, cached per bundle version (scoring 20,000 comments takes minutes)."""
    frames = _frames(root)
    CACHE.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, df in frames.items():
        path = CACHE / f"{bundle.version}-{name}.csv.gz"
        # the frames carry sub-label targets named like our sub-scores (insult, ...): the scores replace them
        df = df.reset_index(drop=True).drop(columns=[k for k in SCORE_KEYS if k in df])
        if path.exists():
            cached = pd.read_csv(path)
            if len(cached) == len(df):
                out[name] = pd.concat([df, cached[list(SCORE_KEYS)]], axis=1)
                continue
        rows = []
        texts = [t if str(t).strip() else "." for t in df["text"].astype(str)]
        for i in range(0, len(texts), batch_size):
            for s in bundle.score_many([(t, None) for t in texts[i:i + batch_size]]):
                rows.append([s.abusive] + [s.sub_scores.get(k, np.nan) for k in SCORE_KEYS[1:]])
            log.info("%s: %d/%d", name, min(i + batch_size, len(texts)), len(texts))
        scores = pd.DataFrame(rows, columns=list(SCORE_KEYS))
        scores.to_csv(path, index=False)
        out[name] = pd.concat([df, scores], axis=1)
    return out


def _isotonic(x, y, weight=None) -> dict:
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
    iso.fit(np.asarray(x, float), np.asarray(y, float), sample_weight=weight)
    return {"x": [round(float(v), 6) for v in iso.X_thresholds_], "y": [round(float(v), 6) for v in iso.y_thresholds_]}


def fit(sets: dict[str, pd.DataFrame], version: str) -> dict:
    dev = sets["ucc_dev"].dropna(subset=["rater_fraction"])
    toxicity = _isotonic(dev["abusive"], dev["rater_fraction"])
    train = sets["c3_train"].dropna(subset=["level"])
    features = _severe_features(train)
    severe_y = (train["level"] >= SEVERE_LEVEL).astype(int)
    lr = LogisticRegression(C=1.0, max_iter=1000).fit(features, severe_y, sample_weight=train["weight"])
    linear = features @ lr.coef_[0] + lr.intercept_[0]
    severe = _isotonic(linear, severe_y.astype(float), weight=train["weight"])
    # what a client threshold catches on the fitting data: the endpoint warns when a client's would catch ~nothing
    mapped = np.interp(dev["abusive"], toxicity["x"], toxicity["y"])
    toxic = dev["label"].to_numpy() == 1
    catch = {f"{t:.2f}": round(float((mapped[toxic] >= t).mean()), 4) for t in np.arange(0.05, 1.0, 0.05)}
    return {
        "format": 1, "bundle": version,
        "built_by": "python -m training.perspective_scale build",
        "TOXICITY": {"input": "abusive", **toxicity,
                     "fitted_on": f"UCC dev ({len(dev)} comments): rater fraction = trust-weighted share of "
                                  "annotators answering hostile or antagonize, the larger of the two"},
        "SEVERE_TOXICITY": {
            "input": "logit-linear", "features": ["logit(abusive)", *SCORE_KEYS[1:]],
            "coef": [round(float(c), 6) for c in lr.coef_[0]], "intercept": round(float(lr.intercept_[0]), 6),
            **severe,
            "fitted_on": f"C3 training articles ({len(train)} comments: every one with level >= 2 and a weighted "
                         f"sample of the rest): crowd_toxicity_level >= {SEVERE_LEVEL}"},
        "catch": catch,
    }


def _logit(p):
    p = np.clip(np.asarray(p, float), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _severe_features(df: pd.DataFrame) -> np.ndarray:
    return np.column_stack([_logit(df["abusive"])] + [df[k].fillna(0).to_numpy(float) for k in SCORE_KEYS[1:]])


def threshold_table(y, raw, mapped, thresholds=THRESHOLDS) -> list[dict]:
    y = np.asarray(y).astype(bool)
    rows = []
    for t in thresholds:
        row = {"threshold": t}
        for name, p in (("raw", np.asarray(raw)), ("perspective", np.asarray(mapped))):
            hold = p >= t
            row[f"{name}_catch"] = float(hold[y].mean()) if y.any() else float("nan")
            row[f"{name}_false_hold"] = float(hold[~y].mean()) if (~y).any() else float("nan")
        rows.append(row)
    return rows


def report(sets: dict[str, pd.DataFrame], scale: dict) -> str:
    ps = PerspectiveScale(scale)
    lines = ["## Perspective thresholds on held-out news comments", ""]
    for name, label in (("c3_test", "C3 held-out articles (label: crowd toxicity level >= 2)"),
                        ("ucc_test", "UCC test (label: hostile or antagonize)")):
        df = sets[name]
        mapped = ps.toxicity(df["abusive"].to_numpy())
        lines += [f"**{label}**: {len(df)} comments, {int(df.label.sum())} toxic", "",
                  "| threshold | catch, raw score | false hold, raw | catch, Perspective scale | false hold, Perspective scale |",
                  "|---|---|---|---|---|"]
        for r in threshold_table(df["label"], df["abusive"], mapped):
            lines.append(f"| {r['threshold']:.1f} | {r['raw_catch']:.1%} | {r['raw_false_hold']:.2%} | "
                         f"{r['perspective_catch']:.1%} | {r['perspective_false_hold']:.2%} |")
        lines.append("")
    ucc = sets["ucc_test"].dropna(subset=["rater_fraction"])
    mapped = ps.toxicity(ucc["abusive"].to_numpy())
    bins = np.clip((mapped * 10).astype(int), 0, 9)
    lines += ["**Calibration on UCC test** (mean rater fraction per band of the Perspective-scale score):", "",
              "| TOXICITY band | comments | mean TOXICITY | mean rater fraction |", "|---|---|---|---|"]
    for b in range(10):
        m = bins == b
        if m.any():
            lines.append(f"| {b / 10:.1f}-{(b + 1) / 10:.1f} | {int(m.sum())} | {mapped[m].mean():.3f} | "
                         f"{ucc['rater_fraction'].to_numpy()[m].mean():.3f} |")
    lines.append("")
    test = sets["c3_test"].dropna(subset=["level"])
    severe_y = (test["level"] >= SEVERE_LEVEL).astype(int)
    sev = ps.severe(test[list(SCORE_KEYS)].to_dict("records"))
    lines += ["## SEVERE_TOXICITY on C3 held-out articles", "",
              f"{len(test)} comments, {int(severe_y.sum())} with crowd toxicity level >= {SEVERE_LEVEL}.", "",
              f"- ROC-AUC SEVERE_TOXICITY: {roc_auc_score(severe_y, sev):.3f}; "
              f"raw abuse score as the baseline: {roc_auc_score(severe_y, test['abusive']):.3f}",
              "", "| threshold | catch (level >= 3) | holds among level < 2 | holds among 2 <= level < 3 |",
              "|---|---|---|---|"]
    lvl = test["level"].to_numpy()
    for t in THRESHOLDS:
        hold = sev >= t
        lines.append(f"| {t:.1f} | {hold[lvl >= SEVERE_LEVEL].mean():.1%} | {hold[lvl < 2].mean():.2%} | "
                     f"{hold[(lvl >= 2) & (lvl < SEVERE_LEVEL)].mean():.1%} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m training.perspective_scale", description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=("score", "build", "report"))
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--bundle", type=Path, default=None, help="bundle folder (default: the shipped one)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    set_threads(args.threads)
    folder = Path(args.bundle) if args.bundle else models.default_bundle_path()
    bundle = models.load_bundle(folder)
    sets = scored(bundle, args.data)
    if args.action == "build":
        scale = fit(sets, bundle.version)
        (folder / ARTEFACT).write_text(json.dumps(scale, indent=1) + "\n")
        print(f"wrote {folder / ARTEFACT}")
    if args.action in ("build", "report"):
        print(report(sets, json.loads((folder / ARTEFACT).read_text())))


if __name__ == "__main__":
    main()
