"""The classifiers and the trained model bundle they load (no Flask, no training code here).

    bundle = models.load_bundle()
    score = bundle.score("You idiot", article={"title": "...", "body": "..."})
    models.decide(score).decision   # "publish" | "hold"

The reasons a comment is held for, and the moderator labels, are declared once in `models.reasons`.
"""
from . import reasons
from .abuse import SUB_LABELS, AbuseClassifier
from .bundle import FORMAT_VERSION, Bundle, BundleVersionError, EmptyTextError, Score, default_bundle_path, load_bundle
from .encoder import Encoder, get_encoder
from .normalize import normalize
from .offtopic import ArticleText, OffTopicClassifier
from .policy import Verdict, decide, setting_for, thresholds_for
from .spam import SpamClassifier

__all__ = [
    "AbuseClassifier", "ArticleText", "Bundle", "BundleVersionError", "EmptyTextError", "Encoder",
    "FORMAT_VERSION", "OffTopicClassifier", "Score", "SpamClassifier", "SUB_LABELS", "decide",
    "default_bundle_path", "get_encoder", "load_bundle", "normalize", "reasons", "setting_for", "thresholds_for", "Verdict",
]
