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


# Comments that reach the remembered-word and masked-word code: repeats, masks, leetspeak, stretched and spaced-out
# letters, look-alike and invisible characters, a Greek final sigma, whitespace runs, and tokens longer than the
# word cache takes.
VARIED = TEXTS + [
    "idiot idiot IDIOT idiot! you are an idiot", "f**k off, you sh!t-for-brains m0r0n", "stuuuupid f u c k i n g",
    "s.h.i.t, r*d*c**ous p#thetic h@te", "well-known e-mail from the U.S. at 7 a.m. (approx.)", "k1ll   \t\n  sk!||",
    "ΟΔΟΣ ΣΟΦΟΣ σοφός", "\u202etoidi na", "zero\u200bwidth id\u200biot", "ａｂｃ ｉｄｉｏｔ", "",
    "x" * 300 + " " + "idiot" * 20 + " " + "ab" * 40, "https://spam.example/buy?now=1 www.cheap.example",
]


@pytest.mark.model
def test_fast_path_scores_equal_sklearns_transform_on_varied_comments(real_bundle):
    """The remembered words give the numbers of sklearn's own TfidfVectorizer.transform, the first time a word is
    seen and every time after."""
    abuse, spam = real_bundle.abuse, real_bundle.spam
    W, b = abuse._linear()
    n = len(abuse.word_.vocabulary_) + len(abuse.char_.vocabulary_)
    sw = len(spam.word_.vocabulary_) + len(spam.char_.vocabulary_)
    fast = FastPath(real_bundle)
    for _ in range(2):  # words first seen, then remembered
        for text, got in zip(VARIED, fast.scores(VARIED)):
            norm = normalize(text)
            M = sp.hstack([abuse.word_.transform([norm]), abuse.char_.transform([norm])], format="csr")
            expected = abuse.platt_(np.asarray(M @ W[:n, 0]).ravel() + fast._b)[0]
            assert got["abusive"] == pytest.approx(expected, abs=1e-12), text
            S = sp.hstack([spam.word_.transform([text]), spam.char_.transform([text])], format="csr")
            assert fast._spam[0](text) + fast._spam[1](text) == pytest.approx(
                float((S @ spam.lr_.coef_.ravel()[:sw])[0]), abs=1e-12), text
