"""Configuration precedence (defaults < TOML file < MODERATION_* env < dict) and the policy lookup."""
import pytest

from service import create_app
from models import thresholds_for
from service.config import DEFAULTS, load_config


def test_precedence(tmp_path):
    toml = tmp_path / "moderation.toml"
    toml.write_text('rate_limit = 10\nbatch_max_items = 7\nsecret_key = "from-file"\n'
                    '[policy]\nabusive = 0.6\n[policy.sites."example.org".sections.sport]\nabusive = 0.9\n')
    env = {"MODERATION_CONFIG": str(toml), "MODERATION_RATE_LIMIT": "20", "MODERATION_SECRET_KEY": "12345",
           "MODERATION_AUTO_MIGRATE": "false", "OTHER": "ignored"}
    config = load_config({"BATCH_MAX_ITEMS": 3}, environ=env)
    assert config["RATE_LIMIT"] == 20                  # env beats file
    assert config["BATCH_MAX_ITEMS"] == 3              # dict beats everything
    assert config["SECRET_KEY"] == "12345"             # secrets stay strings even when they look like numbers
    assert config["AUTO_MIGRATE"] is False
    assert config["MAX_TEXT_CHARS"] == DEFAULTS["MAX_TEXT_CHARS"]
    assert config["POLICY"]["sites"]["example.org"]["sections"]["sport"]["abusive"] == 0.9
    assert "OTHER" not in config


def test_thresholds_most_specific_wins():
    base = {"abusive": 0.5, "off_topic": 0.5, "spam": 0.5}
    policy = {"abusive": 0.6, "sections": {"sport": {"off_topic": 0.7}},
              "sites": {"a.org": {"spam": 0.2, "sections": {"sport": {"abusive": 0.9}}}}}
    assert thresholds_for(policy, base, "b.org", None) == {"abusive": 0.6, "off_topic": 0.5, "spam": 0.5}
    assert thresholds_for(policy, base, "b.org", "sport") == {"abusive": 0.6, "off_topic": 0.7, "spam": 0.5}
    assert thresholds_for(policy, base, "a.org", "sport") == {"abusive": 0.9, "off_topic": 0.7, "spam": 0.2}
    assert thresholds_for({}, base, "a.org", "news") == base


@pytest.mark.model   # the shipped bundle
def test_bundle_is_loaded_when_the_app_is_created(tmp_path):
    """Before the first request (gunicorn calls create_app once per worker)."""
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "SECRET_KEY": "x"})
    assert app.extensions["moderation"]["bundle"] is not None
    app.extensions["db"]["engine"].dispose()
