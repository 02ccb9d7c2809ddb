"""`moderation calibrate`: thresholds for a site's hold budget, from the scores it has stored.

The budget is the share of the site's comments held, for any reason. Each tunable reason (abusive, off_topic,
spam) may hold the same share q of the comments (at most `reason_budget` each), q as large as the budget allows
once the overlap between reasons and the holds no threshold controls (unsupported_language, too_long) are
counted. A threshold is never lowered below the one in force: the budget caps holds, it does not create them
(a reason that already holds less than q keeps its threshold, and leaves its share to the others).
Where moderators labelled comments, catch and false-hold rates at the old and new thresholds are estimated
from those labels (mostly comments that were held, so they describe the high-score end only).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import and_, func, select

from models import reasons as R

from .db import Article, Comment
from .policy import TUNABLE

FIXED_HOLDS = set(R.names(R.RULE))   # held whatever the thresholds say (too long, unsupported language)


@dataclass
class Stored:
    scores: np.ndarray            # (n, 3) in TUNABLE order
    fixed: np.ndarray             # (n,) held for a reason no threshold controls
    abusive: np.ndarray           # (n,) 1/0, NaN where no moderator label
    off_topic: np.ndarray
    model_versions: dict = field(default_factory=dict)

    def __len__(self):
        return len(self.fixed)


def load(session, site: str, *, section: str | None = None, since: dt.datetime | None = None,
         model_version: str | None = None) -> Stored:
    """The site's scored comments (model errors left out) with the latest human label of each, if any."""
    from .review.tables import Decision
    latest = (select(Decision.comment_pk, func.max(Decision.id).label("id"))
              .group_by(Decision.comment_pk).subquery())
    query = (select(Comment.scores, Comment.reasons, Comment.model_version, Decision.abusive, Decision.off_topic)
             .outerjoin(latest, latest.c.comment_pk == Comment.id)
             .outerjoin(Decision, Decision.id == latest.c.id)
             .where(Comment.site == site))
    if section:
        query = query.join(Article, and_(Article.site == Comment.site, Article.article_id == Comment.article_id)) \
            .where(Article.section == section)
    if since is not None:
        query = query.where(Comment.received_at >= since)
    if model_version:
        query = query.where(Comment.model_version == model_version)
    scores, fixed, abusive, off_topic, versions = [], [], [], [], {}
    for r in session.execute(query.execution_options(yield_per=2000)):
        s = r.scores or {}
        if not all(isinstance(s.get(name), (int, float)) for name in TUNABLE):
            continue
        scores.append([float(s[name]) for name in TUNABLE])
        fixed.append(bool(set(r.reasons or []) & FIXED_HOLDS))
        abusive.append(np.nan if r.abusive is None else float(r.abusive))
        off_topic.append(np.nan if r.off_topic is None else float(r.off_topic))
        versions[r.model_version] = versions.get(r.model_version, 0) + 1
    return Stored(np.asarray(scores, float).reshape(-1, len(TUNABLE)), np.asarray(fixed, bool),
                  np.asarray(abusive, float), np.asarray(off_topic, float), versions)


def _threshold_for_share(sorted_desc: np.ndarray, share: float) -> float:
    """A threshold holding at most `share` of these scores: halfway between the last held and first kept."""
    k = int(np.floor(share * len(sorted_desc) + 1e-9))
    if k <= 0:
        return float(min(1.0, sorted_desc[0] + 1e-6)) if len(sorted_desc) else 1.0
    if k >= len(sorted_desc):
        return 0.0
    return float((sorted_desc[k - 1] + sorted_desc[k]) / 2)


def held(data: Stored, thresholds: dict) -> np.ndarray:
    t = np.array([thresholds[name] for name in TUNABLE])
    return data.fixed | (data.scores >= t).any(axis=1)


def fit(data: Stored, current: dict, budget: float, reason_budget: float) -> dict:
    """Thresholds (per TUNABLE reason) meeting the overall budget and the per-reason cap."""
    if len(data) == 0:
        raise ValueError("no scored comments to calibrate on")
    cap = min(reason_budget, budget)
    desc = [np.sort(data.scores[:, j])[::-1] for j in range(len(TUNABLE))]

    def at(q):
        return {name: max(float(current[name]), _threshold_for_share(desc[j], min(q, cap)))
                for j, name in enumerate(TUNABLE)}

    lo, hi = 0.0, cap
    if held(data, at(hi)).mean() <= budget:
        return at(hi)
    for _ in range(40):   # the hold rate only grows with q
        mid = (lo + hi) / 2
        if held(data, at(mid)).mean() <= budget:
            lo = mid
        else:
            hi = mid
    return at(lo)


def _rate(mask: np.ndarray, of: np.ndarray):
    n = int(of.sum())
    return (float((mask & of).sum() / n) if n else None), n


def report(data: Stored, current: dict, proposed: dict) -> dict:
    """Per reason: hold rates now and with the proposed threshold; label-based catch and false-hold rates."""
    out = {"comments": len(data), "reasons": {}, "labelled": int((~np.isnan(data.abusive)).sum()),
           "hold_rate": {"current": float(held(data, current).mean()), "proposed": float(held(data, proposed).mean())},
           "fixed_hold_rate": float(data.fixed.mean()) if len(data) else 0.0}
    labelled = ~np.isnan(data.abusive)
    ordinary = labelled & (data.abusive == 0) & ~(data.off_topic == 1)
    for j, name in enumerate(TUNABLE):
        label = data.abusive if R.get(name).label == "abusive" else data.off_topic   # spam: labelled off-topic
        positive = ~np.isnan(label) & (label == 1)
        row = {}
        for which, t in (("current", current[name]), ("proposed", proposed[name])):
            mask = data.scores[:, j] >= t
            catch, n_pos = _rate(mask, positive)
            false_hold, n_ord = _rate(mask, ordinary)
            row[which] = {"threshold": float(t), "hold_rate": float(mask.mean()), "catch": catch,
                          "false_hold": false_hold}
        row["labelled_positive"], row["labelled_ordinary"] = n_pos, n_ord
        out["reasons"][name] = row
    for which, t in (("current", current), ("proposed", proposed)):
        rate, _ = _rate(held(data, t), ordinary)
        out["hold_rate"][f"{which}_false_hold"] = rate
    out["labelled_ordinary"] = int(ordinary.sum())
    return out


def _pct(value) -> str:
    return "   -  " if value is None else f"{100 * value:5.1f}%"


def format_report(rep: dict, site: str, section: str | None, budget: float, model_version: str | None) -> str:
    lines = [f"site {site}{' section ' + section if section else ''}: {rep['comments']} scored comment(s)"
             f"{' by model ' + model_version if model_version else ''}, {rep['labelled']} with a moderator label",
             f"hold budget {100 * budget:.1f}%: held now {_pct(rep['hold_rate']['current']).strip()}, "
             f"with the proposed thresholds {_pct(rep['hold_rate']['proposed']).strip()} "
             f"(of which {_pct(rep['fixed_hold_rate']).strip()} for reasons no threshold controls)",
             "",
             f"{'reason':10} {'threshold':>9} {'held':>6} {'catch':>6} {'f-hold':>6}   {'proposed':>8} {'held':>6} "
             f"{'catch':>6} {'f-hold':>6}   labelled +/ordinary"]
    for name, row in rep["reasons"].items():
        c, p = row["current"], row["proposed"]
        lines.append(f"{name:10} {c['threshold']:9.4f} {_pct(c['hold_rate'])} {_pct(c['catch'])} {_pct(c['false_hold'])}"
                     f"   {p['threshold']:8.4f} {_pct(p['hold_rate'])} {_pct(p['catch'])} {_pct(p['false_hold'])}"
                     f"   {row['labelled_positive']}/{row['labelled_ordinary']}")
    if rep["hold_rate"]["proposed"] < budget - 0.01:
        lines.append("below the budget: the thresholds in force already hold less for some reasons, and calibrate "
                     "never lowers a threshold (set one with `moderation policy set --threshold`)")
    if rep["labelled"]:
        lines.append("catch / f-hold: shares of the moderator-labelled positives / ordinary comments held; labels come "
                     "mostly from held comments, so they describe the high-score end")
    return "\n".join(lines)
