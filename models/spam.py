"""Spam / self-promotion classifier (text only): spam is off-topic under any article."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from .calibration import Platt
from .cues import NAMES as CUE_NAMES, cue_vector
from .sparse import tfidf


class SpamClassifier(ClassifierMixin, BaseEstimator):
    def __init__(self, C: float = 2.0):
        self.C = C

    def _matrix(self, texts):
        cues = np.vstack([cue_vector(t) for t in texts]) if texts else np.zeros((0, len(CUE_NAMES)))
        cues = (cues - self.cue_mean_) / self.cue_std_
        return sp.hstack([tfidf(self.word_, texts), tfidf(self.char_, texts),
                          sp.csr_matrix(cues * 0.3)], format="csr")

    def _new_lr(self):
        return LogisticRegression(C=self.C, solver="liblinear", class_weight="balanced")

    def fit(self, X, y):
        texts = list(X)
        y = np.asarray(y, dtype=int)
        self.classes_ = np.array([0, 1])
        cues = np.vstack([cue_vector(t) for t in texts])
        self.cue_mean_, self.cue_std_ = cues.mean(0), cues.std(0) + 1e-6
        self.word_ = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, lowercase=True,
                                     max_features=50_000).fit(texts)
        self.char_ = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), min_df=3, sublinear_tf=True,
                                     max_features=50_000).fit(texts)
        M = self._matrix(texts)
        self.lr_ = self._new_lr().fit(M, y)
        margins = np.zeros(len(y))
        for tr, te in StratifiedKFold(3, shuffle=True, random_state=0).split(M, y):
            margins[te] = self._new_lr().fit(M[tr], y[tr]).decision_function(M[te])
        self.platt_ = Platt().fit(margins, y)
        return self

    def predict_proba(self, X):
        margins = self._matrix(list(X)) @ self.lr_.coef_.ravel() + self.lr_.intercept_[0]
        p = self.platt_(np.asarray(margins).ravel())
        return np.column_stack([1 - p, p])
