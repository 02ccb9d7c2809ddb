"""The fast path: a bundle's abuse n-gram head and its spam head, without the encoder (well under a millisecond
when the full model cannot answer within a request's deadline).

The abuse head's word and character n-gram regression is the part of the stacked abuse head that needs no
encoder; its margin goes through the head's own Platt scaling (a monotone map: its ranking is the n-gram
head's). Its n-gram margin lacks the encoder's share, so the full model's abusive threshold does not fit it: the
fast path publishes only below its own threshold, chosen on validation data (`fastpath.json` in the bundle folder,
written by `bench/fastpath_quality.py --choose`: the score that still holds a given share of the abusive comments
of UCC's dev split) and scaled as a site's policy scales the full threshold. Anything above it, where the fast path
is unsure, is held. Without the file: `publish_below` x the abusive threshold. The spam head is the full model's
own, so its threshold is unchanged.

A comment in a language that has its own abuse head beside the bundle (models.language_heads) and a cue that tells
it without the language-ID model (CUES: Roman Urdu's word cue, which is how models.cues.language decides ur-Latn) is
scored by that head, mapped onto the bundle's abusive scale as the full model maps it, and judged at the full
model's threshold: the head is the full model's own, so its answer is the full model's.
"""
from __future__ import annotations

import json
from collections import Counter
from functools import lru_cache, partial
from itertools import chain
from operator import is_not

import numpy as np
from scipy.special import expit
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from .calibration import Platt
from .cues import cue_vector, roman_urdu
from .normalize import WORD_CACHE, WORD_CACHE_LEN, normalize
from .sparse import _analyzers

PUBLISH_BELOW = 0.5  # without an operating point: publish only below this share of the abusive threshold
OPERATING_POINT = "fastpath.json"
_found = partial(is_not, None)  # a vocabulary index, 0 included
CUES = {"ur-Latn": roman_urdu}  # language -> a cue that says models.cues.language(text) is that language


class _Linear:
    """A fitted TfidfVectorizer's rows dotted with one weight vector, without building a sparse matrix (scipy's
    per-call overhead is most of the cost for one comment). Same number as `tfidf(vec, [text]) @ w`: the same
    features, summed in the same order. Character n-grams stay inside words (char_wb), so each word's matched
    n-grams are remembered (the same words recur from comment to comment)."""

    def __init__(self, vec, w: np.ndarray):
        from .sparse import _supported

        if not _supported(vec):
            raise ValueError("the fast path reads plain l2-normalised TF-IDF vectorizers only")
        self.vocab = vec.vocabulary_
        self.analyze = _analyzers.get(vec) or vec.build_analyzer()
        self.sublinear = vec.sublinear_tf
        self.idf = vec.idf_ if vec.use_idf else np.ones(len(self.vocab))
        self.l2 = vec.norm == "l2"
        self.w = np.ascontiguousarray(w, dtype=np.float64)
        self.by_word = None
        if vec.analyzer == "char_wb" and callable(getattr(vec, "_char_wb_ngrams", None)):
            self.vec, self.preprocess = vec, vec.build_preprocessor()
            self.by_word = lru_cache(maxsize=WORD_CACHE)(self._word_hits)

    def _word_hits(self, word: str) -> tuple[int, ...]:
        return tuple(filter(_found, map(self.vocab.get, self.vec._char_wb_ngrams(word))))

    def _counts(self, text: str) -> Counter:
        if self.by_word is None:
            counts = Counter(map(self.vocab.get, self.analyze(text)))
            counts.pop(None, None)
            return counts
        words = self.vec._white_spaces.sub(" ", self.preprocess(text)).split()
        by_word, fresh = self.by_word, self._word_hits
        return Counter(chain.from_iterable(by_word(w) if len(w) <= WORD_CACHE_LEN else fresh(w) for w in words))

    def __call__(self, text: str) -> float:
        counts = self._counts(text)
        if not counts:
            return 0.0
        js = np.fromiter(counts.keys(), np.int64, len(counts))
        tf = np.fromiter(counts.values(), np.float64, len(counts))
        v = ((np.log(tf) + 1.0) if self.sublinear else tf) * self.idf[js]
        dot = float(v @ self.w[js])
        return dot / float(np.sqrt(v @ v)) if self.l2 else dot


def _head_probability(head):
    """text -> the language head's probability. A TF-IDF + binary logistic regression pipeline is read with _Linear
    (the pipeline's predict_proba costs far more for one comment); any other model through its predict_proba."""
    steps = list(getattr(head.model, "named_steps", {}).values())
    if len(steps) == 2 and isinstance(steps[0], TfidfVectorizer) and isinstance(steps[1], LogisticRegression) \
            and steps[1].coef_.shape[0] == 1:
        try:
            linear = _Linear(steps[0], steps[1].coef_[0])
        except ValueError:
            pass
        else:
            b = float(steps[1].intercept_[0])
            return lambda text: float(expit(linear(text) + b))
    return lambda text: float(head.probability([text])[0])


class FastPath:
    def __init__(self, bundle, publish_below: float = PUBLISH_BELOW, operating_point: dict | None = None):
        self.bundle = bundle
        self.publish_below = publish_below
        if operating_point is None:
            folder = getattr(bundle, "path", None)
            found = folder is not None and (folder / OPERATING_POINT).exists()
            operating_point = json.loads((folder / OPERATING_POINT).read_text()) if found else {}
        self.operating_point = operating_point
        abuse = bundle.abuse
        W, b = abuse._linear()
        nw, nc = len(abuse.word_.vocabulary_), len(abuse.char_.vocabulary_)
        self._abuse = (_Linear(abuse.word_, W[:nw, 0]), _Linear(abuse.char_, W[nw:nw + nc, 0]))
        self._b = float(b[0])  # the embedding rows, if any, come after the n-gram rows and are left out
        if getattr(abuse, "_stacked", False) and not getattr(abuse, "_branched", False):
            self._b -= abuse.stack_weight * abuse.emb_lr_.intercept_[0]  # the embedding regression's share
        self._platt: Platt = abuse.platt_
        self._spam = None
        spam = bundle.spam
        if spam is not None:
            coef = spam.lr_.coef_.ravel()
            sw, sc = len(spam.word_.vocabulary_), len(spam.char_.vocabulary_)
            self._spam = (_Linear(spam.word_, coef[:sw]), _Linear(spam.char_, coef[sw:sw + sc]),
                          coef[sw + sc:] * 0.3 / spam.cue_std_, float(spam.lr_.intercept_[0]), spam.cue_mean_,
                          spam.platt_)
        # (language, cue, probability, head) of the language heads whose comments the fast path can tell
        self._heads = [(lang, CUES[lang], _head_probability(head), head)
                       for lang, head in (getattr(bundle, "language_heads", None) or {}).items() if lang in CUES]
        self.version = f"{bundle.version}+fast"

    def score(self, text: str) -> dict[str, float]:
        """{"abusive": .., "spam": ..} from n-grams and spam cues alone (or a language head: `judged`)."""
        return self.judged(text)[0]

    def judged(self, text: str) -> tuple[dict[str, float], str | None]:
        """The scores, and the language whose own head gave the abuse score (None: the English n-gram head)."""
        for lang, cue, probability, head in self._heads:
            if cue(text):
                abusive = float(head.scaled(probability(text), self.bundle.thresholds["abusive"]))
                return {"abusive": abusive, "spam": self._spam_score(text)}, lang
        norm = normalize(text)
        word, char = self._abuse
        abusive = float(self._platt(np.array([word(norm) + char(norm) + self._b]))[0])
        return {"abusive": abusive, "spam": self._spam_score(text)}, None

    def _spam_score(self, text: str) -> float:
        spam = 0.0
        if self._spam is not None:
            sword, schar, cue_w, b, cue_mean, platt = self._spam
            margin = sword(text) + schar(text) + float((cue_vector(text) - cue_mean) @ cue_w) + b
            spam = float(platt(np.array([margin]))[0])
        return spam

    def scores(self, texts) -> list[dict[str, float]]:
        return [self.score(t) for t in texts]

    def thresholds(self, thresholds: dict, language: str | None = None) -> dict:
        """The thresholds the fast path decides with, from the full model's (a site's policy, resolved); for a
        comment a language head scored (`judged`), the full model's own."""
        out = {}
        if language is not None and "abusive" in thresholds:
            out["abusive"] = float(thresholds["abusive"])
        elif "abusive" in thresholds:
            own = self.operating_point.get("abusive")
            base = float(self.bundle.thresholds.get("abusive") or 0)
            out["abusive"] = own * float(thresholds["abusive"]) / base if own is not None and base > 0 \
                else self.publish_below * float(thresholds["abusive"])
        if "spam" in thresholds:
            out["spam"] = float(thresholds["spam"])
        return out


_cache: "dict[int, FastPath]" = {}


def fast_path(bundle) -> FastPath:
    """The bundle's fast path, built once per bundle object (a bundle may bring its own: `bundle.fast_path()`)."""
    if hasattr(bundle, "fast_path"):
        return bundle.fast_path()
    fp = _cache.get(id(bundle))
    if fp is None or fp.bundle is not bundle:
        fp = _cache[id(bundle)] = FastPath(bundle)
    return fp
