"""Entropies and mutual information: analytic answers."""
import numpy as np
import pytest

from bpartis_nb.uncertainty import (
    binary_entropy, expected_entropy, filter_instances, instance_mean, mutual_information, predictive_entropy,
)


def test_entropy_known_values():
    assert binary_entropy(0.5) == pytest.approx(np.log(2))
    assert binary_entropy(0.0) == pytest.approx(0, abs=2e-5)
    assert binary_entropy(1.0) == pytest.approx(0, abs=2e-5)
    p = 0.2
    assert binary_entropy(p) == pytest.approx(-(p * np.log(p) + (1 - p) * np.log(1 - p)))
    assert binary_entropy(np.array([0.3, 0.7])).tolist() == pytest.approx([binary_entropy(0.3)] * 2)


def test_identical_samples_have_zero_mi():
    rng = np.random.default_rng(0)
    one = rng.uniform(size=(1, 20, 20))
    samples = np.repeat(one, 7, axis=0)
    assert np.allclose(mutual_information(samples), 0, atol=1e-12)
    assert np.allclose(predictive_entropy(samples), expected_entropy(samples))


def test_mi_nonnegative_and_bounded():
    rng = np.random.default_rng(1)
    samples = rng.uniform(size=(30, 50, 50)).astype(np.float32)
    mi = mutual_information(samples)
    assert mi.min() >= -1e-6 and mi.max() <= np.log(2) + 1e-6
    # total = aleatoric + epistemic
    assert np.allclose(predictive_entropy(samples), expected_entropy(samples) + mi, atol=1e-6)


def test_disagreeing_confident_samples_are_epistemic():
    samples = np.array([[0.0], [1.0]] * 5)
    assert mutual_information(samples)[0] == pytest.approx(np.log(2), abs=1e-4)
    assert expected_entropy(samples)[0] == pytest.approx(0, abs=2e-5)


def test_instance_mean_and_filter():
    labels = np.array([[1, 1, 2, 0], [3, 3, 3, 0]])
    values = np.array([[0.1, 0.3, 0.02, 9.0], [0.001, 0.002, 0.003, 9.0]])
    means = instance_mean(labels, values)
    assert means[1:].tolist() == pytest.approx([0.2, 0.02, 0.002])
    filtered, kept = filter_instances(labels, means, tu=0.0125)
    assert kept.tolist() == [False, False, False, True]
    assert filtered.tolist() == [[0, 0, 0, 0], [1, 1, 1, 0]]
    filtered, kept = filter_instances(labels, means, tu=0.05)
    assert filtered.tolist() == [[0, 0, 1, 0], [2, 2, 2, 0]]
    with pytest.raises(ValueError):
        instance_mean(labels, values[:, :2])
