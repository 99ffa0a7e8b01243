"""Pictures of a segmentation: instance overlays (kept vs filtered out) and uncertainty maps."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import numpy as np
from numpy.typing import NDArray
from PIL import Image
from skimage.segmentation import find_boundaries

from .inference import Segmentation, _rgb, _to_unit_float
from .io import ImageSource, atomic_write, read_image

__all__ = ["overlay", "save_overlay", "instance_colours"]

#: Colour of instances removed by the uncertainty filter.
FILTERED_COLOUR = (230, 30, 30)


def instance_colours(n: int, seed: int = 0) -> NDArray[np.uint8]:
    """``n`` + 1 distinct bright colours (row 0 is black, for the background)."""
    rng = np.random.default_rng(seed)
    hues = (np.arange(n) * 0.618033988749895 + rng.uniform()) % 1.0
    # HSV to RGB with s = 0.65, v = 1, avoiding pure red (reserved for filtered instances)
    hues = 0.08 + hues * 0.84
    k = (np.array([5.0, 3.0, 1.0])[None, :] + hues[:, None] * 6) % 6
    rgb = 1 - 0.65 * np.clip(np.minimum(k, 4 - k), 0, 1)
    out = np.zeros((n + 1, 3), np.uint8)
    out[1:] = np.round(rgb * 255).astype(np.uint8)
    return out


def overlay(result: Segmentation, image: ImageSource, alpha: float = 0.35) -> NDArray[np.uint8]:
    """The micrograph in grey with kept particles filled in colour and outlined, and
    particles removed by the uncertainty filter outlined in red with a light red fill.

    Parameters
    ----------
    result : Segmentation
    image : path or ndarray
        The image that was segmented.
    alpha : float
        Opacity of the fills.

    Returns
    -------
    ndarray of shape (M, N, 3), uint8
    """
    array = read_image(image)
    if array.shape[:2] != result.shape:
        raise ValueError(f"image {array.shape[:2]} and segmentation {result.shape} differ in shape")
    grey = _to_unit_float(_rgb(array)).mean(axis=2)
    canvas = np.repeat(grey[:, :, None], 3, axis=2) * 255.0
    kept = result.labels
    dropped = np.where(result.labels == 0, result.labels_unfiltered, 0)
    colours = instance_colours(int(kept.max(initial=0)))
    fill = kept > 0
    canvas[fill] = (1 - alpha) * canvas[fill] + alpha * colours[kept[fill]]
    red = np.array(FILTERED_COLOUR, np.float64)
    dfill = dropped > 0
    canvas[dfill] = (1 - alpha / 2) * canvas[dfill] + (alpha / 2) * red
    canvas[find_boundaries(kept, mode="inner") & fill] = colours[kept[find_boundaries(kept, mode="inner") & fill]]
    canvas[find_boundaries(dropped, mode="inner") & dfill] = red
    return np.clip(canvas, 0, 255).astype(np.uint8)


def save_overlay(
    path: str | os.PathLike, result: Segmentation, image: ImageSource, alpha: float = 0.35
) -> Path:
    """Write :func:`overlay` as a PNG, atomically. Returns the path."""
    picture = overlay(result, image, alpha)
    return atomic_write(path, lambda p: Image.fromarray(picture).save(p, format="PNG"))
