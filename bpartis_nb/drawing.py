"""Drawing instance maps: distinct colours, an instance map over its image, new axes.

The primitives shared by the package's pictures (:mod:`bpartis_nb.viz` and
:mod:`bpartis_nb.teaching_figures`). Figures are made without pyplot's global state, so
they work the same in scripts, notebooks and the dashboard.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
from numpy.typing import NDArray
from skimage.segmentation import find_boundaries

from .io import ImageSource, read_image
from .preprocess import _rgb, _to_unit_float

__all__ = ["FILTERED_COLOUR", "instance_colours", "label_overlay"]

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


def label_overlay(
    image: ImageSource, labels: NDArray, dropped: Optional[NDArray] = None, alpha: float = 0.35
) -> NDArray[np.uint8]:
    """The image in grey with the instances of ``labels`` filled in colour and outlined,
    and those of ``dropped`` (optional) outlined in red with a light red fill.

    Parameters
    ----------
    image : path or ndarray of shape (M, N) or (M, N, 3|4)
    labels : ndarray of shape (M, N), int
        Instance map, 0 = background.
    dropped : ndarray of shape (M, N), int, optional
        A second instance map drawn in red (e.g. instances removed by the filter).
    alpha : float
        Opacity of the fills.

    Returns
    -------
    ndarray of shape (M, N, 3), uint8
    """
    array = read_image(image)
    kept = np.asarray(labels)
    if array.shape[:2] != kept.shape:
        raise ValueError(f"image {array.shape[:2]} and labels {kept.shape} differ in shape")
    grey = _to_unit_float(_rgb(array)).mean(axis=2)
    canvas = np.repeat(grey[:, :, None], 3, axis=2) * 255.0
    colours = instance_colours(int(kept.max(initial=0)))
    fill = kept > 0
    canvas[fill] = (1 - alpha) * canvas[fill] + alpha * colours[kept[fill]]
    edge = find_boundaries(kept, mode="inner") & fill
    canvas[edge] = colours[kept[edge]]
    if dropped is not None:
        red = np.array(FILTERED_COLOUR, np.float64)
        dfill = dropped > 0
        canvas[dfill] = (1 - alpha / 2) * canvas[dfill] + (alpha / 2) * red
        canvas[find_boundaries(dropped, mode="inner") & dfill] = red
    return np.clip(canvas, 0, 255).astype(np.uint8)


def _axes(ax=None, figsize=(5.0, 4.0)):
    """The given axes, or a new figure's (created without pyplot's global state)."""
    if ax is not None:
        return ax.figure, ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()

