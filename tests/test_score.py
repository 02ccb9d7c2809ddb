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
    assert out.first_write_after <= 10 * 8 + 1  # one window: 8 batches
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
    result = CliRunner().invoke(main, ["score", str(src), "--jobs", "2", "--batch-size", "1"])
    assert result.exit_code == 0, result.output
    assert [json.loads(line) for line in result.stdout.splitlines()] == rows
    assert "largest of 2 worker(s)" in result.stderr


# -- throughput: length-bucketed batches, worker processes, Dask ------------------------------------------------

class RecordingBundle(KeywordBundle):
    """Records the texts of every batch it scores."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def score_many(self, items):
        items = list(items)
        self.seen.append([t for t, _ in items])
        return super().score_many(items)


def mixed_lines(n=40):
    words = ["budget", "idiot", "taxes", "council", "football", "match", "clown", "rise"]
    lines = []
    for i in range(n):
        text = " ".join(words[(i * 3 + k) % len(words)] for k in range(1 + (i * 7) % 13))
        lines.append(json.dumps({"id": f"m{i}", "text": text, "article": ARTICLE if i % 3 else None}))
    lines.insert(5, "{broken")
    return lines


def test_batches_are_sorted_by_length_inside_a_window_and_output_keeps_input_order():
    bundle = RecordingBundle()
    lines = mixed_lines()
    out = io.StringIO()
    scoring.score_stream(bundle, io.StringIO("\n".join(lines) + "\n"), out, batch_size=4, window=20)
    rows = [json.loads(x) for x in out.getvalue().splitlines()]
    assert [r.get("id") for r in rows] == [json.loads(x)["id"] if x != "{broken" else None for x in lines]
    assert rows[5]["line"] == 6 and "not valid JSON" in rows[5]["error"]
    assert all(len(b) <= 4 for b in bundle.seen) and sum(map(len, bundle.seen)) == 40
    # each window's batches, joined, run from the shortest comment to the longest
    first_window = [t for b in bundle.seen[:5] for t in b]  # 19 parsed lines of the first 20
    assert [len(t) for t in first_window] == sorted(len(t) for t in first_window)
    assert len(first_window) == 19
    plain = run(lines, KeywordBundle(), batch_size=64)[0]
    assert rows == plain  # the same results as one unsorted batch


class LazyFuture:
    def __init__(self, fn):
        self.fn, self.value = fn, None

    def done(self):
        return False

    def result(self):
        if self.fn is not None:
            self.value, self.fn = self.fn(), None
        return self.value


class CountingExecutor:
    """Futures that only run when their result is asked for: counts how many are outstanding at most."""
    jobs = 2

    def __init__(self, bundle):
        self.bundle, self.outstanding, self.most = bundle, [], 0

    def bind(self, policy):
        self.policy = policy
        return self

    def submit(self, chunk):
        f = LazyFuture(lambda: scoring.score_chunk(self.bundle, chunk, self.policy))
        self.outstanding = [x for x in self.outstanding if x.fn is not None] + [f]
        self.most = max(self.most, len(self.outstanding))
        return f

    def close(self, stats):
        stats["closed"] = True


def test_batches_in_flight_are_bounded_whatever_the_input_size():
    lines = [json.dumps({"id": str(i), "text": f"comment number {i}"}) for i in range(500)]
    executor, out, stats = CountingExecutor(KeywordBundle()), io.StringIO(), {}
    counts = scoring.score_stream(KeywordBundle(), io.StringIO("\n".join(lines)), out, batch_size=5, window=10,
                                  executor=executor, stats=stats)
    assert counts == {"scored": 500, "errors": 0} and stats["closed"]
    assert executor.most <= 2 * executor.jobs  # 100 batches in all, never more than 4 waiting
    assert [json.loads(x)["id"] for x in out.getvalue().splitlines()] == [str(i) for i in range(500)]


def test_jobs_give_the_same_output_as_one_process_and_report_worker_memory():
    lines = mixed_lines(60)
    one, stats1 = io.StringIO(), {}
    scoring.score_stream(KeywordBundle(), io.StringIO("\n".join(lines)), one, batch_size=4, window=16, stats=stats1)
    two, stats2 = io.StringIO(), {}
    scoring.score_stream(KeywordBundle(), io.StringIO("\n".join(lines)), two, batch_size=4, window=16, jobs=2,
                         stats=stats2)
    assert two.getvalue() == one.getvalue() and len(one.getvalue().splitlines()) == 61
    assert stats1["peak_rss_mb"] > 0 and "worker_peak_rss_mb" not in stats1
    assert stats2["worker_peak_rss_mb"] > 0


@pytest.mark.slow   # starts a Dask LocalCluster (worker processes)
def test_dask_local_cluster_with_two_workers_gives_the_same_output():
    pytest.importorskip("distributed")
    import cloudpickle

    import tiny_data
    cloudpickle.register_pickle_by_value(tiny_data)  # the fake bundle's class travels to the workers by value
    lines = mixed_lines(60)
    one = io.StringIO()
    scoring.score_stream(KeywordBundle(), io.StringIO("\n".join(lines)), one, batch_size=4, window=16)
    executor = scoring.DaskExecutor("local", source=KeywordBundle, jobs=2)
    assert executor.jobs == 2
    out, stats = io.StringIO(), {}
    scoring.score_stream(KeywordBundle(), io.StringIO("\n".join(lines)), out, batch_size=4, window=16,
                         executor=executor, stats=stats)
    assert out.getvalue() == one.getvalue()
    assert stats["dask_workers"] == 2


@pytest.mark.model
@pytest.mark.slow
def test_real_bundle_jobs_and_dask_match_one_process(real_bundle, tmp_path):
    """The shipped bundle: 2 forked jobs and a 2-worker LocalCluster write byte-identical output."""
    pytest.importorskip("distributed")
    lines = mixed_lines(24) + [json.dumps({"id": "long", "text": "The council budget. " * 80, "article": ARTICLE})]
    data = "\n".join(lines) + "\n"
    outs = []
    for kw in ({}, {"jobs": 2}, {"executor": scoring.DaskExecutor("local", jobs=2)}):
        out = io.StringIO()
        scoring.score_stream(None if "executor" in kw else real_bundle, io.StringIO(data), out, batch_size=4,
                             window=12, **kw)
        outs.append(out.getvalue())
    assert len(outs[0].splitlines()) == 26
    assert outs[1] == outs[0]
    assert outs[2] == outs[0]
