"""Retraining from moderators' decisions: decisions stored by the service -> `moderation export` ->
`moderation train --labelled ... --no-public` -> the bundle loads (library and service) and ranks held-out
abusive comments above clean ones; bad export rows stop training with their line numbers."""
import hashlib
import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sqlalchemy import select
from threadpoolctl import threadpool_limits

import models
from models.offtopic import pairs
from review_helpers import add_held, add_user, review_config
from service import create_app
from service.cli import main
from service.db import db_session
from service.review import actions
from service.review.tables import User

RUDE = ["you stupid idiot {i}", "shut up moron {i}", "what an idiot you are {i}", "moron, total idiot {i}"]
KIND = ["thanks for the report on the council bridge {i}", "the council vote on the bridge was close {i}",
        "good article about the bridge {i}", "the bridge will help traffic in town {i}"]
SPAM = ["buy cheap watches online at www.watchy.example {i}", "visit my channel for free bitcoin {i}"]
ARTICLE = {"title": "Council votes on the new bridge", "body": "The council voted 7-2 for the bridge."}


@pytest.fixture
def app_config(tmp_path):
    return review_config(tmp_path)


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny fits: OpenMP threads on a shared 2-core machine only wait for each other."""
    with threadpool_limits(limits=1):
        yield


def decide_all(app, templates, action, n=5, **labels):
    with app.app_context():
        user = db_session().scalars(select(User)).first()
    for template in templates:
        for pk in add_held(app, n, text=template, reasons=("abusive",)):
            with app.app_context():
                actions.record_decision(db_session(), app.config, pk, action, user=user, **labels)


def cli(*args):
    result = CliRunner().invoke(main, list(args))
    return result


@pytest.fixture
def exports(app, app_config, monkeypatch, tmp_path):
    """Moderators' decisions on 50 comments (20 abusive, 10 spam = off-topic), exported as JSONL and CSV."""
    add_user(app, "mia")
    decide_all(app, RUDE, "reject")
    decide_all(app, KIND, "approve")
    decide_all(app, SPAM, "reject", abusive=False, off_topic=True)
    app.extensions["db"]["engine"].dispose()
    monkeypatch.setenv("MODERATION_DATABASE_URL", app_config["DATABASE_URL"])
    files = {}
    for fmt in ("jsonl", "csv"):
        files[fmt] = tmp_path / f"export.{fmt}"
        result = cli("export", "--format", fmt, "-o", str(files[fmt]))
        assert result.exit_code == 0, result.output
        assert "exported 50 labelled comment(s)" in result.output
    return files


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_train_load_score_round_trip(exports, tmp_path, fmt):
    out = tmp_path / "bundle"
    result = cli("train", "--labelled", str(exports[fmt]), "--no-public", "--quick",
                 "--output", str(out), "--version", "test-rt")
    assert result.exit_code == 0, result.output
    bundle = models.load_bundle(out)
    assert bundle.version == "test-rt"
    # held-out comments: none of these texts was in the export
    abusive = ["you idiot, shut up", "what a stupid moron", "total idiot"]
    clean = ["thanks, the bridge vote report was good", "good report on the council vote", "the bridge is close to town"]
    a = [s.abusive for s in bundle.score_many([(t, ARTICLE) for t in abusive])]
    c = [s.abusive for s in bundle.score_many([(t, ARTICLE) for t in clean])]
    assert min(a) > max(c), (a, c)
    assert min(a) > bundle.thresholds["abusive"] > max(c)
    spam, on_topic = bundle.score_many([("buy cheap watches online at www.cheap.example", ARTICLE),
                                        ("the council vote on the bridge", ARTICLE)])
    assert spam.off_topic > on_topic.off_topic

    # what went in is recorded: path, rows and the file's sha256, in the metadata and the model card
    meta = json.loads((out / "metadata.json").read_text())
    digest = hashlib.sha256(exports[fmt].read_bytes()).hexdigest()
    assert meta["public_data"] is False
    cv = meta["metrics"]["cross_validated"]   # folds by article: one article here, so stratified folds
    assert cv["abusive_roc_auc_labelled_cv3"] > 0.9 and cv["off_topic_roc_auc_labelled_cv3"] > 0.8, cv
    assert meta["labelled_exports"] == [{"path": str(exports[fmt]), "rows": 50, "sha256": digest, "abusive": 20,
                                         "off_topic": 10, "off_topic_labelled": 50}]
    card = (out / "MODEL_CARD.md").read_text()
    assert digest in card and "labelled exports alone" in card


def test_service_loads_the_retrained_bundle(exports, tmp_path, monkeypatch):
    out = tmp_path / "bundle"
    assert cli("train", "--labelled", str(exports["jsonl"]), "--no-public", "--quick", "--output", str(out),
               "--version", "site-1").exit_code == 0
    monkeypatch.setenv("MODERATION_BUNDLE", str(out))
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path}/svc.db", "SECRET_KEY": "x",
                      "RATE_LIMIT": 0})
    with app.app_context():
        from service.auth import create_api_key
        key = create_api_key("test-site", "tests")
    response = app.test_client().post("/v1/moderate", headers={"X-API-Key": key},
                                      json={"comment": {"id": "r1", "text": "you stupid moron"},
                                            "article": {"id": "a1", **ARTICLE}})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["model_version"] == "site-1" and body["decision"] == "hold" and "abusive" in body["reasons"]
    app.extensions["db"]["engine"].dispose()


def test_bad_rows_stop_training_with_line_numbers(tmp_path):
    export = tmp_path / "bad.jsonl"
    rows = [{"text": f"fine comment {i}", "abusive": i % 2} for i in range(12)]
    rows[2]["abusive"] = 2
    rows[6]["text"] = "   "
    export.write_text("\n".join(json.dumps(r) for r in rows) + "\n{not json\n")
    out = tmp_path / "bundle"
    result = cli("train", "--labelled", str(export), "--no-public", "--quick", "--output", str(out))
    assert result.exit_code != 0
    assert "3 bad row(s)" in result.stderr
    assert "line 3: abusive must be 0 or 1, got 2" in result.stderr
    assert "line 7: text is missing or empty" in result.stderr
    assert "line 13: not valid JSON" in result.stderr
    assert not out.exists()


def test_no_public_needs_labels_of_both_classes(tmp_path):
    export = tmp_path / "few.csv"
    export.write_text("text,abusive,off_topic,article_title\n" +
                      "".join(f"comment {i},{int(i < 2)},0,Title\n" for i in range(30)))
    result = cli("train", "--labelled", str(export), "--no-public", "--quick", "--output", str(tmp_path / "b"))
    assert result.exit_code != 0 and "at least 5 labelled rows of each class (found 2 positive, 28 negative)" in result.stderr
    assert cli("train", "--no-public", "--quick").exit_code == 2   # usage error: nothing to train on


def test_offtopic_without_embeddings_fits_when_feature_columns_are_all_missing():
    """No embeddings and (almost) no named entities: whole feature columns are NaN, or known in only a few rows
    (which an early-stopping split can leave all-NaN). Gradient-boosted trees cannot bin an all-NaN column
    (scikit-learn: 'window shape cannot be larger than input array shape') and cannot split on one with fewer
    known values than a leaf needs, so both are ignored, at fit and predict alike."""
    rng = np.random.default_rng(0)
    on = [f"the bridge vote was {w}" for w in rng.choice(["close", "fair", "late", "good", "odd"], 20)]
    on[:2] = ["and Smith says the bridge vote was close", "but Smith says the bridge vote was late"]
    off = [f"my cat likes {w} food" for w in rng.choice(["wet", "dry", "fish", "cheap", "new"], 20)]
    comments = on + off
    articles = [ARTICLE] * 40
    y = np.r_[np.zeros(20), np.ones(20)].astype(int)
    model = models.OffTopicClassifier(use_embeddings=False, max_iter=50, min_samples_leaf=3).fit(pairs(comments, articles), y)
    X = model.features(pairs(comments, articles))
    col = {name: i for i, name in enumerate(model.feature_names)}
    assert np.isnan(X[:, col["cos_title"]]).all() and (~np.isnan(X[:, col["entity_overlap"]])).sum() == 2
    assert model.dead_[col["cos_title"]] and model.dead_[col["entity_overlap"]] and not model.dead_[col["tfidf_cos"]]
    p = model.predict_proba(pairs(["the vote on the bridge was late", "my cat likes fish food", "Smith has a cat"],
                                  [ARTICLE, ARTICLE, None]))[:, 1]
    assert np.isfinite(p).all() and p[1] > p[0]


@pytest.mark.model
def test_models_list_promote_rollback(exports, tmp_path, monkeypatch):
    import models.bundle
    bundles = tmp_path / "bundles"
    monkeypatch.setattr(models.bundle, "BUNDLES", bundles)
    monkeypatch.setattr(models.bundle, "DEFAULT_POINTER", bundles / "current.txt")
    for version in ("site-1", "site-2"):
        result = cli("train", "--labelled", str(exports["jsonl"]), "--no-public", "--quick", "--version", version)
        assert result.exit_code == 0, result.output
    assert models.load_bundle().version == "site-2"   # no pointer yet: the newest folder

    # equal bundles (same data): the gate, on the newest quarter of the export, lets it through
    result = cli("models", "promote", "site-1", "--no-public", "--labelled", str(exports["jsonl"]))
    assert result.exit_code == 0, result.output
    assert (bundles / "current.txt").read_text() == "site-1\n" and models.load_bundle().version == "site-1"
    listing = cli("models", "list").output
    rows = {line[2:].split()[0]: line for line in listing.splitlines() if line.startswith(("* ", "  site"))}
    assert rows["site-1"].startswith("* ") and rows["site-2"].startswith("  ")
    assert " 50 " in rows["site-1"] and "labelled-only quick" in rows["site-1"]
    assert "abuse:labelled_cv3=" in rows["site-1"] and "topic:labelled_cv3=" in rows["site-1"]
    assert "rollback goes back to: site-2" in listing

    # a bundle that does not load, or no bundle at all, is refused and the default stays
    broken = bundles / "broken"
    broken.mkdir()
    (broken / "metadata.json").write_text(json.dumps({"version": "broken", "format_version": 99}))
    for bad in ("broken", "nope", "../bundles/site-2"):
        result = cli("models", "promote", bad)
        assert result.exit_code == 1 and ("not made the default" in result.stderr or "no bundle" in result.stderr)
    assert (bundles / "current.txt").read_text() == "site-1\n"

    # train --set-default promotes through the same history
    result = cli("train", "--labelled", str(exports["csv"]), "--no-public", "--quick", "--version", "site-3",
                 "--set-default")
    assert result.exit_code == 0, result.output
    assert models.load_bundle().version == "site-3"
    assert cli("models", "rollback").exit_code == 0 and models.load_bundle().version == "site-1"
    assert cli("models", "rollback").exit_code == 0 and models.load_bundle().version == "site-2"
    result = cli("models", "rollback")
    assert result.exit_code == 1 and "nothing to roll back to" in result.stderr
    assert models.load_bundle().version == "site-2"


def test_openapi_documents_feedback_and_export(app, client):
    doc = client.get("/openapi.json").get_json()
    served = {(r.rule, m) for r in app.url_map.iter_rules() for m in r.methods - {"HEAD", "OPTIONS"}
              if r.endpoint.startswith("review_api.")}
    assert served == {("/v1/feedback", "POST"), ("/v1/export", "GET")}
    for path, method in served:
        assert method.lower() in doc["paths"][path]
    schemas = doc["components"]["schemas"]
    assert schemas["FeedbackRequest"]["required"] == ["comment_id", "type"]
    assert set(schemas["LabelledRow"]["properties"]) == {"id", "text", "article_id", "article_title",
                                                          "article_body", "abusive", "off_topic", "spam", "reasons"}
    refs = [op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")
            for ops in doc["paths"].values() for op in ops.values()]
    assert all(ref.split("/")[-1] in schemas for ref in refs if ref)   # every $ref resolves
    page = client.get("/docs").get_data(as_text=True)
    assert "POST /v1/feedback" in page and "GET /v1/export" in page


def test_openapi_feedback_example_is_accepted(app, client, api_key):
    example = client.get("/openapi.json").get_json()["components"]["schemas"]["FeedbackRequest"]["example"]
    add_held(app, 1)
    response = client.post("/v1/feedback", headers={"X-API-Key": api_key}, json=example)
    assert response.status_code == 200 and response.get_json()["status"] == "rejected"


def test_which_labelled_rows_teach_which_head(tmp_path):
    """Every row teaches the abuse head; only rows with an off_topic label and an article teach the topic head."""
    from training.train import labelled_abuse_rows, labelled_topic_rows, load_labelled
    export = tmp_path / "mixed.csv"
    export.write_text("text,abusive,off_topic,article_title,article_body\n"
                      "idiot,1,0,Bridge vote,\n"          # both heads
                      "nice work,0,,Bridge vote,\n"       # off_topic not labelled: abuse only
                      "buy watches,0,1,,\n"               # no article: abuse only
                      "first!,0,1,,The council voted.\n")  # body only counts as an article
    lab, files = load_labelled([export])
    abuse, topic = labelled_abuse_rows(lab), labelled_topic_rows(lab)
    assert list(abuse.label) == [1, 0, 0, 0] and set(abuse.source) == {"labelled:mixed.csv"}
    assert np.isnan(abuse.insult[0]) and (abuse.insult[1:] == 0).all()   # not abusive = none of the types
    assert list(topic.comment) == ["idiot", "first!"] and list(topic.label) == [0, 1]
    assert files[0]["rows"] == 4 and files[0]["off_topic_labelled"] == 3 and files[0]["off_topic"] == 2


def test_which_labelled_rows_teach_the_spam_head(tmp_path):
    """spam = 1/0 teaches the spam head; without a spam label, a comment labelled on-topic is no spam."""
    from training.train import labelled_spam_rows, load_labelled
    export = tmp_path / "mixed.csv"
    export.write_text("text,abusive,off_topic,spam\n"
                      "buy watches,0,1,1\n"      # spam
                      "great piece,0,0,0\n"      # not spam
                      "what about trains,0,1,0\n"  # off-topic, not spam
                      "thanks,0,0,\n"            # on-topic: not spam
                      "first!,0,1,\n"            # off-topic, spam unknown: left out
                      "idiot,1,,\n")             # neither known: left out
    lab, _ = load_labelled([export])
    rows = labelled_spam_rows(lab)
    assert list(rows.text) == ["buy watches", "great piece", "what about trains", "thanks"]
    assert list(rows.label) == [1, 0, 0, 0] and set(rows.source) == {"labelled:mixed.csv"}


def test_site_spam_labels_raise_that_phrases_spam_score(tmp_path):
    """The spam head learns a site's spam from its labelled export (the public spam sets never saw the phrase)."""
    from tiny_data import make_tiny_data
    from training.train import CAPS, fit_spam_head, load_labelled
    root = make_tiny_data(tmp_path / "data")
    ham = pd.DataFrame({"text": [f"the council budget debate, part {i}" for i in range(20)], "label": 0,
                        "source": "c3"})

    def export(name, phrase_label):
        rows = [{"text": f"check out my channel and subscribe {i}", "abusive": 0, "off_topic": 1, "spam": 1}
                for i in range(6)]
        rows += [{"text": f"the bridge vote was close, point {i}", "abusive": 0, "off_topic": 0, "spam": 0}
                 for i in range(12)]
        rows += [{"text": f"visit kwikloans dot biz for a fast loan {i}", "abusive": 0, "off_topic": 1,
                  **phrase_label} for i in range(8)]
        path = tmp_path / name
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        return load_labelled([path])[0]

    probe = ["kwikloans dot biz is the answer to your bills"]
    before = fit_spam_head(root, CAPS["quick"], 0, ham, export("old.jsonl", {})).model.predict_proba(probe)[0, 1]
    after = fit_spam_head(root, CAPS["quick"], 0, ham, export("new.jsonl", {"spam": 1})).model.predict_proba(probe)[0, 1]
    assert after > 0.5 > before, (before, after)
