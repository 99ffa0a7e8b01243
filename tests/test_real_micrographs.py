"""Real-world inputs end to end: scale="auto" through segment, the command line, analyze,
figures with several panels, and the dashboard; annotations never come out as particles."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from bpartis_nb import segment
from bpartis_nb.calibration import CalibrationWarning
from bpartis_nb.calibration.ocr import ocr_available
from bpartis_nb.calibration.renderings import render_annotated
from bpartis_nb.examples import synthetic_micrograph

pytestmark = pytest.mark.skipif(not ocr_available(), reason='the OCR extra is missing: pip install "bpartis-nb[scalebar]"')

SAMPLES = 3


@pytest.fixture(scope="module")
def sem_export():
    """An SEM export: particles, a FEI-style information strip holding the scale bar, a
    panel letter and a text label (exact truth from the renderer)."""
    return render_annotated(5, strip="fei", bar="labelled", jpeg=None, resample=None)


@pytest.fixture(scope="module")
def masked(sem_export, published_model):
    return segment(sem_export.image, samples=SAMPLES, seed=0, model=published_model, scale="auto")


def test_scale_auto_calibrates_and_crops_the_strip(sem_export, masked):
    c = masked.calibration
    assert c.source == "scale_bar"
    assert c.nm_per_px == pytest.approx(sem_export.nm_per_px, rel=0.02)
    assert masked.annotations.strip_box is not None
    r0, r1 = masked.annotations.kept_region
    assert not masked.labels_unfiltered[:r0].any() and not masked.labels_unfiltered[r1:].any()
    assert masked.labels.shape == sem_export.image.shape[:2]


def test_no_kept_particle_lies_on_an_annotation(sem_export, masked):
    truth = sem_export.annotation_mask
    for k in np.unique(masked.labels[truth]):
        if k:
            assert np.mean(truth[masked.labels == k]) < 0.5, f"particle {k} lies on an annotation"
    table = masked.instances
    assert "excluded_annotation" in table and not (table["kept"] & table["excluded_annotation"]).any()


def test_refiltering_keeps_annotations_out(masked):
    table = masked.instances
    flags = np.concatenate([[False], table["excluded_annotation"].to_numpy(bool)])
    for tu in (1e9, 0.0125, 0.001):
        again = masked.with_threshold(tu)
        assert not np.isin(np.flatnonzero(flags), again.labels_unfiltered[again.labels > 0]).any()
        assert (again.instances["excluded_annotation"] == table["excluded_annotation"]).all()


def test_excluded_instances_are_flagged_in_the_table(published_model):
    """A white box with a bold letter is segmented as a particle without masking; with
    masking it is set aside and reported."""
    image = np.ascontiguousarray(synthetic_micrograph(size=256, n_particles=10, radius=(12, 18), seed=3).image)
    image = np.stack([image] * 3, -1) if image.ndim == 2 else image.copy()
    picture = Image.fromarray(image)
    from PIL import ImageDraw, ImageFont
    from matplotlib import font_manager

    pen = ImageDraw.Draw(picture)
    pen.rectangle([6, 6, 44, 50], fill=(255, 255, 255))
    pen.text((12, 6), "a", fill=(0, 0, 0), font=ImageFont.truetype(font_manager.findfont("DejaVu Sans:bold"), 36))
    image = np.asarray(picture)
    plain = segment(image, samples=0, model=published_model)
    masked = segment(image, samples=0, model=published_model, annotations=True)
    on_box = lambda result: {k for k in np.unique(result.labels[6:51, 6:45]) if k and  # noqa: E731
                             np.mean((result.labels == k)[6:51, 6:45]) / np.mean(result.labels == k) >= 0.5}
    assert not on_box(masked)
    if on_box(plain):  # the network put a particle on the box: masking reports it
        assert masked.instances["excluded_annotation"].sum() >= 1


def test_default_segment_is_the_published_behaviour(sem_export, published_model):
    plain = segment(sem_export.image, samples=0, model=published_model)
    assert plain.calibration is None and plain.annotations is None
    assert "excluded_annotation" not in plain.instances


def test_overlay_shades_annotations_and_frames_the_bar(sem_export, masked):
    from bpartis_nb.drawing import BAR_FRAME
    from bpartis_nb.viz import overlay

    picture = overlay(masked, sem_export.image)
    r0, c0, r1, c1 = masked.calibration.bar_box
    frame = picture[max(r0 - 4, 0):r1 + 4, max(c0 - 4, 0):c1 + 4].reshape(-1, 3)
    assert (frame == BAR_FRAME).all(axis=1).any()
    strip = masked.annotations.mask
    assert not np.array_equal(picture[strip], np.asarray(Image.fromarray(sem_export.image).convert("RGB"))[strip])


def test_cli_scale_auto_is_the_default(sem_export, published_weights, tmp_path, capsys):
    from bpartis_nb.cli import main

    path = tmp_path / "sem.png"
    Image.fromarray(sem_export.image).save(path)
    rc = main(["segment", str(path), "--out", str(tmp_path / "out"), "--samples", "0",
               "--weights", str(published_weights)])
    assert rc == 0
    summary = json.loads((tmp_path / "out" / "sem_summary.json").read_text())
    assert summary["calibration_source"] == "scale_bar"
    assert summary["nm_per_px"] == pytest.approx(sem_export.nm_per_px, rel=0.02)
    assert summary["unit"] == "nm" and summary["excluded_annotation"] is not None
    assert "diameter_nm" in pd.read_csv(tmp_path / "out" / "sem_particles.csv").columns
    assert "from the scale bar" in capsys.readouterr().out


def test_cli_without_a_scale_warns_and_names_the_fix(published_weights, tmp_path, capsys):
    from bpartis_nb.cli import main

    path = tmp_path / "plain.png"
    Image.fromarray(synthetic_micrograph(size=160, n_particles=6, radius=(10, 14)).image).save(path)
    rc = main(["segment", str(path), "--out", str(tmp_path / "out"), "--samples", "0",
               "--weights", str(published_weights)])
    assert rc == 0
    err = capsys.readouterr().err
    assert "no scale bar was found" in err and "scale=" in err
    assert "diameter_px" in pd.read_csv(tmp_path / "out" / "plain_particles.csv").columns


def test_analyze_records_each_images_calibration(sem_export, published_weights, tmp_path):
    from bpartis_nb.batch import analyze

    folder = tmp_path / "images"
    folder.mkdir()
    Image.fromarray(sem_export.image).save(folder / "sem.png")
    Image.fromarray(synthetic_micrograph(size=160, n_particles=6, radius=(10, 14)).image).save(folder / "plain.png")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        result = analyze(folder, tmp_path / "out", samples=0, threads=1, weights=published_weights,
                         progress=False, scale="auto")
    assert result.failed == 0
    summaries = result.summaries().set_index("image")
    assert summaries.loc["sem.png", "calibration_source"] == "scale_bar"
    assert summaries.loc["sem.png", "nm_per_px"] == pytest.approx(sem_export.nm_per_px, rel=0.02)
    assert pd.isna(summaries.loc["plain.png", "calibration_source"])
    assert "no scale bar" in summaries.loc["plain.png", "calibration_warnings"]
    table = result.table()
    assert table.loc[table["image"] == "plain.png", "diameter_nm"].isna().all()
    assert (table.loc[table["image"] == "sem.png", "diameter_nm"] > 0).all()
    settings = json.loads((tmp_path / "out" / "settings.json").read_text())
    assert settings["scale"] == "auto" and settings["annotations"] is True


def _figure(sem_export) -> np.ndarray:
    """Two micrographs with different scale bars beside a line plot, on white."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    other = render_annotated(9, strip=None, bar="labelled", jpeg=None, resample=None, box="white")
    fig = Figure(figsize=(3, 3), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot(np.linspace(0, 10, 50), np.sin(np.linspace(0, 10, 50)))
    ax.set_xlabel("size (nm)")
    fig.canvas.draw()
    plot = np.asarray(fig.canvas.buffer_rgba())[:, :, :3]
    a, b = sem_export.image, other.image
    a = np.stack([a] * 3, -1) if a.ndim == 2 else a
    b = np.stack([b] * 3, -1) if b.ndim == 2 else b
    height = max(a.shape[0], b.shape[0], plot.shape[0]) + 40
    page = np.full((height, a.shape[1] + b.shape[1] + plot.shape[1] + 80, 3), 255, np.uint8)
    page[20:20 + a.shape[0], 20:20 + a.shape[1]] = a
    x = 40 + a.shape[1]
    page[20:20 + b.shape[0], x:x + b.shape[1]] = b
    x += 20 + b.shape[1]
    page[20:20 + plot.shape[0], x:x + plot.shape[1]] = plot
    return page, other


def test_figure_panels_each_with_its_own_scale(sem_export, published_model):
    from bpartis_nb.figures import segment_figure

    page, other = _figure(sem_export)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        found = segment_figure(page, samples=0, model=published_model)
    assert len(found.panels) == 3 and len(found) == 2
    assert list(found.skipped) == [2] and "plot" in found.skipped[2]
    scales = [r.calibration.nm_per_px for _, r in found]
    assert scales[0] == pytest.approx(sem_export.nm_per_px, rel=0.02)
    assert scales[1] == pytest.approx(other.nm_per_px, rel=0.02)
    assert found.labels().shape == page.shape[:2] and found.labels().max() > 0


def test_analyze_and_cli_on_a_figure_give_one_row_per_micrograph_panel(sem_export, published_weights, tmp_path,
                                                                      capsys):
    from bpartis_nb.batch import analyze
    from bpartis_nb.cli import main

    page, other = _figure(sem_export)
    folder = tmp_path / "figures"
    folder.mkdir()
    Image.fromarray(page).save(folder / "fig1.png")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        result = analyze(folder, tmp_path / "out", samples=0, threads=1, weights=published_weights,
                         progress=False, scale="auto", panels=True)
    summaries = result.summaries()
    assert summaries["panel"].tolist() == [0, 1]
    assert summaries["nm_per_px"].to_numpy() == pytest.approx([sem_export.nm_per_px, other.nm_per_px], rel=0.02)
    assert summaries["panels_skipped"].str.contains("plot").all()
    table = result.table()
    assert set(table["panel"]) <= {0, 1} and not table.duplicated(["panel", "id"]).any()

    rc = main(["segment", str(folder / "fig1.png"), "--panels", "--out", str(tmp_path / "seg"), "--samples", "0",
               "--weights", str(published_weights)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "panel 2 skipped" in printed
    assert (tmp_path / "seg" / "fig1_p0_particles.csv").is_file() and (tmp_path / "seg" / "fig1_p1_overlay.png").is_file()
    assert not (tmp_path / "seg" / "fig1_p2_overlay.png").exists()
