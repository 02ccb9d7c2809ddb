"""`moderation serve` loads the bundle before forking its workers; each worker then uses that copy."""
import gc

from service import create_app, moderation
from tiny_data import KeywordBundle


def test_a_worker_uses_the_preloaded_bundle_and_warms_it_up(tmp_path, monkeypatch):
    loaded = []
    monkeypatch.setattr(moderation.models, "load_bundle", lambda path=None: loaded.append(path) or KeywordBundle())
    moderation.preload("bundles/x")
    gc.unfreeze()
    assert loaded == ["bundles/x"]
    bundle = moderation._preloaded["bundles/x"]
    try:
        app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path}/t.db", "SECRET_KEY": "t",
                          "BUNDLE": "bundles/x", "LOAD_BUNDLE_AT_START": True})
        assert app.extensions["moderation"]["bundle"] is bundle  # not loaded a second time
        assert loaded == ["bundles/x"] and bundle.batches == [2]  # warmed up in the worker
        assert "bundles/x" not in moderation._preloaded
        app.extensions["db"]["engine"].dispose()
    finally:
        moderation._cache.pop("bundles/x", None)
        moderation._preloaded.pop("bundles/x", None)
