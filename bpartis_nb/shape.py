"""Per-particle shape class from interpretable outline geometry.

Each particle's outline is traced in its own bounding-box crop (the 0.5 level of the
mask blurred by 0.8 px), resampled to 128 points evenly spaced along it and smoothed by
1 px along its length, which removes the staircase of pixel edges. Then, for all
particles at once (:func:`shape_features`):

``area_px``
    Pixel count.
``perimeter_px``, ``circularity``
    Length of the outline and 4 pi A / P^2 with A the area it encloses (1 for a disc,
    0.907 for a hexagon, pi/4 for a square, 0.605 for an equilateral triangle). Digital
    discs of radius 4 to 100 px measure 0.99-1.00 (the regionprops perimeter of
    :func:`bpartis_nb.analysis.measure` gives 1.21 to 0.91); sharp corners come out
    rounded by ~1.5 px, so small polygons read rounder (squares of circumradius 15, 30,
    60 px: 0.87, 0.83, 0.80; triangles 0.71, 0.66, 0.63).
``solidity``
    Enclosed area / area of the convex hull of the outline (1 for convex particles).
``aspect_ratio``
    Major / minor axis of the ellipse with the same second moments as the pixels (each
    counted as a unit square).
``rect_aspect_ratio``, ``rectangularity``
    Long / short side of the minimum-area bounding rectangle, and enclosed area /
    rectangle area (1 for rectangles, 0.91-0.95 for capsules of aspect 2.5-5, pi/4 for
    ellipses, 0.75 for hexagons, 0.5 for triangles).
``ellipse_residual``
    Relative RMS deviation of the outline from the moment ellipse (the outline's radius
    in that ellipse's frame, where the ellipse has radius 1): < 0.02 for discs and
    ellipses, 0.04 for hexagons, 0.06-0.12 for capsules, squares and rectangles, 0.2
    for triangles, > 0.05 for lumpy particles.
``n_vertices``, ``corner_angle_dev_deg``
    Corners of a polygon approximation, and the largest deviation of a corner's
    interior angle from the regular polygon's ((n - 2) 180 / n). Every 4th outline
    point is simplified by the cheapest move (cut a vertex off, or extend two edges to
    meet at a sharp corner) while a move changes less than 3 % of the area: the corners
    do not depend on the particle's size, and a rounded corner counts once.

:func:`classify_shapes` applies :data:`RULES` in order; the first whose conditions all
hold gives the class:

==========  ==============================================================================
irregular   solidity < 0.90 (concave: dents, dumbbells, aggregates)
rod         aspect_ratio >= 2.5, rectangularity >= 0.80, ellipse_residual >= 0.035
            (elongated with parallel sides or rounded ends, i.e. not an ellipse)
triangle    rectangularity < 0.70, solidity >= 0.93 and aspect_ratio < 1.6
square      rectangularity >= 0.85 and aspect_ratio < 1.2
rectangle   rectangularity >= 0.85 (aspect ratio 1.2-2.5: from 2.5 it was a rod)
hexagon     n_vertices == 6, ellipse_residual >= 0.027, corner angles within 25 deg of
            120, aspect_ratio < 1.3
circle      aspect_ratio < 1.2 and ellipse_residual < 0.05
ellipse     ellipse_residual < 0.05 (aspect ratio >= 1.2)
irregular   nothing fits (convex but faceted, blunt or lumpy)
==========  ==============================================================================

How the thresholds were chosen: from the ideal values above, then the measured ranges
of rasterised shapes of circumradius 15-60 px at 0-90 deg, clean, with 2 % RMS smooth
radial noise and with 10 % of the boundary pixels flipped (tests/test_shape.py): each
lies between the ranges of the classes it separates, 0.4-3.8 widths (below) from them
(tightest: the solidity of flipped rods 7 px wide, 0.913; the residual of noisy
ellipses 10 px wide, 0.044). Aspect ratio 1.2 (the radius varies by +-10 %) is well
above what segmentation noise gives discs and squares (<= 1.06) and below the 1.44 of
the mildest test ellipses. The rod limit 2.5 is a convention, not a measured gap (EMPS
particles show none): it lies between short capsules (aspect 2, "rectangle") and
typical nanorods (2.7-4 in the EMPS rod images), with 1.3-2.5 widths to both in the
tests.

``shape_confidence`` is 0 on a threshold and grows linearly to 1 one *width* away
(solidity and rectangularity 0.03, aspect ratio 8 % on a log scale, ellipse residual
0.01, or 0.005 for the hexagon test, corner angles 10 deg): it is the smallest such
margin over the conditions of the rule that fired and over the failing conditions of
every rule before it (how close an earlier class came). It is then multiplied by
ln(area / 30) / ln(400 / 30), clipped to [0, 1]: full from 400 px, 0.27 at 60 px.
Particles below about 60 px are too small to have a shape: they keep their best guess,
with that low confidence (<= 0.27).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import ndimage
from skimage.measure import find_contours

__all__ = ["SHAPES", "FEATURES", "RULES", "shape_features", "classify_features", "classify_shapes"]

SHAPES = ("circle", "ellipse", "rod", "triangle", "square", "rectangle", "hexagon", "irregular")

FEATURES = ("area_px", "perimeter_px", "circularity", "solidity", "aspect_ratio", "rect_aspect_ratio",
            "rectangularity", "ellipse_residual", "n_vertices", "corner_angle_dev_deg")

#: Gaussian blur (px) of a particle mask before its outline is traced at level 0.5.
OUTLINE_SIGMA = 0.8
#: Gaussian smoothing (px, along the outline) that removes the marching-squares ripple.
RIPPLE_SIGMA = 1.0
#: A polygon move (cut a vertex, extend to a corner) is made while it changes less than
#: this fraction of the area.
CORNER_AREA = 0.03
#: Crops larger than this (px) are traced at a reduced resolution (see _trace).
TRACE_SIZE = 150
#: Every outline is resampled to OUTLINE_POINTS points evenly spaced along it; its
#: corners are sought among every OUTLINE_POINTS // CORNER_POINTS-th of them.
OUTLINE_POINTS = 128
CORNER_POINTS = 32
#: Directions (evenly spread over 360 deg) along which the hull's vertices are sought.
HULL_DIRECTIONS = 180
#: Particles measured together (memory: CHUNK * OUTLINE_POINTS * HULL_DIRECTIONS floats).
CHUNK = 256
#: Confidence is scaled by ln(area / TINY_AREA) / ln(FULL_AREA / TINY_AREA), clipped to [0, 1].
TINY_AREA = 30.0
FULL_AREA = 400.0

_LOG = -np.log(1.08)  # a negative width: aspect ratios are compared on a log scale, 8 % wide

#: Ordered rules ``(shape, conditions)``; a condition is ``(feature, op, threshold, width)``.
RULES = (
    ("irregular", (("solidity", "<", 0.90, 0.03),)),
    ("rod", (("aspect_ratio", ">=", 2.5, _LOG), ("rectangularity", ">=", 0.80, 0.03),
             ("ellipse_residual", ">=", 0.035, 0.01))),
    ("triangle", (("rectangularity", "<", 0.70, 0.03), ("solidity", ">=", 0.93, 0.03),
                  ("aspect_ratio", "<", 1.6, _LOG))),
    ("square", (("rectangularity", ">=", 0.85, 0.03), ("aspect_ratio", "<", 1.2, _LOG))),
    ("rectangle", (("rectangularity", ">=", 0.85, 0.03),)),
    ("hexagon", (("n_vertices", "==", 6, 0.0), ("ellipse_residual", ">=", 0.027, 0.005),
                 ("corner_angle_dev_deg", "<", 25.0, 10.0), ("aspect_ratio", "<", 1.3, _LOG))),
    ("circle", (("aspect_ratio", "<", 1.2, _LOG), ("ellipse_residual", "<", 0.05, 0.01))),
    ("ellipse", (("ellipse_residual", "<", 0.05, 0.01),)),
    ("irregular", ()),
)


def shape_features(labels: NDArray[np.integer]) -> pd.DataFrame:
    """Interpretable outline geometry of every particle in an instance map.

    Each particle's outline is traced in its own bounding-box crop; the geometry is
    then computed for many particles at once (see the module docstring for the
    features).

    Parameters
    ----------
    labels : ndarray of shape (M, N), int
        Instance map, 0 = background.

    Returns
    -------
    pandas.DataFrame
        One row per particle id (ascending): ``id`` and the :data:`FEATURES`.

    Examples
    --------
    >>> lab = np.zeros((40, 60), int); lab[10:30, 5:25] = 1; lab[15:25, 30:58] = 2
    >>> t = shape_features(lab)
    >>> t[["id", "area_px", "n_vertices"]].values.tolist()
    [[1, 400, 4], [2, 280, 4]]
    >>> [round(float(x), 1) for x in t["aspect_ratio"]], [round(float(x), 2) for x in t["rectangularity"]]
    ([1.0, 2.8], [0.99, 0.98])
    """
    labels = np.asarray(labels)
    if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer) or (labels.size and labels.min() < 0):
        raise ValueError(f"labels must be a 2-D map of non-negative integer ids, got {labels.dtype} {labels.shape}")
    boxes = ndimage.find_objects(labels.astype(np.int32, copy=False))
    ids = np.array([i + 1 for i, box in enumerate(boxes) if box is not None], dtype=np.int64)
    area = np.zeros(len(ids), np.int64)
    moments = np.zeros((len(ids), 3))  # second central moments rr, rc, cc
    outlines = np.zeros((len(ids), OUTLINE_POINTS, 2))
    for j, label in enumerate(ids):
        mask = labels[boxes[label - 1]] == label
        rows, cols = np.nonzero(mask)
        dr, dc = rows - rows.mean(), cols - cols.mean()
        area[j] = len(rows)
        # (not dr @ dr: BLAS may start threads for long vectors, slow on a busy machine)
        moments[j] = (dr * dr).mean() + 1 / 12, (dr * dc).mean(), (dc * dc).mean() + 1 / 12  # pixels are squares
        outlines[j] = _resample(_trace(mask), OUTLINE_POINTS) - (rows.mean(), cols.mean())
    table = pd.DataFrame({"id": ids, "area_px": area})
    parts = [_geometry(outlines[k:k + CHUNK], moments[k:k + CHUNK]) for k in range(0, len(ids), CHUNK)]
    for name in FEATURES[1:]:
        table[name] = np.concatenate([part[name] for part in parts]) if parts else np.zeros(0)
    return table.astype({"n_vertices": np.int64})


def classify_features(features: pd.DataFrame) -> pd.DataFrame:
    """Shape class and confidence of each row of a :func:`shape_features` table, by :data:`RULES`.

    Parameters
    ----------
    features : pandas.DataFrame
        N rows with the :data:`FEATURES` columns.

    Returns
    -------
    pandas.DataFrame
        N rows, same index: ``shape`` (one of :data:`SHAPES`) and ``shape_confidence``
        in [0, 1] (see the module docstring).

    Examples
    --------
    >>> f = pd.DataFrame({"area_px": [900, 900, 900], "solidity": [0.99, 0.99, 0.80],
    ...                   "aspect_ratio": [1.0, 2.5, 1.0], "rectangularity": [0.785, 0.92, 0.6],
    ...                   "ellipse_residual": [0.01, 0.08, 0.2], "n_vertices": [8, 4, 9],
    ...                   "corner_angle_dev_deg": [10.0, 5.0, 60.0]})
    >>> c = classify_features(f)
    >>> c["shape"].tolist(), c["shape_confidence"].round(2).tolist()
    (['circle', 'rod', 'irregular'], [1.0, 0.0, 1.0])
    """
    n = len(features)
    scores = np.full((len(RULES), n), np.inf)
    for r, (_, conditions) in enumerate(RULES):
        for feature, op, threshold, width in conditions:
            values = features[feature].to_numpy(np.float64)
            scores[r] = np.minimum(scores[r], _signed_margin(values, op, threshold, width))
    first = np.argmax(scores >= 0, axis=0)  # the catch-all last rule always holds
    before = np.where(np.arange(len(RULES))[:, None] < first[None, :], -scores, np.inf)
    margin = np.minimum(scores[first, np.arange(n)], before.min(axis=0, initial=np.inf))
    area = features["area_px"].to_numpy(np.float64)
    with np.errstate(divide="ignore"):
        size = np.clip(np.log(area / TINY_AREA) / np.log(FULL_AREA / TINY_AREA), 0.0, 1.0)
    names = np.array([shape for shape, _ in RULES], dtype=object)
    return pd.DataFrame({"shape": names[first], "shape_confidence": np.clip(margin, 0.0, 1.0) * size},
                        index=features.index)


def classify_shapes(labels: NDArray[np.integer]) -> pd.DataFrame:
    """Shape class of every particle in an instance map, with its confidence and geometry.

    Parameters
    ----------
    labels : ndarray of shape (M, N), int
        Instance map, 0 = background.

    Returns
    -------
    pandas.DataFrame
        One row per particle id (ascending): ``id``, ``shape`` (one of :data:`SHAPES`),
        ``shape_confidence`` (0..1), then the :data:`FEATURES` of :func:`shape_features`.

    Examples
    --------
    >>> from skimage.draw import disk, polygon
    >>> lab = np.zeros((80, 160), int)
    >>> lab[disk((40, 40), 25)] = 1
    >>> lab[polygon([15, 15, 65, 65], [80, 150, 150, 80])] = 2
    >>> t = classify_shapes(lab)
    >>> t["shape"].tolist(), t["shape_confidence"].round(2).tolist()
    (['circle', 'rectangle'], [1.0, 1.0])
    """
    features = shape_features(labels)
    return pd.concat([features[["id"]], classify_features(features), features.drop(columns="id")], axis=1)


def _signed_margin(x: NDArray[np.float64], op: str, threshold: float, width: float) -> NDArray[np.float64]:
    """How many widths ``x`` lies on the passing side of ``x op threshold``; negative when it fails.

    ``op`` is ``"<"``, ``">="`` or ``"=="`` (pass: +inf, fail: -inf). A negative
    ``width`` compares on a log scale: ln(x / threshold) / |width|. NaN fails.
    """
    if op == "==":
        out = np.where(x == threshold, np.inf, -np.inf)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            d = np.log(x / threshold) / -width if width < 0 else (x - threshold) / width
        out = d if op == ">=" else -d
    return np.where(np.isnan(x), -np.inf, out)


def _geometry(outlines: NDArray[np.float64], moments: NDArray[np.float64]) -> dict:
    """The :data:`FEATURES` (but ``area_px``) of P particles.

    Parameters
    ----------
    outlines : ndarray of shape (P, K, 2)
        Traced outlines, K points evenly spaced, (row, col) relative to the centroid.
    moments : ndarray of shape (P, 3)
        Second central moments (rr, rc, cc) of the pixels.

    Returns
    -------
    dict of feature name -> ndarray of shape (P,)
    """
    outlines = _orient(outlines)
    traced = _perimeter(outlines)  # smooth by RIPPLE_SIGMA px, but tiny outlines not into a point:
    outlines = _smooth(outlines, np.minimum(RIPPLE_SIGMA, traced / 20) * outlines.shape[1] / traced)
    perimeter = _perimeter(outlines)
    enclosed = _shoelace(outlines)
    vertices, count = _hull(outlines, HULL_DIRECTIONS)
    hull = _polygon_area(vertices, count)
    length, width = _min_area_rect(vertices, count)
    small, large, axes = _principal_axes(moments)
    q = outlines @ axes  # frame of the moment ellipse, semi-axes 2 sqrt(lambda)
    rho = np.hypot(q[..., 0] / np.sqrt(small)[:, None], q[..., 1] / np.sqrt(large)[:, None])
    corners, count = _corners(outlines[:, :: outlines.shape[1] // CORNER_POINTS], CORNER_AREA * enclosed)
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "perimeter_px": perimeter,
            "circularity": 4 * np.pi * enclosed / perimeter**2,
            "solidity": np.minimum(1.0, enclosed / hull),
            "aspect_ratio": np.sqrt(large / small),
            "rect_aspect_ratio": length / width,
            "rectangularity": np.minimum(1.0, enclosed / (length * width)),
            "ellipse_residual": rho.std(axis=1) / rho.mean(axis=1),
            "n_vertices": count,
            "corner_angle_dev_deg": _angle_deviation(corners, count),
        }


def _trace(mask: NDArray[np.bool_]) -> NDArray[np.float64]:
    """Sub-pixel outer boundary of a cropped particle mask of shape (m, n).

    The 0.5 level of the mask blurred by :data:`OUTLINE_SIGMA` (of the mask itself when
    the blur leaves nothing, a particle a pixel or two wide). Masks larger than
    :data:`TRACE_SIZE` are first averaged over f x f blocks, which changes nothing at
    the resolution of :data:`OUTLINE_POINTS` points. Returns an open polygon of shape
    (K, 2), (row, col) in crop coordinates.
    """
    f = max(1, -(-max(mask.shape) // TRACE_SIZE))
    image = mask.astype(np.float64)
    if f > 1:
        image = np.pad(image, ((0, -image.shape[0] % f), (0, -image.shape[1] % f)))
        image = image.reshape(image.shape[0] // f, f, image.shape[1] // f, f).mean(axis=(1, 3))
    pad = 3
    padded = np.pad(image, pad)
    contours = find_contours(ndimage.gaussian_filter(padded, OUTLINE_SIGMA, mode="constant", truncate=3.0), 0.5)
    if not contours:
        contours = find_contours(padded, 0.5)
    longest = contours[0] if len(contours) == 1 else max(contours, key=len)
    return (longest[:-1] - pad) * f + (f - 1) / 2


def _resample(trace: NDArray[np.float64], n: int) -> NDArray[np.float64]:
    """``n`` points evenly spaced along a closed trace of shape (K, 2); returns shape (n, 2)."""
    closed = np.vstack([trace, trace[:1]])
    t = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(closed, axis=0).T))])
    u = np.linspace(0.0, t[-1], n, endpoint=False)
    return np.stack([np.interp(u, t, closed[:, 0]), np.interp(u, t, closed[:, 1])], axis=1)


def _cross(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    """z of the cross products of 2-vectors in the last axis; shape (..., 2) -> (...)."""
    return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]


def _perimeter(polys: NDArray[np.float64]) -> NDArray[np.float64]:
    """Lengths of closed polygons of shape (P, K, 2); shape (P,)."""
    return np.linalg.norm(np.roll(polys, -1, axis=1) - polys, axis=2).sum(axis=1)


def _shoelace(polys: NDArray[np.float64]) -> NDArray[np.float64]:
    """Signed areas of polygons of shape (P, K, 2): positive when they run counter-clockwise in (row, col)."""
    return 0.5 * _cross(polys, np.roll(polys, -1, axis=1)).sum(axis=1)


def _orient(polys: NDArray[np.float64]) -> NDArray[np.float64]:
    """Polygons of shape (P, K, 2), each reversed where needed to have a positive :func:`_shoelace` area."""
    return np.where((_shoelace(polys) < 0)[:, None, None], polys[:, ::-1], polys)


def _smooth(polys: NDArray[np.float64], sigma: NDArray[np.float64]) -> NDArray[np.float64]:
    """Closed polygons of shape (P, K, 2) smoothed along their length by Gaussians of ``sigma`` (P,) samples."""
    spectrum = np.fft.rfft(polys, axis=1)
    frequency = np.fft.rfftfreq(polys.shape[1])
    spectrum *= np.exp(-2 * (np.pi * sigma[:, None] * frequency[None, :]) ** 2)[:, :, None]
    return np.fft.irfft(spectrum, n=polys.shape[1], axis=1)


def _hull(polys: NDArray[np.float64], n: int) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Convex hulls of polygons of shape (P, K, 2): the points that are farthest along some direction.

    ``n`` directions evenly spread over 360 deg are tried; a hull vertex where the hull
    turns by less than 360 / n deg may be missed (its neighbours are then joined).

    Returns
    -------
    vertices : ndarray of shape (P, H, 2)
        Hull p is ``vertices[p, :count[p]]``, in the polygons' order; the rest repeat
        its first vertex.
    count : ndarray of shape (P,)
    """
    theta = 2 * np.pi * np.arange(n) / n
    farthest = np.argmax(np.stack([np.cos(theta), np.sin(theta)], axis=1) @ polys.transpose(0, 2, 1), axis=2)  # (P, n)
    on = np.zeros(polys.shape[:2], bool)
    on[np.arange(len(polys))[:, None], farthest] = True
    count = on.sum(axis=1)
    order = np.argsort(~on, axis=1, kind="stable")[:, : count.max(initial=1)]
    vertices = np.take_along_axis(polys, order[..., None], axis=1)
    col = np.arange(vertices.shape[1])[None, :]
    return np.where((col < count[:, None])[..., None], vertices, vertices[:, :1]), count


def _polygon_area(vertices: NDArray[np.float64], count: NDArray[np.int64]) -> NDArray[np.float64]:
    """Areas of the polygons ``vertices[p, :count[p]]`` of an array of shape (P, H, 2); shape (P,)."""
    col = np.arange(vertices.shape[1])[None, :]
    following = vertices[np.arange(len(vertices))[:, None], (col + 1) % count[:, None]]
    return np.abs(0.5 * np.where(col < count[:, None], _cross(vertices, following), 0.0).sum(axis=1))


def _min_area_rect(vertices: NDArray[np.float64],
                   count: NDArray[np.int64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Sides (long, short) of the minimum-area rectangles around convex polygons (see :func:`_hull`).

    One side of that rectangle lies along an edge of the hull (rotating calipers), so
    every edge direction is tried. Returns two arrays of shape (P,).
    """
    col = np.arange(vertices.shape[1])[None, :]
    edge = vertices[np.arange(len(vertices))[:, None], (col + 1) % count[:, None]] - vertices
    length = np.linalg.norm(edge, axis=2)
    u = np.where((length > 1e-9)[..., None], edge / np.maximum(length, 1e-9)[..., None], [1.0, 0.0])  # (P, H, 2)
    along = u @ vertices.transpose(0, 2, 1)  # (P, edge, vertex)
    across = np.stack([-u[..., 1], u[..., 0]], axis=2) @ vertices.transpose(0, 2, 1)
    a, b = along.max(axis=2) - along.min(axis=2), across.max(axis=2) - across.min(axis=2)
    k = np.argmin(np.where((col < count[:, None]) & (length > 1e-9), a * b, np.inf), axis=1)[:, None]
    a, b = np.take_along_axis(a, k, axis=1)[:, 0], np.take_along_axis(b, k, axis=1)[:, 0]
    return np.maximum(a, b), np.minimum(a, b)


def _principal_axes(m: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Eigen-decomposition of 2 x 2 covariances given as (rr, rc, cc) rows of shape (P, 3).

    Returns the small and large eigenvalues, each of shape (P,), and the eigenvectors
    as columns (small, large) of arrays of shape (P, 2, 2).
    """
    mean, half = (m[:, 0] + m[:, 2]) / 2, np.hypot((m[:, 0] - m[:, 2]) / 2, m[:, 1])
    angle = 0.5 * np.arctan2(2 * m[:, 1], m[:, 0] - m[:, 2])  # direction of the large axis in (row, col)
    c, s = np.cos(angle), np.sin(angle)
    return mean - half, mean + half, np.stack([np.stack([-s, c], axis=1), np.stack([c, s], axis=1)], axis=2)


def _corners(polys: NDArray[np.float64],
             min_area: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Corners of outlines: simplify them by cheapest-first cuts and extensions.

    Two moves are priced by the area they change: *cut* a vertex (the triangle it
    makes with its neighbours, as in Visvalingam-Whyatt), or *extend* an edge,
    replacing its end points by the crossing of the neighbouring edges (the triangle
    between the edge and that crossing; this restores the sharp corner of a rounded
    one). In rounds, every move that costs less than ``min_area`` and less than every
    other move within two vertices of it is made, until none is left.

    Parameters
    ----------
    polys : ndarray of shape (P, V, 2)
        Counter-clockwise polygons, e.g. points evenly spaced along outlines.
    min_area : ndarray of shape (P,)
        Area (px^2) below which a move is made.

    Returns
    -------
    corners : ndarray of shape (P, V, 2)
        The corners of polygon p are ``corners[p, :count[p]]``, in order.
    count : ndarray of shape (P,)
        At least 3.
    """
    pts, count = polys.copy(), np.full(len(polys), polys.shape[1])
    todo = np.arange(len(polys))
    col = np.arange(polys.shape[1])[None, :]
    while len(todo):
        p, n = pts[todo], count[todo][:, None]
        rows = np.arange(len(todo))[:, None]
        a, c, d = p[rows, (col - 1) % n], p[rows, (col + 1) % n], p[rows, (col + 2) % n]
        u, w, g = p - a, c - d, c - p  # extend edge (p, c): p + s u = c + t w with s, t >= 0
        with np.errstate(divide="ignore", invalid="ignore"):
            det = _cross(u, w)
            s, t = _cross(g, w) / det, _cross(g, u) / det
            x = p + s[..., None] * u
            extend = np.where((np.abs(det) > 1e-12) & (s >= 0) & (t >= 0), 0.5 * np.abs(_cross(p - x, c - x)), np.inf)
        cost = np.stack([0.5 * np.abs(_cross(p - a, c - a)), extend], axis=2).reshape(len(todo), -1)
        slot = np.arange(cost.shape[1])[None, :]
        cost = np.where((slot < 2 * n) & (n > 3), cost + 1e-12 * slot, np.inf)  # slot 2j: cut j; 2j + 1: extend j
        lowest = cost.copy()
        for k in range(1, 5):
            lowest = np.minimum(lowest, np.minimum(cost[rows, (slot + k) % (2 * n)], cost[rows, (slot - k) % (2 * n)]))
        move = (cost <= lowest) & (cost < min_area[todo][:, None])
        cut, grow = move[:, 0::2], move[:, 1::2]
        p = np.where(grow[..., None], x, p)
        keep = (col < n) & ~cut
        grown_row, grown_edge = np.nonzero(grow)
        keep[grown_row, (grown_edge + 1) % n[grown_row, 0]] = False  # the far end of an extended edge goes
        order = np.argsort(~keep, axis=1, kind="stable")
        pts[todo] = np.take_along_axis(p, order[..., None], axis=1)
        count[todo] = keep.sum(axis=1)
        todo = todo[move.any(axis=1)]
    return pts, count


def _angle_deviation(corners: NDArray[np.float64], count: NDArray[np.int64]) -> NDArray[np.float64]:
    """Largest |interior angle - (n - 2) 180 / n| (deg) of the polygons ``corners[p, :count[p]]``; shape (P,)."""
    col = np.arange(corners.shape[1])[None, :]
    n = count[:, None]
    rows = np.arange(len(corners))[:, None]
    d = corners[rows, (col + 1) % n] - corners
    heading = np.arctan2(d[..., 1], d[..., 0])
    turn = (heading - heading[rows, (col - 1) % n] + np.pi) % (2 * np.pi) - np.pi
    interior = 180.0 - np.degrees(turn)  # counter-clockwise: turns are positive at convex corners
    return np.where(col < n, np.abs(interior - 180.0 * (n - 2) / n), 0.0).max(axis=1, initial=0.0)
