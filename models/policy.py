"""Scores -> publish or hold, with the reasons a moderator sees. Fails closed."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

HOLDING = ("abusive", "off_topic", "spam", "unsupported_language", "too_long", "model_error")


@dataclass
class Decision:
    decision: str
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"decision": self.decision, "reasons": list(self.reasons)}


def decide(score, thresholds: dict | None = None, *, max_chars: int | None = None) -> Decision:
    """Hold when any score reaches its threshold; `score=None` (the model could not score) holds as model_error.
    "article_unknown" is informational and never holds by itself."""
    if score is None:
        return Decision("hold", ["model_error"])
    t = dict(getattr(score, "thresholds", None) or {})
    t.update(thresholds or {})
    reasons: list[str] = []
    values = {name: getattr(score, name, None) for name in ("abusive", "off_topic", "spam")}
    if any(v is None or not isinstance(v, (int, float)) or math.isnan(v) for v in values.values()) \
            or any(name not in t for name in values):
        return Decision("hold", ["model_error"])
    for name in ("abusive", "off_topic", "spam"):
        if values[name] >= t[name]:
            reasons.append(name)
    if not getattr(score, "language_supported", True):
        reasons.append("unsupported_language")
    if max_chars is not None and getattr(score, "length", 0) > max_chars:
        reasons.append("too_long")
    hold = any(r in HOLDING for r in reasons)
    if not getattr(score, "article_known", True):
        reasons.append("article_unknown")
    return Decision("hold" if hold else "publish", reasons)
