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


def label_overlay(
    image: ImageSource, labels: NDArray, dropped: Optional[NDArray] = None, alpha: float = 0.35
) -> NDArray[np.uint8]:
    """The image in grey with the instances of ``labels`` filled in colour and outlined,
    and those of ``dropped`` (optional) outlined in red with a light red fill.

    Parameters
    ----------
    image : path or ndarray of shape (M, N) or (M, N, 3|4)
    labels : ndarray of shape (M, N), int
        Instance map, 0 = background.
    dropped : ndarray of shape (M, N), int, optional
        A second instance map drawn in red (e.g. instances removed by the filter).
    alpha : float
        Opacity of the fills.

    Returns
    -------
    ndarray of shape (M, N, 3), uint8
    """
    array = read_image(image)
    kept = np.asarray(labels)
    if array.shape[:2] != kept.shape:
        raise ValueError(f"image {array.shape[:2]} and labels {kept.shape} differ in shape")
    grey = _to_unit_float(_rgb(array)).mean(axis=2)
    canvas = np.repeat(grey[:, :, None], 3, axis=2) * 255.0
    colours = instance_colours(int(kept.max(initial=0)))
    fill = kept > 0
    canvas[fill] = (1 - alpha) * canvas[fill] + alpha * colours[kept[fill]]
    edge = find_boundaries(kept, mode="inner") & fill
    canvas[edge] = colours[kept[edge]]
    if dropped is not None:
        red = np.array(FILTERED_COLOUR, np.float64)
        dfill = dropped > 0
        canvas[dfill] = (1 - alpha / 2) * canvas[dfill] + (alpha / 2) * red
        canvas[find_boundaries(dropped, mode="inner") & dfill] = red
    return np.clip(canvas, 0, 255).astype(np.uint8)


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
    dropped = np.where(result.labels == 0, result.labels_unfiltered, 0)
    return label_overlay(image, result.labels, dropped, alpha)


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
def _grid(n: int, ncols: int, size: float = 3.0):
    """A figure with ``n`` axes on a grid of ``ncols`` columns (unused axes hidden)."""
    from matplotlib.figure import Figure

    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig = Figure(figsize=(size * ncols, size * nrows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols)).ravel()
    for ax in axes[n:]:
        ax.set_axis_off()
    return fig, axes[:n]


def plot_gallery(images, labels=None, titles=None, ncols: int = 4, size: float = 3.0):
    """Images side by side, each with its instance map overlaid when given.

    Parameters
    ----------
    images : sequence of ndarray
    labels : sequence of ndarray of shape (M, N), optional
        One instance map per image.
    titles : sequence of str, optional

    Returns
    -------
    (figure, axes)
    """
    fig, axes = _grid(len(images), ncols, size)
    for i, (ax, image) in enumerate(zip(axes, images)):
        ax.imshow(image if labels is None else label_overlay(image, labels[i]), cmap="gray")
        if titles is not None:
            ax.set_title(titles[i], fontsize=9)
        ax.set_axis_off()
    return fig, axes


def plot_dataset_statistics(images, instances):
    """The paper's Figure 3: particles per image and instance sizes.

    Parameters
    ----------
    images, instances : DataFrame
        As returned by :func:`bpartis_nb.data.dataset_statistics`.

    Returns
    -------
    (figure, axes)
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.8), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    counts = images["particles"].to_numpy()
    ax1.hist(counts, bins=np.arange(0, counts.max() + 11, 10), color="tab:blue", alpha=0.8)
    ax1.set_xlabel("particles per image")
    ax1.set_ylabel("images")
    ax1.set_title(f"{len(images)} images, median {np.median(counts):.0f} particles")
    frac = instances["fraction"].to_numpy() * 100
    ax2.hist(frac, bins=np.logspace(np.log10(max(frac.min(), 1e-3)), np.log10(frac.max()), 40),
             color="tab:orange", alpha=0.8)
    ax2.set_xscale("log")
    ax2.set_xlabel("instance area (% of the image)")
    ax2.set_ylabel("instances")
    ax2.set_title(f"{len(instances)} instances, median {np.median(frac):.2f} %")
    return fig, (ax1, ax2)


def plot_maps(maps: dict, cmap: str = "viridis", label: str = "", ncols: int = 4, size: float = 3.2,
              same_scale: bool = False):
    """Several maps side by side, each with its colour bar.

    Parameters
    ----------
    maps : dict
        Title -> ndarray of shape (M, N).
    cmap : str
    label : str
        Colour-bar label (quantity and unit).
    same_scale : bool
        One colour scale for all maps (to compare magnitudes).

    Returns
    -------
    (figure, axes)
    """
    fig, axes = _grid(len(maps), ncols, size)
    values = [np.asarray(v, np.float64) for v in maps.values()]
    lo = min(float(np.nanmin(v)) for v in values) if same_scale else None
    hi = max(float(np.nanmax(v)) for v in values) if same_scale else None
    for ax, (title, v) in zip(axes, zip(maps, values)):
        im = ax.imshow(v, cmap=cmap, vmin=lo, vmax=hi)
        fig.colorbar(im, ax=ax, label=label, shrink=0.8)
        ax.set_title(title, fontsize=10)
        ax.set_axis_off()
    return fig, axes


def plot_embeddings(output, labels: NDArray, max_points: int = 30000, seed: int = 0):
    """Pixels at their image position and at their embedding, coloured by instance.

    Each particle's pixels spread over the particle in the image but collapse onto a
    small cluster in embedding space, which is what makes the clustering work.

    Parameters
    ----------
    output : ndarray of shape (5, S, S)
        Raw network output (``Segmentation.net_output``).
    labels : ndarray of shape (S, S), int
        Instances at network resolution (``Segmentation.net_labels``); background (0)
        pixels are not drawn.
    max_points : int
        Draw at most this many pixels (a random subset).

    Returns
    -------
    (figure, axes)
    """
    import torch
    from matplotlib.figure import Figure

    from .cluster import embedding_coordinates

    out = np.asarray(output, np.float32)
    labels = np.asarray(labels)
    if out.shape[1:] != labels.shape:
        raise ValueError(f"output {out.shape} and labels {labels.shape} differ in size")
    coords = embedding_coordinates(*labels.shape)
    emb = torch.tanh(torch.from_numpy(out[0:2])).numpy() + coords
    idx = np.flatnonzero(labels > 0)
    if idx.size > max_points:
        idx = np.sort(np.random.default_rng(seed).choice(idx, max_points, replace=False))
    colours = instance_colours(int(labels.max(initial=0))) / 255.0
    c = colours[labels.ravel()[idx]]
    shown = emb.reshape(2, -1)[:, idx]
    lo = min(0.0, float(shown.min(initial=0.0))) - 0.05
    hi = max(1.0, float(shown.max(initial=1.0))) + 0.05
    fig = Figure(figsize=(10, 5), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    for ax, pts, title in ((ax1, coords, "pixels at their image position"),
                           (ax2, emb, "the same pixels at their embedding")):
        ax.scatter(pts[0].ravel()[idx], pts[1].ravel()[idx], c=c, s=1, linewidths=0)
        ax.set_xlim(lo, hi)
        ax.set_ylim(hi, lo)
        ax.set_aspect("equal")
        ax.set_xlabel("x (image widths)")
        ax.set_ylabel("y (image heights)")
        ax.set_title(title)
    return fig, (ax1, ax2)


def plot_seed_samples(seed_samples: NDArray, n: int = 3, size: float = 3.2):
    """The first ``n`` Monte-Carlo seed maps, their mean and their standard deviation.

    Parameters
    ----------
    seed_samples : ndarray of shape (T, S, S)
        Per-sample seed probabilities (``segment(..., keep_samples=True).seed_samples``).

    Returns
    -------
    (figure, axes)
    """
    samples = np.asarray(seed_samples)
    n = min(n, len(samples))
    fig, axes = _grid(n + 2, n + 2, size)
    for i in range(n):
        im = axes[i].imshow(samples[i], cmap="viridis", vmin=0, vmax=1)
        axes[i].set_title(f"sample {i + 1}")
    fig.colorbar(im, ax=axes[n - 1], label="seed probability", shrink=0.8)
    im = axes[n].imshow(samples.mean(0), cmap="viridis", vmin=0, vmax=1)
    axes[n].set_title(f"mean of T = {len(samples)}")
    fig.colorbar(im, ax=axes[n], label="seed probability", shrink=0.8)
    im = axes[n + 1].imshow(samples.std(0), cmap="magma", vmin=0)
    axes[n + 1].set_title("standard deviation")
    fig.colorbar(im, ax=axes[n + 1], label="std of seed probability", shrink=0.8)
    for ax in axes:
        ax.set_axis_off()
    return fig, axes


def plot_cluster_steps(steps, image: Optional[ImageSource] = None, size: float = 3.4):
    """Each greedy clustering step: the centre, its Gaussian score map and the proposal.

    Parameters
    ----------
    steps : list of ClusterStep
        From :func:`bpartis_nb.cluster.cluster_steps`.
    image : optional
        Drawn (resized to the maps' size) under the proposals in the second row.

    Returns
    -------
    (figure, axes) with axes of shape (2, len(steps))
    """
    from matplotlib.figure import Figure

    n = len(steps)
    if n == 0:
        raise ValueError("no clustering steps to show: the seed map has no foreground")
    fig = Figure(figsize=(size * n, size * 2), layout="constrained")
    axes = np.asarray(fig.subplots(2, n, squeeze=False))
    back = None
    if image is not None:
        from .inference import to_network_input

        back = to_network_input(read_image(image), steps[0].score.shape[0])[0].numpy().mean(0)
    for j, st in enumerate(steps):
        im = axes[0, j].imshow(st.score, cmap="viridis", vmin=0, vmax=1)
        axes[0, j].contour(st.score, levels=[0.5], colors="white", linewidths=0.8)
        axes[0, j].plot(st.centre[1], st.centre[0], "r+", markersize=12, mew=2)
        axes[0, j].set_title(f"step {j + 1}: seed {st.seed:.2f}, sigma {st.sigma[0] * (st.score.shape[1] - 1):.1f} px", fontsize=9)
        if back is not None:
            axes[1, j].imshow(back, cmap="gray")
        axes[1, j].imshow(np.ma.masked_where(~st.members, st.members), cmap="autumn", alpha=0.6)
        verdict = "accepted" if st.accepted else "rejected"
        axes[1, j].set_title(f"{int(st.members.sum())} pixels score > 0.5: {verdict}", fontsize=9)
        for ax in axes[:, j]:
            ax.set_axis_off()
    fig.colorbar(im, ax=axes[0, -1], label="Gaussian score", shrink=0.8)
    return fig, axes


def plot_instance_uncertainty(result: Segmentation, ax=None):
    """Each instance's mean mutual information against its area, with the threshold t_u.

    Returns
    -------
    (figure, axes)
    """
    if not result.bayesian:
        raise ValueError("a discriminative result has no uncertainty; segment with samples > 0")
    fig, ax = _axes(ax, (6.0, 4.0))
    t = result.instances
    for kept, colour, name in ((True, "tab:blue", "kept"), (False, "tab:red", "filtered out")):
        part = t[t["kept"] == kept]
        ax.scatter(part["pixels"], part["mean_mi"], s=14, color=colour, label=f"{name} ({len(part)})")
    ax.axhline(result.tu, color="k", linestyle="--", linewidth=1, label=f"t_u = {result.tu:g}")
    ax.set_xscale("log")
    ax.set_xlabel("instance area (pixels)")
    ax.set_ylabel("mean mutual information (nats)")
    ax.legend()
    return fig, ax


def plot_threshold_sweep(table, default_tu: float = 0.0125, ax=None):
    """Metrics against t_u (the paper's Figure 6), from :func:`~bpartis_nb.evaluation.threshold_sweep`.

    The unfiltered values (``tu = inf``) are drawn as dotted horizontal lines.

    Returns
    -------
    (figure, axes)
    """
    fig, ax = _axes(ax, (7.0, 4.5))
    finite = table[np.isfinite(table["tu"])]
    plain = table[~np.isfinite(table["tu"])]
    names = {"ap": "AP", "ap50": "AP50", "ap75": "AP75", "miou": "mean IoU"}
    for i, (key, name) in enumerate(names.items()):
        line, = ax.plot(finite["tu"], finite[key], marker=".", label=name)
        if len(plain):
            ax.axhline(float(plain[key].iloc[0]), color=line.get_color(), linestyle=":", linewidth=1)
    ax.axvline(default_tu, color="grey", linestyle="--", linewidth=1, label=f"paper's t_u = {default_tu:g}")
    ax.set_xlabel("uncertainty threshold t_u (nats)")
    ax.set_ylabel("score (mean over images)")
    ax.set_title(f"{table.attrs.get('images', '?')} images; dotted: no filter")
    ax.legend(fontsize=8)
    return fig, ax


def plot_samples_sweep(table, ax=None):
    """AP50 and mean IoU against T, from :func:`~bpartis_nb.evaluation.samples_sweep`.

    Returns
    -------
    (figure, axes)
    """
    fig, ax = _axes(ax, (7.0, 4.5))
    t = table["samples"]
    ax.plot(t, table["ap50"], marker="o", label="AP50, no filter")
    ax.plot(t, table["ap50_filter"], marker="o", label="AP50, filtered")
    ax.plot(t, table["miou"], marker="s", label="mean IoU, no filter")
    ax.plot(t, table["miou_filter"], marker="s", label="mean IoU, filtered")
    ax.set_xlabel("Monte-Carlo samples T (0 = discriminative)")
    ax.set_ylabel("score (mean over images)")
    ax.set_title(f"{table.attrs.get('images', '?')} images")
    ax.legend(fontsize=8)
    return fig, ax


def plot_training_log(log):
    """Training loss (and its three terms) and validation scores against the epoch.

    Parameters
    ----------
    log : DataFrame
        :meth:`bpartis_nb.train.Trainer.fit`'s log (``epoch``, ``loss``, ``lovasz``,
        ``seed``, ``smooth``, ``val_ap50``, ``val_miou``).

    Returns
    -------
    (figure, axes)
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.6), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    for key, style in (("loss", "-"), ("lovasz", "--"), ("seed", "--"), ("smooth", "--")):
        if key in log:
            ax1.plot(log["epoch"], log[key], linestyle=style, marker=".", label=key)
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("training loss (total weighted, terms unweighted)")
    ax1.set_yscale("log")
    ax1.legend(fontsize=8)
    ax2.plot(log["epoch"], log["val_ap50"], marker=".", label="AP50")
    ax2.plot(log["epoch"], log["val_miou"], marker=".", label="mean IoU")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("validation score")
    ax2.set_ylim(0, 1)
    ax2.legend(fontsize=8)
    return fig, (ax1, ax2)


def plot_augmentations(image, labels, augment, n: int = 4, size: float = 3.0):
    """One training pair and ``n`` random augmentations of it, with the labels outlined.

    Parameters
    ----------
    image : Tensor of shape (3, H, W)
    labels : Tensor of shape (H, W)
    augment : callable
        ``augment(image, labels) -> (image, labels)``, e.g. :class:`bpartis_nb.augment.Augment`.

    Returns
    -------
    (figure, axes)
    """
    fig, axes = _grid(n + 1, n + 1, size)
    pairs = [(image, labels)] + [augment(image, labels) for _ in range(n)]
    for i, (ax, (x, y)) in enumerate(zip(axes, pairs)):
        picture = (x.permute(1, 2, 0).clamp(0, 1).numpy() * 255).astype(np.uint8)
        ax.imshow(label_overlay(picture, y.numpy().astype(np.int32), alpha=0.2))
        ax.set_title("original" if i == 0 else f"augmented {i}", fontsize=10)
        ax.set_axis_off()
    return fig, axes


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
