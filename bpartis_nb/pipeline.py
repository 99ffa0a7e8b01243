"""The entry point: :func:`segment` finds the particles in a micrograph.

It chooses between the two ways of running the network on an image:

* the default path, :func:`bpartis_nb.inference.segment_resized`: the whole image
  resized to one network input, as the published model was trained and evaluated;
* the tiled path, :func:`bpartis_nb.tiling.segment_tiled`: overlapping network-sized
  tiles of the image at its own resolution (or a chosen one), stitched into one map.

This module sits above both, so that neither needs to import the other's caller, and
above the readers of what is drawn on real micrographs: with ``scale="auto"`` it finds
the pixel size (:func:`bpartis_nb.calibration.read_calibration`: the file's metadata,
else the scale bar) and the annotations (:func:`bpartis_nb.annotations.find_annotations`:
scale bar, labels, boxes, info strip), crops an info strip off before the network sees
the image, and sets aside any instance lying mostly on an annotation.
"""
from __future__ import annotations

import os
from dataclasses import replace
from typing import Optional, Union

import numpy as np
import torch

from .annotations import Annotations, annotation_instances, crop_strip, find_annotations, uncrop
from .calibration.auto import ScaleArgument, resolve_calibration
from .calibration.bars import as_rgb8, find_bars
from .calibration.base import boxes_overlap
from .calibration.ocr import ocr_available, read_corners
from .calibration.scalebar import read_whole
from .cluster import ClusterParams
from .inference import Segmentation, segment_resized
from .io import ImageSource, read_image
from .model import BranchedERFNet
from .montecarlo import DEFAULT_SAMPLES, DEFAULT_TU, Progress
from .preprocess import NETWORK_SIZE
from .tiling import segment_tiled

__all__ = ["segment", "find_marks", "calibration_fields"]


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
    scale: ScaleArgument = None,
    unit: str = "nm",
    annotations: Optional[bool] = None,
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
    scale : "auto", float, (bar_px, value, unit), Calibration or None
        The pixel size, kept in ``result.calibration``. "auto": the file's metadata,
        else the scale bar read in the image, else none with a warning naming the fix
        (:func:`bpartis_nb.calibration.read_calibration`); a number: the size of one
        pixel in ``unit``; a tuple: a scale bar measured by hand. None (the default)
        reads nothing and keeps the published model's behaviour exactly.
    unit : str
        Unit of a numeric ``scale``.
    annotations : bool, optional
        Find scale bars, labels, boxes and info strips; crop an info strip off before
        segmenting and set aside instances lying mostly on an annotation (flagged in
        ``result.instances["excluded_annotation"]``). Defaults to True when
        ``scale="auto"`` and False otherwise.

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
    if tiled and keep_samples:
        raise ValueError("keep_samples is not available with tiled=True (there is no single network input)")
    auto = isinstance(scale, str) and scale.strip().lower() == "auto"
    mask = auto if annotations is None else bool(annotations)
    if scale is None and not mask:
        return _segment_pixels(image, samples, tu, bayesian=bayesian, model=model, device=device, seed=seed,
                               batch_size=batch_size, cluster_params=cluster_params, network_size=network_size,
                               keep_samples=keep_samples, progress=progress, tiled=tiled, adaptive=adaptive)
    array = read_image(image)
    bars = texts = None
    if auto or mask:
        bars, texts = find_marks(array)
    calibration = resolve_calibration(scale, image if isinstance(image, (str, os.PathLike)) else array,
                                      image=array, unit=unit, bars=bars, texts=texts)
    found = find_annotations(array, bars=bars, texts=texts, calibration=calibration) if mask else None
    result = _segment_pixels(array if found is None else crop_strip(array, found), samples, tu, bayesian=bayesian,
                             model=model, device=device, seed=seed, batch_size=batch_size,
                             cluster_params=cluster_params, network_size=network_size, keep_samples=keep_samples,
                             progress=progress, tiled=tiled, adaptive=adaptive)
    if found is not None:
        if found.strip_box is not None:
            result = _uncropped(result, found)
        result = result.exclude(annotation_instances(result.labels_unfiltered, found.mask))
    return replace(result, calibration=calibration, annotations=found)


def find_marks(image: np.ndarray) -> tuple[list, list]:
    """Bar candidates and text lines of an image, found once for calibration and masking.

    Text is read in the whole image (at most 1024 pixels wide) and in its corners at a
    larger size (:func:`~bpartis_nb.calibration.ocr.read_corners`: panel letters).
    Without the OCR engine the text list is empty (the bars are still found).

    Parameters
    ----------
    image : ndarray of shape (M, N) or (M, N, C)

    Returns
    -------
    bars : list of bpartis_nb.calibration.bars.Bar
    texts : list of bpartis_nb.calibration.ocr.TextBox
    """
    rgb = as_rgb8(image)
    if not ocr_available():
        return find_bars(rgb), []
    texts = read_whole(rgb)
    # panel letters in the corners, which a reading of the whole image misses
    texts += [t for t in read_corners(rgb) if not any(boxes_overlap(t.box, u.box) for u in texts)]
    return find_bars(rgb), texts



def calibration_fields(result: Segmentation) -> dict:
    """What a summary records of a result's calibration and annotation masking.

    Returns
    -------
    dict
        ``calibration_source`` ("metadata", "scale_bar", "manual" or None),
        ``nm_per_px``, ``calibration`` (one line for people), ``calibration_warnings`` (joined by "; ")
        and ``excluded_annotation`` (instances set aside as annotations; None when
        masking was off).
    """
    c = result.calibration
    table = result.instances
    return {
        "calibration_source": None if c is None else c.source,
        "nm_per_px": None if c is None else c.nm_per_px,
        "calibration": None if c is None else c.describe(),
        "calibration_warnings": "" if c is None else "; ".join(c.warnings),
        "excluded_annotation": int(table["excluded_annotation"].sum()) if "excluded_annotation" in table else None,
    }


def _segment_pixels(image, samples, tu, *, bayesian, model, device, seed, batch_size, cluster_params,
                    network_size, keep_samples, progress, tiled, adaptive) -> Segmentation:
    """The network's segmentation of the pixels as they are (resized or tiled)."""
    if tiled:
        return segment_tiled(image, samples if bayesian else 0, tu, tile=network_size, model=model, device=device,
                             seed=seed, batch_size=batch_size, cluster_params=cluster_params, progress=progress,
                             adaptive=adaptive, scale=1.0 if tiled == "native" else "auto")
    return segment_resized(image, samples, tu, bayesian=bayesian, model=model, device=device, seed=seed,
                           batch_size=batch_size, cluster_params=cluster_params, network_size=network_size,
                           keep_samples=keep_samples, progress=progress, adaptive=adaptive)


def _uncropped(result: Segmentation, found: Annotations) -> Segmentation:
    """A result on the image without its strip, put back at the whole image's size
    (zeros on the strip's rows)."""
    def pad(a):
        return None if a is None else uncrop(a, found)

    return replace(result, labels=pad(result.labels), labels_unfiltered=pad(result.labels_unfiltered),
                   mutual_information=pad(result.mutual_information),
                   predictive_entropy=pad(result.predictive_entropy), expected_entropy=pad(result.expected_entropy))
