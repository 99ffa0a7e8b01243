"""The built-in example, particle measurements and the overlay picture."""
import numpy as np
import pytest
from PIL import Image

from bpartis_nb.analysis import measure, pixel_size_from_scalebar
from bpartis_nb.examples import synthetic_micrograph
from bpartis_nb.inference import segment
from bpartis_nb.viz import FILTERED_COLOUR, overlay, save_overlay


def test_example_is_deterministic_and_consistent():
    a, b = synthetic_micrograph(size=160, n_particles=8, radius=(8, 14)), synthetic_micrograph(size=160, n_particles=8, radius=(8, 14))
    assert np.array_equal(a.image, b.image) and np.array_equal(a.labels, b.labels)
    assert a.labels.max() == 8
    # particles are brighter than the substrate
    grey = a.image[:, :, 0].astype(float)
    assert grey[a.labels > 0].mean() > grey[a.labels == 0].mean() + 60
    assert not np.array_equal(a.image, synthetic_micrograph(size=160, n_particles=8, radius=(8, 14), seed=1).image)


def test_measure_known_rectangle_and_disc():
    lab = np.zeros((100, 100), np.int32)
    lab[10:20, 10:40] = 1                          # 10 x 30 rectangle
    rr, cc = np.mgrid[0:100, 0:100]
    lab[(rr - 60) ** 2 + (cc - 60) ** 2 <= 15 ** 2] = 2
    lab[0:5, 90:100] = 3                           # touches the border
    t = measure(lab, scale=0.5, unit="nm", exclude_border=False)
    assert list(t["id"]) == [1, 2, 3]
    r = t.set_index("id")
    assert r.loc[1, "area_px"] == 300 and r.loc[1, "area_nm2"] == pytest.approx(75.0)
    assert r.loc[1, "aspect_ratio"] == pytest.approx(3.0, rel=0.02)
    assert r.loc[2, "diameter_nm"] == pytest.approx(15.0, rel=0.02)   # 30 px disc at 0.5 nm/px
    assert r.loc[2, "circularity"] == pytest.approx(1.0, abs=0.12)
    assert r.loc[2, "centroid_y_nm"] == pytest.approx(30.0)
    assert r.loc[3, "touches_border"] and not r.loc[1, "touches_border"]
    assert list(measure(lab, scale=0.5)["id"]) == [1, 2]
    # scale bar: 100 px = 50 nm is the same scale
    bar = measure(lab, scale=(100, 50, "nm"))
    assert bar["diameter_nm"].tolist() == pytest.approx(measure(lab, scale=0.5)["diameter_nm"].tolist())
    px = measure(lab)
    assert "diameter_px" in px and "area_px2" not in px


def test_measure_errors_and_extras():
    lab = np.zeros((20, 20), np.int32)
    lab[5:10, 5:10] = 1
    img = np.full((20, 20), 7.0)
    unc = np.full((20, 20), 0.01)
    t = measure(lab, image=img, uncertainty=unc)
    assert t.loc[0, "mean_intensity"] == 7.0 and t.loc[0, "mean_uncertainty"] == pytest.approx(0.01)
    with pytest.raises(ValueError, match="positive"):
        measure(lab, scale=0)
    with pytest.raises(ValueError, match="shape"):
        measure(lab, image=img[:5])
    with pytest.raises(ValueError):
        pixel_size_from_scalebar(0, 10)


def test_overlay_marks_kept_and_filtered(tiny_model, tmp_path):
    ex = synthetic_micrograph(size=96, n_particles=4, radius=(8, 12))
    from bpartis_nb.cluster import ClusterParams

    result = segment(ex.image, samples=3, model=tiny_model, seed=0, network_size=64,
                     cluster_params=ClusterParams(seed_threshold=0.45, min_pixels=4, score_threshold=0.9))
    mi = result.instances["mean_mi"].dropna()
    if len(mi) >= 2:
        result = result.with_threshold(float(np.median(mi)) + 1e-12)
    pic = overlay(result, ex.image)
    assert pic.shape == (96, 96, 3) and pic.dtype == np.uint8
    dropped = (result.labels == 0) & (result.labels_unfiltered > 0)
    if dropped.any():
        assert np.any(np.all(pic[dropped] == FILTERED_COLOUR, axis=1))
    background = result.labels_unfiltered == 0
    assert np.all(pic[background][:, 0] == pic[background][:, 1])  # background stays grey
    path = save_overlay(tmp_path / "o.png", result, ex.image)
    assert Image.open(path).size == (96, 96)
