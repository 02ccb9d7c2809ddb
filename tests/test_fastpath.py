"""The fast path of the shipped bundle: the abuse head's n-gram part and the spam head, without the encoder."""
import numpy as np
import pytest
import scipy.sparse as sp

import models
from models.fastpath import FastPath
from models.normalize import normalize
from models.sparse import tfidf

TEXTS = ["You are a complete idiot", "Thanks, the new timetable for the number 7 bus is much better.",
         "CHECK OUT my channel www.example.com subscribe!!!", "y0u ar3 a m0r0n", "ok"]


@pytest.mark.model
def test_fast_path_is_the_n_gram_head_and_the_spam_head_without_the_encoder(real_bundle, monkeypatch):
    fast = FastPath(real_bundle)
    monkeypatch.setattr(models.encoder, "get_encoder", lambda: (_ for _ in ()).throw(AssertionError("encoder")))
    abuse = real_bundle.abuse
    W, b = abuse._linear()
    n = len(abuse.word_.vocabulary_) + len(abuse.char_.vocabulary_)
    got = fast.scores(TEXTS)
    for text, s in zip(TEXTS, got):
        norm = normalize(text)
        M = sp.hstack([tfidf(abuse.word_, [norm]), tfidf(abuse.char_, [norm])], format="csr")
        expected = abuse.platt_(np.asarray(M @ W[:n, 0]).ravel() + b[0])[0]
        assert s["abusive"] == pytest.approx(expected, abs=1e-6)
        assert s["spam"] == pytest.approx(real_bundle.spam.predict_proba([text])[0, 1], abs=1e-6)
    assert got[0]["abusive"] > got[1]["abusive"] and got[2]["spam"] > 0.5 > got[1]["spam"]
    assert fast.version == real_bundle.version + "+fast"
    lowered = fast.thresholds(real_bundle.thresholds)
    assert set(lowered) == {"abusive", "spam"} and lowered["abusive"] < real_bundle.thresholds["abusive"]
