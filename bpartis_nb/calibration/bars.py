"""Scale bars found by their geometry: thin, long, uniform rectangles, or rows of ticks.

A drawn scale bar is a horizontal rectangle of one colour (any colour), several times
longer than thick, with a clear edge above and below along its whole length; sometimes
with end ticks; sometimes drawn as a row of equally spaced ticks or dots (Hitachi info
strips). Nothing here reads text: :mod:`bpartis_nb.calibration.scalebar` pairs these
candidates with their labels.

The search works on horizontal *runs*: stretches of a row whose colour stays within a
tolerance. Runs of one colour in consecutive rows that start and end at the same columns
stack into a rectangle; a bar is a rectangle that is thin, long, and differs from the
rows just above and below it.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

import numpy as np
from numpy.typing import NDArray
import pandas as pd
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .base import Box

__all__ = ["Bar", "find_bars", "as_rgb8", "STEP_TOL"]

#: Quantisation step of colours (8-bit levels per channel) that defines a run.
QUANTUM = 40
#: Runs of consecutive rows stack when both their ends are within this many pixels.
END_TOL = 3
#: Colours of one bar in neighbouring rows differ by at most this (8-bit levels, any channel).
STEP_TOL = 24
#: A bar is at least this many times longer than thick.
MIN_ELONGATION = 2.0
#: Fraction of the bar's length over which the rows just outside it must differ from it.
MIN_EDGE_CONTRAST = 0.6
#: Smallest colour difference (8-bit levels) between a bar and its surroundings.
MIN_CONTRAST = 40
#: A colour difference this large or more makes a bar fully salient.
SALIENT = 120


@dataclass(frozen=True)
class Bar:
    """A scale-bar candidate.

    Attributes
    ----------
    box : (min_row, min_col, max_row, max_col)
        Every pixel of the bar, end ticks included (max exclusive).
    body : (min_row, min_col, max_row, max_col)
        The full-length rows.
    length_px : float
        Length along the bar, outer end to outer end, to a fraction of a pixel (the
        partly covered end pixels count by how close their colour is to the bar's).
    colour : (int, int, int)
        Median RGB of the body.
    style : {"solid", "ticks", "dotted", "split"}
        A plain rectangle, one with end ticks, a row of ticks or dots, or two halves
        with a gap for the label.
    score : float
        0 to 1: how bar-like (edge contrast, elongation, contrast with its surroundings).
    gap : (int, int) or None
        For a split bar, the columns between its halves (where its label is).
    """

    box: Box
    body: Box
    length_px: float
    colour: tuple[int, int, int]
    style: str
    score: float
    gap: Optional[tuple[int, int]] = None

    @property
    def thickness(self) -> int:
        """Rows of the body."""
        return self.body[2] - self.body[0]

    @property
    def centre(self) -> tuple[float, float]:
        """(row, col) of the body's centre."""
        r0, c0, r1, c1 = self.body
        return (r0 + r1) / 2.0, (c0 + c1) / 2.0


def as_rgb8(image: NDArray) -> NDArray[np.uint8]:
    """Any validated image as (M, N, 3) uint8 RGB: 8-bit kept, other depths stretched by
    their own range, grey replicated, alpha dropped."""
    a = np.asarray(image)
    if a.ndim == 2:
        a = a[:, :, None].repeat(3, axis=2)
    a = a[:, :, :3]
    if a.dtype == np.uint8:
        return np.ascontiguousarray(a)
    f = a.astype(np.float64)
    lo, hi = float(f.min()), float(f.max())
    if hi <= lo:
        return np.zeros(a.shape, np.uint8)
    return np.round((f - lo) / (hi - lo) * 255).astype(np.uint8)


# --------------------------------------------------------------------------- rectangles
def _runs(rgb: NDArray[np.int16], min_len: int, offset: int) -> tuple[NDArray, NDArray, NDArray, NDArray]:
    """Horizontal runs of one quantised colour, at least ``min_len`` pixels long.

    Colours are quantised in steps of ``QUANTUM`` levels per channel, shifted by
    ``offset``: two grids half a step apart between them keep any colour with noise below
    a quarter step in one piece, while a ramp (a blurred edge) is cut.

    Returns
    -------
    rows, starts, stops, codes : ndarray of shape (K,)
        Row, first column, last column + 1 and quantised colour of each run.
    """
    m, n, _ = rgb.shape
    q = (rgb + offset) // QUANTUM
    code = ((q[:, :, 0] * 64 + q[:, :, 1]) * 64 + q[:, :, 2]).astype(np.int32)
    cut = np.ones((m, n + 1), bool)
    cut[:, 1:n] = code[:, 1:] != code[:, :-1]
    rows, edges = np.nonzero(cut)
    same_row = rows[1:] == rows[:-1]
    starts, stops, rows = edges[:-1][same_row], edges[1:][same_row], rows[:-1][same_row]
    keep = stops - starts >= min_len
    rows, starts, stops = rows[keep], starts[keep], stops[keep]
    return rows, starts, stops, code[rows, starts]


def _stacks(rows: NDArray, starts: NDArray, stops: NDArray, codes: NDArray) -> NDArray[np.intp]:
    """Stack id of each run: runs of one colour in consecutive rows whose two ends lie
    within ``END_TOL`` pixels of each other belong to one stack (a rectangle, possibly
    tilted by a pixel or two over its length)."""
    k = rows.size
    if k == 0:
        return np.zeros(0, np.intp)
    runs = pd.DataFrame({"i": np.arange(k), "row": rows, "code": codes, "start": starts, "stop": stops})
    below = runs.assign(row=runs["row"] - 1)
    pairs = runs.merge(below, on=["row", "code"], suffixes=("", "_b"))
    near = (np.abs(pairs["start"] - pairs["start_b"]) <= END_TOL) & (np.abs(pairs["stop"] - pairs["stop_b"]) <= END_TOL)
    pairs = pairs[near]
    graph = coo_matrix((np.ones(len(pairs)), (pairs["i"].to_numpy(), pairs["i_b"].to_numpy())), shape=(k, k))
    return connected_components(graph, directed=False)[1]


def _edge_fraction(vertical: NDArray[np.bool_], rows: NDArray, c0: NDArray, c1: NDArray) -> NDArray[np.float64]:
    """Fraction of ``vertical[row, c0:c1]`` that is True, for many (row, c0, c1) at once."""
    m = vertical.shape[0]
    cum = np.zeros((m, vertical.shape[1] + 1), np.int32)
    np.cumsum(vertical, axis=1, out=cum[:, 1:])
    inside = (rows >= 0) & (rows < m)
    r = np.clip(rows, 0, m - 1)
    frac = (cum[r, c1] - cum[r, c0]) / np.maximum(c1 - c0, 1)
    return np.where(inside, frac, 1.0)  # beyond the image edge counts as contrast


def _rectangles(rgb: NDArray[np.int16], min_len: int, offset: int) -> list[tuple[Box, float]]:
    """Thin, long rectangles of one colour that stand out from the rows above and below.

    Returns
    -------
    list of (box, contrast)
        The body (min_row, min_col, max_row, max_col) and the smaller of the fractions of
        its length over which the rows just above and just below differ from it.
    """
    m, n, _ = rgb.shape
    rows, starts, stops, codes = _runs(rgb, min_len, offset)
    stack = _stacks(rows, starts, stops, codes)
    if stack.size == 0:
        return []
    count = np.bincount(stack)
    r0 = np.full(count.size, m)
    np.minimum.at(r0, stack, rows)
    r1 = np.zeros(count.size, np.int64)
    np.maximum.at(r1, stack, rows + 1)
    order = np.lexsort((starts, stack))
    mid = np.cumsum(count) - (count + 1) // 2  # the median run of each stack, by start
    c0 = starts[order][mid]
    order = np.lexsort((stops, stack))
    c1 = stops[order][mid]
    thickness, length = r1 - r0, c1 - c0
    ok = (length >= min_len) & (length >= MIN_ELONGATION * thickness) & (thickness <= 0.15 * m) & (count == thickness)
    idx = np.flatnonzero(ok)
    r0, r1, c0, c1 = r0[idx], r1[idx], c0[idx], c1[idx]
    # a bar differs from what lies just outside it; blurred edges leave a row of mixed
    # colour (more for a bar tilted by a pixel or two), so rows up to 4 away count
    above = np.zeros(idx.size)
    below = np.zeros(idx.size)
    smooth = ndimage.uniform_filter1d(rgb, 3, axis=1)  # noise in textured backgrounds averages out
    for k in (1, 2, 3, 4):
        diff_up = np.zeros((m, n), bool)
        diff_up[k:] = np.abs(smooth[:-k] - smooth[k:]).max(axis=2) > 2 * STEP_TOL  # row r vs row r - k
        above = np.maximum(above, _edge_fraction(diff_up, r0, c0, c1))
        diff_down = np.zeros((m, n), bool)
        diff_down[:-k] = diff_up[k:]  # row r vs row r + k
        below = np.maximum(below, _edge_fraction(diff_down, r1 - 1, c0, c1))
    contrast = np.minimum(above, below)
    good = contrast >= MIN_EDGE_CONTRAST
    return [((int(a), int(b), int(c), int(d)), float(e))
            for a, b, c, d, e in zip(r0[good], c0[good], r1[good], c1[good], contrast[good])]


# --------------------------------------------------------------------------- bars
def _coverage(pixels: NDArray, colour: NDArray, background: NDArray) -> NDArray[np.float64]:
    """How much of each pixel the bar covers: its colour projected on the line from
    ``background`` (0) to ``colour`` (1), clipped to [0, 1]."""
    axis = colour - background
    denom = float(axis @ axis)
    if denom == 0:
        return np.zeros(len(pixels))
    return np.clip((pixels - background) @ axis / denom, 0.0, 1.0)


def _ends(rgb: NDArray[np.int16], body: Box, colour: NDArray) -> tuple[float, float]:
    """The bar's two ends, to a fraction of a pixel, along the body's middle row(s).

    From the body, each end first moves out over pixels of the bar's colour (end ticks,
    parts of the bar quantised into another colour), by up to a tenth of the bar (at least
    4 pixels); then over pixels at least half covered by it against the background 5 to 12
    pixels further out (blurred ends: "half-way between background and bar", the way a
    person measures a bar); then the partly covered pixels around that end count by their
    coverage.

    Returns
    -------
    (left, right)
        Column positions of the outer edges (right - left is the length).
    """
    r0, c0, r1, c1 = body
    n = rgb.shape[1]
    mid = slice(r0 + (r1 - r0) // 4, r1 - (r1 - r0) // 4) if r1 - r0 >= 4 else slice(r0, r1)
    profile = rgb[mid].astype(np.float64).mean(axis=0)  # (N, 3)
    reach = max(4, (c1 - c0) // 10)

    def same(c: int) -> bool:
        return 0 <= c < n and np.abs(profile[c] - colour).max() <= 2 * STEP_TOL

    left, right = c0, c1 - 1  # first and last pixel of the bar
    while c0 - left < reach and same(left - 1):
        left -= 1
    while right - (c1 - 1) < reach and same(right + 1):
        right += 1
    far = [profile[max(left - 12, 0):max(left - 5, 0)], profile[right + 6:right + 13]]
    backgrounds = [np.median(f, axis=0) if len(f) else None for f in far]
    if backgrounds[0] is None:
        backgrounds[0] = backgrounds[1]
    if backgrounds[1] is None:
        backgrounds[1] = backgrounds[0]
    if backgrounds[0] is None:
        return float(left), float(right + 1)

    def cover(c: int, bg: NDArray) -> float:
        return float(_coverage(profile[c:c + 1], colour, bg)[0]) if 0 <= c < n else 0.0

    for _ in range(2):
        if cover(left - 1, backgrounds[0]) >= 0.5:
            left -= 1
        if cover(right + 1, backgrounds[1]) >= 0.5:
            right += 1
    # the edge pixels, the last inside and the first two outside, count by their coverage
    left_edge = left + 1 - sum(cover(c, backgrounds[0]) for c in (left - 2, left - 1, left))
    right_edge = right + sum(cover(c, backgrounds[1]) for c in (right, right + 1, right + 2))
    outline = _outline_colour(rgb, body, colour)
    if outline is not None:  # an outlined bar is measured to the outer edge of its outline
        def frame(c: int, bg: NDArray) -> float:  # how much of the pixel is frame
            return float(_coverage(profile[c:c + 1], outline, bg)[0]) if 0 <= c < n else 0.0

        start = int(np.floor(left_edge)) - 1
        left_edge -= sum(frame(c, backgrounds[0]) for c in range(start, start - 4, -1))
        start = int(np.ceil(right_edge))
        right_edge += sum(frame(c, backgrounds[1]) for c in range(start, start + 4))
    return float(left_edge), float(right_edge)


def _outline_colour(rgb: NDArray[np.int16], body: Box, colour: NDArray) -> Optional[NDArray]:
    """The colour of a thin frame drawn around the bar (a white bar outlined in black so
    that it shows on any background), or None.

    One of the two rows just above the body and one of the two just below must be of one
    colour, the same on both sides, and on each side outside the range from the bar's
    colour to what lies beyond (a blurred edge is a colour between the two; a frame is not;
    the margin of a box around the bar goes on beyond, on one side at least).
    """
    r0, c0, r1, c1 = body
    m = rgb.shape[0]
    cols = slice(c0 + 2, c1 - 2)
    if c1 - c0 < 8 or r0 < 4 or r1 + 3 >= m:
        return None
    sides = []
    for rows, far in (((r0 - 1, r0 - 2), r0 - 4), ((r1, r1 + 1), r1 + 3)):
        beyond = np.median(rgb[far, cols], axis=0)
        axis = colour - beyond
        if float(axis @ axis) == 0:
            return None

        def position(row: NDArray) -> float:  # 0 at what lies beyond, 1 at the bar's colour
            return float((np.median(row, axis=0) - beyond) @ axis / (axis @ axis))

        row = min((rgb[r, cols].astype(np.float64) for r in rows), key=position)
        if position(row) > -0.3:
            return None
        sides.append(row)
    outline = np.median(np.concatenate(sides), axis=0)
    if min(np.mean(np.abs(row - outline).max(axis=1) <= 2 * STEP_TOL) for row in sides) < 0.8:
        return None
    return outline


def _length(rgb: NDArray[np.int16], body: Box, colour: NDArray) -> float:
    """Bar length to a fraction of a pixel (see :func:`_ends`)."""
    left, right = _ends(rgb, body, colour)
    return right - left


def _ticks(rgb: NDArray[np.int16], body: Box, colour: NDArray) -> tuple[Box, bool]:
    """Extend the body by end ticks: rows above or below the body where the bar's colour
    is present within the last 4 columns of an end but absent further in. Returns the
    full box and whether both ends have ticks of at least 2 rows."""
    r0, c0, r1, c1 = body
    m = rgb.shape[0]
    length = c1 - c0
    reach = max(3, 4 * (r1 - r0))

    def tick_row(row: int, end: slice, inner: slice) -> bool:
        near = np.abs(rgb[row, end] - colour).max(axis=1) <= 2 * STEP_TOL
        far = np.abs(rgb[row, inner] - colour).max(axis=1) <= 2 * STEP_TOL
        return bool(near.any()) and not bool(far.mean() > 0.5)

    top, bottom, found = r0, r1, []
    ends = ((slice(c0, c0 + 4), slice(c0 + 6, c0 + max(8, length // 4))),
            (slice(c1 - 4, c1), slice(c1 - max(8, length // 4), c1 - 6)))
    for end, inner in ends:
        up = 0
        while r0 - up - 1 >= 0 and up < reach and tick_row(r0 - up - 1, end, inner):
            up += 1
        down = 0
        while r1 + down < m and down < reach and tick_row(r1 + down, end, inner):
            down += 1
        found.append(max(up, down) >= 2)
        top, bottom = min(top, r0 - up), max(bottom, r1 + down)
    return (top, c0, bottom, c1), all(found)


def _bars_of_grid(rgb: NDArray[np.int16], min_length: int, offset: int) -> list[Bar]:
    """Bar candidates among the rectangles of one quantisation grid."""
    m = rgb.shape[0]
    bars = []
    for (r0, c0, r1, c1), contrast in _rectangles(rgb, min_length, offset):
        colour = np.median(rgb[r0:r1, c0:c1].reshape(-1, 3), axis=0)
        surround = np.concatenate([rgb[max(r0 - 2, 0), c0:c1], rgb[min(r1 + 1, m - 1), c0:c1]])
        difference = float(np.abs(np.median(surround, axis=0) - colour).max())
        if difference < MIN_CONTRAST:
            continue
        body = (r0, c0, r1, c1)
        box, ticked = _ticks(rgb, body, colour)
        elongation = min(1.0, ((c1 - c0) / (r1 - r0)) / 6.0)
        salience = min(1.0, difference / SALIENT)  # scale bars are drawn to be seen
        bars.append(Bar(box=box, body=body, length_px=_length(rgb, body, colour),
                        colour=tuple(int(round(v)) for v in colour), style="ticks" if ticked else "solid",
                        score=float(contrast * (0.5 + 0.5 * elongation) * (0.5 + 0.5 * salience))))
    return bars


def _tick_rows(rgb: NDArray[np.int16], min_length: int, min_count: int = 5) -> list[Bar]:
    """Bars drawn as a row of equally spaced ticks or dots (Hitachi and JEOL info strips).

    Small marks brighter or darker than their surroundings by ``MIN_CONTRAST`` are
    grouped when they share a row band and a size; at least ``min_count`` marks whose
    spacings agree within 12 % (or 2 px) make a bar, from the outer edge of the first
    mark to that of the last.
    """
    m, n, _ = rgb.shape
    grey = rgb.mean(axis=2)
    local = ndimage.uniform_filter1d(grey, 21, axis=1)
    bars = []
    for sign in (1.0, -1.0):
        marks, count = ndimage.label(sign * (grey - local) > MIN_CONTRAST)
        boxes = []
        for window in ndimage.find_objects(marks):
            h, w = window[0].stop - window[0].start, window[1].stop - window[1].start
            if 2 <= h <= max(4, 0.05 * m) and w <= max(3, h):
                boxes.append((window[0].start, window[1].start, window[0].stop, window[1].stop))
        boxes.sort(key=lambda b: (b[1], b[0]))
        used = [False] * len(boxes)
        for i, first in enumerate(boxes):
            if used[i]:
                continue
            chain = [first]
            for j in range(i + 1, len(boxes)):
                b, last = boxes[j], chain[-1]
                if used[j] or abs(b[0] - first[0]) > 1 or abs(b[2] - first[2]) > 1 or abs((b[3] - b[1]) - (first[3] - first[1])) > 1:
                    continue
                gap = b[1] - last[1]
                if gap < 2 * (first[3] - first[1]):
                    continue
                if len(chain) >= 2:
                    step = chain[1][1] - chain[0][1]
                    if abs(gap - step) > max(2.0, 0.12 * step):
                        if gap > step:
                            break
                        continue
                chain.append(b)
                used[j] = True
            length = chain[-1][3] - chain[0][1]
            if len(chain) < min_count or length < min_length:
                continue
            box = (min(b[0] for b in chain), chain[0][1], max(b[2] for b in chain), chain[-1][3])
            pixels = np.concatenate([rgb[b[0]:b[2], b[1]:b[3]].reshape(-1, 3) for b in chain])
            colour = pixels[np.argsort(sign * pixels.mean(axis=1))[-len(pixels) // 2:]].mean(axis=0)
            bars.append(Bar(box=box, body=box, length_px=float(length), colour=tuple(int(round(v)) for v in colour),
                            style="dotted", score=0.8))
    return bars


def find_bars(image: NDArray, min_length: int | None = None, max_bars: int = 12) -> list[Bar]:
    """Scale-bar candidates of an image, best first.

    Parameters
    ----------
    image : ndarray of shape (M, N) or (M, N, C)
    min_length : int, optional
        Shortest bar in pixels; default 1.2 % of the longer side, at least 8.
    max_bars : int
        At most this many candidates.

    Returns
    -------
    list of Bar
        Sorted by score, then length.

    Examples
    --------
    >>> img = np.full((100, 200), 90, np.uint8); img[80:84, 120:180] = 255
    >>> bar = find_bars(img)[0]
    >>> bar.body, round(bar.length_px, 1), bar.style
    ((80, 120, 84, 180), 60.0, 'solid')
    """
    rgb = as_rgb8(image).astype(np.int16)
    m, n, _ = rgb.shape
    if min_length is None:
        min_length = max(8, int(round(0.012 * max(m, n))))
    bars: list[Bar] = []
    for offset in (0, QUANTUM // 2):
        bars += _bars_of_grid(rgb, min_length, offset)
    bars += _tick_rows(rgb, min_length)
    merged = _drop_frames(rgb, _merge(bars))
    merged.sort(key=lambda b: (-round(b.score, 2), -b.length_px))
    merged = merged[:max_bars]
    return merged + _joined(merged, rgb)


def _drop_frames(rgb: NDArray[np.int16], bars: list[Bar]) -> list[Bar]:
    """Without the top and bottom edges of drawn rectangles (the border of a box around a
    label): two candidates over the same columns, of one colour, joined at both ends by
    vertical lines of that colour."""
    frames = set()
    for i, top in enumerate(bars):
        for j, bottom in enumerate(bars):
            (a0, ac0, a1, ac1), (b0, bc0, b1, bc1) = top.body, bottom.body
            if (b0 - a1 < 4 or abs(ac0 - bc0) > 2 or abs(ac1 - bc1) > 2
                    or np.abs(np.subtract(top.colour, bottom.colour)).max() > 2 * STEP_TOL):
                continue
            between = rgb[a1:b0]
            sides = [between[:, max(ac0 - 1, 0):ac0 + 3], between[:, max(ac1 - 3, 0):ac1 + 1]]
            if all((np.abs(side - np.asarray(top.colour)).max(axis=2) <= 2 * STEP_TOL).mean(axis=0).max() >= 0.8
                   for side in sides):
                frames.update((i, j))
    return [bar for k, bar in enumerate(bars) if k not in frames]


def _joined(bars: list[Bar], rgb: NDArray[np.int16]) -> list[Bar]:
    """Bars drawn in two halves with the label between them ("|-- 200 nm --|"): two
    candidates on the same rows, of one colour and thickness, with a gap at most four
    times as long as the two together, joined into one candidate of style "split" (which
    only pairs with a label in its gap)."""
    joined = []
    for left in bars:
        for right in bars:
            (a0, ac0, a1, ac1), (b0, bc0, b1, bc1) = left.body, right.body
            gap = bc0 - ac1
            if (left.style == "dotted" or right.style == "dotted" or gap <= 0
                    or gap > 4 * ((ac1 - ac0) + (bc1 - bc0)) or abs(a0 - b0) > 2 or abs(a1 - b1) > 2
                    or np.abs(np.subtract(left.colour, right.colour)).max() > 3 * STEP_TOL
                    or min(ac1 - ac0, bc1 - bc0) < 0.5 * max(ac1 - ac0, bc1 - bc0)):
                continue
            # measured as one bar from its outer ends (the inner ends face the label)
            box = (min(left.box[0], right.box[0]), left.box[1], max(left.box[2], right.box[2]), right.box[3])
            body = (min(a0, b0), ac0, max(a1, b1), bc1)
            joined.append(Bar(box=box, body=body, length_px=_length(rgb, body, np.asarray(left.colour)),
                              colour=left.colour, style="split", score=min(left.score, right.score),
                              gap=(ac1, bc0)))
    return joined


def _merge(bars: list[Bar]) -> list[Bar]:
    """One candidate per drawn bar: the two grids find the same bar twice, and a blurred
    bar leaves thin rectangles of mixed colour along its edges. The candidate with the
    most pixels absorbs those of its colour, or at most two rows thick and not of a far
    colour (a white line along a black band is a bar of its own), that overlap or touch
    it (its box grows to cover them)."""
    kept: list[Bar] = []
    for bar in sorted(bars, key=lambda b: -b.thickness * b.length_px):
        for i, big in enumerate(kept):
            if not _touching(bar.box, big.box):
                continue
            difference = np.abs(np.subtract(bar.colour, big.colour)).max()
            same = difference <= 2 * STEP_TOL
            if same or (bar.thickness <= 2 and difference < 150):  # a duplicate, or a blurred edge row
                grown = bar.box if same else bar.body
                box = (min(big.box[0], grown[0]), big.box[1], max(big.box[2], grown[2]), big.box[3])
                kept[i] = replace(big, box=box)
                break
        else:
            kept.append(bar)
    return kept


def _touching(a: Box, b: Box) -> bool:
    """Boxes that overlap or lie within one row of each other, sharing half the shorter's columns."""
    gap = max(a[0], b[0]) - min(a[2], b[2])
    cols = min(a[3], b[3]) - max(a[1], b[1])
    return gap <= 1 and cols >= 0.5 * min(a[3] - a[1], b[3] - b[1])
