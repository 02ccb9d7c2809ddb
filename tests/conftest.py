"""Shared fixtures: `app` (fresh SQLite database, the real shipped bundle), `client`, `api_key`."""
import pytest

from service import create_app


@pytest.fixture(scope="session")
def bundle():
    """The shipped model bundle, loaded once per test session (loading takes seconds)."""
    import models
    return models.load_bundle()


@pytest.fixture
def app_config(tmp_path, bundle):
    return {"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path}/test.db", "SECRET_KEY": "test-secret",
            "BUNDLE_INSTANCE": bundle, "RATE_LIMIT": 0}


@pytest.fixture
def app(app_config):
    app = create_app(app_config)
    yield app
    app.extensions["db"]["engine"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def api_key(app):
    from service.auth import create_api_key
    with app.app_context():
        return create_api_key("test-site", "tests")
