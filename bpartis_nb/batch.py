"""Batch analysis: segment and measure many micrographs into one particle table.

:func:`analyze` runs :func:`bpartis_nb.segment` and :func:`~bpartis_nb.analysis.measure`
on every image of a folder, a glob pattern or a list, in this process, in a local process
pool or on a Dask cluster, and writes into one output folder ``OUT`` its settings, one
part per finished image, the particle table assembled from the parts (Parquet and CSV),
the per-image summaries and the errors (:mod:`bpartis_nb.batchfiles` describes the files).

Every file is written atomically (:func:`bpartis_nb.io.atomic_write`), so a run killed
at any moment keeps every finished image and leaves no half-written file; running the
same command again skips the finished images and assembles the tables from all parts.

Each image's dropout seed depends only on the base seed and its key
(:func:`image_seed`), and the tables are sorted, so the result does not depend on the
number of workers or the order in which images finish.

Dask, distributed and pyarrow are optional: ``pip install "bpartis-nb[batch]"``.
"""
from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Union

import numpy as np
import pandas as pd
import torch

from .analysis import Scale, measure, resolve_scale, summarize
from .batchfiles import (  # noqa: F401  (the output folder's public names are re-exported here)
    IMAGE_EXTENSIONS,
    LAYOUT_VERSION,
    BatchResult,
    Inputs,
    SettingsMismatchError,
    _check_settings,
    _exclusive,
    _is_finished,
    _remove_stale_temporaries,
    _settings,
    _write_part,
    assemble,
    find_images,
    image_seed,
    part_name,
)
from .io import ImageError, atomic_write, read_image
from .montecarlo import DEFAULT_SAMPLES, DEFAULT_TU
from .figures import segment_figure
from .pipeline import calibration_fields, segment

__all__ = [
    "IMAGE_EXTENSIONS",
    "BatchResult",
    "SettingsMismatchError",
    "MissingDependencyError",
    "find_images",
    "part_name",
    "image_seed",
    "analyze_image",
    "assemble",
    "analyze",
]

_INSTALL_HINT = 'pip install "bpartis-nb[batch]"'

Progress = Union[bool, Callable[[str, str], None]]


class MissingDependencyError(ImportError):
    """An optional dependency of batch analysis is not installed; the message says how to get it."""


def _require(module: str, what: str):
    """Import an optional module, or raise :class:`MissingDependencyError` naming the extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(
            f"{what} needs the optional package '{module.split('.')[0]}', which is not installed; "
            f"install the batch extra: {_INSTALL_HINT}"
        ) from None


# --------------------------------------------------------------------------- one image
def analyze_image(
    image: Union[str, os.PathLike],
    key: str,
    model: torch.nn.Module,
    *,
    samples: int = DEFAULT_SAMPLES,
    tu: float = DEFAULT_TU,
    scale: Optional[Scale] = None,
    unit: str = "nm",
    exclude_border: bool = True,
    seed: int = 0,
    tiled: bool = False,
    adaptive: bool = False,
    annotations: Optional[bool] = None,
    panels: bool = False,
) -> tuple[pd.DataFrame, Union[dict[str, Any], list[dict[str, Any]]]]:
    """Segment and measure one image: its particle table and its summary row.

    Parameters
    ----------
    image : path-like
        The micrograph.
    key : str
        Its name in the tables; the dropout seed is ``image_seed(seed, key)``.
    model : BranchedERFNet
        The network (:func:`bpartis_nb.load_model`).
    samples, tu
        As :func:`bpartis_nb.segment`.
    scale, unit
        As :func:`bpartis_nb.measure`, or ``scale="auto"``: this image's own calibration
        (metadata, else scale bar; :func:`bpartis_nb.segment`), lengths in nm, NaN where
        none was found (the pixel columns stay).
    exclude_border : bool
        As :func:`bpartis_nb.measure`.
    seed : int
        Base seed of the dropout draws.
    tiled, adaptive : bool
        As :func:`bpartis_nb.segment`: native-resolution tiles; adaptive sampling
        (``samples`` is then the maximum; the summary's ``samples`` is the number used).
    annotations : bool, optional
        Set aside instances on scale bars, labels and info strips (as
        :func:`bpartis_nb.segment`; default: when ``scale="auto"``).
    panels : bool
        The image is a figure: segment each micrograph panel on its own
        (:func:`bpartis_nb.figures.segment_figure`), each calibrated from its own scale
        bar. The table gets a ``panel`` column, and the summary is a list with one row
        per panel (``panel``, ``panel_box``, ``panels_skipped`` and why).

    Returns
    -------
    table : pandas.DataFrame
        One row per particle: ``image`` (the key), then the columns of
        :func:`~bpartis_nb.analysis.measure` with ``mean_intensity`` and, for T > 0,
        ``mean_uncertainty`` (mean mutual information over the particle).
    summary : dict
        ``image``, ``rows`` and ``cols`` (image shape), ``count`` (particles in the
        table), ``unit``, ``diameter_mean_<u>``, ``diameter_median_<u>``,
        ``diameter_std_<u>``, ``pdi`` (polydispersity index, (std/mean)^2),
        ``aspect_ratio_mean``, ``aspect_ratio_median``, ``instances_found`` (before the
        uncertainty filter), ``filtered_out`` (dropped as uncertain), ``at_border``
        (kept particles touching the edge), ``samples``, ``tu``, ``seed`` (this image's
        dropout seed), ``seconds``, and the calibration and masking fields of
        :func:`bpartis_nb.pipeline.calibration_fields`.

    Raises
    ------
    FileNotFoundError, bpartis_nb.ImageError
        The file is missing or not a readable micrograph.
    """
    start = time.perf_counter()
    array = read_image(image)
    dropout_seed = image_seed(seed, key)
    auto = isinstance(scale, str)
    options = dict(samples=samples, tu=tu, model=model, seed=dropout_seed, tiled=tiled, adaptive=adaptive,
                   scale="auto" if auto else None, annotations=annotations)
    if panels:
        figure = segment_figure(image, **options)
        pieces = [(p.index, r, p.crop(array)) for p, r in figure]
        skipped = "; ".join(f"{i}: {reason.rsplit(': ', 1)[-1]}" for i, reason in figure.skipped.items())
        if not pieces:
            raise ImageError(f"{key}: no micrograph panel found in this figure ({skipped}); "
                             "analyse it without panels=True if it is one micrograph")
    else:
        pieces = [(None, segment(image if auto else array, **options), array)]
    tables, summaries = [], []
    for index, result, pixels in pieces:
        table, summary = _measured(result, pixels, key, scale, unit, exclude_border)
        summary["seed"] = dropout_seed
        if panels:
            table.insert(1, "panel", pd.Series([index] * len(table), dtype="int64"))
            summary.update(panel=index, panel_box=" ".join(map(str, figure.panels[index].box)),
                           panels_skipped=skipped)
        tables.append(table)
        summaries.append(summary)
    for summary in summaries:
        summary["seconds"] = time.perf_counter() - start
    if not panels:
        return tables[0], summaries[0]
    return pd.concat(tables, ignore_index=True), summaries


def _measured(result, array, key: str, scale, unit: str, exclude_border: bool) -> tuple[pd.DataFrame, dict]:
    """The particle table and summary row of one segmented micrograph (or panel)."""
    auto = isinstance(scale, str)
    calibrated = auto and result.calibration.known
    pixel, u = (result.calibration.nm_per_px if calibrated else 1.0, "nm") if auto else resolve_scale(scale, unit)
    table = measure(result.labels, scale=pixel, unit=u, image=array,
                    uncertainty=result.mutual_information, exclude_border=False)
    if auto and not calibrated:  # lengths unknown: NaN, not pixels under a nm heading
        table[[c for c in table.columns if c.endswith(("_nm", "_nm2"))]] = np.nan
    at_border = int(table["touches_border"].sum())
    if exclude_border:
        table = table[~table["touches_border"]].reset_index(drop=True)
    table.insert(0, "image", pd.Series([key] * len(table), dtype=str))
    stats = summarize(table)
    summary = {
        "image": key,
        "rows": int(array.shape[0]),
        "cols": int(array.shape[1]),
        "count": stats["count"],
        "unit": u,
        f"diameter_mean_{u}": stats["diameter"]["mean"],
        f"diameter_median_{u}": stats["diameter"]["median"],
        f"diameter_std_{u}": stats["diameter"]["std"],
        "pdi": stats["polydispersity_index"],
        "aspect_ratio_mean": stats["aspect_ratio"]["mean"],
        "aspect_ratio_median": stats["aspect_ratio"]["median"],
        "instances_found": int(len(result.instances)),
        "filtered_out": int(len(result.instances) - result.count),
        "at_border": at_border,
        "samples": int(result.samples),
        "tu": float(result.tu) if math.isfinite(result.tu) else None,
        **calibration_fields(result),
    }
    if not auto:
        summary.update(calibration_source="manual" if u != "px" else None, nm_per_px=None if u != "nm" else pixel)
    return table, summary


# --------------------------------------------------------------------------- workers
@dataclass(frozen=True)
class _Task:
    """Everything a worker needs to analyse one image (small, picklable)."""

    key: str
    path: str
    samples: int
    tu: float
    pixel_size: Optional[float]
    unit: str
    exclude_border: bool
    seed: int
    weights: Optional[str]
    device: Optional[str]
    threads: Optional[int] = None
    tiled: bool = False
    adaptive: bool = False
    auto_scale: bool = False
    annotations: Optional[bool] = None
    panels: bool = False


#: Models loaded in this process, by (weights, device): loaded once per worker process.
_MODELS: dict[tuple[Optional[str], Optional[str]], tuple[torch.nn.Module, str]] = {}


def _model_for(weights: Optional[str], device: Optional[str]) -> tuple[torch.nn.Module, str]:
    """The model (and the SHA-256 of its weights file) for this process, loaded on first use."""
    from .weights import load_model, resolve_weights, sha256_file

    key = (weights, device)
    if key not in _MODELS:
        path = resolve_weights(weights)
        _MODELS[key] = (load_model(path, device=device), sha256_file(path))
    return _MODELS[key]


def _init_worker(weights: Optional[str], device: Optional[str], threads: int) -> None:
    """Process-pool initializer: fix the thread count and load the model once."""
    torch.set_num_threads(threads)
    _model_for(weights, device)


def _run_task(task: _Task) -> dict[str, Any]:
    """Analyse one image where the task runs; failures come back as a message, not an exception."""
    if task.threads:
        torch.set_num_threads(task.threads)
    model, sha = _model_for(task.weights, task.device)
    try:
        table, summary = analyze_image(
            task.path, task.key, model, samples=task.samples, tu=task.tu,
            scale="auto" if task.auto_scale else task.pixel_size, annotations=task.annotations, panels=task.panels,
            unit=task.unit, exclude_border=task.exclude_border, seed=task.seed, tiled=task.tiled,
            adaptive=task.adaptive,
        )
    except (ImageError, FileNotFoundError) as exc:
        return {"key": task.key, "error": str(exc)}
    except Exception as exc:  # one bad image never stops the run
        return {"key": task.key, "error": f"{type(exc).__name__}: {exc}"}
    return {"key": task.key, "table": table, "summary": summary, "weights_sha256": sha}


def _default_threads(workers: int) -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return max(1, cores // max(1, workers))


@contextlib.contextmanager
def _torch_threads(threads: int) -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _run_here(tasks: list[_Task], threads: int) -> Iterator[dict[str, Any]]:
    with _torch_threads(threads):
        for task in tasks:
            yield _run_task(task)


def _run_pool(tasks: list[_Task], workers: int, threads: int, weights: Optional[str],
              device: Optional[str]) -> Iterator[dict[str, Any]]:
    context = multiprocessing.get_context("spawn")  # no fork of a process holding torch threads
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker,
                               initargs=(weights, device, threads))
    try:
        futures = {pool.submit(_run_task, task): task.key for task in tasks}
        for future in as_completed(futures):
            try:
                yield future.result()
            except BrokenProcessPool as exc:
                raise RuntimeError(
                    f"the worker processes stopped ({exc}); the weights could not be loaded or a "
                    "worker ran out of memory. Try --workers 1 to see the error."
                ) from None
            except Exception as exc:  # a worker died on this image
                yield {"key": futures[future], "error": f"{type(exc).__name__}: {exc}"}
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _run_dask(tasks: list[_Task], client) -> Iterator[dict[str, Any]]:
    distributed = _require("distributed", "running on a Dask cluster")
    futures = {client.submit(_run_task, task, pure=False): task.key for task in tasks}
    try:
        for future in distributed.as_completed(list(futures)):
            try:
                result = future.result()
            except Exception as exc:  # the worker died (KilledWorker) or the task was lost
                result = {"key": futures[future], "error": f"{type(exc).__name__}: {exc}"}
            future.release()
            yield result
    finally:
        pending = [f for f in futures if not f.done()]
        if pending:  # stopped early (interrupted, or a part could not be written)
            client.cancel(pending)


# --------------------------------------------------------------------------- entry point
def _open_client(client, scheduler: Optional[str]):
    """The Dask client to use and whether this function opened it (and must close it)."""
    if client is not None:
        return client, False
    distributed = _require("distributed", "--scheduler (running on a Dask cluster)")
    return distributed.Client(scheduler), True


def analyze(
    inputs: Inputs,
    out: Union[str, os.PathLike],
    *,
    workers: int = 1,
    client: Any = None,
    scheduler: Optional[str] = None,
    threads: Optional[int] = None,
    samples: int = DEFAULT_SAMPLES,
    tu: float = DEFAULT_TU,
    scale: Optional[Scale] = None,
    unit: str = "nm",
    exclude_border: bool = True,
    seed: int = 0,
    weights: Optional[Union[str, os.PathLike]] = None,
    device: Optional[str] = None,
    progress: Progress = True,
    tiled: bool = False,
    adaptive: bool = False,
    annotations: Optional[bool] = None,
    panels: bool = False,
) -> BatchResult:
    """Segment and measure many micrographs into one particle table, resumably.

    See :mod:`bpartis_nb.batchfiles` for the files written into ``out``.

    Parameters
    ----------
    inputs : path-like, glob pattern or sequence of path-like
        A folder (searched recursively), a pattern or image files (:func:`find_images`).
    out : path-like
        Output folder. If it holds an earlier run with the same settings, its finished
        images are skipped; with other settings the run is refused.
    workers : int
        Local processes. 1 runs in this process; more start a pool of spawned processes,
        each loading the model once.
    client : dask.distributed.Client, optional
        Run one task per image on this Dask cluster (each worker process loads the model
        once); results come back here and are written by this process.
    scheduler : str, optional
        Address of a Dask scheduler (``"tcp://host:8786"``) to connect to instead of
        passing ``client``.
    threads : int, optional
        Torch intra-op threads per task. Default: cores // workers locally, 1 on Dask
        (Dask scales by worker processes and threads).
    samples, tu
        Monte-Carlo samples T and uncertainty threshold t_u (:func:`bpartis_nb.segment`).
    scale : "auto", float or (length_px, value, unit), optional
        "auto": each image's own calibration (its metadata, else its scale bar), lengths
        in nm (NaN for images where none was found; their summary row says why);
        ``summaries.csv`` records each image's ``calibration_source`` and
        ``nm_per_px``. A number (or a scale bar) applies to every image in ``unit``;
        without it lengths are in pixels.
    unit : str
        Unit of ``scale``.
    exclude_border : bool
        Drop particles touching the image edge (:func:`bpartis_nb.measure`).
    seed : int
        Base seed; image ``key`` uses :func:`image_seed` (seed, key).
    weights : path-like, optional
        Weights file; the published weights by default (:func:`bpartis_nb.load_model`).
        On Dask, a file given here must be readable by the workers; by default each
        worker resolves the published weights itself. Either way the SHA-256 is checked
        against this run's.
    device : str, optional
        ``"cpu"``, ``"cuda"``, ... (default: CUDA when available).
    progress : bool or callable
        True: a progress bar over images (tqdm) with counts of done and failed;
        a callable ``f(key, status)`` is called instead as each image finishes, with
        status ``"done"`` or ``"failed"``.
    tiled : bool
        Run the network on overlapping tiles at a scale chosen per image (large
        micrographs with small particles; ``segment(..., tiled=True)``).
    adaptive : bool
        Stop Monte-Carlo sampling once the instances' uncertainties have settled
        (``samples`` is the maximum; :class:`bpartis_nb.montecarlo.Convergence`).
    annotations : bool, optional
        Set aside instances on scale bars, labels and info strips (default: when
        ``scale="auto"``; :func:`bpartis_nb.segment`).
    panels : bool
        Every image is a figure: each micrograph panel is analysed on its own, the
        others skipped (:func:`analyze_image`); the tables get a ``panel`` column and
        ``summaries.csv`` one row per panel.

    Returns
    -------
    BatchResult

    Raises
    ------
    SettingsMismatchError
        ``out`` holds results made with other settings.
    MissingDependencyError
        pyarrow (always) or dask.distributed (with ``client``/``scheduler``) is missing.
    FileNotFoundError
        No input image found.

    Examples
    --------
    >>> result = analyze("micrographs/", "results/", samples=30, scale=0.8)   # doctest: +SKIP
    >>> print(result)                                                         # doctest: +SKIP
    >>> result.table().groupby("image")["diameter_nm"].median()               # doctest: +SKIP
    """
    start = time.perf_counter()
    _require("pyarrow", "batch analysis (Parquet tables)")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if client is not None and scheduler is not None:
        raise ValueError("pass either client= or scheduler=, not both")
    on_dask = client is not None or scheduler is not None
    if on_dask and workers != 1:
        raise ValueError("workers= is for local processes; on a Dask cluster its own workers run the tasks")
    if on_dask:
        _require("distributed", "running on a Dask cluster")
    if samples < 0:
        raise ValueError(f"samples must be >= 0, got {samples}")
    if not tu > 0:
        raise ValueError(f"tu must be positive, got {tu}")
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    auto = isinstance(scale, str)
    if auto and scale.strip().lower() != "auto":
        raise ValueError(f"scale={scale!r}: use 'auto', a pixel size or (length_px, value, unit)")
    pixel, u = (None, "nm") if auto else resolve_scale(scale, unit)
    images = find_images(inputs)

    from .weights import resolve_weights, sha256_file

    weights_path = resolve_weights(weights)
    weights_sha256 = sha256_file(weights_path)
    settings = _settings(samples, tu, pixel, u, seed, exclude_border, weights_path, weights_sha256, tiled, adaptive,
                         scale="auto" if auto else "fixed", annotations=auto if annotations is None else annotations,
                         panels=bool(panels))

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with _exclusive(out):
        _check_settings(out, settings)
        _remove_stale_temporaries(out)
        todo = [key for key in images if not _is_finished(out, key)]
        skipped = len(images) - len(todo)
        if threads is None:
            threads = 1 if on_dask else _default_threads(workers)
        # a Dask worker resolves the published weights itself unless a file was named
        task_weights = str(weights_path) if (weights is not None or not on_dask) else None
        tasks = [
            _Task(key=key, path=str(images[key]), samples=int(samples), tu=float(tu), pixel_size=pixel, unit=u,
                  exclude_border=bool(exclude_border), seed=int(seed), weights=task_weights, device=device,
                  threads=threads if on_dask else None, tiled=bool(tiled), adaptive=bool(adaptive),
                  auto_scale=auto, annotations=annotations, panels=bool(panels))
            for key in todo
        ]
        bar = None
        if progress is True:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(images), initial=skipped, desc="analyze", unit="image")
            bar.set_postfix(done=0, failed=0, refresh=False)
        computed: list[str] = []
        errors: dict[str, str] = {}
        opened = None
        try:
            if not tasks:
                results: Iterator[dict[str, Any]] = iter(())
            elif on_dask:
                client, opened = _open_client(client, scheduler)
                results = _run_dask(tasks, client)
            elif workers == 1 or len(tasks) == 1:
                results = _run_here(tasks, threads)
            else:
                results = _run_pool(tasks, min(workers, len(tasks)), threads, task_weights, device)
            for result in results:
                key = result["key"]
                if "error" not in result and result["weights_sha256"] != weights_sha256:
                    result = {"key": key, "error": (
                        f"the worker used weights with sha256 {result['weights_sha256']}, this run "
                        f"{weights_sha256}; give every worker the same weights file (weights=PATH readable by all)")}
                if "error" in result:
                    errors[key] = result["error"]
                else:
                    _write_part(out, key, str(images[key]), result["table"], result["summary"], weights_sha256)
                    computed.append(key)
                if callable(progress):
                    progress(key, "failed" if key in errors else "done")
                elif bar is not None:
                    bar.set_postfix(done=len(computed), failed=len(errors), refresh=False)
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
            if opened:
                client.close()
        paths = assemble(out)
        error_table = pd.DataFrame(
            {"image": list(errors), "error": list(errors.values()), "path": [str(images[k]) for k in errors]},
            columns=["image", "error", "path"],
        ).sort_values("image", kind="stable")
        paths["errors"] = atomic_write(out / "errors.csv", lambda p: error_table.to_csv(p, index=False))
        paths["settings"] = out / "settings.json"
        particles = len(pd.read_parquet(paths["particles"], columns=["image"]))
    return BatchResult(out=out, images=len(images), done=len(computed), skipped=skipped, failed=len(errors),
                       particles=particles, seconds=time.perf_counter() - start, computed=computed,
                       errors=dict(sorted(errors.items())), paths=paths)
