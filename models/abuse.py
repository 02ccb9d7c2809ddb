"""Abuse classifier: word and character n-grams of de-obfuscated text plus sentence embeddings,
one logistic regression per label, Platt-calibrated on held-out data.

Long texts are scored whole and in overlapping word windows; the text's score is the highest, so
one insult inside a long comment is not averaged away.
"""
from __future__ import annotations

import re

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from .calibration import Platt
from .encoder import DIM
from .normalize import normalize, normalize_with_spans
from .sparse import linear_proba, tfidf

SUB_LABELS = ("insult", "obscene", "identity_attack", "threat")
WINDOW = 40  # words; long texts are also scored in overlapping windows of this size
# embedding="layers": the max-pool half of the encoder's features is scaled by this (not tuned) so the
# regression leans on the layer-averaged mean pool first.
MAX_POOL_WEIGHT = 0.5
_FEATURE_SCALE = np.r_[np.ones(DIM), np.full(DIM, MAX_POOL_WEIGHT)]


# Explanation spans: chosen on half of civil_toxic_spans' held-out posts (bench/span_quality.py, which reports
# character F1 on the other half beside the earlier 0.5 / no-rule spans).
SPAN_THRESHOLD = 0.85
SPAN_FUNCTION_WORDS = "adjacent"
# Pronouns, articles, auxiliaries, prepositions, conjunctions: never worth highlighting on their own.
FUNCTION_WORDS = frozenset("""
i me my mine myself we us our ours ourselves you your yours yourself yourselves he him his himself she her hers
herself it its itself they them their theirs themselves this that these those who whom whose which what
a an the and or but nor so if then than as of at by for from in into on onto to with without about over under
up down out off is am are was were be been being have has had do does did will would shall should can could
may might must not no yes just very too also there here when where why how all any each some such only own
same other both few more most again once let lets im youre youve youll its thats theres dont doesnt didnt isnt
arent wasnt werent cant wont
""".split())


_WORDS = re.compile(r"\w+")


def _trim(text: str, b: int, e: int) -> tuple[int, int]:
    """Drop quotes and punctuation around a word so the span covers the word itself."""
    while b < e - 1 and not text[b].isalnum():
        b += 1
    while e > b + 1 and not text[e - 1].isalnum():
        e -= 1
    return b, e


def _soft(M, y):
    """(M, 0/1 labels, weights) for a logistic regression on soft labels: a row labelled p in (0, 1) appears
    twice, abusive with weight p and clean with weight 1 - p, which is the cross-entropy against p."""
    y = np.asarray(y, dtype=float)
    is_soft = (y > 0) & (y < 1)
    if not is_soft.any():
        return M, y.astype(int), None
    soft = np.flatnonzero(is_soft)
    labels = np.r_[(y > 0).astype(int), np.zeros(len(soft), dtype=int)]  # every row, then the soft rows' clean copy
    weights = np.r_[np.where(is_soft, y, 1.0), 1 - y[soft]]
    return M[np.r_[np.arange(len(y)), soft]], labels, weights


class AbuseClassifier(ClassifierMixin, BaseEstimator):
    def __init__(self, use_embeddings: bool = True, C: float = 1.0, embedding_weight: float = 1.5,
                 max_word_features: int = 100_000, max_char_features: int = 150_000, encoder=None,
                 stack_weight: float | None = None, embedding_C: float = 1.0, embedding: str = "sentence",
                 branch_epochs: int = 1):
        """stack_weight: None joins embeddings to the n-grams in one regression; a number stacks instead: the
        n-gram heads see n-grams only, a separate regression sees the embedding, and the abusive margin is
        n-gram margin + stack_weight * embedding margin (still one linear product when scoring).
        embedding: "sentence" (the sentence embedding) or "layers" (the encoder's abuse features: every layer's
        mean pool and the last layer's max pool, see models.encoder) for the embedding regression; or "branch"
        (stacked only): instead of a regression, the encoder's top layers fine-tuned for `branch_epochs` epochs
        (models.branch), whose logit is the embedding margin."""
        self.use_embeddings = use_embeddings
        self.C = C
        self.embedding_weight = embedding_weight
        self.stack_weight = stack_weight
        self.embedding_C = embedding_C
        self.embedding = embedding
        self.branch_epochs = branch_epochs
        self.max_word_features = max_word_features
        self.max_char_features = max_char_features
        self.encoder = encoder

    # -- features -------------------------------------------------------------------------
    def _encoder(self):
        if self.encoder is None:
            from .encoder import get_encoder
            enc = get_encoder()
        else:
            enc = self.encoder
        branch = getattr(self, "branch_", None)
        if branch is not None:  # the encoder runs the fine-tuned layers on every window it encodes
            enc.branches.setdefault(branch.id_, branch)
        return enc

    @property
    def _branched(self) -> bool:
        return self._stacked and getattr(self, "embedding", "sentence") == "branch"

    def _vectors(self, chunks) -> np.ndarray:
        """What the embedding regression sees for each text, from the encoder's chunks."""
        if getattr(self, "embedding", "sentence") == "layers":  # bundles pickled before the option: sentence
            return np.vstack([c.feature_mean for c in chunks]) * _FEATURE_SCALE
        return np.vstack([c.mean for c in chunks])

    def _embed(self, norm_texts: list[str]) -> np.ndarray:
        return self._vectors(self._encoder().encode_chunks(norm_texts))

    def _matrix(self, norm_texts: list[str], embeddings: np.ndarray | None = None):
        parts = [tfidf(self.word_, norm_texts), tfidf(self.char_, norm_texts)]
        if self.use_embeddings and not self._branched:
            if embeddings is None:
                embeddings = self._embed(norm_texts)
            parts.append(sp.csr_matrix(embeddings * (1.0 if self._stacked else self.embedding_weight)))
        return sp.hstack(parts, format="csr")

    @property
    def _stacked(self) -> bool:
        return self.use_embeddings and getattr(self, "stack_weight", None) is not None

    def _new_lr(self):
        return LogisticRegression(C=self.C, solver="liblinear", max_iter=200)

    # -- fitting --------------------------------------------------------------------------
    def fit(self, X, y, sub_labels=None, calibration=None):
        """X: texts; y: 0/1, a probability in between (a soft label: how abusive a crowd found the text), or NaN
        for rows that only carry sub-labels. sub_labels: {name: array with 1/0/NaN (unknown), soft labels allowed}.
        calibration: (texts, 0/1) held out for Platt scaling; without it, 3-fold out-of-fold margins."""
        if self.embedding not in ("sentence", "layers", "branch"):
            raise ValueError(f"embedding must be 'sentence', 'layers' or 'branch', not {self.embedding!r}")
        self._W = None
        texts = [normalize(t) for t in X]
        y = np.asarray(y, dtype=float)
        if np.any((y < 0) | (y > 1)):
            raise ValueError("abuse labels must lie in [0, 1] (or be NaN)")
        main = ~np.isnan(y)  # NaN: the row only teaches sub-labels (e.g. a set with positives only)
        self.classes_ = np.array([0, 1])
        self.word_ = TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_df=0.5, sublinear_tf=True,
                                     max_features=self.max_word_features, token_pattern=r"(?u)\b\w+\b|[^\w\s]")
        self.char_ = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=3, sublinear_tf=True,
                                     max_features=self.max_char_features)
        self.word_.fit(texts)
        self.char_.fit(texts)
        if self._stacked:  # n-gram heads first; the embedding regression is added by fit_embedding_head
            M_all = sp.hstack([self.word_.transform(texts), self.char_.transform(texts)], format="csr")
        else:
            M_all = self._matrix(texts, self._embed(texts) if self.use_embeddings else None)
        M, y = M_all[main], y[main]
        self.lr_ = self._new_lr().fit(*_soft(M, y))
        self.emb_lr_ = None
        if self._stacked:
            pass  # calibrated below, on the stacked margin
        elif calibration is not None:
            cal_texts = [normalize(t) for t in calibration[0]]
            margins = self.lr_.decision_function(self._matrix(cal_texts))
            self.platt_ = Platt().fit(margins, calibration[1])
        else:
            margins, hard = np.zeros(len(y)), (y >= 0.5).astype(int)
            for tr, te in StratifiedKFold(3, shuffle=True, random_state=0).split(M, hard):
                margins[te] = self._new_lr().fit(*_soft(M[tr], y[tr])).decision_function(M[te])
            self.platt_ = Platt().fit(margins, hard)
        self.sub_ = {}
        for name, labels in (sub_labels or {}).items():
            labels = np.asarray(labels, dtype=float)
            known = ~np.isnan(labels)
            if known.sum() >= 20 and len(np.unique(labels[known] >= 0.5)) == 2:
                self.sub_[name] = self._new_lr().fit(*_soft(M_all[known], labels[known]))
        if self._stacked:
            self.fit_embedding_head([t for t, m in zip(X, main) if m], y, calibration)
        return self

    def fit_embedding_head(self, X, y, calibration):
        """The stacked embedding regression on texts X (labels y), then Platt scaling of the stacked margin on
        calibration (texts, y). Separate from fit so it can learn from the rows whose embeddings are at hand."""
        if not self._stacked:
            raise ValueError("fit_embedding_head needs use_embeddings=True and a stack_weight")
        if calibration is None:
            raise ValueError("a stacked head is calibrated on held-out (texts, y): pass calibration")
        if self._branched:
            from .branch import EncoderBranch

            self.emb_lr_ = None
            self.branch_ = EncoderBranch(epochs=self.branch_epochs).fit(
                self._encoder(), [normalize(t) for t in X], np.asarray(y, float))
        else:
            emb = self._embed([normalize(t) for t in X])
            self.emb_lr_ = LogisticRegression(C=self.embedding_C, solver="liblinear", max_iter=200).fit(
                *_soft(emb, np.asarray(y, float)))
        self._W = None
        M, owner, extra = self._rows(list(calibration[0]))
        W, b = self._linear()
        margins = self._max_by_owner(np.asarray(M @ W[:, 0]).ravel() + b[0], owner, len(calibration[0])) + extra
        self.platt_ = Platt().fit(margins, np.asarray(calibration[1]))
        return self

    # -- scoring --------------------------------------------------------------------------
    def _rows(self, texts, chunks=None, norm=None):
        """Feature rows for every text and for overlapping word windows of long texts; returns (matrix, owner
        index, the fine-tuned branch's margin per text or zeros). chunks: the encoder's windows of the normalised
        texts, and norm: the normalised texts, if the caller has them."""
        norm = [normalize(t) for t in texts] if norm is None else list(norm)
        embs = None
        extra = np.zeros(len(norm))
        if self.use_embeddings:
            if chunks is None or (self._branched and any(self.branch_.id_ not in c.branches for c in chunks)):
                chunks = self._encoder().encode_chunks(norm)
            if self._branched:  # the strongest window, as for the n-grams
                extra = self.stack_weight * np.array([c.branches[self.branch_.id_].max() for c in chunks])
            else:
                embs = self._vectors(chunks)
        row_texts, row_embs, owner = [], [], []
        for i, t in enumerate(norm):
            row_texts.append(t); owner.append(i)
            ws = t.split(" ")
            if len(ws) > WINDOW:
                for start in range(0, len(ws) - WINDOW // 2, WINDOW // 2):
                    row_texts.append(" ".join(ws[start:start + WINDOW])); owner.append(i)
        if embs is not None:
            row_embs = np.vstack([embs[i] for i in owner])
        return self._matrix(row_texts, row_embs if embs is not None else None), np.asarray(owner), extra

    @staticmethod
    def _max_by_owner(values, owner, n):
        out = np.full(n, -np.inf)
        np.maximum.at(out, owner, values)
        return out

    def scores(self, texts, chunks=None, norm=None) -> dict[str, np.ndarray]:
        """{'abusive': calibrated probability, sub-label: probability} for each text (norm: normalize(texts))."""
        texts = list(texts)
        M, owner, extra = self._rows(texts, chunks, norm)
        W, b = self._linear()
        margins = np.asarray(M @ W) + b  # all heads in one sparse product (sklearn's checks cost ms per call)
        n = len(texts)
        out = {"abusive": self.platt_(self._max_by_owner(margins[:, 0], owner, n) + extra)}
        for j, name in enumerate(self.sub_, start=1):
            out[name] = 1.0 / (1.0 + np.exp(-self._max_by_owner(margins[:, j], owner, n)))
        return out

    def _linear(self):
        if getattr(self, "_W", None) is None:
            heads = [self.lr_, *self.sub_.values()]
            W = np.column_stack([h.coef_.ravel() for h in heads])
            b = np.array([h.intercept_[0] for h in heads])
            if self._stacked and not self._branched:  # embedding columns: the stacked regression's, abusive only
                E = np.zeros((self.emb_lr_.coef_.shape[1], W.shape[1]))
                E[:, 0] = self.stack_weight * self.emb_lr_.coef_.ravel()
                W = np.vstack([W, E])
                b[0] += self.stack_weight * self.emb_lr_.intercept_[0]
            self._W, self._b = W, b
        return self._W, self._b

    def predict_proba(self, X):
        p = self.scores(X)["abusive"]
        return np.column_stack([1 - p, p])

    # -- explanation spans ------------------------------------------------------------------
    def fit_spans(self, texts, gold_spans, negative_texts=(), C: float = 2.0):
        """Word-level model: is this (de-obfuscated) word inside a gold toxic span?
        gold_spans: for each text, a list of (begin, end); negative_texts: clean texts (all words 0)."""
        words, labels = [], []
        for text, spans in zip(texts, gold_spans):
            norm, ranges = normalize_with_spans(text)
            for w, (b, e) in zip(norm.split(" "), ranges):
                words.append(w)
                labels.append(int(any(b < se and sb < e for sb, se in spans)))
        for text in negative_texts:
            for w in normalize(text).split(" "):
                words.append(w); labels.append(0)
        self.span_vec_ = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True,
                                         max_features=100_000)
        W = self.span_vec_.fit_transform(words)
        self.span_lr_ = LogisticRegression(C=C, solver="liblinear", class_weight="balanced").fit(W, labels)
        return self

    def spans(self, text: str, threshold: float | None = None, function_words: str | None = None) -> list[dict]:
        """Character ranges in the original text of the words that look abusive, adjacent ones merged.

        threshold: a word's span probability must reach it (default SPAN_THRESHOLD: clearly positive, not a
        coin flip). function_words: "adjacent" (default) lets a pronoun or stop word be marked only next to a
        marked content word ("you idiot"), never on its own; "drop" never marks one; "keep" applies no rule."""
        if getattr(self, "span_lr_", None) is None:
            return []
        threshold = SPAN_THRESHOLD if threshold is None else threshold
        function_words = function_words or SPAN_FUNCTION_WORDS
        norm, ranges = normalize_with_spans(text)
        ws = norm.split(" ")
        if not ws or not ranges:
            return []
        p = linear_proba(self.span_lr_, tfidf(self.span_vec_, ws))
        marked = [bool(s >= threshold) for s in p]
        if function_words != "keep":
            content = [m and w not in FUNCTION_WORDS for w, m in zip(ws, marked)]
            marked = [c or (m and function_words == "adjacent"
                            and ((i > 0 and content[i - 1]) or (i + 1 < len(ws) and content[i + 1])))
                      for i, (c, m) in enumerate(zip(content, marked))]
        out: list[dict] = []
        for (b, e), s, m in sorted(zip(ranges, p, marked)):   # in text order: under a bidi override words come reversed
            if not m:
                continue
            b, e = _trim(text, b, e)
            if out and text[out[-1]["end"]:b].strip() == "":
                out[-1]["end"] = e
                out[-1]["score"] = max(out[-1]["score"], float(s))
            else:
                out.append({"begin": b, "end": e, "score": float(s)})
        if function_words != "keep":
            # a marked stop word that punctuation kept apart from its content word would stand alone
            out = [sp for sp in out
                   if not all(w in FUNCTION_WORDS for w in _WORDS.findall(text[sp["begin"]:sp["end"]].lower()))]
        return out

    def __getstate__(self):
        state = self.__dict__.copy()
        state["encoder"] = None  # the shared encoder is re-acquired in each process
        state["_W"] = state["_b"] = None
        return state

    def __setstate__(self, state):
        state.setdefault("embedding", "sentence")  # bundles pickled before the options existed
        state.setdefault("branch_epochs", 1)
        super().__setstate__(state)
