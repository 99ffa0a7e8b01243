"""The t_u and T sweeps of the teaching notebooks agree with evaluate_split."""
import numpy as np
import pytest

from bpartis_nb.evaluation import evaluate_split, samples_sweep, threshold_sweep


@pytest.fixture(scope="module")
def table(emps_dir, published_model):
    return evaluate_split(emps_dir, limit=2, samples=2, model=published_model, seed=3, progress=False)


def test_threshold_sweep_matches_evaluate_split(emps_dir, published_model, table):
    sweep = threshold_sweep(emps_dir, thresholds=(0.0125, 0.001, 0.05, -1, float("inf")), limit=2, samples=2,
                            model=published_model, seed=3, progress=False)
    assert sweep["tu"].tolist() == [0.001, 0.0125, 0.05, float("inf")]
    assert sweep.attrs["images"] == 2
    at = sweep.set_index("tu")
    for key in ("ap", "ap50", "ap75", "miou", "ap_match50"):
        assert at.loc[0.0125, key] == pytest.approx(table["variants"]["bayesian_filter"][key])
        assert at.loc[float("inf"), key] == pytest.approx(table["variants"]["bayesian"][key])
    assert at.loc[0.0125, "n_pred"] == table["variants"]["bayesian_filter"]["n_pred"]
    # a looser threshold never keeps fewer particles
    assert np.all(np.diff(sweep["n_pred"].to_numpy()) >= 0)
    assert ((sweep[["ap", "ap50", "ap75", "miou"]] >= 0) & (sweep[["ap", "ap50", "ap75", "miou"]] <= 1)).all().all()


def test_samples_sweep_starts_with_the_discriminative_pass(emps_dir, published_model, table):
    sweep = samples_sweep(emps_dir, samples=(2, 1, 2), limit=2, model=published_model, seed=3, progress=False)
    assert sweep["samples"].tolist() == [0, 1, 2]
    first, last = sweep.iloc[0], sweep.iloc[-1]
    assert first["ap50"] == pytest.approx(table["variants"]["discriminative"]["ap50"])
    assert first["ap50_filter"] == first["ap50"] and first["n_pred_filter"] == first["n_pred"]
    assert last["ap50"] == pytest.approx(table["variants"]["bayesian"]["ap50"])
    assert last["ap50_filter"] == pytest.approx(table["variants"]["bayesian_filter"]["ap50"])
    assert (sweep["n_pred_filter"] <= sweep["n_pred"]).all() and (sweep["seconds"] > 0).all()
