"""Reading the scale bar: a bar found by its geometry, its label read by OCR, the two
paired by where they sit.

nm per pixel = the label's value (in nm) / the bar's length in pixels. A label belongs to
a bar when it sits just above or below it, centred on it, or just beside it on the same
line (info strips). Every way this can go wrong ends in a warning and an unknown
calibration, never a silent guess: no bar, a bar without a readable label, a label
without a bar, two bars that disagree, a unit that is not a length.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Optional, Sequence

import numpy as np
from numpy.typing import NDArray

from .bars import Bar, as_rgb8, find_bars
from .base import Calibration, boxes_overlap
from .ocr import INSTALL_HINT, OCRUnavailableError, TextBox, read_text, reread
from .units import UnknownUnitError, iter_lengths, normalize_unit, to_nm

__all__ = ["Pairing", "read_scale_bar", "pair_score", "label_reading", "PLAUSIBLE_NM_PER_PX"]

#: nm per pixel outside this range is not an electron micrograph (a misread unit).
PLAUSIBLE_NM_PER_PX = (2e-3, 2e4)
#: Bars tried with a zoomed OCR of their surroundings.
ZOOMED_BARS = 2
#: Texts placed at least this well (pair_score) around a bar are read again.
NEAR = 0.3
#: A pairing this good needs no second, zoomed reading.
CONFIDENT = 0.75
#: A pairing with the best one's label and a bar holding the best one's bar wins from this
#: fraction of the best score (the whole bar rather than a piece of it).
NEARLY = 0.6
#: A pairing is accepted from this score (geometry x bar x OCR confidence).
MIN_SCORE = 0.2
#: Score of a label flush with one end of a bar, relative to a centred one.
ALIGNED = 0.75
#: Two readings disagree when their nm/px differ by more than this fraction.
AGREEMENT = 0.03


@dataclass(frozen=True)
class Pairing:
    """A bar and the label read next to it."""

    bar: Bar
    label: TextBox
    value: float
    unit: str
    score: float

    @property
    def nm_per_px(self) -> float:
        return to_nm(self.value, self.unit) / self.bar.length_px

    def calibration(self, warnings: Sequence[str] = ()) -> Calibration:
        return Calibration(
            nm_per_px=self.nm_per_px, source="scale_bar", value=self.value, unit=self.unit, text=self.label.text,
            bar_px=self.bar.length_px, bar_box=self.bar.box, label_box=self.label.box,
            confidence=round(min(1.0, self.score), 3),
            detail=f"bar of {self.bar.length_px:.1f} px at rows {self.bar.box[0]}-{self.bar.box[2]}, "
                   f"columns {self.bar.box[1]}-{self.bar.box[3]}, label '{self.label.text}'",
            warnings=tuple(warnings),
        )


#: Fields of instrument data bars whose value is a length but not the scale bar's.
INSTRUMENT_FIELDS = ("wd", "hfw", "vfw", "fov", "fw", "field", "width", "spot", "probe", "pixel", "pix",
                     "aperture", "ap", "dwell", "depth", "z", "x", "y")


def label_reading(text: str) -> Optional[tuple[float, str]]:
    """Value and unit of a text read next to a bar, or None when it is not a scale-bar label.

    OCR reads the micro sign as "u", "p", "j", "ju" or "x" at times: such a label is read
    as µm (scale bars in pm are vanishingly rare in electron micrographs; the plausibility
    check on nm per pixel catches the rest). A decimal point read as a space ("0 5 µm")
    is put back: no scale bar is 0 long. The end ticks of a split bar read as letters
    ("T100 nm", "H50 nm—") are dropped. A length that is the value of an instrument field
    ("WD = 5.1 mm", "HFW 2.98 µm") or a small part of a long line of text is not a label.

    Examples
    --------
    >>> label_reading("200 nm"), label_reading("1 jm"), label_reading("0 5 μm"), label_reading("0.1 jum")
    ((200.0, 'nm'), (1.0, 'µm'), (0.5, 'µm'), (0.1, 'µm'))
    >>> label_reading("T100 nm"), label_reading("H50 nm—"), label_reading("50nml"), label_reading("I μm")
    ((100.0, 'nm'), (50.0, 'nm'), (50.0, 'nm'), (1.0, 'µm'))
    >>> label_reading("WD = 7.5 mm"), label_reading("1.00kV 0.10nA 5.4 mm 15000x"), label_reading("Mag = 50 kX")
    (None, None, None)
    """
    mended = re.sub(r"^\s*[Il|](?=\s*(?:[µμu]m|nm|mm|pm|Å)\b)", "1", text)  # a lone "1" read as a letter
    mended = re.sub(r"(?<![A-Za-z])[THIlF|\[\]—–-]+(?=[0-9])", " ", mended)  # a bar's end tick read as a letter
    mended = re.sub(r"(?<=m)(?:[THF|\[\]—–-]+|[lI]+(?=\s|$))", " ", mended)
    mended = re.sub(r"(?<=[0-9\s])(?:[jJ][uμµ]?|[pxX])(?=m\b)", "µ", mended)
    mended = re.sub(r"(?<![0-9.,])0\s+(?=[0-9])", "0.", mended)
    characters = len(re.sub(r"\s", "", mended))
    for value, unit, start, end in iter_lengths(mended):
        field = re.findall(r"[A-Za-z]+", mended[:start].rstrip(" =:"))
        if field and field[-1].lower() in INSTRUMENT_FIELDS and re.search(r"[A-Za-z][\s=:]*$", mended[:start]):
            continue
        if len(re.sub(r"\s", "", mended[start:end])) < 0.4 * characters:
            continue
        return value, unit
    return None


#: When a unit read gives an implausible scale, the letters OCR most often loses or
#: confuses: "µm" read as "m" (the µ dropped), "nm" read as "mm" or "m". A bare "m" is
#: taken for µm below 20 and for nm from 20 ("2m", "200m"; chosen on EMPS train labels).
MISREAD_UNITS = {"m": ("µm", "nm"), "mm": ("nm", "µm")}
#: Confidence factor of a reading with a mended unit.
MENDED = 0.7


def _readings(text: str) -> list[tuple[float, str, float]]:
    """(value, unit, confidence factor) of a label: as read, then the usual misreadings."""
    reading = label_reading(text)
    if reading is None:
        return []
    value, unit = reading
    mended = MISREAD_UNITS.get(unit, ())
    if unit == "m" and value >= 20:  # "200m": bars of 20 µm and more are rarer than of 20 nm and more
        mended = tuple(reversed(mended))
    return [(value, unit, 1.0)] + [(value, other, MENDED) for other in mended]


def pair_score(bar: Bar, label: TextBox) -> float:
    """How well a label sits on a bar, 0 to 1.

    Above or below: centred on the bar (the offset counts relative to half the bar plus
    half the label) or flush with one of its ends (relative to half the label's height,
    scoring at most ``ALIGNED``), and close (the gap counts relative to the label's height). Beside:
    on the same line and close (relative to the larger of two label heights and half the
    bar: info strips leave wide gaps). Bars much shorter than their label are rare, and
    pieces of letters are short: a bar shorter than half its label scores less.
    """
    r0, c0, r1, c1 = bar.body
    lr0, lc0, lr1, lc1 = label.box
    h = max(label.height, 1)
    bar_row, bar_col = bar.centre
    lab_row, lab_col = label.centre
    half = (c1 - c0) / 2.0 + (lc1 - lc0) / 2.0
    vertical_gap = max(lr0 - r1, r0 - lr1, 0)
    centred = math.exp(-(((lab_col - bar_col) / max(half, 1)) / 0.6) ** 2)
    # or flush with one end of the bar (labels set left- or right-aligned)
    flush = ALIGNED * math.exp(-(min(abs(lc0 - c0), abs(lc1 - c1)) / (0.5 * h)) ** 2) if c1 - c0 > lc1 - lc0 else 0.0
    above_below = max(centred, flush) * math.exp(-max(0.0, vertical_gap - 0.5 * h) / (1.5 * h))
    horizontal_gap = max(lc0 - c1, c0 - lc1, 0)
    # a label box may reach a little over the bar's end tick (and read it as a "1")
    overlaps_columns = min(lc1, c1) - max(lc0, c0) > 0.5 * h
    beside = 0.0 if overlaps_columns else \
        math.exp(-((lab_row - bar_row) / (0.6 * h)) ** 2) * \
        math.exp(-max(0.0, horizontal_gap - h) / max(2.0 * h, 0.5 * (c1 - c0)))
    length = min(1.0, bar.length_px / max(0.5 * (lc1 - lc0), 1.0)) ** 0.5
    if bar.style == "split" and not bar.gap[0] <= lab_col <= bar.gap[1]:
        return 0.0  # the label of a split bar sits in its gap
    return float(max(above_below, beside) * length)


def _inside_text(bar: Bar, texts: Sequence[TextBox]) -> bool:
    """A bar candidate that is a stroke of a letter: its centre lies in the core of a
    line of text. The engine's boxes are the glyphs grown by about 0.8 glyph heights on
    every side, so the core is the middle 40 % of the box's height, and its width less
    that margin (a bar drawn just under its label lies inside the box but not the core).
    """
    row, col = bar.centre
    for t in texts:
        margin = 0.3 * t.height
        if t.box[0] + margin < row < t.box[2] - margin and t.box[1] + margin < col < t.box[3] - margin:
            return True
    return False


def _stroke_of(bar: Bar, label: TextBox) -> bool:
    """A bar inside the label's box and shorter than the label: a stroke of a glyph."""
    r0, c0, r1, c1 = bar.body
    lr0, lc0, lr1, lc1 = label.box
    return lr0 <= r0 and r1 <= lr1 and lc0 <= c0 and c1 <= lc1 and bar.length_px < 0.3 * (lc1 - lc0)


def _swallowed_tick(bar: Bar, label: TextBox) -> bool:
    """A label beside the bar whose box reaches over the bar's end and whose text starts
    with a stroke ("1", "l", "I", "|"): the end tick may have been read as a digit."""
    r0, c0, r1, c1 = bar.box
    lr0, lc0, lr1, lc1 = label.box
    beside = lr0 < (r0 + r1) / 2 < lr1
    return beside and lc0 < c1 < lc1 and lc0 > c0 and label.text[:1] in "1lI|" and label.text[1:2].isdigit()


def _pairings(bars: Sequence[Bar], labels: Sequence[TextBox]) -> list[Pairing]:
    """Every (bar, label) pairing that scores at least ``MIN_SCORE``, each with the first
    of its label's readings that gives a plausible scale (or the reading as made)."""
    lo, hi = PLAUSIBLE_NM_PER_PX
    found = []
    for label in labels:
        readings = _readings(label.text)
        if not readings:
            continue
        for bar in bars:
            if bar.style != "split" and (_inside_text(bar, labels) or _stroke_of(bar, label)):
                continue
            score = pair_score(bar, label) * bar.score * label.score
            if score < MIN_SCORE:
                continue
            options = [Pairing(bar, label, value, unit, score * factor) for value, unit, factor in readings]
            if _swallowed_tick(bar, label):  # the reading without the tick first
                options = [Pairing(bar, label, value, unit, score * factor)
                           for value, unit, factor in _readings(label.text[1:])] + \
                          [replace(p, score=p.score * MENDED) for p in options]
            # the reading as made, else its first plausible mended form, else (to say why) as made
            found.append(next((p for p in options if lo <= p.nm_per_px <= hi and p.score >= MIN_SCORE), options[0]))
    return found


def read_whole(rgb: NDArray[np.uint8], max_side: int = 1024) -> list[TextBox]:
    """Text lines of a whole image, read at most ``max_side`` pixels wide (annotations
    scale with the figure; reading a 4000-pixel image at full size takes seconds)."""
    return read_text(rgb, zoom=min(1.0, max_side / max(rgb.shape[:2])))


def _zoomed_labels(rgb: NDArray[np.uint8], bar: Bar) -> list[TextBox]:
    """Text around a bar, read from an enlarged crop (labels are a few pixels high in
    many figures; the engine reads them better at 30-40 pixels)."""
    m, n, _ = rgb.shape
    r0, c0, r1, c1 = bar.box
    length = c1 - c0
    reach = min(max(int(0.4 * length), 3 * (r1 - r0), 24), m // 4)
    region = (max(r0 - reach, 0), max(c0 - length // 2, 0), min(r1 + reach, m), min(c1 + length // 2, n))
    height, width = region[2] - region[0], region[3] - region[1]
    zoom = float(np.clip(min(160.0 / max(height, 1), 1000.0 / max(width, 1)), 1.0, 3.0))
    return read_text(rgb, region, zoom=zoom)


def read_scale_bar(
    image: NDArray,
    bars: Optional[Sequence[Bar]] = None,
    texts: Optional[Sequence[TextBox]] = None,
) -> Calibration:
    """nm per pixel from the scale bar drawn in an image.

    Parameters
    ----------
    image : ndarray of shape (M, N) or (M, N, C)
    bars : list of Bar, optional
        Candidates from :func:`~bpartis_nb.calibration.bars.find_bars` (found here when
        not given).
    texts : list of TextBox, optional
        Text lines already read from the whole image (read here when not given).

    Returns
    -------
    Calibration
        ``source="scale_bar"`` when a bar and its label agree; otherwise unknown, with
        ``warnings`` saying what was seen and what to do.

    Raises
    ------
    OCRUnavailableError
        When a bar is found but the OCR extra is missing (the message names the fix).
    """
    rgb = as_rgb8(image)
    bars = list(find_bars(rgb) if bars is None else bars)
    if texts is None:
        texts = read_whole(rgb)
    pairings = _pairings(bars, texts)
    lo, hi = PLAUSIBLE_NM_PER_PX
    # unless a label was read well, read the surroundings of the best bars again, enlarged,
    # and every text near them once more without detection (widened: see ocr.reread)
    if not any(p.score >= CONFIDENT and lo <= p.nm_per_px <= hi for p in pairings):
        for bar in bars[:ZOOMED_BARS]:
            near = _zoomed_labels(rgb, bar) + [t for t in texts if pair_score(bar, t) >= NEAR]
            near += [t for t in (reread(rgb, t.box) for t in near) if t is not None]
            pairings += _pairings([bar], near)
    return choose(pairings, bars, texts)


def choose(pairings: Sequence[Pairing], bars: Sequence[Bar], texts: Sequence[TextBox]) -> Calibration:
    """The calibration of the best pairing, or an unknown one with the reason."""
    lo, hi = PLAUSIBLE_NM_PER_PX
    plausible = [p for p in pairings if lo <= p.nm_per_px <= hi]
    if not plausible:
        return Calibration.unknown(_why_not(pairings, bars, texts))
    plausible.sort(key=lambda p: -p.score)
    best = plausible[0]
    # nearly as good, with the same label and a bar that contains this one: the whole bar
    # (both halves of a split bar), not a piece of it
    whole = [best] + [p for p in plausible if p.label.box == best.label.box and p.score >= NEARLY * best.score
             and _contains(p.bar, best.bar)]
    best = max(whole, key=lambda p: p.bar.length_px)
    rivals = [p for p in plausible[1:] if p.score >= 0.5 * best.score and not _shared(p, best)
              and abs(p.nm_per_px / best.nm_per_px - 1) > AGREEMENT]
    if rivals:
        other = rivals[0]
        return Calibration.unknown(
            f"two scale bars disagree: '{best.label.text}' over {best.bar.length_px:.0f} px "
            f"({best.nm_per_px:.4g} nm/px) and '{other.label.text}' over {other.bar.length_px:.0f} px "
            f"({other.nm_per_px:.4g} nm/px). If this is a figure with several panels, split it "
            "(bpartis_nb.panels.split_panels); otherwise give the scale yourself (scale=nm per pixel)."
        )
    return best.calibration()


def _contains(outer: Bar, inner: Bar) -> bool:
    """``outer``'s body spans ``inner``'s body and holds its rows (within 2 pixels):
    ``inner`` is a piece of it, unless ``outer`` is a band much thicker than ``inner`` (a half of a split bar, a row of its outline between ticks)."""
    o, i = outer.body, inner.body
    slim = o[2] - o[0] <= 2 * (i[2] - i[0]) + 2  # not a band that a thin bar lies along
    return slim and o[1] <= i[1] and o[3] >= i[3] and o[0] - 2 <= i[0] and i[2] <= o[2] + 2


def _shared(a: Pairing, b: Pairing) -> bool:
    """Two pairings that use the same bar or the same label (one reading, two guesses)."""
    return boxes_overlap(a.bar.box, b.bar.box) or boxes_overlap(a.label.box, b.label.box)


def _why_not(pairings: Sequence[Pairing], bars: Sequence[Bar], texts: Sequence[TextBox]) -> str:
    fix = "give the scale yourself (scale=nm per pixel, or scale=(bar length px, value, unit))"
    if pairings:
        p = max(pairings, key=lambda q: q.score)
        return (f"the scale bar reads '{p.label.text}' over {p.bar.length_px:.1f} px, which gives "
                f"{p.nm_per_px:.3g} nm per pixel: not plausible for an electron micrograph (a misread label?); {fix}")
    strange = [t for t in texts if label_reading(t.text) is None and _unknown_unit(t.text)]
    if bars and strange:
        return (f"the label '{strange[0].text}' looks like a length, but '{_unknown_unit(strange[0].text)}' is not a "
                f"unit this reader knows (pm, Å, nm, µm, mm, cm, m); {fix}")
    lengths = [t for t in texts if label_reading(t.text) is not None]
    if lengths:
        return (f"a scale-bar label '{lengths[0].text}' was read, but no bar was found next to it "
                f"(too faint, or not a straight bar); {fix}")
    if bars:
        b = bars[0]
        return (f"a bar of {b.length_px:.0f} px was found at rows {b.box[0]}-{b.box[2]}, columns "
                f"{b.box[1]}-{b.box[3]}, but no length label (a number and a unit) could be read next to it; {fix}")
    return f"no scale bar was found; {fix}"


_NUMBER_WORD = re.compile(r"(?<![A-Za-z0-9])\d+(?:[.,]\d+)?\s?([^\W\d_]{1,12})\b")


def _unknown_unit(text: str) -> str:
    """The word after a number in ``text`` when it is not a length unit ("" otherwise)."""
    for match in _NUMBER_WORD.finditer(text):
        word = match.group(1)
        try:
            normalize_unit(word)
        except UnknownUnitError:
            if word.lower() not in ("x", "k", "kx", "kv", "v", "s", "us", "min", "h", "deg", "pa", "a"):
                return word
    return ""


def require_ocr() -> None:
    """Raise :class:`OCRUnavailableError` when the OCR engine is missing."""
    from .ocr import ocr_available

    if not ocr_available():
        raise OCRUnavailableError(f"reading scale bars needs the OCR engine: {INSTALL_HINT}")
