"""Annotations besides the scale bar: the panel letter, a second text, an arrow.

Each goes where nothing is drawn yet; when no place is free, it is left out and its
style choice set to None, so that the style says what the picture shows.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ..base import Box
from .fonts import text_size
from .paint import Painter, contrast, free_corner, is_free
from .style import COLOURS

__all__ = ["draw_panel", "draw_extra"]


def draw_panel(p: Painter, style: dict[str, Any], region: Box, occupied: list[Box]) -> Optional[Box]:
    """Draw the panel letter ("a", "(b)", "C", ...) in a free corner of ``region``.

    Parameters
    ----------
    p : Painter
    style : dict
        The rendering's style (``panel``, ``panel_font``, ``panel_frac``, ``panel_box``,
        ``panel_corner``, ``mode``, ``seed``); ``panel_corner`` becomes the corner used,
        ``panel`` None when no corner is free.
    region : Box
        The picture, without its info strip.
    occupied : list of Box
        Where annotations are; the letter's box is added.

    Returns
    -------
    Box or None
        The letter with its box, if any.
    """
    text = style["panel"]
    font = style["panel_font"]
    size = max(10, int(round(style["panel_frac"] * p.height)))
    boxed = bool(style["panel_box"])
    w, h = text_size(text, font, size)
    pad = max(2, int(round(0.2 * size))) if boxed else 0
    margin = 0 if boxed else max(2, int(round(0.015 * min(p.height, p.width))))
    first = style["panel_corner"]
    corners = [first] + [c for c in ("top-left", "top-right", "bottom-left", "bottom-right") if c != first]
    found = free_corner(corners, w + 2 * pad, h + 2 * pad, region, margin, occupied)
    if found is None:
        style["panel"] = None
        return None
    corner, outer = found
    bg = "white" if style["mode"] == "sem" else "black"
    if boxed:
        fill = COLOURS["black" if bg == "white" else "white"] if style["seed"] % 2 else COLOURS[bg]
        p.rects([outer], fill)
        colour = contrast(fill)
    else:
        colour = COLOURS[bg]
    p.text(text, font, size, outer[1] + pad, outer[0] + pad, colour)
    occupied.append(outer)
    style["panel_corner"] = corner
    return outer


def draw_extra(p: Painter, style: dict[str, Any], region: Box, occupied: list[Box],
               rng: np.random.Generator) -> None:
    """Draw a second text in a free corner, or an arrow pointing into the picture.

    Parameters
    ----------
    p : Painter
    style : dict
        The rendering's style (``extra``: "text" or "arrow", ``extra_text``, ``mode``,
        ``seed``); ``extra`` becomes None when there is no room.
    region : Box
        The picture, without its info strip.
    occupied : list of Box
        Where annotations are; the new one's box is added.
    rng : numpy.random.Generator
        Places the arrow.
    """
    light = COLOURS["white"] if style["mode"] == "sem" else COLOURS["black"]
    if style["extra"] == "text":
        font = ("DejaVuSans-Bold", "STIXGeneral-Bold", "DejaVuSans", "DejaVuSerif")[style["seed"] % 4]
        size = max(9, int(round(0.05 * p.height)))
        w, h = text_size(style["extra_text"], font, size)
        margin = max(3, int(round(0.02 * min(p.height, p.width))))
        found = free_corner(("top-right", "top-left", "bottom-left", "bottom-right"), w, h, region, margin, occupied)
        if found is None:
            style["extra"] = None
            return
        outer = found[1]
        p.text(style["extra_text"], font, size, outer[1], outer[0], light)
        occupied.append(outer)
        return
    colour = (light, COLOURS["red"], COLOURS["yellow"])[style["seed"] % 3]
    if not _draw_arrow(p, region, occupied, rng, colour):
        style["extra"] = None


def _draw_arrow(p: Painter, region: Box, occupied: list[Box], rng: np.random.Generator,
                colour: tuple[int, int, int]) -> bool:
    """An arrow with its tip in the middle of ``region``, where it overlaps nothing
    ``occupied`` (20 tries); whether one was drawn."""
    top, left, bottom, right = region
    shaft = max(2, int(round(p.height / 180)))
    length = int(round(rng.uniform(0.07, 0.13) * p.width))
    head = 3 * shaft + 2
    for _ in range(20):
        angle = rng.uniform(0, 2 * np.pi)
        tip = np.array([rng.uniform(top + 0.25 * (bottom - top), top + 0.75 * (bottom - top)),
                        rng.uniform(left + 0.2 * (right - left), right - 0.2 * (right - left))])
        direction = np.array([np.sin(angle), np.cos(angle)])
        tail = tip - direction * length
        normal = np.array([direction[1], -direction[0]])
        base = tip - direction * head * 1.6
        shaft_pts = [tail + normal * shaft / 2, base + normal * shaft / 2, base - normal * shaft / 2,
                     tail - normal * shaft / 2]
        head_pts = [tip, base + normal * head, base - normal * head]
        pts = np.array(shaft_pts + head_pts)
        outer = (int(pts[:, 0].min()) - 1, int(pts[:, 1].min()) - 1, int(pts[:, 0].max()) + 2, int(pts[:, 1].max()) + 2)
        if outer[0] < top or outer[1] < left or outer[2] > bottom or outer[3] > right:
            continue
        if not is_free(outer, occupied):
            continue
        layer, draw = p.layer()
        draw.polygon([(float(c), float(r)) for r, c in shaft_pts], fill=255)
        draw.polygon([(float(c), float(r)) for r, c in head_pts], fill=255)
        p.paint(layer, colour)
        occupied.append(outer)
        return True
    return False
