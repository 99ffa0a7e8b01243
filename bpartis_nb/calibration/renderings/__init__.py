"""Synthetic micrographs carrying realistic annotations, with exact truth.

A benchmark for the scale-bar reader (OCR of the label, geometric bar detection), the
annotation masker and the info-strip cropper. Each rendering is a synthetic micrograph
(:func:`bpartis_nb.examples.synthetic_micrograph`, SEM-like or inverted to look like a
bright-field TEM picture) with the annotations of journal figures and microscope exports
drawn on it with PIL: a scale bar (solid, with end ticks, Hitachi's dotted row of ticks,
FEI's bar split by its label), its label above, below or beside it, an optional filled
box behind both, an instrument info strip (Hitachi, JEOL, Zeiss, FEI, old Philips, or
text fields only), panel letters, a second text or an arrow; then, optionally, the whole
figure is resampled and JPEG-compressed as publishers do.

The truth is exact because it is known before drawing: the pixel size is chosen, the bar
is drawn with an integer number of pixels ``L`` for the label's value, so
``nm_per_px = value_nm / L``; resampling by a rational factor ``p/q`` applied to a canvas
whose sides are multiples of ``q`` scales every length by exactly ``p/q``.

:func:`render_annotated` draws one rendering from a seed (every choice can be overridden),
:func:`rendering_set` a fixed, balanced set that covers every style several times, and
:func:`write_rendering_set` writes it to a folder with a ``truth.csv``.

Modules: :mod:`.style` (the choices), :mod:`.background` (the micrograph),
:mod:`.fonts` and :mod:`.paint` (text and compositing), :mod:`.drawbars` (scale bars),
:mod:`.strips` (info strips), :mod:`.extras` (panel letters, texts, arrows),
:mod:`.resample` (resampling and JPEG), :mod:`.truth` (the result),
:mod:`.schedule` (the set's plan and its coverage).
"""
from __future__ import annotations

import csv
import io
import json
from fractions import Fraction
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import numpy as np
from PIL import Image

from ...io import atomic_write
from ..base import Box
from ..units import NM_PER_UNIT, normalize_unit
from .background import background
from .drawbars import Bar, draw_bar_group
from .extras import draw_extra, draw_panel
from .fonts import FONTS
from .paint import Painter
from .resample import RESAMPLERS, dilate, jpeg_round_trip, resample, scale_box
from .schedule import item_seed, schedule, style_coverage
from .strips import draw_strip
from .style import COLOURS, SALT, SIDE_STEP, STRIP_KINDS, resolve_style
from .truth import AnnotatedMicrograph, jsonable

__all__ = [
    "AnnotatedMicrograph",
    "render_annotated",
    "rendering_set",
    "write_rendering_set",
    "style_coverage",
    "FONTS",
    "COLOURS",
    "STRIP_KINDS",
]


def render_annotated(seed: int, /, **overrides: Any) -> AnnotatedMicrograph:
    """Render one annotated synthetic micrograph with its exact truth.

    Parameters
    ----------
    seed : int
        Same seed (and overrides), same rendering, byte for byte.
    **overrides
        Any key of the ``style`` dictionary, to fix that choice: e.g. ``strip="hitachi"``,
        ``bar="none"``, ``box="black"``, ``label_pos="left"``, ``resample=None``,
        ``jpeg=None``, ``annotate=False`` (the same micrograph with no annotation, its
        truth reduced to the pixel size). The other choices stay those of ``seed``.

    Returns
    -------
    AnnotatedMicrograph

    Raises
    ------
    TypeError
        An override that is not a style key.
    ValueError
        An override value the renderer does not know.

    Examples
    --------
    >>> r = render_annotated(3, strip=None, bar="labelled", resample=None, jpeg=None)
    >>> abs(r.value_nm / r.bar_px - r.nm_per_px) < 1e-12, r.image.dtype
    (True, dtype('uint8'))
    """
    return _render(resolve_style(seed, overrides))


def _canvas_size(style: dict[str, Any], factor: Fraction) -> tuple[int, int]:
    """(height, width): multiples of :data:`~.style.SIDE_STEP` (so of every factor's
    denominator), and of the factor's denominator where the height is overridden."""
    step = factor.denominator
    height = max(step, int(style["height"]) // step * step)
    width = min(1032, max(384, int(round(height * style["aspect"])))) // SIDE_STEP * SIDE_STEP
    return height, max(step, width // step * step)


def _render(style: dict[str, Any]) -> AnnotatedMicrograph:
    """Draw the rendering ``style`` describes (completing the style's derived keys)."""
    factor = Fraction(style["resample_factor"]) if style["resample"] else Fraction(1)
    height, width = _canvas_size(style, factor)
    grey, labels = background(style, height, width)
    clean = np.repeat(grey[:, :, None], 3, axis=2)
    p = Painter(clean.copy())
    rng = np.random.default_rng([SALT, int(style["seed"]), 2])

    value_nm = float(style["value"]) * NM_PER_UNIT[normalize_unit(style["unit"])]
    nominal = value_nm / max(8, int(round(style["bar_frac"] * width)))
    region: Box = (0, 0, height, width)
    occupied: list[Box] = []
    strip_box: Optional[Box] = None
    bar: Optional[Bar] = None
    if style["strip"]:
        strip_box, bar = draw_strip(p, style, rng, nominal)
        occupied.append(strip_box)
        region = (strip_box[2], 0, height, width) if strip_box[0] == 0 else (0, 0, strip_box[0], width)
    generic = bar is None and style["bar"] != "none"
    if generic:
        bar = draw_bar_group(p, style, region, occupied)
    if style["panel"]:
        draw_panel(p, style, region, occupied)
    if style["extra"]:
        draw_extra(p, style, region, occupied, rng)

    if bar is not None:
        # the pixel size follows from the drawn bar: the label's value over the drawn length
        drawn_nm = (bar.value * NM_PER_UNIT[bar.unit]) if bar.value is not None else value_nm
        nm_per_px = drawn_nm / bar.length
    else:
        nm_per_px = nominal
    style.update({
        "generic_bar": generic,
        "bar_kind": bar.kind if bar is not None else None,
        "bar_length_drawn": bar.length if bar is not None else None,
        "canvas": [height, width],
    })
    if generic:
        style["text_color"] = style["bar_color"]
    if not style["annotate"]:
        p = Painter(clean)
        bar, strip_box = None, None
    image, touched = p.canvas, p.touched
    labels = np.where(p.opaque, 0, labels).astype(np.int32)
    boxes = (bar.bar_box if bar else None, bar.label_box if bar else None, strip_box)
    bar_px = float(bar.length) if bar else None

    if style["resample"]:
        image, labels, touched = resample(image, labels, touched, factor, RESAMPLERS[style["resample"]])
        boxes = tuple(scale_box(b, factor) for b in boxes)
        bar_px = bar_px * float(factor) if bar_px is not None else None
        nm_per_px = (drawn_nm / bar_px) if bar is not None else nm_per_px / float(factor)
    mask = dilate(touched)
    jpeg_bytes = None
    if style["jpeg"] is not None:
        image, jpeg_bytes = jpeg_round_trip(image, int(style["jpeg"]))
    style["final_size"] = [int(image.shape[0]), int(image.shape[1])]
    labelled = bar is not None and bar.value is not None
    return AnnotatedMicrograph(
        image=image,
        labels=labels,
        nm_per_px=float(nm_per_px),
        label_text=bar.label_text if labelled else "",
        value=bar.value if labelled else None,
        unit=bar.unit if labelled else None,
        bar_px=bar_px,
        bar_box=boxes[0],
        label_box=boxes[1] if labelled else None,
        annotation_mask=mask,
        strip_box=boxes[2],
        style=jsonable(style),
        jpeg_bytes=jpeg_bytes,
    )


def rendering_set(n: int = 72, seed: int = 0) -> list[AnnotatedMicrograph]:
    """A fixed, balanced set of renderings covering every style several times.

    The categorical choices (strip kind, bar kind, label position, corner, box, colour,
    ticks, outline, unit and value, font, panel letter, second text or arrow, resampling,
    JPEG) follow a deterministic schedule; the rest (sizes, particles, contrast, margins)
    come from each rendering's seed. With ``n=72`` every choice occurs at least 3 times
    (see :func:`style_coverage`).

    Parameters
    ----------
    n : int
        Number of renderings.
    seed : int
        Seed of the set; rendering ``i`` has seed ``seed * 1000003 + i``.

    Returns
    -------
    list of AnnotatedMicrograph
    """
    return [render_annotated(item_seed(seed, i), **o) for i, o in enumerate(schedule(int(n)))]


def _box_json(box: Optional[Box]) -> str:
    return "" if box is None else json.dumps([int(v) for v in box])


def _write_png(path: Path, array: np.ndarray, **options: Any) -> None:
    atomic_write(path, lambda tmp: Image.fromarray(array).save(tmp, format="PNG", **options))


def write_rendering_set(folder: Union[str, Path], n: int = 72, seed: int = 0,
                        renderings: Optional[Sequence[AnnotatedMicrograph]] = None) -> Path:
    """Write a rendering set: images, masks, instance maps and ``truth.csv``.

    Layout: ``images/render_000.png`` (``.jpg`` for JPEG styles: the compressed file
    itself), ``masks/render_000.png`` (annotation mask, 0/255), ``labels/render_000.png``
    (16-bit instance map), and ``truth.csv`` with one row per image: file, mask, labels,
    label_text, value, unit, bar_px, nm_per_px, bar_box, label_box, strip_box (JSON
    lists, min_row, min_col, max_row, max_col, max exclusive; empty when absent), style
    (JSON). Every file is written atomically.

    Parameters
    ----------
    folder : path-like
        Created if needed; files of the same names are replaced.
    n, seed : int
        The set, as :func:`rendering_set`.
    renderings : sequence of AnnotatedMicrograph, optional
        Write these instead of rendering the set.

    Returns
    -------
    Path
        The ``truth.csv`` written.
    """
    folder = Path(folder)
    items = list(renderings) if renderings is not None else rendering_set(n, seed)
    rows = []
    for i, r in enumerate(items):
        name = f"render_{i:03d}"
        if r.jpeg_bytes is not None:
            image_name = f"images/{name}.jpg"
            atomic_write(folder / image_name, lambda tmp, data=r.jpeg_bytes: tmp.write_bytes(data))
        else:
            image_name = f"images/{name}.png"
            _write_png(folder / image_name, r.image, compress_level=1)
        _write_png(folder / f"masks/{name}.png", r.annotation_mask.astype(np.uint8) * 255)
        _write_png(folder / f"labels/{name}.png", r.labels.astype(np.uint16))
        rows.append([
            image_name, f"masks/{name}.png", f"labels/{name}.png", r.label_text,
            "" if r.value is None else repr(r.value), r.unit or "",
            "" if r.bar_px is None else repr(r.bar_px), repr(r.nm_per_px),
            _box_json(r.bar_box), _box_json(r.label_box), _box_json(r.strip_box),
            json.dumps(r.style, ensure_ascii=False, sort_keys=True),
        ])
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["file", "mask", "labels", "label_text", "value", "unit", "bar_px", "nm_per_px",
                     "bar_box", "label_box", "strip_box", "style"])
    writer.writerows(rows)
    data = text.getvalue().encode("utf-8")
    return atomic_write(folder / "truth.csv", lambda tmp: tmp.write_bytes(data))
