"""The built-in example, particle measurements and the overlay picture."""
import numpy as np
import pytest
from PIL import Image

from bpartis_nb.analysis import cosine_distance, histogram, histogram_edges, measure, pixel_size_from_scalebar, summarize
from bpartis_nb.examples import synthetic_micrograph
from bpartis_nb.pipeline import segment
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


# ----------------------------------------------------------------- geometry with known truth
def _ellipse(shape, cy, cx, a, b, theta=0.0):
    rr, cc = np.mgrid[0 : shape[0], 0 : shape[1]].astype(float)
    y, x = rr - cy, cc - cx
    u = x * np.cos(theta) + y * np.sin(theta)
    v = -x * np.sin(theta) + y * np.cos(theta)
    return (u / a) ** 2 + (v / b) ** 2 <= 1


def test_discs_and_ellipses_match_truth_within_rasterisation():
    shape = (300, 300)
    lab = np.zeros(shape, np.int32)
    truth = {}
    for k, (cy, cx, a, b, th) in enumerate(
        [(60, 60, 20, 20, 0), (60, 160, 30, 15, 0.3), (160, 80, 24, 8, 1.0), (200, 200, 12, 12, 0), (150, 295, 10, 10, 0)], 1
    ):
        lab[_ellipse(shape, cy, cx, a, b, th)] = k
        truth[k] = (2 * np.sqrt(a * b), a / b)
    t = measure(lab, scale=0.25, unit="nm", exclude_border=False).set_index("id")
    for k in (1, 2, 3, 4):
        d, ar = truth[k]
        assert t.loc[k, "diameter_nm"] == pytest.approx(d * 0.25, rel=0.03)
        assert t.loc[k, "aspect_ratio"] == pytest.approx(ar, rel=0.05)
        assert t.loc[k, "major_axis_nm"] / t.loc[k, "minor_axis_nm"] == pytest.approx(t.loc[k, "aspect_ratio"])
        assert not t.loc[k, "touches_border"]
    assert t.loc[5, "touches_border"]
    assert 5 not in measure(lab, scale=0.25, unit="nm")["id"].tolist()
    # units: areas scale with the square of the pixel size
    px = measure(lab, exclude_border=False).set_index("id")
    assert np.allclose(t["area_nm2"], px["area_px"] * 0.0625)


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.full((8, 8), 0.5), "integer"),
        (-np.ones((8, 8), np.int32), "negative"),
        (np.zeros((8, 8), bool), "boolean"),
        (np.zeros((2, 8, 8), np.int32), "2-D"),
    ],
)
def test_malformed_label_maps_are_clear_errors(bad, message):
    with pytest.raises(ValueError, match=message):
        measure(bad)


def test_empty_and_single_pixel_give_well_formed_tables():
    empty = measure(np.zeros((20, 20), np.int32), scale=1.0)
    single = np.zeros((20, 20), np.int32)
    single[10, 10] = 4
    one = measure(single, scale=1.0)
    assert len(empty) == 0 and list(empty.columns) == list(one.columns)
    assert one.loc[0, "id"] == 4 and np.isnan(one.loc[0, "aspect_ratio"])
    s = summarize(empty)
    assert s["count"] == 0 and np.isnan(s["diameter"]["mean"])
    # integral floats are accepted as ids
    assert len(measure(single.astype(float), scale=1.0)) == 1


def test_summary_histograms_and_cosine():
    lab = np.zeros((200, 200), np.int32)
    rr, cc = np.mgrid[0:200, 0:200]
    for k, (cy, cx, r) in enumerate([(40, 40, 10), (40, 120, 10), (120, 40, 20), (120, 120, 20)], 1):
        lab[(rr - cy) ** 2 + (cc - cx) ** 2 <= r * r] = k
    t = measure(lab, scale=1.0)
    s = summarize(t)
    assert s["count"] == 4
    assert s["diameter"]["median"] == pytest.approx(30, rel=0.03)
    assert s["polydispersity_index"] == pytest.approx((np.std([20, 20, 40, 40], ddof=1) / 30) ** 2, rel=0.05)
    edges = histogram_edges(t["diameter_nm"], bins=4)
    assert edges[0] == 0 and edges[-1] == pytest.approx(t["diameter_nm"].max())
    h = histogram(t["diameter_nm"], edges)
    assert h.sum() == 4 and h[-1] == 2
    assert np.array_equal(histogram_edges([1, 2], [3], bins=2), histogram_edges([3], [1, 2], bins=2))
    assert cosine_distance([1, 1], [1, 1]) == pytest.approx(0, abs=1e-12)
    assert cosine_distance([1, 0], [0, 1]) == 1
    assert np.isnan(cosine_distance([0, 0], [1, 1]))


def test_plots_return_figures(tmp_path):
    from bpartis_nb.rdf import radial_distribution
    from bpartis_nb.viz import plot_aspect_histogram, plot_rdf, plot_size_histogram, save_figure

    ex = synthetic_micrograph(size=200, n_particles=10, radius=(8, 14))
    t = measure(ex.labels, scale=ex.pixel_size)
    fig, ax = plot_size_histogram(t, reference=t)
    assert "nm" in ax.get_xlabel()
    fig2, ax2 = plot_aspect_histogram(t)
    r, g = radial_distribution(t[["centroid_y_nm", "centroid_x_nm"]].to_numpy(), (400, 400), r_max=80, n_bins=8)
    fig3, ax3 = plot_rdf(r, g, unit="nm")
    assert len(ax3.lines) == 2  # curve and g = 1
    path = save_figure(fig, tmp_path / "h.png")
    assert Image.open(path).format == "PNG"
