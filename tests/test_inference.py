"""Tests of bpartis_nb.segment (pipeline, inference, preprocess, montecarlo) and the
Monte-Carlo machinery of bpartis_nb.model.

Logic is checked with a tiny random network (64 x 64 input, cheap); behaviour on real
data with the published weights on one EMPS test image at T = 2.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from torch import nn

from bpartis_nb import uncertainty
from bpartis_nb.cluster import ClusterParams
from bpartis_nb.data import load_emps_image, split_names
from bpartis_nb.examples import synthetic_micrograph
from bpartis_nb.io import ImageError
from bpartis_nb.model import BranchedERFNet, MCDropout, mc_dropout
from bpartis_nb.montecarlo import mc_forward
from bpartis_nb.pipeline import segment
from bpartis_nb.preprocess import to_network_input

NET = 64  # network side for the tiny-model tests
T = 3


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def example():
    return synthetic_micrograph(size=96, n_particles=4, radius=(8, 12))


@pytest.fixture(scope="module")
def tiny_params(tiny_model, example) -> ClusterParams:
    """Clustering thresholds under which the random network finds several instances.

    A random network's seed probabilities all sit just below 0.5, so the published
    thresholds find nothing; the seed threshold is taken from this model's own seed map.
    """
    with torch.inference_mode():
        out = tiny_model(to_network_input(example.image, NET))[0]
    seed = torch.sigmoid(out[4]).numpy()
    return ClusterParams(seed_threshold=float(np.quantile(seed, 0.3)), score_threshold=0.95, min_pixels=8)


@pytest.fixture(scope="module")
def run(tiny_model, example, tiny_params):
    """``run(**kw)``: segment the example with the tiny model (seed 0, T = 3 unless given)."""

    def _run(image=None, **kw):
        kw.setdefault("samples", T)
        kw.setdefault("seed", 0)
        return segment(
            example.image if image is None else image,
            model=tiny_model,
            network_size=NET,
            cluster_params=tiny_params,
            **kw,
        )

    return _run


@pytest.fixture(scope="module")
def unfiltered(run):
    """The tiny model's result with nothing filtered, and samples kept."""
    result = run(tu=math.inf, keep_samples=True)
    assert len(result.instances) >= 3, "the tiny-model fixture should give several instances"
    return result


def _middle_threshold(result) -> float:
    """A threshold that keeps some instances and drops others."""
    mi = np.sort(result.instances["mean_mi"].to_numpy())
    assert mi[0] < mi[-1]
    k = len(mi) // 2
    return float((mi[k - 1] + mi[k]) / 2)


def _assert_same_result(a, b):
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.labels_unfiltered, b.labels_unfiltered)
    pd.testing.assert_frame_equal(a.instances, b.instances)
    np.testing.assert_array_equal(a.net_output, b.net_output)
    for name in ("mutual_information", "predictive_entropy", "expected_entropy", "net_mutual_information"):
        x, y = getattr(a, name), getattr(b, name)
        if x is None:
            assert y is None, name
        else:
            np.testing.assert_array_equal(x, y, err_msg=name)
    assert (a.tu, a.samples) == (b.tu, b.samples)


def _check_consistent(result):
    """labels is a renumbered subset of labels_unfiltered, as the instances table says."""
    table = result.instances
    lab, unf = result.labels, result.labels_unfiltered
    assert lab.dtype == np.int32 and unf.dtype == np.int32
    assert table["id"].tolist() == list(range(1, len(table) + 1))
    assert set(np.unique(unf)) - {0} <= set(table["id"])
    np.testing.assert_array_equal(
        table["pixels"].to_numpy(), np.bincount(unf.ravel(), minlength=len(table) + 1)[1:]
    )
    assert np.all(unf[lab > 0] > 0)
    kept = table[table["kept"]]
    assert result.count == len(kept)
    assert kept["label"].tolist() == list(range(1, len(kept) + 1))
    assert (table.loc[~table["kept"], "label"] == 0).all()
    assert set(np.unique(lab)) - {0} <= set(kept["label"])
    for row in table.itertuples():
        inside = unf == row.id
        expected = row.label if row.kept else 0
        assert np.all(lab[inside] == expected), row
    assert np.all(lab[unf == 0] == 0)
    if result.bayesian:
        mi = table["mean_mi"].to_numpy()
        np.testing.assert_array_equal(table["kept"].to_numpy(), mi < result.tu)


# --------------------------------------------------------------------------- preprocessing
def _colour_image(rows=90, cols=70, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    smooth = rng.integers(0, 256, (rows // 10 + 1, cols // 10 + 1, 3), dtype=np.uint8)
    big = np.asarray(Image.fromarray(smooth).resize((cols, rows), Image.BILINEAR))
    noise = rng.integers(-20, 21, big.shape)
    return np.clip(big.astype(int) + noise, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("size", [64, 128])
def test_to_network_input_uint8_rgb_is_pil_bicubic(size):
    rgb = _colour_image()
    x = to_network_input(rgb, size)
    assert x.shape == (1, 3, size, size) and x.dtype == torch.float32
    expected = np.asarray(Image.fromarray(rgb).resize((size, size), Image.BICUBIC)) / 255.0
    expected = torch.from_numpy(expected.astype(np.float32).transpose(2, 0, 1))[None]
    assert torch.equal(x, expected)
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0


def test_to_network_input_grey_and_rgba():
    rgb = _colour_image()
    grey = rgb[:, :, 1]
    assert torch.equal(to_network_input(grey, 64), to_network_input(np.repeat(grey[:, :, None], 3, 2), 64))
    rgba = np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 77, np.uint8)], axis=2)
    assert torch.equal(to_network_input(rgba, 64), to_network_input(rgb, 64))


def test_to_network_input_16bit_matches_8bit():
    # A full-range 8-bit image and the same image as 16-bit (v * 257, the usual 8 -> 16
    # bit conversion). The 16-bit path stretches by the image's own min and max, so the
    # two agree when the 8-bit image spans 0..255.
    rgb = _colour_image()
    rgb[0, 0] = 0
    rgb[-1, -1] = 255
    x8 = to_network_input(rgb, 64)
    x16 = to_network_input(rgb.astype(np.uint16) * 257, 64)
    assert x16.shape == (1, 3, 64, 64) and x16.dtype == torch.float32
    assert float((x8 - x16).abs().max()) < 0.02
    grey = rgb[:, :, 0]
    assert float((to_network_input(grey, 64) - to_network_input(grey.astype(np.uint16) * 257, 64)).abs().max()) < 0.02


def test_to_network_input_float_and_constant():
    rgb = _colour_image()
    x8 = to_network_input(rgb, 64)
    xf = to_network_input(rgb.astype(np.float64) / 255.0, 64)
    assert float((x8 - xf).abs().max()) < 0.02
    flat = to_network_input(np.full((40, 40), 1000, np.uint16), 64)
    assert flat.shape == (1, 3, 64, 64) and torch.isfinite(flat).all()


# --------------------------------------------------------------------------- segment, tiny model
def test_segment_shapes_and_consistency(unfiltered, run, example):
    result = run()
    for r in (result, unfiltered):
        assert r.labels.shape == r.labels_unfiltered.shape == example.image.shape[:2]
        for name in ("mutual_information", "predictive_entropy", "expected_entropy"):
            m = getattr(r, name)
            assert m.shape == example.image.shape[:2] and m.dtype == np.float32
        assert r.net_output.shape == (5, NET, NET)
        assert r.net_labels.shape == (NET, NET)
        assert r.net_mutual_information.shape == (NET, NET)
        assert r.samples == T and r.bayesian
        assert r.seconds > 0
        _check_consistent(r)
    assert list(result.instances.columns) == ["id", "pixels", "mean_mi", "seed_score", "kept", "label"]
    assert result.tu == pytest.approx(0.0125)
    assert unfiltered.tu == math.inf
    assert unfiltered.count == len(unfiltered.instances)
    np.testing.assert_array_equal(unfiltered.labels, unfiltered.labels_unfiltered)
    # mutual information is non-negative (Jensen), up to float rounding
    assert float(unfiltered.net_mutual_information.min()) > -1e-6


def test_same_seed_same_result_other_seed_differs(run, unfiltered):
    again = run(tu=math.inf, keep_samples=True)
    _assert_same_result(again, unfiltered)
    np.testing.assert_array_equal(again.seed_samples, unfiltered.seed_samples)
    other = run(tu=math.inf, seed=1)
    assert not np.array_equal(other.net_mutual_information, unfiltered.net_mutual_information)
    assert not np.array_equal(other.mutual_information, unfiltered.mutual_information)


def test_with_threshold_equals_fresh_run(run, unfiltered):
    tu = _middle_threshold(unfiltered)
    refiltered = unfiltered.with_threshold(tu)
    assert 0 < refiltered.count < len(refiltered.instances)
    _check_consistent(refiltered)
    fresh = run(tu=tu, keep_samples=True)
    _assert_same_result(refiltered, fresh)
    # the original is left alone
    assert unfiltered.count == len(unfiltered.instances) and unfiltered.tu == math.inf
    # back to keeping everything
    everything = refiltered.with_threshold(math.inf)
    assert everything.count == len(everything.instances)
    np.testing.assert_array_equal(everything.labels, everything.labels_unfiltered)
    assert everything.instances["label"].tolist() == everything.instances["id"].tolist()


@pytest.mark.parametrize("tu", [0.0, -1.0, float("nan")])
def test_with_threshold_rejects_non_positive(unfiltered, tu):
    with pytest.raises(ValueError, match="positive"):
        unfiltered.with_threshold(tu)


def test_discriminative(run, example):
    disc = run(samples=0)
    assert disc.samples == 0 and not disc.bayesian
    assert disc.mutual_information is None and disc.predictive_entropy is None
    assert disc.expected_entropy is None and disc.net_mutual_information is None
    assert disc.seed_samples is None
    assert disc.tu == math.inf
    assert disc.labels.shape == example.image.shape[:2]
    assert disc.instances["mean_mi"].isna().all()
    np.testing.assert_array_equal(disc.labels, disc.labels_unfiltered)
    _check_consistent(disc)
    with pytest.raises(ValueError, match="discriminative"):
        disc.with_threshold(0.01)
    # bayesian=False is the same single deterministic pass, whatever T and seed
    _assert_same_result(run(samples=5, bayesian=False, seed=3), disc)


def test_keep_samples_progress_and_batches(run, unfiltered):
    assert unfiltered.seed_samples.shape == (T, NET, NET)
    assert unfiltered.seed_samples.dtype == np.float32
    assert run(tu=math.inf).seed_samples is None

    calls = []
    run(progress=lambda done, total: calls.append((done, total)))
    assert calls == [(i, T) for i in range(1, T + 1)]

    calls = []
    batched = run(batch_size=3, keep_samples=True, progress=lambda d, t: calls.append((d, t)))
    assert calls[-1] == (T, T) and calls == [(T, T)]
    assert batched.samples == T
    assert batched.seed_samples.shape == (T, NET, NET)
    _check_consistent(batched)

    calls = []
    run(samples=5, batch_size=2, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(2, 5), (4, 5), (5, 5)]


def test_streaming_statistics_equal_stacked_definitions(unfiltered, tiny_model, example):
    samples = unfiltered.seed_samples
    np.testing.assert_allclose(
        unfiltered.net_mutual_information, uncertainty.mutual_information(samples), atol=1e-5
    )
    x = to_network_input(example.image, NET)
    g = torch.Generator().manual_seed(5)
    summary = mc_forward(tiny_model, x, 4, batch_size=3, generator=g, keep_samples=True)
    stack = summary.seed_samples
    assert stack.shape == (4, NET, NET)
    np.testing.assert_allclose(summary.mean_seed, stack.mean(0), atol=1e-6)
    np.testing.assert_allclose(summary.expected_entropy, uncertainty.expected_entropy(stack), atol=1e-5)
    np.testing.assert_allclose(summary.predictive_entropy, uncertainty.predictive_entropy(stack), atol=1e-5)
    np.testing.assert_allclose(summary.mutual_information, uncertainty.mutual_information(stack), atol=1e-5)
    with pytest.raises(ValueError, match="samples"):
        mc_forward(tiny_model, x, 0)


# --------------------------------------------------------------------------- bad input
def test_segment_bad_input(run, tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.png"):
        run(tmp_path / "missing.png")
    text = tmp_path / "text.png"
    text.write_text("not an image at all\n")
    with pytest.raises(ImageError, match="not an image"):
        run(text)
    with pytest.raises(ImageError, match="1 x 1"):
        run(np.zeros((1, 1), np.uint8))
    with pytest.raises(ValueError, match="samples"):
        run(samples=-1)
    with pytest.raises(ValueError, match="network_size"):
        segment(np.zeros((32, 32), np.uint8), model=BranchedERFNet().eval(), network_size=60)


def test_segment_rgba_and_16bit_files(run, example, tmp_path):
    rgb = example.image
    reference = run(tu=math.inf)

    rgba = np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 200, np.uint8)], axis=2)
    rgba_path = tmp_path / "rgba.png"
    Image.fromarray(rgba, mode="RGBA").save(rgba_path)
    from_rgba = run(rgba_path, tu=math.inf)
    _assert_same_result(from_rgba, reference)

    grey16 = rgb[:, :, 0].astype(np.uint16) * 257
    grey16_path = tmp_path / "grey16.png"
    Image.fromarray(grey16).save(grey16_path)
    from_16 = run(grey16_path, tu=math.inf)
    assert from_16.labels.shape == rgb.shape[:2]
    assert from_16.net_output.shape == (5, NET, NET) and np.isfinite(from_16.net_output).all()
    assert np.isfinite(from_16.mutual_information).all()
    _check_consistent(from_16)


# --------------------------------------------------------------------------- the model
def test_published_state_dict_loads_strict(published_weights):
    sd = torch.load(published_weights, map_location="cpu", weights_only=True)
    keys = BranchedERFNet().load_state_dict(sd, strict=True)
    assert not keys.missing_keys and not keys.unexpected_keys


def test_mc_dropout_acts_only_in_train_or_mc_mode():
    layer = MCDropout(0.5)
    holder = nn.Sequential(layer).eval()
    x = torch.ones(8, 16, 3, 3)
    assert torch.equal(layer(x), x)

    g = torch.Generator().manual_seed(0)
    with mc_dropout(holder, g):
        assert layer.mc and layer.generator is g and not layer.training
        y = layer(x)
    assert not layer.mc and layer.generator is None
    assert torch.equal(layer(x), x)  # off again after the block
    # whole channels are dropped, the others scaled by 1 / (1 - p)
    per_channel = y.amax(dim=(2, 3))
    assert torch.equal(y, per_channel[:, :, None, None].expand_as(y))
    assert set(per_channel.unique().tolist()) == {0.0, 2.0}

    holder.train()
    try:
        assert set(layer(x).unique().tolist()) == {0.0, 2.0}
    finally:
        holder.eval()
    with pytest.raises(ValueError):
        MCDropout(1.0)


def test_batchnorm_stays_in_eval_inside_mc_dropout(tiny_model):
    x = torch.rand(1, 3, NET, NET, generator=torch.Generator().manual_seed(1))
    bns = [m for m in tiny_model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns
    stats = [(m.running_mean.clone(), m.running_var.clone()) for m in bns]
    with torch.inference_mode():
        plain = tiny_model(x)
        with mc_dropout(tiny_model, torch.Generator().manual_seed(0)):
            assert not tiny_model.training
            assert not any(m.training for m in bns)
            assert all(m.mc for m in tiny_model.dropout_layers())
            noisy = tiny_model(x)
        assert torch.equal(tiny_model(x), plain)
    assert not torch.equal(noisy, plain)
    for m, (mean, var) in zip(bns, stats):
        assert torch.equal(m.running_mean, mean) and torch.equal(m.running_var, var)
    assert len(tiny_model.dropout_layers()) == 13  # 5 blocks at p = 0.03, 8 at p = 0.3


def test_split_forward_equals_forward(tiny_model):
    x = torch.rand(2, 3, NET, NET, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        full = tiny_model(x)
        branch, skip = tiny_model.forward_deterministic(x)
        split = tiny_model.forward_stochastic(branch, skip)
    assert branch.shape == skip.shape == (2, 64, NET // 4, NET // 4)
    assert full.shape == (2, 5, NET, NET)
    torch.testing.assert_close(split, full, rtol=1e-5, atol=1e-6)


def test_same_generator_seed_same_mc_pass(tiny_model):
    x = torch.rand(1, 3, NET, NET, generator=torch.Generator().manual_seed(3))

    def mc_pass(seed):
        with torch.inference_mode(), mc_dropout(tiny_model, torch.Generator().manual_seed(seed)):
            return tiny_model(x)

    torch.manual_seed(100)
    first = mc_pass(7)
    torch.manual_seed(200)  # the global RNG does not matter when a generator is given
    second = mc_pass(7)
    assert torch.equal(first, second)
    assert not torch.equal(first, mc_pass(8))


# --------------------------------------------------------------------------- published model, real data
@pytest.fixture(scope="module")
def emps_image(emps_dir):
    name = split_names(emps_dir, "test")[0]
    assert name == (emps_dir / "test.csv").read_text().split()[0].removesuffix(".png")
    return load_emps_image(emps_dir, name)


def test_published_model_bayesian_on_emps(published_model, emps_image):
    result = segment(emps_image, samples=2, model=published_model, seed=0)
    assert result.labels.shape == emps_image.shape[:2]
    assert result.net_output.shape == (5, 512, 512)
    assert result.count > 0
    kept = result.instances[result.instances["kept"]]
    assert (kept["mean_mi"] < 0.0125).all()
    assert (result.instances.loc[~result.instances["kept"], "mean_mi"] >= 0.0125).all()
    _check_consistent(result)


def test_published_model_discriminative_on_emps(published_model, emps_image):
    first = segment(emps_image, samples=0, model=published_model)
    second = segment(emps_image, samples=0, model=published_model)
    assert first.count > 0
    _assert_same_result(first, second)
