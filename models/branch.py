"""A fine-tuned copy of the sentence encoder's top layers, for the abuse head.

A frozen encoder can only be read by a linear head; letting its last layers learn what abuse looks like is the
largest single gain the abuse head has seen (stacked ROC-AUC on C3 / UCC validation: frozen layer features
0.762 / 0.800, with this branch 0.781 / 0.809 after one epoch on two cores). The shared encoder's lower layers
still run once per comment: the branch takes their hidden states (`models.encoder` hands every layer's states
to its registered branches) and runs its own two layers, so a comment costs a third more encoder time, not twice
as much. The branch ships inside the bundle as an ONNX graph (about 14 MB) and runs in ONNX Runtime; torch is
needed only to train it.
"""
from __future__ import annotations

import hashlib
import logging
import os
import tempfile

import numpy as np

log = logging.getLogger(__name__)

SPLIT = 4  # the branch replaces layers SPLIT.. of the six; its input is the output of layer SPLIT - 1
MAX_DIFF = 1e-3  # the exported graph must give torch's logits to within this


def _top_module(layers, head):
    """torch module: (hidden states after layer SPLIT - 1, mask) -> one logit per window."""
    import torch

    class Top(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = layers
            self.head = head

        def forward(self, hidden, mask):
            m = mask.to(hidden.dtype)
            additive = (1.0 - m[:, None, None, :]) * -1e4  # eager attention adds this to the scores
            for layer in self.layers:
                out = layer(hidden, attention_mask=additive)
                hidden = out[0] if isinstance(out, tuple) else out
            pooled = (hidden * m[..., None]).sum(1) / m.sum(1, keepdim=True).clamp(min=1e-9)
            return self.head(pooled).squeeze(-1)

    return Top()


class EncoderBranch:
    """fit(encoder, texts, y) fine-tunes; __call__(layers, mask) scores windows from the encoder's hidden states."""

    def __init__(self, epochs: int = 1, lr: float = 3e-5, head_lr: float = 1e-3, batch_size: int = 32,
                 seed: int = 0):
        self.epochs = epochs
        self.lr = lr
        self.head_lr = head_lr
        self.batch_size = batch_size
        self.seed = seed
        self._session = None

    def fit(self, encoder, texts: list[str], y):
        """texts: normalised; y: labels in [0, 1] (soft labels are the cross-entropy target). Every window of a
        text learns its text's label. encoder: a models.encoder.Encoder (its tokenizer, windows and weights)."""
        import torch
        from tqdm import tqdm
        from transformers import AutoModel

        y = np.asarray(y, dtype=np.float32)
        torch.manual_seed(self.seed)
        model = AutoModel.from_pretrained(encoder.model_path, attn_implementation="eager").eval()
        for p in model.parameters():
            p.requires_grad = False
        top = _top_module(torch.nn.ModuleList(model.encoder.layer[SPLIT:]), torch.nn.Linear(model.config.hidden_size, 1))
        model.encoder.layer = model.encoder.layer[:SPLIT]  # the frozen part: what the shared encoder computes
        for p in top.layers.parameters():
            p.requires_grad = True
        opt = torch.optim.AdamW([{"params": top.layers.parameters(), "lr": self.lr},
                                 {"params": top.head.parameters(), "lr": self.head_lr}], weight_decay=0.01)
        windows = encoder.chunk(texts)
        ids = [w for ws in windows for w, _ in ws]
        target = np.repeat(y, [len(ws) for ws in windows])
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))  # batches of similar length pad less
        batches = [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        rng = np.random.default_rng(self.seed)
        top.train()
        for epoch in range(self.epochs):
            rng.shuffle(batches)
            for idx in tqdm(batches, desc=f"fine-tune abuse branch, epoch {epoch + 1}", unit="batch"):
                a, m = (torch.from_numpy(x) for x in encoder._padded([ids[i] for i in idx]))
                with torch.no_grad():
                    hidden = model(input_ids=a, attention_mask=m).last_hidden_state
                loss = torch.nn.functional.binary_cross_entropy_with_logits(
                    top(hidden, m), torch.from_numpy(target[idx]))
                opt.zero_grad()
                loss.backward()
                opt.step()
        top.eval()
        self.onnx_ = self._export(top, model, encoder)
        self.id_ = hashlib.sha1(self.onnx_).hexdigest()[:16]
        self._session = None
        return self

    def _export(self, top, model, encoder) -> bytes:
        import torch

        probe = [e.ids for e in encoder.tokenizer.encode_batch(
            ["Checking the exported branch.", "A longer second probe sentence, so that the batch has padding."],
            add_special_tokens=False)]
        a, m = (torch.from_numpy(x) for x in encoder._padded(probe))
        with torch.no_grad():
            hidden = model(input_ids=a, attention_mask=m).last_hidden_state
            expected = top(hidden, m).numpy()
        fd, tmp = tempfile.mkstemp(suffix=".onnx")
        os.close(fd)
        try:
            axes = {0: "batch", 1: "tokens"}
            with torch.no_grad():
                torch.onnx.export(top, (hidden, m), tmp, input_names=["hidden", "attention_mask"],
                                  output_names=["logit"], opset_version=17, dynamo=False,
                                  dynamic_axes={"hidden": axes, "attention_mask": axes, "logit": {0: "batch"}})
            with open(tmp, "rb") as f:
                graph = f.read()
        finally:
            os.unlink(tmp)
        self.onnx_, self._session = graph, None
        diff = float(np.abs(self._run(hidden.numpy(), m.numpy()) - expected).max())
        if diff > MAX_DIFF:
            raise RuntimeError(f"the exported abuse branch differs from torch by {diff:.2g}")
        return graph

    def _run(self, hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if self._session is None:
            import onnxruntime as ort

            from .encoder import _thread_count

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = _thread_count()
            opts.inter_op_num_threads = 1
            # It runs straight after the encoder, whose threads still spin-wait for work: spinning here too made
            # the two sessions (and the trees after them) fight for the cores (one comment: 18 ms -> 8 ms without)
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
            self._session = ort.InferenceSession(self.onnx_, opts, providers=["CPUExecutionProvider"])
        return self._session.run(None, {"hidden": np.ascontiguousarray(hidden, dtype=np.float32),
                                        "attention_mask": mask.astype(np.int64)})[0]

    def __call__(self, layers: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """layers: the encoder's stacked hidden states of layers 1..6, (6, batch, tokens, DIM) -> (batch, 1)."""
        return self._run(layers[SPLIT - 1], mask)[:, None]

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_session"] = None
        return state
