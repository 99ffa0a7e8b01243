"""Classical baselines for Table 1: Otsu + watershed, and a Gaussian mixture + CCL.

Neither method is trained: both look only at the grey values of the one image they
segment, and return an instance map measured with the same metrics as BPartIS
(:func:`bpartis_nb.evaluation.evaluate_baseline`).

``otsu_watershed``
    Otsu threshold; the minority phase is the foreground (particles cover less of a
    micrograph than the background); small holes filled; markers at the local maxima of
    the distance transform, at least ``min_distance`` apart (by default three quarters of
    the typical particle radius); watershed of the negated distance inside the
    foreground. It splits touching round particles and over-splits elongated ones, and
    takes the background for the particles where particles cover most of the image.

``gmm_ccl``
    The paper's "GMM + CCL": a Gaussian mixture fitted by EM to the pixel intensities;
    every pixel goes to its most probable component; the most populous component is the
    background and all others are foreground -- with two components, the minority
    component is the particles. When the two most populous components hold nearly the
    same share of pixels (within ``ambiguity``), the darker of the two is taken as the
    background, so with two components the brighter is the foreground. Connected
    components (8-connected) are the instances, so touching particles stay merged.
"""
from __future__ import annotations

import os
from typing import Callable, Optional, Union

import numpy as np
from numpy.typing import NDArray
from PIL import Image
from scipy import ndimage as ndi

from .io import read_image

__all__ = ["otsu_watershed", "gmm_ccl", "fit_gmm_1d", "METHODS", "get_method", "run_baseline", "to_grey"]

ImageLike = Union[str, os.PathLike, NDArray, Image.Image]

#: Grey images whose values span less than this (after scaling to [0, 1]) hold no
#: contrast to threshold: both methods return an empty label map for them.
MIN_CONTRAST = 1e-6

_EIGHT = np.ones((3, 3), dtype=bool)


# ------------------------------------------------------------------------------ helpers
def to_grey(image: ImageLike) -> NDArray[np.float64]:
    """Read an image and turn it into grey values scaled to [0, 1].

    Parameters
    ----------
    image : path-like, PIL image or ndarray
        Anything :func:`bpartis_nb.io.read_image` accepts: (M, N) grey, (M, N, 3) RGB,
        (M, N, 4) RGBA; uint8, uint16, float.

    Returns
    -------
    ndarray of shape (M, N), float64
        Luminance (ITU-R 709 weights for colour; the alpha channel is dropped), scaled by
        the image's own minimum and maximum to [0, 1]; all zeros for a constant image.
        The scaling does not change either baseline (both are invariant to it), it only
        makes the numbers comparable across bit depths.
    """
    a = read_image(image).astype(np.float64)
    if a.ndim == 3:
        a = a[:, :, :3] @ np.array([0.2125, 0.7154, 0.0721])
    lo, hi = float(a.min()), float(a.max())
    if hi - lo <= 0.0:
        return np.zeros(a.shape, np.float64)
    return (a - lo) / (hi - lo)


def _component_sizes(labels: NDArray[np.integer]) -> NDArray[np.int64]:
    return np.bincount(labels.ravel())


def _drop_small_components(mask: NDArray[np.bool_], min_size: int) -> NDArray[np.bool_]:
    """``mask`` without its 8-connected components of fewer than ``min_size`` pixels."""
    if min_size <= 1:
        return mask
    labels, _ = ndi.label(mask, structure=_EIGHT)
    keep = _component_sizes(labels) >= min_size
    keep[0] = False
    return keep[labels]


def _fill_small_holes(mask: NDArray[np.bool_], max_hole: int) -> NDArray[np.bool_]:
    """``mask`` with its 4-connected background regions of at most ``max_hole`` pixels set."""
    if max_hole <= 0:
        return mask
    holes, _ = ndi.label(~mask)
    small = _component_sizes(holes) <= max_hole
    small[0] = False
    return mask | small[holes]


def _relabel(labels: NDArray[np.integer], min_size: int) -> NDArray[np.int32]:
    """Drop instances smaller than ``min_size`` pixels and number the rest 1..K by first pixel."""
    sizes = _component_sizes(labels)
    keep = sizes >= max(1, int(min_size))
    keep[0] = False
    flat = labels.ravel()
    kept = flat[keep[flat]]
    # order of first appearance in raster order, so the numbering is deterministic
    ids, first = np.unique(kept, return_index=True)
    ids = ids[np.argsort(first)]
    lut = np.zeros(sizes.size, dtype=np.int32)
    lut[ids] = np.arange(1, ids.size + 1, dtype=np.int32)
    return lut[labels]


# ----------------------------------------------------------------------- otsu watershed
def _typical_radius(distance: NDArray[np.floating], components: NDArray[np.integer], n: int) -> float:
    """Area-weighted median of the components' radii (largest distance to the background).

    That is the radius of the component a typical foreground pixel lies in, so a crowd
    of small specks (noise, texture) does not shrink it below the particles' size.
    """
    index = np.arange(1, n + 1)
    radii = np.asarray(ndi.maximum(distance, components, index=index), dtype=np.float64)
    areas = _component_sizes(components)[1:].astype(np.float64)
    order = np.argsort(radii)
    cumulative = np.cumsum(areas[order])
    return float(radii[order][np.searchsorted(cumulative, 0.5 * cumulative[-1])])


def otsu_watershed(
    image: ImageLike,
    min_size: int = 30,
    footprint: Optional[NDArray[np.bool_]] = None,
    min_distance: Optional[int] = None,
    radius_fraction: float = 0.75,
) -> NDArray[np.int32]:
    """Otsu threshold, then a distance-transform watershed to split touching particles.

    Parameters
    ----------
    image : path-like, PIL image or ndarray of shape (M, N) or (M, N, C)
        Micrograph (see :func:`to_grey`).
    min_size : int
        Foreground components and final instances smaller than this (pixels) are removed;
        holes in the foreground up to this size are filled.
    footprint : ndarray of bool, optional
        Neighbourhood in which a marker must be the maximum of the distance transform
        (passed to :func:`skimage.feature.peak_local_max`). Default: the square of side
        ``2 * min_distance + 1``.
    min_distance : int, optional
        Smallest distance (Chebyshev, pixels) between two markers. Default:
        ``radius_fraction`` times the typical particle radius (at least 2): the median,
        weighted by area, over the foreground components of their largest distance to
        the background.
    radius_fraction : float
        See ``min_distance``. 0.75 was chosen from 0.35, 0.5, 0.75 and 1.0 on the first 40
        EMPS training images (larger values merge fewer fragments of one particle but
        start to miss the split between two touching particles).

    Returns
    -------
    ndarray of shape (M, N), int32
        0 = background, instances 1..K.
    """
    from skimage.feature import peak_local_max
    from skimage.filters import threshold_otsu
    from skimage.segmentation import watershed

    grey = to_grey(image)
    if float(grey.max() - grey.min()) <= MIN_CONTRAST:
        return np.zeros(grey.shape, np.int32)
    t = threshold_otsu(grey)
    above = grey > t
    # particles are the minority phase: flip when most pixels lie above the threshold
    fg = ~above if above.mean() > 0.5 else above
    fg = _fill_small_holes(fg, min_size)
    fg = _drop_small_components(fg, min_size)
    if not fg.any():
        return np.zeros(grey.shape, np.int32)

    distance = ndi.distance_transform_edt(fg)
    components, n = ndi.label(fg, structure=_EIGHT)
    if min_distance is None:
        min_distance = max(2, int(round(radius_fraction * _typical_radius(distance, components, n))))
    peaks = peak_local_max(
        distance,
        min_distance=int(min_distance),
        footprint=footprint,
        labels=components,
        exclude_border=False,
    )
    peak_mask = np.zeros(grey.shape, dtype=bool)
    peak_mask[tuple(peaks.T)] = True
    # adjacent peak pixels (a plateau of the distance) are one marker, not several
    markers, n_markers = ndi.label(peak_mask, structure=_EIGHT)
    # a component without any marker still becomes one instance
    has_marker = np.zeros(n + 1, dtype=bool)
    has_marker[components[peak_mask]] = True
    missing = np.flatnonzero(~has_marker[1:]) + 1
    if missing.size:
        spots = ndi.maximum_position(distance, components, index=missing)
        for k, spot in enumerate(spots, start=1):
            markers[spot] = n_markers + k
    labels = watershed(-distance, markers, mask=fg)
    return _relabel(labels, min_size)


# ------------------------------------------------------------------------------ GMM + CCL
def fit_gmm_1d(
    values: NDArray[np.floating],
    n_components: int = 2,
    max_iter: int = 200,
    tol: float = 1e-6,
    min_var: float = 1e-5,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Fit a one-dimensional Gaussian mixture by expectation-maximisation.

    Parameters
    ----------
    values : ndarray of shape (P,)
        Samples (here grey values in [0, 1]).
    n_components : int
        Number of Gaussians K.
    max_iter, tol : int, float
        Stop after ``max_iter`` EM steps or when the mean log-likelihood per sample
        changes by less than ``tol``.
    min_var : float
        Floor of every variance (keeps a component on a single grey level finite).

    Returns
    -------
    weights, means, variances : ndarray of shape (K,)
        Sorted by increasing mean. Initialisation: means at the quantiles
        (k + 0.5) / K of the data (evenly spaced over the data's range instead when two
        of those quantiles coincide), the data's variance for all, equal weights.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = np.concatenate([rng.normal(0.2, 0.05, 3000), rng.normal(0.7, 0.05, 1000)])
    >>> w, mu, var = fit_gmm_1d(x)
    >>> np.round(w, 2).tolist(), np.round(mu, 2).tolist()
    ([0.75, 0.25], [0.2, 0.7])
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    k = int(n_components)
    if k < 1:
        raise ValueError(f"n_components must be >= 1, got {n_components}")
    if x.size < k:
        raise ValueError(f"need at least {k} values to fit {k} components, got {x.size}")
    means = np.quantile(x, (np.arange(k) + 0.5) / k)
    lo, hi = float(x.min()), float(x.max())
    if k > 1 and np.min(np.diff(means)) <= 1e-3 * (hi - lo):
        # a phase that fills most quantiles (a flat background) would start two
        # components on the same value, and EM never separates twins: spread them out
        means = lo + (hi - lo) * (np.arange(k) + 0.5) / k
    variances = np.full(k, max(float(x.var()), min_var))
    weights = np.full(k, 1.0 / k)
    previous = -np.inf
    for _ in range(max_iter):
        # E step, in logs: log w_k + log N(x | mu_k, var_k)
        log_p = _log_joint(x, weights, means, variances)
        top = log_p.max(axis=1, keepdims=True)
        log_norm = top + np.log(np.exp(log_p - top).sum(axis=1, keepdims=True))
        resp = np.exp(log_p - log_norm)
        # M step
        nk = resp.sum(axis=0) + 1e-12
        weights = nk / x.size
        means = (resp * x[:, None]).sum(axis=0) / nk
        variances = np.maximum((resp * (x[:, None] - means) ** 2).sum(axis=0) / nk, min_var)
        current = float(log_norm.mean())
        if abs(current - previous) < tol:
            break
        previous = current
    order = np.argsort(means)
    return weights[order], means[order], variances[order]


def _log_joint(
    x: NDArray[np.float64], weights: NDArray[np.float64], means: NDArray[np.float64], variances: NDArray[np.float64]
) -> NDArray[np.float64]:
    """log(w_k N(x | mu_k, var_k)), shape (P, K)."""
    d = x[:, None] - means[None, :]
    return np.log(weights) - 0.5 * np.log(2.0 * np.pi * variances) - 0.5 * d * d / variances


def gmm_ccl(
    image: ImageLike,
    n_components: int = 2,
    min_size: int = 30,
    random_state: Optional[int] = 0,
    max_samples: int = 50_000,
    ambiguity: float = 0.05,
) -> NDArray[np.int32]:
    """Gaussian mixture on the grey values, then connected-component labelling.

    Parameters
    ----------
    image : path-like, PIL image or ndarray of shape (M, N) or (M, N, C)
        Micrograph (see :func:`to_grey`).
    n_components : int
        Components of the mixture.
    min_size : int
        Connected components smaller than this (pixels) are dropped.
    random_state : int, optional
        Seed of the pixel subsample the mixture is fitted to (None: unseeded).
    max_samples : int
        At most this many pixels, drawn without replacement, are used for the fit;
        every pixel is then assigned.
    ambiguity : float
        Foreground rule: the most populous component is the background and the others
        are the foreground; if the two most populous components' shares of the pixels
        differ by less than ``ambiguity``, the darker of them is the background.

    Returns
    -------
    ndarray of shape (M, N), int32
        0 = background, instances 1..K (8-connected components).
    """
    grey = to_grey(image)
    if float(grey.max() - grey.min()) <= MIN_CONTRAST:
        return np.zeros(grey.shape, np.int32)
    flat = grey.ravel()
    if flat.size > max_samples:
        rng = np.random.default_rng(random_state)
        sample = flat[rng.choice(flat.size, size=max_samples, replace=False)]
    else:
        sample = flat
    weights, means, variances = fit_gmm_1d(sample, n_components)
    # posterior argmax per pixel, computed once per distinct grey value
    levels, inverse = np.unique(flat, return_inverse=True)
    assignment = np.argmax(_log_joint(levels, weights, means, variances), axis=1)[inverse.ravel()]
    shares = np.bincount(assignment, minlength=means.size) / flat.size
    by_share = np.argsort(-shares, kind="stable")
    background = int(by_share[0])
    if means.size > 1 and shares[by_share[0]] - shares[by_share[1]] < ambiguity:
        background = int(min(by_share[0], by_share[1]))  # components are sorted by mean
    fg = (assignment != background).reshape(grey.shape)
    labels, _ = ndi.label(fg, structure=_EIGHT)
    return _relabel(labels, min_size)


# ------------------------------------------------------------------------------ registry
METHODS: dict[str, Callable[..., NDArray[np.int32]]] = {
    "otsu_watershed": otsu_watershed,
    "gmm_ccl": gmm_ccl,
}


def get_method(name: str) -> Callable[..., NDArray[np.int32]]:
    """The baseline function called ``name``; ValueError listing the choices if unknown."""
    try:
        return METHODS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown baseline {name!r}; choose one of {', '.join(sorted(METHODS))}") from None


def run_baseline(name: str, image: ImageLike, **kwargs) -> NDArray[np.int32]:
    """Segment ``image`` with the baseline called ``name`` (a key of :data:`METHODS`).

    Parameters
    ----------
    name : str
        ``"otsu_watershed"`` or ``"gmm_ccl"``.
    image : path-like, PIL image or ndarray of shape (M, N) or (M, N, C)
    **kwargs
        Passed to the method.

    Returns
    -------
    ndarray of shape (M, N), int32

    Raises
    ------
    ValueError
        Unknown ``name``; the message lists the choices.
    """
    return get_method(name)(image, **kwargs)
