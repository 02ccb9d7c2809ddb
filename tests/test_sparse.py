"""The request-time fast paths give the numbers sklearn gives (models/sparse.py, Platt)."""
import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from models.calibration import Platt
from models.sparse import linear_proba, tfidf

TEXTS = ["You are an idiot, go away!!", "The council meets on Monday about the new bus timetable.",
         "", "zzqx", "Ünïcödé text with émojis 😀 and l33t sp34k", "the the the THE The"]


def _vectorizers(bundle):
    yield bundle.abuse.word_
    yield bundle.abuse.char_
    yield bundle.abuse.span_vec_
    yield bundle.spam.word_
    yield bundle.spam.char_
    yield bundle.off_topic.tfidf_


@pytest.mark.model
def test_tfidf_matches_sklearn_for_every_shipped_vectorizer(bundle):
    for vec in _vectorizers(bundle):
        ours, theirs = tfidf(vec, TEXTS), vec.transform(TEXTS)
        assert ours.shape == theirs.shape
        assert abs(ours - theirs).max() < 1e-12, vec


@pytest.mark.parametrize("options", [dict(), dict(sublinear_tf=True), dict(norm=None), dict(use_idf=False),
                                     dict(analyzer="char_wb", ngram_range=(2, 4)), dict(binary=True, norm="l1")])
def test_tfidf_matches_sklearn_for_other_settings(options):
    docs = ["a cat sat on the mat", "the dog ate the cat", "cats and dogs", "mat mat mat"]
    vec = TfidfVectorizer(**options).fit(docs)
    assert abs(tfidf(vec, TEXTS + docs) - vec.transform(TEXTS + docs)).max() < 1e-12


def test_linear_proba_and_platt_match_predict_proba():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5))
    y = (X[:, 0] + rng.normal(size=200) > 0).astype(int)
    lr = LogisticRegression().fit(X, y)
    np.testing.assert_allclose(linear_proba(lr, X), lr.predict_proba(X)[:, 1], rtol=1e-12)
    platt = Platt().fit(X[:, 0], y)
    np.testing.assert_allclose(platt(X[:, 1]), platt.lr_.predict_proba(X[:, 1:2])[:, 1], rtol=1e-12)
