"""Scale-bar reading and the calibration every entry point resolves: known answers on
drawn bars, the synthetic renderings, and the bad inputs a user meets."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from matplotlib import font_manager
from PIL import Image, ImageDraw, ImageFont

from bpartis_nb.calibration import (
    Calibration,
    CalibrationError,
    CalibrationWarning,
    UnknownUnitError,
    parse_length,
    read_calibration,
    resolve_calibration,
)
from bpartis_nb.calibration.bars import find_bars
from bpartis_nb.calibration.ocr import ocr_available
from bpartis_nb.examples import synthetic_micrograph

needs_ocr = pytest.mark.skipif(not ocr_available(), reason='the OCR extra is missing: pip install "bpartis-nb[scalebar]"')


def micrograph(size=(400, 600), seed=0) -> np.ndarray:
    """A grey particle micrograph without annotations."""
    image = synthetic_micrograph(size=max(size), n_particles=25, radius=(10, 16), seed=seed).image
    return np.ascontiguousarray(image[: size[0], : size[1]])


def draw_bar(image, length, label, *, at=(360, 40), thickness=6, colour=255, font_px=22, label_gap=6):
    """Draw a bar of ``length`` pixels and its label centred below it; returns RGB uint8."""
    picture = Image.fromarray(image).convert("RGB")
    pen = ImageDraw.Draw(picture)
    r, c = at
    fill = (colour,) * 3 if np.isscalar(colour) else tuple(colour)
    pen.rectangle([c, r, c + length - 1, r + thickness - 1], fill=fill)
    font = ImageFont.truetype(font_manager.findfont("DejaVu Sans"), font_px)
    width = pen.textlength(label, font=font)
    pen.text((c + length / 2 - width / 2, r + thickness + label_gap), label, fill=fill, font=font)
    return np.asarray(picture)


# --------------------------------------------------------------------------- parsing
@pytest.mark.parametrize("text, value, unit", [
    ("1μm", 1.0, "µm"), ("1µm", 1.0, "µm"), ("5 um", 5.0, "µm"), ("20.nm", 20.0, "nm"), ("200nm", 200.0, "nm"),
    ("0.5 µm", 0.5, "µm"), ("0,5 µm", 0.5, "µm"), ("500 Å", 500.0, "Å"), ("2 mm", 2.0, "mm"), ("100 pm", 100.0, "pm"),
    ("50 nanometers", 50.0, "nm"), ("10 microns", 10.0, "µm"),
])
def test_labels_parse_to_value_and_unit(text, value, unit):
    assert parse_length(text) == (pytest.approx(value), unit)


@pytest.mark.parametrize("text", ["500 furlongs", "nm", "", "scale"])
def test_labels_without_a_length_are_refused(text):
    with pytest.raises(CalibrationError):
        parse_length(text)


# --------------------------------------------------------------------------- bars
@pytest.mark.parametrize("colour", [255, 0, (255, 220, 0)])
def test_bar_length_to_one_pixel(colour):
    image = draw_bar(micrograph(), 237, "500 nm", colour=colour)
    if colour == 0:  # a black bar on a white box
        image = image.copy()
        image[350:400, 30:290] = 255
        image = draw_bar(image, 237, "500 nm", colour=0)
    best = find_bars(image)[0]
    assert best.length_px == pytest.approx(237, abs=1.0)
    assert best.box[0] <= 360 < best.box[2]


# --------------------------------------------------------------------------- labels read
@needs_ocr
@pytest.mark.parametrize("length, label, nm_per_px", [(200, "500 nm", 2.5), (150, "1 µm", 1000 / 150),
                                                      (320, "20 nm", 20 / 320)])
def test_drawn_scale_bar_gives_nm_per_pixel(length, label, nm_per_px):
    c = read_calibration(draw_bar(micrograph(), length, label), warn=False)
    assert c.source == "scale_bar", c.warnings
    assert c.nm_per_px == pytest.approx(nm_per_px, rel=0.01)
    assert c.bar_box is not None and c.label_box is not None and 0 < c.confidence <= 1


@needs_ocr
def test_renderings_read_right():
    """Known answers on the synthetic renderings (the full set is in benchmarks/bench_calibration.py)."""
    from bpartis_nb.calibration.renderings import rendering_set
    from bpartis_nb.calibration.units import to_nm

    labelled = right = close = false = 0
    for r in rendering_set(24, seed=2):
        c = read_calibration(r.image, warn=False)
        if not r.label_text:
            false += c.known
            continue
        labelled += 1
        if c.known:
            right += c.value == pytest.approx(r.value) and c.unit == r.unit
            close += abs(c.nm_per_px / r.nm_per_px - 1) <= 0.02
    assert false == 0
    assert right >= 0.9 * labelled and close >= 0.85 * labelled, (right, close, labelled)


# --------------------------------------------------------------------------- bad input
@needs_ocr
def test_no_bar_warns_and_stays_in_pixels():
    with pytest.warns(CalibrationWarning, match="no scale bar was found.*scale="):
        c = read_calibration(micrograph())
    assert not c.known and c.source is None


@needs_ocr
def test_unreadable_label_names_the_bar_and_the_fix():
    image = draw_bar(micrograph(), 200, "~~~~")
    with pytest.warns(CalibrationWarning, match="bar of 200 px.*no length label.*scale="):
        c = read_calibration(image)
    assert not c.known


@needs_ocr
def test_unknown_unit_is_named():
    image = draw_bar(micrograph(), 200, "500 furlongs", font_px=20)
    with pytest.warns(CalibrationWarning, match="furlongs.*not a unit"):
        c = read_calibration(image)
    assert not c.known


@needs_ocr
def test_two_bars_that_disagree_give_no_scale():
    image = draw_bar(micrograph((400, 800)), 150, "100 nm", at=(360, 30))
    image = draw_bar(image, 150, "5 µm", at=(360, 560))
    with pytest.warns(CalibrationWarning, match="two scale bars disagree.*split_panels"):
        c = read_calibration(image)
    assert not c.known


@needs_ocr
def test_metadata_wins_over_a_contradicting_bar(tmp_path):
    import tifffile

    image = draw_bar(micrograph(), 200, "500 nm")  # 2.5 nm/px drawn; the file says 4 nm/px
    path = tmp_path / "imagej.tif"
    tifffile.imwrite(path, image, imagej=True, resolution=(1 / 4.0, 1 / 4.0), metadata={"unit": "nm"})
    with pytest.warns(CalibrationWarning, match=r"scale bar .* gives 2\.[45]\d* nm/px .*metadata says 4 nm/px; using the metadata"):
        c = read_calibration(path)
    assert c.source == "metadata" and c.nm_per_px == pytest.approx(4.0)


def test_missing_ocr_names_the_extra(monkeypatch):
    from bpartis_nb.calibration import ocr

    monkeypatch.setattr(ocr, "ocr_available", lambda: False)
    with pytest.warns(CalibrationWarning, match=r'pip install "bpartis-nb\[scalebar\]"'):
        c = read_calibration(micrograph())
    assert not c.known


# --------------------------------------------------------------------------- the scale argument
def test_scale_arguments_resolve():
    assert resolve_calibration(None, None) == Calibration.unknown()
    assert resolve_calibration(0.5, None, unit="µm").nm_per_px == pytest.approx(500)
    assert resolve_calibration((250, 1, "um"), None).nm_per_px == pytest.approx(4)
    given = Calibration.manual(3.0)
    assert resolve_calibration(given, None) is given


@pytest.mark.parametrize("scale, error", [(-1, CalibrationError), (float("inf"), CalibrationError),
                                          ("big", CalibrationError), ((10, 5), CalibrationError),
                                          ((0, 5, "nm"), CalibrationError), ((10, 5, "furlong"), UnknownUnitError)])
def test_bad_scale_arguments_are_refused(scale, error):
    with pytest.raises(error):
        resolve_calibration(scale, None)
