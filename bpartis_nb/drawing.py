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


#: Colour of masked annotation regions (scale bars, labels, info strips) in overlays.
ANNOTATION_SHADE = (150, 150, 150)


def shade_annotations(
    canvas: NDArray, mask: NDArray, colour: tuple[int, int, int] = ANNOTATION_SHADE,
    alpha: float = 0.55, spacing: int = 6,
) -> NDArray[np.uint8]:
    """Shade the masked annotation regions of an RGB overlay: a flat grey wash with
    diagonal hatching, outlined, so that they read as "not analysed" over any image.

    Parameters
    ----------
    canvas : ndarray of shape (M, N, 3), uint8
        The overlay (e.g. from :func:`label_overlay`); not modified.
    mask : ndarray of shape (M, N), bool
        Annotation pixels (:attr:`bpartis_nb.annotations.Annotations.mask`).
    colour : (int, int, int)
        RGB of the wash, the hatching and the outline.
    alpha : float
        Opacity of the wash, 0 to 1 (hatch lines and outline are opaque).
    spacing : int
        Pixels between hatch lines; 0 for no hatching.

    Returns
    -------
    ndarray of shape (M, N, 3), uint8

    Examples
    --------
    >>> canvas = np.zeros((6, 8, 3), np.uint8); mask = np.zeros((6, 8), bool); mask[1:5, 2:7] = True
    >>> out = shade_annotations(canvas, mask, colour=(200, 200, 200), alpha=0.5, spacing=0)
    >>> int(out[0, 0, 0]), int(out[1, 2, 0]), int(out[2, 3, 0])
    (0, 200, 100)
    """
    out = np.asarray(canvas, np.float64)
    region = np.asarray(mask, bool)
    if out.ndim != 3 or out.shape[:2] != region.shape:
        raise ValueError(f"canvas {out.shape} and mask {region.shape} do not match: give (M, N, 3) and (M, N)")
    out = out[:, :, :3].copy()
    shade = np.asarray(colour, np.float64)
    out[region] = (1 - alpha) * out[region] + alpha * shade
    if spacing > 0:
        rows, cols = np.indices(region.shape)
        out[region & ((rows + cols) % int(spacing) == 0)] = shade
    out[find_boundaries(region, mode="inner") & region] = shade
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


#: Frames of the scale bar and the label that gave a calibration, in overlays.
BAR_FRAME, LABEL_FRAME = (255, 220, 0), (0, 220, 255)


def frame_boxes(canvas: NDArray, boxes, colour: tuple[int, int, int], width: int = 2,
                pad: int = 2) -> NDArray[np.uint8]:
    """Draw rectangles around boxes on an RGB picture.

    Parameters
    ----------
    canvas : ndarray of shape (M, N, 3), uint8
        Not modified.
    boxes : iterable of (min_row, min_col, max_row, max_col) or None
        Max exclusive; None entries are skipped.
    colour : (int, int, int)
    width, pad : int
        Line width, and the gap between the box and the frame, in pixels.

    Returns
    -------
    ndarray of shape (M, N, 3), uint8

    Examples
    --------
    >>> out = frame_boxes(np.zeros((10, 10, 3), np.uint8), [(4, 4, 6, 6)], (9, 9, 9), width=1, pad=1)
    >>> out[2, 1:9, 0].tolist(), out[3, 1:9, 0].tolist()
    ([0, 9, 9, 9, 9, 9, 9, 0], [0, 9, 0, 0, 0, 0, 9, 0])
    """
    out = np.array(canvas, dtype=np.uint8, copy=True)
    m, n = out.shape[:2]
    for box in boxes:
        if box is None:
            continue
        r0, c0 = max(box[0] - pad - width, 0), max(box[1] - pad - width, 0)
        r1, c1 = min(box[2] + pad + width, m), min(box[3] + pad + width, n)
        frame = np.zeros((m, n), bool)
        frame[r0:r1, c0:c1] = True
        frame[min(r0 + width, r1):max(r1 - width, r0), min(c0 + width, c1):max(c1 - width, c0)] = False
        out[frame] = colour
    return out


def _axes(ax=None, figsize=(5.0, 4.0)):
    """The given axes, or a new figure's (created without pyplot's global state)."""
    if ax is not None:
        return ax.figure, ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()

