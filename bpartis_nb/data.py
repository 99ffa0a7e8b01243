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

__all__ = [
    "fetch_emps",
    "EMPS_COMMIT",
    "emps_root",
    "split_names",
    "load_emps_image",
    "load_emps_labels",
    "load_metadata",
    "rasterize_regions",
    "region_scale",
    "validation_split",
    "dataset_statistics",
    "EMPSDataset",
    "ENV_EMPS",
    "SPLITS",
]

ENV_EMPS = "BPARTIS_NB_EMPS"
#: Overrides the archive fetch_emps downloads (a mirror, or a local server in tests).
ENV_EMPS_URL = "BPARTIS_NB_EMPS_URL"
#: The commit of github.com/by256/emps that fetch_emps downloads.
EMPS_COMMIT = "d9a7e0ac6c229e9e166cfe5ec56c8dac959cfc11"
EMPS_URL = "https://github.com/by256/emps/archive/{commit}.zip"
EMPS_IMAGES = 465
SPLITS = ("train", "test")


def emps_root(path: Optional[Union[str, os.PathLike]] = None, download: bool = False) -> Path:
    """Locate a local copy of EMPS.

    Parameters
    ----------
    path : path-like, optional
        Explicit location; else ``$BPARTIS_NB_EMPS``; else the user cache.
    download : bool
        When no copy is found in the cache (and neither ``path`` nor the environment
        variable names one), download it with :func:`fetch_emps` (for Binder and Colab).

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
    if download and where == "the cache" and not (root / "test.csv").is_file():
        return fetch_emps(root)
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


def load_metadata(root: Union[str, os.PathLike]):
    """``metadata.csv`` as a DataFrame indexed by file stem: ``doi``, ``locator`` and
    ``regions`` (the VIA annotations, parsed into lists of dicts)."""
    import ast

    import pandas as pd

    table = pd.read_csv(Path(root) / "metadata.csv")
    table["regions"] = table["regions"].map(ast.literal_eval)
    table.index = table["filename"].str.removesuffix(".png")
    return table


def region_scale(regions: list, labels: NDArray) -> tuple[float, float]:
    """Estimate (row, col) factors from the annotation's coordinates to a stored map.

    The polygons were drawn on the original figures; the stored images were resized
    (shorter side 512). The factors are the ratios of the extents of all instances in the
    map to the extents of all region coordinates.
    """
    ys, xs = [], []
    for region in regions:
        a = region["shape_attributes"]
        if "all_points_x" in a:
            xs += list(a["all_points_x"])
            ys += list(a["all_points_y"])
        else:
            rx, ry = a.get("rx", a.get("r", 0)), a.get("ry", a.get("r", 0))
            xs += [a["cx"] - rx, a["cx"] + rx]
            ys += [a["cy"] - ry, a["cy"] + ry]
    rr, cc = np.nonzero(np.asarray(labels) > 0)
    if not len(rr) or max(ys) == min(ys) or max(xs) == min(xs):
        return 1.0, 1.0
    return (rr.max() - rr.min() + 1) / (max(ys) - min(ys) + 1), (cc.max() - cc.min() + 1) / (max(xs) - min(xs) + 1)


def rasterize_regions(
    regions: list, shape: tuple[int, int], scale: tuple[float, float] = (1.0, 1.0)
) -> NDArray[np.int32]:
    """Instance map from VIA regions (polylines/polygons, circles, ellipses), ids in order.

    Parameters
    ----------
    regions : list of dict
        Each with ``shape_attributes``: ``name`` and its points or centre and radii.
    shape : (rows, cols)
    scale : (float, float)
        Factors from annotation coordinates to pixels of ``shape`` (see :func:`region_scale`).

    Returns
    -------
    ndarray of shape ``shape``, int32; later regions are drawn over earlier ones.
    """
    from skimage.draw import ellipse, polygon

    fy, fx = scale
    out = np.zeros(shape, np.int32)
    for k, region in enumerate(regions, 1):
        a = region["shape_attributes"]
        if a["name"] in ("polyline", "polygon"):
            rr, cc = polygon(np.asarray(a["all_points_y"]) * fy, np.asarray(a["all_points_x"]) * fx, shape)
        elif a["name"] == "circle":
            rr, cc = ellipse(a["cy"] * fy, a["cx"] * fx, a["r"] * fy, a["r"] * fx, shape)
        elif a["name"] == "ellipse":
            rr, cc = ellipse(a["cy"] * fy, a["cx"] * fx, a["ry"] * fy, a["rx"] * fx, shape,
                             rotation=-float(a.get("theta", 0.0)))
        else:
            raise ValueError(f"unknown region shape {a['name']!r}")
        out[rr, cc] = k
    return out


def validation_split(
    root: Union[str, os.PathLike], fraction: float = 0.15, seed: int = 0
) -> tuple[list[str], list[str]]:
    """Carve a validation set out of the train split, whole publications at a time.

    Images of one publication (DOI in ``metadata.csv``) look alike, so they all go to the
    same side, as the paper's train/test split does.

    Returns
    -------
    train, validation : list of str
        File stems; together the train split, in its order.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    names = split_names(root, "train")
    doi = load_metadata(root)["doi"]
    groups = sorted({doi[n] for n in names})
    rng = np.random.default_rng(seed)
    rng.shuffle(groups)
    target = fraction * len(names)
    chosen, count = set(), 0
    for g in groups:
        if count >= target:
            break
        chosen.add(g)
        count += sum(doi[n] == g for n in names)
    return [n for n in names if doi[n] not in chosen], [n for n in names if doi[n] in chosen]


def dataset_statistics(root: Union[str, os.PathLike], split: str = "train"):
    """Per-image statistics for exploration (the paper's Figure 3).

    Returns
    -------
    images : DataFrame
        ``name``, ``particles`` (instances per image), ``height``, ``width``.
    instances : DataFrame
        ``name``, ``id``, ``area_px``, ``fraction`` (instance area / image area).
    """
    import pandas as pd

    rows, inst = [], []
    for name in split_names(root, split):
        labels = load_emps_labels(root, name)
        ids, counts = np.unique(labels[labels > 0], return_counts=True)
        rows.append({"name": name, "particles": len(ids), "height": labels.shape[0], "width": labels.shape[1]})
        inst += [{"name": name, "id": int(i), "area_px": int(c), "fraction": c / labels.size} for i, c in zip(ids, counts)]
    return pd.DataFrame(rows), pd.DataFrame(inst)


class EMPSDataset:
    """EMPS image and instance-map pairs as tensors, for training.

    Parameters
    ----------
    root : path-like, optional
        EMPS folder (see :func:`emps_root`).
    split : {"train", "test"}
    names : list of str, optional
        Explicit file stems (e.g. from :func:`validation_split`), instead of ``split``.
    size : int or None
        Square side to resize to (bicubic image, nearest labels); None keeps the size.
    augment : callable, optional
        ``augment(image, labels) -> (image, labels)`` (see :class:`bpartis_nb.augment.Augment`).

    Items are ``(image, labels)``: float tensor (3, size, size) in [0, 1] and int64 tensor
    (size, size).
    """

    def __init__(self, root=None, split: str = "train", names: Optional[list[str]] = None,
                 size: Optional[int] = 512, augment=None):
        self.root = emps_root(root)
        self.names = list(names) if names is not None else split_names(self.root, split)
        self.size = size
        self.augment = augment

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index: int):
        import torch

        from .preprocess import resize_labels, to_network_input

        name = self.names[index]
        image = load_emps_image(self.root, name)
        labels = load_emps_labels(self.root, name)
        if self.size is not None:
            x = to_network_input(image, self.size)[0]
            y = torch.from_numpy(resize_labels(labels, (self.size, self.size)).astype(np.int64))
        else:
            x = torch.from_numpy(np.ascontiguousarray(image[:, :, :3].transpose(2, 0, 1)) / 255.0).float()
            y = torch.from_numpy(labels.astype(np.int64))
        if self.augment is not None:
            x, y = self.augment(x, y)
        return x, y


def fetch_emps(
    dest: Optional[Union[str, os.PathLike]] = None,
    url: Optional[str] = None,
    expected_count: Optional[int] = None,
    progress: bool = True,
) -> Path:
    """Download EMPS into the cache (once), check it, and unpack it atomically.

    Parameters
    ----------
    dest : path-like, optional
        Where the data set goes; default ``<cache>/emps`` (what :func:`emps_root` finds).
    url : str, optional
        Archive to download; default ``$BPARTIS_NB_EMPS_URL``, else the pinned commit of
        github.com/by256/emps.
    expected_count : int, optional
        Images the splits must list (default 465, all of EMPS).
    progress : bool
        Progress bar over the download.

    Returns
    -------
    Path
        The data set folder.

    Raises
    ------
    RuntimeError
        Download failed or the archive is incomplete; nothing is left at ``dest``.

    Notes
    -----
    The check: ``train.csv`` and ``test.csv`` list ``expected_count`` distinct images, each
    with ``images/<stem>.png`` (RGB) and ``segmaps/<stem>.png`` (an instance map of the
    same size). A folder already checked (marker file ``.verified``) is reused.
    """
    import shutil
    import tempfile
    import urllib.request
    import zipfile

    from .weights import cache_dir

    dest = Path(dest) if dest is not None else cache_dir() / "emps"
    if (dest / ".verified").is_file():
        return dest
    url = url or os.environ.get(ENV_EMPS_URL) or EMPS_URL.format(commit=EMPS_COMMIT)
    expected_count = EMPS_IMAGES if expected_count is None else expected_count
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".emps-", dir=dest.parent))
    try:
        archive = work / "emps.zip"
        try:
            with urllib.request.urlopen(url, timeout=60) as response, open(archive, "wb") as out:
                total = int(response.headers.get("Content-Length") or 0) or None
                bar = None
                if progress:
                    from tqdm.auto import tqdm

                    bar = tqdm(total=total, unit="B", unit_scale=True, desc="EMPS")
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    if bar is not None:
                        bar.update(len(chunk))
                if bar is not None:
                    bar.close()
        except OSError as exc:
            raise RuntimeError(
                f"could not download EMPS from {url} ({exc}). Clone https://github.com/by256/emps "
                f"yourself and set {ENV_EMPS}=<folder> or pass --emps <folder>."
            ) from None
        try:
            with zipfile.ZipFile(archive) as z:
                z.extractall(work / "x")
        except zipfile.BadZipFile:
            raise RuntimeError(f"the download from {url} is not a zip archive") from None
        found = [p.parent for p in (work / "x").rglob("test.csv")]
        if len(found) != 1:
            raise RuntimeError(f"the archive from {url} does not hold one EMPS folder (test.csv found {len(found)} times)")
        _check_emps(found[0], expected_count)
        (found[0] / ".verified").write_text(url + "\n")
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(found[0], dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return dest


def _check_emps(root: Path, expected_count: int) -> None:
    names = split_names(root, "train") + split_names(root, "test")
    if len(set(names)) != expected_count:
        raise RuntimeError(f"EMPS archive lists {len(set(names))} images, expected {expected_count}")
    for name in names:
        image, labels = root / "images" / f"{name}.png", root / "segmaps" / f"{name}.png"
        if not image.is_file() or not labels.is_file():
            raise RuntimeError(f"EMPS archive is missing images/{name}.png or segmaps/{name}.png")
        with Image.open(image) as a, Image.open(labels) as b:
            if a.size != b.size:
                raise RuntimeError(f"EMPS image and instance map of {name} differ in size")
