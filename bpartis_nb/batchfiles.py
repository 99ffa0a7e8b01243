"""The output folder of batch analysis: finding the images, naming their parts, the
settings a folder was made with, and the tables assembled from the parts.

:func:`bpartis_nb.batch.analyze` writes into one output folder ``OUT``:

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
"""
from __future__ import annotations

import contextlib
import glob as _glob
import hashlib
import json
import math
import os
import re
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence, Union

import numpy as np
import pandas as pd

from .analysis import measure
from .io import atomic_write

__all__ = [
    "IMAGE_EXTENSIONS",
    "LAYOUT_VERSION",
    "BatchResult",
    "SettingsMismatchError",
    "find_images",
    "part_name",
    "image_seed",
    "assemble",
]

#: File name endings (lower case) taken as images when the input is a folder.
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")

#: Version of the layout of ``OUT``; a folder written with another layout is not resumed.
LAYOUT_VERSION = 1

#: The settings that must match for a run to resume an output folder.
_COMPARED = ("layout", "samples", "tu", "pixel_size", "unit", "scale", "annotations", "panels", "seed", "exclude_border",
             "tiled", "adaptive", "weights_sha256")
#: What runs written before "scale", "annotations" and "panels" were recorded used.
_BEFORE_CALIBRATION = {"scale": "fixed", "annotations": False, "panels": False}

Inputs = Union[str, os.PathLike, Sequence[Union[str, os.PathLike]]]


class SettingsMismatchError(ValueError):
    """The output folder holds results made with other settings; the message names them."""


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


# --------------------------------------------------------------------------- output folder
def _settings(samples: int, tu: float, pixel: float, unit: str, seed: int, exclude_border: bool,
              weights_path: Path, weights_sha256: str, tiled: bool = False, adaptive: bool = False,
              scale: str = "fixed", annotations: bool = False, panels: bool = False) -> dict[str, Any]:
    from . import __version__

    return {
        "layout": LAYOUT_VERSION,
        "samples": int(samples),
        "tu": float(tu),
        "pixel_size": None if unit == "px" or pixel is None else float(pixel),
        "unit": unit,
        "scale": scale,
        "annotations": bool(annotations),
        "panels": bool(panels),
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
        differ = [k for k in _COMPARED if old.get(k, _BEFORE_CALIBRATION.get(k)) != settings[k]]
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


def _write_part(out: Path, key: str, path: str, table: pd.DataFrame,
                summary: Union[dict[str, Any], list[dict[str, Any]]], weights_sha256: str) -> None:
    table_path, marker = _part_paths(out, key)
    atomic_write(table_path, lambda p: table.to_parquet(p, index=False))
    clean = [{k: _clean(v) for k, v in row.items()} for row in (summary if isinstance(summary, list) else [summary])]
    record = {"image": key, "path": path, "weights_sha256": weights_sha256,
              "summary": clean if isinstance(summary, list) else clean[0]}
    atomic_write(marker, lambda p: p.write_text(json.dumps(record, indent=1) + "\n"))  # last: marks it finished


def _empty_table(settings: dict[str, Any]) -> pd.DataFrame:
    """A particle table with no rows and the columns a run with ``settings`` gives."""
    zeros = np.zeros((16, 16), np.int32)
    table = measure(zeros, scale=settings["pixel_size"] or (1.0 if settings.get("scale") == "auto" else None),
                    unit=settings["unit"], image=zeros,
                    uncertainty=zeros.astype(np.float32) if settings["samples"] > 0 else None)
    table.insert(0, "image", pd.Series([], dtype=str))
    if settings.get("panels"):
        table.insert(1, "panel", pd.Series([], dtype="int64"))
    return table


#: Summary columns that hold text (the others are numbers).
TEXT_COLUMNS = ("image", "unit", "calibration_source", "calibration", "calibration_warnings", "panel_box",
                "panels_skipped")


def assemble(out: Union[str, os.PathLike]) -> dict[str, Path]:
    """Write ``particles.parquet``, ``particles.csv`` and ``summaries.csv`` from all parts in ``out``.

    Parameters
    ----------
    out : path-like
        An output folder of :func:`~bpartis_nb.batch.analyze`.

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
        summary = json.loads(marker.read_text())["summary"]
        rows.extend(summary if isinstance(summary, list) else [summary])  # a figure: one row per panel
    filled = [t for t in tables if len(t)]
    particles = pd.concat(filled, ignore_index=True) if filled else _empty_table(settings)
    order = ["image", "panel", "id"] if "panel" in particles.columns else ["image", "id"]
    particles = particles.sort_values(order, kind="stable").reset_index(drop=True)
    summaries = pd.DataFrame.from_records(rows) if rows else pd.DataFrame({"image": pd.Series([], dtype=str)})
    for column in summaries.columns:
        if column not in TEXT_COLUMNS:
            summaries[column] = pd.to_numeric(summaries[column])
    order = ["image", "panel"] if "panel" in summaries.columns else ["image"]
    summaries = summaries.sort_values(order, kind="stable").reset_index(drop=True)
    return {
        "particles": atomic_write(out / "particles.parquet", lambda p: particles.to_parquet(p, index=False)),
        "csv": atomic_write(out / "particles.csv", lambda p: particles.to_csv(p, index=False)),
        "summaries": atomic_write(out / "summaries.csv", lambda p: summaries.to_csv(p, index=False)),
    }


# --------------------------------------------------------------------------- the result
@dataclass
class BatchResult:
    """What :func:`bpartis_nb.batch.analyze` did.

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

