"""`moderation score`: JSONL in, JSONL out, streaming, bad lines reported, order kept."""
import io
import json

import pytest
from click.testing import CliRunner

import models
from tiny_data import KeywordBundle
from service import batch as scoring


def run(lines, bundle=None, batch_size=3):
    out = io.StringIO()
    counts = scoring.score_stream(bundle or KeywordBundle(), io.StringIO("\n".join(lines) + "\n"), out, batch_size)
    return [json.loads(line) for line in out.getvalue().splitlines()], counts


ARTICLE = {"title": "Council passes the city budget", "body": "Taxes rise by two percent."}


def test_scores_in_input_order_with_schema():
    lines = [json.dumps({"id": f"c{i}", "text": t, "article": ARTICLE})
             for i, t in enumerate(["Sensible budget", "You idiot, the budget is wrong", "Great football match", "Taxes are fine"])]
    out, counts = run(lines)
    assert [r["id"] for r in out] == ["c0", "c1", "c2", "c3"]
    assert [r["decision"] for r in out] == ["publish", "hold", "hold", "publish"]
    assert out[1]["reasons"] == ["abusive"] and out[2]["reasons"] == ["off_topic"]
    assert set(out[0]) == {"id", "decision", "reasons", "scores", "model_version"}
    assert out[1]["scores"] == {"abusive": 0.9, "off_topic": 0.2, "spam": 0.05, "insult": 0.45}
    assert out[0]["model_version"] == "kw-1"
    assert counts == {"scored": 4, "errors": 0}


def test_article_optional_and_reported_unknown():
    out, _ = run([json.dumps({"id": "a", "text": "Great football match"}),
                  json.dumps({"id": "b", "text": "ok, budget", "article": {"title": "Budget"}})])
    assert out[0]["decision"] == "publish" and out[0]["reasons"] == ["article_unknown"]
    assert out[1]["reasons"] == []


def test_bad_lines_get_error_lines_and_the_rest_is_scored():
    lines = ["{not json", json.dumps([1, 2]), json.dumps({"id": "e", "text": "   "}),
             json.dumps({"text": "no id here"}), json.dumps({"id": "f", "text": 5}),
             json.dumps({"id": "g", "text": "fine", "article": "Budget"}),
             json.dumps({"id": "h", "text": "fine", "article": {"title": 3}}),
             json.dumps({"id": "ok", "text": "You idiot"})]
    out, counts = run(lines)
    assert len(out) == len(lines) and counts == {"scored": 1, "errors": 7}
    assert out[0] == {"id": None, "line": 1, "error": out[0]["error"]} and "not valid JSON" in out[0]["error"]
    assert out[1]["line"] == 2 and "JSON object" in out[1]["error"]
    assert out[2]["id"] == "e" and "empty" in out[2]["error"]
    assert out[3]["id"] is None and out[3]["line"] == 4 and "id is missing" in out[3]["error"]
    assert out[4]["id"] == "f" and "text" in out[4]["error"]
    assert out[5]["id"] == "g" and "article" in out[5]["error"]
    assert out[6]["id"] == "h" and "article.title" in out[6]["error"]
    assert out[7]["id"] == "ok" and out[7]["decision"] == "hold"


def test_model_failure_holds_only_that_comment():
    bundle = KeywordBundle(broken_text="boom")
    out, _ = run([json.dumps({"id": "1", "text": "fine"}), json.dumps({"id": "2", "text": "boom"}),
                  json.dumps({"id": "3", "text": "You idiot"})], bundle)
    assert [r["id"] for r in out] == ["1", "2", "3"]
    assert out[0]["decision"] == "publish"
    assert out[1]["decision"] == "hold" and out[1]["reasons"] == ["model_error"] and "encoder crashed" in out[1]["error"]
    assert out[2]["reasons"] == ["abusive", "article_unknown"]


def test_streams_in_bounded_batches():
    """Output for the first batch is written before the input is read past the second batch."""
    consumed = []

    def lines():
        for i in range(100):
            consumed.append(i)
            yield json.dumps({"id": str(i), "text": "fine"}) + "\n"

    class Spy(io.StringIO):
        first_write_after = None

        def write(self, s):
            if self.first_write_after is None:
                self.first_write_after = len(consumed)
            return super().write(s)

    bundle, out = KeywordBundle(), Spy()
    scoring.score_stream(bundle, lines(), out, batch_size=10)
    assert max(bundle.batches) == 10 and sum(bundle.batches) == 100
    assert out.first_write_after <= 11
    assert len(out.getvalue().splitlines()) == 100


def test_cli_stdin_to_stdout(monkeypatch, tmp_path):
    from service.cli import main

    monkeypatch.setattr(models, "load_bundle", lambda path=None: KeywordBundle())
    data = "\n".join(json.dumps({"id": str(i), "text": t}) for i, t in enumerate(["fine", "You idiot"])) + "\n"
    result = CliRunner().invoke(main, ["score", "-", "--output", "-"], input=data)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["decision"] for r in rows] == ["publish", "hold"]
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text(data)
    result = CliRunner().invoke(main, ["score", str(src), "--output", str(dst)])
    assert result.exit_code == 0 and "scored 2 line(s), 0 error line(s)" in result.stderr
    assert [json.loads(line)["id"] for line in dst.read_text().splitlines()] == ["0", "1"]
