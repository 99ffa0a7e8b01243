"""Annotations drawn on micrographs (scale bars, labels, text, boxes behind them, info
strips), found so that the analysis can leave them out: a network sees a scale bar as a
long particle and glyphs as small ones, and an instrument's information strip ("EHT =
10.00 kV  WD = 5 mm  Mag = 50 KX" along an edge) is no part of the specimen.

:func:`find_annotations` gives the mask of annotation pixels and the strip's rows: the
pipeline segments the image without the strip (:func:`crop_strip`, :func:`uncrop`) and
drops instances lying mostly on the mask (:func:`annotation_instances`). Masked:

- the scale bar and its label (from a :class:`~bpartis_nb.calibration.base.Calibration`);
  other bars with a length label ("200 nm") just above, below or beside them; long, clean
  bars near the top or bottom edge without a label;
- the glyphs of text read by the OCR engine, when it looks like writing: three characters
  or more, read with some confidence, no taller than a quarter of the image; shorter, a
  panel letter in a corner ("a", "(b)", "C2"), a unit, two letters, or a number beside a
  bar. The engine reads round particles as "O", "0" or "8": texts of such characters
  alone, and lines joined from words of very different heights, are refused;
- the rectangle behind a label or a panel letter (opaque or translucent): four straight
  edges around it, each contrasted along 75 % of its length, or the image border;
- coloured marks (arrows, coloured labels) in an otherwise grey image;
- the information strip: a full-width band of one flat colour along the bottom or top
  edge, holding text or marks, ending at a straight edge.

The thresholds below were chosen on the synthetic renderings
(:func:`bpartis_nb.calibration.renderings.rendering_set` ``(72, seed=0)``) and the EMPS
train split with its hand labels (``benchmarks/data/emps_annotations.jsonl``), never on
the test split.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage
from scipy.sparse.csgraph import connected_components

from .calibration.bars import Bar, as_rgb8, find_bars
from .calibration.base import Box, Calibration, boxes_overlap
from .calibration.ocr import OCRUnavailableError, TextBox
from .calibration.scalebar import label_reading, pair_score, read_whole

__all__ = ["Annotations", "KINDS", "find_annotations", "annotation_fraction", "annotation_instances",
           "crop_strip", "uncrop", "find_strip", "strip_rows", "looks_like_text", "glyph_mask", "find_box",
           "coloured_marks"]

#: The kinds of :attr:`Annotations.items`.
KINDS = ("scale_bar", "label", "text", "box", "strip")
#: OCR confidence of a text of three characters or more; of a unit, two letters or a
#: number; of a panel letter in a corner.
MIN_TEXT_SCORE, MIN_SHORT_SCORE, MIN_PANEL_SCORE = 0.6, 0.8, 0.55
#: Tallest text (fraction of the shorter side); a panel letter's greatest distance from
#: two edges (fraction of each side).
MAX_TEXT_HEIGHT, CORNER = 0.25, 0.16
#: A bar goes with a length label from this pair_score x bar score.
MIN_PAIR = 0.25
#: An unlabelled bar: this score, this fraction of the width long, in the outer
#: EDGE_BAND of the rows.
UNLABELLED_SCORE, UNLABELLED_LENGTH, EDGE_BAND = 0.7, 0.08, 0.2
#: Box edges: grey-level step (3-pixel smoothed), fraction of the side contrasted,
#: search reach (seed heights; the image border up to BORDER_REACH), largest box
#: (fraction of the image).
BOX_STEP, BOX_EDGE, BOX_REACH, BORDER_REACH, MAX_BOX_AREA = 15.0, 0.75, 1.5, 8.0, 0.2
#: Strips: tallest (fraction of the height), grey levels around its colour, fraction of
#: a row of that colour, fewest rows, fraction of the columns of that colour, and of the
#: pixels within STRIP_TOL the fraction within 2 levels (drawn bands are flat, noise
#: spreads a micrograph's levels).
STRIP_MAX, STRIP_TOL, STRIP_FLAT, STRIP_MIN, STRIP_WIDE, STRIP_EXACT = 0.3, 6.0, 0.35, 6, 0.85, 0.7
#: Chroma (8-bit max - min channel) of coloured marks; most coloured pixels of a grey image.
CHROMA, MAX_CHROMATIC = 60, 0.05
#: Pixels added around bars, boxes and strips, and around glyphs (blur, anti-aliasing).
MARGIN, GLYPH_MARGIN = 2, 3

_PANEL = re.compile(r"^[(\[]?(?:[a-np-zA-NP-Z](?:-?[0-9]|l)?|[IVX]{2,3}|[1-57])[)\]]?$")
_UNIT = re.compile(r"^(?:[0-9.,]*(?:[nµμup]m|mm|Å)|[0-9.,]+A)$")
_ROUND = set("0oO8DQ69")


@dataclass(frozen=True, eq=False)
class Annotations:
    """The annotations of an image.

    Attributes
    ----------
    mask : ndarray of shape (M, N), bool
        The annotation pixels, with a margin of 2 or 3 pixels.
    items : list of (kind, box)
        What was found: ``kind`` one of :data:`KINDS`, ``box`` (min_row, min_col, max_row,
        max_col), max exclusive. Coloured marks (arrows) are in ``mask`` only.
    strip_box : (min_row, min_col, max_row, max_col) or None
        The information strip: full width, at the top or bottom edge.
    warnings : tuple of str
        What could not be done (without the OCR engine, text was not looked for).

    Examples
    --------
    >>> a = Annotations(np.zeros((10, 4), bool), [("strip", (8, 0, 10, 4))], strip_box=(8, 0, 10, 4))
    >>> a.kept_region, a.boxes("strip")
    ((0, 8), [(8, 0, 10, 4)])
    """

    mask: NDArray[np.bool_]
    items: list[tuple[str, Box]] = field(default_factory=list)
    strip_box: Optional[Box] = None
    warnings: tuple[str, ...] = ()

    @property
    def kept_region(self) -> tuple[int, int]:
        """(first row, last row + 1) of the image without the strip."""
        m = self.mask.shape[0]
        if self.strip_box is None:
            return 0, m
        return (self.strip_box[2], m) if self.strip_box[0] <= 0 else (0, self.strip_box[0])

    def boxes(self, kind: str) -> list[Box]:
        """The boxes of the items of one kind."""
        return [box for k, box in self.items if k == kind]

    @classmethod
    def empty(cls, shape: tuple[int, int], *warnings: str) -> "Annotations":
        """No annotation in an image of ``shape`` (M, N)."""
        return cls(np.zeros(shape, bool), [], None, tuple(warnings))


# --------------------------------------------------------------------------- instances
def annotation_fraction(labels: NDArray, mask: NDArray) -> NDArray[np.float64]:
    """Fraction of each instance's pixels that lie on the annotation mask.

    Parameters
    ----------
    labels : ndarray of shape (M, N), int
        Instance map, 0 = background.
    mask : ndarray of shape (M, N), bool

    Returns
    -------
    ndarray of shape (K + 1,), float
        Entry k for instance k (K the largest label); entry 0 and absent labels are 0.

    Examples
    --------
    >>> labels = np.array([[1, 1, 0, 2], [1, 1, 0, 2]])
    >>> annotation_fraction(labels, np.array([[True, False, False, True], [False, False, True, True]]))
    array([0.  , 0.25, 1.  ])
    """
    labels, mask = np.asarray(labels), np.asarray(mask, bool)
    if labels.shape != mask.shape:
        raise ValueError(f"labels {labels.shape} and mask {mask.shape} differ in shape")
    size = int(labels.max(initial=0)) + 1
    flat = labels.ravel().astype(np.int64)
    total = np.bincount(flat, minlength=size).astype(np.float64)
    masked = np.bincount(flat[mask.ravel()], minlength=size).astype(np.float64)
    out = np.divide(masked, total, out=np.zeros(size), where=total > 0)
    out[0] = 0.0
    return out


def annotation_instances(labels: NDArray, mask: NDArray, min_fraction: float = 0.5) -> NDArray[np.bool_]:
    """Which instances of ``labels`` (M, N) lie mostly on annotations (to drop): a (K + 1,)
    bool array, True where at least ``min_fraction`` of the pixels are on ``mask`` (M, N).

    Examples
    --------
    >>> labels = np.array([[1, 1, 0, 2], [1, 1, 0, 2]])
    >>> annotation_instances(labels, labels == 2)
    array([False, False,  True])
    """
    return annotation_fraction(labels, mask) >= min_fraction


def crop_strip(image: NDArray, annotations: Annotations) -> NDArray:
    """The image, of shape (M, N[, C]), without its strip: a view of rows ``kept_region``."""
    r0, r1 = annotations.kept_region
    return np.asarray(image)[r0:r1]


def uncrop(array: NDArray, annotations: Annotations, fill: float = 0) -> NDArray:
    """A map of shape (M', N, ...) of the image cropped by :func:`crop_strip` (labels,
    probabilities) put back at the full size (M, N, ...), the strip's rows set to ``fill``.

    Examples
    --------
    >>> uncrop(np.ones((3, 2), int), Annotations(np.zeros((4, 2), bool), strip_box=(3, 0, 4, 2)))
    array([[1, 1],
           [1, 1],
           [1, 1],
           [0, 0]])
    """
    array = np.asarray(array)
    m, n = annotations.mask.shape
    r0, r1 = annotations.kept_region
    if array.shape[:2] != (r1 - r0, n):
        raise ValueError(f"expected a map of the cropped image, of shape ({r1 - r0}, {n}, ...), got {array.shape}")
    out = np.full((m, n) + array.shape[2:], fill, dtype=array.dtype)
    out[r0:r1] = array
    return out


# --------------------------------------------------------------------------- strip
def _mode(values: NDArray) -> float:
    """The most frequent 8-bit level of ``values`` (rounded)."""
    return float(np.argmax(np.bincount(np.clip(np.round(values), 0, 255).astype(np.int64).ravel(), minlength=256)))


def strip_rows(grey: NDArray) -> int:
    """Rows of an information strip along the top of ``grey``, of shape (M, N) (0: none).

    The strip's colour is the most frequent level of the first 16 rows. The strip starts
    within the first 10 rows (after a frame line) and runs over rows with ``STRIP_FLAT``
    of their pixels within ``STRIP_TOL`` of that colour (gaps of up to 9 rows: lines of
    text), then over up to 4 uniform rows of another colour (a frame). It must hold that
    colour in ``STRIP_WIDE`` of the columns, be flat (``STRIP_EXACT``), and end at a
    straight edge (the flat fraction drops by 0.4 within 4 rows).

    Examples
    --------
    >>> g = np.random.default_rng(0).normal(128, 20, (100, 60)); g[:12] = 0; g[4:8, 5:40] = 255
    >>> strip_rows(g), strip_rows(g[::-1])
    (12, 0)
    """
    limit = int(STRIP_MAX * grey.shape[0])
    if limit < STRIP_MIN:
        return 0
    colour = _mode(grey[:16])
    near = np.abs(grey[:limit + 6] - colour) <= STRIP_TOL
    flat = near.mean(axis=1)
    good = flat >= STRIP_FLAT
    start = next((i for i in range(10) if good[i] and good[i + 1]), None)
    if start is None:
        return 0
    end = i = start
    while i < limit and good[i:i + 10].any():
        end, i = (i + 1, i + 1) if good[i] else (end, i + 1)
    if end >= limit or end < STRIP_MIN or (near[start:end].mean(axis=0) >= 0.3).mean() < STRIP_WIDE:
        return 0
    edge = grey[end:end + 4]
    uniform = (np.abs(edge - np.median(edge, axis=1, keepdims=True)) <= STRIP_TOL).mean(axis=1) >= 0.9
    frame = 0
    while frame < len(uniform) and end + frame < limit and uniform[frame] and flat[end + frame] < STRIP_FLAT:
        frame += 1
    drop = flat[max(end - 2, 0):end].mean() - flat[end + frame + 1:end + frame + 5].mean()
    exact = (np.abs(grey[start:end] - colour) <= 2).mean()
    return end + frame if drop >= 0.4 and exact >= STRIP_EXACT * near[start:end].mean() else 0


def find_strip(grey: NDArray, texts: Sequence[TextBox] = (), bars: Sequence[Bar] = ()) -> Optional[Box]:
    """The information strip: a band found by :func:`strip_rows` along the bottom (first)
    or top edge that holds a text, a bar, or 0.3 % of pixels far from its colour.

    Parameters
    ----------
    grey : ndarray of shape (M, N), float
    texts, bars : sequences of TextBox and Bar

    Returns
    -------
    (min_row, 0, max_row, N) or None
    """
    m, n = grey.shape
    for side in ("bottom", "top"):
        rows = strip_rows(grey[::-1] if side == "bottom" else grey)
        if not rows:
            continue
        box = (m - rows, 0, m, n) if side == "bottom" else (0, 0, rows, n)
        band = grey[box[0]:box[2]]
        if (any(box[0] <= r < box[2] for r, _ in [t.centre for t in texts] + [b.centre for b in bars])
                or (np.abs(band - _mode(band)) > 4 * STRIP_TOL).mean() >= 0.003):
            return box
    return None


# --------------------------------------------------------------------------- texts
def looks_like_text(text: TextBox, shape: tuple[int, int], bars: Sequence[Bar] = ()) -> bool:
    """Whether an OCR reading in an image of ``shape`` (M, N) is writing, not particles
    read as letters (the rules in the module's description).

    Examples
    --------
    >>> looks_like_text(TextBox("(b)", 0.99, (5, 4, 40, 40)), (512, 512))
    True
    >>> looks_like_text(TextBox("O", 0.9, (300, 200, 360, 260)), (512, 512))
    False
    """
    m, n = shape
    chars = [ch for ch in text.text if ch.isascii() and ch.isalnum()]
    if text.height > MAX_TEXT_HEIGHT * min(m, n) or not chars:
        return False
    if len(chars) >= 3 and not set(chars) <= _ROUND:
        return text.score >= MIN_TEXT_SCORE
    word = text.text.replace(" ", "")
    r0, c0, r1, c1 = text.box
    if _PANEL.match(word) and min(r0, m - r1) <= CORNER * m and min(c0, n - c1) <= CORNER * n:
        return text.score >= MIN_PANEL_SCORE
    if text.score < MIN_SHORT_SCORE:
        return False
    if _UNIT.match(word) or (len(chars) == 2 and "".join(chars).isalpha()):
        return True
    return word.replace(".", "").isdigit() and any(pair_score(b, text) * b.score >= MIN_PAIR for b in bars)


def _joins_mismatched(text: TextBox, texts: Sequence[TextBox]) -> bool:
    """A line joined from words of very different heights (a label and a particle read as
    a letter): it holds a word less than 0.6 times its height."""
    r0, c0, r1, c1 = text.box
    return any(u is not text and u.box[0] >= r0 and u.box[1] >= c0 and u.box[2] <= r1 and u.box[3] <= c1
               and u.height < 0.6 * text.height for u in texts)


def text_core(box: Box) -> Box:
    """The part of an OCR box that is surely glyphs (its boxes overhang them by about a
    fifth of their height above and below, a few pixels at the ends)."""
    r0, c0, r1, c1 = box
    h, inset = r1 - r0, min(4, (c1 - c0) // 4)
    return r0 + int(0.35 * h), c0 + inset, r1 - int(0.35 * h), c1 - inset


def glyph_mask(grey: NDArray, box: Box, grow: int = GLYPH_MARGIN) -> NDArray[np.bool_]:
    """The glyphs of a text box, grown by ``grow`` pixels: the pixels nearer to the ink's
    level than half-way to the box's median (its background). The ink differs from the
    median by 30 grey levels and half the larger differences (99th percentile); its level
    is the median of its most extreme quarter. A particle behind a label is left out
    where it is not of that level.

    Parameters
    ----------
    grey : ndarray of shape (M, N)
    box : (min_row, min_col, max_row, max_col)
    grow : int

    Returns
    -------
    ndarray of shape (max_row - min_row, max_col - min_col), bool
        All True when no ink is found.

    Examples
    --------
    >>> g = np.full((10, 12), 50.0); g[4:6, 5] = 250
    >>> int(glyph_mask(g, (0, 0, 10, 12), grow=1).sum())
    12
    """
    r0, c0, r1, c1 = box
    crop = grey[r0:r1, c0:c1]
    if crop.size == 0:
        return np.ones(crop.shape, bool)
    background = float(np.median(crop))
    deviation = np.abs(crop - background)
    ink = deviation >= max(30.0, 0.5 * float(np.percentile(deviation, 99)))
    if not ink.any():
        return np.ones(crop.shape, bool)
    level = float(np.median(crop[ink & (deviation >= np.percentile(deviation[ink], 75))]))  # the most extreme
    glyphs = np.abs(crop - level) <= 0.5 * abs(level - background)
    return ndimage.binary_dilation(glyphs, np.ones((2 * grow + 1, 2 * grow + 1), bool))


# --------------------------------------------------------------------------- boxes
def _edge_profile(smooth: NDArray, lines: NDArray, c0: int, c1: int, wide: bool = True) -> NDArray[np.float64]:
    """For each line r of ``lines`` (an edge between lines r - 1 and r), the fraction of
    positions [c0, c1) of ``smooth`` (shape (L, W)) where lines r + 1 and r - 2 (``wide``:
    blurred edges count) or r and r - 1 differ by ``BOX_STEP`` or more; shape (K,)."""
    if c1 <= c0:
        return np.zeros(len(lines))
    last = smooth.shape[0] - 1
    inside = smooth[np.clip(lines + wide, 0, last), c0:c1]
    outside = smooth[np.clip(lines - 1 - wide, 0, last), c0:c1]
    return (np.abs(inside - outside) >= BOX_STEP).mean(axis=1)


def _edge_candidates(smooth: NDArray, start: int, stop: int, c0: int, c1: int) -> list[int]:
    """Up to 4 edges r (between lines r - 1 and r) contrasted along ``BOX_EDGE`` of
    [c0, c1), on the lines from ``start`` to ``stop`` (either way), nearest first."""
    step = 1 if stop >= start else -1
    lines = np.arange(start, np.clip(stop, 1, smooth.shape[0] - 1) + step, step)
    found: set[int] = set()
    for wide in (False, True) if lines.size else ():  # sharp edges 2 lines apart stay apart; blurred ones count
        profile = _edge_profile(smooth, lines, c0, c1, wide)
        runs, count = ndimage.label(profile >= BOX_EDGE)
        for k in range(1, min(count, 4) + 1):  # an edge spans lines: the middle of the best ones
            where = np.flatnonzero(runs == k)
            best = where[profile[where] == profile[where].max()]
            found.add(int(lines[best[len(best) // 2]]))
    return sorted(found, key=lambda v: step * v)[:4]


def _side_ok(smooth: NDArray, edge: int, lo: int, hi: int) -> bool:
    """An edge between lines ``edge - 1`` and ``edge`` contrasted along [lo, hi), or the border."""
    return edge <= 0 or edge >= smooth.shape[0] or bool(_edge_profile(smooth, np.array([edge]), lo, hi)[0] >= BOX_EDGE)


def find_box(rows_smooth: NDArray, cols_smooth: NDArray, seed: Box, core: Optional[Box] = None) -> Optional[Box]:
    """The smallest rectangle around ``seed`` (a text, or a bar with its label) whose four
    sides are edges contrasted along ``BOX_EDGE`` of their length, or the image border.

    Parameters
    ----------
    rows_smooth : ndarray of shape (M, N)
        The grey image smoothed along rows (3 pixels).
    cols_smooth : ndarray of shape (N, M)
        The grey image smoothed along columns (3 pixels), transposed.
    seed : (min_row, min_col, max_row, max_col)
    core : (min_row, min_col, max_row, max_col), optional
        What the rectangle holds with a margin of 3 pixels (default: :func:`text_core`
        of ``seed``).

    Returns
    -------
    (min_row, min_col, max_row, max_col) or None

    Examples
    --------
    >>> g = np.full((90, 120), 120.0); g[10:30, 20:70] = 255; g[16:24, 30:60:5] = 0  # strokes in a white box
    >>> find_box(ndimage.uniform_filter1d(g, 3, axis=1), ndimage.uniform_filter1d(g, 3, axis=0).T, (14, 28, 26, 62))
    (10, 20, 30, 70)
    """
    m, n = rows_smooth.shape
    r0, c0, r1, c1 = max(seed[0], 0), max(seed[1], 0), min(seed[2], m), min(seed[3], n)
    h = max(r1 - r0, 1)
    reach, border = max(int(BOX_REACH * h), int(0.15 * (c1 - c0)), 6), int(BORDER_REACH * h)
    k0, k1, k2, k3 = text_core(seed) if core is None else core
    tops = _edge_candidates(rows_smooth, k0 - 3, r0 - reach, c0, c1) + ([0] if r0 <= border else [])
    bottoms = _edge_candidates(rows_smooth, k2 + 3, r1 + reach, c0, c1) + ([m] if m - r1 <= border else [])
    lefts = _edge_candidates(cols_smooth, k1 - 3, c0 - reach, r0, r1) + ([0] if c0 <= border else [])
    rights = _edge_candidates(cols_smooth, k3 + 3, c1 + reach, r0, r1) + ([n] if n - c1 <= border else [])
    best: Optional[tuple[int, Box]] = None
    for t in tops:
        for b in bottoms:
            for left in lefts:
                for right in rights:
                    area = (b - t) * (right - left)
                    if ((best is not None and area >= best[0]) or area > MAX_BOX_AREA * m * n
                            or t > k0 - 3 or b < k2 + 3 or left > k1 - 3 or right < k3 + 3):
                        continue
                    if (_side_ok(rows_smooth, t, left, right) and _side_ok(rows_smooth, b, left, right)
                            and _side_ok(cols_smooth, left, t, b) and _side_ok(cols_smooth, right, t, b)):
                        best = (area, (t, left, b, right))
    return None if best is None else best[1]


def coloured_marks(rgb: NDArray[np.uint8]) -> NDArray[np.bool_]:
    """Coloured marks (arrows, coloured labels) of a grey micrograph, shape (M, N, 3):
    an (M, N) mask of the pixels of a chroma of ``CHROMA`` or more in groups of 8 or
    more; empty when more than ``MAX_CHROMATIC`` of the image is coloured."""
    a = rgb.astype(np.int16)
    marks = a.max(axis=2) - a.min(axis=2) >= CHROMA
    if not marks.any() or marks.mean() > MAX_CHROMATIC:
        return np.zeros(marks.shape, bool)
    groups, count = ndimage.label(marks)
    keep = np.bincount(groups.ravel(), minlength=count + 1) >= 8
    keep[0] = False
    return keep[groups]


# --------------------------------------------------------------------------- all
def _grow(box: Box, shape: tuple[int, int], rows: int, cols: int) -> Box:  # within the image
    return (max(box[0] - rows, 0), max(box[1] - cols, 0), min(box[2] + rows, shape[0]), min(box[3] + cols, shape[1]))


def _union(a: Box, b: Box) -> Box:
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def _within(box: Box, outer: Box) -> bool:
    """The centre of ``box`` lies in ``outer``."""
    r, c = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return outer[0] <= r < outer[2] and outer[1] <= c < outer[3]


def _clusters(boxes: Sequence[Box], shape: tuple[int, int]) -> list[tuple[Box, Box]]:
    """Groups of two or more text boxes within half a text height of each other (lines
    of a data box): the union of their boxes and of their :func:`text_core`."""
    if len(boxes) < 2:
        return []
    grown = [_grow(b, shape, (b[2] - b[0]) // 2, (b[2] - b[0]) // 2) for b in boxes]
    count, group = connected_components(np.array([[boxes_overlap(a, b) for b in grown] for a in grown]), directed=False)
    out = []
    for g in range(count):
        members = [boxes[i] for i in np.flatnonzero(group == g)]
        if len(members) >= 2:
            box, core = members[0], text_core(members[0])
            for other in members[1:]:
                box, core = _union(box, other), _union(core, text_core(other))
            out.append((box, core))
    return out


def find_annotations(
    image: NDArray,
    *,
    bars: Optional[Sequence[Bar]] = None,
    texts: Optional[Sequence[TextBox]] = None,
    calibration: Optional[Calibration] = None,
) -> Annotations:
    """Find the scale bars, labels, text, boxes and information strip of a micrograph.

    Parameters
    ----------
    image : ndarray of shape (M, N) or (M, N, C)
    bars : sequence of Bar, optional
        Candidates already found (:func:`~bpartis_nb.calibration.bars.find_bars`).
    texts : sequence of TextBox, optional
        Text already read (:func:`~bpartis_nb.calibration.scalebar.read_whole`); read here
        when not given, unless the OCR engine is missing (then a warning says so).
    calibration : Calibration, optional
        Its ``bar_box`` and ``label_box`` are the scale bar and its label.

    Returns
    -------
    Annotations

    Examples
    --------
    >>> img = np.random.default_rng(0).normal(120, 15, (200, 300)).clip(0, 255).astype(np.uint8)
    >>> img[180:] = 0; img[186:190, 200:280] = 255
    >>> a = find_annotations(img, texts=[])
    >>> a.strip_box, a.kept_region
    ((180, 0, 200, 300), (0, 180))
    """
    rgb = as_rgb8(image)
    m, n = rgb.shape[:2]
    grey = rgb.astype(np.float64).mean(axis=2)
    warnings: list[str] = []
    bars = list(find_bars(rgb) if bars is None else bars)
    if texts is None:
        try:
            texts = read_whole(rgb)
        except OCRUnavailableError as exc:
            texts = []
            warnings.append(f"text and labels were not looked for: {exc}")
    texts = list(texts)
    strip = find_strip(grey, texts, bars)
    items: list[tuple[str, Box]] = [] if strip is None else [("strip", strip)]

    def outside_strip(box: Box) -> bool:
        return strip is None or not _within(box, strip)

    accepted = [t for t in texts
                if looks_like_text(t, (m, n), bars) and not _joins_mismatched(t, texts) and outside_strip(t.box)]
    groups: list[tuple[Box, Box]] = []  # what a box may surround (a bar and its label, texts), and its core

    def add(bar: Box, label: Optional[Box]) -> None:
        items.append(("scale_bar", bar))
        if label is not None:
            items.append(("label", label))
        groups.append((bar, bar) if label is None else (_union(bar, label), _union(bar, text_core(label))))

    if calibration is not None and calibration.bar_box is not None:
        add(tuple(calibration.bar_box), None if calibration.label_box is None else tuple(calibration.label_box))
    for text in accepted:  # other length labels, each with the bar it sits on best
        if label_reading(text.text) is None or any(boxes_overlap(text.box, box) for k, box in items if k == "label"):
            continue
        score, bar = max(((pair_score(b, text) * b.score, b) for b in bars if outside_strip(b.box)),
                         key=lambda p: p[0], default=(0.0, None))
        if bar is not None and score >= MIN_PAIR:
            add(bar.box, text.box)
    for bar in bars:  # clean, long bars near the top or bottom edge, without a label
        if (bar.style in ("solid", "ticks") and bar.score >= UNLABELLED_SCORE and bar.thickness >= 2
                and bar.box[3] - bar.box[1] >= UNLABELLED_LENGTH * n
                and min(bar.box[0], m - bar.box[2]) <= EDGE_BAND * m and outside_strip(bar.box)):
            add(bar.box, None)
    labels = [box for k, box in items if k == "label"]
    for text in accepted:
        if not any(_within(text.box, box) for box in labels):
            items.append(("text", text.box))
        groups.append((text.box, text_core(text.box)))  # a box behind the text alone
    groups += _clusters([t.box for t in accepted], (m, n))
    rows_smooth = ndimage.uniform_filter1d(grey, 3, axis=1)
    cols_smooth = np.ascontiguousarray(ndimage.uniform_filter1d(grey, 3, axis=0).T)
    for seed, core in groups:
        box = find_box(rows_smooth, cols_smooth, seed, core)
        if box is not None and outside_strip(box):
            items.append(("box", box))

    mask = coloured_marks(rgb)
    boxes = [box for k, box in items if k == "box"]
    for kind, box in items:
        if kind in ("text", "label") and not any(_within(box, outer) for outer in boxes):
            extra = int(round(0.15 * (box[2] - box[0])))  # the engine leaves out narrow glyphs at the ends
            r0, c0, r1, c1 = _grow(box, (m, n), GLYPH_MARGIN, GLYPH_MARGIN + extra)
            mask[r0:r1, c0:c1] |= glyph_mask(grey, (r0, c0, r1, c1))
        elif kind == "strip":  # and the rows it blurs into
            r0, _, r1, _ = _grow(box, (m, n), MARGIN, 0)
            mask[r0:r1] = True
        else:
            r0, c0, r1, c1 = _grow(box, (m, n), MARGIN, MARGIN)
            mask[r0:r1, c0:c1] = True
    items = list(dict.fromkeys((k, tuple(int(v) for v in _grow(b, (m, n), 0, 0))) for k, b in items))
    return Annotations(mask, items, strip, tuple(warnings))
