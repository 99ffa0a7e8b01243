"""Table 1 of the paper: discriminative, Bayesian and Bayesian + filter on an EMPS split."""
from __future__ import annotations

import os
import time
from typing import Optional, Union

import numpy as np

from .data import emps_root, load_emps_image, load_emps_labels, split_names
from .metrics import image_metrics
from .model import BranchedERFNet
from .montecarlo import DEFAULT_SAMPLES, DEFAULT_TU
from .pipeline import segment

__all__ = [
    "VARIANTS",
    "METRIC_KEYS",
    "evaluate_split",
    "evaluate_baseline",
    "threshold_sweep",
    "samples_sweep",
    "format_table",
    "REFERENCE",
]

#: t_u values of :func:`threshold_sweep` by default: 0.0005 to 0.03 in steps of 0.0005,
#: then 0.035, 0.04, 0.05, 0.075 and 0.1 (nats; the paper's default is 0.0125).
SWEEP_THRESHOLDS = tuple(round(0.0005 * i, 4) for i in range(1, 61)) + (0.035, 0.04, 0.05, 0.075, 0.1)

VARIANTS = ("discriminative", "bayesian", "bayesian_filter")
METRIC_KEYS = ("ap", "ap50", "ap75", "miou", "ap_match50")

#: The published model on the EMPS test split, measured with the published segmenter
#: (T = 30, t_u = 0.0125), and the paper's Table 1; for side-by-side printing only.
REFERENCE = {
    "measured reference": {
        "discriminative": (0.539, 0.786, 0.736, 0.711, 0.738),
        "bayesian": (0.570, 0.816, 0.767, 0.738, 0.761),
        "bayesian_filter": (0.615, 0.931, 0.877, 0.846, 0.794),
    },
    "paper Table 1": {
        "discriminative": (0.560, 0.786, 0.738, 0.712, None),
        "bayesian": (0.590, 0.823, 0.771, 0.745, None),
        "bayesian_filter": (0.632, 0.928, 0.874, 0.844, None),
    },
}


def _published_if_none(model: Optional[BranchedERFNet]) -> BranchedERFNet:
    """The given model, or the published weights."""
    if model is not None:
        return model
    from .weights import load_model

    return load_model(pretrained=True)


def _with_progress(items: list, progress: bool, desc: str):
    """``items``, wrapped in a progress bar over images when ``progress``."""
    if not progress:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, unit="image")


def evaluate_split(
    emps: Optional[Union[str, os.PathLike]] = None,
    split: str = "test",
    limit: Optional[int] = None,
    samples: int = DEFAULT_SAMPLES,
    tu: float = DEFAULT_TU,
    model: Optional[BranchedERFNet] = None,
    seed: Optional[int] = 0,
    progress: bool = True,
) -> dict:
    """Run the three variants of Table 1 on a split and average the per-image metrics.

    The Bayesian and Bayesian + filter variants come from one Monte-Carlo run per image
    (the filter only removes instances), so their ``seconds`` are the same run's.

    Parameters
    ----------
    emps : path-like, optional
        EMPS folder (see :func:`bpartis_nb.data.emps_root`).
    split : {"test", "train"}
    limit : int, optional
        Only the first ``limit`` images of the split file.
    samples, tu : Monte-Carlo samples T and uncertainty threshold.
    model : BranchedERFNet, optional
        Defaults to the published weights.
    seed : int, optional
        Base seed of the dropout draws (image i uses ``seed + i``); None: unseeded.
    progress : bool
        Progress bar over images.

    Returns
    -------
    dict
        ``{"settings": {...}, "variants": {variant: {metric: mean, "n_pred": total,
        "median_seconds": ...}}, "images": [{"name": ..., variant: {metric: value,
        "seconds": ...}}]}``.
    """
    root = emps_root(emps)
    names = _split_names(root, split, limit)
    model = _published_if_none(model)
    iterator = _with_progress(names, progress, f"EMPS {split}")
    rows = []
    for i, name in enumerate(iterator):
        image = load_emps_image(root, name)
        truth = load_emps_labels(root, name)
        disc = segment(image, samples=0, model=model)
        bayes = segment(image, samples=samples, tu=tu, model=model, seed=None if seed is None else seed + i)
        row = {"name": name}
        for variant, labels, seconds in (
            ("discriminative", disc.labels, disc.seconds),
            ("bayesian", bayes.labels_unfiltered, bayes.seconds),
            ("bayesian_filter", bayes.labels, bayes.seconds),
        ):
            row[variant] = {**image_metrics(labels, truth), "seconds": seconds}
        rows.append(row)
    summary = _summarise(rows, VARIANTS)
    settings = {"emps": str(root), "split": split, "images": len(names), "samples": samples, "tu": tu, "seed": seed}
    return {"settings": settings, "variants": summary, "images": rows}


def _split_names(root, split: str, limit: Optional[int]) -> list[str]:
    names = split_names(root, split)
    if limit is not None:
        names = names[: max(0, int(limit))]
    if not names:
        raise ValueError(f"no images to evaluate in split {split!r} (limit={limit})")
    return names


def _summarise(rows: list[dict], variants) -> dict:
    """Per variant: metrics averaged over images, instance counts summed, median seconds."""
    summary = {}
    for variant in variants:
        per = [r[variant] for r in rows]
        summary[variant] = {k: float(np.mean([p[k] for p in per])) for k in per[0] if k not in ("n_pred", "n_gt", "seconds")}
        summary[variant]["n_pred"] = int(sum(p["n_pred"] for p in per))
        summary[variant]["n_gt"] = int(sum(p["n_gt"] for p in per))
        summary[variant]["median_seconds"] = float(np.median([p["seconds"] for p in per]))
    return summary


def evaluate_baseline(
    emps: Optional[Union[str, os.PathLike]] = None,
    split: str = "test",
    limit: Optional[int] = None,
    method: str = "otsu_watershed",
    progress: bool = True,
) -> dict:
    """Run a classical baseline (:mod:`bpartis_nb.baselines`) on a split, with Table 1's metrics.

    Parameters
    ----------
    emps : path-like, optional
        EMPS folder (see :func:`bpartis_nb.data.emps_root`).
    split : {"test", "train"}
    limit : int, optional
        Only the first ``limit`` images of the split file.
    method : str
        A key of :data:`bpartis_nb.baselines.METHODS`.
    progress : bool
        Progress bar over images.

    Returns
    -------
    dict
        As :func:`evaluate_split`, with the one variant ``method``:
        ``{"settings": {..., "method": method}, "variants": {method: {...}},
        "images": [{"name": ..., method: {metric: value, "seconds": ...}}]}``;
        ``seconds`` times the baseline on the loaded image.
    """
    from .baselines import get_method

    baseline = get_method(method)  # ValueError listing the choices for an unknown name
    root = emps_root(emps)
    names = _split_names(root, split, limit)
    iterator = names
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(names, desc=f"EMPS {split} ({method})", unit="image")
    rows = []
    for name in iterator:
        image = load_emps_image(root, name)
        truth = load_emps_labels(root, name)
        start = time.perf_counter()
        labels = baseline(image)
        seconds = time.perf_counter() - start
        rows.append({"name": name, method: {**image_metrics(labels, truth), "seconds": seconds}})
    settings = {"emps": str(root), "split": split, "images": len(names), "method": method}
    return {"settings": settings, "variants": _summarise(rows, (method,)), "images": rows}


def threshold_sweep(
    emps: Optional[Union[str, os.PathLike]] = None,
    split: str = "test",
    thresholds=SWEEP_THRESHOLDS,
    limit: Optional[int] = None,
    samples: int = DEFAULT_SAMPLES,
    model: Optional[BranchedERFNet] = None,
    seed: Optional[int] = 0,
    progress: bool = True,
):
    """Table 1's metrics as a function of the uncertainty threshold t_u (the paper's Figure 6).

    Each image is segmented once (T Monte-Carlo samples); every threshold then only
    re-filters that result (:meth:`~bpartis_nb.inference.Segmentation.with_threshold`).

    Parameters
    ----------
    emps, split, limit, samples, model, seed, progress
        As :func:`evaluate_split`.
    thresholds : sequence of float
        Values of t_u; ``inf`` (no filtering) is always added as the last row.

    Returns
    -------
    pandas.DataFrame
        One row per t_u: ``tu``, the per-image means of ``ap``, ``ap50``, ``ap75``,
        ``miou``, ``ap_match50``, and ``n_pred`` (particles kept, summed over images).
    """
    import pandas as pd

    values = sorted({float(t) for t in thresholds if float(t) > 0 and np.isfinite(t)}) + [float("inf")]
    root = emps_root(emps)
    names = _split_names(root, split, limit)
    model = _published_if_none(model)
    rows = []
    for i, name in enumerate(_with_progress(names, progress, f"EMPS {split}, t_u sweep")):
        truth = load_emps_labels(root, name)
        result = segment(load_emps_image(root, name), samples=samples, model=model,
                         seed=None if seed is None else seed + i)
        for tu in values:
            labels = result.labels_unfiltered if tu == float("inf") else result.with_threshold(tu).labels
            rows.append({"tu": tu, **image_metrics(labels, truth)})
    table = pd.DataFrame(rows)
    out = table.groupby("tu", sort=True)[list(METRIC_KEYS)].mean()
    out["n_pred"] = table.groupby("tu", sort=True)["n_pred"].sum().astype(int)
    out = out.reset_index()
    out.attrs.update(images=len(names), samples=samples, split=split)
    return out


def samples_sweep(
    emps: Optional[Union[str, os.PathLike]] = None,
    split: str = "test",
    samples=(1, 2, 5, 10, 20, 30),
    limit: Optional[int] = 5,
    tu: float = DEFAULT_TU,
    model: Optional[BranchedERFNet] = None,
    seed: Optional[int] = 0,
    progress: bool = True,
):
    """How the Bayesian result depends on the number of Monte-Carlo samples T.

    Parameters
    ----------
    emps, split, limit, tu, model, seed, progress
        As :func:`evaluate_split` (``limit`` defaults to the first 5 images).
    samples : sequence of int
        Values of T; T = 0 (the discriminative single pass) is always added first.

    Returns
    -------
    pandas.DataFrame
        One row per T: ``samples``, the per-image means of ``ap50`` and ``miou`` without
        (``ap50``, ``miou``) and with the filter (``ap50_filter``, ``miou_filter``),
        ``n_pred`` and ``n_pred_filter`` summed over images, and the median ``seconds``
        per image.
    """
    import pandas as pd

    ts = [0] + sorted({int(t) for t in samples if int(t) > 0})
    root = emps_root(emps)
    names = _split_names(root, split, limit)
    model = _published_if_none(model)
    rows = []
    for i, name in enumerate(_with_progress(names, progress, f"EMPS {split}, T sweep")):
        image, truth = load_emps_image(root, name), load_emps_labels(root, name)
        for t in ts:
            result = segment(image, samples=t, tu=tu, model=model, seed=None if seed is None else seed + i)
            plain = image_metrics(result.labels_unfiltered, truth)
            kept = image_metrics(result.labels, truth)
            rows.append({"samples": t, "ap50": plain["ap50"], "miou": plain["miou"], "n_pred": plain["n_pred"],
                         "ap50_filter": kept["ap50"], "miou_filter": kept["miou"],
                         "n_pred_filter": kept["n_pred"], "seconds": result.seconds})
    table = pd.DataFrame(rows).groupby("samples", sort=True)
    out = table[["ap50", "miou", "ap50_filter", "miou_filter"]].mean()
    out[["n_pred", "n_pred_filter"]] = table[["n_pred", "n_pred_filter"]].sum().astype(int)
    out["seconds"] = table["seconds"].median()
    out = out.reset_index()
    out.attrs.update(images=len(names), split=split, tu=tu)
    return out


def format_table(result: dict, reference: bool = True) -> str:
    """A Markdown table of the variants present (and, optionally, the reference rows).

    BPartIS variants come first, in Table 1's order; any other variant in
    ``result["variants"]`` (a classical baseline) follows as ``baseline: <name>``.
    """
    head = "| variant | AP | AP50 | AP75 | mean IoU | AP_match50 | predicted | median s/image |"
    lines = [head, "|" + "---|" * 8]
    s = result["settings"]
    present = result["variants"]
    for v in [v for v in VARIANTS if v in present] + [v for v in present if v not in VARIANTS]:
        m = present[v]
        if v in VARIANTS:
            label = {"discriminative": "discriminative", "bayesian": f"Bayesian, T = {s['samples']}",
                     "bayesian_filter": f"Bayesian + filter, t_u = {s['tu']}"}[v]
            label = f"this package: {label}"
        else:
            label = f"baseline: {v}"
        vals = " | ".join(f"{m[k]:.3f}" for k in METRIC_KEYS)
        lines.append(f"| {label} | {vals} | {m['n_pred']} | {m['median_seconds']:.2f} |")
    if reference:
        for source, rows in REFERENCE.items():
            for v, vals in rows.items():
                cells = " | ".join("-" if x is None else f"{x:.3f}" for x in vals)
                lines.append(f"| {source}: {v} | {cells} | - | - |")
    return "\n".join(lines)
