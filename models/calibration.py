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
