"""Greedy seed clustering of pixel embeddings into particle instances.

The network gives, per pixel ``i``, an embedding ``e_i`` (offset + coordinate), a sigma
logit pair ``s_i`` and a seed probability. Instances are found one at a time:

1. Foreground pixels are those with seed > ``seed_threshold``; nothing is found when
   there are ``min_pixels`` or fewer of them.
2. While more than ``min_pixels`` foreground pixels are unclustered, the unclustered pixel
   with the highest seed (the first in row-major order on ties) is a centre ``mu`` with
   precision ``exp(10 s)`` taken at that pixel.
3. Every foreground pixel whose Gaussian score ``exp(-sum((e - mu)^2 exp(10 s)))`` exceeds
   ``score_threshold`` joins the proposal. The proposal becomes an instance when it has more
   than ``min_pixels`` pixels and more than ``min_unclustered_fraction`` of them were still
   unclustered (later instances take over pixels they share with earlier ones).
4. The centre and the proposal's pixels are marked clustered; stop when the best remaining
   seed is below ``seed_threshold``.

These are the rules of the published segmenter, so results agree with it pixel for pixel.
The implementation keeps the greedy order but makes each step cheap: seeds are visited
from a pre-sorted list, and since a pixel can only score above the threshold when
``|e_x - mu_x| < sqrt(ln(1/t) / exp(10 s_x))``, each step examines only the pixels whose
x-embedding lies in that window (found by binary search in the x-sorted embeddings)
instead of all foreground pixels.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
from numpy.typing import NDArray

from .model import coordinate_grid

__all__ = [
    "ClusterParams",
    "ClusterStep",
    "embedding_coordinates",
    "cluster_embeddings",
    "cluster_output",
    "cluster_steps",
]


@dataclass(frozen=True)
class ClusterParams:
    """Thresholds of the greedy clustering (defaults: the published model at 512 x 512).

    Attributes
    ----------
    seed_threshold : float
        Foreground and minimum centre seed probability.
    score_threshold : float
        Gaussian score a pixel needs to join a centre.
    min_pixels : int
        A proposal needs more than this many pixels; clustering stops when this many or
        fewer foreground pixels remain unclustered.
    min_unclustered_fraction : float
        A proposal needs more than this fraction of still-unclustered pixels.
    """

    seed_threshold: float = 0.5
    score_threshold: float = 0.5
    min_pixels: int = 128
    min_unclustered_fraction: float = 0.5


def embedding_coordinates(height: int, width: int) -> NDArray[np.float32]:
    """Pixel coordinates in [0, 1], shape (2, height, width), float32: x (column) then y (row).

    The numpy view of :func:`bpartis_nb.model.coordinate_grid`.
    """
    return coordinate_grid(height, width).numpy()


def cluster_embeddings(
    embedding: NDArray[np.floating],
    sigma: NDArray[np.floating],
    seed: NDArray[np.floating],
    params: ClusterParams = ClusterParams(),
    trace: Optional[list] = None,
) -> tuple[NDArray[np.int32], NDArray[np.float32]]:
    """Cluster pixel embeddings into an instance map.

    Parameters
    ----------
    embedding : ndarray of shape (2, M, N)
        Pixel embeddings (x, y), i.e. ``tanh(offset) + coordinates``.
    sigma : ndarray of shape (2, M, N)
        Sigma logits ``s``; the Gaussian precision is ``exp(10 s)``.
    seed : ndarray of shape (M, N)
        Seed probabilities.
    params : ClusterParams
    trace : list, optional
        When given, one dict per greedy step is appended: ``centre`` (flat pixel index),
        ``members`` (flat pixel indices scoring above the threshold), ``precision``
        (x, y), ``seed`` and ``accepted`` (see :func:`cluster_steps`).

    Returns
    -------
    labels : ndarray of shape (M, N), int32
        0 = background, instances 1..K in the order they were found (an instance
        whose pixels were all taken over by later ones is dropped and the ids closed up).
    seed_scores : ndarray of shape (K + 1,), float32
        Seed probability of each instance's centre (entry 0 is 0).

    Examples
    --------
    Two blobs whose pixels all point at their blob's centre:

    >>> emb = np.zeros((2, 40, 40), np.float32)
    >>> emb[:, :, :20] = 0.25; emb[:, :, 20:] = 0.75
    >>> seed = np.full((40, 40), 0.9, np.float32)
    >>> sigma = np.full((2, 40, 40), 0.3, np.float32)  # precision exp(3) ~ 20
    >>> labels, scores = cluster_embeddings(emb, sigma, seed)
    >>> np.unique(labels).tolist(), int(labels[0, 0]), int(labels[0, 39])
    ([1, 2], 1, 2)
    """
    embedding = np.asarray(embedding, dtype=np.float32)
    sigma = np.asarray(sigma, dtype=np.float32)
    seed = np.asarray(seed, dtype=np.float32)
    if embedding.ndim != 3 or embedding.shape[0] != 2 or sigma.shape != embedding.shape:
        raise ValueError(
            f"embedding and sigma must have shape (2, M, N); got {embedding.shape}, {sigma.shape}"
        )
    if seed.shape != embedding.shape[1:]:
        raise ValueError(f"seed must have shape {embedding.shape[1:]}, got {seed.shape}")

    labels = np.zeros(seed.shape, dtype=np.int32)
    mask = seed > params.seed_threshold
    n = int(mask.sum())
    if n <= params.min_pixels:
        return labels, np.zeros(1, np.float32)

    # Foreground pixels sorted by x-embedding, so a window in x is a contiguous slice.
    ex, ey = embedding[0][mask], embedding[1][mask]
    order_x = np.argsort(ex, kind="stable")
    ex, ey = ex[order_x], ey[order_x]
    px = np.exp(sigma[0][mask][order_x] * np.float32(10.0))
    py = np.exp(sigma[1][mask][order_x] * np.float32(10.0))
    sd = seed[mask][order_x]
    # Visiting order of centres: decreasing seed, ties by row-major position.
    visit = np.argsort(-seed[mask], kind="stable")
    rank_in_x = np.empty(n, dtype=np.intp)
    rank_in_x[order_x] = np.arange(n)
    visit = rank_in_x[visit]

    # score > t  <=>  d < ln(1/t); each term of d is non-negative.
    d_max = np.float32(-math.log(params.score_threshold))
    unclustered = np.ones(n, dtype=bool)
    n_unclustered = n
    assigned = np.zeros(n, dtype=np.int32)
    scores = [0.0]
    k = 0
    where = np.flatnonzero(mask) if trace is not None else None
    for c in visit:
        if n_unclustered <= params.min_pixels:
            break
        if not unclustered[c]:
            continue
        if sd[c] < params.seed_threshold:
            break
        unclustered[c] = False
        n_unclustered -= 1
        half = math.sqrt(float(d_max) / float(px[c])) * (1 + 1e-6) + 1e-7
        lo = int(np.searchsorted(ex, ex[c] - half, side="left"))
        hi = int(np.searchsorted(ex, ex[c] + half, side="right"))
        dx = ex[lo:hi] - ex[c]
        dy = ey[lo:hi] - ey[c]
        dist = dx * dx * px[c] + dy * dy * py[c]
        inside = np.exp(-dist) > np.float32(params.score_threshold)
        idx = np.flatnonzero(inside) + lo
        size = idx.size
        fresh = int(np.count_nonzero(unclustered[idx]))
        accepted = size > params.min_pixels and fresh / size > params.min_unclustered_fraction
        if accepted:
            k += 1
            assigned[idx] = k
            scores.append(float(sd[c]))
        if trace is not None:
            trace.append({"centre": int(where[order_x[c]]), "members": where[order_x[idx]],
                          "precision": (float(px[c]), float(py[c])), "seed": float(sd[c]),
                          "accepted": bool(accepted)})
        n_unclustered -= fresh
        unclustered[idx] = False

    # A later instance can take over every pixel of an earlier one: renumber the
    # surviving ids 1..K in the order they were found.
    present = np.zeros(k + 1, dtype=bool)
    present[assigned] = True
    present[0] = True
    lut = np.cumsum(present, dtype=np.int32) - 1
    out = np.zeros(n, dtype=np.int32)
    out[order_x] = lut[assigned]
    labels[mask] = out
    return labels, np.asarray(scores, dtype=np.float32)[present]


def cluster_output(
    output: NDArray[np.floating], params: ClusterParams = ClusterParams()
) -> tuple[NDArray[np.int32], NDArray[np.float32]]:
    """Cluster a raw network output.

    Parameters
    ----------
    output : ndarray or Tensor of shape (5, M, N)
        Raw (pre-activation) network output: offsets, sigma logits, seed logit, as
        produced by :class:`bpartis_nb.model.BranchedERFNet` (or the mean of several
        Monte-Carlo samples of it).
    params : ClusterParams

    Returns
    -------
    labels, seed_scores
        See :func:`cluster_embeddings`.
    """
    output = torch.as_tensor(output, dtype=torch.float32).cpu()
    if output.ndim != 3 or output.shape[0] != 5:
        raise ValueError(f"expected a raw output of shape (5, M, N), got {tuple(output.shape)}")
    height, width = output.shape[1:]
    embedding = torch.tanh(output[0:2]).numpy() + embedding_coordinates(height, width)
    seed = torch.sigmoid(output[4]).numpy()
    return cluster_embeddings(embedding, output[2:4].numpy(), seed, params)


@dataclass
class ClusterStep:
    """One step of the greedy clustering, for teaching and plots.

    Attributes
    ----------
    centre : tuple of int
        (row, column) of the centre pixel: the unclustered pixel with the highest seed.
    seed : float
        Its seed probability.
    sigma : tuple of float
        The Gaussian's standard deviations (x, y) in embedding units (image widths),
        ``1 / sqrt(2 exp(10 s))``.
    score : ndarray of shape (M, N)
        ``exp(-sum((e - mu)^2 exp(10 s)))`` for every pixel.
    members : ndarray of shape (M, N), bool
        Foreground pixels with score above the threshold: the proposal.
    accepted : bool
        Whether the proposal became an instance (large enough and mostly unclustered).
    """

    centre: tuple[int, int]
    seed: float
    sigma: tuple[float, float]
    score: NDArray[np.float32]
    members: NDArray[np.bool_]
    accepted: bool


def cluster_steps(
    output: NDArray[np.floating], params: ClusterParams = ClusterParams(), steps: int = 4
) -> list[ClusterStep]:
    """The first ``steps`` greedy steps of :func:`cluster_output`, with their score maps.

    Parameters
    ----------
    output : ndarray or Tensor of shape (5, M, N)
        Raw network output.
    params : ClusterParams
    steps : int
        How many steps to return (the clustering itself always runs to the end).

    Returns
    -------
    list of ClusterStep
    """
    output = torch.as_tensor(output, dtype=torch.float32).cpu()
    height, width = output.shape[1:]
    embedding = torch.tanh(output[0:2]).numpy() + embedding_coordinates(height, width)
    sigma = output[2:4].numpy()
    trace: list = []
    cluster_embeddings(embedding, sigma, torch.sigmoid(output[4]).numpy(), params, trace)
    out = []
    for step in trace[: max(0, int(steps))]:
        row, col = divmod(step["centre"], width)
        precision = np.asarray(step["precision"], np.float32)[:, None, None]
        mu = embedding[:, row, col][:, None, None]
        score = np.exp(-(((embedding - mu) ** 2) * precision).sum(0)).astype(np.float32)
        members = np.zeros(height * width, bool)
        members[step["members"]] = True
        out.append(ClusterStep(
            centre=(int(row), int(col)), seed=step["seed"],
            sigma=tuple(float(v) for v in 1.0 / np.sqrt(2.0 * precision.ravel())),
            score=score, members=members.reshape(height, width), accepted=step["accepted"],
        ))
    return out
