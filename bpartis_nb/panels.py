"""Cut a journal figure into its panels and tell micrographs from plots and drawings.

Papers show micrographs beside histograms, spectra, XRD patterns, schematics and photos,
separated by white or black gutters or by drawn borders, with panel letters in corners
or in the gutters. :func:`split_panels` finds the panels and says which of them are
micrographs; :func:`micrograph_panels` keeps only those, so that only they go on to
segmentation. A skipped panel says why in one line (:attr:`Panel.reason`).

Method
------
1. Any image (grey, RGB or RGBA; any dtype) becomes float RGB in [0, 1]
   (:func:`as_float_rgb`).
2. Recursive X-Y cuts along gutters and drawn borders find the panels' boxes, without
   their margins and the panel letters in the gutters (:mod:`bpartis_nb.panelcut`).
3. The boxes are numbered in reading order: rows top to bottom, then left to right.
4. Each panel is classified by interpretable features: continuous tone, colour, long
   straight lines, background (:func:`panel_features`, :func:`classify_panel`, in
   :mod:`bpartis_nb.panelkind`).

The thresholds were chosen on the 465 EMPS micrographs (every one must stay one whole
micrograph) and on figures assembled from EMPS crops, synthetic micrographs and matplotlib
plots (``tests/test_panels.py``; random layouts of seeds 0 to 159); each module lists its
own.

Examples
--------
>>> from bpartis_nb.examples import synthetic_micrograph
>>> micrograph = synthetic_micrograph(size=128, n_particles=8, radius=(6, 10)).image
>>> figure = np.full((148, 296, 3), 255, np.uint8)
>>> figure[10:138, 10:138] = micrograph
>>> figure[10:138, 158:286] = micrograph
>>> [(p.index, p.box, p.kind) for p in split_panels(figure)]
[(0, (10, 10, 138, 138), 'micrograph'), (1, (10, 158, 138, 286), 'micrograph')]
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .panelcut import FLAT_TOL, cut_figure
from .panelkind import Box, Kind, PanelFeatures, as_float_rgb, classify_panel, panel_features

__all__ = [
    "Panel",
    "PanelFeatures",
    "as_float_rgb",
    "classify_panel",
    "find_panel_boxes",
    "micrograph_panels",
    "panel_features",
    "split_panels",
]


@dataclass(frozen=True)
class Panel:
    """One panel of a figure.

    Attributes
    ----------
    index : int
        Reading order: rows top to bottom, then left to right; from 0.
    box : (int, int, int, int)
        (min_row, min_col, max_row, max_col) in the figure's pixels; max exclusive.
    kind : {"micrograph", "plot", "other"}
    confidence : float
        Share of the classifier's cues that agree with ``kind``, in [0, 1].
    reason : str
        One line for people: the features, then after the last ": " the verdict (see
        :func:`classify_panel`), e.g. "white background 94 %, 1 grey levels, coloured 0 %,
        smooth 0.0 %, textured 0 %, long lines 1 across / 2 down: a plot (axes on a flat
        background, no continuous tone)".
    """

    index: int
    box: Box
    kind: Kind
    confidence: float
    reason: str

    @property
    def is_micrograph(self) -> bool:
        """Whether the panel was classified a micrograph (goes on to segmentation)."""
        return self.kind == "micrograph"

    def crop(self, image: NDArray) -> NDArray:
        """This panel's pixels of ``image`` (the figure it was found in).

        Parameters
        ----------
        image : ndarray of shape (M, N) or (M, N, C)

        Returns
        -------
        ndarray of shape (max_row - min_row, max_col - min_col) or with C channels; a view.
        """
        r0, c0, r1, c1 = self.box
        return np.asarray(image)[r0:r1, c0:c1]


def split_panels(image: NDArray, *, tolerance: float = FLAT_TOL) -> list[Panel]:
    """Cut a figure into panels and classify each (see the module's description).

    Parameters
    ----------
    image : ndarray of shape (M, N) or (M, N, 3|4), any dtype
        A whole figure, or a single micrograph (which comes back as one panel).
    tolerance : float
        How far (a fraction of the range) a gutter's pixels may stray from its colour; see
        :data:`bpartis_nb.panelcut.FLAT_TOL`. 0.05 suits JPEG figures better (their
        gutters ring), at the risk of splitting a single smooth micrograph.

    Returns
    -------
    list of Panel
        In reading order; empty when the image is blank.
    """
    rgb = as_float_rgb(image)
    panels = []
    for index, box in enumerate(_reading_order(cut_figure(rgb, tolerance))):
        r0, c0, r1, c1 = box
        kind, confidence, reason = classify_panel(rgb[r0:r1, c0:c1])
        panels.append(Panel(index, box, kind, confidence, reason))
    return panels


def micrograph_panels(image: NDArray, *, tolerance: float = FLAT_TOL) -> list[Panel]:
    """The panels of a figure classified as micrographs, in reading order.

    Parameters
    ----------
    image : ndarray of shape (M, N) or (M, N, 3|4), any dtype
    tolerance : float
        See :func:`split_panels`.

    Returns
    -------
    list of Panel
        Those of :func:`split_panels` whose ``kind`` is "micrograph"; each keeps its
        ``index`` among all the panels, so a gap in the indices is a skipped panel.

    Examples
    --------
    >>> from PIL import Image, ImageDraw
    >>> from bpartis_nb.examples import synthetic_micrograph
    >>> page = Image.new("RGB", (296, 148), "white")
    >>> page.paste(Image.fromarray(synthetic_micrograph(size=128).image), (10, 10))
    >>> draw = ImageDraw.Draw(page)
    >>> draw.line([(170, 20), (170, 125), (280, 125)], fill="black", width=2)  # a plot's axes
    >>> for t in range(0, 100, 20):  # their ticks
    ...     draw.line([(180 + t, 125), (180 + t, 130)], fill="black")
    ...     draw.line([(165, 30 + t), (170, 30 + t)], fill="black")
    >>> draw.line([(172 + x, 74 - 40 * np.sin(x / 16)) for x in range(104)], fill="black", width=2)
    >>> figure = np.asarray(page)
    >>> [(p.index, p.box) for p in micrograph_panels(figure)]
    [(0, (10, 10, 138, 138))]
    >>> skipped = split_panels(figure)[1]
    >>> skipped.index, skipped.box, skipped.kind
    (1, (20, 165, 131, 281), 'plot')
    >>> skipped.reason.split(": ")[-1]
    'a plot (axes on a flat background, no continuous tone)'
    """
    return [panel for panel in split_panels(image, tolerance=tolerance) if panel.is_micrograph]


def find_panel_boxes(image: NDArray, *, tolerance: float = FLAT_TOL) -> list[Box]:
    """The panels' boxes alone, in reading order (the geometry of :func:`split_panels`).

    Parameters
    ----------
    image : ndarray of shape (M, N) or (M, N, 3|4), any dtype
    tolerance : float
        See :func:`split_panels`.

    Returns
    -------
    list of (min_row, min_col, max_row, max_col)
    """
    return _reading_order(cut_figure(as_float_rgb(image), tolerance))


def _reading_order(boxes: list[Box]) -> list[Box]:
    """Rows top to bottom (a box joins the row whose first box spans its vertical centre),
    then left to right."""
    rows: list[list[Box]] = []
    for box in sorted(boxes, key=lambda b: (b[0], b[1])):
        centre = (box[0] + box[2]) / 2
        for row in rows:
            if row[0][0] <= centre < row[0][2]:
                row.append(box)
                break
        else:
            rows.append([box])
    return [b for row in rows for b in sorted(row, key=lambda b: (b[1], b[0]))]
