"""The abuse head's fine-tuned copy of the encoder's top layers (models.branch)."""
import pickle

import numpy as np
import pytest

import models
from models import branch as B
from models.encoder import Encoder
from models.normalize import normalize

pytestmark = pytest.mark.model  # trains or runs the real sentence encoder

NICE = [f"thanks for the thoughtful article about the {w} budget" for w in
        ("city", "school", "river", "park", "road", "museum", "library", "harbour", "market", "bridge")]
NASTY = [f"you are a stupid {w} and an idiot, shut up" for w in
         ("moron", "clown", "fool", "loser", "troll", "jerk", "creep", "pig", "rat", "dolt")]


@pytest.fixture(scope="module")
def encoder():
    return Encoder(backend="onnx")


def test_top_layers_on_the_lower_layers_states_reproduce_the_whole_encoder(encoder):
    """The branch's input is what the shared encoder computed below it: with the original layers it must give
    the original model's output, padding included."""
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(encoder.model_path, attn_implementation="eager").eval()
    head = torch.nn.Linear(384, 1)
    top = B._top_module(torch.nn.ModuleList(model.encoder.layer[B.SPLIT:]), head).eval()
    ids, mask = encoder._padded([e.ids for e in encoder.tokenizer.encode_batch(
        ["short one", "a much longer comment, so that the first is padded in the batch"], add_special_tokens=False)])
    ids, mask = torch.from_numpy(ids), torch.from_numpy(mask)
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        m = mask[..., None].float()
        expected = head((out.last_hidden_state * m).sum(1) / m.sum(1)).squeeze(-1)
        got = top(out.hidden_states[B.SPLIT], mask)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=1e-4)


def test_fine_tuned_branch_learns_scores_through_the_encoder_and_survives_pickling(encoder):
    clf = models.AbuseClassifier(use_embeddings=True, stack_weight=1.0, embedding="branch", branch_epochs=4,
                                 encoder=encoder, max_word_features=2000, max_char_features=5000)
    clf.fit(NICE + NASTY, [0] * 10 + [1] * 10, calibration=(NICE[:5] + NASTY[:5], [0] * 5 + [1] * 5))
    assert clf.emb_lr_ is None and len(clf.branch_.onnx_) > 1_000_000
    assert clf.branch_.id_ in encoder.branches  # every window the encoder sees now gets the branch's logit
    texts = ["you stupid moron, shut up", "a thoughtful piece on the harbour budget"]
    norm = [normalize(t) for t in texts]
    chunks = encoder.encode_chunks(norm)
    logits = np.array([c.branches[clf.branch_.id_].max() for c in chunks])
    assert logits[0] > logits[1]
    p = clf.predict_proba(texts)[:, 1]
    assert p[0] > p[1]
    M, owner, extra = clf._rows(texts)
    np.testing.assert_allclose(extra, logits, atol=1e-5)  # stack weight 1: the branch margin is its logit
    np.testing.assert_allclose(clf.scores(texts, chunks)["abusive"], p, atol=1e-6)
    again = pickle.loads(pickle.dumps(clf))
    assert again.branch_._session is None  # the ONNX session is rebuilt, the graph travels in the bundle
    fresh = Encoder(backend="onnx")
    again.encoder = fresh
    np.testing.assert_allclose(again.predict_proba(texts)[:, 1], p, atol=1e-5)
    # chunks made before the branch was registered (e.g. by the off-topic head) are encoded again, not misread
    bare = Encoder(backend="onnx").encode_chunks(norm)
    np.testing.assert_allclose(again.scores(texts, bare)["abusive"], p, atol=1e-5)


def test_branches_run_on_every_window_until_their_owner_is_gone(encoder):
    import gc

    class Probe:
        def __call__(self, layers, mask):
            return mask.sum(axis=1, keepdims=True).astype(np.float32)  # tokens per window, [CLS] and [SEP] included

    probe = Probe()
    encoder.branches["probe"] = probe
    chunks = encoder.encode_chunks(["two words", "word " * 300])
    assert chunks[0].branches["probe"].tolist() == [[4.0]]
    assert chunks[1].branches["probe"].shape == (len(chunks[1].ranges), 1)
    assert encoder.encode_chunks(["an article body"], branches=False)[0].branches == {}  # articles skip them
    del probe
    gc.collect()
    assert "probe" not in encoder.branches
    assert encoder.encode_chunks(["two words"])[0].branches == {}


def test_branch_needs_a_stacked_head():
    with pytest.raises(ValueError, match="embedding"):
        models.AbuseClassifier(embedding="fine-tuned").fit(["a", "b"], [0, 1])
