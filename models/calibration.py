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
        return self.lr_.predict_proba(np.asarray(margins, float).reshape(-1, 1))[:, 1]


def logit(p, eps=1e-6):
    p = np.clip(np.asarray(p, float), eps, 1 - eps)
    return np.log(p / (1 - p))
