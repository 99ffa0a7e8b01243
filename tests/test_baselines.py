"""Tests of the classical baselines (bpartis_nb.baselines) and their evaluation."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from bpartis_nb import cli
from bpartis_nb.baselines import METHODS, fit_gmm_1d, gmm_ccl, otsu_watershed, run_baseline, to_grey
from bpartis_nb.evaluation import VARIANTS, format_table
from bpartis_nb.metrics import image_metrics

RADIUS = 12
#: Five separate discs, then a pair that overlaps by two pixels (centres 22 px apart).
SINGLES = [(25, 25), (25, 80), (25, 135), (80, 25), (135, 135)]
PAIR = [(85, 70), (85, 92)]


def disc_truth(shape=(160, 160), centres=SINGLES + PAIR, radius=RADIUS) -> np.ndarray:
    """Instance map of the discs; a pixel in two discs goes to the nearer centre."""
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    d2 = np.stack([(yy - cy) ** 2 + (xx - cx) ** 2 for cy, cx in centres])
    nearest = np.argmin(d2, axis=0)
    inside = d2.min(axis=0) <= radius * radius
    return np.where(inside, nearest + 1, 0).astype(np.int32)


def disc_image(truth: np.ndarray, bright: bool = True, noise: float = 0.05, seed: int = 0) -> np.ndarray:
    """uint8 micrograph: discs at 0.75, background at 0.25 (swapped if not bright), noisy."""
    rng = np.random.default_rng(seed)
    grey = np.where(truth > 0, 0.75, 0.25) + rng.normal(0.0, noise, truth.shape)
    if not bright:
        grey = 1.0 - grey
    return np.round(np.clip(grey, 0.0, 1.0) * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def truth() -> np.ndarray:
    return disc_truth()


def _pair_labels(labels: np.ndarray) -> set[int]:
    return {int(labels[cy, cx]) for cy, cx in PAIR}


@pytest.mark.parametrize("bright", [True, False], ids=["bright-on-dark", "dark-on-bright"])
def test_otsu_watershed_finds_every_disc_and_splits_the_touching_pair(truth, bright):
    labels = otsu_watershed(disc_image(truth, bright=bright))
    assert labels.dtype == np.int32 and labels.shape == truth.shape
    assert labels.max() == len(SINGLES) + len(PAIR)
    assert set(np.unique(labels)) == set(range(labels.max() + 1))  # relabelled 1..K
    pair = _pair_labels(labels)
    assert len(pair) == 2 and 0 not in pair
    m = image_metrics(labels, truth)
    assert m["ap_match50"] == 1.0 and m["ap_match75"] == 1.0
    assert m["miou"] > 0.85


@pytest.mark.parametrize("bright", [True, False], ids=["bright-on-dark", "dark-on-bright"])
def test_gmm_ccl_finds_the_discs_and_merges_the_touching_pair(truth, bright):
    labels = gmm_ccl(disc_image(truth, bright=bright))
    assert labels.dtype == np.int32 and labels.shape == truth.shape
    assert labels.max() == len(SINGLES) + 1
    pair = _pair_labels(labels)
    assert len(pair) == 1 and 0 not in pair
    # the single discs are all found, well
    for cy, cx in SINGLES:
        k = labels[cy, cx]
        assert k > 0
        disc = truth == truth[cy, cx]
        iou = np.sum(disc & (labels == k)) / np.sum(disc | (labels == k))
        assert iou > 0.85


def test_gmm_ccl_is_reproducible_and_seeded(truth):
    image = disc_image(truth)
    assert np.array_equal(gmm_ccl(image, random_state=3), gmm_ccl(image, random_state=3))
    # a pixel subsample far smaller than the image still gives the same segmentation
    assert np.array_equal(gmm_ccl(image, max_samples=2000), gmm_ccl(image))


def test_gmm_ccl_takes_the_brighter_phase_when_the_split_is_even():
    rng = np.random.default_rng(1)
    grey = np.full((64, 64), 0.3)
    grey[:, 32:] = 0.7
    image = np.round(np.clip(grey + rng.normal(0, 0.03, grey.shape), 0, 1) * 255).astype(np.uint8)
    labels = gmm_ccl(image)
    assert labels.max() == 1
    assert np.all(labels[:, 34:] == 1) and np.all(labels[:, :30] == 0)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_uniform_image_gives_no_instances(method):
    for image in (np.full((64, 64), 128, np.uint8), np.zeros((40, 50, 3), np.uint8), np.ones((32, 32))):
        labels = run_baseline(method, image)
        assert labels.shape == image.shape[:2] and labels.dtype == np.int32
        assert not labels.any()


@pytest.mark.parametrize("method", sorted(METHODS))
def test_sixteen_bit_rgb_and_path_inputs_give_the_same_labels(method, truth, tmp_path):
    image8 = disc_image(truth)
    expected = run_baseline(method, image8)
    # 16-bit with an offset and a narrow range: the grey scaling removes both
    image16 = (image8.astype(np.uint16) * 40 + 5000).astype(np.uint16)
    assert np.array_equal(run_baseline(method, image16), expected)
    rgb = np.repeat(image8[:, :, None], 3, axis=2)
    assert np.array_equal(run_baseline(method, rgb), expected)
    path = tmp_path / "discs16.png"
    Image.fromarray(image16).save(path)
    assert np.array_equal(run_baseline(method, path), expected)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_min_size_removes_specks(method):
    image = np.full((80, 80), 40, np.uint8)
    image[10:30, 10:30] = 200  # 400 px
    image[50:54, 50:54] = 200  # 16 px
    assert run_baseline(method, image, min_size=30).max() == 1
    assert run_baseline(method, image, min_size=10).max() == 2


def test_to_grey_scales_to_unit_range():
    grey = to_grey(np.array([[1000, 3000], [2000, 1000]] * 8, np.uint16).repeat(8, axis=1))
    assert grey.dtype == np.float64 and grey.min() == 0.0 and grey.max() == 1.0


def test_fit_gmm_1d_recovers_two_components():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0.3, 0.04, 6000), rng.normal(0.8, 0.08, 2000)])
    weights, means, variances = fit_gmm_1d(x)
    np.testing.assert_allclose(weights, [0.75, 0.25], atol=0.01)
    np.testing.assert_allclose(means, [0.3, 0.8], atol=0.01)
    np.testing.assert_allclose(np.sqrt(variances), [0.04, 0.08], atol=0.005)


def test_run_baseline_unknown_name_lists_the_choices():
    with pytest.raises(ValueError, match="unknown baseline 'watershed'") as info:
        run_baseline("watershed", np.zeros((32, 32), np.uint8))
    assert "otsu_watershed" in str(info.value) and "gmm_ccl" in str(info.value)


def test_format_table_labels_baselines_and_keeps_the_bpartis_rows():
    metrics = {"ap": 0.5, "ap50": 0.6, "ap75": 0.4, "miou": 0.55, "ap_match50": 0.45, "n_pred": 7, "median_seconds": 0.1}
    bpartis = {"settings": {"samples": 30, "tu": 0.0125}, "variants": {v: metrics for v in VARIANTS}}
    lines = format_table(bpartis, reference=False).splitlines()
    assert lines[2:] == [
        "| this package: discriminative | 0.500 | 0.600 | 0.400 | 0.550 | 0.450 | 7 | 0.10 |",
        "| this package: Bayesian, T = 30 | 0.500 | 0.600 | 0.400 | 0.550 | 0.450 | 7 | 0.10 |",
        "| this package: Bayesian + filter, t_u = 0.0125 | 0.500 | 0.600 | 0.400 | 0.550 | 0.450 | 7 | 0.10 |",
    ]
    baseline = {"settings": {"method": "gmm_ccl"}, "variants": {"gmm_ccl": metrics}}
    table = format_table(baseline)
    assert "| baseline: gmm_ccl | 0.500 | 0.600 | 0.400 | 0.550 | 0.450 | 7 | 0.10 |" in table
    assert "paper Table 1" in table


@pytest.mark.parametrize("method", sorted(METHODS))
def test_cli_evaluate_baseline_writes_json_without_weights(method, emps_dir, tmp_path, monkeypatch, capsys):
    def no_model(*args, **kwargs):
        raise AssertionError("a baseline must not load the network")

    monkeypatch.setattr(cli, "_model", no_model)
    report = tmp_path / "baseline.json"
    rc = cli.main(["evaluate", "--method", method, "--emps", str(emps_dir), "--limit", "2", "--json", str(report)])
    assert rc == 0
    data = json.loads(report.read_text())
    assert data["settings"]["method"] == method and data["settings"]["images"] == 2
    assert set(data["variants"]) == {method}
    metrics = data["variants"][method]
    for key in ("ap50", "ap75", "miou", "ap_match50"):
        assert 0.0 <= metrics[key] <= 1.0, key
    assert metrics["ap"] >= 0.0  # the paper's AP can pass 1 when one prediction covers many instances
    assert metrics["n_pred"] >= 0 and metrics["n_gt"] > 0 and metrics["median_seconds"] > 0
    assert len(data["images"]) == 2
    assert all(method in row and row[method]["seconds"] > 0 for row in data["images"])
    assert f"baseline: {method}" in capsys.readouterr().out


def test_cli_rejects_an_unknown_method(capsys):
    with pytest.raises(SystemExit):
        cli.main(["evaluate", "--method", "kmeans"])
    assert "otsu_watershed" in capsys.readouterr().err
