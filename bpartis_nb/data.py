"""The EMPS data set (Electron Microscopy Particle Segmentation; Yildirim & Cole 2021).

465 micrographs mined from the literature with instance maps (MIT licence,
github.com/by256/emps). Layout of a local copy::

    images/<stem>.png     RGB micrograph
    segmaps/<stem>.png    16-bit instance map, 0 = background
    train.csv, test.csv   the paper's 366/99 split, one stem per line
    metadata.csv          file name, DOI, figure locator, polygons

Where the data come from: an explicit path, else the environment variable
``BPARTIS_NB_EMPS``, else the user cache (``<cache>/emps``).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Union

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from .io import read_image

__all__ = ["emps_root", "split_names", "load_emps_image", "load_emps_labels", "ENV_EMPS", "SPLITS"]

ENV_EMPS = "BPARTIS_NB_EMPS"
SPLITS = ("train", "test")


def emps_root(path: Optional[Union[str, os.PathLike]] = None) -> Path:
    """Locate a local copy of EMPS.

    Parameters
    ----------
    path : path-like, optional
        Explicit location; else ``$BPARTIS_NB_EMPS``; else the user cache.

    Raises
    ------
    FileNotFoundError
        No copy found, with what to do about it.
    """
    from .weights import cache_dir

    candidates = []
    if path is not None:
        candidates.append(("the given path", Path(path)))
    elif os.environ.get(ENV_EMPS):
        candidates.append((f"${ENV_EMPS}", Path(os.environ[ENV_EMPS])))
    else:
        candidates.append(("the cache", cache_dir() / "emps"))
    where, root = candidates[0]
    if not (root / "images").is_dir() or not (root / "segmaps").is_dir() or not (root / "test.csv").is_file():
        raise FileNotFoundError(
            f"no EMPS data set at {root} ({where}): expected images/, segmaps/ and test.csv there. "
            f"Clone https://github.com/by256/emps and pass its folder (--emps DIR) or set {ENV_EMPS}=DIR."
        )
    return root


def split_names(root: Union[str, os.PathLike], split: str = "test") -> list[str]:
    """File stems of a split, in the order of ``<split>.csv``."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    lines = (Path(root) / f"{split}.csv").read_text().split()
    return [line.strip().removesuffix(".png") for line in lines if line.strip()]


def load_emps_image(root: Union[str, os.PathLike], name: str) -> NDArray[np.uint8]:
    """The RGB micrograph ``images/<name>.png``, shape (M, N, 3), uint8."""
    return read_image(Path(root) / "images" / f"{name}.png")


def load_emps_labels(root: Union[str, os.PathLike], name: str) -> NDArray[np.int32]:
    """The instance map ``segmaps/<name>.png``, shape (M, N), int32, 0 = background."""
    with Image.open(Path(root) / "segmaps" / f"{name}.png") as im:
        return np.asarray(im).astype(np.int32)
