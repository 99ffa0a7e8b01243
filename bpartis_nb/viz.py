"""Pictures of a segmentation: instance overlays (kept vs filtered out), uncertainty maps,
the histograms and g(r) of its particles, and the per-image report files.

The teaching figures of the notebooks live in :mod:`bpartis_nb.teaching_figures` and the
drawing primitives in :mod:`bpartis_nb.drawing`; both are importable from here too.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from .drawing import (  # noqa: F401  (re-exported)
    BAR_FRAME,
    FILTERED_COLOUR,
    LABEL_FRAME,
    _axes,
    frame_boxes,
    instance_colours,
    label_overlay,
    shade_annotations,
)
from .inference import Segmentation
from .io import ImageSource, atomic_write, read_image
from .teaching_figures import (
    plot_augmentations,
    plot_cluster_steps,
    plot_dataset_statistics,
    plot_embeddings,
    plot_gallery,
    plot_instance_uncertainty,
    plot_maps,
    plot_samples_sweep,
    plot_seed_samples,
    plot_threshold_sweep,
    plot_training_log,
)

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
    "label_overlay",
    "plot_gallery",
    "plot_dataset_statistics",
    "plot_maps",
    "plot_embeddings",
    "plot_seed_samples",
    "plot_cluster_steps",
    "plot_instance_uncertainty",
    "plot_threshold_sweep",
    "plot_samples_sweep",
    "plot_training_log",
    "plot_augmentations",
    "plot_particle_summary",
    "save_figure",
    "write_report",
]


def overlay(result: Segmentation, image: ImageSource, alpha: float = 0.35) -> NDArray[np.uint8]:
    """The micrograph in grey with kept particles filled in colour and outlined, and
    particles removed by the uncertainty filter outlined in red with a light red fill.
    Masked annotations (``segment(scale="auto")``) are shaded grey and hatched, and the
    scale bar and label that gave the calibration are framed (bar yellow, label cyan).

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
    dropped = np.where(result.labels == 0, result.labels_unfiltered, 0)
    dropped[result.excluded[dropped]] = 0  # shaded as annotations, not drawn as uncertain particles
    picture = label_overlay(image, result.labels, dropped, alpha)
    if result.annotations is not None:
        picture = shade_annotations(picture, result.annotations.mask)
    c = result.calibration
    if c is not None and c.source == "scale_bar":
        picture = frame_boxes(picture, [c.bar_box], BAR_FRAME)
        picture = frame_boxes(picture, [c.label_box], LABEL_FRAME)
    return picture


def save_overlay(
    path: str | os.PathLike, result: Segmentation, image: ImageSource, alpha: float = 0.35
) -> Path:
    """Write :func:`overlay` as a PNG, atomically. Returns the path."""
    picture = overlay(result, image, alpha)
    return atomic_write(path, lambda p: Image.fromarray(picture).save(p, format="PNG"))


# --------------------------------------------------------------------------- matplotlib plots
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
    fig.colorbar(im, ax=ax, label="mutual information (nats)", shrink=0.8)
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


# --------------------------------------------------------------------------- teaching figures

def plot_particle_summary(result: Segmentation, image: ImageSource, table, pixel: float = 1.0, reference=None):
    """One figure with everything about an analysed image (in the spirit of the paper's Figure 8).

    Panels: the overlay, the uncertainty map (Bayesian results), the summary numbers, and
    the size histogram, aspect-ratio histogram and g(r), each against ``reference`` when given.

    Parameters
    ----------
    result : Segmentation
    image : path or ndarray
        The segmented image.
    table : DataFrame
        :func:`bpartis_nb.analysis.measure` of ``result.labels``.
    pixel : float
        Pixel size in the table's unit (for g(r)).
    reference : DataFrame, optional
        :func:`~bpartis_nb.analysis.measure` of the ground truth, with the same scale.

    Returns
    -------
    (figure, axes) with axes of shape (2, 3)
    """
    from matplotlib.figure import Figure

    from .analysis import particle_rdf, size_column, summarize

    fig = Figure(figsize=(15, 9.5), layout="constrained")
    axes = np.asarray(fig.subplots(2, 3))
    plot_overlay(result, image, ax=axes[0, 0])
    if result.mutual_information is not None:
        plot_uncertainty(result, ax=axes[0, 1])
    else:
        axes[0, 1].set_axis_off()
    s = summarize(table)
    unit = s["unit"]
    d, a = s["diameter"], s["aspect_ratio"]
    lines = [f"particles measured: {s['count']}",
             f"diameter: {d['mean']:.3g} +- {d['std']:.2g} {unit} (median {d['median']:.3g})",
             f"polydispersity index: {s['polydispersity_index']:.3f}",
             f"aspect ratio: {a['mean']:.3g} +- {a['std']:.2g}"]
    if reference is not None:
        r = summarize(reference)
        lines += ["", f"ground truth: {r['count']} particles",
                  f"diameter: {r['diameter']['mean']:.3g} +- {r['diameter']['std']:.2g} {unit}",
                  f"aspect ratio: {r['aspect_ratio']['mean']:.3g} +- {r['aspect_ratio']['std']:.2g}"]
    axes[0, 2].text(0.02, 0.95, "\n".join(lines), va="top", family="monospace", fontsize=10,
                    transform=axes[0, 2].transAxes)
    axes[0, 2].set_axis_off()
    plot_size_histogram(table, ax=axes[1, 0], reference=reference)
    plot_aspect_histogram(table, ax=axes[1, 1], reference=reference)
    r, g = particle_rdf(table, result.shape, pixel)
    ref = None if reference is None else particle_rdf(reference, result.shape, pixel)
    plot_rdf(r, g, ax=axes[1, 2], unit=size_column(table).removeprefix("diameter_"), reference=ref)
    return fig, axes


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
        As :func:`bpartis_nb.analysis.measure`; without ``scale`` the result's own
        calibration (``segment(scale="auto")``) is used when it found one.

    Returns
    -------
    dict
        File kind -> path.
    """
    import json

    from .analysis import measure, particle_rdf, resolve_scale, summarize
    from .pipeline import calibration_fields

    out = Path(out_dir)
    array = read_image(image)
    calibration = result.calibration
    if scale is None and calibration is not None and calibration.known:
        scale, unit = calibration.nm_per_px, "nm"
    pixel, u = resolve_scale(scale, unit)
    table = measure(result.labels, scale=pixel, unit=u, image=array,
                    uncertainty=result.mutual_information, exclude_border=exclude_border)
    summary = summarize(table)
    summary.update(
        image=name, shape=list(result.shape), samples=result.samples,
        tu=None if not np.isfinite(result.tu) else result.tu,
        instances_found=int(len(result.instances)), filtered_out=int(len(result.instances) - result.count),
        exclude_border=exclude_border, seconds=result.seconds, **calibration_fields(result),
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
