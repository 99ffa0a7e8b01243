"""The annotated renderings' truth is exact: bar pixels, lengths, pixel sizes, masks, labels."""
from __future__ import annotations

import csv
import json
from fractions import Fraction

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from bpartis_nb.calibration.renderings import (
    COLOURS,
    FONTS,
    STRIP_KINDS,
    AnnotatedMicrograph,
    render_annotated,
    rendering_set,
    style_coverage,
    write_rendering_set,
)
from bpartis_nb.calibration.units import NM_PER_UNIT, parse_length


@pytest.fixture(scope="module")
def the_set() -> list[AnnotatedMicrograph]:
    return rendering_set(72, seed=0)


def _plain(r: AnnotatedMicrograph) -> bool:
    """Neither resampled nor JPEG-compressed: pixels are exactly as drawn."""
    return r.style["resample"] is None and r.style["jpeg"] is None


def _clean(r: AnnotatedMicrograph) -> AnnotatedMicrograph:
    """The same rendering without its annotations."""
    return render_annotated(r.style["seed"], **{**r.style, "annotate": False})


def test_label_value_bar_length_and_pixel_size_agree(the_set):
    for i, r in enumerate(the_set):
        height, width = r.image.shape[:2]
        assert r.labels.shape == r.annotation_mask.shape == (height, width), i
        assert r.nm_per_px > 0
        for box in (r.bar_box, r.label_box, r.strip_box):
            if box is not None:
                assert 0 <= box[0] < box[2] <= height and 0 <= box[1] < box[3] <= width, (i, box)
        if r.value is None:
            assert r.label_text == "" and r.unit is None and r.label_box is None, i
            continue
        # the label as drawn says what the truth says
        assert parse_length(r.label_text) == (r.value, r.unit), (i, r.label_text)
        assert r.value * NM_PER_UNIT[r.unit] / r.bar_px == pytest.approx(r.nm_per_px, rel=1e-9), i
        assert r.style["bar_length_drawn"] * Fraction(r.style["resample_factor"] if r.style["resample"] else 1) \
            == pytest.approx(r.bar_px, rel=1e-12)


def test_bar_pixels_have_the_bar_colour_and_its_counted_length(the_set):
    checked = {"solid": 0, "ticked": 0, "dotted": 0}
    for i, r in enumerate(the_set):
        s = r.style
        if not _plain(r) or r.bar_box is None:
            continue
        r0, c0, r1, c1 = r.bar_box
        if s["generic_bar"]:
            colour = np.array(COLOURS[s["bar_color"]], np.uint8)
            inside = np.all(r.image[r0:r1, c0:c1] == colour, axis=2)
            if s["bar_kind"] == "solid":
                assert inside.all(), i
            else:  # end ticks: the bar's middle row is all bar, the end columns all tick
                assert inside[(r1 - r0) // 2].all() and inside[:, 0].all() and inside[:, -1].all(), i
            # the counted length: the bar-coloured run along the middle row
            row = np.all(r.image[(r0 + r1) // 2] == colour, axis=1)
            run = np.flatnonzero(row[c0:c1])
            assert run.size == c1 - c0 == r.bar_px, i
            # and the bar stops there: the columns either side are not bar all the way down
            for col in (c0 - 1, c1):
                if 0 <= col < r.image.shape[1]:
                    assert not np.all(r.image[r0:r1, col] == colour), i
            checked[s["bar_kind"]] += 1
        elif s["bar_kind"] == "dotted":  # Hitachi: eleven ticks, first to last = bar_px
            ink = np.any(r.image[r0:r1, c0:c1] != r.image[r0, c0 - 1], axis=(0, 2))
            starts = np.flatnonzero(np.diff(np.concatenate([[0], ink.astype(int)])) == 1)
            assert len(starts) == 11, i
            assert ink[0] and ink[-1] and c1 - c0 == r.bar_px, i
            checked["dotted"] += 1
    assert checked["solid"] >= 5 and checked["ticked"] >= 3 and checked["dotted"] >= 1, checked


def test_resampling_scales_lengths_and_pixel_size_by_the_factor(the_set):
    resampled = [r for r in the_set if r.style["resample"] and r.value is not None][:5]
    assert {r.style["resample"] for r in resampled} == {"bicubic", "bilinear", "area"}
    for r in resampled:
        factor = Fraction(r.style["resample_factor"])
        native = render_annotated(r.style["seed"], **{**r.style, "resample": None})
        assert native.style["resample"] is None
        assert r.image.shape[0] == native.image.shape[0] * factor
        assert r.image.shape[1] == native.image.shape[1] * factor
        assert r.bar_px == pytest.approx(native.bar_px * float(factor), rel=1e-12)
        assert r.nm_per_px == pytest.approx(native.nm_per_px / float(factor), rel=1e-12)
        assert r.value_nm / r.bar_px == pytest.approx(r.nm_per_px, rel=1e-9)
        assert r.label_text == native.label_text
        # boxes: the native ones scaled outward to whole pixels
        for ours, theirs in ((r.bar_box, native.bar_box), (r.label_box, native.label_box)):
            assert ours[0] <= theirs[0] * factor and ours[2] >= theirs[2] * factor
            assert ours[0] > theirs[0] * factor - 1 and ours[2] < theirs[2] * factor + 1


def test_annotation_mask_covers_every_pixel_the_annotations_changed(the_set):
    picks = [r for r in the_set if r.style["jpeg"] is None]
    picks = picks[:6] + [r for r in picks if r.style["resample"]][:4] + [r for r in picks if r.style["strip"]][:3]
    assert any(r.style["resample"] for r in picks) and any(r.style["strip"] for r in picks)
    for r in picks:
        clean = _clean(r)
        assert clean.image.shape == r.image.shape
        assert not clean.annotation_mask.any() and clean.bar_px is None and clean.strip_box is None
        assert clean.nm_per_px == pytest.approx(r.nm_per_px, rel=1e-12)
        changed = np.any(clean.image != r.image, axis=2)
        assert changed.any()
        assert not (changed & ~r.annotation_mask).any(), r.style["seed"]
        # and the mask is not much more than that: within 3 pixels of a change
        near = ndimage.binary_dilation(changed, iterations=3)
        assert (r.annotation_mask & ~near).sum() <= 0.01 * r.annotation_mask.sum()


def test_particle_labels_are_zero_under_opaque_annotations(the_set):
    codes = [(red << 16) | (green << 8) | blue for red, green, blue in COLOURS.values()]
    plain = [r for r in the_set if _plain(r)]
    picks = plain[:8] + [r for r in plain[8:] if r.style["strip"] or r.style["box"] in ("white", "black")][:4]
    for r in picks:
        if r.strip_box is not None:
            r0, c0, r1, c1 = r.strip_box
            assert not r.labels[r0:r1, c0:c1].any()
        # pixels an annotation changed to exactly one of its pure colours are fully covered
        clean = _clean(r)
        changed = np.any(clean.image != r.image, axis=2)
        rgb = r.image.astype(np.int32)
        pure = np.isin((rgb[:, :, 0] << 16) | (rgb[:, :, 1] << 8) | rgb[:, :, 2], codes)
        covered = changed & pure
        assert covered.any()
        assert not r.labels[covered].any(), r.style["seed"]
        # particles elsewhere keep their labels: the clean rendering's map minus the covered pixels
        assert np.array_equal(r.labels[~r.annotation_mask], clean.labels[~r.annotation_mask])


def test_rendering_set_covers_every_style_at_least_three_times(the_set):
    expected = {
        "mode": ["sem", "tem"],
        "bar": ["labelled", "unlabelled", "none"],
        "strip": ["none", *STRIP_KINDS],
        "strip_side": ["top", "bottom"],
        "strip_bg": ["black", "white", "grey"],
        "bar_kind": ["solid", "ticked", "dotted", "split"],
        "position": ["bottom-right", "bottom-left", "top-right", "top-left", "bottom-center"],
        "box": ["none", "white", "black", "translucent-white", "translucent-black"],
        "bar_color": list(COLOURS),
        "ticks": ["True", "False"],
        "outline": ["True", "False"],
        "bar_thickness": ["1-2 px", "3-6 px", "7-12 px"],
        "bar_length": ["10-20 %", "20-30 %", "30-40 %"],
        "label_pos": ["above", "below", "left", "right"],
        "font": ["DejaVuSans", "DejaVuSans-Bold", "DejaVuSerif", "STIXGeneral", "cmr10", "cmss10"],
        "font_size": ["2.5-4 %", "4-5.5 %", "5.5-7 %"],
        "space": ["True", "False"],
        "decimal_comma": ["True", "False"],
        "unit": ["nm", "µm", "Å", "mm"],
        "micro_spelling": ["µm", "μm", "um"],
        "value": ["1", "2", "5", "10", "20", "50", "100", "200", "250", "500", "0.5", "0.2", "1.5"],
        "panel": ["none", "x", "(x)", "x)", "X"],
        "panel_box": ["True", "False"],
        "extra": ["none", "text", "arrow"],
        "resample": ["none", "bicubic", "bilinear", "area"],
        "jpeg": ["True", "False"],
    }
    table = style_coverage(the_set)
    for axis, choices in expected.items():
        for choice in choices:
            assert table[axis].get(choice, 0) >= 3, (axis, choice, table[axis])
    # every label font of the schedule is used
    assert set(table["font"]) <= set(FONTS) and len(table["font"]) >= 12
    # straight from the truth fields
    assert sum(r.strip_box is not None for r in the_set) >= 18
    assert sum(r.bar_px is None for r in the_set) >= 3
    assert sum(r.bar_px is not None and r.value is None for r in the_set) >= 3
    assert sum(r.jpeg_bytes is not None for r in the_set) >= 3
    assert len({r.image.shape for r in the_set}) >= 20


def test_same_seed_same_bytes_and_files(tmp_path):
    first, second = rendering_set(3, seed=5), rendering_set(3, seed=5)
    for a, b in zip(first, second):
        assert np.array_equal(a.image, b.image) and np.array_equal(a.labels, b.labels)
        assert np.array_equal(a.annotation_mask, b.annotation_mask) and a.style == b.style
    assert not np.array_equal(first[0].image, rendering_set(1, seed=6)[0].image)
    truth_a = write_rendering_set(tmp_path / "a", renderings=first)
    truth_b = write_rendering_set(tmp_path / "b", renderings=second)
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert files_a == files_b and len(files_a) == 3 * 3 + 1
    for rel in files_a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
    assert truth_a.name == truth_b.name == "truth.csv"


def test_written_set_reads_back_as_the_truth(tmp_path):
    renderings = [render_annotated(11, jpeg=None, strip="zeiss"), render_annotated(12, jpeg=80, bar="unlabelled")]
    truth = write_rendering_set(tmp_path, renderings=renderings)
    with open(truth, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2
    for row, r in zip(rows, renderings):
        image = np.asarray(Image.open(tmp_path / row["file"]).convert("RGB"))
        assert np.array_equal(image, r.image)
        assert np.array_equal(np.asarray(Image.open(tmp_path / row["mask"])) > 0, r.annotation_mask)
        assert np.array_equal(np.asarray(Image.open(tmp_path / row["labels"])).astype(np.int32), r.labels)
        assert row["label_text"] == r.label_text
        assert float(row["nm_per_px"]) == r.nm_per_px
        assert json.loads(row["style"]) == r.style
        assert (json.loads(row["strip_box"]) if row["strip_box"] else None) == (
            list(r.strip_box) if r.strip_box else None)
    assert rows[0]["file"].endswith(".png") and rows[1]["file"].endswith(".jpg")
    assert rows[0]["value"] and rows[1]["value"] == "" and rows[1]["bar_px"] != ""


def test_bar_choices_and_refusals():
    none = render_annotated(4, bar="none", strip=None)
    assert none.bar_px is None and none.bar_box is None and none.value is None and none.label_text == ""
    assert none.nm_per_px > 0
    bare = render_annotated(4, bar="unlabelled", strip=None)
    assert bare.bar_px is not None and bare.label_box is None and bare.value is None
    labelled = render_annotated(4, bar="labelled", strip=None, value=0.5, unit="µm", unit_text="um", space=False,
                                resample=None, jpeg=None)
    assert labelled.label_text == "0.5um" and labelled.unit == "µm" and labelled.value == 0.5
    assert labelled.nm_per_px == pytest.approx(500 / labelled.bar_px, rel=1e-12)
    hitachi = render_annotated(4, strip="hitachi", strip_variant=4)  # its strip lengths: 500 nm
    assert hitachi.label_text == "500nm" and hitachi.style["bar_kind"] == "dotted"
    assert hitachi.strip_box[2] == hitachi.image.shape[0] or hitachi.strip_box[0] == 0
    with pytest.raises(TypeError, match="unknown style keys"):
        render_annotated(4, colour="white")
    with pytest.raises(ValueError, match="label_pos"):
        render_annotated(4, label_pos="inside")
