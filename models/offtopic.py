"""Off-topic classifier for (comment, article) pairs.

Features: the comment's embedding similarity to the title and to every window of the body (max,
mean, top-3 mean: the whole body, not its first 256 tokens), TF-IDF cosine, content-word and
named-entity overlap, comment-only cues, and a comment-only score: a logistic regression on the comment's own
embedding, learnt from the rows whose label the comment alone decides (human relevance labels: chit-chat,
thanks, questions of one's own, spam). Gradient-boosted trees handle a missing article as
missing values, so the same model scores comments whose article is unknown from the cues alone.
Article features are cached by article id + content hash, so a busy article is encoded once.
"""
from __future__ import annotations

import hashlib
import io
import math
import re
import threading
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field, fields

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, StratifiedKFold

from .calibration import Platt, logit
from .encoder import Chunks
from .normalize import normalize
from .sparse import tfidf
from .cues import STOP, cue_vector, words, NAMES as CUE_NAMES

_ENTITY = re.compile(r"(?<![.!?]\s)(?<!^)\b([A-Z][a-zA-Z]+|[A-Z]{2,}|\d{2,})\b")

_NAN = float("nan")


@dataclass
class PairFeatures:
    """What a comment shares with its article: the trees' first columns, in this order (NaN: unknown)."""
    has_title: float = _NAN
    has_body: float = _NAN
    cos_title: float = _NAN         # comment embedding . title embedding
    cos_body_max: float = _NAN      # ... . each body window: max, mean, top-3 mean
    cos_body_mean: float = _NAN
    cos_body_top3: float = _NAN
    cos_article: float = _NAN       # ... . mean of all the article's windows
    tfidf_cos: float = _NAN
    word_overlap: float = _NAN      # share of the comment's content words found in the article
    log_word_hits: float = _NAN
    entity_overlap: float = _NAN    # share of the comment's names / numbers found in the article
    log_entities: float = _NAN
    log_body_windows: float = _NAN

    def values(self) -> list[float]:
        return [getattr(self, n) for n in PAIR_NAMES]


PAIR_NAMES = [f.name for f in fields(PairFeatures)]  # order = column order in pickled bundles' trees: append only


# The pair head's inputs (see OffTopicClassifier.fit_pair_head): pair similarities first, then what the comment
# alone says (its length, and the two parts learnt from forum data: the comment-only score and the trees' logit).
PAIR_HEAD_NAMES = ["cos_max", "cos_article", "tfidf_cos", "word_overlap", "log_word_hits", "entity_overlap",
                   "has_entities", "log_words", "cos_x_log_words", "comment_score", "tree_logit"]
_HEAD = {n: i for i, n in enumerate(PAIR_HEAD_NAMES)}
PAIR_ONLY = ("cos_max", "cos_article", "tfidf_cos", "word_overlap", "log_word_hits", "entity_overlap", "has_entities")

EMBEDDINGS_FORMAT = "all-MiniLM-L6-v2/128-token windows/v1"  # change it when the encoder or windows change


@dataclass(frozen=True)
class ArticleText:
    """The article a comment is scored under, as the model reads it (the service stores its own rows apart).
    embeddings: what `article_embeddings` returned for this article earlier (e.g. stored when the CMS
    registered it), so the encoder is not run again; ignored if it was made for other text or another encoder."""
    title: str | None = None
    body: str | None = None
    id: str | None = None
    embeddings: bytes | None = field(default=None, compare=False, hash=False, repr=False)

    @classmethod
    def coerce(cls, article) -> "ArticleText | None":
        if article is None or isinstance(article, ArticleText):
            return article
        if isinstance(article, dict):
            unknown = set(article) - {"title", "body", "id"}
            if unknown:
                raise ValueError(f"unknown article fields: {sorted(unknown)}")
            return cls(title=article.get("title"), body=article.get("body"),
                       id=None if article.get("id") is None else str(article.get("id")))
        raise TypeError(f"article must be models.ArticleText, dict or None, not {type(article).__name__}")

    @property
    def known(self) -> bool:
        return bool((self.title or "").strip() or (self.body or "").strip())

    @property
    def content_hash(self) -> str:
        return hashlib.sha1(f"{self.title or ''}\x00{self.body or ''}".encode("utf-8", "surrogatepass")).hexdigest()

    @property
    def key(self) -> str:
        return f"{self.id or ''}:{self.content_hash}"


def _encode_article(art: ArticleText, encoder) -> dict[str, Chunks]:
    parts = [(k, t) for k, t in (("title", (art.title or "").strip()), ("body", (art.body or "").strip())) if t]
    return dict(zip([k for k, _ in parts], encoder.encode_chunks([t for _, t in parts], branches=False)))


def article_embeddings(article: ArticleText, encoder) -> bytes:
    """The article's title and body window embeddings as bytes, tagged with its content hash and the encoder."""
    arrays = {"format": np.array(EMBEDDINGS_FORMAT), "content": np.array(article.content_hash)}
    for part, chunks in _encode_article(article, encoder).items():
        arrays[f"{part}_vectors"] = chunks.vectors.astype(np.float32)
        arrays[f"{part}_ranges"] = np.asarray(chunks.ranges, dtype=np.int64).reshape(-1, 2)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _stored_embeddings(article: ArticleText) -> dict[str, Chunks] | None:
    """The article's stored embeddings, if they were made for this text by this encoder."""
    try:
        with np.load(io.BytesIO(article.embeddings), allow_pickle=False) as z:
            if str(z["format"]) != EMBEDDINGS_FORMAT or str(z["content"]) != article.content_hash:
                return None
            return {part: Chunks(z[f"{part}_vectors"], [tuple(r) for r in z[f"{part}_ranges"].tolist()])
                    for part in ("title", "body") if f"{part}_vectors" in z.files}
    except Exception:  # noqa: BLE001 - unreadable bytes: encode again
        return None


def _content_words(text: str) -> set[str]:
    out = set()
    for w in words(text):
        w = w.lower()
        if len(w) > 2 and w not in STOP:
            out.add(w[:-1] if w.endswith("s") and len(w) > 4 else w)
    return out


def _entities(text: str) -> set[str]:
    return {m.lower() for m in _ENTITY.findall(text)}


def pairs(comments, articles=None) -> list[tuple]:
    """X for OffTopicClassifier: (comment, article) pairs; `articles` None: no article for any comment."""
    comments = list(comments)
    return list(zip(comments, [None] * len(comments) if articles is None else articles, strict=True))


def _unzip(X) -> tuple[list[str], list["ArticleText | None"]]:
    """(comments, articles) from X, a sequence of (comment, article) pairs; article: ArticleText, dict or None."""
    comments, articles = [], []
    for row in X:
        if isinstance(row, str) or len(row) != 2:
            raise ValueError("X must be a sequence of (comment, article) pairs; use offtopic.pairs(comments, articles)")
        comments.append(row[0])
        articles.append(ArticleText.coerce(row[1]))
    return comments, articles


class _ArticleFeatures:
    __slots__ = ("title_vec", "body_vecs", "mean_vec", "words", "tfidf")


class OffTopicClassifier(ClassifierMixin, BaseEstimator):
    def __init__(self, use_embeddings: bool = True, max_iter: int = 300, learning_rate: float = 0.08,
                 min_samples_leaf: int = 20, cache_size: int = 2048, encoder=None, comment_head: bool = True):
        """comment_head: add the comment-only embedding score (needs use_embeddings and `comment_rows` in fit)."""
        self.use_embeddings = use_embeddings
        self.comment_head = comment_head
        self.min_samples_leaf = min_samples_leaf
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.cache_size = cache_size
        self.encoder = encoder

    def _encoder(self):
        if self.encoder is None:
            from .encoder import get_encoder
            return get_encoder()
        return self.encoder

    # -- article side (cached) -----------------------------------------------------------------
    def _cache(self):
        if getattr(self, "_lru", None) is None:
            self._lru = OrderedDict()
            self._lru_lock = threading.Lock()
        return self._lru

    def _article(self, art: ArticleText) -> _ArticleFeatures:
        lru = self._cache()
        key = art.key
        with self._lru_lock:
            hit = lru.get(key)
            if hit is not None:
                lru.move_to_end(key)
                return hit
        f = _ArticleFeatures()
        title, body = (art.title or "").strip(), (art.body or "").strip()
        f.title_vec = f.body_vecs = f.mean_vec = None
        if self.use_embeddings:
            chunks = _stored_embeddings(art) if art.embeddings else None
            if chunks is None:
                chunks = _encode_article(art, self._encoder())
            if "title" in chunks:
                f.title_vec = chunks["title"].mean
            if "body" in chunks:
                f.body_vecs = chunks["body"].vectors
            allv = np.vstack([c.vectors for c in chunks.values()])
            m = allv.mean(0)
            f.mean_vec = m / (np.linalg.norm(m) or 1.0)
        full = f"{title}\n{body}"
        f.words = _content_words(full)
        f.tfidf = tfidf(self.tfidf_, [full])
        with self._lru_lock:
            lru[key] = f
            while len(lru) > self.cache_size:
                lru.popitem(last=False)
        return f

    # -- features ------------------------------------------------------------------------------
    def features(self, X, comment_vecs: np.ndarray | None = None) -> np.ndarray:
        """One row of `feature_names` per (comment, article) pair of X. comment_vecs: the comments' embeddings,
        if already computed."""
        comments, arts = _unzip(X)
        head = getattr(self, "comment_lr_", None)  # None in bundles made before the comment head
        if self.use_embeddings and comment_vecs is None:
            # only comments with an article need their embedding, unless the comment head scores them all
            need = list(range(len(comments))) if head is not None else \
                [i for i, a in enumerate(arts) if a is not None and a.known]
            if need:
                encoder = self._encoder()
                comment_vecs = np.zeros((len(comments), encoder.dim), np.float32)
                comment_vecs[need] = encoder.encode([normalize(comments[i]) for i in need])
        rows = []
        nan = _NAN
        ctf = tfidf(self.tfidf_, comments)
        for i, (c, a) in enumerate(zip(comments, arts)):
            cues = cue_vector(c)
            pair = PairFeatures()
            if a is not None and a.known:
                f = self._article(a)
                cw = _content_words(c)
                ents = _entities(c)
                pair.has_title = float(f.title_vec is not None or bool((a.title or "").strip()))
                pair.has_body = float(bool((a.body or "").strip()))
                if self.use_embeddings:
                    v = comment_vecs[i]
                    if f.title_vec is not None:
                        pair.cos_title = float(f.title_vec @ v)
                    if f.body_vecs is not None:
                        sims = f.body_vecs @ v
                        top = np.sort(sims)[::-1]
                        pair.cos_body_max, pair.cos_body_mean = float(top[0]), float(sims.mean())
                        pair.cos_body_top3 = float(top[:3].mean())
                        pair.log_body_windows = math.log1p(len(sims))
                    pair.cos_article = float(f.mean_vec @ v)
                pair.tfidf_cos = float((ctf[i] @ f.tfidf.T).toarray()[0, 0])
                hits = len(cw & f.words)
                pair.word_overlap = hits / len(cw) if cw else nan
                pair.log_word_hits = math.log1p(hits)
                pair.entity_overlap = len({e for e in ents if e in f.words or e.rstrip("s") in f.words}) / len(ents) \
                    if ents else nan
                pair.log_entities = math.log1p(len(ents))
            rows.append(np.concatenate([pair.values(), cues]))
        X = np.asarray(rows, dtype=np.float64)
        if head is not None:
            X = np.hstack([X, self._comment_scores(comments, comment_vecs)[:, None]])
        return X

    def _comment_scores(self, comments, vecs) -> np.ndarray:
        s = self.comment_lr_.decision_function(vecs)
        oof = getattr(self, "_comment_oof", None)  # while fitting: out-of-fold scores for the training rows
        if oof:
            s = np.array([oof.get(c, v) for c, v in zip(comments, s)])
        return s

    @property
    def feature_names(self) -> list[str]:
        return PAIR_NAMES + CUE_NAMES + (["comment_score"] if getattr(self, "comment_lr_", None) is not None else [])

    def _fit_comment_head(self, comments, y, rows):
        """The comment-only regression, and out-of-fold scores for its own training rows, so the trees do not
        learn to trust a score that has seen the label. Folds group identical texts."""
        idx = np.flatnonzero(rows)
        if len(idx) < 50 or min(np.bincount(y[idx], minlength=2)) < 10:
            return  # too few to learn from: no comment head (comment_lr_ stays None)
        text = [comments[i] for i in idx]
        V = self._encoder().encode([normalize(t) for t in text])
        yy = y[idx]
        groups = np.unique(text, return_inverse=True)[1]
        oof = np.zeros(len(idx))
        for tr, te in GroupKFold(5).split(V, yy, groups):
            oof[te] = LogisticRegression(max_iter=2000).fit(V[tr], yy[tr]).decision_function(V[te])
        self.comment_lr_ = LogisticRegression(max_iter=2000).fit(V, yy)
        self._comment_oof = dict(zip(text, oof))

    # -- fitting / scoring ------------------------------------------------------------------------
    def _prep(self, X):
        X = X.copy()
        X[:, self.dead_] = 0.0
        return X

    def _dead(self, X):
        """Columns no split can use: fewer known values than a leaf needs. All-missing ones also crash the
        trees' binning ('window shape cannot be larger than input array shape'), even when only the
        early-stopping split of a big training set leaves them empty."""
        return (~np.isnan(X)).sum(axis=0) < max(1, self.min_samples_leaf)

    def _new_model(self):
        return HistGradientBoostingClassifier(max_iter=self.max_iter, learning_rate=self.learning_rate,
                                              max_leaf_nodes=31, l2_regularization=1.0, random_state=0,
                                              min_samples_leaf=self.min_samples_leaf)

    def fit(self, X, y, calibration=None, sample_weight=None, comment_rows=None):
        """X: (comment, article) pairs (article: ArticleText, dict or None; see `pairs`).
        calibration: (X, y) held out for Platt scaling; else 3-fold out-of-fold.
        sample_weight: per-row weight (e.g. more for human labels than for synthetic pairs).
        comment_rows: the rows whose label the comment alone decides (human labels, rows without an article;
        not pairs made by swapping articles): the comment head learns from these, if there are at least 50 with
        10 of each class. Default: rows without an article."""
        comments, articles = _unzip(X)
        y = np.asarray(y, dtype=int)
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
        self.classes_ = np.array([0, 1])
        self._lru = None
        self.comment_lr_ = None
        self.pair_head_ = None
        if self.comment_head and self.use_embeddings:
            rows = np.array([a is None or not a.known for a in articles]) if comment_rows is None \
                else np.asarray(comment_rows, dtype=bool)
            self._fit_comment_head(comments, y, rows)
        docs = comments + list({a.key: f"{a.title or ''}\n{a.body or ''}" for a in articles if a is not None}.values())
        self.tfidf_ = TfidfVectorizer(sublinear_tf=True, min_df=2, max_df=0.5, stop_words="english",
                                      max_features=200_000).fit(docs)
        X = self.features(list(zip(comments, articles)))
        self._comment_oof = None
        self.dead_ = self._dead(X)
        X = self._prep(X)
        self.model_ = self._new_model().fit(X, y, sample_weight=w)
        if calibration is not None:
            cal_X, cal_y = calibration
            cx = self._prep(self.features(cal_X))
            self.platt_ = Platt().fit(logit(self.model_.predict_proba(cx)[:, 1]), cal_y)
        else:
            oof = np.zeros(len(y))
            for tr, te in StratifiedKFold(3, shuffle=True, random_state=0).split(X, y):
                a, b = X[tr].copy(), X[te].copy()
                dead = self._dead(a)
                a[:, dead], b[:, dead] = 0.0, 0.0
                oof[te] = self._new_model().fit(a, y[tr], sample_weight=None if w is None else w[tr]).predict_proba(b)[:, 1]
            self.platt_ = Platt().fit(logit(oof), y)
        return self

    def predict_proba(self, X, comment_vecs=None):
        """X: (comment, article) pairs. comment_vecs: the comments' embeddings, if already computed."""
        p = self.proba_from_features(self.features(X, comment_vecs))
        return np.column_stack([1 - p, p])

    def predict(self, X, comment_vecs=None):
        return self.classes_[(self.predict_proba(X, comment_vecs)[:, 1] >= 0.5).astype(int)]

    def proba_from_features(self, raw: np.ndarray) -> np.ndarray:
        """The off-topic probability from `features()` rows (heads that share their features can share them)."""
        tree = logit(self.model_.predict_proba(self._prep(raw))[:, 1])
        head = getattr(self, "pair_head_", None)  # None in bundles made before the pair head
        return self.platt_(tree) if head is None else self._pair_head_proba(head, raw, tree)

    # -- the pair head: a small regression over the pair similarities, fitted on news pairs -----------------------
    def _pair_head_inputs(self, raw: np.ndarray, tree: np.ndarray, fill=None) -> np.ndarray:
        """PAIR_HEAD_NAMES for each row. Where the article is unknown, the pair columns take `fill` (what a
        comment under its own article typically shows), so the comment alone decides only as far as it can."""
        names = self.feature_names
        col = lambda n: raw[:, names.index(n)] if n in names else np.full(len(raw), np.nan)  # noqa: E731
        cos_max = np.fmax(col("cos_title"), col("cos_body_max"))
        ents = col("entity_overlap")
        log_words = col("log_words")
        Z = np.column_stack([cos_max, col("cos_article"), col("tfidf_cos"), np.nan_to_num(col("word_overlap")),
                             col("log_word_hits"), np.nan_to_num(ents), (~np.isnan(ents)).astype(float), log_words,
                             cos_max * log_words, np.nan_to_num(col("comment_score")), tree])
        if fill is not None:
            k = len(PAIR_ONLY)
            unknown = np.isnan(Z[:, :k])
            Z[:, :k] = np.where(unknown, np.asarray(fill)[None, :k], Z[:, :k])
            cx, cos, lw = _HEAD["cos_x_log_words"], _HEAD["cos_max"], _HEAD["log_words"]
            Z[:, cx] = np.where(np.isnan(Z[:, cx]), Z[:, cos] * Z[:, lw], Z[:, cx])
            Z = np.nan_to_num(Z)  # a column nothing filled (no embeddings in this head): no information
        return Z

    def _pair_head_proba(self, head: dict, raw: np.ndarray, tree: np.ndarray) -> np.ndarray:
        Z = self._pair_head_inputs(raw, tree, head["fill"])[:, head["columns"]]
        z = ((Z - head["mean"]) / head["scale"]) @ head["coef"] + head["intercept"]
        return 1.0 / (1.0 + np.exp(-z))

    def fit_pair_head(self, X, y, *, sample_weight=None, columns=PAIR_HEAD_NAMES, C: float = 1.0,
                      comment_vecs=None, raw=None):
        """Replace the calibrated trees' output by a logistic regression over PAIR_HEAD_NAMES (`columns`: the
        subset to use), fitted on (comment, article) pairs: news comments under their own article (0) and under
        another article of the same site (1), plus any human-labelled rows. The trees stay, as one input.
        X: (comment, article) pairs; None if `raw`, the `features()` of these rows, is given."""
        y = np.asarray(y, dtype=int)
        if raw is None:
            raw = self.features(X, comment_vecs)
        tree = logit(self.model_.predict_proba(self._prep(raw))[:, 1])
        Z = self._pair_head_inputs(raw, tree)
        own = (y == 0) & ~np.isnan(Z[:, _HEAD["cos_max"]])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: filled with 0 below
            fill = np.nan_to_num(np.nanmedian(Z[own] if own.any() else Z, axis=0))
        Z = self._pair_head_inputs(raw, tree, fill)
        idx = [PAIR_HEAD_NAMES.index(c) for c in columns]
        Z = Z[:, idx]
        keep = ~np.isnan(Z).any(axis=1)
        mean, scale = Z[keep].mean(0), Z[keep].std(0)
        scale[scale == 0] = 1.0
        w = None if sample_weight is None else np.asarray(sample_weight, float)[keep]
        lr = LogisticRegression(C=C, max_iter=2000).fit((Z[keep] - mean) / scale, y[keep], sample_weight=w)
        self.pair_head_ = {"columns": idx, "names": list(columns), "mean": mean, "scale": scale,
                           "coef": lr.coef_[0].copy(), "intercept": float(lr.intercept_[0]), "fill": fill}
        return self

    def __getstate__(self):
        state = self.__dict__.copy()
        state["encoder"] = None
        state["_lru"] = None
        state.pop("_lru_lock", None)
        state.pop("_comment_oof", None)
        return state
