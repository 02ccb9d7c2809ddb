"""Platt scaling on held-out scores: turns a raw margin into a probability for the data it was fitted on."""
from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression


class Platt:
    def fit(self, margins, y):
        y = np.asarray(y)
        if len(np.unique(y)) < 2:
            raise ValueError("calibration data needs both classes")
        self.lr_ = LogisticRegression(C=1e4).fit(np.asarray(margins, float).reshape(-1, 1), y)
        return self

    def __call__(self, margins) -> np.ndarray:
        # the fitted sigmoid itself: predict_proba's input checks cost more than this for one comment
        z = np.asarray(margins, float) * self.lr_.coef_[0, 0] + self.lr_.intercept_[0]
        return 1.0 / (1.0 + np.exp(-z))


def logit(p, eps=1e-6):
    p = np.clip(np.asarray(p, float), eps, 1 - eps)
    return np.log(p / (1 - p))


class PerspectiveScale:
    """Our scores on Perspective's scale (`perspective_scale.json` beside a bundle, built by
    `python -m training.perspective_scale build`): TOXICITY ~ the share of readers who would call the comment
    toxic, SEVERE_TOXICITY ~ the chance that raters call it very or extremely toxic. Both are monotone
    piecewise-linear maps read from the file; only the Perspective endpoint uses them."""

    def __init__(self, spec: dict):
        self.spec = spec
        tox = spec["TOXICITY"]
        self._tox = (np.asarray(tox["x"], float), np.asarray(tox["y"], float))
        sev = spec.get("SEVERE_TOXICITY")
        self._sev = None
        if sev:
            self._sev = (np.asarray(sev["coef"], float), float(sev["intercept"]),
                         np.asarray(sev["x"], float), np.asarray(sev["y"], float))
        self.catch = {float(k): v for k, v in (spec.get("catch") or {}).items()}

    @classmethod
    def load(cls, path, version: str | None = None):
        """The file at path, or None when there is none or it was fitted for another bundle version (a map
        fitted on one bundle's scores means nothing for another's)."""
        import json
        import logging
        from pathlib import Path

        path = Path(path)
        if not path.exists():
            return None
        spec = json.loads(path.read_text())
        if version is not None and spec.get("bundle") != version:
            logging.getLogger(__name__).warning("%s was fitted for bundle %s, not %s: not used", path,
                                                spec.get("bundle"), version)
            return None
        return cls(spec)

    @property
    def has_severe(self) -> bool:
        return self._sev is not None

    def toxicity(self, abusive):
        x, y = self._tox
        return np.interp(np.asarray(abusive, float), x, y)

    def severe(self, scores):
        """scores: one dict (or a list of dicts) with abusive and the insult/obscene/identity/threat sub-scores."""
        coef, intercept, x, y = self._sev
        single = isinstance(scores, dict)
        rows = [scores] if single else list(scores)
        names = ("insult", "obscene", "identity_attack", "threat")
        feats = np.array([[logit(r["abusive"])] + [float(r.get(k) or 0.0) for k in names] for r in rows], float)
        out = np.interp(feats @ coef + intercept, x, y)
        return float(out[0]) if single else out

    def expected_catch(self, threshold: float) -> float | None:
        """Share of toxic validation comments whose TOXICITY reaches the threshold (from the build), if known."""
        if not self.catch:
            return None
        keys = sorted(self.catch)
        return float(np.interp(threshold, keys, [self.catch[k] for k in keys]))
