"""The reasons registry (models.reasons): one declaration reaches the policy, the OpenAPI enum, the review
queue's filter and label defaults, the Perspective/Coral mappings and the export, with no other edit."""
import json

import pytest
from click.testing import CliRunner

import models
from models import reasons as registry
from review_helpers import add_held, add_user, login, review_config
from service import create_app
from service.cli import main
from service.review import actions


@pytest.fixture
def self_harm():
    reason = registry.register(registry.Reason("self_harm", registry.SCORE, "the self-harm head's score reached "
                                               "its threshold", label="abusive", coral_flag="COMMENT_DETECTED_TOXIC"))
    yield reason
    registry.unregister("self_harm")


def test_builtin_reasons_are_declared_once_with_their_labels():
    assert registry.score_heads() == ["abusive", "off_topic", "spam"]
    assert registry.labels_for(["spam"]) == {"abusive": False, "off_topic": True, "spam": True}   # spam implies it
    assert registry.labels_for(["abusive", "too_long"]) == {"abusive": True, "off_topic": False, "spam": False}
    assert not registry.get("article_unknown").holds and registry.get("reader_flag").holds
    with pytest.raises(ValueError):
        registry.register(registry.Reason("abusive", registry.RULE, "a different meaning under a taken name"))
    with pytest.raises(ValueError):
        registry.register(registry.Reason("x", registry.SCORE, "unknown label", label="nonsense"))


def test_a_new_reason_holds_through_the_one_decision_function(self_harm):
    scores = {"abusive": 0.1, "off_topic": 0.1, "spam": 0.1, "self_harm": 0.8}
    limits = {"abusive": 0.5, "off_topic": 0.5, "spam": 0.5, "self_harm": 0.6}
    assert models.decide(scores, limits).to_dict() == {"decision": "hold", "reasons": ["self_harm"]}
    assert models.decide({**scores, "self_harm": 0.2}, limits).decision == "publish"
    # a threshold for it with no score for it: fail closed
    assert models.decide({k: v for k, v in scores.items() if k != "self_harm"}, limits).reasons == ["model_error"]


def test_a_new_reason_reaches_openapi_queue_filter_labels_and_export(tmp_path, self_harm, monkeypatch):
    app = create_app(review_config(tmp_path))
    client = app.test_client()
    enum = client.get("/openapi.json").get_json()["components"]["schemas"]["ModerateResult"]["properties"][
        "reasons"]["items"]["enum"]
    assert "self_harm" in enum and enum == registry.names()

    add_user(app, "mod")
    login(client, "mod")
    (pk,) = add_held(app, text="a comment held for the new reason", reasons=("self_harm",))
    page = client.get("/review/?reason=self_harm").get_data(as_text=True)
    assert '<option value="self_harm" selected>' in page and "a comment held for the new reason" in page

    with app.app_context():
        from service.db import db_session
        comment = actions.record_decision(db_session(), app.config, pk, "reject", user=None)
        assert (comment.status, actions.default_labels(comment, "reject")) == \
            ("rejected", {"abusive": True, "off_topic": False, "spam": False})
    app.extensions["db"]["engine"].dispose()
    monkeypatch.setenv("MODERATION_DATABASE_URL", app.config["DATABASE_URL"])
    result = CliRunner().invoke(main, ["export", "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    (row,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert row["reasons"] == "self_harm" and row["abusive"] == 1 and row["off_topic"] == 0


def test_coral_flag_and_perspective_attribute_come_from_the_registry(self_harm):
    from service.coral import _hold_answer
    from service.perspective import attribute_label, attributes
    assert _hold_answer(["self_harm", "abusive"], "flag") == {
        "actions": [{"actionType": "FLAG", "reason": "COMMENT_DETECTED_TOXIC"}]}
    assert _hold_answer(["spam"], "flag")["actions"] == [{"actionType": "FLAG", "reason": "COMMENT_DETECTED_SPAM"}]
    assert attributes()["TOXICITY"] == "abusive" and attribute_label("SPAM") == "spam"
    assert attribute_label("INSULT") == "abusive"


def test_a_bundle_declares_its_heads_in_its_metadata(tmp_path):
    from tiny_data import KeywordBundle  # noqa: F401  (the fake bundle needs no registry entry)
    meta = {"heads": {"toxicity_v2": {"label": "abusive", "description": "a head from a newer bundle"}}}
    try:
        registry.declare_heads(meta["heads"])
        assert registry.get("toxicity_v2").kind == registry.SCORE
        assert registry.labels_for(["toxicity_v2"])["abusive"]
    finally:
        registry.unregister("toxicity_v2")
