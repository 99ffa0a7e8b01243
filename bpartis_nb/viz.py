"""Pictures of a segmentation: instance overlays (kept vs filtered out) and uncertainty maps."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import numpy as np
from numpy.typing import NDArray
from PIL import Image
from skimage.segmentation import find_boundaries

from .inference import Segmentation, _rgb, _to_unit_float
from .io import ImageSource, atomic_write, read_image

__all__ = [
    "overlay",
    "save_overlay",
    "instance_colours",
    "plot_overlay",
    "plot_uncertainty",
    "plot_histogram",
    "plot_size_histogram",
    "plot_aspect_histogram",
    "plot_rdf",
    "save_figure",
    "write_report",
]

#: Colour of instances removed by the uncertainty filter.
FILTERED_COLOUR = (230, 30, 30)


def instance_colours(n: int, seed: int = 0) -> NDArray[np.uint8]:
    """``n`` + 1 distinct bright colours (row 0 is black, for the background)."""
    rng = np.random.default_rng(seed)
    hues = (np.arange(n) * 0.618033988749895 + rng.uniform()) % 1.0
    # HSV to RGB with s = 0.65, v = 1, avoiding pure red (reserved for filtered instances)
    hues = 0.08 + hues * 0.84
    k = (np.array([5.0, 3.0, 1.0])[None, :] + hues[:, None] * 6) % 6
    rgb = 1 - 0.65 * np.clip(np.minimum(k, 4 - k), 0, 1)
    out = np.zeros((n + 1, 3), np.uint8)
    out[1:] = np.round(rgb * 255).astype(np.uint8)
    return out


def overlay(result: Segmentation, image: ImageSource, alpha: float = 0.35) -> NDArray[np.uint8]:
    """The micrograph in grey with kept particles filled in colour and outlined, and
    particles removed by the uncertainty filter outlined in red with a light red fill.

    Parameters
    ----------
    result : Segmentation
    image : path or ndarray
        The image that was segmented.
    alpha : float
        Opacity of the fills.

    Returns
    -------
    ndarray of shape (M, N, 3), uint8
    """
    array = read_image(image)
    if array.shape[:2] != result.shape:
        raise ValueError(f"image {array.shape[:2]} and segmentation {result.shape} differ in shape")
    grey = _to_unit_float(_rgb(array)).mean(axis=2)
    canvas = np.repeat(grey[:, :, None], 3, axis=2) * 255.0
    kept = result.labels
    dropped = np.where(result.labels == 0, result.labels_unfiltered, 0)
    colours = instance_colours(int(kept.max(initial=0)))
    fill = kept > 0
    canvas[fill] = (1 - alpha) * canvas[fill] + alpha * colours[kept[fill]]
    red = np.array(FILTERED_COLOUR, np.float64)
    dfill = dropped > 0
    canvas[dfill] = (1 - alpha / 2) * canvas[dfill] + (alpha / 2) * red
    canvas[find_boundaries(kept, mode="inner") & fill] = colours[kept[find_boundaries(kept, mode="inner") & fill]]
    canvas[find_boundaries(dropped, mode="inner") & dfill] = red
    return np.clip(canvas, 0, 255).astype(np.uint8)


def save_overlay(
    path: str | os.PathLike, result: Segmentation, image: ImageSource, alpha: float = 0.35
) -> Path:
    """Write :func:`overlay` as a PNG, atomically. Returns the path."""
    picture = overlay(result, image, alpha)
    return atomic_write(path, lambda p: Image.fromarray(picture).save(p, format="PNG"))


# --------------------------------------------------------------------------- matplotlib plots
def _axes(ax=None, figsize=(5.0, 4.0)):
    """The given axes, or a new figure's (created without pyplot's global state)."""
    if ax is not None:
        return ax.figure, ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def plot_overlay(result: Segmentation, image: ImageSource, ax=None, title: Optional[str] = None):
    """Show :func:`overlay` on an axes. Returns (figure, axes)."""
    fig, ax = _axes(ax, (6.0, 6.0))
    ax.imshow(overlay(result, image))
    kept, total = result.count, len(result.instances)
    ax.set_title(title or f"{kept} particles kept, {total - kept} filtered out (red)")
    ax.set_axis_off()
    return fig, ax


def plot_uncertainty(result: Segmentation, ax=None, cmap: str = "magma"):
    """The mutual-information map (nats) with a colour bar. Returns (figure, axes)."""
    if result.mutual_information is None:
        raise ValueError("a discriminative result has no uncertainty map; segment with samples > 0")
    fig, ax = _axes(ax, (6.0, 5.0))
    im = ax.imshow(result.mutual_information, cmap=cmap, vmin=0)
    fig.colorbar(im, ax=ax, label="mutual information (nats)")
    ax.set_title(f"epistemic uncertainty (T = {result.samples}, t_u = {result.tu:g})")
    ax.set_axis_off()
    return fig, ax


def plot_histogram(values, edges, ax=None, xlabel: str = "", label: Optional[str] = None,
                   reference=None, reference_label: str = "ground truth"):
    """A histogram on shared bins, optionally with a reference histogram as a step line.

    Parameters
    ----------
    values : array_like
        Sample to count (e.g. diameters).
    edges : array_like
        Bin edges (see :func:`bpartis_nb.analysis.histogram_edges`).
    reference : array_like, optional
        A second sample drawn as an outline on the same bins (e.g. the ground truth).

    Returns
    -------
    (figure, axes)
    """
    from .analysis import histogram

    fig, ax = _axes(ax)
    edges = np.asarray(edges, np.float64)
    ax.stairs(histogram(values, edges), edges, fill=True, alpha=0.6, label=label or "prediction")
    if reference is not None:
        ax.stairs(histogram(reference, edges), edges, color="k", linewidth=1.5, label=reference_label)
        ax.legend()
    ax.set_xlabel(xlabel)
    ax.set_ylabel("particles")
    return fig, ax


def plot_size_histogram(table, edges=None, ax=None, reference=None):
    """Histogram of equivalent diameters of a :func:`~bpartis_nb.analysis.measure` table."""
    from .analysis import histogram_edges, size_column

    col = size_column(table)
    ref = None if reference is None else reference[size_column(reference)]
    if edges is None:
        edges = histogram_edges(table[col], *([] if ref is None else [ref]))
    return plot_histogram(table[col], edges, ax, xlabel=f"equivalent diameter ({col.removeprefix('diameter_')})",
                          reference=ref)


def plot_aspect_histogram(table, edges=None, ax=None, reference=None):
    """Histogram of aspect ratios (major / minor axis)."""
    from .analysis import histogram_edges

    ref = None if reference is None else reference["aspect_ratio"]
    if edges is None:
        edges = histogram_edges(table["aspect_ratio"], *([] if ref is None else [ref]), lower=1.0)
    return plot_histogram(table["aspect_ratio"], edges, ax, xlabel="aspect ratio (major / minor)", reference=ref)


def plot_rdf(r, g, ax=None, unit: str = "px", label: Optional[str] = None, reference=None):
    """g(r) with the ideal-gas line g = 1; ``reference`` = (r, g) of a second curve."""
    fig, ax = _axes(ax)
    ax.plot(r, g, marker=".", label=label or "prediction")
    if reference is not None:
        ax.plot(reference[0], reference[1], color="k", linestyle="--", label="ground truth")
        ax.legend()
    ax.axhline(1.0, color="grey", linewidth=0.8)
    ax.set_xlabel(f"r ({unit})")
    ax.set_ylabel("g(r)")
    return fig, ax


def save_figure(fig, path: str | os.PathLike, dpi: int = 120) -> Path:
    """Write a matplotlib figure as PNG, atomically."""
    return atomic_write(path, lambda p: fig.savefig(p, format="png", dpi=dpi))


def write_report(
    out_dir: str | os.PathLike,
    name: str,
    result: Segmentation,
    image: ImageSource,
    scale=None,
    unit: str = "nm",
    exclude_border: bool = True,
) -> dict[str, Path]:
    """Write everything about one segmented image into ``out_dir``, each file atomically.

    Files: ``<name>_particles.csv`` (one row per particle), ``<name>_summary.json``
    (counts and distribution statistics), ``<name>_overlay.png``,
    ``<name>_uncertainty.png`` (Bayesian results only), ``<name>_size_hist.png``,
    ``<name>_aspect_hist.png`` and ``<name>_rdf.png``.

    Parameters
    ----------
    scale, unit, exclude_border
        As :func:`bpartis_nb.analysis.measure`.

    Returns
    -------
    dict
        File kind -> path.
    """
    import json

    from .analysis import measure, particle_rdf, resolve_scale, summarize

    out = Path(out_dir)
    array = read_image(image)
    pixel, u = resolve_scale(scale, unit)
    table = measure(result.labels, scale=pixel, unit=u, image=array,
                    uncertainty=result.mutual_information, exclude_border=exclude_border)
    summary = summarize(table)
    summary.update(
        image=name, shape=list(result.shape), samples=result.samples,
        tu=None if not np.isfinite(result.tu) else result.tu,
        instances_found=int(len(result.instances)), filtered_out=int(len(result.instances) - result.count),
        exclude_border=exclude_border, seconds=result.seconds,
    )
    paths = {
        "csv": atomic_write(out / f"{name}_particles.csv", lambda p: table.to_csv(p, index=False)),
        "summary": atomic_write(out / f"{name}_summary.json", lambda p: p.write_text(json.dumps(summary, indent=1))),
        "overlay": save_overlay(out / f"{name}_overlay.png", result, array),
    }
    if result.mutual_information is not None:
        paths["uncertainty"] = save_figure(plot_uncertainty(result)[0], out / f"{name}_uncertainty.png")
    paths["size_hist"] = save_figure(plot_size_histogram(table)[0], out / f"{name}_size_hist.png")
    paths["aspect_hist"] = save_figure(plot_aspect_histogram(table)[0], out / f"{name}_aspect_hist.png")
    r, g = particle_rdf(table, result.shape, pixel)
    paths["rdf"] = save_figure(plot_rdf(r, g, unit=u)[0], out / f"{name}_rdf.png")
    return paths
