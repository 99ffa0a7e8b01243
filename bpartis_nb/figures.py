"""Journal figures: one segmentation per micrograph panel, each with its own scale.

A figure from a paper holds several panels: micrographs beside histograms, spectra or
drawings, each micrograph with its own scale bar. :func:`segment_figure` cuts the figure
(:func:`bpartis_nb.panels.split_panels`), skips the panels that are not micrographs with
their reason, and segments each micrograph panel on its own
(:func:`bpartis_nb.pipeline.segment`), calibrated from its own scale bar
(``scale="auto"``) unless a scale is given for all.

This module sits above :mod:`bpartis_nb.pipeline` and :mod:`bpartis_nb.panels`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np
from numpy.typing import NDArray

from .inference import Segmentation
from .io import ImageSource, read_image
from .panels import Panel, split_panels
from .pipeline import segment

__all__ = ["FigureResult", "segment_figure"]


@dataclass
class FigureResult:
    """The panels of a figure and the segmentation of each micrograph among them.

    Attributes
    ----------
    panels : list of Panel
        Every panel found, in reading order (one panel covering the whole image when the
        figure is a single micrograph).
    results : dict of int to Segmentation
        Panel index -> its segmentation, for the micrograph panels. Maps are in the
        panel's own pixels (``panel.box`` places them in the figure).
    skipped : dict of int to str
        Panel index -> why it was not segmented (its classifier verdict).
    shape : (int, int)
        The figure's (M, N).
    """

    panels: list[Panel]
    shape: tuple[int, int] = (0, 0)
    results: dict[int, Segmentation] = field(default_factory=dict)
    skipped: dict[int, str] = field(default_factory=dict)

    def __iter__(self):
        """(panel, result) of each segmented panel, in reading order."""
        return ((p, self.results[p.index]) for p in self.panels if p.index in self.results)

    def __len__(self) -> int:
        return len(self.results)

    def labels(self) -> NDArray[np.int32]:
        """(M, N) kept instances of every panel in the figure's pixels, numbered on."""
        out = np.zeros(self.shape, np.int32)
        offset = 0
        for panel, result in self:
            r0, c0, r1, c1 = panel.box
            out[r0:r1, c0:c1] = np.where(result.labels > 0, result.labels + offset, 0)
            offset += int(result.labels.max(initial=0))
        return out


def segment_figure(
    image: ImageSource,
    *,
    scale: Any = "auto",
    panels: bool = True,
    progress: Optional[Callable[[int, int], None]] = None,
    **kwargs: Any,
) -> FigureResult:
    """Segment every micrograph panel of a figure, each calibrated on its own.

    Parameters
    ----------
    image : path, PIL image or ndarray of shape (M, N) or (M, N, C)
        A figure (or a single micrograph: one panel).
    scale : "auto", float, (bar_px, value, unit), Calibration or None
        As :func:`bpartis_nb.segment`, for each panel: "auto" reads each panel's own
        scale bar (a single-panel file's metadata too).
    panels : bool
        False treats the image as one micrograph (no splitting, no classification).
    progress : callable, optional
        ``f(done, total)`` over the micrograph panels.
    **kwargs
        Passed to :func:`bpartis_nb.segment` (samples, tu, model, seed, tiled, ...).

    Returns
    -------
    FigureResult

    Examples
    --------
    >>> from bpartis_nb.examples import synthetic_micrograph
    >>> micrograph = synthetic_micrograph(size=128, n_particles=8, radius=(6, 10)).image
    >>> figure = np.full((148, 296, 3), 255, np.uint8)
    >>> figure[10:138, 10:138] = micrograph
    >>> figure[10:138, 158:286] = micrograph
    >>> found = segment_figure(figure, samples=2, seed=0, scale=None)  # doctest: +SKIP
    >>> [(p.index, r.count > 0) for p, r in found]  # doctest: +SKIP
    [(0, True), (1, True)]
    """
    array = read_image(image)
    whole = Panel(index=0, box=(0, 0, array.shape[0], array.shape[1]), kind="micrograph", confidence=1.0,
                  reason="the whole image, not split")
    found = split_panels(array) if panels else [whole]
    if not found:
        found = [whole]
    single = len(found) == 1 and found[0].box == whole.box
    out = FigureResult(panels=found, shape=(int(array.shape[0]), int(array.shape[1])))
    todo = [p for p in found if p.is_micrograph or single]
    for p in found:
        if p not in todo:
            out.skipped[p.index] = p.reason
    for done, p in enumerate(todo):
        # a single panel is the file itself: its metadata can hold the scale
        source = image if single and isinstance(image, (str, os.PathLike)) else p.crop(array)
        out.results[p.index] = segment(source, scale=scale, **kwargs)
        if progress is not None:
            progress(done + 1, len(todo))
    return out
