"""Write the annotated-rendering benchmark set and a contact sheet to look at.

Usage::

    python benchmarks/make_renderings.py OUT_FOLDER [--n 72] [--seed 0] [--columns 6] [--thumb 320]

Writes ``OUT_FOLDER/images``, ``masks``, ``labels``, ``truth.csv`` (see
:func:`bpartis_nb.calibration.renderings.write_rendering_set`) and
``OUT_FOLDER/contact_sheet.png``: every rendering as a thumbnail with its truth drawn on
it (bar box red, label box blue, strip box orange, annotation-mask outline magenta) and a
caption (index, label as drawn, bar length in pixels, nm per pixel, main style choices).
Prints the style coverage table and the time per rendering.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage

from bpartis_nb.calibration.renderings import (
    AnnotatedMicrograph,
    rendering_set,
    style_coverage,
    write_rendering_set,
)
from bpartis_nb.io import atomic_write

_BAR, _LABEL, _STRIP, _MASK = (255, 40, 40), (40, 120, 255), (255, 150, 0), (255, 0, 255)


def _caption(index: int, r: AnnotatedMicrograph) -> list[str]:
    """Two short lines describing a rendering's truth and style."""
    s = r.style
    label = repr(r.label_text) if r.label_text else ("(bar, no label)" if r.bar_px else "(no bar)")
    bar = f"{r.bar_px:.1f}px" if r.bar_px is not None else "-"
    first = f"#{index} {label} {bar} {r.nm_per_px:.3g}nm/px"
    bits = [s["strip"] or "", s["bar_kind"] or "", s["box"] or "" if s.get("generic_bar") else "",
            s["label_pos"] if s.get("generic_bar") and r.value is not None else "",
            f"{s['resample']} {s['resample_factor']}" if s["resample"] else "",
            f"jpeg{s['jpeg']}" if s["jpeg"] else ""]
    return [first, " ".join(b for b in bits if b)]


def _thumbnail(r: AnnotatedMicrograph, size: int) -> Image.Image:
    """The rendering shrunk to ``size`` on its long side, with its truth drawn."""
    image = Image.fromarray(r.image).convert("RGB")
    height, width = r.image.shape[:2]
    scale = size / max(height, width)
    thumb = image.resize((max(1, round(width * scale)), max(1, round(height * scale))), Image.BILINEAR)
    # mask outline: the mask minus its erosion, shrunk by taking any pixel in each cell
    edge = r.annotation_mask & ~ndimage.binary_erosion(r.annotation_mask)
    edge_img = Image.fromarray(edge.astype(np.uint8) * 255).resize(thumb.size, Image.BOX)
    outline = np.asarray(edge_img) > 0
    pixels = np.asarray(thumb).copy()
    pixels[outline] = _MASK
    thumb = Image.fromarray(pixels)
    draw = ImageDraw.Draw(thumb)
    for box, colour in ((r.strip_box, _STRIP), (r.bar_box, _BAR), (r.label_box, _LABEL)):
        if box is not None:
            r0, c0, r1, c1 = (v * scale for v in box)
            draw.rectangle([c0 - 1, r0 - 1, c1, r1], outline=colour, width=2)
    return thumb


def contact_sheet(renderings: Sequence[AnnotatedMicrograph], columns: int = 6, thumb: int = 320) -> Image.Image:
    """A grid of annotated thumbnails with captions.

    Parameters
    ----------
    renderings : sequence of AnnotatedMicrograph
    columns : int
        Thumbnails per row.
    thumb : int
        Long side of a thumbnail, in pixels.

    Returns
    -------
    PIL.Image.Image
    """
    caption_h = 32
    cell_w, cell_h = thumb + 8, thumb + caption_h + 8
    rows = -(-len(renderings) // columns)
    sheet = Image.new("RGB", (columns * cell_w, rows * cell_h), (235, 235, 235))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"), 12)
    for i, r in enumerate(renderings):
        x, y = (i % columns) * cell_w + 4, (i // columns) * cell_h + 4
        sheet.paste(_thumbnail(r, thumb), (x, y))
        for k, line in enumerate(_caption(i, r)):
            draw.text((x, y + thumb + 2 + 14 * k), line, fill=(0, 0, 0), font=font)
    return sheet


def coverage_table(renderings: Sequence[AnnotatedMicrograph]) -> str:
    """The style coverage as text, one axis a line."""
    lines = []
    for axis, counts in style_coverage(renderings).items():
        cells = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
        lines.append(f"{axis:15s} {cells}")
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder to write the set and the contact sheet to")
    parser.add_argument("--n", type=int, default=72, help="number of renderings (default 72)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the set (default 0)")
    parser.add_argument("--columns", type=int, default=6, help="thumbnails per contact-sheet row")
    parser.add_argument("--thumb", type=int, default=320, help="thumbnail size in pixels")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    renderings = rendering_set(args.n, args.seed)
    elapsed = time.perf_counter() - start
    truth = write_rendering_set(args.out, renderings=renderings)
    sheet = contact_sheet(renderings, args.columns, args.thumb)
    atomic_write(args.out / "contact_sheet.png", lambda tmp: sheet.save(tmp, format="PNG"))
    print(coverage_table(renderings))
    print(f"{len(renderings)} renderings in {elapsed:.2f} s ({elapsed / max(1, len(renderings)):.3f} s each)")
    print(f"wrote {truth} and {args.out / 'contact_sheet.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
