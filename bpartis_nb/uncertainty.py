"""Epistemic uncertainty of the seed map from Monte-Carlo dropout samples.

For a Bernoulli output ``p`` (the seed probability of a pixel), the paper decomposes the
total uncertainty of the Monte-Carlo estimate into data and model parts:

* predictive entropy ``H[mean_t p_t]`` (total),
* expected entropy ``mean_t H[p_t]`` (aleatoric),
* mutual information ``MI = H[mean_t p_t] - mean_t H[p_t]`` (epistemic, >= 0 by
  Jensen's inequality, since the binary entropy is concave).

Entropies are in nats. Probabilities are clipped to ``[eps, 1 - eps]`` (eps = 1e-6, as the
published segmenter) so that saturated sigmoids give finite logarithms.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "binary_entropy",
    "predictive_entropy",
    "expected_entropy",
    "mutual_information",
    "instance_mean",
    "filter_instances",
    "certain_instances",
    "keep_instances",
]

EPS = 1e-6


def binary_entropy(p: ArrayLike, eps: float = EPS) -> NDArray[np.floating]:
    """Entropy of a Bernoulli variable, elementwise, in nats.

    Parameters
    ----------
    p : array_like of any shape
        Probabilities.
    eps : float
        Clipping bound.

    Returns
    -------
    ndarray of the same shape

    Examples
    --------
    >>> float(binary_entropy(0.5))  # ln 2
    0.6931471805599453
    """
    p = np.asarray(p)
    if not np.issubdtype(p.dtype, np.floating):
        p = p.astype(np.float64)
    p = np.clip(p, eps, 1.0 - eps)
    return -(p * np.log(p) + (1.0 - p) * np.log1p(-p))


def predictive_entropy(samples: ArrayLike, axis: int = 0) -> NDArray[np.floating]:
    """Entropy of the Monte-Carlo mean probability (total uncertainty).

    Parameters
    ----------
    samples : array_like of shape (T, ...)
        Per-sample probabilities; ``axis`` indexes the samples.
    """
    return binary_entropy(np.mean(samples, axis=axis))


def expected_entropy(samples: ArrayLike, axis: int = 0) -> NDArray[np.floating]:
    """Mean of the per-sample entropies (aleatoric uncertainty).

    Parameters
    ----------
    samples : array_like of shape (T, ...)
    """
    return np.mean(binary_entropy(samples), axis=axis)


def mutual_information(samples: ArrayLike, axis: int = 0) -> NDArray[np.floating]:
    """Predictive minus expected entropy (epistemic uncertainty).

    Parameters
    ----------
    samples : array_like of shape (T, ...)

    Examples
    --------
    Identical samples carry no model uncertainty:

    >>> float(mutual_information([[0.3], [0.3]])[0])
    0.0

    Two confident samples that disagree carry ln 2 of it (up to the clipping):

    >>> round(float(mutual_information([[0.0], [1.0]])[0]), 4)
    0.6931
    """
    samples = np.asarray(samples)
    return predictive_entropy(samples, axis) - expected_entropy(samples, axis)


def instance_mean(labels: NDArray[np.integer], values: NDArray[np.floating]) -> NDArray[np.float64]:
    """Mean of ``values`` over each instance of a label map.

    Parameters
    ----------
    labels : ndarray of shape (M, N), int
        Instance map, 0 = background, ids 1..K (gaps allowed).
    values : ndarray of shape (M, N)
        A per-pixel quantity such as the mutual information.

    Returns
    -------
    ndarray of shape (labels.max() + 1,)
        ``out[k]`` is the mean over instance ``k``; NaN for ids with no pixels
        (including, usually, 0 when there is no background).
    """
    labels = np.asarray(labels)
    if labels.shape != np.shape(values):
        raise ValueError(f"labels {labels.shape} and values {np.shape(values)} differ in shape")
    flat = labels.ravel().astype(np.intp)
    n = int(flat.max(initial=0)) + 1
    sums = np.bincount(flat, weights=np.asarray(values, dtype=np.float64).ravel(), minlength=n)
    counts = np.bincount(flat, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts


def filter_instances(
    labels: NDArray[np.integer], instance_uncertainty: NDArray[np.floating], tu: float
) -> tuple[NDArray[np.int32], NDArray[np.bool_]]:
    """Drop instances whose mean uncertainty is not below ``tu``; renumber the rest.

    Parameters
    ----------
    labels : ndarray of shape (M, N), int
        Instance map with ids 1..K.
    instance_uncertainty : ndarray of shape (K + 1,)
        Mean uncertainty per id (as :func:`instance_mean` returns); entry 0 is ignored.
    tu : float
        Threshold: an instance is kept when its mean uncertainty is < ``tu``.

    Returns
    -------
    filtered : ndarray of shape (M, N), int32
        Kept instances renumbered 1..K' in the order of their original ids.
    kept : ndarray of shape (K + 1,), bool
        ``kept[k]`` tells whether id ``k`` survived (``kept[0]`` is False).

    Examples
    --------
    >>> lab = np.array([[1, 1, 0, 2, 3]])
    >>> filtered, kept = filter_instances(lab, np.array([np.nan, 0.001, 0.5, 0.002]), 0.0125)
    >>> filtered.tolist(), kept.tolist()
    ([[1, 1, 0, 0, 2]], [False, True, False, True])
    """
    kept = certain_instances(instance_uncertainty, tu)
    return keep_instances(labels, kept), kept


def certain_instances(instance_uncertainty: NDArray[np.floating], tu: float) -> NDArray[np.bool_]:
    """(K + 1,) bool: the ids whose mean uncertainty is below ``tu`` (entry 0 False).

    Examples
    --------
    >>> certain_instances(np.array([np.nan, 0.001, 0.5, np.nan]), 0.0125).tolist()
    [False, True, False, False]
    """
    u = np.asarray(instance_uncertainty, dtype=np.float64)
    kept = np.zeros(u.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        kept[1:] = u[1:] < tu
    return kept


def keep_instances(labels: NDArray[np.integer], kept: NDArray[np.bool_]) -> NDArray[np.int32]:
    """The instances of ``labels`` whose id is ``kept``, renumbered 1..K' in id order.

    Parameters
    ----------
    labels : ndarray of shape (M, N), int
        Instance map with ids 1..K.
    kept : ndarray of shape (K + 1,), bool
        Entry 0 is ignored (background stays 0).

    Examples
    --------
    >>> keep_instances(np.array([[1, 1, 0, 2, 3]]), np.array([True, True, False, True])).tolist()
    [[1, 1, 0, 0, 2]]
    """
    kept = np.asarray(kept, dtype=bool)
    lut = np.zeros(kept.shape, dtype=np.int32)
    lut[1:][kept[1:]] = np.arange(1, int(kept[1:].sum()) + 1, dtype=np.int32)
    return lut[np.asarray(labels)]
