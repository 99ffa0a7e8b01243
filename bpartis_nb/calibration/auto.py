"""Calibration from whatever the image offers: its file's metadata, else its scale bar.

This module sits on top of the calibration readers: :mod:`.metadata` (fields of TIFF tags
and sidecar files), :mod:`bpartis_nb.formats` (instrument files through RosettaSciIO) and
:mod:`.scalebar` (the bar drawn in the image).
"""
from __future__ import annotations

import os
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Optional, Union

import numpy as np
from numpy.typing import NDArray

from ..formats import INSTRUMENT_SUFFIXES, instrument_calibration
from .base import Calibration
from .metadata import TIFF_SUFFIXES, sidecar_calibration, tiff_calibration
from .units import CalibrationError, CalibrationWarning, normalize_unit, to_nm

__all__ = ["read_metadata_calibration", "read_calibration", "resolve_calibration"]

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


#: Two calibrations of one image agree when their pixel sizes differ by less than this.
AGREEMENT = 0.03

#: What :func:`resolve_calibration` accepts as a scale.
ScaleArgument = Union[None, str, float, tuple, Calibration]


def read_calibration(
    source: Union[PathLike, NDArray],
    *,
    image: Optional[NDArray] = None,
    metadata: bool = True,
    scale_bar: bool = True,
    bars=None,
    texts=None,
    warn: bool = True,
) -> Calibration:
    """nm per pixel of a micrograph: from its file's metadata, else from its scale bar.

    Parameters
    ----------
    source : path or ndarray of shape (M, N) or (M, N, C)
        A file (its metadata is read, then its pixels for the scale bar) or the pixels.
    image : ndarray, optional
        The file's pixels when already read (saves reading them again).
    metadata, scale_bar : bool
        Which sources to try.
    bars, texts : list, optional
        Bar candidates (:func:`~bpartis_nb.calibration.bars.find_bars`) and text lines
        (:func:`~bpartis_nb.calibration.scalebar.read_whole`) already found in ``image``.
    warn : bool
        Issue the result's warnings as :class:`CalibrationWarning` too.

    Returns
    -------
    Calibration
        ``source="metadata"`` when the file records its pixel size (it wins over a scale
        bar that disagrees, with a warning naming both); else ``source="scale_bar"``;
        else unknown (``nm_per_px=None``), with warnings saying why and what to do.

    Examples
    --------
    >>> import numpy as np
    >>> read_calibration(np.zeros((64, 64)), scale_bar=False, warn=False).describe()
    'no calibration: lengths in pixels'
    """
    found: Optional[Calibration] = None
    is_path = isinstance(source, (str, os.PathLike))
    if metadata and is_path:
        found = read_metadata_calibration(source)
    bar: Optional[Calibration] = None
    notes: list[str] = []
    if scale_bar:
        from .ocr import ocr_available
        from .scalebar import INSTALL_HINT, read_scale_bar

        if image is None:
            from ..io import read_image

            image = read_image(source)
        if ocr_available():
            bar = read_scale_bar(image, bars=bars, texts=texts)
        elif found is None:
            notes.append(f"the scale bar cannot be read without the OCR engine: {INSTALL_HINT}; "
                         "or give the scale yourself (scale=nm per pixel)")
    if found is not None:
        if bar is not None and bar.known and abs(bar.nm_per_px / found.nm_per_px - 1) > AGREEMENT:
            found = found.with_warning(
                f"the scale bar '{bar.text}' ({bar.bar_px:.1f} px) gives {bar.nm_per_px:.4g} nm/px but the "
                f"file's metadata says {found.nm_per_px:.4g} nm/px; using the metadata (the image may have "
                "been resized or cropped after acquisition: if so, give the scale yourself)")
        result = found
    elif bar is not None and (bar.known or not notes):
        result = bar
    else:
        result = Calibration.unknown(*notes)
    if result.source is None and result.warnings:
        result = replace(result, warnings=(*result.warnings[:-1],
                                           result.warnings[-1] + "; lengths stay in pixels"))
    if warn:
        for message in result.warnings:
            warnings.warn(message, CalibrationWarning, stacklevel=2)
    return result


def resolve_calibration(
    scale: ScaleArgument,
    source: Union[PathLike, NDArray],
    *,
    image: Optional[NDArray] = None,
    unit: str = "nm",
    **kwargs,
) -> Calibration:
    """The calibration asked for by a ``scale`` argument of the API, CLI or dashboard.

    Parameters
    ----------
    scale : "auto", None, float, (bar_px, value, unit) or Calibration
        "auto": :func:`read_calibration`; None: none (pixels); a number: the size of
        one pixel in ``unit``; a tuple: a scale bar measured by hand.
    source, image, kwargs
        As for :func:`read_calibration` (used with "auto" only).
    unit : str
        Unit of a numeric ``scale``.

    Examples
    --------
    >>> resolve_calibration(0.5, None, unit="µm").nm_per_px
    500.0
    >>> resolve_calibration((200, 50, "nm"), None).nm_per_px
    0.25
    """
    if isinstance(scale, Calibration):
        return scale
    if scale is None:
        return Calibration.unknown()
    if isinstance(scale, str):
        if scale.strip().lower() != "auto":
            raise CalibrationError(f"scale={scale!r}: use 'auto', a pixel size (a number) or "
                                   "(bar length px, value, unit)")
        return read_calibration(source, image=image, **kwargs)
    if isinstance(scale, (tuple, list)):
        if len(scale) != 3:
            raise CalibrationError("a scale bar is given as (bar length in px, value, unit), e.g. (247, 200, 'nm')")
        length, value, bar_unit = scale
        if not (float(length) > 0 and float(value) > 0 and np.isfinite([float(length), float(value)]).all()):
            raise CalibrationError(f"scale bar length ({length} px) and value ({value} {bar_unit}) must be "
                                   "positive and finite")
        nm = to_nm(float(value), normalize_unit(str(bar_unit)))
        return Calibration(nm_per_px=nm / float(length), source="manual", value=float(value),
                           unit=normalize_unit(str(bar_unit)), bar_px=float(length), confidence=1.0,
                           text=f"{value} {bar_unit}", detail=f"a {value} {bar_unit} bar of {length} px, given by hand")
    try:
        size = float(scale)
    except (TypeError, ValueError):
        raise CalibrationError(f"scale={scale!r} is not a number; give nm per pixel, e.g. scale=0.8") from None
    if not (size > 0 and np.isfinite(size)):
        raise CalibrationError(f"a pixel size must be positive and finite, got scale={scale!r}")
    return Calibration.manual(size, normalize_unit(unit))
