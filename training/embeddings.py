"""The on-disk cache of encoder outputs that training, evaluation and the news report share."""
from __future__ import annotations

import logging
import os
import pickle
from pathlib import Path

from tqdm import tqdm

from models.encoder import get_encoder, is_complete, text_key

log = logging.getLogger("moderation.train")

CACHE_DIR = Path(".cache")


class EmbeddingStore(dict):
    """Text-hash -> encoder windows, pickled under .cache/ so reruns skip the encoder."""

    def __init__(self, path: Path):
        super().__init__()
        self.path = Path(path)
        if self.path.exists():
            try:
                with open(self.path, "rb") as f:
                    self.update(pickle.load(f))
            except Exception as e:  # a broken cache is rebuilt, not fatal
                log.warning("ignoring unreadable embedding cache %s: %s", self.path, e)

    def save(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            pickle.dump(dict(self), f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, self.path)


def precompute(texts, store: EmbeddingStore, desc: str, batch: int = 512):
    """Encode the texts the store lacks (or holds from before the encoder's abuse features), with a progress bar,
    saving now and then."""
    enc = get_encoder()
    todo = list(dict.fromkeys(t for t in texts if not is_complete(store.get(text_key(t)), enc.branches)))
    if not todo:
        return
    for n, i in enumerate(tqdm(range(0, len(todo), batch), desc=f"encode {desc}", unit="batch")):
        enc.encode_chunks(todo[i:i + batch])
        if n % 10 == 9:
            store.save()
    store.save()
