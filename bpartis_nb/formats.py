"""Instrument files, read through RosettaSciIO: Gatan DM3/DM4, Velox and NCEM EMD, MRC, FEI TIA.

RosettaSciIO (``rsciio``) is an optional dependency: ``pip install "bpartis-nb[formats]"``.
It is imported only when such a file is read.

>>> image, calibration = read_instrument_image("particles.dm4")   # doctest: +SKIP
>>> calibration.nm_per_px                                         # doctest: +SKIP
0.15625
"""
from __future__ import annotations

import importlib
import os
import warnings
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np
from numpy.typing import NDArray

from .calibration.base import Calibration
from .calibration.metadata import image_axis_positions, signal_calibration
from .calibration.units import CalibrationWarning
from .imagearray import ImageError, as_image_array

__all__ = [
    "INSTRUMENT_SUFFIXES",
    "INSTALL_HINT",
    "FormatsExtraMissing",
    "read_signals",
    "read_instrument_image",
    "instrument_calibration",
]

#: File suffix -> RosettaSciIO plugin that reads it.
INSTRUMENT_SUFFIXES = {
    ".dm3": "digitalmicrograph",
    ".dm4": "digitalmicrograph",
    ".emd": "emd",
    ".mrc": "mrc",
    ".ser": "tia",
    ".emi": "tia",
}

_FORMAT_NAMES = {
    "digitalmicrograph": "Gatan DigitalMicrograph",
    "emd": "EMD (Velox or NCEM)",
    "mrc": "MRC",
    "tia": "FEI TIA",
}

#: Reader options: only the images of a Velox file (its EDS spectrum streams need more packages).
_READER_OPTIONS = {"emd": {"select_type": "images"}}

INSTALL_HINT = 'pip install "bpartis-nb[formats]"'


class FormatsExtraMissing(ImportError):
    """RosettaSciIO (the ``formats`` extra) is needed for this file and is not installed."""


def _existing(path: Union[str, os.PathLike]) -> tuple[Path, str]:
    """The path and its RosettaSciIO plugin; io-style errors for missing or unknown files."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}. Check the path or pass the image as an array.")
    if path.is_dir():
        raise ImageError(f"{path} is a folder, not an image file; pass one image file.")
    kind = INSTRUMENT_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise ImageError(f"{path.name} is not an instrument file read here (one of "
                         f"{', '.join(sorted(INSTRUMENT_SUFFIXES))}); use bpartis_nb.read_image.")
    return path, kind


def _plugin(kind: str, name: str) -> Any:
    """The RosettaSciIO plugin module, or FormatsExtraMissing naming the fix."""
    try:
        importlib.import_module("rsciio")
        return importlib.import_module(f"rsciio.{kind}")
    except ImportError as exc:
        raise FormatsExtraMissing(
            f"reading {name} ({_FORMAT_NAMES.get(kind, kind)}) needs RosettaSciIO and h5py, which are not "
            f"installed ({exc}). Install them with: {INSTALL_HINT}"
        ) from exc


def read_signals(path: Union[str, os.PathLike], *, lazy: bool = False) -> list[dict[str, Any]]:
    """All signals of an instrument file, as RosettaSciIO gives them.

    Parameters
    ----------
    path : str or os.PathLike
        A .dm3, .dm4, .emd, .mrc, .ser or .emi file.
    lazy : bool
        Leave the data on disk (RosettaSciIO's ``lazy``); for reading metadata only.

    Returns
    -------
    list of dict
        Each with ``data`` (array), ``axes`` (list of dicts: ``scale``, ``units``,
        ``size``, ``navigate``, ...), ``metadata`` and ``original_metadata``. For a
        Velox EMD, its images only (not its spectra).

    Raises
    ------
    FileNotFoundError, ImageError, FormatsExtraMissing
    """
    path, kind = _existing(path)
    plugin = _plugin(kind, path.name)
    try:
        signals = plugin.file_reader(str(path), lazy=lazy, **_READER_OPTIONS.get(kind, {}))
    except ImportError as exc:  # a reader's own optional dependency (h5py, sparse)
        raise FormatsExtraMissing(f"reading {path.name} needs a package that is not installed ({exc}). "
                                  f"Install them with: {INSTALL_HINT}") from exc
    except MemoryError:
        raise
    except Exception as exc:
        raise ImageError(
            f"{path.name} could not be read as a {_FORMAT_NAMES[kind]} file ({type(exc).__name__}: {exc}); "
            "the file is probably truncated, damaged or of another kind: export it again from the "
            "microscope software."
        ) from None
    if not signals:
        raise ImageError(f"{path.name} holds no data: export the image again from the microscope software.")
    return list(signals)


def _title(signal: Mapping[str, Any]) -> str:
    title = ((signal.get("metadata") or {}).get("General") or {}).get("title") or ""
    shape = "x".join(str(n) for n in np.shape(signal.get("data")))
    return f"'{title}' {shape}" if title else shape


def _image_indices(signals: Sequence[Mapping[str, Any]]) -> list[int]:
    return [i for i, s in enumerate(signals)
            if image_axis_positions(list(s.get("axes") or []), len(np.shape(s.get("data")))) is not None]


def _choose_signal(signals: Sequence[Mapping[str, Any]], signal: Optional[int], name: str, *, warn: bool) -> int:
    """Index of the signal to read: ``signal``, or the first image (with a warning if there are others)."""
    images = _image_indices(signals)
    listing = "; ".join(f"{i}: {_title(s)}" for i, s in enumerate(signals))
    if signal is not None:
        if not 0 <= signal < len(signals):
            raise ImageError(f"{name} holds {len(signals)} signal(s) ({listing}); signal={signal} is not one "
                             f"of them. Images are at {images}.")
        if signal not in images:
            raise ImageError(f"{name}: signal {signal} ({_title(signals[signal])}) is not a 2-D image; images "
                             f"are at {images}.")
        return signal
    if not images:
        raise ImageError(f"{name} holds no 2-D image ({listing}): BPartIS segments images, not spectra.")
    if warn and len(signals) > 1:
        warnings.warn(
            f"{name} holds {len(signals)} signals ({listing}); took signal {images[0]}. Pass signal=k to "
            f"read another (images are at {images}).", UserWarning, stacklevel=3)
    return images[0]


def _frame(signal: Mapping[str, Any], frame: Optional[int], name: str, index: int) -> NDArray:
    """One 2-D image of a signal: its frame ``frame`` (default 0, with a warning for a stack)."""
    data = signal["data"]
    data = np.asarray(data.compute() if hasattr(data, "compute") else data)
    rows, cols = image_axis_positions(list(signal.get("axes") or []), data.ndim)
    others = [p for p in range(data.ndim) if p not in (rows, cols)]
    stack = np.moveaxis(data, others + [rows, cols], list(range(data.ndim)))
    stack = stack.reshape(-1, data.shape[rows], data.shape[cols])
    count = stack.shape[0]
    if frame is None:
        if count > 1:
            warnings.warn(
                f"{name}: signal {index} is a stack of {count} images (frames "
                f"{'x'.join(str(data.shape[p]) for p in others)}); took frame 0. Pass frame=k "
                f"(0 to {count - 1}) to read another.", UserWarning, stacklevel=3)
        frame = 0
    elif not 0 <= frame < count:
        raise ImageError(f"{name}: signal {index} holds {count} frame(s); frame={frame} is not one of them "
                         f"(0 to {count - 1}).")
    image = stack[frame]
    if image.dtype.names and {"R", "G", "B"} <= set(image.dtype.names):  # DigitalMicrograph RGB(A)
        image = np.stack([image["R"], image["G"], image["B"]], axis=-1)
    return image


def read_instrument_image(
    path: Union[str, os.PathLike],
    *,
    signal: Optional[int] = None,
    frame: Optional[int] = None,
    calibration: bool = True,
) -> tuple[NDArray, Optional[Calibration]]:
    """One 2-D image of an instrument file and its pixel size.

    Parameters
    ----------
    path : str or os.PathLike
        A .dm3, .dm4, .emd, .mrc, .ser or .emi file.
    signal : int, optional
        Which signal of the file (files can hold several detectors or a thumbnail and an
        image); by default the first 2-D image, with a ``UserWarning`` when there are
        other signals.
    frame : int, optional
        Which image of a stack (a time series, tilt series or scan), counting over all
        its non-image axes; by default 0, with a ``UserWarning`` for a stack.
    calibration : bool
        False: skip reading the pixel size (the second item is then None).

    Returns
    -------
    image : ndarray of shape (M, N)
        The pixel values with the file's own dtype ((M, N, 3) for a DigitalMicrograph
        RGB image).
    calibration : Calibration or None
        From the signal's axes (see :func:`bpartis_nb.calibration.metadata.signal_calibration`).

    Raises
    ------
    FileNotFoundError
        The path does not exist.
    FormatsExtraMissing
        RosettaSciIO is not installed: ``pip install "bpartis-nb[formats]"``.
    ImageError
        A damaged file, a file without images, or ``signal``/``frame`` out of range.
    """
    path, kind = _existing(path)
    signals = read_signals(path)
    index = _choose_signal(signals, signal, path.name, warn=True)
    image = _frame(signals[index], frame, path.name, index)
    found = signal_calibration(signals[index], kind) if calibration else None
    return as_image_array(image, name=path.name), found


def instrument_calibration(path: Union[str, os.PathLike], *, signal: Optional[int] = None) -> Optional[Calibration]:
    """The pixel size of the image :func:`read_instrument_image` reads (same ``signal`` choice).

    Returns
    -------
    Calibration or None
        None, with a CalibrationWarning, for a file without a 2-D image.
    """
    path, kind = _existing(path)
    signals = read_signals(path, lazy=kind in ("digitalmicrograph", "mrc"))
    if signal is None and not _image_indices(signals):
        warnings.warn(f"{path.name} holds no 2-D image: no pixel size", CalibrationWarning, stacklevel=2)
        return None
    index = _choose_signal(signals, signal, path.name, warn=False)
    return signal_calibration(signals[index], kind)
