"""Calibration from whatever the image offers: its file's metadata, else its scale bar.

This module sits on top of the calibration readers: :mod:`.metadata` (fields of TIFF tags
and sidecar files), :mod:`bpartis_nb.formats` (instrument files through RosettaSciIO) and
:mod:`.scalebar` (the bar drawn in the image).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Union

from ..formats import INSTRUMENT_SUFFIXES, instrument_calibration
from .base import Calibration
from .metadata import TIFF_SUFFIXES, sidecar_calibration, tiff_calibration

__all__ = ["read_metadata_calibration"]

PathLike = Union[str, os.PathLike]


def read_metadata_calibration(path: PathLike, *, signal: Optional[int] = None) -> Optional[Calibration]:
    """The pixel size recorded by the instrument, if the file (or its sidecar) has one.

    Parameters
    ----------
    path : str or os.PathLike
        A micrograph: a TIFF (FEI/Thermo, Zeiss, Tescan, ImageJ), an instrument file
        (.dm3, .dm4, .emd, .mrc, .ser, .emi), or any image with a Hitachi/JEOL ``.txt``
        or Tescan ``.hdr`` sidecar beside it.
    signal : int, optional
        For instrument files holding several signals: which one (as in
        :func:`bpartis_nb.formats.read_instrument_image`); by default the first image.

    Returns
    -------
    Calibration or None
        ``source="metadata"``, ``confidence=1.0``, ``value`` and ``unit`` as the file
        gives them; None when the file carries no length calibration (a reason is
        issued as a :class:`CalibrationWarning` when it carried an unusable one, e.g. a
        diffraction pattern in 1/nm).

    Raises
    ------
    FileNotFoundError
        The path does not exist.
    bpartis_nb.formats.FormatsExtraMissing
        An instrument file and RosettaSciIO is not installed
        (``pip install "bpartis-nb[formats]"``).
    bpartis_nb.io.ImageError
        An instrument file that cannot be read.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}. Check the path.")
    if path.suffix.lower() in INSTRUMENT_SUFFIXES:
        return instrument_calibration(path, signal=signal)
    found = tiff_calibration(path) if path.suffix.lower() in TIFF_SUFFIXES else None
    return found if found is not None else sidecar_calibration(path)
