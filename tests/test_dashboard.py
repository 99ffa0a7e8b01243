"""Dashboard logic without a browser: set values, call callbacks, check state and outputs."""
import datetime
import io

import numpy as np
import pytest
import torch
from PIL import Image

W = pytest.importorskip("ipywidgets")

from bpartis_nb.cluster import ClusterParams  # noqa: E402
from bpartis_nb.dashboard import MAX_UPLOAD_MB, Dashboard, upload_files  # noqa: E402
from bpartis_nb.examples import synthetic_micrograph  # noqa: E402
from bpartis_nb.inference import to_network_input  # noqa: E402


@pytest.fixture(scope="module")
def small_example():
    return synthetic_micrograph(size=96, n_particles=4, radius=(8, 12)).image


@pytest.fixture()
def app(tiny_model, small_example):
    with torch.inference_mode():
        seed = torch.sigmoid(tiny_model(to_network_input(small_example, 64))[0, 4]).numpy()
    params = ClusterParams(seed_threshold=float(np.quantile(seed, 0.3)), score_threshold=0.95, min_pixels=8)
    d = Dashboard(model=tiny_model, examples={"small": lambda: small_example}, network_size=64, cluster_params=params)
    d.controls.samples.value = 3
    d.controls.tu.value = 0.1
    return d


NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


def png_bytes(array):
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def test_defaults_and_run_on_example_fills_every_output(app):
    assert Dashboard(model=app.model).controls.tu.value == 0.0125
    assert all(w.layout.display == "none" for w in app.results.images)  # nothing shown before a run
    app._on_run()
    assert all(w.layout.display != "none" for w in app.results.images)
    assert app.result is not None and "bp-error" not in app.message.value
    r = app.results
    for w in (r.overlay, r.uncertainty, r.size_hist, r.aspect_hist, r.rdf):
        assert bytes(w.value).startswith(b"\x89PNG")
    assert f'class="bp-count">{len(app.table)}<' in r.summary.value
    assert "bp-download" in r.downloads.value and "text/csv" in r.downloads.value
    assert app.controls.progress.value == app.controls.progress.max == 3
    assert not app.controls.run.disabled


def test_threshold_refilters_without_rerun(app, monkeypatch):
    app.controls.exclude_border.value = False
    app._on_run()
    mi = np.sort(app.result.instances["mean_mi"].to_numpy())
    assert len(mi) >= 2
    import bpartis_nb.dashboard as dash

    monkeypatch.setattr(dash, "segment", lambda *a, **k: pytest.fail("the network must not run again"))
    counts = []
    # the random tiny model is far more certain than the real one: a finer slider
    app.controls.tu.min, app.controls.tu.step = 1e-7, 1e-8
    for value in (float(mi[-1]) * 2, float(np.median(mi)), float(mi[0]) / 2):
        app.controls.tu.value = value
        tu = app.controls.tu.value  # the log slider rounds to its step
        expected = int((mi < tu).sum())
        assert app.result.count == expected and app.result.tu == tu
        assert f'class="bp-count">{len(app.table)}<' in app.results.summary.value
        counts.append(expected)
    assert counts[0] > counts[-1]


def test_upload_v8_and_v7_values(app, small_example):
    data = png_bytes(small_example)
    v8 = ({"name": "a.png", "type": "image/png", "size": len(data), "content": memoryview(data)},)
    v7 = {"a.png": {"metadata": {"name": "a.png", "size": len(data)}, "content": data}}
    for value in (v8, v7):
        files = upload_files(value)
        assert files[0]["name"] == "a.png" and files[0]["content"] == data
    assert upload_files(()) == [] and upload_files({}) == []


def test_bad_upload_shows_error_and_keeps_result(app):
    app._on_run()
    before = app.result
    app.inputs.upload.value = ({"name": "fake.png", "type": "image/png", "size": 11, "content": memoryview(b"not a png!!"), "last_modified": NOW},)
    app._on_run()
    assert "bp-error" in app.message.value and "not an image" in app.message.value
    assert app.result is before  # earlier results are not lost
    assert not app.controls.run.disabled


def test_too_large_upload(app):
    big = MAX_UPLOAD_MB * 2**20 + 1
    app.inputs.upload.value = ({"name": "big.tif", "type": "image/tiff", "size": big, "content": memoryview(b"0"), "last_modified": NOW},)
    app._on_run()
    assert "limit" in app.message.value


def test_scale_changes_units(app):
    app._on_run()
    app.controls.scale.value = 2.0
    assert "diameter_nm" in app.table.columns
    app.controls.bar_px.value, app.controls.bar_value.value = 100.0, 50.0
    assert app.controls.scale_argument() == (100.0, 50.0, "nm")


def test_table_sorts(app):
    app.controls.exclude_border.value = False
    app._on_run()
    col = [c for c in app.table.columns if c.startswith("diameter_")][0]
    app.results.sort_by.value = col
    app.results.descending.value = True
    html = app.results.table.value
    values = sorted(app.table[col].round(3), reverse=True)
    positions = [html.index(f"<td>{v:g}</td>") if f"<td>{v:g}</td>" in html else None for v in values[:2]]
    assert None not in positions and positions[0] < positions[1]


def test_upload_reads_the_scale_shows_it_and_lets_the_user_correct_it(app):
    from bpartis_nb.calibration.ocr import ocr_available
    from bpartis_nb.calibration.renderings import render_annotated

    if not ocr_available():
        pytest.skip('the OCR extra is missing: pip install "bpartis-nb[scalebar]"')
    r = render_annotated(5, strip="fei", bar="labelled", jpeg=None, resample=None)
    data = png_bytes(r.image)
    app.inputs.upload.value = ({"name": "sem.png", "type": "image/png", "size": len(data),
                                "content": memoryview(data), "last_modified": NOW},)
    app._on_run()
    assert app.result.calibration.source == "scale_bar"
    assert app.controls.scale.value == pytest.approx(r.nm_per_px, rel=0.02)
    assert "from the scale bar" in app.controls.calibration.value and "correct" in app.controls.calibration.value
    assert "diameter_nm" in app.table.columns and "on annotations" in app.results.summary.value
    found = app.table["area_nm2"].to_numpy()
    app.controls.scale.value = 2 * app.controls.scale.value  # the user corrects it: lengths follow
    assert np.allclose(app.table["area_nm2"].to_numpy(), 4 * found)


def test_tiff_metadata_scale_in_the_dashboard(app, small_example, tmp_path):
    import tifffile

    path = tmp_path / "imagej.tif"
    tifffile.imwrite(path, small_example, imagej=True, resolution=(1 / 2.5, 1 / 2.5), metadata={"unit": "nm"})
    data = path.read_bytes()
    app.inputs.upload.value = ({"name": "imagej.tif", "type": "image/tiff", "size": len(data),
                                "content": memoryview(data), "last_modified": NOW},)
    app._on_run()
    assert app.result.calibration.source == "metadata" and app.controls.scale.value == pytest.approx(2.5)
    app.inputs.upload.value = ()
    app._on_run()  # the next image has no scale: the last one's is not carried over
    assert app.controls.scale.value == 0 and "none found" in app.controls.calibration.value
