"""Per-site operating points: the database policy over the TOML one (picked up without a restart), shadow mode,
what each stored decision records, `moderation calibrate`, the dashboard's shadow table, and the default bundle
swapped in by running workers after `models promote` / `rollback`."""
import datetime as dt
import json
import re

import numpy as np
import pytest
from click.testing import CliRunner
from sqlalchemy import select

import models.bundle
from review_helpers import add_user, database_url, login  # noqa: F401  (database_url: a fixture)
from service import calibrate, create_app, policy
from service.auth import create_api_key
from service.cli import main
from service.db import Comment, db_session
from service.review.tables import AuditEntry, Decision
from tiny_bundles import ARTICLE, KIND, RUDE, make_bundle
from tiny_data import KeywordBundle

SERVING = models.bundle.default_bundle_path().name   # the version calibrate filters on by default


def make_app(url, **extra):
    return create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "s", "RATE_LIMIT": 0,
                       "BUNDLE_INSTANCE": KeywordBundle(), "POLICY_CHECK_S": 0, "REVIEW_SECURE_COOKIES": False,
                       **extra})


@pytest.fixture
def url(tmp_path):
    return f"sqlite:///{tmp_path}/op.db"


def post(app, key, cid, text, section=None, site=None):
    article = {"id": "a1", **ARTICLE, **({"section": section} if section else {})}
    body = {"comment": {"id": cid, "text": text}, "article": article, **({"site": site} if site else {})}
    response = app.test_client().post("/v1/moderate", headers={"X-API-Key": key}, json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def stored(app, site, cid):
    with app.app_context():
        return db_session().scalar(select(Comment).where(Comment.site == site, Comment.comment_id == cid))


def test_database_policy_overrides_toml_per_site_and_section_without_restart(database_url):  # noqa: F811
    # TOML: site s1 lets KeywordBundle's 0.9 abuse score through
    app = make_app(database_url, POLICY={"sites": {"s1": {"abusive": 0.95}}})
    other = make_app(database_url, POLICY={"sites": {"s1": {"abusive": 0.95}}})   # a second worker
    with app.app_context():
        key = create_api_key("s1", "t")
    assert post(app, key, "c1", "you idiot, the bridge")["decision"] == "publish"
    row = stored(app, "s1", "c1")
    assert row.thresholds == {"abusive": 0.95, "off_topic": 0.5, "spam": 0.5} and row.model_version == "kw-1"
    assert row.mode == "enforce" and row.would_decision == "publish"

    with other.app_context():   # e.g. `moderation policy set`, from another process
        policy.change(db_session(), site="s1", thresholds={"abusive": 0.5}, who="test")
        policy.change(db_session(), site="s1", section="sport", thresholds={"abusive": 0.99}, who="test")
    body = post(app, key, "c2", "you idiot, the bridge")
    assert body["decision"] == "hold" and body["reasons"] == ["abusive"]
    assert stored(app, "s1", "c2").thresholds["abusive"] == 0.5
    assert post(app, key, "c3", "you idiot, the bridge", section="sport")["decision"] == "publish"
    assert stored(app, "s1", "c3").thresholds["abusive"] == 0.99
    with app.app_context():
        audit = db_session().scalars(select(AuditEntry).where(AuditEntry.action == "policy_change")).all()
    assert [a.details["after"]["thresholds"]["abusive"] for a in audit] == [0.5, 0.99]
    assert audit[0].site == "s1" and audit[0].details["before"] is None
    for a in (app, other):
        a.extensions["db"]["engine"].dispose()


def test_policy_is_read_again_only_every_few_seconds(url):
    app = make_app(url, POLICY_CHECK_S=3600)
    with app.app_context():
        key = create_api_key("s1", "t")
    assert post(app, key, "c1", "you idiot, the bridge")["decision"] == "hold"
    with app.app_context():
        policy.change(db_session(), site="s1", thresholds={"abusive": 0.95}, who="test")
    assert post(app, key, "c2", "you idiot, the bridge")["decision"] == "hold"       # within the check interval: cached
    app.extensions["policy"]["checked_at"] = -1e9                          # the interval has passed
    assert post(app, key, "c3", "you idiot, the bridge")["decision"] == "publish"


def test_shadow_mode_publishes_and_records_the_would_be_decision(url):
    app = make_app(url, POLICY={"sites": {"s2": {"mode": "shadow"}}, "sections": {"opinion": {"mode": "shadow"}}})
    with app.app_context():
        k2, k3 = create_api_key("s2", "t"), create_api_key("s3", "t")
    body = post(app, k2, "c1", "you idiot, the bridge")
    assert body["decision"] == "publish" and body["reasons"] == []
    assert body["shadow"] == {"decision": "hold", "reasons": ["abusive"]} and "review_id" not in body
    row = stored(app, "s2", "c1")
    assert (row.decision, row.status, row.would_decision, row.mode) == ("publish", "published", "hold", "shadow")
    assert row.reasons == ["abusive"] and row.scores["abusive"] == 0.9
    assert post(app, k2, "c1", "you idiot, the bridge") == body                    # idempotent: the stored answer again
    assert post(app, k3, "c1", "you idiot, the bridge")["decision"] == "hold"      # another site enforces
    assert post(app, k3, "c2", "you idiot, the bridge", section="opinion")["decision"] == "publish"   # a shadow section

    with app.app_context():   # onboarding done: the database policy switches holds on
        policy.change(db_session(), site="s2", mode="enforce", who="test")
    body = post(app, k2, "c2", "you idiot, the bridge")
    assert body["decision"] == "hold" and "shadow" not in body
    assert stored(app, "s2", "c2").mode == "enforce"
    with app.app_context():
        with pytest.raises(ValueError, match="mode must be one of"):
            policy.change(db_session(), site="s2", mode="off", who="test")
        with pytest.raises(ValueError, match="from 0 to 1"):
            policy.change(db_session(), site="s2", thresholds={"abusive": 2}, who="test")
    app.extensions["db"]["engine"].dispose()


def test_an_unknown_mode_in_the_toml_policy_enforces():
    assert policy.mode_for({"sites": {"s": {"mode": "shadw"}}}, "s", None) == "enforce"
    assert policy.mode_for({"mode": "shadow", "sites": {"s": {"mode": "enforce"}}}, "s", None) == "enforce"
    assert policy.mode_for({"mode": "shadow"}, "t", "x") == "shadow"


def _fill(app, site, n, rng, model_version=SERVING, labels=0, mode="shadow"):
    """n stored comments with uniform scores; the first `labels` get a moderator label (abusive when > 0.8)."""
    with app.app_context():
        session = db_session()
        for i in range(n):
            s = rng.uniform(size=3)
            session.add(Comment(site=site, comment_id=f"{model_version}-{i}", text=f"t{i}", decision="publish",
                                reasons=[], scores={"abusive": s[0], "off_topic": s[1], "spam": s[2]},
                                model_version=model_version, status="published", mode=mode))
        session.flush()
        rows = session.scalars(select(Comment).where(Comment.site == site, Comment.model_version == model_version)
                               .order_by(Comment.id).limit(labels)).all()
        for row in rows:
            session.add(Decision(comment_pk=row.id, source="moderator", action="approve",
                                 abusive=row.scores["abusive"] > 0.8, off_topic=False))
        session.commit()


def test_calibrate_meets_the_budget_and_apply_puts_it_in_force(database_url, monkeypatch):  # noqa: F811
    url = database_url
    app = make_app(url)
    rng = np.random.default_rng(0)
    _fill(app, "cal", 2000, rng, labels=400)
    _fill(app, "cal", 300, rng, model_version="old-model")   # scored by another model: left out
    monkeypatch.setenv("MODERATION_DATABASE_URL", url)
    runner = CliRunner()
    result = runner.invoke(main, ["calibrate", "--site", "cal", "--hold-budget", "0.05"])
    assert result.exit_code == 0, result.output
    assert "2000 scored comment(s)" in result.output and "400 with a moderator label" in result.output
    assert "dry run" in result.output
    with app.app_context():
        assert policy.in_force(db_session(), "cal") is None

    result = runner.invoke(main, ["calibrate", "--site", "cal", "--hold-budget", "0.05", "--reason-budget", "0.03",
                                  "--apply"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        row = policy.in_force(db_session(), "cal")
        data = calibrate.load(db_session(), "cal", model_version=SERVING)
        audit = db_session().scalars(select(AuditEntry).where(AuditEntry.action == "policy_change")).one()
    assert row.model_version == SERVING and audit.details["hold_budget"] == 0.05 and audit.username.startswith("calibrate")
    rate = calibrate.held(data, row.thresholds).mean()
    assert 0.045 <= rate <= 0.05, rate
    per_reason = (data.scores >= np.array([row.thresholds[r] for r in policy.TUNABLE])).mean(axis=0)
    assert (per_reason <= 0.03).all()
    # the labelled rows: abusive exactly when the score is > 0.8, so the new threshold catches them all above it
    assert f"{row.thresholds['abusive']:.4f}" in result.output

    # the running app decides with the new thresholds (a KeywordBundle 0.9 abuse score is above them)
    with app.app_context():
        key = create_api_key("cal", "t")
    post(app, key, "live-1", "you idiot, the bridge")
    assert stored(app, "cal", "live-1").thresholds == row.thresholds
    app.extensions["db"]["engine"].dispose()


def test_calibrate_never_lowers_a_threshold_and_counts_fixed_holds():
    scores = np.linspace(0, 1, 1000, endpoint=False)
    data = calibrate.Stored(np.c_[scores, scores[::-1], np.zeros(1000)], np.r_[np.ones(20, bool), np.zeros(980, bool)],
                            np.full(1000, np.nan), np.full(1000, np.nan))
    out = calibrate.fit(data, {"abusive": 0.5, "off_topic": 0.999, "spam": 0.5}, budget=0.05, reason_budget=0.03)
    assert out["off_topic"] == 0.999 and out["spam"] == 0.5            # already under budget: unchanged
    assert 0.04 < calibrate.held(data, out).mean() <= 0.05               # 2% fixed holds + abusive's share
    assert (data.scores[:, 0] >= out["abusive"]).mean() <= 0.03


def test_dashboard_shows_would_be_hold_rates_per_reason_per_day(url):
    app = make_app(url, POLICY={"sites": {"s2": {"mode": "shadow"}}})
    with app.app_context():
        key = create_api_key("s2", "t")
    for i, text in enumerate(["you idiot, the bridge", "good bridge", "the council vote", "fine bridge"]):
        post(app, key, f"c{i}", text)
    add_user(app, "boss", role="admin")
    client = app.test_client()
    login(client, "boss")
    page = client.get("/review/dashboard").get_data(as_text=True)
    assert "would-be hold rate per reason per day" in page
    today = dt.datetime.now(dt.timezone.utc).date().isoformat()
    table = page[page.index('<table class="shadow">'):]
    table = table[:table.index("</table>")]
    header = re.findall(r"<th>([^<]*)</th>", table)
    row = dict(zip(header, re.findall(r"<td>([^<]*)</td>", table)))
    assert row["day"] == today and row["site"] == "s2" and row["comments"] == "4"
    assert row["would hold"] == "25.0 %" and row["abusive"] == "25.0 %" and row["spam"] == "0.0 %"
    assert "reader_flag" not in header and "article_unknown" not in header   # never decide a new comment
    app.extensions["db"]["engine"].dispose()


def test_policy_cli_set_and_show(url, monkeypatch):
    app = make_app(url)
    monkeypatch.setenv("MODERATION_DATABASE_URL", url)
    runner = CliRunner()
    result = runner.invoke(main, ["policy", "set", "--site", "s9", "--mode", "shadow", "--threshold", "spam=0.9"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["policy", "show", "--site", "s9"])
    assert "mode=shadow" in result.output and "'spam': 0.9" in result.output
    assert runner.invoke(main, ["policy", "set", "--site", "s9", "--threshold", "rude=0.9"]).exit_code == 1
    assert runner.invoke(main, ["policy", "set", "--site", "s9"]).exit_code == 2
    app.extensions["db"]["engine"].dispose()


# -- hot swap ---------------------------------------------------------------------------------------------------

@pytest.fixture
def registry_dir(tmp_path, monkeypatch):
    folder = tmp_path / "bundles"
    monkeypatch.setattr(models.bundle, "BUNDLES", folder)
    monkeypatch.setattr(models.bundle, "DEFAULT_POINTER", folder / "current.txt")
    make_bundle(folder / "v1", "v1")
    # v2 learnt other words as abusive: its decisions differ on the same comments
    make_bundle(folder / "v2", "v2", rude=RUDE[:4] + ["the bridge is a disgrace"], kind=KIND)
    (folder / "current.txt").write_text("v1\n")
    return folder


TEXTS = ["you stupid idiot", "the bridge is a disgrace", "good article about the bridge", "shut up moron",
         "the council vote was fair", "what an idiot you are"]


def test_promote_and_rollback_swap_the_bundle_in_a_running_app(registry_dir, url, monkeypatch):
    monkeypatch.setattr("service.moderation._cache", {})
    app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "s", "RATE_LIMIT": 0,
                      "BUNDLE_CHECK_S": 0})
    with app.app_context():
        key = create_api_key("s1", "t")
    client = app.test_client()

    def answers(tag):
        out = []
        for i, text in enumerate(TEXTS):
            r = client.post("/v1/moderate", headers={"X-API-Key": key},
                            json={"comment": {"id": f"{tag}-{i}", "text": text}, "article": {"id": "a1", **ARTICLE}})
            assert r.status_code == 200
            out.append(r.get_json())
        return out

    def swapped():
        loader = app.extensions["moderation"].get("loader")
        if loader is not None:
            loader.join(60)

    before = answers("a")
    assert {b["model_version"] for b in before} == {"v1"}
    runner = CliRunner()
    result = runner.invoke(main, ["models", "promote", "v2", "--force", "--no-public", "--reason", "swap test"])
    assert result.exit_code == 0, result.output
    answers("b0")        # noticed: loaded beside v1 while v1 keeps answering
    swapped()
    after = answers("b")
    assert {b["model_version"] for b in after} == {"v2"}
    assert [b["decision"] for b in after] != [b["decision"] for b in before]

    assert runner.invoke(main, ["models", "rollback"]).exit_code == 0
    answers("c0")
    swapped()
    again = answers("c")
    strip = [{k: v for k, v in b.items() if k not in ("comment_id", "review_id")} for b in before]
    assert [{k: v for k, v in b.items() if k not in ("comment_id", "review_id")} for b in again] == strip
    with app.app_context():
        rows = db_session().scalars(select(Comment).where(Comment.comment_id.like("c-%"))).all()
    assert {r.model_version for r in rows} == {"v1"}
    app.extensions["db"]["engine"].dispose()


def test_a_bundle_that_does_not_load_is_not_swapped_in(registry_dir, url, monkeypatch):
    monkeypatch.setattr("service.moderation._cache", {})
    app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "s", "RATE_LIMIT": 0,
                      "BUNDLE_CHECK_S": 0})
    broken = registry_dir / "broken"
    broken.mkdir()
    (broken / "metadata.json").write_text(json.dumps({"version": "broken", "format_version": 1}))
    (registry_dir / "current.txt").write_text("broken\n")   # e.g. written by hand
    with app.app_context():
        key = create_api_key("s1", "t")
    client = app.test_client()
    r = client.post("/v1/moderate", headers={"X-API-Key": key}, json={"comment": {"id": "x", "text": "hello"}, "article": {"id": "a9"}})
    app.extensions["moderation"]["loader"].join(60)
    r = client.post("/v1/moderate", headers={"X-API-Key": key}, json={"comment": {"id": "y", "text": "hello"}, "article": {"id": "a9"}})
    assert r.status_code == 200 and r.get_json()["model_version"] == "v1"
    app.extensions["db"]["engine"].dispose()
