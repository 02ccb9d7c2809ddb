"""`moderation models promote` runs a gate: the candidate must decide no worse than the current default bundle on a
fixed evaluation set (public news sample + the newest part of the site's labelled export). A deliberately worse
bundle is refused, --force overrides it and is logged, rollback restores the previous default."""
import json

import pytest
from click.testing import CliRunner

import models.bundle
from service.cli import main
from tiny_bundles import ARTICLE, KIND, RUDE, SPAM, make_bundle
from tiny_data import make_tiny_data
from training import gate, registry


def cli(*args):
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def bundles(tmp_path, monkeypatch):
    folder = tmp_path / "bundles"
    monkeypatch.setattr(models.bundle, "BUNDLES", folder)
    monkeypatch.setattr(models.bundle, "DEFAULT_POINTER", folder / "current.txt")
    make_bundle(folder / "good-1", "good-1")
    (folder / "current.txt").write_text("good-1\n")
    return folder


@pytest.fixture
def export(tmp_path):
    """The site's decisions, oldest first: comments the bundles never saw (other numbers), with their article."""
    rows = [{"text": f"{t} number {i}", "abusive": a, "off_topic": o, "article_title": ARTICLE["title"]}
            for i in range(10, 14) for texts, a, o in ((RUDE, 1, 0), (KIND, 0, 0), (SPAM, 0, 1)) for t in texts]
    path = tmp_path / "site-export.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_gate_refuses_a_worse_bundle_force_overrides_and_is_logged(bundles, export):
    # worse: it never learnt "moron" as abusive (those rows are taught as ordinary), so it catches fewer insults
    make_bundle(bundles / "worse-1", "worse-1", rude=[t for t in RUDE if "moron" not in t],
                kind=KIND + [t for t in RUDE if "moron" in t])
    result = cli("models", "promote", "worse-1", "--no-public", "--labelled", str(export), "--holdout", "1.0")
    assert result.exit_code == 1, result.output
    assert "worse-1 refused" in result.stderr and "catch abusive rate" in result.stderr
    assert (bundles / "current.txt").read_text() == "good-1\n"
    refused = registry.events()[-1]
    assert refused["action"] == "promote_refused" and refused["gate_passed"] is False

    result = cli("models", "promote", "worse-1", "--no-public", "--labelled", str(export), "--holdout", "1.0",
                 "--force", "--reason", "testing the override")
    assert result.exit_code == 0, result.output
    assert "--force" in result.stderr and (bundles / "current.txt").read_text() == "worse-1\n"
    forced = registry.events()[-1]
    assert forced["action"] == "promote" and forced["forced"] is True and forced["gate_passed"] is False
    assert forced["reason"] == "testing the override" and forced["previous"] == "good-1"

    assert cli("models", "rollback").exit_code == 0
    assert (bundles / "current.txt").read_text() == "good-1\n" and registry.events()[-1]["action"] == "rollback"


def test_gate_passes_an_equal_bundle_and_measures_both(bundles, export):
    make_bundle(bundles / "good-2", "good-2")
    result = cli("models", "promote", "good-2", "--no-public", "--labelled", str(export))
    assert result.exit_code == 0, result.output
    assert (bundles / "current.txt").read_text() == "good-2\n"
    event = registry.events()[-1]
    assert event["gate_passed"] is True and event["forced"] is False
    rows = {r["bundle"]: r for r in event["gate_table"]}
    assert set(rows) == {"good-1", "good-2"}
    # --holdout 0.25 of 80 rows (oldest first) = the newest 20 decisions
    assert rows["good-2"]["n"] == 20 and rows["good-2"]["catch_abusive"] == rows["good-1"]["catch_abusive"]


def test_gate_measures_false_holds_and_catches():
    """measure() against hand-checked decisions of a tiny bundle."""
    import numpy as np

    import models
    part = gate.Part("p", ["you stupid idiot 99", "the council vote on the bridge was close 99",
                           "buy cheap watches online at www.watchy.example 99", "a fair vote by the council 99"],
                     [ARTICLE] * 4, np.array([1.0, 0.0, 0.0, 0.0]), np.array([0.0, 0.0, 1.0, np.nan]))
    class Fixed:
        version = "fixed"

        def score_many(self, pairs):
            # holds the first and the last: catches the abusive one, misses the spam, one false hold of two ordinary
            return [models.Score(abusive=0.9 if i in (0, 3) else 0.1, off_topic=0.1, spam=0.0, sub_scores={},
                                 spans=[], article_known=True, language="en", language_supported=True,
                                 model_version="fixed", length=10,
                                 thresholds={"abusive": 0.5, "off_topic": 0.5, "spam": 0.5})
                    for i, _ in enumerate(pairs)]

    return_value = gate.measure(Fixed(), part)
    assert return_value["catch_abusive"] == 1.0 and return_value["catch_off_topic"] == 0.0
    assert return_value["false_hold"] == 0.5 and return_value["ordinary"] == 2


def test_a_gate_that_cannot_run_refuses_unless_forced(bundles, tmp_path):
    make_bundle(bundles / "good-2", "good-2")
    result = cli("models", "promote", "good-2", "--no-public")
    assert result.exit_code == 1 and "no evaluation set" in result.stderr
    result = cli("models", "promote", "good-2", "--data", str(tmp_path))   # no public data there
    assert result.exit_code == 1 and "the gate could not run" in result.stderr
    assert (bundles / "current.txt").read_text() == "good-1\n"
    result = cli("models", "promote", "good-2", "--no-public", "--force")
    assert result.exit_code == 0 and registry.events()[-1]["gate_error"].startswith("no evaluation set")


def test_public_part_is_fixed_and_reads_the_data_formats(tmp_path):
    root = make_tiny_data(tmp_path / "data")
    first, second = gate.public_news(root), gate.public_news(root)
    assert [p.texts for p in first] == [p.texts for p in second]
    ucc, sfu = first
    assert sorted(ucc.texts) == sorted(["Fine analysis", "Shut up, you idiot", "Thanks for the clear report",
                                        "Rather harsh words"])
    assert ucc.abusive.sum() == 2 and all(a is None for a in ucc.articles)
    assert all(a["title"] for a in sfu.articles) and (sfu.off_topic == 0).all()
