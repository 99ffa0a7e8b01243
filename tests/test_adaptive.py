"""Adaptive Monte-Carlo sampling: the stopping rule on summaries with known answers, and
the real model."""
import numpy as np
import pytest

from bpartis_nb.examples import perfect_output, synthetic_micrograph
from bpartis_nb.montecarlo import Convergence, MCSummary, mi_calibration
from bpartis_nb.pipeline import segment


def _summary(t, mi_inside, mi_outside=0.0):
    """A summary whose mean output is two known instances and whose MI map is given."""
    truth = np.zeros((64, 64), np.int32)
    truth[4:30, 4:30] = 1
    truth[34:60, 34:60] = 2
    seed = np.full((64, 64), 0.5, np.float32)
    # PE - EE = MI by construction: PE from the mean seed, EE set below it
    from bpartis_nb.uncertainty import binary_entropy

    mi = np.full((64, 64), mi_outside, np.float32)
    mi[truth == 1], mi[truth == 2] = mi_inside
    ee = binary_entropy(seed).astype(np.float32) - mi
    return MCSummary(mean_output=perfect_output(truth), mean_seed=seed, expected_entropy=ee, samples=t)


def test_calibration_undoes_the_small_sample_bias():
    assert mi_calibration(30) == 1.0
    assert mi_calibration(2) == pytest.approx((29 / 30) / 0.5)
    # the sample variance with divisor T, rescaled, matches the one with divisor 30
    rng = np.random.default_rng(0)
    p = rng.uniform(0.3, 0.7, (20000, 6))
    biased = p.var(axis=1).mean()
    assert biased * mi_calibration(6, reference=10**9) == pytest.approx(p.var(axis=1, ddof=1).mean(), rel=1e-6)
    with pytest.raises(ValueError):
        mi_calibration(1)


def _settled(t, values):
    """Raw MI whose calibrated (T = 30 scale) values are ``values``."""
    return _summary(t, tuple(v / mi_calibration(t) for v in values))


def test_stops_when_estimates_settle():
    rule = Convergence(tu=0.0125, min_samples=6, every=3)
    assert not rule(_settled(5, (0.001, 0.02)))      # before min_samples: no check
    assert not rule(_settled(6, (0.001, 0.02)))      # first check: nothing to compare yet
    assert not rule(_settled(7, (0.001, 0.02)))      # not a check step
    assert rule(_settled(9, (0.001, 0.0205)))        # moved by 0.0005 < tol 0.00125: stop
    assert rule.history[-1][0] == 9


def test_keeps_sampling_while_estimates_move_or_cross_the_threshold():
    rule = Convergence(tu=0.0125, min_samples=6, every=3)
    scale6, scale9 = mi_calibration(6), mi_calibration(9)
    rule(_summary(6, (0.001, 0.020 / scale6)))
    assert not rule(_summary(9, (0.001, 0.0160 / scale9)))   # moved by 0.004 > tol 0.00125
    assert not rule(_summary(12, (0.001, 0.0120 / mi_calibration(12))))  # small move, but crossed t_u
    assert rule(_summary(15, (0.001, 0.0119 / mi_calibration(15))))


def test_no_instances_stops_at_once():
    rule = Convergence(tu=0.0125, min_samples=4, every=2)
    empty = MCSummary(mean_output=np.full((5, 32, 32), -8.0, np.float32), mean_seed=np.zeros((32, 32), np.float32),
                      expected_entropy=np.zeros((32, 32), np.float32), samples=4)
    assert rule(empty)
    with pytest.raises(ValueError):
        Convergence(0.0125, min_samples=1)


def test_adaptive_segment_uses_fewer_samples(published_model):
    image = synthetic_micrograph().image
    full = segment(image, samples=30, seed=0, model=published_model)
    fast = segment(image, samples=30, seed=0, model=published_model, adaptive=True)
    assert 6 <= fast.samples < 30 and full.samples == 30
    assert abs(fast.count - full.count) <= 2
    again = segment(image, samples=30, seed=0, model=published_model, adaptive=True)
    assert again.samples == fast.samples and np.array_equal(again.labels, fast.labels)
    # without a finite threshold there is nothing to converge on: all samples run
    assert segment(image, samples=8, tu=float("inf"), seed=0, model=published_model, adaptive=True).samples == 8
