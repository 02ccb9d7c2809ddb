"""One decision path: the same comments through /v1/moderate and `moderation score --config --site` get the
same decisions, reasons and scores (site and section policy, the database policy over it, shadow mode,
MAX_TEXT_CHARS and too_long included)."""
import json

import pytest
from click.testing import CliRunner

import models
from review_helpers import database_url  # noqa: F401  (a fixture: SQLite and PostgreSQL)
from service import create_app, policy
from service.auth import create_api_key
from service.cli import main
from service.db import db_session

CONFIG = """
max_text_chars = 80
[policy]
off_topic = 0.9
[policy.sites."strict.example"]
abusive = 0.05
[policy.sites."strict.example".sections.sport]
off_topic = 0.1
"""
ARTICLE = {"id": "a1", "title": "Council approves the new bridge budget",
           "body": "The council voted for the bridge budget after a long debate about costs."}
COMMENTS = [
    "The bridge budget looks sensible to me.",
    "You idiot, read the article before commenting.",
    "Completely unrelated: who won the match last night?",
    "The council should publish the costs of the bridge in full, line by line, before any vote happens again.",
    "Thanks for the article.",
]


def _lines(section):
    article = {**ARTICLE, **({"section": section} if section else {})}
    return [{"id": f"c{i}", "text": t, "article": article} for i, t in enumerate(COMMENTS)]


@pytest.mark.parametrize("site,section", [("strict.example", None), ("strict.example", "sport"),
                                          ("lenient.example", "sport")])
@pytest.mark.parametrize("which", ["fake", pytest.param("real", marks=pytest.mark.model)])
def test_api_and_batch_scoring_decide_alike(tmp_path, monkeypatch, request, which, site, section):
    from tiny_data import KeywordBundle
    bundle = KeywordBundle() if which == "fake" else request.getfixturevalue("real_bundle")
    config = tmp_path / "moderation.toml"
    config.write_text(CONFIG)
    monkeypatch.setenv("MODERATION_CONFIG", str(config))
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path}/t.db", "SECRET_KEY": "t",
                      "BUNDLE_INSTANCE": bundle, "RATE_LIMIT": 0})
    with app.app_context():
        key = create_api_key(site, "tests")
    client = app.test_client()
    lines = _lines(section)
    via_api = {}
    for line in lines:
        body = {"comment": {"id": line["id"], "text": line["text"]}, "article": line["article"]}
        r = client.post("/v1/moderate", json=body, headers={"X-API-Key": key})
        assert r.status_code == 200, r.get_data(as_text=True)
        via_api[line["id"]] = r.get_json()
    app.extensions["db"]["engine"].dispose()

    monkeypatch.setattr(models, "load_bundle", lambda path=None: bundle)
    data = "".join(json.dumps(x) + "\n" for x in lines)
    result = CliRunner().invoke(main, ["score", "-", "--config", str(config), "--site", site], input=data)
    assert result.exit_code == 0, result.output
    via_batch = {r["id"]: r for r in map(json.loads, result.stdout.splitlines())}

    for cid, api in via_api.items():
        batch = via_batch[cid]
        assert (batch["decision"], batch["reasons"], batch["scores"]) == \
            (api["decision"], api["reasons"], api["scores"]), cid
    reasons = {cid: r["reasons"] for cid, r in via_api.items()}
    assert "too_long" in reasons["c3"]           # 104 characters > max_text_chars = 80
    if which == "fake":
        if site == "strict.example":
            assert all("abusive" in r for r in reasons.values())  # the fake scores 0.1 or 0.9: >= 0.05 holds all
        off = section == "sport" and site == "strict.example"
        assert ("off_topic" in reasons["c2"]) == off  # 0.8 off-topic: held only under the 0.1 sport threshold


SHADOW_CONFIG = """
[policy.sites."onboarding.example"]
mode = "shadow"
"""


def test_score_decides_with_the_database_policy_calibrate_applied(tmp_path, monkeypatch, database_url):
    """A site onboards in shadow mode, `calibrate --apply` writes its thresholds into the database policy, holds
    are switched on: `moderation score` (given the same database) decides every comment as /v1/moderate does,
    and differently from the TOML policy alone."""
    from tiny_data import KeywordBundle
    bundle = KeywordBundle()
    config = tmp_path / "moderation.toml"
    config.write_text(SHADOW_CONFIG)
    monkeypatch.setenv("MODERATION_CONFIG", str(config))
    monkeypatch.setenv("MODERATION_DATABASE_URL", database_url)
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "BUNDLE_INSTANCE": bundle, "RATE_LIMIT": 0,
                      "POLICY_CHECK_S": 0})
    site = "onboarding.example"
    with app.app_context():
        key = create_api_key(site, "tests")
    client = app.test_client()
    # one comment in four is abusive (KeywordBundle: 0.9), the others 0.1: a 5% budget lifts the threshold over 0.9
    onboarding = [{"id": f"o{i}", "text": f"you idiot {i}, the bridge" if i % 4 == 0 else f"the bridge budget {i}",
                   "article": ARTICLE} for i in range(40)]

    def via_api(lines):
        out = {}
        for line in lines:
            r = client.post("/v1/moderate", json={"comment": {"id": line["id"], "text": line["text"]},
                                                   "article": line["article"]}, headers={"X-API-Key": key})
            assert r.status_code == 200, r.get_data(as_text=True)
            out[line["id"]] = r.get_json()
        return out

    def via_score(lines, *extra):
        monkeypatch.setattr(models, "load_bundle", lambda path=None: bundle)
        data = "".join(json.dumps(x) + "\n" for x in lines)
        result = CliRunner().invoke(main, ["score", "-", "--site", site, *extra], input=data)
        assert result.exit_code == 0, result.output
        return {r["id"]: r for r in map(json.loads, result.stdout.splitlines())}

    def same(api, batch):
        for cid, a in api.items():
            b = batch[cid]
            assert (b["decision"], b["reasons"], b["scores"], b.get("shadow")) == \
                (a["decision"], a["reasons"], a["scores"], a.get("shadow")), cid

    shadow = via_api(onboarding)
    assert all(r["decision"] == "publish" for r in shadow.values())
    assert sum(r["shadow"]["decision"] == "hold" for r in shadow.values()) == 10
    same(shadow, via_score(onboarding))

    result = CliRunner().invoke(main, ["calibrate", "--site", site, "--model-version", bundle.version,
                                       "--hold-budget", "0.05", "--min-comments", "40", "--apply"])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(main, ["policy", "set", "--site", site, "--mode", "enforce"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        applied = policy.in_force(db_session(), site)
    assert applied.mode == "enforce" and applied.thresholds["abusive"] > 0.9

    fresh = [{**line, "id": f"n{line['id']}"} for line in onboarding]
    api = via_api(fresh)
    assert all(r["decision"] == "publish" and "shadow" not in r for r in api.values())   # 0.9 < the new threshold
    same(api, via_score(fresh))
    same(api, via_score(fresh, "--database-url", database_url))
    # the TOML policy alone (another, empty database) would have held the abusive ones, in shadow
    empty = tmp_path / "empty.db"
    create_app({"TESTING": True, "SECRET_KEY": "t", "DATABASE_URL": f"sqlite:///{empty}",
                "LOAD_BUNDLE_AT_START": False}).extensions["db"]["engine"].dispose()
    toml_only = via_score(fresh, "--database-url", f"sqlite:///{empty}")
    assert sum(r.get("shadow", {}).get("decision") == "hold" for r in toml_only.values()) == 10
    app.extensions["db"]["engine"].dispose()


def test_score_refuses_a_database_it_cannot_read(tmp_path, monkeypatch):
    monkeypatch.setattr(models, "load_bundle", lambda path=None: pytest.fail("scored without its policy"))
    result = CliRunner().invoke(main, ["score", "-", "--database-url", f"sqlite:///{tmp_path}/nothing-here.db"],
                                input='{"id": "1", "text": "hello"}\n')
    assert result.exit_code == 1 and "could not be read" in result.stderr and "policy_versions" in result.stderr
