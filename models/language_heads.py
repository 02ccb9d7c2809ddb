"""Abuse heads for languages the English bundle cannot score, as small artefacts beside a bundle:
`abuse_<language>.joblib` (a scikit-learn pipeline with predict_proba) and `abuse_<language>.json` (its threshold,
chosen for the hold budget on validation data, and how it was built and measured), written by
`python -m training.language_heads build`. A comment that models.cues.language labels with that language is
scored by its head instead of being held as unsupported_language.

The head's probability is mapped piecewise-linearly so that its own threshold lands on the bundle's abusive
threshold: models.decide and a site's policy (which scales that threshold) then treat it as the English score.
"""
from __future__ import annotations

import json
from pathlib import Path

import joblib
import numpy as np

PREFIX = "abuse_"


class LanguageHead:
    def __init__(self, language: str, model, threshold: float, meta: dict | None = None):
        self.language = language
        self.model = model
        self.threshold = float(threshold)
        self.meta = meta or {}

    def probability(self, texts) -> np.ndarray:
        return self.model.predict_proba(list(texts))[:, 1]

    def abusive(self, texts, bundle_threshold: float) -> np.ndarray:
        """The head's probabilities on the bundle's abusive scale: its threshold maps to bundle_threshold."""
        return self.scaled(self.probability(texts), bundle_threshold)

    def scaled(self, p, bundle_threshold: float) -> np.ndarray:
        """Probabilities of this head mapped piecewise-linearly so that its threshold lands on bundle_threshold."""
        t, b = min(max(self.threshold, 1e-6), 1 - 1e-6), float(bundle_threshold)
        return np.interp(p, [0.0, t, 1.0], [0.0, b, 1.0])

    def save(self, folder) -> Path:
        folder = Path(folder)
        for step in getattr(self.model, "named_steps", {}).values():
            if hasattr(step, "stop_words_"):
                step.stop_words_ = None  # the pruned vocabulary: large and only for inspection
        joblib.dump(self.model, folder / f"{PREFIX}{self.language}.joblib", compress=3)
        meta = {**self.meta, "language": self.language, "threshold": self.threshold}
        (folder / f"{PREFIX}{self.language}.json").write_text(json.dumps(meta, indent=1) + "\n")
        return folder / f"{PREFIX}{self.language}.joblib"


def load_language_heads(folder) -> dict[str, LanguageHead]:
    """{language: head} for every abuse_<language>.json (with its .joblib) in a bundle folder."""
    heads = {}
    for meta_file in sorted(Path(folder).glob(f"{PREFIX}*.json")):
        model_file = meta_file.with_suffix(".joblib")
        if not model_file.exists():
            continue
        meta = json.loads(meta_file.read_text())
        heads[meta["language"]] = LanguageHead(meta["language"], joblib.load(model_file), meta["threshold"], meta)
    return heads
