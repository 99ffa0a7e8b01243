"""Painting annotations onto the canvas, recording what they covered; box geometry.

Every annotation is drawn as a coverage layer (PIL, single band) and blended onto the RGB
canvas by :class:`Painter`, which keeps two masks: the pixels any annotation changed (the
annotation mask's source) and the pixels an opaque one hid (zeroed in the instance map).
Boxes are (min_row, min_col, max_row, max_col), max exclusive.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw

from ..base import Box
from .fonts import draw_runs, text_origin

__all__ = ["Painter", "union", "overlaps", "is_free", "place", "free_corner", "contrast"]


class Painter:
    """Composites coverage layers onto an RGB canvas and records what they covered.

    Parameters
    ----------
    canvas : ndarray of shape (M, N, 3), uint8
        Painted in place.

    Attributes
    ----------
    touched : ndarray of shape (M, N), bool
        Pixels any layer covered at all.
    opaque : ndarray of shape (M, N), bool
        Pixels an opaque layer covered at least half.
    """

    def __init__(self, canvas: NDArray[np.uint8]):
        self.canvas = canvas
        self.height, self.width = canvas.shape[:2]
        self.touched = np.zeros((self.height, self.width), bool)
        self.opaque = np.zeros((self.height, self.width), bool)

    def layer(self) -> tuple[Image.Image, ImageDraw.ImageDraw]:
        """A blank full-size coverage layer and a pen for it."""
        layer = Image.new("L", (self.width, self.height))
        return layer, ImageDraw.Draw(layer)

    def paint(self, layer: Image.Image, colour: Sequence[int], alpha: float = 1.0) -> Optional[Box]:
        """Blend ``colour`` in where ``layer`` covers; returns the covered box."""
        bbox = layer.getbbox()
        if bbox is None:
            return None
        left, top, right, bottom = bbox
        cover = np.asarray(layer.crop(bbox), np.float32) * np.float32(alpha / 255.0)
        region = self.canvas[top:bottom, left:right].astype(np.float32)
        region += (np.asarray(colour, np.float32) - region) * cover[..., None]
        self.canvas[top:bottom, left:right] = np.rint(region).astype(np.uint8)
        self.touched[top:bottom, left:right] |= cover > 0
        if alpha >= 1.0:
            self.opaque[top:bottom, left:right] |= cover >= 0.5
        return (top, left, bottom, right)

    def rects(self, boxes: Sequence[Box], colour: Sequence[int], alpha: float = 1.0) -> Optional[Box]:
        """Fill rectangles with one colour; returns the box they cover."""
        layer, draw = self.layer()
        for r0, c0, r1, c1 in boxes:
            if r1 > r0 and c1 > c0:
                draw.rectangle([c0, r0, c1 - 1, r1 - 1], fill=255)
        return self.paint(layer, colour, alpha)

    def text(self, text: str, font: str, size: int, x: int, y: int, colour: Sequence[int], ha: str = "left",
             va: str = "top", stroke: int = 0, stroke_colour: Optional[Sequence[int]] = None) -> Optional[Box]:
        """Draw text with its ink at ``(x, y)`` (see :func:`.fonts.text_origin`), outlined
        in ``stroke_colour`` (black by default) when ``stroke``; returns its ink box."""
        origin = text_origin(text, font, size, x, y, ha, va, stroke)
        box = None
        if stroke:
            layer, draw = self.layer()
            draw_runs(draw, origin, text, font, size, stroke)
            box = self.paint(layer, stroke_colour if stroke_colour is not None else (0, 0, 0))
        layer, draw = self.layer()
        draw_runs(draw, origin, text, font, size)
        return union(box, self.paint(layer, colour))


def union(a: Optional[Box], b: Optional[Box]) -> Optional[Box]:
    """The smallest box holding ``a`` and ``b`` (either may be None).

    Examples
    --------
    >>> union((0, 0, 2, 2), (1, 3, 4, 5)), union(None, (1, 1, 2, 2))
    ((0, 0, 4, 5), (1, 1, 2, 2))
    """
    if a is None:
        return b
    if b is None:
        return a
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def overlaps(a: Box, b: Box) -> bool:
    """Whether boxes ``a`` and ``b`` share a pixel."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def is_free(box: Box, occupied: Sequence[Box]) -> bool:
    """Whether ``box`` overlaps none of ``occupied``."""
    return not any(overlaps(box, other) for other in occupied)


def place(corner: str, width: int, height: int, region: Box, margin: int) -> Box:
    """The box of a ``width`` x ``height`` block at ``corner`` of ``region``.

    Parameters
    ----------
    corner : str
        "top-" or "bottom-" then "left", "right" or "center" (centred across).
    width, height : int
        Size of the block.
    region : Box
        Where it goes.
    margin : int
        Distance from the region's edges (not from the centre line).

    Returns
    -------
    Box

    Examples
    --------
    >>> place("bottom-right", 10, 5, (0, 0, 100, 200), 3)
    (92, 187, 97, 197)
    >>> place("top-center", 10, 5, (0, 0, 100, 200), 3)
    (3, 95, 8, 105)
    """
    top, left, bottom, right = region
    y = top + margin if corner.startswith("top") else bottom - margin - height
    if corner.endswith("left"):
        x = left + margin
    elif corner.endswith("right"):
        x = right - margin - width
    else:
        x = (left + right - width) // 2
    return (y, x, y + height, x + width)


def free_corner(corners: Sequence[str], width: int, height: int, region: Box, margin: int,
                occupied: Sequence[Box]) -> Optional[tuple[str, Box]]:
    """The first of ``corners`` where the block (see :func:`place`) overlaps nothing
    ``occupied``, and its box; None when none is free."""
    for corner in corners:
        box = place(corner, width, height, region, margin)
        if is_free(box, occupied):
            return corner, box
    return None


def contrast(colour: Sequence[int]) -> tuple[int, int, int]:
    """Black or white, whichever stands out on ``colour``.

    Examples
    --------
    >>> contrast((255, 255, 0)), contrast((0, 0, 255))
    ((0, 0, 0), (255, 255, 255))
    """
    luma = 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]
    return (0, 0, 0) if luma > 110 else (255, 255, 255)
