"""The sentence encoder: ONNX Runtime and torch give the same embeddings; a broken ONNX graph falls back."""
import numpy as np
import pytest

from models import encoder as E

pytestmark = pytest.mark.model  # trains or runs the real sentence encoder

TEXTS = ["Great reporting, more of this please.", "Ünïcödé café 😀 l33t sp34k", "word " * 400, "x"]


@pytest.fixture(scope="module")
def torch_encoder():
    return E.Encoder(backend="torch")


def test_onnx_matches_torch_including_windowed_long_text(torch_encoder):
    onnx = E.Encoder(backend="onnx")
    assert onnx.backend == "onnx" and onnx.model is None  # torch weights are not kept
    a, b = torch_encoder.encode_chunks(TEXTS), onnx.encode_chunks(TEXTS)
    assert len(b[2].ranges) > 1  # the long text was windowed, not truncated
    for x, y in zip(a, b):
        assert x.ranges == y.ranges
        assert np.abs(x.vectors - y.vectors).max() < E.MAX_EXPORT_DIFF
        assert np.abs(x.features - y.features).max() < E.MAX_EXPORT_DIFF


def test_abuse_features_are_other_layers_than_the_sentence_embedding(torch_encoder):
    chunks = torch_encoder.encode_chunks(TEXTS)
    feats = torch_encoder.encode_features(TEXTS)
    assert feats.shape == (len(TEXTS), 2 * E.DIM)
    for c in chunks:
        assert c.features.shape == (len(c.ranges), 2 * E.DIM)
        np.testing.assert_allclose(np.linalg.norm(c.features.reshape(len(c.ranges), 2, E.DIM), axis=2), 1, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(feats.reshape(len(TEXTS), 2, E.DIM), axis=2), 1, atol=1e-5)
    sentence = torch_encoder.encode(TEXTS)
    # neither half is the sentence embedding: the mean half averages every layer, the other is a max pool
    for half in (feats[:, :E.DIM], feats[:, E.DIM:]):
        assert np.abs(half - sentence).max() > 0.05
    # the max half follows the strongest token: adding an insult to a long clean text moves it more than the mean
    base, insult = torch_encoder.encode_features(["nice weather " * 30, "nice weather " * 30 + "idiot"])
    assert np.linalg.norm(base[E.DIM:] - insult[E.DIM:]) > np.linalg.norm(base[:E.DIM] - insult[:E.DIM])


def test_chunks_read_back_from_storage_say_they_lack_features():
    c = E.Chunks(np.ones((1, E.DIM), np.float32), [(0, 3)])
    with pytest.raises(ValueError, match="no abuse features"):
        c.feature_mean


def test_broken_onnx_file_falls_back_to_torch_or_raises_when_asked_for(tmp_path, monkeypatch, torch_encoder):
    monkeypatch.setenv("MODERATION_CACHE_DIR", str(tmp_path))
    path = E._onnx_file(torch_encoder.model_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not an onnx graph")
    auto = E.Encoder(backend="auto")
    assert auto.backend == "torch"
    np.testing.assert_allclose(auto.encode(TEXTS[:1]), torch_encoder.encode(TEXTS[:1]), atol=1e-6)
    with pytest.raises(Exception):
        E.Encoder(backend="onnx")


def test_export_is_checked_once_then_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("MODERATION_CACHE_DIR", str(tmp_path))
    first = E.Encoder(backend="onnx")
    marker = E._onnx_file(first.model_path).with_suffix(".checked")
    assert marker.exists() and "difference" in marker.read_text()
    monkeypatch.setattr(E.Encoder, "_export", lambda self, path: pytest.fail("exported twice"))
    monkeypatch.setattr(E.Encoder, "_load_torch", lambda self: pytest.fail("checked twice"))
    again = E.Encoder(backend="onnx")
    np.testing.assert_allclose(again.encode(TEXTS), first.encode(TEXTS), atol=1e-6)


def test_unknown_backend_is_an_error():
    with pytest.raises(ValueError, match="backend"):
        E.Encoder(backend="tensorflow")


def test_prepare_onnx_exports_in_a_child_process_once(tmp_path, monkeypatch):
    import sys
    monkeypatch.setenv("MODERATION_CACHE_DIR", str(tmp_path))
    had_torch = "torch" in sys.modules
    assert E.prepare_onnx() is True
    assert list(tmp_path.glob("*.onnx")) and list(tmp_path.glob("*.checked"))
    assert ("torch" in sys.modules) == had_torch, "the export ran in a child process"
    monkeypatch.setattr("subprocess.run", lambda *a, **k: pytest.fail("exported again"))
    assert E.prepare_onnx() is True
    monkeypatch.setenv("MODERATION_ENCODER", "torch")
    assert E.prepare_onnx() is False


@pytest.mark.parametrize("setting, arena", [(None, True), ("false", False), ("off", False), ("true", True)])
def test_onnx_runtime_arena_follows_the_setting_and_gives_the_same_embeddings(monkeypatch, setting, arena):
    if setting is None:
        monkeypatch.delenv("MODERATION_ENCODER_ARENA", raising=False)
    else:
        monkeypatch.setenv("MODERATION_ENCODER_ARENA", setting)
    enc = E.Encoder(backend="onnx")
    assert enc._session.get_session_options().enable_cpu_mem_arena is arena
    monkeypatch.delenv("MODERATION_ENCODER_ARENA", raising=False)
    np.testing.assert_allclose(enc.encode(TEXTS), E.Encoder(backend="onnx").encode(TEXTS), atol=1e-6)
