"""Instrument info strips: the data bar microscopes print along an edge of the picture.

Five layouts carry the scale bar and its label, as the instruments draw them: Hitachi
(a dotted row of eleven ticks, a three-digit label such as "1.00um"), JEOL (a solid bar
among the fields), Zeiss (a ticked bar in the first of a grid of cells), FEI (a bar split
by its label, after the cells) and old Philips film (a bar with the label under it, fields
scattered); "fields" is text only. The bar lengths are the round ones instruments
choose; the magnification printed is consistent with the pixel size.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

import numpy as np

from ..base import Box
from ..units import NM_PER_UNIT, parse_length
from .drawbars import Bar, bar_pieces
from .fonts import text_size
from .paint import Painter, contrast, overlaps, union
from .style import STRIP_BGS, STRIPS_WITH_BAR, format_number

__all__ = ["draw_strip"]

#: Scale-bar lengths instruments choose for their strips.
_STRIP_VALUES = ((100.0, "nm"), (1.0, "µm"), (200.0, "nm"), (5.0, "µm"), (500.0, "nm"), (2.0, "µm"),
                 (50.0, "nm"), (10.0, "µm"), (300.0, "nm"), (20.0, "µm"), (3.0, "µm"), (20.0, "nm"))
#: Range of a strip bar's length, as a fraction of the picture's width, per instrument.
_LENGTHS = {"hitachi": (0.15, 0.32), "jeol": (0.08, 0.18), "zeiss": (0.1, 0.2), "fei": (0.14, 0.26),
            "philips": (0.08, 0.2)}


def _magnification(width: int, nm_per_px: float) -> float:
    """The nominal magnification of a picture ``width`` pixels wide (127 mm print width)."""
    return 127e6 / (width * nm_per_px)


def _hitachi_mag(mag: float) -> str:
    """Hitachi's magnification.

    Examples
    --------
    >>> [_hitachi_mag(m) for m in (100e3, 30e3, 1500, 500)]
    ['x100k', 'x30.0k', 'x1.50k', 'x500']
    """
    if mag < 1000:
        return f"x{mag:.0f}"
    k = mag / 1000
    return f"x{k:.0f}k" if k >= 100 else f"x{k:#.3g}k"


def _hitachi_label(value: float, unit: str) -> str:
    """Hitachi's three-digit label.

    Examples
    --------
    >>> [_hitachi_label(*v) for v in ((200, "nm"), (1, "µm"), (50, "µm"), (500, "nm"))]
    ['200nm', '1.00um', '50.0um', '500nm']
    """
    nm = value * NM_PER_UNIT[unit]
    if nm < 1000:
        return f"{nm:.3g}nm" if nm >= 100 else f"{nm:#.3g}nm"
    um = nm / 1000
    return f"{um:.3g}um" if um >= 100 else f"{um:#.3g}um"


def _zeiss_mag(mag: float) -> str:
    """Zeiss's magnification: "1.50 K X", "500 X"."""
    return f"{mag / 1000:.2f} K X" if mag >= 1000 else f"{mag:.0f} X"


def _strip_fit(texts: Sequence[str], font: str, size: int, room: int) -> int:
    """The largest font size up to ``size`` at which ``texts`` side by side fit in ``room``."""
    while size > 6 and sum(text_size(t, font, size)[0] for t in texts) > room:
        size -= 1
    return size


@dataclass
class _Strip:
    """A strip being drawn: where it is and what its texts say."""

    p: Painter
    top: int
    sh: int  # height
    ink: tuple[int, int, int]
    kv: float
    wd: float
    variant: int
    edge: int  # left and right margin
    mag: float
    line: int  # width of rules between cells
    value: float  # the bar's label, when the strip has a bar
    unit: str
    length: int

    @property
    def width(self) -> int:
        """The picture's width."""
        return self.p.width

    def row(self, frac: float) -> int:
        """The row ``frac`` of the strip's height down from its top."""
        return self.top + int(round(frac * self.sh))

    def label(self, sep: str) -> str:
        """The bar's label, number and unit joined by ``sep``."""
        return format_number(self.value) + sep + self.unit

    def texts(self, texts: Sequence[str], font: str, size: int, x: int, step: int, baseline: int) -> int:
        """Texts left to right from ``x``, each ``step`` after the last's ink; returns the end."""
        for text in texts:
            self.p.text(text, font, size, x, baseline, self.ink, va="baseline")
            x += text_size(text, font, size)[0] + step
        return x

    def cells(self, cells: Sequence[tuple[str, str]], font: str, size: int, x: int, right: int, pad: int) -> int:
        """Cells of two texts one above the other, each closed by a rule, from ``x`` while
        they end before ``right``; returns the last rule's column."""
        rows = self.row(0.42), self.row(0.85)
        for first, second in cells:
            w = max(text_size(first, font, size)[0], text_size(second, font, size)[0]) + 2 * pad
            if x + w > right:
                break
            self.p.text(first, font, size, x + pad, rows[0], self.ink, va="baseline")
            self.p.text(second, font, size, x + pad, rows[1], self.ink, va="baseline")
            x += w
            if x + pad < self.width:
                self.p.rects([(self.top, x, self.top + self.sh, x + self.line)], self.ink)
        return x

    def bar(self, length: int, bar_box: Box, label_box: Box, label: str, kind: str) -> Bar:
        """The drawn bar, its value and unit read back from ``label``."""
        return Bar(length, bar_box, label_box, label, *parse_length(label), kind)


def draw_strip(p: Painter, style: dict[str, Any], rng: np.random.Generator,
               nominal_nm_per_px: float) -> tuple[Box, Optional[Bar]]:
    """Draw the info strip along the top or bottom edge.

    Parameters
    ----------
    p : Painter
    style : dict
        The rendering's style (``strip``, ``strip_side``, ``strip_bg``, ``strip_frac``,
        ``strip_variant``, ``bar_frac``).
    rng : numpy.random.Generator
        Draws the voltage and working distance printed.
    nominal_nm_per_px : float
        The pixel size the magnification of a strip without bar states.

    Returns
    -------
    box : Box
        The strip.
    bar : Bar or None
        The bar drawn inside it (None for "fields").
    """
    height, width = p.height, p.width
    kind = style["strip"]
    two_rows = kind in ("zeiss", "fei", "philips") or (kind == "fields" and style["strip_variant"] % 3 == 0)
    frac = (0.07 + 0.03 * style["strip_frac"]) if two_rows else (0.045 + 0.03 * style["strip_frac"])
    sh = max(28 if two_rows else 16, int(round(frac * height)))
    top = 0 if style["strip_side"] == "top" else height - sh
    box = (top, 0, top + sh, width)
    bg = STRIP_BGS[style["strip_bg"]]
    p.rects([box], bg)
    kv = float(rng.choice([1.0, 2.0, 3.0, 5.0, 10.0, 15.0, 20.0, 30.0]))
    wd = round(float(rng.uniform(2.5, 15.0)), 1)
    variant = int(style["strip_variant"])
    value, unit, length = 0.0, "nm", 0
    if kind in STRIPS_WITH_BAR:
        value, unit = _STRIP_VALUES[variant % len(_STRIP_VALUES)]
        lo, hi = _LENGTHS[kind]
        t = (float(style["bar_frac"]) - 0.1) / 0.3
        length = max(12, int(round((lo + t * (hi - lo)) * width)))
        mag = _magnification(width, value * NM_PER_UNIT[unit] / length)
    else:
        mag = _magnification(width, nominal_nm_per_px)
    mag = float(f"{mag:.{3 if mag >= 1000 else 2}g}")  # as round as instruments print it
    s = _Strip(p, top, sh, contrast(bg), kv, wd, variant, max(3, int(round(0.012 * width))), mag,
               max(1, int(round(sh / 40))), value, unit, length)
    if kind in STRIPS_WITH_BAR:
        return box, _LAYOUTS[kind](s)
    _fields(s)
    return box, None


def _hitachi(s: _Strip) -> Bar:
    """Eleven ticks at the right end, the label under them, the fields on the left."""
    font = "DejaVuSans"
    label = _hitachi_label(s.value, s.unit)
    tick_w = max(1, int(round(s.p.height / 700)))
    tick_h = max(3, int(round(0.22 * s.sh)))
    x_end = s.width - s.edge
    x0 = x_end - s.length
    y0 = s.top + max(1, int(round(0.1 * s.sh)))
    lefts = [x0 + round(k * (s.length - tick_w) / 10) for k in range(11)]
    bar_box = s.p.rects([(y0, x, y0 + tick_h, x + tick_w) for x in lefts], s.ink)
    label_box = s.p.text(label, font, max(7, int(round(0.4 * s.sh))), x_end,
                         s.top + s.sh - max(2, int(round(0.1 * s.sh))), s.ink, ha="right", va="bottom")
    model = ("S4800 ", "SU8010 ", "S-4700 ", "SU8220 ", "")[s.variant % 5]
    det = ("SE(M)", "SE(U)", "SE(L)", "SE(U,LA0)")[s.variant % 4]
    fields = f"{model}{s.kv:.1f}kV {s.wd:.1f}mm {_hitachi_mag(s.mag)} {det}"
    size = _strip_fit([fields], font, max(7, int(round(0.45 * s.sh))), x0 - 3 * s.edge)
    s.p.text(fields, font, size, s.edge, s.top + s.sh // 2, s.ink, va="middle")
    return s.bar(s.length, bar_box, label_box, label, "dotted")


def _jeol(s: _Strip) -> Bar:
    """One row of fields, spread out, with the bar and its label among them."""
    font = ("DejaVuSans", "DejaVuSans-Bold")[s.variant % 2]
    size = max(7, int(round(0.42 * s.sh)))
    label = s.label("")
    if s.variant % 3 == 2:  # TEM film style
        left = [f"X{s.mag:,.0f}"]
        right = [("Univ. NS", "JEM-2100", "200kV", "TEM")[s.variant % 4]]
    else:
        left = [("SEI", "LEI", "COMPO")[s.variant % 3], f"{s.kv:.1f}kV", f"X{s.mag:,.0f}"]
        right = [f"WD {s.wd:.1f}mm"]
    texts = left + right
    room = s.width - 2 * s.edge - max(s.length, text_size(label, font, size)[0])
    size = _strip_fit(texts + [" " * 4 * len(texts)], font, size, room)
    bar_field = max(s.length, text_size(label, font, size)[0])
    ink_w = sum(text_size(t, font, size)[0] for t in texts)
    gap = (s.width - 2 * s.edge - ink_w - bar_field) // len(texts)
    baseline = s.top + s.sh - max(2, int(round(0.2 * s.sh)))
    x = s.texts(left, font, size, s.edge, gap, baseline)
    thick = max(2, int(round(0.07 * s.sh)))
    bx = x + (bar_field - s.length) // 2
    by = s.top + max(1, int(round(0.12 * s.sh)))
    bar_box = s.p.rects([(by, bx, by + thick, bx + s.length)], s.ink)
    label_box = s.p.text(label, font, size, x + bar_field // 2, baseline, s.ink, ha="center", va="baseline")
    s.texts(right, font, size, x + bar_field + gap, gap, baseline)
    return s.bar(s.length, bar_box, label_box, label, "solid")


def _zeiss(s: _Strip) -> Bar:
    """The label over a ticked bar in the first cell, then cells of two fields each."""
    font = "DejaVuSans"
    size = max(6, int(round(0.27 * s.sh)))
    label = s.label(" ")
    v = s.variant
    cells = [
        (f"EHT = {s.kv:.2f} kV", f"WD = {s.wd:.1f} mm"),
        ("Signal A = InLens" if v % 2 else "Signal A = SE2", f"Mag = {_zeiss_mag(s.mag)}"),
        (f"Date :{1 + v % 28} Mar 2016", f"Time :{v % 24:02d}:{v % 60:02d}:17"),
        ("ULTRA 55-44-22", "Noise Reduction = Pixel Avg."),
    ]
    pad = max(3, int(round(0.5 * size)))
    cell_w = max(s.length, text_size(label, font, size)[0]) + 2 * pad
    s.p.rects([(s.top, cell_w, s.top + s.sh, cell_w + s.line)], s.ink)
    label_box = s.p.text(label, font, size, pad, s.row(0.42), s.ink, va="baseline")
    thick = max(1, int(round(s.sh / 45)))
    tick_h = max(3, int(round(0.3 * s.sh)))
    bar_box = s.p.rects(bar_pieces(pad, s.row(0.85) - tick_h, s.length, thick, thick, tick_h, "up"), s.ink)
    s.cells(cells, font, size, cell_w + s.line, s.width, pad)
    return s.bar(s.length, bar_box, label_box, label, "ticked")


def _fei(s: _Strip) -> Bar:
    """Cells of a heading over a value, then the bar split by its label, then the site."""
    font = "DejaVuSans"
    size = max(6, int(round(0.28 * s.sh)))
    label = s.label(" ")
    hfw = s.width * s.value * NM_PER_UNIT[s.unit] / s.length  # horizontal field width, nm
    cells = [("HV", f"{s.kv:.2f} kV"), ("mag", f"{s.mag:,.0f} x".replace(",", " ")), ("WD", f"{s.wd:.1f} mm"),
             ("det", ("ETD", "TLD", "CBS")[s.variant % 3]), ("spot", f"{1 + s.variant % 5:.1f}")]
    if s.variant % 2:
        cells.append(("HFW", f"{hfw / 1000:.3g} µm" if hfw >= 1000 else f"{hfw:.3g} nm"))
    pad = max(3, int(round(0.45 * size)))
    length = max(s.length, text_size(label, font, size)[0] + 4 * pad + 12)
    s.p.rects([(s.top, 0, s.top + s.line, s.width)], s.ink)
    bx = s.cells(cells, font, size, 0, s.width - length - 4 * pad, pad) + s.line + 2 * pad
    cy = s.top + s.sh // 2
    thick = s.line
    tick_h = max(5, int(round(0.3 * s.sh))) | 1
    label_box = s.p.text(label, font, size, bx + length // 2, cy, s.ink, ha="center", va="middle")
    bar_top, tick_top = cy - thick // 2, cy - tick_h // 2
    bar_box = s.p.rects([
        (bar_top, bx, bar_top + thick, label_box[1] - pad),  # the two halves either side of the label
        (bar_top, label_box[3] + pad, bar_top + thick, bx + length),
        (tick_top, bx, tick_top + tick_h, bx + thick),
        (tick_top, bx + length - thick, tick_top + tick_h, bx + length),
    ], s.ink)
    rest = bx + length + 2 * pad
    if rest + pad < s.width:
        s.p.rects([(s.top, rest, s.top + s.sh, rest + s.line)], s.ink)
        site = ("Central Lab", "NanoLab", "Quanta 200", "")[s.variant % 4]
        if site and rest + 2 * pad + text_size(site, font, size)[0] < s.width:
            s.p.text(site, font, size, rest + 2 * pad, cy, s.ink, va="middle")
    return s.bar(length, bar_box, label_box, label, "split")


def _philips(s: _Strip) -> Bar:
    """A thin bar with the label under it near the middle, fields where they fit."""
    font = "DejaVuSansMono"
    size = max(6, int(round(0.28 * s.sh)))
    label = s.label(" ")
    row1, row2 = s.row(0.5), s.row(0.88)
    cx = int(round(0.48 * s.width))
    by = s.top + max(1, int(round(0.08 * s.sh)))
    bar_box = s.p.rects([(by, cx - s.length // 2, by + s.line, cx - s.length // 2 + s.length)], s.ink)
    label_box = s.p.text(label, font, size, cx, row1, s.ink, ha="center", va="baseline")
    v = s.variant
    fields = [(0.06, row2, f"P:{s.mag:,.0f}×"), (0.3, row2, f"{s.kv:.2f} kV"),
              (0.56, row2, f"Dec 1-{v % 90:02d} {v % 100}%"),
              (0.78, row1, f"{1 + v % 28} JAN 1{v % 10:02d}"), (0.8, row2, f"#{v % 10000:04d}*")]
    size = _strip_fit([f[2] for f in fields], font, size, int(0.7 * s.width))
    taken = union(bar_box, label_box)
    for fx, fy, text in fields:
        x = int(fx * s.width)
        w = text_size(text, font, size)[0]
        if x + w < s.width - 2 and not overlaps((fy - size, x, fy + size // 3, x + w), taken):
            s.p.text(text, font, size, x, fy, s.ink, va="baseline")
    return s.bar(s.length, bar_box, label_box, label, "solid")


def _fields(s: _Strip) -> None:
    """Text fields only, in one or two rows."""
    font = "DejaVuSans"
    choice = s.variant % 3
    if choice == 0:
        rows = [f"EHT = {s.kv:.2f} kV     WD = {s.wd:.1f} mm", f"Mag = {_zeiss_mag(s.mag)}     Signal A = InLens"]
    elif choice == 1:
        rows = [f"EHT = {s.kv:.2f} kV  WD = {s.wd:.1f} mm  Mag = {_zeiss_mag(s.mag)}  Signal A = InLens"]
    else:
        rows = [f"S4800 {s.kv:.1f}kV {s.wd:.1f}mm {_hitachi_mag(s.mag)} SE(M)"]
    size = max(6, int(round((0.3 if len(rows) == 2 else 0.45) * s.sh)))
    baselines = (s.row(0.42), s.row(0.85)) if len(rows) == 2 else (s.row(0.72),)
    for text, baseline in zip(rows, baselines):
        s.p.text(text, font, _strip_fit([text], font, size, s.width - 2 * s.edge), s.edge, baseline, s.ink,
                 va="baseline")


_LAYOUTS: dict[str, Callable[[_Strip], Bar]] = {
    "hitachi": _hitachi, "jeol": _jeol, "zeiss": _zeiss, "fei": _fei, "philips": _philips,
}
