"""Particle measurements from an instance map, in pixels or physical units."""
from __future__ import annotations

from typing import Optional, Sequence, Union

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from skimage.measure import regionprops_table

__all__ = ["measure", "pixel_size_from_scalebar"]

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


def measure(
    labels: NDArray[np.integer],
    scale: Optional[Scale] = None,
    unit: str = "nm",
    image: Optional[NDArray] = None,
    uncertainty: Optional[NDArray[np.floating]] = None,
    exclude_border: bool = True,
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

    Returns
    -------
    pandas.DataFrame
        Columns ``id``, ``centroid_row_px``, ``centroid_col_px``, ``centroid_y_<u>``,
        ``centroid_x_<u>``, ``area_px``, ``area_<u>2`` (these three only with a scale), ``diameter_<u>`` (equivalent
        circle), ``major_axis_<u>``, ``minor_axis_<u>``, ``aspect_ratio``
        (major/minor), ``perimeter_<u>``, ``circularity`` (4 pi area / perimeter^2),
        ``feret_<u>`` (maximum Feret diameter), ``orientation_deg``, optional
        ``mean_intensity``, ``mean_uncertainty``, and ``touches_border``.

    Examples
    --------
    >>> lab = np.zeros((50, 50), int); lab[10:20, 10:30] = 1
    >>> t = measure(lab, scale=2.0)
    >>> float(t.loc[0, "area_nm2"]), float(t.loc[0, "aspect_ratio"].round(1))
    (800.0, 2.0)
    """
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"labels must be a 2-D instance map, got shape {labels.shape}")
    if isinstance(scale, (tuple, list)):
        if len(scale) != 3:
            raise ValueError("a scale bar is given as (length_px, value, unit)")
        pixel, unit = pixel_size_from_scalebar(*scale)
    elif scale is None:
        pixel, unit = 1.0, "px"
    else:
        pixel = float(scale)
        if not pixel > 0:
            raise ValueError(f"scale (size of one pixel) must be positive, got {scale}")
    u = unit
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


def _mean_by_label(labels: NDArray, values: NDArray, ids: NDArray) -> NDArray[np.float64]:
    flat = labels.ravel().astype(np.intp)
    sums = np.bincount(flat, weights=np.asarray(values, np.float64).ravel(), minlength=int(flat.max(initial=0)) + 1)
    counts = np.bincount(flat, minlength=len(sums))
    return sums[ids] / np.maximum(counts[ids], 1)
