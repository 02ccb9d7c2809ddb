"""Training helpers: the embedding cache, threshold choice, caps, the model card, the CLI command."""
import numpy as np
import pytest
import pandas as pd
from click.testing import CliRunner

from models.encoder import Chunks, text_key
from training import embeddings, train as tr


def test_embedding_store_survives_a_restart(tmp_path):
    store = tr.EmbeddingStore(tmp_path / "emb.pkl")
    store[text_key("hello")] = Chunks(np.ones((2, 384), np.float32), [(0, 2), (3, 5)])
    store.save()
    again = tr.EmbeddingStore(tmp_path / "emb.pkl")
    assert again[text_key("hello")].ranges == [(0, 2), (3, 5)]
    assert again[text_key("hello")].vectors.shape == (2, 384)


def test_broken_cache_is_ignored_not_fatal(tmp_path):
    (tmp_path / "emb.pkl").write_bytes(b"not a pickle")
    assert len(tr.EmbeddingStore(tmp_path / "emb.pkl")) == 0


def test_precompute_skips_cached_texts(tmp_path, monkeypatch):
    store = tr.EmbeddingStore(tmp_path / "emb.pkl")
    store[text_key("cached")] = Chunks(np.zeros((1, 384), np.float32), [(0, 6)], np.zeros((1, 768), np.float32))
    store[text_key("old cache")] = Chunks(np.zeros((1, 384), np.float32), [(0, 9)])  # from before abuse features
    seen = []

    class FakeEncoder:
        branches = {}

        def encode_chunks(self, texts):
            seen.extend(texts)
            for t in texts:
                store[text_key(t)] = Chunks(np.zeros((1, 384), np.float32), [(0, len(t))],
                                            np.zeros((1, 768), np.float32))

    monkeypatch.setattr(embeddings, "get_encoder", lambda: FakeEncoder())
    embeddings.precompute(["cached", "new one", "new one", "old cache", "another"], store, "test")
    assert seen == ["new one", "old cache", "another"]
    assert (tmp_path / "emb.pkl").exists()


def test_best_threshold_separates_clean_scores():
    y = np.array([0] * 50 + [1] * 50)
    p = np.r_[np.linspace(0, 0.4, 50), np.linspace(0.6, 1, 50)]
    t = tr._best_threshold(y, p)
    assert 0.4 < t <= 0.6


def test_threshold_tolerance_takes_the_lowest_nearly_best_threshold():
    """Where F1 is flat, a tolerance moves the threshold down (more held), never to a clearly worse one."""
    rng = np.random.default_rng(0)
    y = rng.random(2000) < 0.1
    p = np.clip(0.25 * y + rng.random(2000) * 0.8, 0, 1)
    from sklearn.metrics import f1_score
    best = tr._best_threshold(y, p)
    loose = tr._best_threshold(y, p, tolerance=0.02)
    assert loose < best
    assert f1_score(y, p >= loose) >= f1_score(y, p >= best) - 0.02
    assert tr._best_threshold(y, p, tolerance=0.0) == best


def test_cap_limits_rows_per_source():
    df = pd.DataFrame({"source": ["a"] * 10 + ["b"] * 3, "x": range(13)})
    capped = tr._cap(df, "source", 4, seed=0)
    assert capped.source.value_counts().to_dict() == {"a": 4, "b": 3}


def test_model_card_lists_sources_licences_and_metrics(tmp_path):
    meta = {"version": "v1", "trained_at": "2026-01-01T00:00:00+00:00", "format_version": 1,
            "thresholds": {"abusive": 0.4, "off_topic": 0.7, "spam": 0.6}, "sub_scores": ["insult"],
            "sources": [{"name": "c3", "path": "abuse/c3", "licence": "CC BY-NC-SA 4.0", "label": "x >= 2"}],
            "metrics": {"held_out": {"abusive_roc_auc_olid": 0.91}}, "held_out": {"note": "OLID test"}}
    text = tr.write_model_card(tmp_path, meta).read_text()
    assert "CC BY-NC-SA 4.0" in text and "abusive_roc_auc_olid | 0.91" in text and "Known limits" in text
    assert "soft label" not in text
    soft = tr.write_model_card(tmp_path, {**meta, "abuse_soft_targets": ["c3"]}).read_text()
    assert "Trained towards the crowd's mean rating (a soft label, see the table below) for: c3." in soft


def test_train_command_is_registered():
    from service.cli import main
    result = CliRunner().invoke(main, ["train", "--help"])
    assert result.exit_code == 0 and "--quick" in result.output and "--data" in result.output


DATA = tr.DEFAULT_ROOT


@pytest.mark.skipif(not (DATA / "abuse").exists(), reason="public data sets not at ../shared/data")
@pytest.mark.model
def test_abuse_training_rows_never_include_held_out_texts_or_articles():
    from training.data import text_key
    train, calib, held = tr.abuse_splits(DATA, tr.CAPS["quick"])
    seen = set(train.text.map(text_key))
    assert not seen & set(held.text.map(text_key))
    assert not seen & set(calib.text.map(text_key))
    assert not set(train[train.source == "c3"].group) & set(held[held.source == "c3"].group)
    assert {"olid", "trac1_en", "ucc", "c3"} <= set(held.source)
    assert (train.source.value_counts() <= tr.CAPS["quick"]["abuse_per_source"]).all()
