"""`moderation evaluate`: the bundle against every held-out public set, beside baselines run in the same pass.

Held-out sets are rebuilt from the bundle's metadata (`held_out`: test sizes and seed of the grouped
splits training used), so nothing the model was trained on is scored. Abuse: OLID test, C3 held-out
articles, UCC test, TRAC dev, beside alt-profanity-check. Off-topic: SemEval held-out threads (human
labels) reported apart from ARC test (random other debate: synthetic) and ARC hard negatives, beside
TF-IDF cosine; with --semeval-folds, the off-topic training recipe cross-validated on SemEval by thread.
Also obfuscated variants of held-out abusive comments, and explanation spans against
civil_toxic_spans gold beside "flag every word in a profanity list".
"""
from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import precision_recall_curve, roc_curve

from models.bundle import default_bundle_path

from . import data, news
from .crossval import semeval_crossval
from .metrics import (HOLD_GRID, auc, auc_bootstrap, binary_metrics, char_f1, ece, hold_table,  # noqa: F401 (ece: API)
                      profanity_check_scores, reliability, score_pairs, tfidf_offtopic_scores)
from .obfuscate import METHODS, profanity_words, variants

log = logging.getLogger("moderation.evaluate")

DEFAULT_HELDOUT = {"c3_test_size": 0.2, "semeval_test_size": 0.2, "seed": 0}


@dataclass
class EvalSet:
    name: str
    task: str  # "abuse" | "topic"
    kind: str  # "human" | "synthetic" | "hard_negative"
    frame: pd.DataFrame  # abuse: text, label (+ sub-labels); topic: comment, article_title, article_body, label
    note: str = ""
    scores: dict = field(default_factory=dict)  # "model" / "baseline" / sub-score name -> np.ndarray


# ---------------------------------------------------------------- metrics

def contested_aucs(y, contested, scores: dict) -> dict:
    """ROC-AUC of each score (name -> array) of the abusive rows against all clean rows, against the clean rows
    every annotator called clean, and against the clean rows some annotator called abusive (`contested`)."""
    y, contested = np.asarray(y, int), np.asarray(contested, bool)
    out = {}
    for part, keep in (("all", np.ones(len(y), bool)), ("unanimous", (y == 1) | ~contested),
                       ("contested", (y == 1) | contested)):
        out[part] = {"negatives": int((keep & (y == 0)).sum()),
                     **{name: auc(y[keep], np.asarray(p)[keep]) for name, p in scores.items()}}
    out["positives"] = int(y.sum())
    return out


def label_agreement(root, sets) -> dict:
    """Why the news-comment ROC-AUCs sit where they do: how the model ranks abusive comments above clean ones that
    no annotator doubted, and above clean ones some annotator called abusive; and UCC test per attribute, beside
    what the corpus's authors published for it."""
    scored = {s.name: s for s in sets if s.scores}
    out = {}
    c3 = scored.get("C3 held-out articles")
    if c3 is not None:  # target is min(1, mean rating - 1): above 0 means some annotator rated it toxic
        f = c3.frame
        out["C3 held-out articles"] = contested_aucs(f.label, (f.label == 0) & (f.target > 0), c3.scores)
    ucc = scored.get("UCC test")
    if ucc is not None:
        attrs = data.load_ucc_attributes(root).reindex(ucc.frame.group)
        agreement = attrs[[f"{a}_agreement" for a in data.UCC_ATTRIBUTES]]
        if agreement.notna().all(axis=None):
            contested = (ucc.frame.label == 0).to_numpy() & (agreement.min(axis=1) < 1).to_numpy()
            out["UCC test"] = contested_aucs(ucc.frame.label, contested, ucc.scores)
        published = data.ucc_published_aucs(root)
        out["UCC test by attribute"] = {
            a: {"n": int(attrs[a].notna().sum()), "positives": int(attrs[a].sum()),
                "model": auc(attrs[a], ucc.scores["model"]), "baseline": auc(attrs[a], ucc.scores["baseline"]),
                **{f"published_{k}": v for k, v in published.get(a, {}).items()}}
            for a in data.UCC_ATTRIBUTES if attrs[a].notna().all()}
    return out


def _chars(spans) -> set:
    return {i for s in spans for i in range(s["begin"], s["end"])}


_WORD = re.compile(r"[A-Za-z][A-Za-z'*@$-]*")


def profanity_list_spans(text: str) -> list[dict]:
    """Baseline explanation: every word found in a public profanity list."""
    words = profanity_words()
    return [{"begin": m.start(), "end": m.end()} for m in _WORD.finditer(text) if m.group(0).lower() in words]


# ---------------------------------------------------------------- held-out sets

def heldout_config(bundle) -> dict:
    held = dict(DEFAULT_HELDOUT)
    held.update({k: v for k, v in (bundle.metadata.get("held_out") or {}).items() if k in DEFAULT_HELDOUT})
    return held


def _sample(df: pd.DataFrame, n: int | None, seed: int) -> pd.DataFrame:
    return df if n is None or len(df) <= n else df.sample(n=n, random_state=seed)


def build_sets(root, held: dict, max_per_set: int | None = None, seed: int = 0) -> list[EvalSet]:
    abuse = data.load_abuse_sets(root)
    c3 = abuse[abuse.source == "c3"]
    _, c3_test = data.grouped_split(c3, test_size=held["c3_test_size"], seed=held["seed"])
    pick = lambda src, split: abuse[(abuse.source == src) & (abuse.split == split)]  # noqa: E731
    sets = [
        EvalSet("OLID test", "abuse", "human", pick("olid", "test"), "tweets; OffensEval 2019 level-A test"),
        EvalSet("C3 held-out articles", "abuse", "human", c3_test,
                f"news comments; articles held out by grouped_split(test_size={held['c3_test_size']}, "
                f"seed={held['seed']})"),
        EvalSet("UCC test", "abuse", "human", pick("ucc", "test"),
                "news comments; the set's own test file (UCC has no article ids; UCC dev calibrates)"),
        EvalSet("TRAC dev", "abuse", "human", pick("trac1_en", "dev"), "Facebook comments on news pages; OAG = 1"),
    ]
    topic = data.load_topic_sets(root, sources=("semeval2016_cqa", "arc"))
    sem = topic[topic.source == "semeval2016_cqa"]
    _, sem_test = data.grouped_split(sem, test_size=held["semeval_test_size"], seed=held["seed"])
    arc_test = topic[(topic.source == "arc") & (topic.split == "test") & ~topic.seen_in_train]
    arc_on = arc_test[arc_test.label == 0]
    # candidates: every ARC debate (headlines are not what was trained on; the comments are)
    hard = data.build_hard_negatives(arc_test, seed=held["seed"], pool=topic[topic.source == "arc"])
    sets += [
        EvalSet("SemEval held-out threads", "topic", "human", sem_test,
                "forum answers under a question; Bad = off-topic (human labels)"),
        EvalSet("ARC test (unseen comments)", "topic", "synthetic", arc_test,
                "off-topic = the comment paired with another debate at random; comments also in ARC train removed"),
        EvalSet("ARC hard negatives", "topic", "hard_negative", pd.concat([arc_on, hard], ignore_index=True),
                "on-topic ARC test pairs vs the same comments paired with the most similar other debate"),
    ]
    for s in sets:
        s.frame = _sample(s.frame, max_per_set, seed).reset_index(drop=True)
    return sets


def labelled_sets(path) -> list[EvalSet]:
    """A site's own labelled export as evaluation sets; any bad row stops the run (see load_labelled_export)."""
    df, errors = data.load_labelled_export(path)
    if errors:
        shown = "\n".join(errors[:20]) + (f"\n... and {len(errors) - 20} more" if len(errors) > 20 else "")
        raise data.LabelledDataError(f"{path}: {len(errors)} bad row(s):\n{shown}")
    name = Path(path).name
    sets = [EvalSet(f"{name} (abusive)", "abuse", "human", df.assign(label=df.abusive.astype(int)),
                    "the site's own labelled export")]
    topic = df[df.off_topic.notna() & ((df.article_title != "") | (df.article_body != ""))]
    if len(topic):
        sets.append(EvalSet(f"{name} (off-topic)", "topic", "human",
                            topic.rename(columns={"text": "comment"}).assign(label=topic.off_topic.astype(int)),
                            "the site's own labelled export, rows with an article and an off_topic label"))
    return sets


# ---------------------------------------------------------------- scoring

def _article(title, body):
    return {"title": title or None, "body": body or None} if (title or body) else None


def score_set(bundle, s: EvalSet, batch_size: int) -> None:
    f = s.frame
    if s.task == "abuse":
        scores = score_pairs(bundle, [(t, None) for t in f.text], batch_size, s.name)
        s.scores["model"] = np.array([x.abusive for x in scores])
        for sub in data.SUB_LABELS:
            if sub in f and scores and sub in scores[0].sub_scores:
                s.scores[sub] = np.array([x.sub_scores[sub] for x in scores])
        s.scores["baseline"] = profanity_check_scores(f.text)
    else:
        pairs = [(c, _article(t, b)) for c, t, b in zip(f.comment, f.article_title, f.article_body)]
        s.scores["model"] = np.array([x.off_topic for x in score_pairs(bundle, pairs, batch_size, s.name)])
        s.scores["baseline"] = tfidf_offtopic_scores(f.comment, f.article_title, f.article_body)


def obfuscation_check(bundle, sets, n: int, seed: int, batch_size: int) -> dict:
    """Held-out abusive comments vs their obfuscated variants: score and recall drop, model and baseline.

    Reported for all sampled comments and apart for those with a profanity-list word (there the
    obfuscation hits the words that carry the abuse; elsewhere it disguises the longest words)."""
    pos = pd.concat([s.frame.assign(_p=s.scores["model"]) for s in sets if s.task == "abuse" and len(s.frame)])
    pos = _sample(pos[(pos.label == 1) & (pos.text.str.len() < 2000)], n, seed)
    listed = pos.text.map(lambda t: any(w.lower() in profanity_words() for w in _WORD.findall(t))).to_numpy()
    t = bundle.thresholds["abusive"]
    scored = {"original": (pos["_p"].to_numpy(), profanity_check_scores(pos.text))}
    for method in METHODS:
        texts = [v["text"] for v in variants(pos.text.tolist(), methods=(method,), seed=seed)]
        pm = np.array([x.abusive for x in score_pairs(bundle, [(x, None) for x in texts], batch_size, method)])
        scored[method] = (pm, profanity_check_scores(texts))

    def rows(mask):
        return [{"method": m, "model_mean": float(pm[mask].mean()), "model_recall": float((pm[mask] >= t).mean()),
                 "baseline_mean": float(pb[mask].mean()), "baseline_recall": float((pb[mask] >= 0.5).mean())}
                for m, (pm, pb) in scored.items()] if mask.any() else []

    return {"n": int(len(pos)), "n_listed": int(listed.sum()), "threshold": t, "rows": rows(np.ones(len(pos), bool)),
            "rows_listed": rows(listed)}


def span_check(bundle, root, n: int, seed: int, batch_size: int) -> dict:
    spans = data.load_spans(root)
    test = _sample(spans[(spans.split == "test") & (spans.text.str.strip() != "")], n, seed)
    scores = score_pairs(bundle, [(t, None) for t in test.text], batch_size, "spans")
    model = [char_f1(_chars(s.spans), _chars(g)) for s, g in zip(scores, test.spans)]
    base = [char_f1(_chars(profanity_list_spans(t)), _chars(g)) for t, g in zip(test.text, test.spans)]
    # diagnostic: the span model alone, without the bundle's minimum abusive score for reporting spans
    head = getattr(getattr(bundle, "abuse", None), "spans", None)
    ungated = [char_f1(_chars(head(t)), _chars(g)) for t, g in zip(test.text, test.spans)] if head else []
    subs = {}
    for sub in data.SUB_LABELS:
        y = test.types.map(lambda types, sub=sub: int(sub in types)).to_numpy()
        if scores and sub in scores[0].sub_scores and len(np.unique(y)) == 2:
            subs[sub] = binary_metrics(y, [s.sub_scores[sub] for s in scores])
    return {"n": int(len(test)), "with_gold": int(test.spans.map(bool).sum()),
            "model_char_f1": float(np.mean(model)) if model else None,
            "baseline_char_f1": float(np.mean(base)) if base else None,
            "span_head_char_f1": float(np.mean(ungated)) if ungated else None, "sub_scores_within_toxic": subs}


def news_hold_check(bundle, root, batch_size: int) -> dict:
    """Real news comments under their own article's title (SFU; the half of its articles that training did not
    use to bound the threshold): how many the off-topic threshold would hold. They are on-topic by where they were
    posted, so every hold here is a likely false hold; a hold-rate table shows what other thresholds would do."""
    _, news = data.load_news_on_topic(root)
    if news.empty:
        return {}
    scores = score_pairs(bundle, [(c, _article(t, b)) for c, t, b in zip(news.comment, news.article_title,
                                                                         news.article_body)], batch_size, "news")
    p = np.array([s.off_topic for s in scores])
    return {"n": int(len(news)), "articles": int(news.article_title.nunique()),
            "threshold": bundle.thresholds["off_topic"], "held": float((p >= bundle.thresholds["off_topic"]).mean()),
            "by_threshold": [{"threshold": t, "held": float((p >= t).mean())} for t in HOLD_GRID]}


# ---------------------------------------------------------------- report

def _plots(sets, out: Path) -> list[str]:
    import matplotlib  # lazy: matplotlib takes seconds to import and only the plots need it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    for task in ("abuse", "topic"):
        chosen = [s for s in sets if s.task == task and len(np.unique(s.frame.label)) == 2]
        if not chosen:
            continue
        fig, axes = plt.subplots(1, 3, figsize=(16, 5))
        for i, s in enumerate(chosen):
            color = f"C{i}"
            y = s.frame.label.to_numpy()
            for which, style in (("model", "-"), ("baseline", ":")):
                fpr, tpr, _ = roc_curve(y, s.scores[which])
                axes[0].plot(fpr, tpr, style, color=color, label=f"{s.name} ({which})")
                prec, rec, _ = precision_recall_curve(y, s.scores[which])
                axes[1].plot(rec, prec, style, color=color, label=f"{s.name} ({which})")
            rel = reliability(y, s.scores["model"])
            axes[2].plot([r[0] for r in rel], [r[1] for r in rel], "o-", color=color, label=s.name)
        axes[0].plot([0, 1], [0, 1], color="grey", lw=0.5)
        axes[2].plot([0, 1], [0, 1], color="grey", lw=0.5)
        for ax, title, xl, yl in zip(axes, ("ROC", "Precision-recall", "Calibration (model)"),
                                     ("false positive rate", "recall", "mean predicted"),
                                     ("true positive rate", "precision", "observed rate")):
            ax.set(title=f"{task}: {title}", xlabel=xl, ylabel=yl)
            ax.legend(fontsize=7)
        fig.tight_layout()
        name = f"{task}.png"
        fig.savefig(out / name, dpi=80)
        plt.close(fig)
        files.append(name)
    return files


def _fmt(v, digits=3):
    return "n/a" if v is None else f"{v:.{digits}f}"


def _agreement_lines(ag: dict) -> list[str]:
    lines = []
    parts = [(name, v) for name, v in ag.items() if "all" in v]
    if parts:
        lines += ["## Abuse labels: unanimous and contested", "",
                  "ROC-AUC of the abusive comments against the clean ones, split by whether every annotator called "
                  "the clean comment clean (C3: a mean rating of 1; UCC: full agreement on both hostile and "
                  "antagonize) or some annotator called it abusive.", "",
                  "| set | abusive | against all clean (n) | against unanimously clean (n) | against contested clean (n) | "
                  "alt-profanity-check: all / unanimous / contested |", "|---|---|---|---|---|---|"]
        for name, v in parts:
            cell = lambda k: f"{_fmt(v[k]['model'])} ({v[k]['negatives']})"  # noqa: E731
            lines.append(f"| {name} | {v['positives']} | {cell('all')} | {cell('unanimous')} | {cell('contested')} | "
                         + " / ".join(_fmt(v[k]["baseline"]) for k in ("all", "unanimous", "contested")) + " |")
        lines += [""]
    attrs = ag.get("UCC test by attribute")
    if attrs:
        lines += ["### UCC test by attribute, beside its authors' published figures", "",
                  "The bundle's abusive score against each of the two attributes that make UCC's label. Published "
                  "(the corpus README, not run here): BERT fine-tuned on UCC's own train split of about 35,000 "
                  "comments, which `../shared/data` does not have, and one annotator held out against the "
                  "aggregate of the others.", "",
                  "| attribute | n (pos) | model ROC-AUC | alt-profanity-check | published BERT | published one annotator |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {a} | {v['n']} ({v['positives']}) | **{_fmt(v['model'])}** | {_fmt(v['baseline'])} | "
                  f"{_fmt(v.get('published_bert'), 2)} | {_fmt(v.get('published_one_annotator'), 2)} |" for a, v in attrs.items()]
        lines += [""]
    return lines


def _header_lines(r: dict) -> list[str]:
    return [f"# Model evaluation: bundle {r['bundle_version']}", "",
            f"Generated by `{r['command']}` on {r['date']} ({r['seconds']:.0f} s). Held-out splits rebuilt from the "
            f"bundle metadata: {json.dumps(r['held_out'])}. Thresholds: {json.dumps(r['thresholds'])}. "
            "Baselines are run in the same pass on the same rows.", ""]


def _news_lines(r: dict) -> list[str]:
    if not r.get("news"):
        return []
    return ["## News comments: decisions", "", *news.top_tables(r["news"]),
            "The rest of the news measurements (baselines at the same false-hold rate, trade-off curves, "
            "calibration across sites): `moderation evaluate --news-only`.", ""]


def _set_row(s: dict) -> str:
    m, b = s["model"], s["baseline"]
    c = m.get("confusion")
    bs = s.get("bootstrap")
    ci = (lambda k: f" [{bs[k][0]:.3f}, {bs[k][1]:.3f}]") if bs else (lambda k: "")
    diff = f"{m['roc_auc'] - b['roc_auc']:+.3f}{ci('difference')}" if m["roc_auc"] is not None else "n/a"
    return (f"| {s['name']} | {s['kind']} | {m['n']} ({m['positives']}) | **{_fmt(m['roc_auc'])}**"
            f"{ci('model')} | {_fmt(b['roc_auc'])} | {diff} | {_fmt(m['pr_auc'])} | {_fmt(b['pr_auc'])} | "
            f"{_fmt(m.get('f1'))} | "
            f"{_fmt(m.get('precision'))} | {_fmt(m.get('recall'))} | {_fmt(m.get('brier'))} | "
            f"{_fmt(m.get('ece'))} | {'/'.join(str(c[k]) for k in ('tn', 'fp', 'fn', 'tp')) if c else 'n/a'} |")


def _sets_table_lines(rows: list[dict], title: str, base: str) -> list[str]:
    return [f"## {title}", "",
            f"| set | kind | n (pos) | ROC-AUC [95% CI] | {base} ROC-AUC | model - {base} [95% CI] | PR-AUC | "
            f"{base} PR-AUC | F1 @thr | precision | recall | Brier | ECE | confusion tn/fp/fn/tp |",
            "|" + "---|" * 14, *map(_set_row, rows),
            "", *[f"- {s['name']}: {s['note']}" for s in rows],
            "", "Intervals: 1,000 bootstrap resamples of the set's rows (stratified by class); the difference is "
                "paired, on the same resampled rows, so an interval above 0 means ahead of the baseline beyond "
                "sampling noise.", ""]


def _hold_rate_lines(rows: list[dict]) -> list[str]:
    lines = ["### Hold rate against abuse recall", "",
             "Share of all comments held / share of abusive comments caught, if the abusive threshold were:", "",
             "| threshold | " + " | ".join(s["name"] for s in rows) + " |", "|---|" + "---|" * len(rows)]
    for i, t in enumerate(HOLD_GRID):
        cells = [f"{s['hold'][i]['hold_rate']:.1%} / {_fmt(s['hold'][i]['recall'] and s['hold'][i]['recall'] * 100, 1)}%"
                 for s in rows]
        lines.append(f"| {t:.2f} | " + " | ".join(cells) + " |")
    return lines + [""]


def _sub_score_lines(rows: list[dict], spans: dict | None) -> list[str]:
    subs = [(s["name"], k, v) for s in rows for k, v in s.get("sub_scores", {}).items() if v.get("roc_auc")]
    if not subs:
        return []
    lines = ["### Sub-scores", "", "| set | sub-score | n (pos) | ROC-AUC | PR-AUC |", "|---|---|---|---|---|"]
    lines += [f"| {n} | {k} | {v['n']} ({v['positives']}) | {_fmt(v['roc_auc'])} | {_fmt(v['pr_auc'])} |"
              for n, k, v in subs]
    lines += [f"| civil_toxic_spans test (toxic posts only: which type?) | {k} | {v['n']} ({v['positives']}) | "
              f"{_fmt(v['roc_auc'])} | {_fmt(v['pr_auc'])} |"
              for k, v in (spans or {}).get("sub_scores_within_toxic", {}).items()]
    return lines + [""]


def _abuse_lines(r: dict) -> list[str]:
    rows = [s for s in r["sets"] if s["task"] == "abuse"]
    if not rows:
        return []
    return [*_sets_table_lines(rows, "Abuse", "alt-profanity-check"), *_hold_rate_lines(rows),
            *_sub_score_lines(rows, r.get("spans"))]


def _topic_lines(r: dict) -> list[str]:
    rows = [s for s in r["sets"] if s["task"] == "topic"]
    if not rows:
        return []
    return [*_sets_table_lines(rows, "Off-topic", "TF-IDF cosine"),
            "Only the human-labelled set measures real off-topic detection; the synthetic and hard-negative "
            "sets pair comments with other articles and are far easier.", ""]


def _crossval_lines(r: dict) -> list[str]:
    cv = r.get("semeval_crossval")
    if not cv:
        return []
    pooled = cv["pooled"]
    lines = [f"## SemEval cross-validated by thread ({cv['folds']} folds)", "",
             "The training recipe (`moderation train`'s off-topic head: same synthetic pairs, hard negatives, "
             "weights, calibration split and threshold rule) refitted once per fold, each fold's threads held "
             "out; fold 0 is the shipped bundle's held-out split. Human labels; TF-IDF cosine on the same "
             "rows. Hard negatives: the fold's on-topic answers against the same answers paired with the most "
             "similar question of another held-out thread.", "",
             "| fold | n (pos) | threads | ROC-AUC | TF-IDF cosine ROC-AUC | PR-AUC | TF-IDF PR-AUC | threshold | "
             "precision | recall | hard negatives | hard-negative ROC-AUC | TF-IDF |", "|" + "---|" * 13]
    for f in cv["per_fold"]:
        lines.append(f"| {f['fold']} | {f['n']} ({f['positives']}) | {f['threads']} | **{_fmt(f['roc_auc'])}** | "
                     f"{_fmt(f['baseline_roc_auc'])} | {_fmt(f['pr_auc'])} | {_fmt(f['baseline_pr_auc'])} | "
                     f"{_fmt(f['threshold'])} | {_fmt(f['precision'])} | {_fmt(f['recall'])} | "
                     f"{f.get('hard_negatives', '')} | {_fmt(f.get('hard_roc_auc'))} | "
                     f"{_fmt(f.get('baseline_hard_roc_auc'))} |")
    return lines + [f"| mean ± sd | | | **{cv['mean_roc_auc']:.3f} ± {cv['sd_roc_auc']:.3f}** | "
                    f"{cv['baseline_mean_roc_auc']:.3f} ± {cv['baseline_sd_roc_auc']:.3f} | | | | | | | "
                    f"{_fmt(cv.get('mean_hard_roc_auc'))} (mean) | |",
                    f"| pooled out-of-fold | {pooled['n']} ({pooled['positives']}) | | {_fmt(pooled['roc_auc'])} | "
                    f"{_fmt(pooled['baseline_roc_auc'])} | {_fmt(pooled['pr_auc'])} | {_fmt(pooled['baseline_pr_auc'])} "
                    "| | | | | | |", ""]


def _news_on_topic_lines(r: dict) -> list[str]:
    nh = r.get("news_on_topic")
    if not nh:
        return []
    return ["## On-topic news comments held as off-topic", "",
            f"{nh['n']} Globe and Mail comments (SFU) under their own article's title ({nh['articles']} articles, "
            "title only: the set has no bodies), none used in training. They are on-topic by where readers "
            "posted them, so each one held is most likely a false hold. At the bundle's off-topic threshold "
            f"{nh['threshold']:.3f}: **{nh['held']:.1%} held**.", "",
            "| threshold | " + " | ".join(f"{x['threshold']:.2f}" for x in nh["by_threshold"]) + " |",
            "|---|" + "---|" * len(nh["by_threshold"]),
            "| held | " + " | ".join(f"{x['held']:.1%}" for x in nh["by_threshold"]) + " |", ""]


def _obfuscation_rows(label: str, count: int, rows: list[dict]) -> list[str]:
    o = rows[0]
    return [f"| {label} ({count}) | {row['method']} | {row['model_mean']:.3f} | {row['model_recall']:.1%} | "
            f"{(o['model_recall'] - row['model_recall']) * 100:.1f} pp | {row['baseline_mean']:.3f} | "
            f"{row['baseline_recall']:.1%} | {(o['baseline_recall'] - row['baseline_recall']) * 100:.1f} pp |"
            for row in rows]


def _obfuscation_lines(r: dict) -> list[str]:
    ob = r.get("obfuscation")
    if not ob:
        return []
    lines = ["## Obfuscated abuse", "",
             f"{ob['n']} held-out abusive comments (from the abuse sets above), each rewritten by every method of "
             f"`training/obfuscate.py` (the words from a profanity list, else the longest words). Recall at the "
             f"bundle threshold {ob['threshold']:.3f}; alt-profanity-check at 0.5.", "",
             "| comments | variant | model mean score | model recall | recall drop | alt-profanity-check mean | its recall | "
             "its drop |", "|---|---|---|---|---|---|---|---|"]
    for label, key, count in (("all", "rows", ob["n"]), ("with a profanity-list word", "rows_listed",
                                                        ob.get("n_listed", 0))):
        if ob.get(key):
            lines += _obfuscation_rows(label, count, ob[key])
    return lines + [""]


def _spans_lines(r: dict) -> list[str]:
    sp = r.get("spans")
    if not sp:
        return []
    lines = ["## Explanation spans", "",
             f"civil_toxic_spans held-out posts ({sp['n']}, {sp['with_gold']} with majority gold spans); mean "
             "per-post character F1 (both empty = 1).", "", "| method | char F1 |", "|---|---|",
             f"| model (`score.spans`) | **{_fmt(sp['model_char_f1'])}** |",
             f"| every word in a profanity list (better-profanity) | {_fmt(sp['baseline_char_f1'])} |"]
    if sp.get("span_head_char_f1") is not None:
        lines += [f"| diagnostic: the span model alone, without the minimum abusive score the bundle requires "
                  f"before it reports spans | {_fmt(sp['span_head_char_f1'])} |"]
    return lines + [""]


def _plot_lines(plots: list[str]) -> list[str]:
    if not plots:
        return []
    return ["## Plots", "", "Solid: model; dotted: baseline.", ""] + [f"![{p}]({p})" for p in plots] + [""]


def write_report(results: dict, plots: list[str], path: Path) -> None:
    """report.md: one section per measurement in `results` (evaluate's), in a fixed order."""
    sections = (_header_lines, _news_lines, _abuse_lines, _topic_lines,
                lambda r: _agreement_lines(r.get("label_agreement") or {}), _crossval_lines, _news_on_topic_lines,
                _obfuscation_lines, _spans_lines)
    lines = [line for section in sections for line in section(results)] + _plot_lines(plots)
    path.write_text("\n".join(lines), encoding="utf-8")


CARD_START, CARD_END = "<!-- news decisions: moderation evaluate --model-card -->", "<!-- end of news decisions -->"


def _news_results(bundle, root, others: dict, seed: int, max_per_split: int, held: dict) -> dict:
    bundles = {bundle.version: bundle, **{k: v for k, v in others.items() if k != bundle.version}}
    t0 = time.time()
    r = news.run(bundles, root, seed=seed, max_per_split=max_per_split, held=held)
    r["seconds"] = time.time() - t0
    r["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    r["decisions"] = r[bundle.version]["decisions"]
    return r


def evaluate_news(bundle, root, out_dir, *, others: dict | None = None, command: str = "moderation evaluate --news-only",
                  seed: int = 0, max_per_split: int = 600, model_card=None) -> dict:
    """Only the news-comment decisions (training.news), for this bundle and `others` on the same rows."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    r = _news_results(bundle, root, others or {}, seed, max_per_split, heldout_config(bundle))
    r["command"] = command
    (out / "results.json").write_text(json.dumps(r, indent=1, default=str) + "\n")
    news.write_news_report(r, out / "report.md", command)
    if model_card is not None:
        write_card_tables(model_card, r)
    return r


def write_card_tables(bundle_folder, news_results: dict) -> Path:
    """Put the news tables at the top of the bundle's MODEL_CARD.md (replacing the ones an earlier run put there)."""
    path = Path(bundle_folder or default_bundle_path()) / "MODEL_CARD.md"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Model card\n"
    if CARD_START in text:
        head, rest = text.split(CARD_START, 1)
        text = head.rstrip("\n") + "\n" + rest.split(CARD_END, 1)[-1].lstrip("\n")
    title, _, body = text.partition("\n")
    block = [CARD_START, "", "## News comments: what a site would see", "",
             f"Measured by `{news_results.get('command', 'moderation evaluate --news-only')}` on "
             f"{news_results.get('date', '')}. The full report: `bench/REPORT-news.md`.", "",
             *news.top_tables(news_results), CARD_END, ""]
    path.write_text(title + "\n\n" + "\n".join(block) + body.lstrip("\n"), encoding="utf-8")
    return path


def evaluate(bundle, root, out_dir, *, max_per_set: int | None = None, obfuscated: int = 300, span_posts: int = 1000,
             seed: int = 0, batch_size: int = 64, command: str = "moderation evaluate", labelled=(),
             semeval_folds: int = 0, news: bool = True, news_others: dict | None = None,
             news_per_split: int = 600) -> dict:
    """semeval_folds: also cross-validate the off-topic training recipe on SemEval by thread (k refits: minutes).
    news: also the news-comment decisions (training.news), beside `news_others` (name -> bundle)."""
    t0 = time.time()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    held = heldout_config(bundle)
    extra = [s for path in labelled for s in labelled_sets(path)]  # read first: a bad file fails fast
    sets = (build_sets(root, held, max_per_set, seed) if root is not None else []) + extra
    results = {"bundle_version": bundle.version, "held_out": held, "thresholds": dict(bundle.thresholds),
               "command": command, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "sets": []}
    for s in sets:
        if s.frame.empty:
            log.warning("%s: no rows, skipped", s.name)
            continue
        log.info("scoring %s (%d rows)", s.name, len(s.frame))
        score_set(bundle, s, batch_size)
        y = s.frame.label.to_numpy()
        t = bundle.thresholds["abusive" if s.task == "abuse" else "off_topic"]
        row = {"name": s.name, "task": s.task, "kind": s.kind, "note": s.note,
               "model": binary_metrics(y, s.scores["model"], t),
               "baseline": binary_metrics(y, s.scores["baseline"], 0.5 if s.task == "abuse" else None),
               "bootstrap": auc_bootstrap(y, s.scores["model"], s.scores["baseline"], seed=seed)}
        if s.task == "abuse":
            row["hold"] = hold_table(y, s.scores["model"])
            row["reliability"] = reliability(y, s.scores["model"])
            row["sub_scores"] = {}
            for sub in data.SUB_LABELS:
                if sub in s.scores:
                    known = s.frame[sub].notna().to_numpy()
                    # a soft sub-label (C3's insult) counts as positive only when it is a full label
                    row["sub_scores"][sub] = binary_metrics((s.frame[sub][known] >= 1).astype(int), s.scores[sub][known])
        results["sets"].append(row)
    scored = [s for s in sets if s.scores]
    if obfuscated:
        log.info("obfuscation check on %d comments", obfuscated)
        results["obfuscation"] = obfuscation_check(bundle, scored, obfuscated, seed, batch_size)
    if root is not None:
        results["label_agreement"] = label_agreement(root, scored)
        log.info("on-topic news comments")
        results["news_on_topic"] = news_hold_check(bundle, root, batch_size)
    if news and root is not None:
        log.info("news-comment decisions")
        results["news"] = _news_results(bundle, root, news_others or {}, seed, news_per_split, held)
    if span_posts and root is not None:
        log.info("span check on %d posts", span_posts)
        results["spans"] = span_check(bundle, root, span_posts, seed, batch_size)
    if semeval_folds and root is not None:
        log.info("SemEval cross-validation, %d folds", semeval_folds)
        results["semeval_crossval"] = semeval_crossval(root, semeval_folds, seed=held["seed"])
    results["seconds"] = time.time() - t0
    plots = _plots(scored, out)
    (out / "results.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
    write_report(results, plots, out / "report.md")
    return results
