"""The published model through this package against the measured reference on EMPS.

Slow (about 10 minutes on 2 cores): ``make test PYTEST_ARGS="-m slow"``.
"""
import json

import pytest

from bpartis_nb.cli import main
from bpartis_nb.evaluation import METRIC_KEYS, REFERENCE

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def table1(tmp_path_factory, emps_dir, published_weights):
    out = tmp_path_factory.mktemp("eval") / "eval.json"
    assert main(["evaluate", "--emps", str(emps_dir), "--split", "test", "--samples", "30",
                 "--weights", str(published_weights), "--json", str(out)]) == 0
    return json.loads(out.read_text())


def test_table1_within_001_of_reference(table1):
    assert len(table1["images"]) == 99
    assert table1["variants"]["discriminative"]["n_pred"] == 2543
    for variant, ref in REFERENCE["measured reference"].items():
        for key, value in zip(METRIC_KEYS, ref):
            if key == "ap" and variant != "discriminative":
                continue  # see the next test
            assert abs(table1["variants"][variant][key] - value) <= 0.01, (variant, key)


@pytest.mark.xfail(strict=True, reason=(
    "the reference's AP for the Bayesian variants is not reproduced by any bounded reading of its "
    "definition found so far (README, 'Reproducing Table 1'); remove this mark when it is"))
def test_bayesian_ap_within_001_of_reference(table1):
    for variant in ("bayesian", "bayesian_filter"):
        ref = REFERENCE["measured reference"][variant][0]
        assert abs(table1["variants"][variant]["ap"] - ref) <= 0.01, variant
