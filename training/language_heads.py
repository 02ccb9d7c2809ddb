"""Build and measure the abuse heads of languages the English bundle cannot score (models/language_heads.py).

    python -m training.language_heads build [--data ../shared/data] [--bundle models/bundles/<v>] [--sample 400]
    python -m training.language_heads report   # measure the head beside the bundle again, write nothing

Roman Urdu (`ur-Latn`): RUHSOLD task 1 (Roman Urdu tweets; 0 = abusive/offensive, 1 = normal; MIT). The head is
fitted on train, its threshold chosen on validation, and it is measured once on test; validation and test rows
whose text is also in an earlier split are dropped. Model: character 2-5-gram TF-IDF + logistic regression, the
best of those bench/multilingual_abuse.py compared. Threshold: the lowest at which the validation split's normal
comments are held at most HOLD_BUDGET of the time (the per-reason budget the bundle's own thresholds use).

Measured on test in the same run: ROC-AUC with paired bootstrap intervals against the word TF-IDF baseline (fitted
on the same rows), alt-profanity-check and the English bundle; false holds and catches at the shipped threshold;
and, on a sample scored by the whole bundle, the decisions before (held as unsupported_language) and after. The
results go into `abuse_ur-Latn.json` and a section of the bundle's MODEL_CARD.md.
"""
from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline

from .data import text_key
from .evaluate import auc_bootstrap

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data"
LANGUAGE = "ur-Latn"
HOLD_BUDGET = 0.03
SOURCE = {"name": "RUHSOLD task 1 (abuse/ruhsold)", "licence": "MIT",
          "origin": "github.com/haroonshakeel/roman_urdu_hate_speech @ f2f66aa (../shared/data/DATA.md)",
          "citation": "Rizwan, Shakeel and Karim, 'Hate-Speech and Offensive Language Detection in Roman Urdu', "
                      "EMNLP 2020"}
CARD_START, CARD_END = "<!-- language heads: start -->", "<!-- language heads: end -->"


def char_model():
    return make_pipeline(TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True,
                                         max_features=200_000),
                         LogisticRegression(C=4.0, max_iter=2000, class_weight="balanced"))


def word_model():
    return make_pipeline(TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
                         LogisticRegression(C=4.0, max_iter=2000, class_weight="balanced"))


def ruhsold(root: Path) -> dict[str, pd.DataFrame]:
    """train / validation / test of RUHSOLD task 1, y = 1 for abusive, later splits without earlier splits' texts."""
    out, seen = {}, set()
    for split in ("train", "validation", "test"):
        d = pd.read_csv(Path(root) / "abuse/ruhsold" / f"task_1_{split}.tsv", sep="\t", header=None,
                        quoting=csv.QUOTE_NONE, names=["text", "label"])
        d["text"] = d["text"].astype(str)
        d["y"] = (d["label"] == 0).astype(int)
        keys = d["text"].map(text_key)
        d = d[~keys.isin(seen)].reset_index(drop=True)
        seen |= set(keys)
        out[split] = d
    return out


def threshold_for_budget(y, p, budget: float = HOLD_BUDGET) -> float:
    """The lowest threshold (4 decimals) at which at most `budget` of the clean rows (y == 0) reach it."""
    clean = np.sort(np.asarray(p, float)[np.asarray(y) == 0])
    allowed = int(math.floor(budget * len(clean)))
    t = math.ceil(float(np.nextafter(clean[len(clean) - allowed - 1], 1.0)) * 1e4) / 1e4
    return min(t, 1.0)


def rate_ci(hits, n: int = 1000, seed: int = 0) -> list[float]:
    hits = np.asarray(hits, float)
    rng = np.random.default_rng(seed)
    means = rng.choice(hits, (n, len(hits))).mean(axis=1)
    return [float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))]


def _at(y, p, t) -> dict:
    y, held = np.asarray(y), np.asarray(p) >= t
    return {"false_hold": float(held[y == 0].mean()), "false_hold_ci": rate_ci(held[y == 0]),
            "catch": float(held[y == 1].mean()), "catch_ci": rate_ci(held[y == 1])}


def _decisions(bundle, texts, y) -> dict:
    import models

    scores = bundle.score_many([(t, None) for t in texts])
    held = np.array([models.decide(s).decision == "hold" for s in scores])
    routed = np.array([s.language == LANGUAGE for s in scores])
    y = np.asarray(y)
    return {"false_hold": float(held[y == 0].mean()), "false_hold_ci": rate_ci(held[y == 0]),
            "catch": float(held[y == 1].mean()), "catch_ci": rate_ci(held[y == 1]),
            "routed": float(routed.mean()), "raw_abusive": [s.abusive for s in scores]}


def measure(bundle, head, word, splits, sample: int, seed: int = 0) -> dict:
    """The head, its baselines and the bundle's decisions before/after on the test split (see the module doc)."""
    test = splits["test"]
    y = test["y"].to_numpy()
    p = head.probability(test["text"])
    q = word.predict_proba(test["text"])[:, 1]
    rows = {"char TF-IDF LR (shipped head)": p, "word TF-IDF LR (baseline)": q}
    try:
        from profanity_check import predict_prob
        rows["alt-profanity-check"] = predict_prob(test["text"].tolist())
    except ImportError:
        pass
    aucs = {name: {"roc_auc": float(roc_auc_score(y, v)), **auc_bootstrap(y, v, q)} for name, v in rows.items()}
    out = {"test_rows": int(len(test)), "test_abusive": int(y.sum()), "roc_auc": aucs,
           "at_threshold": _at(y, p, head.threshold)}
    if bundle is not None and sample:
        part = test.sample(n=min(sample, len(test)), random_state=seed)
        heads, bundle.language_heads = bundle.language_heads, {}
        before = _decisions(bundle, part["text"].tolist(), part["y"])
        bundle.language_heads = {LANGUAGE: head}
        after = _decisions(bundle, part["text"].tolist(), part["y"])
        bundle.language_heads = heads
        english = np.asarray(before.pop("raw_abusive"))
        after.pop("raw_abusive")
        ys, base = part["y"].to_numpy(), q[part.index.to_numpy()]
        aucs[f"English bundle abuse score (sample of {len(part)})"] = {
            "roc_auc": float(roc_auc_score(ys, english)), **auc_bootstrap(ys, english, base)}
        out["decisions"] = {"sample": int(len(part)), "sample_abusive": int(ys.sum()), "bundle": bundle.version,
                            "before": before, "after": after}
    return out


def english_routed(root: Path, n: int = 2000, seed: int = 0) -> dict:
    """Share of English news comments (UCC test, a C3 sample) the language ID sends to the head instead."""
    from models.cues import language

    ucc = pd.read_csv(Path(root) / "abuse/ucc/test.csv")["comment"].astype(str)
    c3 = pd.read_csv(Path(root) / "abuse/c3/C3_anonymized.csv")["comment_text"].astype(str)
    texts = pd.concat([ucc, c3.sample(n=min(n, len(c3)), random_state=seed)])
    texts = texts[texts.str.strip() != ""]
    routed = np.array([language(t) == LANGUAGE for t in texts])
    return {"comments": int(len(texts)), "routed": float(routed.mean()), "routed_n": int(routed.sum())}


def card_section(meta: dict) -> str:
    m = meta["measured"]
    lines = [CARD_START, "## Roman Urdu abuse head (`abuse_ur-Latn.joblib`)", "",
             f"Comments that `models.cues.language` labels `ur-Latn` are scored for abuse by this head instead of "
             f"being held as `unsupported_language`; their off-topic score is not judged (0: no Roman Urdu "
             f"off-topic data) and they have no spans or sub-scores. Spam is the bundle's own head.", "",
             f"* Data: {SOURCE['name']}, licence {SOURCE['licence']} ({SOURCE['citation']}): train "
             f"{meta['rows']['train']} to fit, validation {meta['rows']['validation']} for the threshold, test "
             f"{meta['rows']['test']} to measure (rows repeating an earlier split's text dropped). Tweets, not news "
             f"comments: no thread or article to group by, so the upstream split is used.",
             f"* Model: character 2-5-gram TF-IDF + logistic regression (balanced classes).",
             f"* Threshold {meta['threshold']:.4f}: the lowest holding at most {HOLD_BUDGET:.0%} of validation's "
             f"normal comments; mapped onto the bundle's abusive threshold, so a site's policy scales it alike.",
             f"* Rebuild: `{meta['command']}`", "",
             f"Held-out test ({m['test_rows']} tweets, {m['test_abusive']} abusive), ROC-AUC with 95 % bootstrap "
             f"intervals, paired against the word TF-IDF baseline, all in the same run:", "",
             "| model | ROC-AUC | 95 % interval | minus word TF-IDF, 95 % interval |", "|---|---|---|---|"]
    for name, r in m["roc_auc"].items():
        lo, hi = r["model"]
        d = "" if name.startswith("word") else f"{r['difference'][0]:+.3f} to {r['difference'][1]:+.3f}"
        lines.append(f"| {name} | {r['roc_auc']:.3f} | {lo:.3f}-{hi:.3f} | {d} |")
    a = m["at_threshold"]
    lines += ["", f"At the shipped threshold, on test: false holds {a['false_hold']:.1%} of normal tweets "
              f"({a['false_hold_ci'][0]:.1%}-{a['false_hold_ci'][1]:.1%}), catch {a['catch']:.1%} of abusive ones "
              f"({a['catch_ci'][0]:.1%}-{a['catch_ci'][1]:.1%})."]
    if "decisions" in m:
        d = m["decisions"]
        lines += ["", f"Whole-bundle decisions (bundle {d['bundle']}, shipped thresholds, any reason) on a test sample "
                  f"of {d['sample']} ({d['sample_abusive']} abusive); the language ID routes "
                  f"{d['after']['routed']:.0%} of them to the head, the rest are scored as English:", "",
                  "| | normal tweets held | abusive tweets held |", "|---|---|---|"]
        for name in ("before", "after"):
            r = d[name]
            label = "before (Roman Urdu held as unsupported_language)" if name == "before" else "with the head"
            lines.append(f"| {label} | {r['false_hold']:.1%} ({r['false_hold_ci'][0]:.1%}-{r['false_hold_ci'][1]:.1%}) "
                         f"| {r['catch']:.1%} ({r['catch_ci'][0]:.1%}-{r['catch_ci'][1]:.1%}) |")
    e = meta["english_routed"]
    lines += ["", f"English unaffected: of {e['comments']} English news comments (UCC test and a C3 sample), "
              f"{e['routed_n']} ({e['routed']:.2%}) are labelled `ur-Latn` and would go to this head.", CARD_END, ""]
    return "\n".join(lines)


def write_card(folder: Path, section: str):
    card = folder / "MODEL_CARD.md"
    text = card.read_text() if card.exists() else ""
    if CARD_START in text:
        text = text[:text.index(CARD_START)] + text[text.index(CARD_END) + len(CARD_END):].lstrip("\n")
    card.write_text(text.rstrip("\n") + "\n\n" + section)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m training.language_heads", description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=("build", "report"))
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--bundle", type=Path, default=None, help="bundle folder (default: the shipped one)")
    parser.add_argument("--sample", type=int, default=400, help="test rows scored by the whole bundle (0: none)")
    args = parser.parse_args(argv)

    import json

    import models
    from models.language_heads import LanguageHead, load_language_heads

    folder = Path(args.bundle) if args.bundle else models.default_bundle_path()
    bundle = models.load_bundle(folder) if args.sample else None
    splits = ruhsold(args.data)
    word = word_model().fit(splits["train"]["text"], splits["train"]["y"])
    if args.action == "build":
        model = char_model().fit(splits["train"]["text"], splits["train"]["y"])
        val = splits["validation"]
        threshold = threshold_for_budget(val["y"], model.predict_proba(val["text"])[:, 1])
        head = LanguageHead(LANGUAGE, model, threshold)
    else:
        head = load_language_heads(folder)[LANGUAGE]
    command = "python -m training.language_heads build" + (f" --sample {args.sample}" if args.sample != 400 else "")
    meta = {"language": LANGUAGE, "threshold": head.threshold, "hold_budget": HOLD_BUDGET, "source": SOURCE,
            "model": "char_wb 2-5-gram TF-IDF (min_df 2, 200k features) + LogisticRegression(C=4, balanced)",
            "rows": {k: int(len(v)) for k, v in splits.items()}, "command": command,
            "measured": measure(bundle, head, word, splits, args.sample),
            "english_routed": english_routed(args.data)}
    if args.action == "build":
        head.meta = meta
        print(f"wrote {head.save(folder)}")
        write_card(folder, card_section(meta))
    print(card_section(meta) if args.action == "report" else json.dumps(meta["measured"]["roc_auc"], indent=1))


if __name__ == "__main__":
    main()
