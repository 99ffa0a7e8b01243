"""The teaching figures of the notebooks: data, training, the network's outputs, the
clustering step by step, Monte-Carlo samples, and the sweeps of t_u and T.

Each function returns ``(figure, axes)`` of a matplotlib figure made without pyplot.
They are also importable from :mod:`bpartis_nb.viz`, beside the figures of a result.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
from numpy.typing import NDArray

from .drawing import _axes, instance_colours, label_overlay
from .inference import Segmentation
from .io import ImageSource, read_image

__all__ = [
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
]


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
        from .preprocess import to_network_input

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

