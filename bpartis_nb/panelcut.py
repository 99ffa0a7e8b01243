"""Recursive X-Y cuts: where the panels of a figure are (:func:`cut_figure`).

:mod:`bpartis_nb.panels` puts the boxes in reading order and classifies each panel
(:mod:`bpartis_nb.panelkind`).

Method
------
1. In the current region a *flat line* is a row (or column) whose pixels, all but
   FLAT_OUTLIERS of them, lie within FLAT_TOL of its median colour, whatever that colour
   is. A *separator* is a run of flat lines that no stroke crosses and that does not touch
   the region's edge (a run that does is a margin and is trimmed): at least MIN_GUTTER
   lines, or one line between two sharp edges (a drawn border). Then:

   - a piece thinner than THIN_FRACTION of the region (or THIN_PX), or holding nothing
     but glyphs, is no panel: it joins a neighbour (axis and tick labels, titles,
     instrument info strips, panel letters; y labels and letters join the panel on their
     right);
   - a separator with no sharp straight edge on either side and continuous tone
     (:class:`bpartis_nb.panelkind.ToneTable`) right beyond it is a flat region *inside* a
     micrograph (a saturated background) and is not cut;
   - "soft" separators (no micrograph's border, one colour) narrower than SOFT_RATIO of
     the widest gutter beside them or above them are gaps inside a plot or a drawing;
   - the direction with a firm separator (a micrograph's border, a change of colour), or
     else the wider gutter, is cut, and each piece is cut again; a region that thin strips
     along its edges hold together (a rule, a shared label, a row of letters) is cut
     without them, and each part of a strip joins the panel below or above it.
2. Each leaf loses its flat margins (not a micrograph's own smooth edge, not the tips of
   strokes, but JPEG ringing) and a lone glyph beyond a flat band near a corner (a panel
   letter in the gutter). Leaves under MIN_PANEL_AREA of the figure are dropped.

The thresholds were chosen on the 465 EMPS micrographs (every one must stay one whole
micrograph) and on figures assembled from EMPS crops, synthetic micrographs and matplotlib
plots (``tests/test_panels.py``; random layouts of seeds 0 to 159).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from .panelkind import EDGE_CONTRAST, Box, ToneTable

__all__ = ["FLAT_TOL", "cut_figure"]

#: A pixel matches a flat line's colour when every channel is within 2.5 % of the full
#: range of it (about 6 of 255). Looser suits JPEG figures (5 %: 36 instead of 27 of 40
#: random layouts at quality 90 right) but finds flat bands inside smooth micrographs
#: (3 %: 7 EMPS images split; 5 %: 21).
FLAT_TOL = 0.025
#: A line is flat when at most 1 % of its pixels miss its colour (a panel letter reaching
#: into a gutter, a few JPEG artefacts).
FLAT_OUTLIERS = 0.01
#: Narrowest gutter, in lines; a single line counts only as a drawn border (see SHARP_EDGE).
MIN_GUTTER = 2
#: A line at the edge of a panel none of whose pixels is further than this (25 of 255)
#: from its colour is JPEG ringing beside the content, trimmed with the margin (at most
#: RINGING lines: JPEG's blocks are 8 px).
FAINT = 0.1
RINGING = 6
#: A gutter that ringing fills (no flat line) is at most this wide, with sharp edges.
RINGING_GUTTER = 12
#: A sharp panel edge: the first line beyond a separator stands out from it along a
#: straight run of at least SHARP_EDGE of its length and SHARP_PX (a micrograph's border,
#: a drawn frame); inside a micrograph a flat band ends at a few particle tips.
SHARP_EDGE = 0.1
SHARP_PX = 24
#: A micrograph's border: a sharp edge with continuous tone in the HARD_DEPTH lines beyond.
HARD_DEPTH = 32
#: Pieces thinner than this fraction of the region (or THIN_PX) are not panels.
THIN_FRACTION = 0.15
THIN_PX = 24
#: A glyph's blob is at most this many px on its short and on its long side.
TEXT_SIDES = (32, 64)
#: A micrograph's own flat edge (kept) is at most this fraction of its height / width.
OWN_MARGIN = 0.25
#: A gutter no panel border marks must be at least this fraction of the widest gutter
#: beside it or above it in the cut (a gap inside a drawing is narrower).
SOFT_RATIO = 1 / 3
#: Parts of a strip set aside are this many px apart or more (words are closer).
PART_GAP = 12
#: Final pieces below this fraction of the figure's area are dropped (stray letters).
MIN_PANEL_AREA = 0.005
#: A panel letter beyond a flat band is at most this fraction of the panel's shorter side.
GLYPH_FRACTION = 0.12
GLYPH_PX = 12
#: ... and at least GLYPH_MIN px thick, LETTER_GAP px or more from the panel (the gaps
#: between the characters of a rotated axis label are 1 or 2 px).
GLYPH_MIN = 2
LETTER_GAP = 3


def cut_figure(rgb: NDArray[np.float32], tolerance: float = FLAT_TOL) -> list[Box]:
    """The panels' boxes of a figure, in no particular order (see the module's method).

    Parameters
    ----------
    rgb : ndarray of shape (M, N, 3), float in [0, 1]
        The figure, as :func:`bpartis_nb.panelkind.as_float_rgb` makes it.
    tolerance : float
        How far (a fraction of the range) a gutter's pixels may stray from its colour; see
        FLAT_TOL.

    Returns
    -------
    list of (min_row, min_col, max_row, max_col)
        Max exclusive; empty when the figure is blank.

    Examples
    --------
    >>> figure = np.ones((60, 130, 3), np.float32)
    >>> figure[5:55, 5:60] = 0.5 * np.random.default_rng(0).random((50, 55, 1))  # two noisy panels
    >>> figure[5:55, 70:125] = 0.5 * np.random.default_rng(1).random((50, 55, 1))
    >>> sorted(cut_figure(figure))
    [(5, 5, 55, 60), (5, 70, 55, 125)]
    """
    fig = _Figure(rgb, tolerance)
    height, width = rgb.shape[:2]
    boxes = []
    for leaf in _cut(fig, (0, 0, height, width)):
        box = _peel_letters(fig, leaf)
        r0, c0, r1, c1 = box
        if (r1 - r0) * (c1 - c0) >= MIN_PANEL_AREA * height * width:
            boxes.append(box)
    return boxes


# --- regions, lines and separators -------------------------------------------------------


@dataclass(frozen=True)
class _Lines:
    """A region's rows or columns: pixels (n, length, 3) and their median colours (n, 3).

    off / strong (n, length): pixels further than the tolerance / FAINT from their line's
    colour; flat (n,): at most FLAT_OUTLIERS of a line's pixels are off; faint (n,): none
    is strong (JPEG ringing, a smooth shade); gutter (n,): flat, or faint within RINGING
    lines of a flat line of its colour (JPEG ringing beside a panel is gutter).
    """

    pixels: NDArray
    colour: NDArray
    off: NDArray[np.bool_]
    strong: NDArray[np.bool_]
    flat: NDArray[np.bool_]
    faint: NDArray[np.bool_]
    same: NDArray[np.bool_]  # (n - 1,): line k has line k + 1's colour

    @cached_property
    def gutter(self) -> NDArray[np.bool_]:
        gutter = self.flat.copy()
        for _ in range(RINGING):
            grown = gutter.copy()
            grown[1:] |= gutter[:-1] & self.same & self.faint[1:]
            grown[:-1] |= gutter[1:] & self.same & self.faint[:-1]
            if np.array_equal(grown, gutter):
                break
            gutter = grown
        return gutter


class _Figure:
    """The figure being cut: its pixels (M, N, 3), its lines' flatness (cached per region)
    and ``tonal(box)``: whether a region has continuous tone, in O(1)."""

    def __init__(self, rgb: NDArray[np.float32], tolerance: float = FLAT_TOL):
        self.rgb = rgb
        self.tolerance = tolerance
        self.grey = rgb.mean(axis=2)
        self.tonal = ToneTable(self.grey).tonal
        self._lines: dict[tuple[Box, int], _Lines] = {}
        self._text: dict[Box, bool] = {}
        self.cuts: dict[tuple[Box, tuple[float, float], bool], list[Box]] = {}  # see _cut

    def lines(self, box: Box, axis: int) -> _Lines:
        """The region's rows (axis 0) or columns (axis 1); see :class:`_Lines`."""
        key = (box, axis)
        if key not in self._lines:
            r0, c0, r1, c1 = box
            pixels = self.rgb[r0:r1, c0:c1]
            if axis == 1:
                pixels = pixels.transpose(1, 0, 2)
            step = max(1, pixels.shape[1] // 48)  # the median of a sample finds a flat colour
            colour = np.median(pixels[:, ::step], axis=1)
            deviation = np.abs(pixels - colour[:, None, :]).max(axis=2)
            off, strong = deviation > self.tolerance, deviation > FAINT
            flat = off.sum(axis=1) <= FLAT_OUTLIERS * off.shape[1]
            same = np.abs(np.diff(colour, axis=0)).max(axis=1) <= self.tolerance
            self._lines[key] = _Lines(pixels, colour, off, strong, flat, ~strong.any(axis=1), same)
        return self._lines[key]

    def text_only(self, box: Box) -> bool:
        """Whether a region holds nothing but glyphs: trimmed, it is at most TEXT_SIDES
        (short, long side) px, or it splits at flat lines into parts that are text, or
        every blob in it that stands out from its median grey is glyph-sized; blank
        regions count as text, regions of continuous tone do not."""
        if box not in self._text:
            self._text[box] = self._is_text(box)
        return self._text[box]

    def _is_text(self, box: Box) -> bool:
        trimmed = _trim(self, box)
        if trimmed is None or _is_glyph(trimmed):
            return True
        if self.tonal(trimmed):
            return False
        for axis in (0, 1):
            parts = _runs(self.lines(trimmed, axis).strong.any(axis=1))  # lines with strokes
            if len(parts) > 1:  # several parts between empty lines
                return all(self.text_only(_sub_box(trimmed, axis, start, stop)) for start, stop in parts)
        r0, c0, r1, c1 = trimmed
        grey = self.grey[r0:r1, c0:c1]
        ink = np.abs(grey - np.median(grey[::2, ::2])) > FAINT
        return all(_is_glyph((rows.start, cols.start, rows.stop, cols.stop))
                   for rows, cols in ndimage.find_objects(ndimage.label(ink)[0]))


def _is_glyph(box: Box) -> bool:
    """Whether a box is no larger than a glyph (TEXT_SIDES)."""
    short, long = sorted((box[2] - box[0], box[3] - box[1]))
    return short <= TEXT_SIDES[0] and long <= TEXT_SIDES[1]


def _runs(mask: NDArray[np.bool_]) -> list[tuple[int, int]]:
    """The runs [start, stop) of True in a 1-D mask, in order."""
    ends = np.flatnonzero(np.diff(np.r_[0, mask.astype(np.int8), 0]))
    return [(int(start), int(stop)) for start, stop in zip(ends[::2], ends[1::2])]


@dataclass(frozen=True)
class _Separator:
    """A run [start, stop) of flat lines inside a region (indices relative to the region).

    sharp_before / sharp_after: the first line beyond it on that side is a sharp edge;
    hard: a sharp edge of a piece of continuous tone (a micrograph's border) on a side;
    two_tone: its lines are not all one colour (a white panel on a black page, a frame).
    """

    start: int
    stop: int
    sharp_before: bool
    sharp_after: bool
    hard: bool
    two_tone: bool

    @property
    def firm(self) -> bool:
        """A panel's border for sure: exempt from the width rules of :func:`_cut`."""
        return self.hard or self.two_tone


def _sharp_span(line: NDArray, colour: NDArray) -> tuple[int, int] | None:
    """The longest straight run [lo, hi) of a line (length, 3) whose pixels differ from
    ``colour`` by more than EDGE_CONTRAST, if at least SHARP_EDGE of the line and SHARP_PX
    long (a panel's straight border, a drawn frame); else None."""
    differs = (np.abs(line - colour) > EDGE_CONTRAST).any(axis=1)
    runs = _runs(differs)
    if not runs:
        return None
    lo, hi = max(runs, key=lambda run: run[1] - run[0])  # the first of the longest
    if hi - lo >= max(SHARP_PX, SHARP_EDGE * line.shape[0]) or (line.shape[0] < SHARP_PX and hi - lo == line.shape[0]):
        return lo, hi
    return None


def _sub_box(box: Box, axis: int, start: int, stop: int) -> Box:
    """Rows (axis 0) or columns (axis 1) [start, stop) of a region."""
    r0, c0, r1, c1 = box
    return (r0 + start, c0, r0 + stop, c1) if axis == 0 else (r0, c0 + start, r1, c0 + stop)


def _trim(fig: _Figure, box: Box) -> Box | None:
    """Remove a region's flat margins; None if it is blank.

    A margin of two lines or more stays when the region has a micrograph's tone, no sharp
    edge borders the margin and it is no wider than OWN_MARGIN of the region: then it is
    the micrograph's own smooth or saturated edge, not a gutter. Margin lines that carry
    on the content's strokes (the tip of an axis or a peak, a descender) are kept; faint
    lines of the margin's colour beside the content (JPEG ringing) go with the margin.
    """
    for _ in range(8):
        inner = list(box)
        keep_side = []
        for axis in (0, 1):
            found = fig.lines(box, axis)
            lines, flat, colour, off = found.pixels, found.flat, found.colour, found.strong
            content = np.flatnonzero(~flat)
            if content.size == 0:
                return None
            lo, hi = int(content[0]), int(content[-1]) + 1
            while lo > 0 and _continues(off[lo - 1], off[lo]):
                lo -= 1  # keep the end of a line reaching out of the content (an axis tip)
            while hi < flat.size and _continues(off[hi], off[hi - 1]):
                hi += 1
            for _ in range(RINGING):  # JPEG ringing: faint lines of the margin's colour
                if 0 < lo < hi - 1 and found.faint[lo] and found.same[lo - 1]:
                    lo += 1
                if lo < hi - 1 < flat.size - 1 and found.faint[hi - 1] and found.same[hi - 1]:
                    hi -= 1
            inner[axis] += lo
            inner[axis + 2] = box[axis] + hi
            most = OWN_MARGIN * flat.size
            keep_side.append((1 < lo <= most and _sharp_span(lines[lo], colour[lo - 1]) is None,
                              1 < flat.size - hi <= most and _sharp_span(lines[hi - 1], colour[hi]) is None))
        if fig.tonal(tuple(inner)):
            for axis in (0, 1):
                if keep_side[axis][0]:
                    inner[axis] = box[axis]
                if keep_side[axis][1]:
                    inner[axis + 2] = box[axis + 2]
        new = tuple(inner)
        if new == box:
            break
        box = new
    return box


def _continues(outer: NDArray[np.bool_], inner: NDArray[np.bool_]) -> bool:
    """Whether a stroke runs from one line's off pixels into the next (within 1 px); not
    when the next line is mostly off (an edge, whose JPEG ringing the first may hold)."""
    if inner.mean() >= 0.5:
        return False
    near = inner.copy()
    near[1:] |= inner[:-1]
    near[:-1] |= inner[1:]
    return bool((outer & near).any())


def _separators(fig: _Figure, box: Box, axis: int) -> list[_Separator]:
    """Runs of flat lines across a (trimmed) region that can separate panels.

    A run that a line crosses from side to side (a plot's axis or frame, each line's few
    outliers all at the same place) separates nothing and is left out. Its ends give the
    pieces back the tips of their strokes and take JPEG ringing (faint lines of its colour).
    """
    region = fig.lines(box, axis)
    lines, flat, colour, off = region.pixels, region.gutter, region.colour, region.off
    n = flat.size
    found = []
    for start, stop in _runs(flat):
        if start == 0 or stop == n:
            continue  # a margin
        if off[start:stop].all(axis=0).any():
            continue  # crossed
        while stop - start > 1 and _continues(off[start], off[start - 1]):
            start += 1  # give the pieces back the ends of their strokes
        while stop - start > 1 and _continues(off[stop - 1], off[stop]):
            stop -= 1
        before = _sharp_span(lines[start - 1], colour[start])
        after = _sharp_span(lines[stop], colour[stop - 1])
        if stop - start >= MIN_GUTTER or (before and after):
            hard = _tone_behind(fig, box, axis, start, stop, before, after)
            two_tone = bool(np.ptp(colour[start:stop], axis=0).max() > EDGE_CONTRAST)
            found.append(_Separator(start, stop, before is not None, after is not None, hard, two_tone))
    # a narrow gutter that JPEG ringing fills, with no flat line: faint lines of one
    # colour between two sharp edges (hard: continuous tone behind one of them)
    quiet = region.faint & ~flat
    for start, stop in _runs(quiet):
        if start == 0 or stop == n or stop - start > RINGING_GUTTER or flat[start - 1] or flat[stop]:
            continue
        if np.ptp(colour[start:stop], axis=0).max() > fig.tolerance or off[start:stop].all(axis=0).any():
            continue
        before = _sharp_span(lines[start - 1], colour[start])
        after = _sharp_span(lines[stop], colour[stop - 1])
        if before and after:
            hard = _tone_behind(fig, box, axis, start, stop, before, after)
            found.append(_Separator(start, stop, True, True, hard, False))
    return sorted(found, key=lambda s: s.start)


def _tone_behind(fig: _Figure, box: Box, axis: int, start: int, stop: int,
                 before: tuple[int, int] | None, after: tuple[int, int] | None) -> bool:
    """Whether continuous tone lies within HARD_DEPTH lines behind a sharp edge of the
    separator [start, stop) of a region (``before``, ``after``: the edges' spans, see
    :func:`_sharp_span`): a micrograph's border."""
    n = box[2] - box[0] if axis == 0 else box[3] - box[1]
    behind = ((_sub_box(box, axis, max(0, start - HARD_DEPTH), start), before),
              (_sub_box(box, axis, stop, min(n, stop + HARD_DEPTH)), after))
    return any(edge is not None and fig.tonal(_sub_box(lines, 1 - axis, *edge)) for lines, edge in behind)


def _pieces(n: int, seps: list[_Separator]) -> list[tuple[int, int]]:
    bounds = [0] + [x for s in seps for x in (s.start, s.stop)] + [n]
    return list(zip(bounds[::2], bounds[1::2]))


def _join_weak(fig: _Figure, box: Box, axis: int, seps: list[_Separator]) -> list[_Separator]:
    """Drop separators until every piece could be a panel: a piece thinner than
    THIN_FRACTION of the region (or THIN_PX), or holding nothing but text (axis and tick
    labels, titles, info strips, letters), joins a neighbour, the thinnest first: in a
    row, the one on its right (y labels and letters stand left of their panel); in a
    column, not across a micrograph's border when the other side is free, otherwise
    across the narrower separator, on a tie the one below."""
    n = box[2] - box[0] if axis == 0 else box[3] - box[1]
    seps = list(seps)
    limit = max(THIN_PX, THIN_FRACTION * n)
    while seps:
        pieces = _pieces(n, seps)
        weak = [(stop - start, k) for k, (start, stop) in enumerate(pieces)
                if stop - start < limit or fig.text_only(_sub_box(box, axis, start, stop))]
        if not weak:
            break
        k = min(weak)[1]
        if k == 0:
            drop = 0
        elif k == len(seps):
            drop = k - 1
        else:
            left, right = seps[k - 1], seps[k]
            if axis == 1:  # y-axis labels and panel letters stand left of what they label
                drop = k
            elif left.hard != right.hard:  # not across a micrograph's border
                drop = k if left.hard else k - 1
            else:  # x-axis labels below, titles above: the nearer one; on a tie the one below
                drop = k - 1 if left.stop - left.start < right.stop - right.start else k
        del seps[drop]
    return seps


def _veto_inside_micrograph(fig: _Figure, box: Box, axis: int, seps: list[_Separator],
                            raw: list[_Separator]) -> list[_Separator]:
    """Drop separators with no sharp edge on either side and continuous tone right beyond
    them (within HARD_DEPTH lines, and before the next flat band of ``raw``, the region's
    separators before any were dropped): flat bands inside one micrograph (a saturated
    background), not the gutter before a panel letter that stands beside a micrograph."""
    n = box[2] - box[0] if axis == 0 else box[3] - box[1]
    kept = []
    for sep in seps:
        if not (sep.sharp_before or sep.sharp_after):
            before = max([s.stop for s in raw if s.stop <= sep.start] + [0, sep.start - HARD_DEPTH])
            after = min([s.start for s in raw if s.start >= sep.stop] + [n, sep.stop + HARD_DEPTH])
            if fig.tonal(_sub_box(box, axis, before, sep.start)) or fig.tonal(_sub_box(box, axis, sep.stop, after)):
                continue
        kept.append(sep)
    return kept


def _cut(fig: _Figure, box: Box, soft_min: tuple[float, float] = (0, 0), strips: bool = True) -> list[Box]:
    """Recursive X-Y cut of a region into trimmed leaf boxes.

    Separators that neither a micrograph's sharp border lines nor a change of colour
    marks ("soft") must be at least SOFT_RATIO as wide as the widest separator in the
    region, and at least ``soft_min`` (rows, columns): SOFT_RATIO of the widest gutter
    already cut in that direction; so the narrower gaps inside plots and drawings are not
    taken for gutters. ``strips``: whether a region that no gutter cuts may be cut
    without its edge strips (:func:`_cut_without_edge_strips`). Results are cached.
    """
    key = (box, soft_min, strips)
    if key not in fig.cuts:
        fig.cuts[key] = _cut_region(fig, box, soft_min, strips)
    return fig.cuts[key]


def _cut_region(fig: _Figure, box: Box, soft_min: tuple[float, float], strips: bool) -> list[Box]:
    trimmed = _trim(fig, box)
    if trimmed is None:
        return []
    best = None
    for axis in (0, 1):
        n = trimmed[2] - trimmed[0] if axis == 0 else trimmed[3] - trimmed[1]
        raw = _separators(fig, trimmed, axis)
        seps = [s for s in raw if s.firm or s.stop - s.start >= soft_min[axis]]
        seps = _join_weak(fig, trimmed, axis, seps)
        seps = _veto_inside_micrograph(fig, trimmed, axis, seps, raw)
        widest = max((s.stop - s.start for s in seps), default=0)
        seps = [s for s in seps if s.firm or s.stop - s.start >= SOFT_RATIO * widest]
        if seps:  # the direction with a panel's border for sure, then the wider gutter
            rank = (any(s.firm for s in seps), max(s.stop - s.start for s in seps))
            if best is None or rank > best[0]:
                best = (rank, axis, seps, n)
    if best is None:
        return (strips and _cut_without_edge_strips(fig, trimmed, soft_min)) or [trimmed]
    (_, widest), axis, seps, n = best
    soft_min = tuple(max(m, SOFT_RATIO * widest) if a == axis else m for a, m in enumerate(soft_min))
    # each piece keeps one line of the separators beside it: its margin, for _trim
    return [leaf for start, stop in _pieces(n, seps)
            for leaf in _cut(fig, _sub_box(trimmed, axis, max(0, start - 1), min(n, stop + 1)), soft_min)]


def _cut_without_edge_strips(fig: _Figure, box: Box, soft_min: tuple[float, float]) -> list[Box] | None:
    """Cut a region that thin strips at its edges keep whole (a label shared by two plots,
    a rule, a row of panel letters crossing the gutters).

    The strips are set aside and the rest is cut; each part of a strip (see
    :func:`_strip_parts`) then joins the nearest panel whose span holds at least 80 % of
    it, or is dropped. None when the rest is one panel.
    """
    for axis in (0, 1):
        n = box[2] - box[0] if axis == 0 else box[3] - box[1]
        limit = max(THIN_PX, THIN_FRACTION * n)
        seps = _separators(fig, box, axis)
        lead = [s for s in seps if s.start < limit]
        trail = [s for s in seps if n - s.stop < limit]
        start = lead[-1].stop if lead else 0
        stop = trail[0].start if trail else n
        if (start == 0 and stop == n) or stop - start < limit:
            continue
        leaves = _cut(fig, _sub_box(box, axis, start, stop), soft_min, strips=False)
        if len(leaves) < 2:
            continue
        for strip in (_sub_box(box, axis, 0, lead[-1].start) if lead else None,
                      _sub_box(box, axis, trail[0].stop, n) if trail else None):
            strip = _trim(fig, strip) if strip is not None else None
            if strip is not None:
                for part in _strip_parts(fig, strip, axis):
                    leaves = _attach(part, leaves, axis)
        return leaves
    return None


def _strip_parts(fig: _Figure, strip: Box, axis: int) -> list[Box]:
    """A strip's parts along it, split where its content leaves a gap of at least
    PART_GAP px (the letters of two panels; not the words of one label)."""
    flat = fig.lines(strip, 1 - axis).flat
    content = np.flatnonzero(~flat)
    if content.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(content) > PART_GAP)
    starts = np.r_[content[0], content[breaks + 1]]
    stops = np.r_[content[breaks], content[-1]] + 1
    return [_sub_box(strip, 1 - axis, int(a), int(b)) for a, b in zip(starts, stops)]


def _attach(strip: Box, leaves: list[Box], axis: int) -> list[Box]:
    """Join a strip to the nearest leaf (along ``axis``) whose span across holds 80 % of it."""
    lo, hi = strip[1 - axis], strip[3 - axis]
    best, best_gap = None, None
    for k, leaf in enumerate(leaves):
        overlap = min(hi, leaf[3 - axis]) - max(lo, leaf[1 - axis])
        if overlap < 0.8 * (hi - lo):
            continue
        gap = max(leaf[axis] - strip[axis + 2], strip[axis] - leaf[axis + 2])
        if best_gap is None or gap < best_gap:
            best, best_gap = k, gap
    if best is None:
        return leaves
    leaf = leaves[best]
    joined = (min(leaf[0], strip[0]), min(leaf[1], strip[1]), max(leaf[2], strip[2]), max(leaf[3], strip[3]))
    return leaves[:best] + [joined] + leaves[best + 1:]


def _peel_letters(fig: _Figure, box: Box) -> Box:
    """Remove a panel letter standing alone beyond a flat band at the edge of a panel.

    The strip between an edge and the first flat band at least LETTER_GAP wide is peeled
    when it is GLYPH_MIN to glyph thick (glyph: GLYPH_FRACTION of the panel's shorter side,
    at least GLYPH_PX), its content is no longer than a glyph and sits in the outer 30 %
    of the strip (near a corner), and the band is a gutter: a sharp edge beyond it, or no
    micrograph's tone.
    """
    for _ in range(4):
        before = box
        for axis in (0, 1):
            for from_end in (False, True):
                box = _peel_one(fig, box, axis, from_end)
        if box == before:
            break
    return box


def _peel_one(fig: _Figure, box: Box, axis: int, from_end: bool) -> Box:
    """:func:`_peel_letters` at one edge: the top (axis 0) or left (axis 1), or the far one."""
    r0, c0, r1, c1 = box
    glyph = max(GLYPH_PX, GLYPH_FRACTION * min(r1 - r0, c1 - c0))
    found = fig.lines(box, axis)
    lines, flat, colour, off = found.pixels, found.gutter, found.colour, found.strong
    n = flat.size
    order = np.arange(n)[::-1] if from_end else np.arange(n)
    content = np.flatnonzero(~flat[order])
    if content.size == 0:
        return box
    top = int(content[0])  # a margin a micrograph's tone kept is not part of the strip
    for start, stop in _runs(flat[order]):  # runs of flat lines from the edge
        if start <= top:
            continue
        if start - top > glyph or stop == n:
            return box
        if start - top >= GLYPH_MIN and stop - start >= LETTER_GAP and not off[order[start:stop]].all(axis=0).any():
            break  # a gutter beyond something as thick as a letter
    else:
        return box
    first, neighbour = int(order[stop]), int(order[stop - 1])
    strip = lines[order[top:start]]  # (thickness, length, 3)
    differs = (np.abs(strip - colour[order[start]]) > fig.tolerance).any(axis=2).any(axis=0)
    content = np.flatnonzero(differs)  # where the strip differs from the band's colour
    if content.size == 0:
        return box
    length = differs.size
    lo, hi = int(content[0]), int(content[-1]) + 1
    if hi - lo > glyph or not (hi <= 0.3 * length or lo >= 0.7 * length):
        return box
    rest_box = _sub_box(box, axis, 0, first + 1) if from_end else _sub_box(box, axis, first, n)
    if fig.tonal(rest_box) and _sharp_span(lines[first], colour[neighbour]) is None:
        return box
    return _trim(fig, rest_box) or box


