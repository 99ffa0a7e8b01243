"""Batch analysis: segment and measure many micrographs into one particle table.

:func:`analyze` runs :func:`~bpartis_nb.inference.segment` and
:func:`~bpartis_nb.analysis.measure` on every image of a folder, a glob pattern or a
list, in this process, in a local process pool or on a Dask cluster, and writes into
one output folder ``OUT``:

``settings.json``
    The settings every result in ``OUT`` was made with (T, t_u, pixel size, seed,
    border rule, SHA-256 of the weights). A later run with other settings is refused.
``parts/<name>.parquet``, ``parts/<name>.json``
    Each image's particle table and summary, written as soon as the image is finished
    (``<name>`` is :func:`part_name` of the image's key). The JSON file is written last
    and marks the image as finished.
``particles.parquet``, ``particles.csv``
    One row per particle of every finished image: an ``image`` column (the key), then
    the columns of :func:`~bpartis_nb.analysis.measure`, sorted by image and particle id.
``summaries.csv``
    One row per finished image: counts, diameter statistics, PDI, instances found and
    filtered out, seconds.
``errors.csv``
    The images that failed in the last run, with the reason. They are tried again by
    the next run.

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
import glob as _glob
import hashlib
import json
import math
import multiprocessing
import os
import re
import time
import zlib
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence, Union

import numpy as np
import pandas as pd
import torch

from .analysis import Scale, measure, resolve_scale, summarize
from .inference import DEFAULT_SAMPLES, DEFAULT_TU, segment
from .io import ImageError, atomic_write, read_image

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

#: File name endings (lower case) taken as images when the input is a folder.
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")

#: Version of the layout of ``OUT``; a folder written with another layout is not resumed.
LAYOUT_VERSION = 1

#: The settings that must match for a run to resume an output folder.
_COMPARED = ("layout", "samples", "tu", "pixel_size", "unit", "seed", "exclude_border", "tiled", "adaptive",
             "weights_sha256")

_INSTALL_HINT = 'pip install "bpartis-nb[batch]"'

Inputs = Union[str, os.PathLike, Sequence[Union[str, os.PathLike]]]
Progress = Union[bool, Callable[[str, str], None]]


class SettingsMismatchError(ValueError):
    """The output folder holds results made with other settings; the message names them."""


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


# --------------------------------------------------------------------------- inputs and keys
def _is_hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def _unique_keys(paths: Sequence[Path]) -> dict[str, Path]:
    """Key each path by its file name, adding parent folders only where names clash."""
    absolute = list(dict.fromkeys(p.absolute() for p in paths))  # drop repeats, keep order
    depth = {p: 1 for p in absolute}
    while True:
        keys = {p: "/".join(p.parts[-depth[p]:]) for p in absolute}
        groups: dict[str, list[Path]] = defaultdict(list)
        for p, k in keys.items():
            groups[k].append(p)
        clashes = [g for g in groups.values() if len(g) > 1]
        if not clashes:
            return {k: p for p, k in keys.items()}
        for group in clashes:
            for p in group:
                depth[p] = min(depth[p] + 1, len(p.parts))


def find_images(inputs: Inputs) -> dict[str, Path]:
    """The images to analyse, keyed by a unique name, sorted by key.

    Parameters
    ----------
    inputs : path-like, str or sequence of path-like
        A folder: every file in it or below it whose name ends in one of
        :data:`IMAGE_EXTENSIONS` (any case; hidden files and folders are skipped), keyed
        by its path relative to the folder (``"sub/a.png"``). A glob pattern
        (``"data/*.tif"``, ``**`` recurses) or a sequence of files: every file, keyed by
        its file name, with parent folders prepended only where two names clash.
        A single existing file is taken like a one-element sequence.

    Returns
    -------
    dict
        Key -> path, in key order.

    Raises
    ------
    FileNotFoundError
        The folder holds no image file, the pattern matches nothing, or a path that is
        no pattern does not exist.

    Examples
    --------
    >>> keys = find_images(["/data/a/x.png", "/data/b/x.png", "/data/b/y.png"])
    >>> list(keys)
    ['a/x.png', 'b/x.png', 'y.png']
    """
    if isinstance(inputs, (str, os.PathLike)):
        path = Path(inputs).expanduser()
        if path.is_dir():
            files = [p for p in path.rglob("*")
                     if p.suffix.lower() in IMAGE_EXTENSIONS and not _is_hidden(p.relative_to(path)) and p.is_file()]
            if not files:
                raise FileNotFoundError(
                    f"no image files ({', '.join(IMAGE_EXTENSIONS)}) in {path} or its subfolders"
                )
            return dict(sorted((p.relative_to(path).as_posix(), p) for p in files))
        if path.is_file():
            return _sorted(_unique_keys([path]))
        text = os.path.expanduser(os.fspath(inputs))
        if not _glob.has_magic(text):
            raise FileNotFoundError(f"{text}: no such folder or file (pass a folder, a glob pattern or image files)")
        files = sorted(Path(p) for p in _glob.glob(text, recursive=True) if os.path.isfile(p))
        if not files:
            raise FileNotFoundError(f"no file matches the pattern {text}")
        return _sorted(_unique_keys(files))
    return _sorted(_unique_keys([Path(p).expanduser() for p in inputs]))


def _sorted(keys: dict[str, Path]) -> dict[str, Path]:
    return dict(sorted(keys.items()))


def part_name(key: str) -> str:
    """A file-system-safe, unique file name (without suffix) for an image key.

    The key with every character other than letters, digits, ``.``, ``_`` and ``-``
    replaced by ``_`` (at most 80 of them, no leading dot), then ``-`` and the first 10
    hex digits of the key's SHA-1, so that keys differing only in case or in replaced
    characters get different names.

    Examples
    --------
    >>> part_name("sub/a b.png")[:-10]
    'sub_a_b.png-'
    >>> part_name("A.png") != part_name("a.png")
    True
    """
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", key).lstrip(".")[:80] or "image"
    return f"{safe}-{hashlib.sha1(key.encode('utf-8')).hexdigest()[:10]}"


def image_seed(seed: int, key: str) -> int:
    """The dropout seed of one image: a function of the base seed and the image key only.

    ``(seed * 2**32 + crc32(key)) mod 2**63``, so that every image gets its own draws
    and the result does not depend on which worker runs it or when.

    Examples
    --------
    >>> image_seed(0, "a.png") == zlib.crc32(b"a.png")
    True
    >>> image_seed(1, "a.png") - image_seed(0, "a.png")
    4294967296
    """
    return (int(seed) * 2**32 + zlib.crc32(key.encode("utf-8"))) % 2**63


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
) -> tuple[pd.DataFrame, dict[str, Any]]:
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
    scale, unit, exclude_border
        As :func:`bpartis_nb.measure`.
    seed : int
        Base seed of the dropout draws.
    tiled, adaptive : bool
        As :func:`bpartis_nb.segment`: native-resolution tiles; adaptive sampling
        (``samples`` is then the maximum; the summary's ``samples`` is the number used).

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
        dropout seed) and ``seconds``.

    Raises
    ------
    FileNotFoundError, bpartis_nb.ImageError
        The file is missing or not a readable micrograph.
    """
    start = time.perf_counter()
    array = read_image(image)
    dropout_seed = image_seed(seed, key)
    result = segment(array, samples=samples, tu=tu, model=model, seed=dropout_seed, tiled=tiled, adaptive=adaptive)
    pixel, u = resolve_scale(scale, unit)
    table = measure(result.labels, scale=pixel, unit=u, image=array,
                    uncertainty=result.mutual_information, exclude_border=False)
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
        "seed": dropout_seed,
        "seconds": time.perf_counter() - start,
    }
    return table, summary


# --------------------------------------------------------------------------- workers
@dataclass(frozen=True)
class _Task:
    """Everything a worker needs to analyse one image (small, picklable)."""

    key: str
    path: str
    samples: int
    tu: float
    pixel_size: float
    unit: str
    exclude_border: bool
    seed: int
    weights: Optional[str]
    device: Optional[str]
    threads: Optional[int] = None
    tiled: bool = False
    adaptive: bool = False


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
            task.path, task.key, model, samples=task.samples, tu=task.tu, scale=task.pixel_size,
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


# --------------------------------------------------------------------------- output folder
def _settings(samples: int, tu: float, pixel: float, unit: str, seed: int, exclude_border: bool,
              weights_path: Path, weights_sha256: str, tiled: bool = False, adaptive: bool = False) -> dict[str, Any]:
    from . import __version__

    return {
        "layout": LAYOUT_VERSION,
        "samples": int(samples),
        "tu": float(tu),
        "pixel_size": None if unit == "px" else float(pixel),
        "unit": unit,
        "seed": int(seed),
        "exclude_border": bool(exclude_border),
        "tiled": bool(tiled),
        "adaptive": bool(adaptive),
        "weights_sha256": weights_sha256,
        "weights_path": str(weights_path),
        "bpartis_nb_version": __version__,
    }


def _check_settings(out: Path, settings: dict[str, Any]) -> None:
    """Write ``OUT/settings.json``, or check that the one there matches."""
    path = out / "settings.json"
    if path.is_file():
        try:
            old = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise SettingsMismatchError(
                f"{path} cannot be read ({exc}); use another --out, or delete {out} to start again"
            ) from None
        differ = [k for k in _COMPARED if old.get(k) != settings[k]]
        if differ:
            detail = "; ".join(f"{k} {old.get(k)!r} there, {settings[k]!r} now" for k in differ)
            raise SettingsMismatchError(
                f"{out} holds results made with other settings ({detail}). Use another --out for "
                f"these settings, or rerun with the same settings as {path} to resume."
            )
        return
    if any((out / "parts").glob("*.json")):
        raise SettingsMismatchError(
            f"{out}/parts holds results but {path} is missing, so their settings are unknown; "
            "use another --out, or delete the folder to start again"
        )
    atomic_write(path, lambda p: p.write_text(json.dumps(settings, indent=1) + "\n"))


@contextlib.contextmanager
def _exclusive(out: Path) -> Iterator[None]:
    """Hold a lock on ``OUT`` so that two runs never write into the same folder at once."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no lock
        yield
        return
    with open(out / ".lock", "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise RuntimeError(
                f"another bpartis-nb analyze is writing into {out}; wait for it to finish or use another --out"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _remove_stale_temporaries(out: Path) -> None:
    """Remove temporary files left by a killed run (``atomic_write``'s ``.<name>.*.part.*``)."""
    for folder in (out, out / "parts"):
        for tmp in folder.glob(".*.part.*"):
            tmp.unlink(missing_ok=True)


def _part_paths(out: Path, key: str) -> tuple[Path, Path]:
    name = part_name(key)
    return out / "parts" / f"{name}.parquet", out / "parts" / f"{name}.json"


def _is_finished(out: Path, key: str) -> bool:
    table, marker = _part_paths(out, key)
    return table.is_file() and marker.is_file()


def _clean(value: Any) -> Any:
    """JSON-safe value: NaN and infinities become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _write_part(out: Path, key: str, path: str, table: pd.DataFrame, summary: dict[str, Any],
                weights_sha256: str) -> None:
    table_path, marker = _part_paths(out, key)
    atomic_write(table_path, lambda p: table.to_parquet(p, index=False))
    record = {"image": key, "path": path, "weights_sha256": weights_sha256,
              "summary": {k: _clean(v) for k, v in summary.items()}}
    atomic_write(marker, lambda p: p.write_text(json.dumps(record, indent=1) + "\n"))  # last: marks it finished


def _empty_table(settings: dict[str, Any]) -> pd.DataFrame:
    """A particle table with no rows and the columns a run with ``settings`` gives."""
    zeros = np.zeros((16, 16), np.int32)
    table = measure(zeros, scale=settings["pixel_size"], unit=settings["unit"], image=zeros,
                    uncertainty=zeros.astype(np.float32) if settings["samples"] > 0 else None)
    table.insert(0, "image", pd.Series([], dtype=str))
    return table


def assemble(out: Union[str, os.PathLike]) -> dict[str, Path]:
    """Write ``particles.parquet``, ``particles.csv`` and ``summaries.csv`` from all parts in ``out``.

    Parameters
    ----------
    out : path-like
        An output folder of :func:`analyze`.

    Returns
    -------
    dict
        ``"particles"``, ``"csv"``, ``"summaries"`` -> path. The particle table is sorted
        by ``image`` then ``id``, the summaries by ``image``, whatever order the parts
        were written in.
    """
    out = Path(out)
    settings = json.loads((out / "settings.json").read_text())
    tables, rows = [], []
    for marker in sorted((out / "parts").glob("*.json")):
        if marker.name.startswith("."):
            continue
        table_path = marker.with_name(marker.name[: -len(".json")] + ".parquet")
        if not table_path.is_file():
            continue  # not finished: the next run computes it again
        tables.append(pd.read_parquet(table_path))
        rows.append(json.loads(marker.read_text())["summary"])
    filled = [t for t in tables if len(t)]
    particles = pd.concat(filled, ignore_index=True) if filled else _empty_table(settings)
    particles = particles.sort_values(["image", "id"], kind="stable").reset_index(drop=True)
    summaries = pd.DataFrame.from_records(rows) if rows else pd.DataFrame({"image": pd.Series([], dtype=str)})
    for column in summaries.columns:
        if column not in ("image", "unit"):
            summaries[column] = pd.to_numeric(summaries[column])
    summaries = summaries.sort_values("image", kind="stable").reset_index(drop=True)
    return {
        "particles": atomic_write(out / "particles.parquet", lambda p: particles.to_parquet(p, index=False)),
        "csv": atomic_write(out / "particles.csv", lambda p: particles.to_csv(p, index=False)),
        "summaries": atomic_write(out / "summaries.csv", lambda p: summaries.to_csv(p, index=False)),
    }


# --------------------------------------------------------------------------- entry point
@dataclass
class BatchResult:
    """What :func:`analyze` did.

    Attributes
    ----------
    out : Path
        The output folder.
    images : int
        Images found in the input.
    done : int
        Images analysed by this run.
    skipped : int
        Images already finished by an earlier run (not analysed again).
    failed : int
        Images that failed in this run (listed in ``errors.csv``).
    particles : int
        Rows of the particle table (all finished images in ``out``).
    seconds : float
        Wall time of the run.
    computed : list of str
        Keys of the images analysed by this run, in the order they finished.
    errors : dict
        Key -> reason, for the images that failed.
    paths : dict
        ``"particles"``, ``"csv"``, ``"summaries"``, ``"errors"``, ``"settings"`` -> path.
    """

    out: Path
    images: int
    done: int
    skipped: int
    failed: int
    particles: int
    seconds: float
    computed: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    paths: dict[str, Path] = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """The particle table (read from ``particles.parquet``)."""
        return pd.read_parquet(self.paths["particles"])

    def summaries(self) -> pd.DataFrame:
        """The per-image summaries (read from ``summaries.csv``)."""
        return pd.read_csv(self.paths["summaries"])

    def __str__(self) -> str:
        images = f"{self.images} image{'' if self.images == 1 else 's'}"
        text = (f"{images}: {self.done} analysed, {self.skipped} already done, {self.failed} failed; "
                f"{self.particles} particles in {self.paths.get('particles', self.out)} ({self.seconds:.1f} s)")
        if self.failed:
            text += f"; reasons in {self.paths.get('errors')}"
        return text


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
) -> BatchResult:
    """Segment and measure many micrographs into one particle table, resumably.

    See the module documentation for the files written into ``out``.

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
    scale : float or (length_px, value, unit), optional
        Size of one pixel in ``unit`` (or a scale bar) for every image; lengths in
        pixels without it.
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
        (``samples`` is the maximum; :class:`bpartis_nb.inference.Convergence`).

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
    pixel, u = resolve_scale(scale, unit)
    images = find_images(inputs)

    from .weights import resolve_weights, sha256_file

    weights_path = resolve_weights(weights)
    weights_sha256 = sha256_file(weights_path)
    settings = _settings(samples, tu, pixel, u, seed, exclude_border, weights_path, weights_sha256, tiled, adaptive)

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
                  threads=threads if on_dask else None, tiled=bool(tiled), adaptive=bool(adaptive))
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
