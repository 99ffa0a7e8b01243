"""Shape classes of rasterised known shapes (clean and noisy), irregular blobs, confidences,
known feature values, and the shape columns of measure() and summarize()."""
import time

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage
from skimage.draw import polygon as draw_polygon

from bpartis_nb.analysis import measure, summarize
from bpartis_nb.shape import FEATURES, SHAPES, classify_features, classify_shapes, shape_features

SIZES = (8, 15, 30, 60)  # circumradius (half the longest extent) in px
ROTATIONS = np.radians([0, 18, 36, 54, 72, 90])
# (drawn outline, expected class, aspect ratios used in turn over the rotations)
CASES = [
    ("circle", "circle", (1.0,)),
    ("ellipse", "ellipse", (1.5, 2.2, 3.0)),
    ("capsule", "rod", (3.0, 3.5, 4.0)),      # rounded ends
    ("bar", "rod", (3.0, 3.5, 4.0)),          # sharp rectangle, parallel sides
    ("triangle", "triangle", (1.0,)),
    ("square", "square", (1.0,)),
    ("bar", "rectangle", (1.5, 1.75, 2.0)),
    ("hexagon", "hexagon", (1.0,)),
]


def outline(kind, radius, aspect=1.0, n=720):
    """Dense outline (n, 2) of a shape centred at 0 with half its longest extent = radius."""
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    if kind in ("circle", "ellipse"):
        return np.stack([radius * np.cos(t), radius / aspect * np.sin(t)], axis=1)
    if kind in ("triangle", "square", "hexagon"):
        k = {"triangle": 3, "square": 4, "hexagon": 6}[kind]
        a = 2 * np.pi * np.arange(k) / k
        return _dense(radius * np.stack([np.cos(a), np.sin(a)], axis=1), n)
    if kind == "bar":  # rectangle with half-diagonal radius and sides in ratio aspect
        a = np.arctan(1 / aspect)
        return _dense(radius * np.array([[np.cos(a), np.sin(a)], [-np.cos(a), np.sin(a)],
                                         [-np.cos(a), -np.sin(a)], [np.cos(a), -np.sin(a)]]), n)
    if kind == "capsule":  # stadium: half-length radius, half-width radius / aspect
        w = radius / aspect
        s = np.linspace(-1, 1, n // 4, endpoint=False)
        arc = np.linspace(-np.pi / 2, np.pi / 2, n // 4, endpoint=False)
        straight = radius - w
        return np.concatenate([
            np.stack([straight * s, -w + 0 * s], axis=1),
            np.stack([straight + w * np.cos(arc), w * np.sin(arc)], axis=1),
            np.stack([-straight * s, w + 0 * s], axis=1),
            np.stack([-straight - w * np.cos(arc), -w * np.sin(arc)], axis=1)])
    raise ValueError(kind)


def _dense(vertices, n):
    k = len(vertices)
    s = np.linspace(0, 1, n // k, endpoint=False)[:, None]
    return np.concatenate([vertices[i] + s * (vertices[(i + 1) % k] - vertices[i]) for i in range(k)])


def rotate(points, angle):
    c, s = np.cos(angle), np.sin(angle)
    return points @ np.array([[c, s], [-s, c]])


def radial_noise(points, rng, rms):
    """Multiply each point's distance from the centre by 1 + f(angle), f smooth (harmonics 2-12,
    amplitudes ~ 1/k, random phases), scaled to the given RMS."""
    angle = np.arctan2(points[:, 1], points[:, 0])
    k = np.arange(2, 13)
    amplitude, phase = rng.normal(size=len(k)) / k, rng.uniform(0, 2 * np.pi, len(k))
    f = (amplitude[:, None] * np.cos(k[:, None] * angle + phase[:, None])).sum(axis=0)
    return points * (1 + f * rms / np.sqrt(np.mean(f**2)))[:, None]


def flip_boundary(mask, rng, fraction):
    """Flip a random fraction of the pixels on either side of the boundary; keep the largest piece."""
    ring = (mask & ~ndimage.binary_erosion(mask)) | (ndimage.binary_dilation(mask) & ~mask)
    out = mask ^ (ring & (rng.random(mask.shape) < fraction))
    pieces, n = ndimage.label(out)
    return pieces == 1 + np.argmax(ndimage.sum(out, pieces, range(1, n + 1))) if n > 1 else out


def raster(points, rng, size):
    """Mask (size, size) of a polygon, centred with a random sub-pixel offset."""
    centre = size / 2 + rng.uniform(-0.5, 0.5, 2)
    mask = np.zeros((size, size), bool)
    mask[draw_polygon(points[:, 0] + centre[0], points[:, 1] + centre[1], shape=mask.shape)] = True
    return mask


def tile(masks):
    """One instance map holding the masks side by side, ids 1, 2, ... in order."""
    size = max(m.shape[0] for m in masks)
    cols = 12
    labels = np.zeros((size * (len(masks) // cols + 1), size * cols), np.int32)
    for i, m in enumerate(masks):
        r, c = divmod(i, cols)
        labels[r * size:r * size + m.shape[0], c * size:c * size + m.shape[1]][m] = i + 1
    return labels


def known_shapes(radius, seed, noise=0.0, flips=0.0):
    """Masks and expected classes of every case at every rotation, at one size."""
    rng = np.random.default_rng(seed)
    size = int(2 * radius * (1 + 2 * noise) + 12)
    masks, truth = [], []
    for kind, expected, aspects in CASES:
        for i, angle in enumerate(ROTATIONS):
            points = rotate(outline(kind, radius, aspects[i % len(aspects)]), angle)
            if noise:
                points = radial_noise(points, rng, noise)
            mask = raster(points, rng, size)
            masks.append(flip_boundary(mask, rng, flips) if flips else mask)
            truth.append(expected)
    return masks, truth


def classify_known(radius, seed, noise=0.0, flips=0.0):
    masks, truth = known_shapes(radius, seed, noise, flips)
    table = classify_shapes(tile(masks))
    assert table["id"].tolist() == list(range(1, len(masks) + 1))
    return table.assign(truth=truth)


def wrong(table):
    return table[table["shape"] != table["truth"]]


# Measured with these seeds, at 8 px: clean 3/48 wrong (hexagons read as circles: their
# corners are 1 px from the circle), 2 % RMS radial noise 2/48 (the same), 10 % of the
# boundary pixels flipped 7/48 (hexagons <-> circles, an ellipse 2.7 px wide); none
# from 15 px (over 4 other seeds: 95 %, 96 %, 92 % right at 8 px,
# 100 %, 99.5 %, 100 % at 15 px).
@pytest.mark.parametrize("condition, noise, flips, allowed_at_8", [
    ("clean", 0.0, 0.0, 5),
    ("smooth radial noise 2% RMS", 0.02, 0.0, 5),
    ("10% boundary pixels flipped", 0.0, 0.10, 10),
])
def test_known_shapes_come_back_with_their_class(condition, noise, flips, allowed_at_8):
    for radius in SIZES:
        table = classify_known(radius, seed=radius, noise=noise, flips=flips)
        bad = wrong(table)
        summary = bad[["truth", "shape", "shape_confidence"]].to_string()
        if radius == 8:
            assert len(bad) <= allowed_at_8, f"{condition}, {radius} px:\n{summary}"
        else:
            assert len(bad) == 0, f"{condition}, {radius} px:\n{summary}"


def test_wrong_answers_carry_lower_confidence():
    conditions = [(seed, noise, flips) for seed in (1, 4, 7) for noise, flips in [(0, 0), (0.02, 0), (0, 0.1)]]
    small = pd.concat([classify_known(8, seed=s + k, noise=n, flips=f) for k, (s, n, f) in enumerate(conditions)])
    bad, good = wrong(small), small[small["shape"] == small["truth"]]
    assert len(bad) > 0  # the smallest size is hard: otherwise this test shows nothing
    # measured: 18 wrong of 432, mean confidence 0.22; right ones 0.45
    assert bad["shape_confidence"].mean() < min(0.4, good["shape_confidence"].mean() - 0.1)
    large = classify_known(30, seed=1)
    assert large["shape_confidence"].mean() > 0.9 > good["shape_confidence"].mean()


def star(radius, rng, n=720):
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    k, depth = rng.integers(4, 8), rng.uniform(0.25, 0.45)
    r = radius * (1 + depth * np.cos(k * t + rng.uniform(0, 2 * np.pi))) / (1 + depth)
    return np.stack([r * np.cos(t), r * np.sin(t)], axis=1)


def disc_chain(radius, rng):
    """Three to five discs of radius 0.35-0.6 R, each centred 1.1 radii from the last, turning at random."""
    size = int(4 * radius + 12)
    rr, cc = np.mgrid[:size, :size]
    mask = np.zeros((size, size), bool)
    centre, heading = np.array([size / 2, size / 2]), rng.uniform(0, 2 * np.pi)
    for _ in range(rng.integers(3, 6)):
        r = rng.uniform(0.35, 0.6) * radius
        mask |= (rr - centre[0]) ** 2 + (cc - centre[1]) ** 2 <= r * r
        heading += rng.uniform(-1.5, 1.5)
        centre = centre + 1.1 * r * np.array([np.cos(heading), np.sin(heading)])
    return mask


def test_stars_and_disc_chains_are_irregular():
    rng = np.random.default_rng(7)
    for radius in SIZES:
        masks = [raster(star(radius, rng), rng, int(2 * radius + 12)) for _ in range(10)]
        masks += [disc_chain(radius, rng) for _ in range(10)]
        table = classify_shapes(tile(masks))
        bad = table[table["shape"] != "irregular"]
        # measured: none wrong; at 8 px a chain of 3-5 px discs can be a mere lump
        assert len(bad) <= (2 if radius == 8 else 0), f"{radius} px:\n{bad.to_string()}"


def one(kind, radius, aspect=1.0, angle=0.3, seed=0):
    rng = np.random.default_rng(seed)
    mask = raster(rotate(outline(kind, radius, aspect), angle), rng, int(2 * radius + 12))
    return classify_shapes(tile([mask])).iloc[0]


def test_confidence_is_low_at_a_class_boundary_and_high_for_clear_cases():
    # bars (aspect ratio from moments = side ratio): rectangle below 2.5, rod above
    short, boundary, long = (one("bar", 40, a) for a in (1.8, 2.5, 3.6))
    assert short["shape"] == "rectangle" and long["shape"] == "rod"
    assert boundary["shape_confidence"] < 0.3 < 0.8 < min(short["shape_confidence"], long["shape_confidence"])
    # ellipses: circle below aspect 1.2, ellipse above
    round_, boundary, oval = (one("ellipse", 40, a) for a in (1.0, 1.2, 1.6))
    assert round_["shape"] == "circle" and oval["shape"] == "ellipse"
    assert boundary["shape_confidence"] < 0.3 < 0.8 < min(round_["shape_confidence"], oval["shape_confidence"])


def test_tiny_particles_keep_their_best_guess_with_low_confidence():
    rng = np.random.default_rng(3)
    masks = [raster(outline("circle", r), rng, 16) for r in (3.0, 3.5, 4.0, 4.3)]
    table = classify_shapes(tile(masks))
    assert (table["area_px"] < 60).all()
    assert (table["shape"] == "circle").all()
    assert (table["shape_confidence"] <= 0.27).all()
    assert (one("circle", 20)["shape_confidence"] == 1.0)


def test_features_of_large_shapes_match_their_ideal_values():
    expected = {  # circularity, rectangularity, n_vertices (None: a smooth outline)
        "circle": (1.0, np.pi / 4, None),
        "square": (np.pi / 4, 1.0, 4),
        "triangle": (np.pi * np.sqrt(3) / 9, 0.5, 3),
        "hexagon": (np.pi * np.sqrt(3) / 6, 0.75, 6),
    }
    for kind, (circularity, rectangularity, vertices) in expected.items():
        row = one(kind, 80, angle=0.4)
        assert row["shape"] == kind
        # the outline rounds corners by ~1.5 px, so polygons come out slightly rounder
        assert circularity - 0.005 < row["circularity"] < circularity + 0.025, kind
        assert rectangularity - 0.01 < row["rectangularity"] < rectangularity + 0.02, kind
        assert row["solidity"] > 0.98 and row["aspect_ratio"] == pytest.approx(1.0, abs=0.02)
        if vertices:
            assert row["n_vertices"] == vertices and row["corner_angle_dev_deg"] < 5, kind
    bar = one("bar", 80, aspect=3.0, angle=0.4)
    assert bar["aspect_ratio"] == pytest.approx(3.0, rel=0.03)
    assert bar["rect_aspect_ratio"] == pytest.approx(3.0, rel=0.03)
    assert one("ellipse", 80, aspect=2.0)["ellipse_residual"] < 0.01 < 0.03 < one("hexagon", 80)["ellipse_residual"]


def test_perimeter_is_unbiased_on_small_digital_discs():
    rng = np.random.default_rng(11)
    radii = (4, 6, 10, 20, 40, 100)
    table = classify_shapes(tile([raster(outline("circle", r), rng, int(2 * r + 12)) for r in radii]))
    assert table["circularity"].between(0.98, 1.01).all(), table["circularity"].tolist()
    assert table["perimeter_px"].to_numpy() == pytest.approx(2 * np.pi * np.array(radii), rel=0.1)


def test_ids_columns_and_empty_maps():
    labels = np.zeros((40, 40), np.int32)
    labels[5:15, 5:15] = 7
    labels[20:35, 22:30] = 3
    table = classify_shapes(labels)
    assert table["id"].tolist() == [3, 7]
    assert list(table.columns) == ["id", "shape", "shape_confidence", *FEATURES]
    assert set(table["shape"]) <= set(SHAPES)
    assert shape_features(labels)["area_px"].tolist() == [120, 100]
    empty = classify_shapes(np.zeros((8, 8), np.int32))
    assert len(empty) == 0 and list(empty.columns) == list(table.columns)
    assert classify_features(shape_features(labels)).index.tolist() == [0, 1]
    for bad in (np.zeros((4, 4, 2), int), np.zeros((4, 4)), -np.ones((4, 4), int)):
        with pytest.raises(ValueError):
            shape_features(bad)


def test_measure_adds_shape_columns_and_summarize_counts_them():
    rng = np.random.default_rng(5)
    masks = [raster(outline("circle", 20), rng, 52), raster(rotate(outline("square", 20), 0.2), rng, 52),
             raster(outline("circle", 15), rng, 52)]
    labels = np.pad(tile(masks), 5)
    table = measure(labels, scale=0.5)
    columns = list(table.columns)
    after = columns.index("orientation_deg") + 1
    assert columns[after:after + 2] == ["shape", "shape_confidence"]
    assert table["shape"].tolist() == ["circle", "square", "circle"]
    assert table["shape_confidence"].between(0.9, 1.0).all()
    counts = summarize(table)["shapes"]
    assert list(counts) == list(SHAPES)
    assert counts["circle"] == 2 and counts["square"] == 1 and sum(counts.values()) == 3
    plain = measure(labels, scale=0.5, shapes=False)
    assert "shape" not in plain and "shapes" not in summarize(plain)
    assert list(measure(np.zeros((9, 9), np.int32)).columns) == list(measure(labels).columns)


def test_a_thousand_particles_take_well_under_two_seconds():
    rng = np.random.default_rng(2)
    kinds = [("circle", 1.0), ("ellipse", 1.7), ("capsule", 3.5), ("square", 1.0), ("hexagon", 1.0), ("triangle", 1.0)]
    masks = []
    for i in range(1000):
        kind, aspect = kinds[i % len(kinds)]
        masks.append(raster(rotate(outline(kind, 10, aspect), rng.uniform(0, np.pi)), rng, 28))
    labels = tile(masks)
    start = time.process_time()
    table = classify_shapes(labels)
    elapsed = time.process_time() - start
    assert len(table) == 1000
    assert elapsed < 2.0, f"{elapsed:.2f} s of CPU for 1000 particles"
