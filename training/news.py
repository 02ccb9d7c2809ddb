"""Decisions on news comments, the way a newsroom feels them (issue 15).

For every news set of `data.NEWS_SITES`: the false-hold rate (the share of ordinary comments, clean and on-topic,
that the policy holds, for any reason and per reason) and the catch rate (the share of abusive comments, and of
off-topic ones, that it holds). Off-topic comments are the sets' own labels where they exist (One Million Posts'
moderators) and each comment under another article of its site (a random one, and a close one). Beside them: the
off-topic score's ranking of own against other articles, next to a frozen all-MiniLM cosine and a TF-IDF cosine;
baselines' catch rates at the model's false-hold rate; thresholds chosen for a hold budget, and what each budget
gives on the held-out halves.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import sys
from pathlib import Path

import numpy as np
import pandas as pd

import models
from models import reasons as R
from models.encoder import get_encoder
from models.normalize import normalize

from . import data
from .embeddings import precompute
from .metrics import auc, auc_bootstrap, profanity_check_scores, score_pairs, tfidf_offtopic_scores

log = logging.getLogger("moderation.news")

REASONS = ("abusive", "off_topic", "spam", "unsupported_language")
SCORED = ("abusive", "off_topic", "spam")  # the reasons a threshold sets
BUDGET_TOTAL, BUDGET_REASON = 0.05, 0.03
# Sites whose validation halves set the thresholds: English sets only (the service holds other languages as
# unsupported_language whatever the scores say). SFU is in the abuse head's training rows, so it cannot be
# stricter than the others on `abusive`; it stays in because its comments are under real articles.
BUDGET_SITES = {"abusive": ("sfu", "ruddit", "ucc"), "off_topic": ("sfu", "ruddit", "ucc"),
                "spam": ("sfu", "ruddit", "ucc")}
BUDGET_GRID = (0.01, 0.02, 0.03, 0.05, 0.10)
PAIR_SITES = ("sfu", "ruddit")  # English sets with articles: the pair head is fitted on their validation pairs


# ---------------------------------------------------------------- scoring

def _article(title):
    return {"title": title} if isinstance(title, str) and title.strip() else None


@contextlib.contextmanager
def frugal_scoring(bundles):
    """While measuring: normalise each text once (every head normalises the comment again), and skip explanation
    spans, which never change a decision. The decisions are the service's, with the same heads and thresholds."""
    mod = sys.modules["models.normalize"]
    once = functools.lru_cache(maxsize=200_000)(mod.normalize)
    users = [m for m in (sys.modules.get(n) for n in ("models.abuse", "models.bundle", "models.offtopic", __name__,
                                                      "training.train")) if m is not None and hasattr(m, "normalize")]
    saved = [(m, m.normalize) for m in users]
    heads = [b.abuse for b in bundles if getattr(b, "abuse", None) is not None and "spans" not in vars(b.abuse)]
    for m in users:
        m.normalize = once
    for h in heads:
        h.spans = lambda text: []
    try:
        yield
    finally:
        for m, f in saved:
            m.normalize = f
        for h in heads:
            vars(h).pop("spans", None)


def _features(off, comments: list, articles: list) -> np.ndarray:
    vecs = off._encoder().encode([normalize(t) for t in comments]) if off.use_embeddings and comments else None
    if not comments:
        return np.zeros((0, len(off.feature_names)))
    return np.vstack([off.features(list(zip(comments[i:i + 1024], articles[i:i + 1024])),
                                   None if vecs is None else vecs[i:i + 1024]) for i in range(0, len(comments), 1024)])


def derived_from(bundle, other) -> bool:
    """`bundle` was made by `moderation train --base-bundle` from `other`: the same abuse and spam heads and the same
    off-topic features; only the off-topic head's last step and the thresholds differ."""
    meta = getattr(bundle, "metadata", {}) or {}
    return meta.get("mode") == "retune" and meta.get("base_bundle") == other.version and other is not bundle


def score_rows(bundle, comments: pd.DataFrame, pairs: pd.DataFrame, batch_size: int = 256, base: dict | None = None) -> dict:
    """The bundle's scores and decisions for every comment (under its own article, or none) and every pair.
    Off-topic is the only score an article changes, so other and close pairs reuse the comment's own scores for
    the rest. base: score_rows' result for the bundle this one was derived from (derived_from): its scores and
    off-topic features are reused. Returns {"comments": frame with score_* and `reasons`, "pairs": frame with
    off_topic_score and `reasons`, and what a derived bundle reuses}."""
    own = pairs[pairs.pair == "own"]
    title_of = dict(zip(own.comment, own.article_title))
    arts = [_article(title_of.get(c, "")) for c in comments.comment]
    moved = pairs[pairs.pair != "own"]
    marts = [_article(t) for t in moved.article_title]
    off = getattr(bundle, "off_topic", None)
    if base is not None:
        scores = [dataclasses.replace(x, thresholds=dict(bundle.thresholds), model_version=bundle.version)
                  for x in base["scores"]]
        raw_c, raw_m = base["raw_comments"], base["raw_moved"]
    else:
        scores = score_pairs(bundle, list(zip(comments.comment, arts)), batch_size, "news")
        raw_c = _features(off, list(comments.comment), arts) if off is not None else None
        raw_m = _features(off, list(moved.comment), marts) if off is not None else None
    if off is not None:
        scores = [dataclasses.replace(x, off_topic=float(p)) for x, p in zip(scores, off.proba_from_features(raw_c))]
        p_off = off.proba_from_features(raw_m) if len(moved) else np.zeros(0)
    else:
        p_off = off_topic_scores(bundle, list(moved.comment), marts, batch_size)
    c = comments.assign(**{f"score_{k}": [getattr(x, k) for x in scores] for k in SCORED},
                        language_supported=[x.language_supported for x in scores],
                        reasons=[models.decide(x).reasons for x in scores])
    by_comment = dict(zip(comments.comment, scores))
    reasons = [models.decide(dataclasses.replace(by_comment[t], off_topic=float(p))).reasons
               for t, p in zip(moved.comment, p_off)]
    own_scores = c.set_index("comment")
    pr = pd.concat([own.assign(off_topic_score=own.comment.map(own_scores.score_off_topic).to_numpy(),
                               reasons=own.comment.map(own_scores.reasons).to_numpy()),
                    moved.assign(off_topic_score=p_off, reasons=reasons)])
    return {"comments": c, "pairs": pr, "scores": scores, "raw_comments": raw_c, "raw_moved": raw_m}


def off_topic_scores(bundle, comments: list, articles: list, batch_size: int = 64) -> np.ndarray:
    """The bundle's off-topic score for each (comment, article): straight from its off-topic head where it has one
    (the other scores do not depend on the article), else from the whole bundle."""
    if not comments:
        return np.zeros(0)
    head = getattr(bundle, "off_topic", None)
    if head is None:
        return np.array([s.off_topic for s in score_pairs(bundle, list(zip(comments, articles)), batch_size, "pairs")])
    vecs = head._encoder().encode([normalize(t) for t in comments]) if head.use_embeddings else None
    return np.concatenate([head.predict_proba(list(zip(comments[i:i + 512], articles[i:i + 512])),
                                              None if vecs is None else vecs[i:i + 512])[:, 1]
                           for i in range(0, len(comments), 512)])


def baseline_scores(comments: pd.DataFrame, pairs: pd.DataFrame, encoder=None) -> dict:
    """Baselines on the same rows: alt-profanity-check for abuse; for off-topic, 1 - the frozen all-MiniLM cosine
    (comment against every window of the article, the best one) and 1 - TF-IDF cosine (fitted per site)."""
    enc = encoder or get_encoder()
    out = {"profanity": profanity_check_scores(comments.comment)}
    cos = np.full(len(pairs), np.nan)
    tf = np.full(len(pairs), np.nan)
    if len(pairs):
        vecs = enc.encode([normalize(t) for t in pairs.comment])
        titles = sorted(set(pairs.article_title))
        windows = dict(zip(titles, enc.encode_chunks(titles, branches=False)))
        cos = np.array([1.0 - float(np.max(windows[t].vectors @ v)) for t, v in zip(pairs.article_title, vecs)])
        for site in pairs.site.unique():
            m = (pairs.site == site).to_numpy()
            g = pairs[m]
            tf[m] = tfidf_offtopic_scores(g.comment, g.article_title, [""] * len(g))
    out["cosine"], out["tfidf"] = cos, tf
    return out


# ---------------------------------------------------------------- rates

def held(reasons, reason: str | None = None) -> np.ndarray:
    """Whether each decision holds: for any holding reason (None) or for this one."""
    if reason is None:
        return np.array([any(getattr(R.get(r), "holds", False) for r in rs) for rs in reasons], bool)
    return np.array([reason in rs for rs in reasons], bool)


def ordinary_mask(comments: pd.DataFrame) -> np.ndarray:
    """Clean and on-topic: abusive == 0 and not labelled off-topic (sets without topic labels: on-topic by where
    readers posted them)."""
    return ((comments.abusive == 0) & (comments.off_topic.fillna(0) == 0)).to_numpy()


def _rate(mask):
    return float(np.mean(mask)) if len(mask) else None


def decision_table(scored: dict, split: str = "test") -> list[dict]:
    """Per site (its `split` half): false-hold rates of ordinary comments (any reason and per reason) and catch rates
    of abusive comments and of off-topic ones (own labels; under another article, random and close)."""
    c, p = scored["comments"], scored["pairs"]
    rows = []
    for site in [s for s in data.NEWS_SITES if s in set(c.site)]:
        g = c[(c.site == site) & (c.split == split)]
        if g.empty:
            continue
        o = ordinary_mask(g)
        ab = (g.abusive == 1).to_numpy()
        row = {"site": site, "name": data.NEWS_SITES[site]["name"], "n_ordinary": int(o.sum()),
               "false_hold": _rate(held(g.reasons[o])),
               "false_hold_by_reason": {r: _rate(held(g.reasons[o], r)) for r in REASONS},
               "n_abusive": int(ab.sum()), "abusive_caught": _rate(held(g.reasons[ab])),
               "abusive_caught_as_abusive": _rate(held(g.reasons[ab], "abusive"))}
        lab = (g.off_topic == 1).to_numpy()
        row["n_off_topic_labelled"] = int(lab.sum())
        row["off_topic_caught"] = _rate(held(g.reasons[lab])) if lab.any() else None
        row["off_topic_caught_as_off_topic"] = _rate(held(g.reasons[lab], "off_topic")) if lab.any() else None
        for kind in ("other", "close"):
            q = p[(p.site == site) & (p.split == split) & (p.pair == kind)]
            row[f"n_{kind}"] = len(q)
            row[f"{kind}_caught"] = _rate(held(q.reasons)) if len(q) else None
            row[f"{kind}_caught_as_off_topic"] = _rate(held(q.reasons, "off_topic")) if len(q) else None
        rows.append(row)
    return rows


def _catch_at_false_hold(neg, pos, false_hold: float) -> float | None:
    """Share of `pos` scores at or above the threshold that holds `false_hold` of `neg` (higher = hold)."""
    neg, pos = np.asarray(neg, float), np.asarray(pos, float)
    if not len(neg) or not len(pos):
        return None
    t = np.quantile(neg, 1 - false_hold, method="higher") if false_hold > 0 else np.inf
    t = np.nextafter(t, np.inf) if false_hold > 0 and np.mean(neg >= t) > false_hold else t
    return float(np.mean(pos >= t))


def baselines_at_model_rate(scored: dict, base: dict, split: str = "test") -> list[dict]:
    """Each baseline's catch rate at the model's own false-hold rate, per site and reason: abusive against
    alt-profanity-check; off-topic (other and close pairs against ordinary comments under their own article)
    against the frozen cosine and TF-IDF cosine."""
    c, p = scored["comments"], scored["pairs"]
    out = []
    for site in [s for s in data.NEWS_SITES if s in set(c.site)]:
        m = ((c.site == site) & (c.split == split)).to_numpy()
        g = c[m]
        if g.empty:
            continue
        o, ab = ordinary_mask(g), (g.abusive == 1).to_numpy()
        row = {"site": site}
        if o.any() and ab.any():
            fh = _rate(held(g.reasons[o], "abusive"))
            prof = base["profanity"][m]
            row["abusive"] = {"false_hold": fh, "model": _rate(held(g.reasons[ab], "abusive")),
                              "alt-profanity-check": _catch_at_false_hold(prof[o], prof[ab], fh)}
        pm = ((p.site == site) & (p.split == split)).to_numpy()
        q = p[pm]
        own_ok = ((q.pair == "own") & (q.abusive == 0) & (q.off_topic_pair == 0)).to_numpy()
        if own_ok.any():
            fh = _rate(held(q.reasons[own_ok], "off_topic"))
            for kind in ("other", "close"):
                k = (q.pair == kind).to_numpy()
                if k.any():
                    row[f"off_topic_{kind}"] = {
                        "false_hold": fh, "model": _rate(held(q.reasons[k], "off_topic")),
                        **{b: _catch_at_false_hold(base[b][pm][own_ok], base[b][pm][k], fh)
                           for b in ("cosine", "tfidf")}}
        out.append(row)
    return out


def ranking(scored_by_bundle: dict, base: dict, pairs: pd.DataFrame, split: str = "test", seed: int = 0) -> list[dict]:
    """Off-topic ROC-AUC on the news pairs, per site: own article (on-topic, 0) against other articles (1), all
    pairs and close pairs only; and the sets' human off-topic labels under their own article. Every bundle and
    both baselines on the same rows; bootstrap intervals for the first bundle minus each baseline."""
    out = []
    names = list(scored_by_bundle)
    for site in [s for s in data.NEWS_SITES if s in set(pairs.site)]:
        m = ((pairs.site == site) & (pairs.split == split)).to_numpy()
        q = pairs[m]
        if q.empty:
            continue
        score = {n: scored_by_bundle[n]["pairs"][m].off_topic_score.to_numpy() for n in names}
        score |= {"cosine": base["cosine"][m], "tfidf": base["tfidf"][m]}
        on = ((q.pair == "own") & (q.off_topic_pair == 0)).to_numpy()
        for part, pos in (("all pairs", (q.pair != "own").to_numpy()), ("close pairs", (q.pair == "close").to_numpy()),
                          ("human labels (own article)", ((q.pair == "own") & (q.off_topic_pair == 1)).to_numpy())):
            keep = on | pos
            if not pos.any() or not on.any():
                continue
            y = pos[keep].astype(int)
            row = {"site": site, "part": part, "n": int(keep.sum()), "positives": int(y.sum()),
                   **{n: auc(y, v[keep]) for n, v in score.items()}}
            for b in ("cosine", "tfidf"):
                bs = auc_bootstrap(y, score[names[0]][keep], score[b][keep], n=500, seed=seed)
                row[f"ci_vs_{b}"] = bs and bs["difference"]
                row["ci_model"] = bs and bs["model"]
            out.append(row)
    return out


# ---------------------------------------------------------------- thresholds for a hold budget

def budget_threshold(scores_by_site: dict, budget: float) -> float:
    """The lowest threshold at which no site holds more than `budget` of its ordinary comments."""
    t = 0.0
    for s in scores_by_site.values():
        s = np.sort(np.asarray(s, float))[::-1]
        allowed = int(np.floor(budget * len(s)))
        if allowed < len(s):
            t = max(t, float(np.nextafter(s[allowed], np.inf)))
    return t


def choose_thresholds(comments: pd.DataFrame, reason_budget: float = BUDGET_REASON,
                      total_budget: float = BUDGET_TOTAL, floors: dict | None = None, sites=BUDGET_SITES) -> dict:
    """Thresholds from scored validation comments (columns score_abusive, score_off_topic, score_spam,
    language_supported, site, split, and the labels abusive / off_topic): per reason the lowest that holds at most `reason_budget` of every budget site's ordinary comments, then
    tightened together until no site holds more than `total_budget` for any reason. `floors`: thresholds never to
    go under (e.g. spam's own)."""
    v = comments[(comments.split == "validation")]
    o = v[ordinary_mask(v)]
    budget = reason_budget
    for _ in range(50):
        t = {r: budget_threshold({s: o[o.site == s][f"score_{r}"] for s in sites[r] if (o.site == s).any()}, budget)
             for r in SCORED}
        t = {r: max(t[r], (floors or {}).get(r, 0.0)) for r in SCORED}
        worst = max(float(np.mean((g[[f"score_{r}" for r in SCORED]].to_numpy()
                                    >= np.array([t[r] for r in SCORED])).any(axis=1)
                                  | ~g.language_supported.to_numpy(bool)))
                    for s, g in o.groupby("site") if s in set().union(*sites.values()))
        if worst <= total_budget:
            return t | {"budget_reason": budget, "worst_site_total": worst}
        budget *= 0.9
    return t | {"budget_reason": budget, "worst_site_total": worst}


def tradeoff(scored: dict, reason: str, budgets=BUDGET_GRID, sites=None) -> list[dict]:
    """For each hold budget: the threshold the validation halves give, and on the test halves each site's
    false-hold and catch rates for that reason alone (off-topic: under other and close articles)."""
    c, p = scored["comments"], scored["pairs"]
    vo = c[(c.split == "validation") & ordinary_mask(c)]
    sites = sites or BUDGET_SITES[reason]
    out = []
    for b in budgets:
        t = budget_threshold({s: vo[vo.site == s][f"score_{reason}"] for s in sites if (vo.site == s).any()}, b)
        row = {"budget": b, "threshold": t, "sites": {}}
        for site in [s for s in data.NEWS_SITES if s in set(c.site)]:
            g = c[(c.site == site) & (c.split == "test")]
            if g.empty:
                continue
            o = ordinary_mask(g)
            cell = {"false_hold": _rate(g[f"score_{reason}"][o] >= t)}
            if reason == "off_topic":
                q = p[(p.site == site) & (p.split == "test")]
                for kind in ("other", "close"):
                    k = q[q.pair == kind]
                    cell[kind] = _rate(k.off_topic_score >= t) if len(k) else None
                lab = (g.off_topic == 1).to_numpy()
                cell["labelled"] = _rate(g[f"score_{reason}"][lab] >= t) if lab.any() else None
            else:
                ab = (g.abusive == 1).to_numpy()
                cell["caught"] = _rate(g[f"score_{reason}"][ab] >= t) if ab.any() else None
            row["sites"][site] = cell
        out.append(row)
    return out


def calibration_by_site(scored: dict, thresholds: dict) -> list[dict]:
    """Does one threshold mean the same hold rate everywhere? Each site's share of ordinary comments at or above
    each reason's threshold, on both halves."""
    c = scored["comments"]
    out = []
    for site in [s for s in data.NEWS_SITES if s in set(c.site)]:
        for split in ("validation", "test"):
            g = c[(c.site == site) & (c.split == split)]
            o = ordinary_mask(g)
            if not o.any():
                continue
            out.append({"site": site, "split": split, "n": int(o.sum()),
                        **{r: _rate(g[f"score_{r}"][o] >= thresholds[r]) for r in SCORED}})
    return out


# ---------------------------------------------------------------- the pair head's training rows

def pair_head_rows(pairs: pd.DataFrame, sites=PAIR_SITES, split: str = "validation") -> pd.DataFrame:
    """News pairs to fit the off-topic pair head on: each validation comment under its own article (0), a random
    other article and a close one (1). Abusive comments stay in: abuse says nothing about topic."""
    q = pairs[pairs.site.isin(sites) & (pairs.split == split) & pairs.off_topic_pair.notna()]
    return q.assign(label=q.off_topic_pair.astype(int))


# ---------------------------------------------------------------- the whole run

def build(root, seed: int = 0, max_per_split: int | None = 600, c3_test_size: float = 0.2) -> tuple:
    comments = data.load_news_comments(root, seed=seed, max_per_split=max_per_split, c3_test_size=c3_test_size,
                                       civil_max=max_per_split or 1000)
    return comments, data.news_pairs(comments, seed=seed)


def warm_cache(comments, articles) -> None:
    """Encode once what the run needs, into the on-disk embedding cache when there is one (--embedding-cache)."""
    store = get_encoder().store
    if store is None or not hasattr(store, "save"):
        return
    precompute([normalize(c) for c in comments], store, "news comments")
    precompute([a for a in articles if a], store, "news articles")


def semeval_heldout(root, held: dict) -> pd.DataFrame:
    topic = data.load_topic_sets(root, sources=("semeval2016_cqa",))
    _, test = data.grouped_split(topic, test_size=held["semeval_test_size"], seed=held["seed"])
    return test


def run(bundles: dict, root, *, seed: int = 0, batch_size: int = 256, max_per_split: int | None = 600,
        held: dict | None = None) -> dict:
    """Every bundle (name -> bundle; the first is the one reported as shipped) on the same news rows, with the
    baselines; SemEval's held-out threads (human labels) beside, so the off-topic score's forum quality shows too."""
    held = held or {"c3_test_size": 0.2, "semeval_test_size": 0.2, "seed": 0}
    comments, pairs = build(root, seed, max_per_split, held["c3_test_size"])
    sem = semeval_heldout(root, held)
    log.info("news: %d comments, %d pairs", len(comments), len(pairs))
    scored = {}
    order = sorted(bundles, key=lambda n: any(derived_from(bundles[n], o) for o in bundles.values()))
    arts = [{"title": t or None, "body": x or None} if (t or x) else None
            for t, x in zip(sem.article_title, sem.article_body)]
    sem_auc = {"n": int(len(sem)), "positives": int(sem.label.sum()),
               "tfidf": auc(sem.label, tfidf_offtopic_scores(sem.comment, sem.article_title, sem.article_body))}
    sem_raw = {}
    with frugal_scoring(list(bundles.values())):
        warm_cache(list(comments.comment) + list(sem.comment),
                   sorted(set(pairs.article_title) | set(sem.article_title) | set(sem.article_body)))
        for name in order:
            b = bundles[name]
            base = next((n for n in scored if derived_from(b, bundles[n])), None)
            log.info("news: scoring with %s%s", name, f" (reusing {base}'s scores)" if base else "")
            scored[name] = score_rows(b, comments, pairs, batch_size, base=scored[base] if base else None)
            off = getattr(b, "off_topic", None)
            if off is None:
                sem_auc[name] = auc(sem.label, off_topic_scores(b, list(sem.comment), arts, batch_size))
                continue
            raw = sem_raw[base] if base else _features(off, list(sem.comment), arts)
            sem_raw[name] = raw
            sem_auc[name] = auc(sem.label, off.proba_from_features(raw))
    first = next(iter(bundles))
    base = baseline_scores(comments, scored[first]["pairs"])
    pairs = scored[first]["pairs"]
    out = {"bundles": {n: {"version": b.version, "thresholds": {k: float(v) for k, v in b.thresholds.items()}}
                       for n, b in bundles.items()},
           "counts": comments.groupby(["site", "split"]).size().rename("n").reset_index().to_dict("records"),
           "sites": {s: v for s, v in data.NEWS_SITES.items() if s in set(comments.site)},
           "semeval": sem_auc, "ranking": ranking({n: scored[n] for n in bundles}, base, pairs, seed=seed)}
    for name, b in bundles.items():
        sc = scored[name]
        out[name] = {"decisions": decision_table(sc), "decisions_validation": decision_table(sc, "validation"),
                     "baselines_at_model_rate": baselines_at_model_rate(sc, base),
                     "tradeoff": {r: tradeoff(sc, r) for r in ("abusive", "off_topic")},
                     "calibration": calibration_by_site(sc, b.thresholds),
                     "budget_thresholds": choose_thresholds(sc["comments"], floors={"spam": b.thresholds["spam"]})}
    return out


# ---------------------------------------------------------------- report

def _pct(v):
    return "n/a" if v is None else f"{v:.1%}"


def _f3(v):
    return "n/a" if v is None else f"{v:.3f}"


def _ci(v):
    return "" if not v else f" [{v[0]:+.3f}, {v[1]:+.3f}]"


def decision_lines(results: dict, names=None) -> list[str]:
    """The false-hold / catch table: every site's test half, every bundle, in the same run."""
    names = names or list(results["bundles"])
    lines = ["| news set | bundle | ordinary comments | **false-hold, any reason** | as abusive | as off_topic | as spam | "
             "as language | abusive comments | **abusive caught** | labelled off-topic | caught | under another article: "
             "caught (as off_topic) | under a close article: caught (as off_topic) |", "|" + "---|" * 14]
    for i, site in enumerate(r["site"] for r in results[names[0]]["decisions"]):
        for n in names:
            r = next(x for x in results[n]["decisions"] if x["site"] == site)
            fr = r["false_hold_by_reason"]
            lines.append(
                f"| {r['name'] if n == names[0] else ''} | {results['bundles'][n]['version']} | {r['n_ordinary']} | "
                f"**{_pct(r['false_hold'])}** | {_pct(fr['abusive'])} | {_pct(fr['off_topic'])} | {_pct(fr['spam'])} | "
                f"{_pct(fr['unsupported_language'])} | {r['n_abusive']} | **{_pct(r['abusive_caught'])}** | "
                f"{r['n_off_topic_labelled'] or ''} | {_pct(r['off_topic_caught']) if r['n_off_topic_labelled'] else ''} | "
                + (f"{_pct(r['other_caught'])} ({_pct(r['other_caught_as_off_topic'])})" if r["n_other"] else "") + " | "
                + (f"{_pct(r['close_caught'])} ({_pct(r['close_caught_as_off_topic'])})" if r["n_close"] else "") + " |")
    return lines


def ranking_lines(results: dict, names=None) -> list[str]:
    names = names or list(results["bundles"])
    new = names[0]
    lines = ["| news set | pairs | n (off-topic) | " + " | ".join(f"{results['bundles'][n]['version']}" for n in names)
             + " | frozen MiniLM cosine | TF-IDF cosine | "
             f"{results['bundles'][new]['version']} - cosine [95% CI] | - TF-IDF [95% CI] |", "|" + "---|" * (7 + len(names))]
    for r in results["ranking"]:
        lines.append(f"| {data.NEWS_SITES[r['site']]['name']} | {r['part']} | {r['n']} ({r['positives']}) | "
                     + " | ".join(("**" + _f3(r[n]) + "**") if n == new else _f3(r[n]) for n in names)
                     + f" | {_f3(r['cosine'])} | {_f3(r['tfidf'])} | "
                     f"{r[new] - r['cosine']:+.3f}{_ci(r.get('ci_vs_cosine'))} | "
                     f"{r[new] - r['tfidf']:+.3f}{_ci(r.get('ci_vs_tfidf'))} |")
    sem = results["semeval"]
    lines.append(f"| SemEval held-out threads (forum, human labels) | own question | {sem['n']} ({sem['positives']}) | "
                 + " | ".join(_f3(sem[n]) for n in names) + f" | | {_f3(sem['tfidf'])} | | |")
    return lines


def top_tables(results: dict) -> list[str]:
    """What the report and the model card open with."""
    names = list(results["bundles"])
    return ["### False holds and catches on news comments (held-out halves, shipped thresholds)", "",
            "Ordinary = clean and on-topic (under its own article; sets without topic labels count every clean "
            "comment as on-topic). False-hold: the share of ordinary comments held. Caught: the share held, for any "
            "reason. Every bundle on the same rows, in the same run.", "",
            *decision_lines(results, names), "",
            "### Off-topic ranking on news pairs (ROC-AUC)", "",
            "Each comment under its own article (0) against the same comment under another article of its site (1); "
            "close pairs: the other article is the close one. Human labels: One Million Posts' moderators' OffTopic "
            "label, comments under their own article. Intervals: 500 bootstrap resamples, paired.", "",
            *ranking_lines(results, names), ""]


def write_news_report(results: dict, path, command: str, note: str = "") -> None:
    names = list(results["bundles"])
    b = results["bundles"]
    lines = [f"# News-comment decisions: {' vs '.join(b[n]['version'] for n in names)}", "",
             f"Generated by `{command}` on {results.get('date', '')} ({results.get('seconds', 0):.0f} s). "
             + " ".join(f"{b[n]['version']} thresholds: " + ", ".join(f"{k} {v:.4f}" for k, v in b[n]['thresholds'].items()) + "."
                        for n in names), ""]
    if note:
        lines += [note, ""]
    lines += top_tables(results)
    lines += ["## Baselines at the model's false-hold rate (held-out halves)", "",
              "Each baseline's threshold is set so that it holds the same share of ordinary comments as the bundle does "
              "for that reason; the catch rates are then comparable.", "",
              "| news set | bundle | reason | false-hold | bundle catches | alt-profanity-check | frozen cosine | TF-IDF cosine |",
              "|---|---|---|---|---|---|---|---|"]
    for n in names:
        for r in results[n]["baselines_at_model_rate"]:
            name = data.NEWS_SITES[r["site"]]["name"]
            if "abusive" in r:
                a = r["abusive"]
                lines.append(f"| {name} | {b[n]['version']} | abusive | {_pct(a['false_hold'])} | {_pct(a['model'])} | "
                             f"{_pct(a['alt-profanity-check'])} | | |")
            for kind in ("other", "close"):
                k = r.get(f"off_topic_{kind}")
                if k:
                    lines.append(f"| {name} | {b[n]['version']} | off_topic ({kind} article) | {_pct(k['false_hold'])} | "
                                 f"{_pct(k['model'])} | | {_pct(k['cosine'])} | {_pct(k['tfidf'])} |")
    lines += [""]
    for n in names:
        lines += [f"## Trade-off: hold budget against catch rate ({b[n]['version']})", "",
                  "For each budget, the threshold is the lowest at which no budget site's validation half holds more "
                  f"than the budget of its ordinary comments for that reason (sites: "
                  f"{', '.join(BUDGET_SITES['abusive'])}); the cells are test halves: false-hold / caught.", ""]
        for reason in ("abusive", "off_topic"):
            rows = results[n]["tradeoff"][reason]
            sites = list(rows[0]["sites"]) if rows else []
            lines += [f"**{reason}**", "", "| budget | threshold | " + " | ".join(sites) + " |", "|---|---|" + "---|" * len(sites)]
            for row in rows:
                cells = []
                for s in sites:
                    c = row["sites"][s]
                    if reason == "abusive":
                        cells.append(f"{_pct(c['false_hold'])} / {_pct(c['caught'])}")
                    else:
                        extra = f"; labelled {_pct(c['labelled'])}" if c.get("labelled") is not None else ""
                        cells.append(f"{_pct(c['false_hold'])} / other {_pct(c.get('other'))}, close {_pct(c.get('close'))}{extra}")
                lines.append(f"| {row['budget']:.0%} | {row['threshold']:.4f} | " + " | ".join(cells) + " |")
            lines += [""]
    lines += ["## Does one threshold mean the same hold rate on every news set?", "",
              "The share of ordinary comments at or above each bundle's own thresholds, per set and half.", "",
              "| bundle | news set | half | n | abusive | off_topic | spam |", "|---|---|---|---|---|---|---|"]
    for n in names:
        for r in results[n]["calibration"]:
            lines.append(f"| {b[n]['version']} | {data.NEWS_SITES[r['site']]['name']} | {r['split']} | {r['n']} | "
                         f"{_pct(r['abusive'])} | {_pct(r['off_topic'])} | {_pct(r['spam'])} |")
    lines += ["", "## What the hold-budget rule gives for each bundle's scores", "",
              f"At most {BUDGET_REASON:.0%} of ordinary comments per reason and {BUDGET_TOTAL:.0%} in all on every budget "
              "site's validation half:", "", "| bundle | abusive | off_topic | spam | per-reason budget used | worst site, all reasons |",
              "|---|---|---|---|---|---|"]
    for n in names:
        t = results[n]["budget_thresholds"]
        lines.append(f"| {b[n]['version']} | {t['abusive']:.4f} | {t['off_topic']:.4f} | {t['spam']:.4f} | "
                     f"{t['budget_reason']:.1%} | {t['worst_site_total']:.1%} |")
    lines += ["", "## The data", "", "| news set | what counts | article |", "|---|---|---|"]
    lines += [f"| {v['name']} | {v['labels']} | {v['article'] or 'none'} |" for v in results["sites"].values()]
    lines += ["", "Rows per half: " + ", ".join(f"{c['site']} {c['split']} {c['n']}" for c in results["counts"]) + ".",
              "", "Each set with titles is split in half by article (`grouped_split(test_size=0.5, seed=0)`); thresholds "
              "and the off-topic pair head only ever see validation halves (and SemEval calibration threads). Other "
              "articles come from the same half. Close article: same section, nearest publication date (One Million "
              "Posts); else the most similar other title by TF-IDF (SFU, Ruddit), which makes close pairs hardest for "
              "the TF-IDF baseline by construction.", ""]
    Path(path).write_text("\n".join(lines), encoding="utf-8")
