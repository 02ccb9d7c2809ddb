"""The model bundle: both heads, the spam head, decision thresholds and metadata, saved as
`bundle.joblib` + `metadata.json` in a versioned folder. The format version is checked before unpickling."""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import joblib
import numpy as np
import sklearn

from . import reasons
from .calibration import PerspectiveScale
from .cues import language
from .language_heads import LanguageHead, load_language_heads
from .normalize import normalize
from .offtopic import ArticleText, article_embeddings

FORMAT_VERSION = 1
# MODERATION_BUNDLES_DIR: another registry folder (bundles + current.txt), e.g. a deployment's or a bench's own
BUNDLES = Path(os.environ.get("MODERATION_BUNDLES_DIR") or Path(__file__).resolve().parent / "bundles")
DEFAULT_POINTER = BUNDLES / "current.txt"
PERSPECTIVE_SCALE = "perspective_scale.json"  # optional: the Perspective endpoint's score scale for this bundle
SPAN_GATE = 0.5  # spans are reported from half the abusive threshold up: below that no word "drives" the score
HEADS = ("abusive", "off_topic", "spam")  # the score heads a Bundle computes (declared in models.reasons)


class EmptyTextError(ValueError):
    """The comment text is empty or whitespace only: nothing to score."""


class BundleVersionError(RuntimeError):
    """The bundle was written by an incompatible version of this code."""


@dataclass
class Score:
    abusive: float
    off_topic: float
    spam: float
    sub_scores: dict[str, float]
    spans: list[dict]
    article_known: bool
    language: str
    language_supported: bool
    model_version: str
    length: int = 0
    thresholds: dict[str, float] = field(default_factory=dict, repr=False)

    def head_scores(self) -> dict[str, float]:
        """{head: score} for models.decide."""
        return {name: getattr(self, name) for name in HEADS}

    def to_dict(self) -> dict:
        return {
            "abusive": self.abusive, "off_topic": self.off_topic, "spam": self.spam,
            "sub_scores": dict(self.sub_scores), "spans": [dict(s) for s in self.spans],
            "article_known": self.article_known, "language": self.language,
            "language_supported": self.language_supported, "model_version": self.model_version,
            "length": self.length,
        }


def _check_text(text) -> str:
    if not isinstance(text, str):
        raise TypeError(f"comment text must be a string, not {type(text).__name__}")
    if not text.strip():
        raise EmptyTextError("comment text is empty or whitespace only")
    return text


class Bundle:
    SUPPORTED_LANGUAGES = ("en",)
    perspective_scale: PerspectiveScale | None = None
    language_heads: dict[str, LanguageHead] = {}   # abuse heads of other languages, beside the bundle

    def __init__(self, abuse, off_topic, spam=None, thresholds: dict | None = None, metadata: dict | None = None):
        self.abuse = abuse
        self.off_topic = off_topic
        self.spam = spam
        self.thresholds = {"abusive": 0.5, "off_topic": 0.5, "spam": 0.5, **(thresholds or {})}
        self.metadata = {"version": "dev", **(metadata or {})}
        self.metadata["format_version"] = FORMAT_VERSION
        self.metadata["thresholds"] = self.thresholds
        # the heads and the labels they predict, read back by models.reasons when the bundle loads
        self.metadata.setdefault("heads", {h: {"label": reasons.get(h).label} for h in HEADS})

    @property
    def version(self) -> str:
        return str(self.metadata["version"])

    # -- scoring -------------------------------------------------------------------------------
    def score(self, text: str, article=None) -> Score:
        return self.score_many([(text, article)])[0]

    def score_many(self, items) -> list[Score]:
        # sklearn's input checks cost several ms per comment; our own features are finite and well-typed
        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            return self._score_many(list(items))

    def _score_many(self, items) -> list[Score]:
        texts = [_check_text(t) for t, _ in items]
        articles = [ArticleText.coerce(a) for _, a in items]
        if not texts:
            return []
        norm = [normalize(t) for t in texts]
        chunks = None
        vecs = None
        # one encoder pass per comment, shared by both heads; skipped when no head needs it
        every = self.abuse.use_embeddings or getattr(self.off_topic, "comment_lr_", None) is not None
        need = list(range(len(texts))) if every else \
            [i for i, a in enumerate(articles) if a is not None and a.known] if self.off_topic.use_embeddings else []
        if need:
            enc = (self.abuse if self.abuse.use_embeddings else self.off_topic)._encoder()
            got = enc.encode_chunks([norm[i] for i in need])
            chunks = [None] * len(texts)
            vecs = np.zeros((len(texts), got[0].vectors.shape[1]), np.float32)
            for i, c in zip(need, got):
                chunks[i] = c
                vecs[i] = c.mean
        abuse = self.abuse.scores(texts, chunks if self.abuse.use_embeddings else None, norm)
        off = self.off_topic.predict_proba(list(zip(texts, articles)), vecs if self.off_topic.use_embeddings else None)[:, 1]
        spam = self.spam.predict_proba(texts)[:, 1] if self.spam is not None else np.zeros(len(texts))
        langs = [language(t) for t in texts]
        own = self._language_scores(texts, langs)
        out = []
        for i, text in enumerate(texts):
            a = float(abuse["abusive"][i])
            lang = langs[i]
            head = i in own   # a language head's comment: its abuse score alone (the English heads mean nothing there)
            out.append(Score(
                abusive=own[i] if head else a,
                # spam holds under its own reason: folding it into off_topic cost ranking (bench/REPORT-models.md)
                off_topic=0.0 if head else float(off[i]),
                spam=float(spam[i]),
                sub_scores={} if head else {k: float(v[i]) for k, v in abuse.items() if k != "abusive"},
                spans=[] if head else self.abuse.spans(text) if a >= SPAN_GATE * self.thresholds["abusive"] else [],
                article_known=bool(articles[i] is not None and articles[i].known),
                language=lang,
                language_supported=lang in self.SUPPORTED_LANGUAGES or head,
                model_version=self.version,
                length=len(text),
                thresholds=dict(self.thresholds),
            ))
        return out

    def _language_scores(self, texts, langs) -> dict[int, float]:
        """{row: abusive} for the comments in a language with its own head, on this bundle's abusive scale."""
        out = {}
        for lang, head in self.language_heads.items():
            rows = [i for i, x in enumerate(langs) if x == lang]
            if rows:
                out.update(zip(rows, map(float, head.abusive([texts[i] for i in rows], self.thresholds["abusive"]))))
        return out

    def token_counts(self, texts) -> list[int]:
        """The encoder's token count of each text (batch scoring sorts by it, so batches pad less)."""
        from .encoder import token_counts
        return token_counts(texts)

    def article_embeddings(self, article) -> bytes | None:
        """What to store with an article so scoring its comments never runs the encoder on it again
        (None when this bundle's off-topic head uses no embeddings). Pass it back as ArticleText(embeddings=...)."""
        article = ArticleText.coerce(article)
        if article is None or not article.known or not self.off_topic.use_embeddings:
            return None
        return article_embeddings(article, self.off_topic._encoder())

    # -- persistence ----------------------------------------------------------------------------
    def save(self, folder) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for head in (self.abuse, self.off_topic, self.spam):
            for v in vars(head).values() if head is not None else ():
                if hasattr(v, "stop_words_"):
                    v.stop_words_ = None  # the pruned vocabulary: large and only for inspection
        joblib.dump({"abuse": self.abuse, "off_topic": self.off_topic, "spam": self.spam,
                     "thresholds": self.thresholds}, folder / "bundle.joblib", compress=3)
        (folder / "metadata.json").write_text(json.dumps(self.metadata, indent=2, default=_json_default) + "\n")
        return folder


def _json_default(o):
    if isinstance(o, (np.floating, np.integer)):
        v = o.item()
        return None if isinstance(v, float) and math.isnan(v) else v
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def default_bundle_path() -> Path:
    if DEFAULT_POINTER.exists():
        return BUNDLES / DEFAULT_POINTER.read_text().strip()
    found = sorted(p.parent for p in BUNDLES.glob("*/metadata.json"))
    if not found:
        raise FileNotFoundError(f"no model bundle under {BUNDLES}; build one with `moderation train`")
    return found[-1]


def load_bundle(path=None) -> Bundle:
    """Load a bundle folder (None: the shipped default)."""
    folder = Path(path) if path is not None else default_bundle_path()
    meta_file = folder / "metadata.json"
    if not meta_file.exists():
        raise FileNotFoundError(f"{folder} is not a model bundle (no metadata.json)")
    meta = json.loads(meta_file.read_text())
    found = meta.get("format_version")
    if found != FORMAT_VERSION:
        raise BundleVersionError(
            f"model bundle {folder} has format version {found!r}, but this code reads version {FORMAT_VERSION}; "
            f"retrain it with `moderation train` or install the matching comment-moderation release")
    reasons.declare_heads(meta.get("heads"))
    parts = joblib.load(folder / "bundle.joblib")
    b = Bundle(parts["abuse"], parts["off_topic"], parts.get("spam"), parts["thresholds"], meta)
    b.perspective_scale = PerspectiveScale.load(folder / PERSPECTIVE_SCALE, b.version)
    b.language_heads = load_language_heads(folder)
    b.path = folder  # files beside the bundle (the fast path's operating point) are read from here
    return b
