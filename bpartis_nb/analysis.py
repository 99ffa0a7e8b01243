"""Particle measurements from an instance map, in pixels or physical units."""
from __future__ import annotations

from typing import Optional, Sequence, Union

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from skimage.measure import regionprops_table

from .shape import SHAPES, classify_shapes

__all__ = [
    "measure",
    "pixel_size_from_scalebar",
    "resolve_scale",
    "particle_rdf",
    "summarize",
    "size_column",
    "histogram_edges",
    "histogram",
    "cosine_distance",
]

Scale = Union[float, Sequence]


def pixel_size_from_scalebar(length_px: float, value: float, unit: str = "nm") -> tuple[float, str]:
    """Physical size of one pixel from a scale bar.

    Parameters
    ----------
    length_px : float
        Length of the scale bar in pixels.
    value : float
        What the bar stands for, in ``unit``.
    unit : str

    Returns
    -------
    (pixel_size, unit)

    Examples
    --------
    >>> pixel_size_from_scalebar(200, 100, "nm")
    (0.5, 'nm')
    """
    if not (length_px > 0 and value > 0):
        raise ValueError(f"scale bar length ({length_px} px) and value ({value} {unit}) must be positive")
    return float(value) / float(length_px), unit


def resolve_scale(scale: Optional[Scale], unit: str = "nm") -> tuple[float, str]:
    """Pixel size and unit from a scale argument of :func:`measure`.

    ``None`` gives (1, "px"); a number is the size of one pixel in ``unit``; a tuple
    (length_px, value, unit) is a scale bar.

    Examples
    --------
    >>> resolve_scale(None), resolve_scale(0.5), resolve_scale((100, 50, "um"))
    ((1.0, 'px'), (0.5, 'nm'), (0.5, 'um'))
    """
    if isinstance(scale, (tuple, list)):
        if len(scale) != 3:
            raise ValueError("a scale bar is given as (length_px, value, unit)")
        return pixel_size_from_scalebar(*scale)
    if scale is None:
        return 1.0, "px"
    pixel = float(scale)
    if not pixel > 0:
        raise ValueError(f"scale (size of one pixel) must be positive, got {scale}")
    return pixel, unit


def measure(
    labels: NDArray[np.integer],
    scale: Optional[Scale] = None,
    unit: str = "nm",
    image: Optional[NDArray] = None,
    uncertainty: Optional[NDArray[np.floating]] = None,
    exclude_border: bool = True,
    shapes: bool = True,
) -> pd.DataFrame:
    """One row per particle: position, size and shape, in physical units when a scale is given.

    Parameters
    ----------
    labels : ndarray of shape (M, N), int
        Instance map, 0 = background.
    scale : float or (length_px, value, unit), optional
        Size of one pixel in ``unit``, or a scale bar. Without it lengths are in pixels
        and the column names say ``px``.
    unit : str
        Unit of ``scale`` (ignored when a scale bar tuple carries its own).
    image : ndarray of shape (M, N) or (M, N, C), optional
        Adds ``mean_intensity`` (grey level, channels averaged).
    uncertainty : ndarray of shape (M, N), optional
        Adds ``mean_uncertainty`` (e.g. the mutual-information map).
    exclude_border : bool
        Drop particles touching the image edge (their size is unknown). The
        ``touches_border`` column is always present.
    shapes : bool
        Adds ``shape`` (circle, ellipse, rod, triangle, square, rectangle, hexagon or
        irregular) and ``shape_confidence`` (0..1) from :func:`bpartis_nb.shape.classify_shapes`.

    Returns
    -------
    pandas.DataFrame
        Columns ``id``, ``centroid_row_px``, ``centroid_col_px``, ``centroid_y_<u>``,
        ``centroid_x_<u>``, ``area_px``, ``area_<u>2`` (these three only with a scale), ``diameter_<u>`` (equivalent
        circle), ``major_axis_<u>``, ``minor_axis_<u>``, ``aspect_ratio``
        (major/minor), ``perimeter_<u>``, ``circularity`` (4 pi area / perimeter^2),
        ``feret_<u>`` (maximum Feret diameter), ``orientation_deg``, optional ``shape``
        and ``shape_confidence``, ``mean_intensity``, ``mean_uncertainty``, and
        ``touches_border``.

    Examples
    --------
    >>> lab = np.zeros((50, 50), int); lab[10:20, 10:30] = 1
    >>> t = measure(lab, scale=2.0)
    >>> float(t.loc[0, "area_nm2"]), float(t.loc[0, "aspect_ratio"].round(1))
    (800.0, 2.0)
    """
    labels = _as_label_map(labels)
    pixel, u = resolve_scale(scale, unit)
    props = ["label", "centroid", "area", "equivalent_diameter_area", "axis_major_length",
             "axis_minor_length", "perimeter", "feret_diameter_max", "orientation", "bbox"]
    intensity = None
    if image is not None:
        img = np.asarray(image, dtype=np.float64)
        intensity = img.mean(axis=2) if img.ndim == 3 else img
        if intensity.shape != labels.shape:
            raise ValueError(f"image {intensity.shape} and labels {labels.shape} differ in shape")
    raw = regionprops_table(labels.astype(np.int32), properties=props)
    columns = {
        "id": raw["label"].astype(np.int64),
        "centroid_row_px": raw["centroid-0"],
        "centroid_col_px": raw["centroid-1"],
        f"centroid_y_{u}": raw["centroid-0"] * pixel,
        f"centroid_x_{u}": raw["centroid-1"] * pixel,
        "area_px": raw["area"].astype(np.int64),
        f"area_{u}2": raw["area"] * pixel**2,
        f"diameter_{u}": raw["equivalent_diameter_area"] * pixel,
        f"major_axis_{u}": raw["axis_major_length"] * pixel,
        f"minor_axis_{u}": raw["axis_minor_length"] * pixel,
    }
    if u == "px":  # no scale: pixel columns only, no duplicates under other names
        for key in ("centroid_y_px", "centroid_x_px", "area_px2"):
            del columns[key]
    table = pd.DataFrame(columns)
    minor = raw["axis_minor_length"]
    with np.errstate(divide="ignore", invalid="ignore"):
        table["aspect_ratio"] = np.where(minor > 0, raw["axis_major_length"] / np.where(minor > 0, minor, 1), np.nan)
        perim = raw["perimeter"]
        table[f"perimeter_{u}"] = perim * pixel
        table["circularity"] = np.where(perim > 0, 4 * np.pi * raw["area"] / np.where(perim > 0, perim, 1) ** 2, np.nan)
    table[f"feret_{u}"] = raw["feret_diameter_max"] * pixel
    table["orientation_deg"] = np.degrees(raw["orientation"])
    ids = table["id"].to_numpy()
    if shapes:
        classes = classify_shapes(labels).set_index("id").loc[ids]
        table["shape"] = classes["shape"].to_numpy(object)
        table["shape_confidence"] = classes["shape_confidence"].to_numpy(np.float64)
    if intensity is not None:
        table["mean_intensity"] = _mean_by_label(labels, intensity, ids)
    if uncertainty is not None:
        if np.shape(uncertainty) != labels.shape:
            raise ValueError(f"uncertainty {np.shape(uncertainty)} and labels {labels.shape} differ in shape")
        table["mean_uncertainty"] = _mean_by_label(labels, uncertainty, ids)
    m, n = labels.shape
    table["touches_border"] = (
        (raw["bbox-0"] == 0) | (raw["bbox-1"] == 0) | (raw["bbox-2"] == m) | (raw["bbox-3"] == n)
    )
    if exclude_border:
        table = table[~table["touches_border"]].reset_index(drop=True)
    return table


def _as_label_map(labels: ArrayLike) -> NDArray[np.int32]:
    """Validate an instance map: 2-D, integer ids (integral floats accepted), none negative."""
    a = np.asarray(labels)
    if a.ndim != 2:
        raise ValueError(f"labels must be a 2-D instance map, got shape {a.shape}")
    if a.dtype == bool:
        raise ValueError("labels is a boolean mask, not an instance map: label it first (scipy.ndimage.label)")
    if np.issubdtype(a.dtype, np.floating):
        if not np.all(np.isfinite(a)) or np.any(a != np.round(a)):
            raise ValueError("labels must hold integer instance ids; got fractional or NaN values "
                             "(is this a probability map rather than an instance map?)")
    elif not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"labels must be integers, got dtype {a.dtype}")
    if a.size and a.min() < 0:
        raise ValueError("labels hold negative ids; 0 is background and instances are 1, 2, ...")
    if a.size and a.max() > np.iinfo(np.int32).max:
        raise ValueError("labels hold ids too large for an instance map")
    return a.astype(np.int32)


def _mean_by_label(labels: NDArray, values: NDArray, ids: NDArray) -> NDArray[np.float64]:
    flat = labels.ravel().astype(np.intp)
    sums = np.bincount(flat, weights=np.asarray(values, np.float64).ravel(), minlength=int(flat.max(initial=0)) + 1)
    counts = np.bincount(flat, minlength=len(sums))
    return sums[ids] / np.maximum(counts[ids], 1)


def size_column(table: pd.DataFrame) -> str:
    """The name of the equivalent-diameter column (``diameter_nm``, ``diameter_px``, ...)."""
    names = [c for c in table.columns if c.startswith("diameter_")]
    if len(names) != 1:
        raise ValueError(f"expected one diameter_<unit> column, found {names}; use measure() output")
    return names[0]


def summarize(table: pd.DataFrame) -> dict:
    """Count and distribution statistics of a particle table.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`measure`.

    Returns
    -------
    dict
        ``count``, ``unit``; for ``diameter`` and ``aspect_ratio``: ``mean``, ``median``,
        ``std`` (sample, ddof=1), ``p10``, ``p25``, ``p75``, ``p90``, ``min``, ``max``;
        ``polydispersity_index`` = (std / mean)^2 of the diameter (the squared
        coefficient of variation, the definition used in particle sizing). Statistics are
        NaN when there are too few particles. With a ``shape`` column, ``shapes``: the
        number of particles of each class of :data:`bpartis_nb.shape.SHAPES`, in that
        order, zeros included.

    Examples
    --------
    >>> t = pd.DataFrame({"diameter_nm": [10.0, 10.0, 20.0, 20.0], "aspect_ratio": [1.0, 1.0, 2.0, 2.0]})
    >>> s = summarize(t)
    >>> s["count"], s["diameter"]["mean"], round(s["polydispersity_index"], 4)
    (4, 15.0, 0.1481)
    >>> t["shape"] = ["circle", "circle", "rod", "square"]
    >>> summarize(t)["shapes"]
    {'circle': 2, 'ellipse': 0, 'rod': 1, 'triangle': 0, 'square': 1, 'rectangle': 0, 'hexagon': 0, 'irregular': 0}
    """
    col = size_column(table)
    out: dict = {"count": int(len(table)), "unit": col.removeprefix("diameter_")}
    for key, values in (("diameter", table[col]), ("aspect_ratio", table["aspect_ratio"])):
        v = np.asarray(values, dtype=np.float64)
        v = v[np.isfinite(v)]
        stats = {"mean": np.nan, "median": np.nan, "std": np.nan, "p10": np.nan, "p25": np.nan,
                 "p75": np.nan, "p90": np.nan, "min": np.nan, "max": np.nan}
        if v.size:
            p10, p25, p75, p90 = np.percentile(v, [10, 25, 75, 90])
            stats.update(mean=v.mean(), median=np.median(v), p10=p10, p25=p25, p75=p75, p90=p90,
                         min=v.min(), max=v.max())
            if v.size > 1:
                stats["std"] = v.std(ddof=1)
        out[key] = {k: float(x) for k, x in stats.items()}
    d = out["diameter"]
    out["polydispersity_index"] = float((d["std"] / d["mean"]) ** 2) if d["mean"] > 0 else float("nan")
    if "shape" in table:
        counts = table["shape"].value_counts()
        out["shapes"] = {shape: int(counts.get(shape, 0)) for shape in SHAPES}
    return out


def histogram_edges(*samples: ArrayLike, bins: int = 20, lower: Optional[float] = 0.0) -> NDArray[np.float64]:
    """Shared, reproducible bin edges for comparing several samples.

    ``bins`` equal bins from ``lower`` (default 0; None: the smallest value) to the largest
    value over all samples, so two histograms of the same quantity can be compared bin by
    bin. Degenerate input (no values, one value) gives a unit-wide range.
    """
    values = np.concatenate([np.asarray(s, np.float64).ravel() for s in samples] or [np.zeros(0)])
    values = values[np.isfinite(values)]
    lo = float(values.min()) if (lower is None and values.size) else float(lower or 0.0)
    hi = float(values.max()) if values.size else lo + 1.0
    if hi <= lo:
        hi = lo + 1.0
    return np.linspace(lo, hi, int(bins) + 1)


def histogram(values: ArrayLike, edges: ArrayLike) -> NDArray[np.int64]:
    """Counts of ``values`` in the bins ``edges`` (the last bin includes its right edge)."""
    v = np.asarray(values, np.float64)
    return np.histogram(v[np.isfinite(v)], bins=np.asarray(edges, np.float64))[0]


def cosine_distance(h1: ArrayLike, h2: ArrayLike) -> float:
    """The paper's histogram cosine distance ``1 - h1.h2 / (|h1| |h2|)``.

    0 for proportional histograms, 1 for histograms with no bin in common; NaN when
    either histogram is empty.

    Examples
    --------
    >>> round(cosine_distance([1, 2, 0], [2, 4, 0]), 9), cosine_distance([1, 0], [0, 3])
    (0.0, 1.0)
    """
    a, b = np.asarray(h1, np.float64), np.asarray(h2, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"histograms must share their bins: shapes {a.shape} and {b.shape}")
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return float("nan")
    return float(max(0.0, 1.0 - float(a @ b) / (na * nb)))


def particle_rdf(
    table: pd.DataFrame, image_shape: tuple[int, int], pixel: float = 1.0, n_bins: int = 25
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """g(r) of the particle centroids of a :func:`measure` table, in its units.

    The window is the whole image (``image_shape`` pixels times ``pixel``), r up to a
    quarter of its shorter side (:func:`bpartis_nb.rdf.radial_distribution`).

    Returns
    -------
    r, g : ndarray of shape (n_bins,)
    """
    from .rdf import radial_distribution

    unit = size_column(table).removeprefix("diameter_")
    cols = ["centroid_row_px", "centroid_col_px"] if unit == "px" else [f"centroid_y_{unit}", f"centroid_x_{unit}"]
    height, width = (s * pixel for s in image_shape)
    return radial_distribution(table[cols].to_numpy(), (height, width), n_bins=n_bins)
