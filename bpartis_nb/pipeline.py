"""The entry point: :func:`segment` finds the particles in a micrograph.

It chooses between the two ways of running the network on an image:

* the default path, :func:`bpartis_nb.inference.segment_resized`: the whole image
  resized to one network input, as the published model was trained and evaluated;
* the tiled path, :func:`bpartis_nb.tiling.segment_tiled`: overlapping network-sized
  tiles of the image at its own resolution (or a chosen one), stitched into one map.

This module sits above both, so that neither needs to import the other's caller.
"""
from __future__ import annotations

from typing import Optional, Union

import torch

from .cluster import ClusterParams
from .inference import Segmentation, segment_resized
from .io import ImageSource
from .model import BranchedERFNet
from .montecarlo import DEFAULT_SAMPLES, DEFAULT_TU, Progress
from .preprocess import NETWORK_SIZE
from .tiling import segment_tiled

__all__ = ["segment"]


def segment(
    image: ImageSource,
    samples: int = DEFAULT_SAMPLES,
    tu: float = DEFAULT_TU,
    *,
    bayesian: bool = True,
    model: Optional[BranchedERFNet] = None,
    device: Optional[Union[str, torch.device]] = None,
    seed: Union[int, torch.Generator, None] = None,
    batch_size: int = 1,
    cluster_params: ClusterParams = ClusterParams(),
    network_size: int = NETWORK_SIZE,
    keep_samples: bool = False,
    progress: Progress = False,
    tiled: Union[bool, str] = False,
    adaptive: bool = False,
) -> Segmentation:
    """Find the particles in a micrograph, with Bayesian uncertainty.

    Parameters
    ----------
    image : path, PIL image or ndarray of shape (M, N) or (M, N, 3|4)
        Grayscale, RGB or RGBA, 8- or 16-bit or float.
    samples : int
        Monte-Carlo dropout samples T; 0 gives the discriminative single pass.
    tu : float
        Uncertainty threshold: instances with mean mutual information >= ``tu`` are dropped.
    bayesian : bool
        False is the same as ``samples=0``.
    model : BranchedERFNet, optional
        Defaults to the published weights (:func:`bpartis_nb.load_model`), loaded once.
    device : str or torch.device, optional
        Where to run; defaults to the model's device (CUDA when available for the
        default model).
    seed : int or torch.Generator, optional
        Makes the dropout draws reproducible.
    batch_size : int
        Monte-Carlo samples per forward pass (for GPUs).
    cluster_params : ClusterParams
        Clustering thresholds (defaults: the published segmenter's).
    network_size : int
        Side of the square the image is resized to (multiple of 8).
    keep_samples : bool
        Keep every sample's seed map in the result (for teaching and plots).
    progress : bool or callable
        Progress over Monte-Carlo samples: True for a bar, or ``f(done, total)``.
    tiled : bool or "native"
        Run the network on overlapping ``network_size`` tiles of the image instead of
        resizing the whole image (:func:`bpartis_nb.tiling.segment_tiled`; progress is
        then over tiles). True picks the scale (:func:`bpartis_nb.tiling.choose_scale`):
        particles are brought to the size the network was trained on, never enlarged,
        and an image that then fits one tile takes the default path. "native" tiles the
        image at its own resolution. Use it for large micrographs with small particles.
    adaptive : bool
        Stop sampling once every instance's uncertainty has settled
        (:class:`~bpartis_nb.montecarlo.Convergence`); ``samples`` is then the maximum
        and ``result.samples`` the number used. Instance uncertainties are put on the
        T = 30 scale (:func:`~bpartis_nb.montecarlo.mi_calibration`) so that the same
        ``tu`` applies.

    Returns
    -------
    Segmentation

    Examples
    --------
    >>> from bpartis_nb.examples import synthetic_micrograph
    >>> result = segment(synthetic_micrograph().image, samples=2, seed=0)  # doctest: +SKIP
    >>> result.count  # doctest: +SKIP
    """
    if samples < 0:
        raise ValueError(f"samples must be >= 0, got {samples}")
    if network_size % 8 or network_size < 64:
        raise ValueError(f"network_size must be a multiple of 8 and >= 64, got {network_size}")
    if tiled:
        if keep_samples:
            raise ValueError("keep_samples is not available with tiled=True (there is no single network input)")
        return segment_tiled(image, samples if bayesian else 0, tu, tile=network_size, model=model, device=device,
                             seed=seed, batch_size=batch_size, cluster_params=cluster_params, progress=progress,
                             adaptive=adaptive, scale=1.0 if tiled == "native" else "auto")
    return segment_resized(image, samples, tu, bayesian=bayesian, model=model, device=device, seed=seed,
                           batch_size=batch_size, cluster_params=cluster_params, network_size=network_size,
                           keep_samples=keep_samples, progress=progress, adaptive=adaptive)
