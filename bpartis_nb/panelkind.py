"""What a panel of a figure holds: a micrograph, a plot or something else.

:func:`classify_panel` decides on a few interpretable features (:func:`panel_features`):
the panel's most common colour and how much of it there is, the grey levels and colour of
the rest, long straight lines across and down (plot axes, frames), and *continuous tone*:
pixels that vary gently far from any sharp edge (a micrograph's shading) or that hold
noise everywhere (a micrograph's grain). Drawings, plots and text lack both, even saved
as JPEG, whose ringing stays next to the edges that cause it.

:class:`ToneTable` answers "has this box a micrograph's tone?" in O(1) for any box of a
picture; :mod:`bpartis_nb.panelcut` asks it while cutting a figure. :func:`as_float_rgb`
turns any image (grey, RGB or RGBA; any dtype) into the float RGB both work on.

The thresholds were chosen on the 465 EMPS micrographs (each one must be a micrograph:
smooth >= 0.8 % or else textured >= 64 %) against matplotlib plots and drawings saved as
PNG and as JPEG (``tests/test_panels.py``); see the constants.

Examples
--------
>>> from bpartis_nb.examples import synthetic_micrograph
>>> classify_panel(synthetic_micrograph(size=128, n_particles=8, radius=(6, 10)).image)[0]
'micrograph'
>>> frame = np.full((100, 120), 255, np.uint8)
>>> frame[[10, 89], 10:110] = 0
>>> frame[10:90, [10, 109]] = 0
>>> kind, confidence, reason = classify_panel(frame)
>>> kind, confidence
('plot', 1.0)
>>> reason.split(": ")[-1]
'a plot (axes on a flat background, no continuous tone)'
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

__all__ = [
    "Kind",
    "PanelFeatures",
    "ToneTable",
    "as_float_rgb",
    "classify_panel",
    "panel_features",
    "tone_maps",
]

Kind = Literal["micrograph", "plot", "other"]
#: (min_row, min_col, max_row, max_col), max exclusive.
Box = tuple[int, int, int, int]

#: A pixel belongs to a panel's background when within 2.5 % (6 of 255) of its most
#: common colour; a straight line's pixels differ from their neighbours by no more.
BACKGROUND_TOL = 0.025
#: Grey range of an exactly flat 3 x 3 neighbourhood (one step of 255, for rounding).
EXACT = 1.01 / 255
#: A pixel stands out from a flat colour, or from its neighbour across a sharp edge, by
#: more than this (about 15 of 255).
EDGE_CONTRAST = 0.06
#: Smooth pixels lie further than this from a sharp edge (beyond JPEG's 8 x 8 ringing,
#: and its 16 x 16 colour blocks).
SMOOTH_DISTANCE = 12
#: A pixel is textured when no exactly flat pixel lies within TEXTURE_RADIUS of it.
TEXTURE_RADIUS = 2
#: Continuous tone (a micrograph's look): at least SMOOTH_TONE of the pixels smooth, or at
#: least TEXTURED of them textured. Chosen on the 465 EMPS micrographs (each has one or the
#: other: smooth >= 0.8 %, or else textured >= 64 %) against matplotlib plots and drawings
#: saved as PNG (0 % smooth, <= 6 % textured) and as JPEG (<= 0.3 % smooth, <= 35 %
#: textured) and text (24 % textured in a narrow label column).
SMOOTH_TONE = 0.008
TEXTURED = 0.5
#: Coloured: at least this share of the busy pixels (no EMPS micrograph has any).
COLOURED = 0.25
#: A plot: long straight lines in both directions on a background covering at least this
#: (bar charts with wide bars have 45 %).
PLOT_BACKGROUND = 0.3
#: Micrographs have many grey levels (EMPS: 15 to 220, 1 % under 26), antialiased PNG
#: plots few (6 to 42); a confidence cue only, as JPEG noise adds levels to plots.
MANY_LEVELS = 20
#: Chroma (max - min of R, G, B) above which a pixel counts as coloured.
CHROMA = 0.15
#: A long straight line covers at least this fraction of the panel's width (height).
LONG_LINE = 0.5


def as_float_rgb(image: NDArray) -> NDArray[np.float32]:
    """Any image array as float RGB in [0, 1].

    Parameters
    ----------
    image : ndarray of shape (M, N), (M, N, 1), (M, N, 3) or (M, N, 4)
        bool, uint8 (divided by 255), float already in [0, 1] (kept) or anything else
        (stretched from its own minimum to maximum, as 12-bit detectors rarely fill a
        uint16). An alpha channel is composited over white; NaNs become the minimum.

    Returns
    -------
    ndarray of shape (M, N, 3), float32

    Examples
    --------
    >>> as_float_rgb(np.array([[0, 255]], np.uint8)).tolist()
    [[[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]]
    >>> as_float_rgb(np.array([[[0, 0, 0, 0]]], np.uint8)).tolist()  # transparent: white
    [[[1.0, 1.0, 1.0]]]
    """
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (3, 4))):
        raise ValueError(f"expected an (M, N), (M, N, 3) or (M, N, 4) image, got shape {a.shape}")
    if not (a.dtype == bool or np.issubdtype(a.dtype, np.number)):
        raise ValueError(f"pixel type {a.dtype} is not numeric")
    if a.ndim == 3 and a.shape[2] == 4:
        colour, alpha = _to_unit(a[:, :, :3]), a[:, :, 3]
        if np.issubdtype(alpha.dtype, np.integer):
            alpha = alpha / np.iinfo(alpha.dtype).max
        alpha = np.clip(np.nan_to_num(alpha.astype(np.float32), nan=1.0), 0, 1)[:, :, None]
        return (colour * alpha + (1 - alpha)).astype(np.float32)
    colour = _to_unit(a)
    if colour.ndim == 2:
        colour = np.repeat(colour[:, :, None], 3, axis=2)
    return colour


def _to_unit(a: NDArray) -> NDArray[np.float32]:
    """Pixel values (any shape) in [0, 1]: see :func:`as_float_rgb`."""
    if a.dtype == bool:
        return a.astype(np.float32)
    if a.dtype == np.uint8:
        return a.astype(np.float32) / 255.0
    f = a.astype(np.float64)
    finite = np.isfinite(f)
    if not finite.any():
        return np.zeros(a.shape, np.float32)
    lo, hi = float(f[finite].min()), float(f[finite].max())
    f = np.where(finite, f, lo)
    if np.issubdtype(a.dtype, np.floating) and lo >= 0 and hi <= 1:
        return f.astype(np.float32)
    return ((f - lo) / (hi - lo) if hi > lo else np.zeros_like(f)).astype(np.float32)


# --- continuous tone ---------------------------------------------------------------------


def tone_maps(grey: NDArray[np.floating]) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Smooth and textured pixels (see :class:`PanelFeatures`).

    Parameters
    ----------
    grey : ndarray of shape (M, N), float in [0, 1]

    Returns
    -------
    smooth, textured : ndarray of shape (M, N), bool
    """
    spread = ndimage.maximum_filter(grey, 3) - ndimage.minimum_filter(grey, 3)
    flat = spread <= EXACT
    near_sharp = ndimage.maximum_filter(spread > EDGE_CONTRAST, 2 * SMOOTH_DISTANCE + 1)
    near_flat = ndimage.maximum_filter(flat, 2 * TEXTURE_RADIUS + 1)
    return ~flat & ~near_sharp, ~near_flat


class ToneTable:
    """The tone maps of a picture as summed-area tables, so that whether any box of it has
    continuous tone costs O(1).

    Parameters
    ----------
    grey : ndarray of shape (M, N), float in [0, 1]

    Examples
    --------
    >>> grey = np.zeros((40, 80), np.float32)
    >>> grey[:, 40:] = np.random.default_rng(0).random((40, 40))  # noise on the right
    >>> table = ToneTable(grey)
    >>> table.tonal((0, 0, 40, 40)), table.tonal((0, 40, 40, 80))
    (False, True)
    """

    def __init__(self, grey: NDArray[np.floating]):
        smooth, textured = tone_maps(grey)
        self._smooth = _summed_area(smooth)
        self._textured = _summed_area(textured)

    def tonal(self, box: Box) -> bool:
        """Whether the box (min_row, min_col, max_row, max_col) has continuous tone: at
        least SMOOTH_TONE of its pixels smooth or TEXTURED of them textured."""
        area = max(1, (box[2] - box[0]) * (box[3] - box[1]))
        return (_box_sum(self._smooth, box) >= SMOOTH_TONE * area
                or _box_sum(self._textured, box) >= TEXTURED * area)


def _summed_area(mask: NDArray[np.bool_]) -> NDArray[np.int64]:
    """Summed-area table of an (M, N) mask; shape (M + 1, N + 1), zeros in row and column 0."""
    table = np.zeros((mask.shape[0] + 1, mask.shape[1] + 1), np.int64)
    table[1:, 1:] = mask.cumsum(axis=0).cumsum(axis=1)
    return table


def _box_sum(table: NDArray[np.int64], box: Box) -> int:
    """The sum of the mask over ``box`` from its summed-area table."""
    r0, c0, r1, c1 = box
    return int(table[r1, c1] - table[r0, c1] - table[r1, c0] + table[r0, c0])


# --- features ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PanelFeatures:
    """Interpretable measurements of one panel (see :func:`panel_features`).

    Attributes
    ----------
    background : (float, float, float)
        The most common colour (R, G, B in [0, 1]; binned to 32 levels per channel).
    background_fraction : float
        Share of pixels within BACKGROUND_TOL of it.
    grey_levels : float
        Effective number of grey levels (exp of the entropy of the 256-bin grey histogram)
        among the other, busy pixels: a few for drawings, dozens for micrographs.
    coloured_fraction : float
        Share of the busy pixels with chroma (max - min of R, G, B) above CHROMA.
    smooth_fraction : float
        Share of pixels that vary gently (grey range in the 3 x 3 neighbourhood above
        1/255 and at most EDGE_CONTRAST) and lie more than SMOOTH_DISTANCE pixels from any
        sharp edge: the continuous tone of a micrograph's background, which drawings lack
        (JPEG ringing stays next to the edges that cause it).
    textured_fraction : float
        Share of pixels with no exactly flat 3 x 3 neighbourhood (grey range at most 1/255)
        within TEXTURE_RADIUS: noise, which fills micrographs and which drawings have only
        in their antialiased and JPEG-ringing edges.
    horizontal_lines, vertical_lines : int
        Long straight lines (at least LONG_LINE of the panel's width / height) that stand
        out from their surroundings: plot axes and frames.
    """

    background: tuple[float, float, float]
    background_fraction: float
    grey_levels: float
    coloured_fraction: float
    smooth_fraction: float
    textured_fraction: float
    horizontal_lines: int
    vertical_lines: int


def panel_features(crop: NDArray) -> PanelFeatures:
    """Measure the features :func:`classify_panel` decides on.

    Parameters
    ----------
    crop : ndarray of shape (M, N) or (M, N, 3|4), any dtype
        One panel.

    Returns
    -------
    PanelFeatures
    """
    rgb = as_float_rgb(crop)
    grey = rgb.mean(axis=2)
    background = _modal_colour(rgb)
    busy = np.abs(rgb - background).max(axis=2) > BACKGROUND_TOL
    if busy.any():
        hist = np.bincount(np.round(grey[busy] * 255).astype(np.int64), minlength=256) / busy.sum()
        hist = hist[hist > 0]
        grey_levels = float(np.exp(-(hist * np.log(hist)).sum()))
        chroma = rgb.max(axis=2) - rgb.min(axis=2)
        coloured = float((chroma[busy] > CHROMA).mean())
    else:
        grey_levels, coloured = 1.0, 0.0
    smooth, textured = tone_maps(grey)
    return PanelFeatures(
        background=(float(background[0]), float(background[1]), float(background[2])),
        background_fraction=float(1.0 - busy.mean()),
        grey_levels=grey_levels,
        coloured_fraction=coloured,
        smooth_fraction=float(smooth.mean()),
        textured_fraction=float(textured.mean()),
        horizontal_lines=_count_long_lines(grey),
        vertical_lines=_count_long_lines(grey.T),
    )


def _modal_colour(rgb: NDArray[np.float32]) -> NDArray[np.float32]:
    """The most common colour of an (M, N, 3) image, binned to 32 levels per channel, as
    the mean of its bin; shape (3,)."""
    q = np.minimum((rgb * 32).astype(np.int64), 31)
    code = (q[:, :, 0] * 32 + q[:, :, 1]) * 32 + q[:, :, 2]
    mode = np.bincount(code.ravel(), minlength=32**3).argmax()
    return rgb[code == mode].mean(axis=0)


def _count_long_lines(grey: NDArray[np.float32]) -> int:
    """Rows holding a straight run of at least LONG_LINE of the width that stands out from
    the row above or below; adjacent such rows count as one line. Shape (M, N)."""
    m, n = grey.shape
    if m < 3 or n < 2:
        return 0
    stands_out = (np.abs(grey[1:-1] - grey[:-2]) > EDGE_CONTRAST) | (np.abs(grey[1:-1] - grey[2:]) > EDGE_CONTRAST)
    along = np.abs(grey[1:-1, 1:] - grey[1:-1, :-1]) <= BACKGROUND_TOL
    line = stands_out[:, 1:] & stands_out[:, :-1] & along
    line = ndimage.binary_closing(line, structure=np.ones((1, 5), bool))  # bridge tick marks
    rows = _longest_runs(line) + 1 >= LONG_LINE * n
    return int(np.count_nonzero(rows & ~np.r_[False, rows[:-1]]))


def _longest_runs(mask: NDArray[np.bool_]) -> NDArray[np.int64]:
    """Longest run of True in each row of a 2-D boolean array; shape (M,)."""
    if mask.shape[1] == 0:
        return np.zeros(mask.shape[0], np.int64)
    idx = np.arange(1, mask.shape[1] + 1)
    last_false = np.maximum.accumulate(np.where(mask, 0, idx), axis=1)
    return (idx - last_false).max(axis=1)


# --- the verdict ----------------------------------------------------------------------------


def classify_panel(crop: NDArray) -> tuple[Kind, float, str]:
    """Say whether a panel is a micrograph, a plot or something else.

    Rules, in order (thresholds are the module constants; see :class:`PanelFeatures`):

    - **plot**: long straight lines both across and down (axes or a frame), a flat
      background covering at least PLOT_BACKGROUND, and no continuous tone;
    - **other**: coloured (at least COLOURED of the busy pixels: photos, schematics, colour
      maps) or without continuous tone (drawn: grey schematics, text, plots without axes);
    - **micrograph**: the rest: grey with continuous tone (at least SMOOTH_TONE of the
      pixels smooth or TEXTURED of them textured).

    Parameters
    ----------
    crop : ndarray of shape (M, N) or (M, N, 3|4), any dtype
        One panel, e.g. ``panel.crop(figure)``.

    Returns
    -------
    kind : {"micrograph", "plot", "other"}
    confidence : float
        Share of the cues that agree with the verdict, in [0, 1]. A micrograph: continuous
        tone, grey, no axes, at least MANY_LEVELS grey levels, background under
        PLOT_BACKGROUND. A plot: axes, no tone, flat background, fewer grey levels. Other:
        no tone or coloured, no axes, background at least PLOT_BACKGROUND.
    reason : str
        One line for people: the features, then after the last ": " the verdict, e.g.
        "white background 94 %, 1 grey levels, coloured 0 %, smooth 0.0 %, textured 0 %,
        long lines 1 across / 2 down: a plot (axes on a flat background, no continuous
        tone)".
    """
    f = panel_features(crop)
    axes = f.horizontal_lines >= 1 and f.vertical_lines >= 1
    coloured = f.coloured_fraction >= COLOURED
    tone = f.smooth_fraction >= SMOOTH_TONE or f.textured_fraction >= TEXTURED
    flat_background = f.background_fraction >= PLOT_BACKGROUND
    many_levels = f.grey_levels >= MANY_LEVELS
    if axes and flat_background and not tone:
        kind: Kind = "plot"
        cues = [axes, not tone, flat_background, not many_levels]
        verdict = "a plot (axes on a flat background, no continuous tone)"
    elif coloured or not tone:
        kind = "other"
        cues = [coloured or not tone, not axes, flat_background]
        verdict = "other (coloured)" if coloured else "other (no continuous tone, no axes)"
    else:
        kind = "micrograph"
        cues = [tone, not coloured, not axes, many_levels, not flat_background]
        verdict = "a micrograph (grey, continuous tone)"
    reason = (
        f"{_colour_name(f.background)} background {100 * f.background_fraction:.0f} %, "
        f"{f.grey_levels:.0f} grey levels, coloured {100 * f.coloured_fraction:.0f} %, "
        f"smooth {100 * f.smooth_fraction:.1f} %, textured {100 * f.textured_fraction:.0f} %, "
        f"long lines {f.horizontal_lines} across / {f.vertical_lines} down: {verdict}"
    )
    return kind, round(sum(cues) / len(cues), 2), reason


def _colour_name(colour: tuple[float, float, float]) -> str:
    """"white", "black", "grey" or "coloured" for an RGB colour in [0, 1]."""
    if max(colour) - min(colour) > CHROMA:
        return "coloured"
    grey = sum(colour) / 3
    return "white" if grey > 0.9 else "black" if grey < 0.1 else "grey"
