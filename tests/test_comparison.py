"""Particle statistics of predictions against ground truth."""
import numpy as np
import pytest

from bpartis_nb.comparison import PAPER_VALUES, compare_labels, compare_split, format_comparison


def discs(centres, radius, shape=(200, 200)):
    rr, cc = np.mgrid[0 : shape[0], 0 : shape[1]]
    lab = np.zeros(shape, np.int32)
    for k, (cy, cx) in enumerate(centres, 1):
        lab[(rr - cy) ** 2 + (cc - cx) ** 2 <= radius**2] = k
    return lab


def test_identical_maps_compare_perfectly():
    lab = discs([(30 + 40 * i, 30 + 40 * j) for i in range(4) for j in range(4)], 8)
    out = compare_labels(lab, lab)
    assert out["size_cosine"] == pytest.approx(0, abs=1e-12)
    assert out["aspect_cosine"] == pytest.approx(0, abs=1e-12)
    assert out["rdf_rmse"] == 0 and out["rdf_l2"] == 0 and out["n_pred"] == out["n_gt"] == 16


def test_different_sizes_and_positions_are_seen():
    grid = [(30 + 40 * i, 30 + 40 * j) for i in range(4) for j in range(4)]
    truth = discs(grid, 8)
    bigger = discs(grid, 14)
    assert compare_labels(bigger, truth)["size_cosine"] > 0.5      # no bin in common
    assert compare_labels(bigger, truth)["rdf_rmse"] == pytest.approx(0)  # same centroids
    rng = np.random.default_rng(0)
    scattered = discs(rng.uniform(10, 190, (16, 2)), 8)
    assert compare_labels(scattered, truth)["rdf_rmse"] > 0.1
    with pytest.raises(ValueError, match="shape"):
        compare_labels(truth, truth[:50])


def test_compare_split_on_emps(emps_dir, published_model):
    out = compare_split(emps_dir, min_particles=150, samples=2, model=published_model, progress=False)
    assert out["settings"]["images"] == 2  # the two test images with >= 150 particles
    for key in PAPER_VALUES:
        assert np.isfinite(out["means"][key]) and out["means"][key] >= 0
    text = format_comparison(out)
    assert "0.02111" in text and "Unstated" in text
    with pytest.raises(ValueError, match="no image"):
        compare_split(emps_dir, min_particles=10_000, model=published_model, progress=False)
