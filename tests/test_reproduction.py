"""The published model through this package reproduces the measured reference on EMPS.

Slow (about 10 minutes on 2 cores): ``make test PYTEST_ARGS="-m slow"``.
"""
import json

import pytest

from bpartis_nb.cli import main
from bpartis_nb.evaluation import METRIC_KEYS, REFERENCE

pytestmark = pytest.mark.slow


def test_table1_within_001_of_reference(tmp_path, emps_dir, published_weights):
    out = tmp_path / "eval.json"
    assert main(["evaluate", "--emps", str(emps_dir), "--split", "test", "--samples", "30",
                 "--weights", str(published_weights), "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert len(result["images"]) == 99
    for variant, ref in REFERENCE["measured reference"].items():
        for key, value in zip(METRIC_KEYS, ref):
            if key == "ap_match50":
                continue
            assert abs(result["variants"][variant][key] - value) <= 0.01, (variant, key)
    assert result["variants"]["discriminative"]["n_pred"] == 2543
