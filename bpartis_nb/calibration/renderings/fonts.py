"""Label fonts: which font draws which glyph, how large text is, where to put its pen.

Text is drawn as runs of one font each: a character the label font lacks ("µ", "Å", "×",
"°" in the Computer Modern fonts) is drawn in a fallback font, as figure software does
with a symbol font. Sizes and placements refer to the ink (the pixels the text covers),
not to the font's nominal box, so that truth boxes are tight.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

__all__ = ["FONTS", "font", "runs", "draw_runs", "ink_box", "text_size", "text_origin"]

#: Label fonts: a name and the file among matplotlib's bundled TrueType fonts.
FONTS = {
    "DejaVuSans": "DejaVuSans.ttf",
    "DejaVuSans-Bold": "DejaVuSans-Bold.ttf",
    "DejaVuSans-Oblique": "DejaVuSans-Oblique.ttf",
    "DejaVuSans-BoldOblique": "DejaVuSans-BoldOblique.ttf",
    "DejaVuSerif": "DejaVuSerif.ttf",
    "DejaVuSerif-Bold": "DejaVuSerif-Bold.ttf",
    "DejaVuSansMono": "DejaVuSansMono.ttf",
    "DejaVuSansMono-Bold": "DejaVuSansMono-Bold.ttf",
    "STIXGeneral": "STIXGeneral.ttf",
    "STIXGeneral-Bold": "STIXGeneralBol.ttf",
    "STIXGeneral-Italic": "STIXGeneralItalic.ttf",
    "cmr10": "cmr10.ttf",
    "cmb10": "cmb10.ttf",
    "cmss10": "cmss10.ttf",
}

#: Where a font lacks a glyph, that character is drawn in this font (DejaVuSans otherwise).
_FALLBACK = {
    "cmr10": "STIXGeneral",
    "cmb10": "STIXGeneral-Bold",
    "cmss10": "DejaVuSans",
}


@lru_cache(maxsize=None)
def _font_path(name: str) -> str:
    import matplotlib

    return str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / FONTS[name])


@lru_cache(maxsize=512)
def font(name: str, size: int) -> ImageFont.FreeTypeFont:
    """The PIL font ``name`` (a key of :data:`FONTS`) at ``size`` pixels."""
    return ImageFont.truetype(_font_path(name), size)


@lru_cache(maxsize=None)
def _has_glyph(name: str, char: str) -> bool:
    """Whether ``name`` draws ``char`` itself.

    The Computer Modern fonts map some non-ASCII code points (µ, μ, Å, ×) to unrelated
    glyphs of their TeX encoding, so for them only printable ASCII counts.
    """
    from matplotlib.ft2font import FT2Font

    if name.startswith("cm") and not (" " <= char <= "~"):
        return False
    return FT2Font(_font_path(name)).get_char_index(ord(char)) != 0


def runs(text: str, name: str) -> list[tuple[str, str]]:
    """``text`` split into runs of one font: the font itself, or its fallback per glyph.

    Parameters
    ----------
    text : str
    name : str
        The text's font, a key of :data:`FONTS`.

    Returns
    -------
    list of (str, str)
        (characters, font name) pairs, in order.

    Examples
    --------
    >>> runs("0.5 µm", "cmr10")
    [('0.5 ', 'cmr10'), ('µ', 'STIXGeneral'), ('m', 'cmr10')]
    """
    out: list[tuple[str, str]] = []
    for char in text:
        run_font = name if _has_glyph(name, char) else _FALLBACK.get(name, "DejaVuSans")
        if out and out[-1][1] == run_font:
            out[-1] = (out[-1][0] + char, run_font)
        else:
            out.append((char, run_font))
    return out


def draw_runs(draw: ImageDraw.ImageDraw, origin: tuple[int, int], text: str, name: str, size: int,
              stroke: int = 0) -> None:
    """Draw ``text`` in full coverage (255) with its pen starting at ``origin``.

    Parameters
    ----------
    draw : PIL.ImageDraw.ImageDraw
        A pen on a single-band coverage layer.
    origin : (int, int)
        (x, y) of the left end of the baseline.
    text, name : str
        The text and its font.
    size : int
        Font size in pixels.
    stroke : int
        Width of an outline drawn around the glyphs (0: none).
    """
    x, y = origin
    pen = float(x)
    for chunk, run_font in runs(text, name):
        f = font(run_font, size)
        draw.text((int(round(pen)), y), chunk, font=f, fill=255, anchor="ls",
                  stroke_width=stroke, stroke_fill=255)
        pen += f.getlength(chunk)


@lru_cache(maxsize=4096)
def ink_box(text: str, name: str, size: int, stroke: int = 0) -> tuple[int, int, int, int]:
    """Ink box (left, top, right, bottom) of ``text`` relative to its pen origin.

    (0, 0, 0, 0) for text without ink.
    """
    advance = sum(font(run_font, size).getlength(chunk) for chunk, run_font in runs(text, name))
    pad = 2 * size + stroke + 2
    scratch = Image.new("L", (int(advance) + 2 * pad, 4 * size + 2 * stroke + 4))
    draw_runs(ImageDraw.Draw(scratch), (pad, 3 * size), text, name, size, stroke)
    box = scratch.getbbox()
    if box is None:
        return (0, 0, 0, 0)
    return (box[0] - pad, box[1] - 3 * size, box[2] - pad, box[3] - 3 * size)


def text_size(text: str, name: str, size: int, stroke: int = 0) -> tuple[int, int]:
    """(width, height) of the ink of ``text`` in font ``name`` at ``size`` pixels.

    Examples
    --------
    >>> text_size("", "DejaVuSans", 12)
    (0, 0)
    """
    left, top, right, bottom = ink_box(text, name, size, stroke)
    return right - left, bottom - top


def text_origin(text: str, name: str, size: int, x: int, y: int, ha: str = "left", va: str = "top",
                stroke: int = 0) -> tuple[int, int]:
    """Pen origin that puts the ink of ``text`` at ``(x, y)`` with the given alignment.

    Parameters
    ----------
    text, name : str
        The text and its font.
    size : int
        Font size in pixels.
    x, y : int
        Where the ink goes.
    ha : {"left", "center", "right"}
        Which side of the ink ``x`` is.
    va : {"top", "middle", "bottom", "baseline"}
        Which side of the ink ``y`` is; "baseline": ``y`` is the baseline.
    stroke : int
        Outline width the text is drawn with.

    Returns
    -------
    (int, int)
        (x, y) of the pen: the left end of the baseline.
    """
    left, top, right, bottom = ink_box(text, name, size, stroke)
    width, height = right - left, bottom - top
    ink_left = {"left": x, "center": x - width // 2, "right": x - width}[ha]
    if va == "baseline":
        return ink_left - left, y
    ink_top = {"top": y, "middle": y - height // 2, "bottom": y - height}[va]
    return ink_left - left, ink_top - top
