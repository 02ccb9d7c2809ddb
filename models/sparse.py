"""TF-IDF rows and linear scores for one request at a time, without sklearn's per-call input checks.

Scoring one comment calls half a dozen transforms; sklearn's validation (dtype, finiteness, dataframe
detection) costs more than the work itself there. These give the same numbers as `vectorizer.transform`
and `predict_proba` (tests/test_sparse.py compares them) from the fitted attributes alone.
"""
from __future__ import annotations

import weakref

import numpy as np
import scipy.sparse as sp

_analyzers: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _supported(vec) -> bool:
    return (getattr(vec, "norm", None) in ("l2", None) and not getattr(vec, "binary", False)
            and getattr(vec, "dtype", np.float64) == np.float64)


def tfidf(vec, texts) -> sp.csr_matrix:
    """`vec.transform(texts)` for a fitted TfidfVectorizer."""
    if not _supported(vec):
        return vec.transform(texts)
    analyze = _analyzers.get(vec)
    if analyze is None:
        analyze = _analyzers[vec] = vec.build_analyzer()
    vocab = vec.vocabulary_
    indptr, indices, values = [0], [], []
    for text in texts:
        counts: dict[int, int] = {}
        for token in analyze(text):
            j = vocab.get(token)
            if j is not None:
                counts[j] = counts.get(j, 0) + 1
        indices.extend(counts)
        values.extend(counts.values())
        indptr.append(len(indices))
    X = sp.csr_matrix((np.asarray(values, np.float64), np.asarray(indices, np.int32), np.asarray(indptr, np.int32)),
                      shape=(len(indptr) - 1, len(vocab)))
    X.sort_indices()
    if vec.sublinear_tf:
        np.log(X.data, out=X.data)
        X.data += 1.0
    if vec.use_idf:
        X.data *= vec.idf_[X.indices]
    if vec.norm == "l2":
        lengths = np.diff(X.indptr)
        norms = np.sqrt(np.bincount(np.repeat(np.arange(X.shape[0]), lengths), weights=X.data ** 2,
                                    minlength=X.shape[0]))
        norms[norms == 0] = 1.0
        X.data /= np.repeat(norms, lengths)
    return X


def sigmoid(z) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(z, np.float64)))


def linear_proba(lr, X) -> np.ndarray:
    """P(class 1) of a fitted binary LogisticRegression: `lr.predict_proba(X)[:, 1]`."""
    return sigmoid(np.asarray(X @ lr.coef_.ravel()).ravel() + lr.intercept_[0])
