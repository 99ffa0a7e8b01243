"""Drawing scale bars: the bar with its end ticks, its label and the box behind them.

The bar is drawn with a whole number of pixels ``length`` for the label's value, so the
true pixel size is ``value_nm / length``. :func:`draw_bar_group` draws the bars of
journal figures (solid or with end ticks, optionally outlined, the label above, below or
beside, an optional box behind both) in a corner of the picture; the bars of
instrument info strips are drawn by :mod:`.strips`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from ..base import Box
from ..units import normalize_unit
from .fonts import text_size
from .paint import Painter, contrast, place
from .style import COLOURS, label_text

__all__ = ["Bar", "bar_pieces", "draw_bar_group"]


@dataclass
class Bar:
    """A drawn scale bar, in canvas pixels.

    Attributes
    ----------
    length : int
        Outer end to outer end, ticks included: the length ``value`` stands for.
    bar_box, label_box : Box or None
        Where the bar's and the label's ink are.
    label_text : str
        The label as drawn ("" without one).
    value : float or None
    unit : str or None
        The label's number and canonical unit.
    kind : str
        "solid", "ticked", "dotted" (Hitachi's row of ticks) or "split" (FEI's bar cut by
        its label).
    """

    length: int
    bar_box: Box
    label_box: Optional[Box]
    label_text: str
    value: Optional[float]
    unit: Optional[str]
    kind: str


def bar_pieces(x0: int, y0: int, length: int, thickness: int, tick_w: int, tick_h: int,
               ticks: str) -> list[Box]:
    """Rectangles of a bar whose block starts at (y0, x0).

    Parameters
    ----------
    x0, y0 : int
        Left and top of the bar with its ticks.
    length, thickness : int
        Of the bar.
    tick_w, tick_h : int
        Of each end tick.
    ticks : {"none", "centre", "up"}
        A solid bar; end ticks centred on the bar; end ticks standing on the bar's bottom
        edge.

    Returns
    -------
    list of Box

    Examples
    --------
    >>> bar_pieces(10, 5, 40, 2, 1, 6, "centre")
    [(7, 10, 9, 50), (5, 10, 11, 11), (5, 49, 11, 50)]
    """
    if ticks == "none":
        return [(y0, x0, y0 + thickness, x0 + length)]
    if ticks == "centre":
        bar_top = y0 + (tick_h - thickness) // 2
    else:
        bar_top = y0 + tick_h - thickness
    return [
        (bar_top, x0, bar_top + thickness, x0 + length),
        (y0, x0, y0 + tick_h, x0 + tick_w),
        (y0, x0 + length - tick_w, y0 + tick_h, x0 + length),
    ]


def _label_x(align: str, group_w: int, bar_x: int, length: int, lw: int) -> int:
    """Left of a label of width ``lw`` above or below a bar: at its start or end if it
    fits there, else centred on the group."""
    if align == "start" and lw <= length:
        return bar_x
    if align == "end" and lw <= length:
        return bar_x + length - lw
    return (group_w - lw) // 2


def draw_bar_group(p: Painter, style: dict[str, Any], region: Box, occupied: list[Box]) -> Bar:
    """Draw the scale bar with its label (and box) in a corner of ``region``.

    Parameters
    ----------
    p : Painter
    style : dict
        The rendering's style (``bar``, ``font``, ``font_frac``, ``bar_thickness``,
        ``ticks``, ``bar_color``, ``outline``, ``box``, ``box_alpha``, ``box_border``,
        ``margin_frac``, ``label_pos``, ``label_align``, ``bar_frac``, ``position``, and
        what the label text needs).
    region : Box
        The picture, without its info strip.
    occupied : list of Box
        Where annotations are; the group's outer box is added.

    Returns
    -------
    Bar
    """
    height, width = p.height, p.width
    top, left, bottom, right = region
    labelled = style["bar"] == "labelled"
    text = label_text(style) if labelled else ""
    font = style["font"]
    size = max(11, int(round(style["font_frac"] * height)))
    thickness = int(style["bar_thickness"])
    ticks = bool(style["ticks"])
    tick_w = max(1, min(thickness, int(round(size / 10)))) if ticks else 0
    tick_h = thickness + 2 * max(2, int(round(0.22 * size))) if ticks else 0
    block_h = tick_h if ticks else thickness
    colour = COLOURS[style["bar_color"]]
    outline = bool(style["outline"])
    ow = max(1, min(2, int(round(size / 20)))) if outline else 0
    stroke = ow if outline and labelled else 0
    lw, lh = text_size(text, font, size, stroke) if labelled else (0, 0)
    gap = max(2, int(round(0.25 * size))) + ow
    pad = max(2, int(round(0.35 * size))) if style["box"] else 0
    margin = max(2, int(round(style["margin_frac"] * min(height, width))))
    pos = style["label_pos"] if labelled else "above"
    side_by_side = labelled and pos in ("left", "right")

    length = max(8, int(round(style["bar_frac"] * width)))
    room = (right - left) - 2 * margin - 2 * pad - 2 * ow
    if side_by_side:
        room -= lw + gap
    length = max(8, min(length, room))

    if side_by_side:
        group_w = lw + gap + length
        group_h = max(lh, block_h)
        bar_x = lw + gap if pos == "left" else 0
        label_x = 0 if pos == "left" else length + gap
        bar_y = (group_h - block_h) // 2
        label_y = (group_h - lh) // 2
    else:
        group_w = max(length, lw)
        bar_x = (group_w - length) // 2
        label_x = _label_x(style["label_align"], group_w, bar_x, length, lw)
        if not labelled:
            bar_y, label_y, group_h = 0, 0, block_h
        elif pos == "above":
            label_y, bar_y = 0, lh + gap
            group_h = bar_y + block_h
        else:
            bar_y, label_y = 0, block_h + gap
            group_h = label_y + lh
    outer = place(style["position"], group_w + 2 * pad + 2 * ow, group_h + 2 * pad + 2 * ow, region, margin)
    gx, gy = outer[1] + pad + ow, outer[0] + pad + ow

    if style["box"]:
        _draw_box(p, style, outer)
    pieces = bar_pieces(gx + bar_x, gy + bar_y, length, thickness, tick_w, tick_h, "centre" if ticks else "none")
    if outline:
        p.rects([(r0 - ow, c0 - ow, r1 + ow, c1 + ow) for r0, c0, r1, c1 in pieces], contrast(colour))
    bar_box = p.rects(pieces, colour)
    label_box = None
    if labelled:
        label_box = p.text(text, font, size, gx + label_x, gy + label_y, colour, stroke=stroke,
                           stroke_colour=contrast(colour))
    occupied.append(outer)
    value = float(style["value"]) if labelled else None
    unit = normalize_unit(style["unit"]) if labelled else None
    return Bar(length, bar_box, label_box, text, value, unit, "ticked" if ticks else "solid")


def _draw_box(p: Painter, style: dict[str, Any], outer: Box) -> None:
    """The filled box behind bar and label, opaque or translucent, optionally framed by a
    one-pixel border in the contrasting colour."""
    kind = style["box"]
    fill = (255, 255, 255) if kind.endswith("white") else (0, 0, 0)
    alpha = float(style["box_alpha"]) if kind.startswith("translucent") else 1.0
    if style["box_border"]:
        r0, c0, r1, c1 = outer
        p.rects([(r0, c0, r0 + 1, c1), (r1 - 1, c0, r1, c1), (r0 + 1, c0, r1 - 1, c0 + 1),
                 (r0 + 1, c1 - 1, r1 - 1, c1)], contrast(fill), alpha)
        outer = (r0 + 1, c0 + 1, r1 - 1, c1 - 1)
    p.rects([outer], fill, alpha)
