"""Reading text in micrographs with an OCR engine that runs offline on the CPU.

The engine is RapidOCR (PaddleOCR's PP-OCRv4 detection and recognition models in ONNX),
from the optional extra ``pip install "bpartis-nb[scalebar]"``: its wheel carries the
models, so nothing is downloaded at run time. It is loaded once per process.

Text comes back as :class:`TextBox` lines: the engine's word boxes on one baseline,
joined when the gap between them is small ("1" and "µm" read apart become "1 µm").
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Optional

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from .base import Box

__all__ = ["TextBox", "OCRUnavailableError", "ocr_available", "read_text", "read_corners", "reread", "INSTALL_HINT"]

INSTALL_HINT = 'pip install "bpartis-nb[scalebar]"'

_ENGINE = None
_LOCK = threading.Lock()


class OCRUnavailableError(ImportError):
    """The OCR engine of the ``scalebar`` extra is not installed."""


@dataclass(frozen=True)
class TextBox:
    """A line of text found in an image.

    Attributes
    ----------
    text : str
    score : float
        Recognition confidence, 0 to 1 (the lowest of the joined words).
    box : (min_row, min_col, max_row, max_col)
        In the coordinates of the image given to :func:`read_text`.
    """

    text: str
    score: float
    box: Box

    @property
    def height(self) -> int:
        return self.box[2] - self.box[0]

    @property
    def centre(self) -> tuple[float, float]:
        return (self.box[0] + self.box[2]) / 2.0, (self.box[1] + self.box[3]) / 2.0


def ocr_available() -> bool:
    """True when the OCR engine can be loaded."""
    try:
        _engine()
    except OCRUnavailableError:
        return False
    return True


def _engine():
    global _ENGINE
    with _LOCK:
        if _ENGINE is None:
            try:
                import logging

                from rapidocr_onnxruntime import RapidOCR
            except ImportError as exc:
                raise OCRUnavailableError(
                    f"reading scale-bar labels needs the OCR engine: {INSTALL_HINT} "
                    f"(or give the scale yourself: scale=nm per pixel). ({exc})"
                ) from None
            _ENGINE = RapidOCR()
            logging.getLogger("RapidOCR").setLevel(logging.ERROR)
    return _ENGINE


def read_text(
    image: NDArray[np.uint8],
    region: Optional[Box] = None,
    zoom: float = 1.0,
    min_score: float = 0.5,
) -> list[TextBox]:
    """Lines of text in an image or a region of it.

    Parameters
    ----------
    image : ndarray of shape (M, N, 3), uint8
    region : (min_row, min_col, max_row, max_col), optional
        Only this part (text is found better in a crop around where it is expected).
    zoom : float
        Enlarge the part this many times first (bicubic): small text is read better.
    min_score : float
        Drop words recognised with less confidence.

    Returns
    -------
    list of TextBox
        Boxes in the coordinates of ``image``, top to bottom, then left to right.

    Raises
    ------
    OCRUnavailableError
        Without the ``scalebar`` extra.
    """
    engine = _engine()
    r0, c0 = 0, 0
    part = image
    if region is not None:
        r0, c0, r1, c1 = (int(v) for v in region)
        r0, c0 = max(r0, 0), max(c0, 0)
        part = image[r0:r1, c0:c1]
    if part.size == 0:
        return []
    if zoom != 1.0:
        h, w = part.shape[:2]
        part = np.asarray(Image.fromarray(part).resize((max(1, round(w * zoom)), max(1, round(h * zoom))),
                                                       Image.BICUBIC))
    pad = 8
    padded = np.pad(part, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    with _LOCK:  # the engine wants BGR; word boxes give the characters' own extent
        result, _ = engine(np.ascontiguousarray(padded[:, :, ::-1]), use_cls=False, return_word_box=True)
    words = []
    for found in result or []:
        points, text, score = found[0], str(found[1]).strip(), float(found[2])
        if score < min_score or not any(ch.isascii() and ch.isalnum() for ch in text):
            continue  # symbols and CJK characters are what a bar or a tick looks like to the engine
        characters = [np.asarray(c, np.float64) for c in (found[3] if len(found) > 3 and found[3] else [])]
        pts = np.concatenate(characters) if characters else np.asarray(points, np.float64)
        pts = (pts - pad) / zoom
        box = (int(np.floor(pts[:, 1].min())) + r0, int(np.floor(pts[:, 0].min())) + c0,
               int(np.ceil(pts[:, 1].max())) + r0, int(np.ceil(pts[:, 0].max())) + c0)
        words.append(TextBox(text, score, box))
    return join_lines(words)


def read_corners(image: NDArray[np.uint8], fraction: float = 0.2, side: int = 240) -> list[TextBox]:
    """Text in the four corners of an image, read in one pass at a larger size.

    Panel letters ("a", "(b)", "D") sit in corners and are single glyphs, which a
    reading of the whole image at most 1024 pixels wide often misses. The four corner
    squares (``fraction`` of the shorter side) are laid out in a 2 x 2 mosaic with a
    gap of the image's median colour, enlarged so that each square is about ``side``
    pixels, and read once.

    Parameters
    ----------
    image : ndarray of shape (M, N, 3), uint8
    fraction : float
        Side of a corner square as a fraction of the image's shorter side.
    side : int
        Pixels a corner square is enlarged to (never shrunk).

    Returns
    -------
    list of TextBox
        Boxes in the coordinates of ``image``; a line never spans two corners.
    """
    m, n = image.shape[:2]
    s = max(8, int(fraction * min(m, n)))
    gap = max(4, s // 8)
    fill = np.median(image.reshape(-1, image.shape[-1]), axis=0).astype(np.uint8)
    mosaic = np.empty((2 * s + gap, 2 * s + gap, image.shape[-1]), np.uint8)
    mosaic[:] = fill
    origins = {(0, 0): (0, 0), (0, 1): (0, n - s), (1, 0): (m - s, 0), (1, 1): (m - s, n - s)}
    for (i, j), (r, c) in origins.items():
        mosaic[i * (s + gap):i * (s + gap) + s, j * (s + gap):j * (s + gap) + s] = image[r:r + s, c:c + s]
    found = []
    for t in read_text(mosaic, zoom=max(1.0, side / s), min_score=0.3):
        i, j = int(t.box[0] >= s + gap // 2), int(t.box[1] >= s + gap // 2)
        r, c = origins[(i, j)]
        dr, dc = r - i * (s + gap), c - j * (s + gap)
        box = (t.box[0] + dr, t.box[1] + dc, t.box[2] + dr, t.box[3] + dc)
        if box[0] >= r - 2 and box[2] <= r + s + 2 and box[1] >= c - 2 and box[3] <= c + s + 2:
            found.append(TextBox(t.text, t.score, box))
    return found


def reread(image: NDArray[np.uint8], box: Box, extend: float = 1.5, height: int = 48) -> Optional[TextBox]:
    """Recognise the text of one box again, without detection, from a crop widened by
    ``extend`` text heights on the left and right and enlarged to ``height`` pixels.

    The detector sometimes leaves out a narrow glyph beside a word (the "1" of "1 µm");
    recognition of the widened line alone reads it.

    Returns
    -------
    TextBox or None
        The reading, with the widened box; None when nothing was read.
    """
    engine = _engine()
    r0, c0, r1, c1 = box
    h = max(r1 - r0, 1)
    m, n = image.shape[:2]
    grown = (max(r0, 0), max(int(c0 - extend * h), 0), min(r1, m), min(int(c1 + extend * h), n))
    part = image[grown[0]:grown[2], grown[1]:grown[3]]
    if part.size == 0:
        return None
    zoom = float(np.clip(height / h, 1.0, 4.0))
    part = np.asarray(Image.fromarray(part).resize((max(1, round(part.shape[1] * zoom)), max(1, round(part.shape[0] * zoom))),
                                                   Image.BICUBIC))
    with _LOCK:
        result, _ = engine(np.ascontiguousarray(part[:, :, ::-1]), use_det=False, use_cls=False)
    if not result or not str(result[0][0]).strip():
        return None
    return TextBox(str(result[0][0]).strip(), float(result[0][1]), grown)


def join_lines(words: list[TextBox], gap: float = 1.2) -> list[TextBox]:
    """Join words that share a baseline and lie within ``gap`` text heights of each other;
    the joined words are kept as well.

    Examples
    --------
    >>> [t.text for t in join_lines([TextBox("um", 0.9, (10, 30, 22, 50)), TextBox("1", 0.99, (10, 12, 22, 20))])]
    ['1 um', '1', 'um']
    """
    lines: list[TextBox] = []
    for word in sorted(words, key=lambda w: (w.box[1], w.box[0])):
        for i, line in enumerate(lines):
            overlap = min(line.box[2], word.box[2]) - max(line.box[0], word.box[0])
            height = min(line.height, word.height)
            horizontal = word.box[1] - line.box[3]
            if overlap >= 0.5 * height and -height <= horizontal <= gap * max(line.height, word.height):
                box = (min(line.box[0], word.box[0]), line.box[1], max(line.box[2], word.box[2]),
                       max(line.box[3], word.box[3]))
                lines[i] = TextBox(f"{line.text} {word.text}", min(line.score, word.score), box)
                break
        else:
            lines.append(word)
    # the words of joined lines stay candidates too: a line may join a label to its neighbour
    extra = [w for w in words if w not in lines]
    return sorted(lines + extra, key=lambda t: (t.box[0], t.box[1]))
