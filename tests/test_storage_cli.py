"""The `moderation db upgrade` and `moderation keys create|list|revoke` commands on a real database file."""
import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect, select

from service import create_app
from service.cli import main


@pytest.fixture
def runner(tmp_path, monkeypatch):
    monkeypatch.setenv("MODERATION_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    return CliRunner()


def test_db_upgrade_creates_the_schema(runner, tmp_path):
    result = runner.invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    tables = set(inspect(create_engine(f"sqlite:///{tmp_path}/cli.db")).get_table_names())
    assert {"comments", "articles", "api_keys", "rate_counters", "alembic_version"} <= tables


def test_keys_create_list_revoke(runner, tmp_path):
    created = runner.invoke(main, ["keys", "create", "example.org", "cms"])
    assert created.exit_code == 0, created.output
    raw = created.output.strip()
    assert raw.startswith("mod_") and len(raw) > 40

    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/cli.db", "LOAD_BUNDLE_AT_START": False,
                      "SECRET_KEY": "x", "TESTING": True})
    from service.auth import verify_api_key
    with app.app_context():
        assert verify_api_key(raw).site == "example.org"

    listed = runner.invoke(main, ["keys", "list"])
    assert listed.exit_code == 0 and "example.org" in listed.output and "active" in listed.output
    assert raw not in listed.output, "the secret part is never shown again"

    key_id = listed.output.split()[0]
    assert runner.invoke(main, ["keys", "revoke", key_id]).exit_code == 0
    assert "revoked" in runner.invoke(main, ["keys", "list"]).output
    with app.app_context():
        assert verify_api_key(raw) is None
    again = runner.invoke(main, ["keys", "revoke", key_id])
    assert again.exit_code != 0 and "no active key" in again.output
