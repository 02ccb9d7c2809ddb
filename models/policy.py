"""Scores -> publish or hold, with the reasons a moderator sees: the one decision function. Fails closed.

`decide` is called by every path that turns scores into a decision: /v1, Perspective, Coral, the review
queue and `moderation score`. `thresholds_for` resolves a site's and section's policy over the bundle's own
thresholds, so every path resolves them the same way.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from . import reasons as R


@dataclass
class Verdict:
    """The model's decision for one comment (a moderator's decision is service.review's `Decision`)."""
    decision: str
    reasons: list[str] = field(default_factory=list)

    @property
    def held(self) -> bool:
        return self.decision == "hold"

    def to_dict(self) -> dict:
        return {"decision": self.decision, "reasons": list(self.reasons)}


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and not math.isnan(v)


def decide(scores, thresholds: dict | None = None, *, length: int | None = None, max_chars: int | None = None,
           language_supported: bool | None = None, article_known: bool | None = None,
           unsupported_language: str = "hold") -> Verdict:
    """Hold when any head's score reaches its threshold, or a rule holds; publish otherwise.

    scores: a `Score` (its head scores, thresholds, length, language and article facts are used unless the
        keyword arguments say otherwise), a mapping {head: 0..1}, or None when the model could not score.
    thresholds: {head: threshold}, laid over the Score's own.
    length: the comment's length in characters (the whole text, not the scored part); `too_long` above max_chars.
    Every head that has a score or a threshold needs both, as finite numbers, or the comment is held as
    model_error. "article_unknown" is informational and never holds by itself.
    unsupported_language: "hold" (the default: fail safe) holds a comment in a language the bundle does not score;
        "publish" leaves its head scores unjudged (they mean nothing in that language) and notes language_unscored.
    """
    too_long = max_chars is not None and (_fact(scores, "length", length, 0) or 0) > max_chars
    failed = {R.MODEL_ERROR, R.TOO_LONG} if too_long else {R.MODEL_ERROR}
    heads = None if scores is None else _head_results(scores, thresholds)
    if heads is None:
        return _verdict(failed)
    supported = _fact(scores, "language_supported", language_supported, True)
    unscored = not supported and unsupported_language == "publish"
    found = set() if unscored else {h for h, reached in heads.items() if reached}
    found |= _rule_reasons(too_long, supported, unscored, _fact(scores, "article_known", article_known, True))
    return _verdict(found)


def _fact(scores, name: str, given, default):
    """A keyword argument wins over what the Score says about the comment."""
    return getattr(scores, name, default) if given is None else given


def _head_results(scores, thresholds) -> dict[str, bool] | None:
    """{head: reached its threshold}, or None (fail closed) when a head lacks a finite score or threshold."""
    values = scores.head_scores() if hasattr(scores, "head_scores") else dict(scores)
    limits = {**(getattr(scores, "thresholds", None) or {}), **(thresholds or {})}
    heads = [h for h in R.score_heads() if h in values or h in limits]
    if not heads or any(not _number(values.get(h)) or not _number(limits.get(h)) for h in heads):
        return None
    return {h: values[h] >= limits[h] for h in heads}


def _rule_reasons(too_long: bool, supported: bool, unscored: bool, article_known: bool) -> set[str]:
    found = {R.TOO_LONG} if too_long else set()
    if not supported:
        found.add(R.LANGUAGE_UNSCORED if unscored else R.UNSUPPORTED_LANGUAGE)
    if not article_known:
        found.add(R.ARTICLE_UNKNOWN)
    return found


def _verdict(found: set[str]) -> Verdict:
    ordered = ([R.MODEL_ERROR] if R.MODEL_ERROR in found else []) + \
        [n for n in R.names() if n in found and n != R.MODEL_ERROR]
    hold = any(R.get(n).holds for n in ordered)
    return Verdict("hold" if hold else "publish", ordered)


def thresholds_for(policy: dict | None, base: dict | None, site: str | None = None,
                   section: str | None = None) -> dict:
    """Most specific wins: bundle thresholds < policy defaults < section (all sites) < site < the site's section.

    policy: {"abusive": .., "sections": {section: {...}}, "sites": {site: {..., "sections": {...}}}}; only
    numeric entries are thresholds (a site's other settings, such as its mode, live beside them).
    """
    def numeric(d):
        return {k: v for k, v in (d or {}).items() if _number(v)}

    policy = policy or {}
    result = dict(base or {})
    result.update(numeric(policy))
    if section:
        result.update(numeric((policy.get("sections") or {}).get(section)))
    site_policy = (policy.get("sites") or {}).get(site) or {}
    result.update(numeric(site_policy))
    if section:
        result.update(numeric((site_policy.get("sections") or {}).get(section)))
    return result


UNSUPPORTED_LANGUAGE_CHOICES = ("hold", "publish")


def setting_for(policy: dict | None, name: str, site: str | None = None, section: str | None = None):
    """A non-threshold policy setting (e.g. `unsupported_language`), most specific first as in thresholds_for;
    None when no level sets it."""
    policy = policy or {}
    site_policy = (policy.get("sites") or {}).get(site) or {}
    for level in ((site_policy.get("sections") or {}).get(section) if section else None, site_policy,
                  (policy.get("sections") or {}).get(section) if section else None, policy):
        if isinstance(level, dict) and name in level:
            return level[name]
    return None
