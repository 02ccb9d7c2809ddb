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


class Fixed:
    """A bundle with given abuse scores per comment (the texts are indices), to check the gate's arithmetic."""

    def __init__(self, version, abusive, threshold=0.5):
        self.version, self.abusive = version, abusive
        self.thresholds = {"abusive": threshold, "off_topic": 0.5, "spam": 0.5}

    def score_many(self, pairs):
        import models
        return [models.Score(abusive=self.abusive[int(text)], off_topic=0.1, spam=0.0, sub_scores={}, spans=[],
                             article_known=True, language="en", language_supported=True,
                             model_version=self.version, length=10, thresholds=dict(self.thresholds))
                for text, _ in pairs]


def _part(n_ordinary=100, n_abusive=20):
    import numpy as np
    n = n_ordinary + n_abusive
    return gate.Part("p", [str(i) for i in range(n)], [ARTICLE] * n,
                     np.r_[np.zeros(n_ordinary), np.ones(n_abusive)], np.zeros(n))


# current: 2 of 100 ordinary comments held at 0.5; 15 of 20 insults caught, the other 5 between the two groups
CURRENT = [0.6] * 2 + [0.1] * 98 + [0.8] * 15 + [0.3] * 5


def test_gate_refuses_a_bundle_that_only_lowered_its_thresholds():
    """At its own lower threshold the candidate catches every insult for one more false hold (it would pass a
    comparison at each bundle's own thresholds); at the current false-hold rate it catches fewer: refused."""
    shifted = Fixed("shifted", [0.7] * 3 + [0.1] * 97 + [0.8] * 12 + [0.3] * 8, threshold=0.25)
    result = gate.gate(Fixed("current", CURRENT), shifted, [_part()], tolerance=0.02)
    now, new = result.table
    assert (now["false_hold"], now["catch_abusive"]) == (0.02, 0.75)
    assert (new["false_hold"], new["catch_abusive"]) == (0.03, 1.0)      # within tolerance / better: passes here
    # at 2 false holds of 100: current catches all 20 (a threshold between 0.1 and 0.3), the candidate 12
    assert (now["equal_catch_abusive"], new["equal_catch_abusive"]) == (1.0, 0.6)
    assert now["equal_false_hold"] == 0.02 and new["equal_false_hold"] <= 0.02
    assert not result.passed and len(result.failures) == 1
    assert "catch abusive rate 60.0% vs 100.0% now at the current false-hold rate (2 of 100" in result.failures[0]


def test_gate_decides_both_bundles_at_the_policy_thresholds():
    shifted = Fixed("shifted", [0.7] * 3 + [0.1] * 97 + [0.8] * 12 + [0.3] * 8, threshold=0.25)
    result = gate.gate(Fixed("current", CURRENT), shifted, [_part()], tolerance=0.02, policy={"abusive": 0.5})
    now, new = result.table
    assert now["thresholds"]["abusive"] == new["thresholds"]["abusive"] == 0.5
    assert new["catch_abusive"] == 0.6    # its own 0.25 is not what the service would apply
    assert any("catch abusive rate 60.0% vs 75.0% now at the policy's thresholds" in f for f in result.failures)
    # a site's own threshold wins over the policy default, as in the service
    result = gate.gate(Fixed("current", CURRENT), shifted, [_part()], policy={"abusive": 0.5,
                       "sites": {"example.org": {"abusive": 0.2}}}, site="example.org")
    assert result.table[1]["thresholds"]["abusive"] == 0.2


def test_gate_passes_an_equal_or_better_bundle_at_any_thresholds():
    part = [_part()]
    same_ranking = Fixed("rescaled", [s / 2 for s in CURRENT], threshold=0.25)   # same decisions, other scale
    better = Fixed("better", [0.6] + [0.1] * 99 + [0.8] * 18 + [0.3] * 2)
    for candidate in (Fixed("copy", CURRENT), same_ranking, better):
        result = gate.gate(Fixed("current", CURRENT), candidate, part)
        assert result.passed, (candidate.version, result.failures)
    assert result.table[1]["equal_catch_abusive"] == 1.0 and result.table[1]["catch_abusive"] == 0.9


def test_gate_policy_comes_from_the_service_config(tmp_path):
    config = tmp_path / "moderation.toml"
    config.write_text('database_url = "sqlite://"\n[policy]\nabusive = 0.7\n[policy.sites."example.org"]\n'
                      'mode = "shadow"\noff_topic = 0.9\n')
    assert gate.policy_from_config(config) == {"abusive": 0.7, "sites": {"example.org": {"mode": "shadow",
                                                                                          "off_topic": 0.9}}}
    assert gate.policy_from_config(None) == {}


LOCAL = ["you wazzock", "what a wazzock", "total wazzock"]   # a local insult no word list knows


@pytest.fixture
def drifting_export(tmp_path):
    """The site's moderators approved 'wazzock' comments three times (oldest rows) and now reject the same ones (the
    newest quarter): a bundle trained on all of it learns them as mostly ordinary, and misses the insults the newest
    quarter labels."""
    idiot = [t for t in RUDE if "idiot" in t and "moron" not in t]
    # the same wordings, approved three times before and rejected once now
    old = [(f"{t} {i}", 1, 0) for t in idiot for i in range(6)] + [(f"{t} {i}", 0, 0) for _ in range(3)
                                                                   for t in LOCAL for i in range(4)] \
        + [(f"{t} {i}", 0, 0) for t in KIND for i in range(4)] + [(f"{t} {i}", 0, 1) for t in SPAM for i in range(2)]
    new = [(f"{t} {i}", 1, 0) for t in LOCAL for i in range(4)] \
        + [(f"{KIND[j % 8]} {20 + j}", 0, 0) for j in range(22)]
    rows = old + new
    assert -(-len(rows) // 4) == len(new)     # --holdout 0.25 is exactly the newest block
    path = tmp_path / "drifting.jsonl"
    path.write_text("".join(json.dumps({"text": t, "abusive": a, "off_topic": o, "article_title": ARTICLE["title"]})
                            + "\n" for t, a, o in rows))
    return path


@pytest.mark.model   # trains two bundles (minutes on a busy machine)
def test_train_set_default_goes_through_the_gate(bundles, drifting_export, tmp_path):
    make_bundle(bundles / "local-1", "local-1", rude=RUDE + LOCAL)    # the default knows the local insult
    (bundles / "current.txt").write_text("local-1\n")
    result = cli("train", "--labelled", str(drifting_export), "--no-public", "--quick", "--version", "drift-1",
                 "--set-default")
    assert result.exit_code == 1, result.output
    assert "drift-1 refused" in result.stderr and "catch abusive rate" in result.stderr
    assert (bundles / "drift-1" / "metadata.json").exists()              # written, not made the default
    assert (bundles / "current.txt").read_text() == "local-1\n"
    refused = registry.events()[-1]
    assert refused["action"] == "promote_refused" and refused["via"] == "train --set-default"

    result = cli("train", "--labelled", str(drifting_export), "--no-public", "--quick", "--version", "drift-2",
                 "--set-default", "--force", "--reason", "the site changed its rules")
    assert result.exit_code == 0, result.output
    assert "--force" in result.stderr and (bundles / "current.txt").read_text() == "drift-2\n"
    forced = registry.events()[-1]
    assert forced["action"] == "promote" and forced["via"] == "train --set-default" and forced["forced"] is True
    assert forced["gate_passed"] is False and forced["reason"] == "the site changed its rules"
