"""The Perspective-scale artefact: fitted from made-up scored sets (no model, no data sets), read back by models."""
import json

import numpy as np
import pandas as pd
import pytest

from models.calibration import PerspectiveScale
from training.perspective_scale import fit, threshold_table


@pytest.fixture
def sets():
    rng = np.random.default_rng(0)
    n = 400
    abusive = rng.uniform(0, 1, n)
    # raters agree more the higher our score: the fraction rises with it, with noise
    fraction = np.clip(abusive * 0.8 + rng.normal(0, 0.1, n), 0, 1)
    dev = pd.DataFrame({"abusive": abusive, "rater_fraction": fraction, "label": (fraction >= 0.5).astype(int)})
    level = 1 + 3 * np.clip(abusive + rng.normal(0, 0.15, n), 0, 1)
    train = pd.DataFrame({"abusive": abusive, "insult": abusive, "obscene": 0.0, "identity_attack": 0.0,
                          "threat": 0.0, "level": level, "weight": 1.0})
    return {"ucc_dev": dev, "c3_train": train}


def test_fit_writes_monotone_maps_that_models_reads(sets, tmp_path):
    spec = fit(sets, "test-version")
    path = tmp_path / "perspective_scale.json"
    path.write_text(json.dumps(spec))
    scale = PerspectiveScale.load(path)
    grid = np.linspace(0, 1, 101)
    mapped = scale.toxicity(grid)
    assert np.all(np.diff(mapped) >= 0) and mapped[0] < 0.2 and mapped[-1] > 0.6
    # calibrated: on the fitting data the mean mapped score equals the mean rater fraction
    assert scale.toxicity(sets["ucc_dev"]["abusive"]).mean() == pytest.approx(sets["ucc_dev"]["rater_fraction"].mean(),
                                                                             abs=1e-3)
    low, high = (scale.severe({"abusive": a, "insult": a, "obscene": 0, "identity_attack": 0, "threat": 0})
                 for a in (0.05, 0.99))
    assert 0 <= low < high <= 1
    assert scale.expected_catch(0.05) >= scale.expected_catch(0.5) >= scale.expected_catch(0.95)
    assert PerspectiveScale.load(tmp_path / "absent.json") is None
    assert PerspectiveScale.load(path, "test-version") is not None
    assert PerspectiveScale.load(path, "another-bundle") is None   # fitted on another bundle's scores


def test_threshold_table_counts_catch_and_false_holds():
    y = [1, 1, 1, 1, 0, 0, 0, 0]
    raw = [0.9, 0.6, 0.3, 0.1, 0.8, 0.2, 0.1, 0.0]
    mapped = [0.95, 0.75, 0.55, 0.2, 0.85, 0.3, 0.2, 0.1]
    [row] = threshold_table(y, raw, mapped, thresholds=(0.5,))
    assert row == {"threshold": 0.5, "raw_catch": 0.5, "raw_false_hold": 0.25,
                   "perspective_catch": 0.75, "perspective_false_hold": 0.25}
