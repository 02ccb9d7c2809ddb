"""A comment in a language the bundle cannot score: held on /v1 unless the site's policy publishes it (with the
language_unscored note); published on the Coral path (Coral's behaviour when Perspective refuses a language)
unless the site's policy holds it."""
import hashlib
import hmac
import json

import pytest

from service import create_app
from service.auth import create_api_key
from tiny_data import KeywordBundle

GERMAN = "Das ist doch völliger Unsinn, du idiot."   # "idiot": the fake abuse head fires on it


class GermanAwareBundle(KeywordBundle):
    def _one(self, text, article):
        import models
        score = super()._one(text, article)
        lang = models.cues.language(text)
        score.language, score.language_supported = lang, lang == "en"
        return score


@pytest.fixture
def make(tmp_path):
    apps = []

    def build(policy):
        app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path}/t{len(apps)}.db",
                          "SECRET_KEY": "s", "RATE_LIMIT": 0, "BUNDLE_INSTANCE": GermanAwareBundle(),
                          "POLICY": policy,
                          "CORAL": {"sites": {"coral-site": {"site": "test-site", "secrets": ["sec"]}}}})
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.extensions["db"]["engine"].dispose()


def v1(app, text):
    with app.app_context():
        key = create_api_key("test-site", "t")
    return app.test_client().post("/v1/moderate", headers={"X-API-Key": key},
                                  json={"comment": {"id": "c1", "text": text}, "article": {"id": "a1"}}).get_json()


def coral(app, text):
    raw = json.dumps({"action": "NEW", "comment": {"body": text, "parentID": None},
                      "author": {"id": "u", "role": "COMMENTER"}, "story": {"id": "s", "url": "https://x/s"},
                      "site": {"id": "coral-site"}, "tenantID": "t", "tenantDomain": "x"}).encode()
    signature = "sha256=" + hmac.new(b"sec", raw, hashlib.sha256).hexdigest()
    return app.test_client().post("/coral/moderate", data=raw, headers={"Content-Type": "application/json",
                                                                          "X-Coral-Signature": signature})


def test_v1_holds_an_unscorable_language_by_default(make):
    out = v1(make({}), GERMAN)
    assert out["decision"] == "hold" and "unsupported_language" in out["reasons"]


def test_v1_publishes_it_with_a_note_when_the_site_says_so(make):
    out = v1(make({"sites": {"test-site": {"unsupported_language": "publish"}}}), GERMAN)
    assert (out["decision"], out["reasons"]) == ("publish", ["article_unknown", "language_unscored"])


def test_coral_publishes_it_by_default_and_holds_it_when_the_site_says_so(make):
    assert coral(make({}), GERMAN).status_code == 204
    r = coral(make({"sites": {"test-site": {"unsupported_language": "hold"}}}), GERMAN)
    assert r.status_code == 200 and r.get_json()["status"] == "SYSTEM_WITHHELD"


def test_english_is_judged_as_before_on_both_paths(make):
    app = make({"sites": {"test-site": {"unsupported_language": "publish"}}})
    assert v1(app, "You idiot.")["decision"] == "hold"
    assert coral(app, "You idiot, again.").get_json() == {
        "status": "SYSTEM_WITHHELD", "actions": [{"actionType": "FLAG", "reason": "COMMENT_DETECTED_TOXIC"}]}
