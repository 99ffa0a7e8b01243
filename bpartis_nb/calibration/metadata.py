"""Pixel size from what the microscope wrote into the file (or beside it).

Only fields whose meaning is documented (or fixed by a reader that parses real files)
are used, and a value is given only when it is unambiguous; otherwise the answer is
``None``, with a :class:`~bpartis_nb.calibration.units.CalibrationWarning` saying why
when the file did carry something.

- FEI / Thermo Fisher TIFF: tag 34682 (or 34680), ``[Scan] PixelWidth`` in metres.
- Zeiss SmartSEM TIFF: tag 34118, ``AP_IMAGE_PIXEL_SIZE`` ("Image Pixel Size", with its
  unit); ``AP_PIXEL_SIZE`` alone only for 1024-pixel-wide images, since SmartSEM
  versions differ on which image width it refers to.
- Tescan TIFF: tag 50431, main block, ``PixelSizeX`` in metres; or the same field in a
  ``<name>-tif.hdr`` / ``<name>.hdr`` sidecar.
- ImageJ TIFF: ``unit=`` in the description with XResolution (pixels per unit).
- Gatan DM3/DM4, Velox and NCEM EMD, MRC, FEI TIA: the image axes as RosettaSciIO reads
  them (the ``formats`` extra, see :mod:`bpartis_nb.formats`); MRC and Velox from their
  raw header fields.
- Hitachi sidecar ``<name>.txt``: ``[SemImageFile]`` ... ``PixelSize=`` in nanometres.
- JEOL sidecar ``<name>.txt``: ``$$SM_MICRON_MARKER`` (e.g. ``1um``) over
  ``$$SM_MICRON_BAR`` (its length in whole pixels).

A TIFF's plain resolution tags (72 or 300 dots per inch or per cm) are a print size, not
a calibration, and are ignored.
"""
from __future__ import annotations

import math
import os
import re
import struct
import warnings
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np

from .base import Calibration
from .units import CalibrationError, CalibrationWarning, UnknownUnitError, normalize_unit, parse_length, to_nm

__all__ = [
    "tiff_calibration",
    "sidecar_calibration",
    "signal_calibration",
    "image_axis_positions",
    "TIFF_SUFFIXES",
]

PathLike = Union[str, os.PathLike]

TIFF_SUFFIXES = (".tif", ".tiff")

#: Axis units that mean "not calibrated" rather than "not a length".
_NO_UNIT = {"", "px", "pixel", "pixels", "<undefined>", "undefined", "none", "t.b.d."}

#: Units ImageJ takes over from a TIFF's print resolution (dots per inch or per cm).
_PRINT_UNITS = {"inch", "inches", "in", "cm"}

_READER_LABELS = {
    "digitalmicrograph": "Gatan DigitalMicrograph",
    "emd": "EMD",
    "mrc": "MRC",
    "tia": "FEI TIA",
}


# --------------------------------------------------------------------------- building results
def _warn(message: str) -> None:
    warnings.warn(message, CalibrationWarning, stacklevel=3)


def _number(value: Any) -> Optional[float]:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _fmt(value: float) -> str:
    return format(value, ".12g")


def _length_unit(unit: Any) -> Optional[str]:
    """Canonical length unit, or None when ``unit`` is not one."""
    try:
        return normalize_unit(str(unit))
    except UnknownUnitError:
        return None


def _make(
    vendor: str,
    key: str,
    value: Any,
    unit: str,
    *,
    y: Optional[tuple[Any, str]] = None,
    text: str = "",
    note: str = "",
) -> Optional[Calibration]:
    """A metadata Calibration of ``value`` ``unit`` per pixel (x), checked against ``y``.

    Returns None, with a CalibrationWarning, for a unit that is not a length or a value
    that is not a positive number.
    """
    canonical = _length_unit(unit)
    if canonical is None:
        _warn(f"{vendor} {key} is in {unit!r}, which is not a length (a diffraction pattern, FFT or "
              "spectrum?): no pixel size taken from the file's metadata")
        return None
    number = _number(value)
    if number is None or number <= 0:
        _warn(f"{vendor} {key} = {value!r} {unit} is not a positive pixel size: ignored")
        return None
    notes = []
    if y is not None:
        y_value, y_unit = _number(y[0]), _length_unit(y[1])
        if y_value is not None and y_unit is not None and y_value > 0:
            if not math.isclose(to_nm(y_value, y_unit), to_nm(number, canonical), rel_tol=1e-6):
                notes.append(
                    f"non-square pixels: {vendor} gives {_fmt(number)} {canonical} wide (x) and "
                    f"{_fmt(y_value)} {y_unit} high (y); lengths use the width (x)"
                )
    for message in notes:
        _warn(message)
    return Calibration(
        nm_per_px=to_nm(number, canonical),
        source="metadata",
        value=number,
        unit=canonical,
        text=text or f"{key} = {_fmt(number)}",
        confidence=1.0,
        detail=f"{vendor} {key} = {_fmt(number)} {unit}{note}",
        warnings=tuple(notes),
    )


# --------------------------------------------------------------------------- TIFF
def tiff_calibration(path: PathLike) -> Optional[Calibration]:
    """The pixel size in a TIFF's vendor tags (FEI/Thermo, Zeiss, Tescan) or ImageJ calibration.

    Parameters
    ----------
    path : str or os.PathLike
        A TIFF file.

    Returns
    -------
    Calibration or None
        None for a TIFF without such tags (including plain dpi resolution tags), or one
        ``tifffile`` cannot parse.
    """
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            width = int(page.imagewidth)
            for reader in (_fei, _zeiss, _tescan_tag, _imagej):
                found = reader(tif, page, width)
                if found is not None:
                    return found
    except (tifffile.TiffFileError, OSError, ValueError, struct.error):
        return None
    return None


def _fei(tif, page, width: int) -> Optional[Calibration]:
    """FEI/Thermo Fisher xT: INI-like text, [Scan] PixelWidth/PixelHeight in metres."""
    sections = tif.fei_metadata
    if not sections:
        return None
    fields = sections.get("Scan") or {}
    if "PixelWidth" not in fields:
        return None
    return _make("FEI", "PixelWidth", fields["PixelWidth"], "m", y=(fields.get("PixelHeight"), "m"),
                 text=f"PixelWidth = {fields['PixelWidth']}")


def _zeiss_entry(entry: Any) -> Optional[tuple[float, str]]:
    """(value, unit) of a tifffile CZ_SEM entry such as ('Image Pixel Size', 2.5, 'nm')."""
    if not isinstance(entry, tuple) or len(entry) < 2:
        return None
    if len(entry) >= 3 and _number(entry[1]) is not None:
        return float(entry[1]), str(entry[2])
    if isinstance(entry[1], str):
        try:
            return parse_length(entry[1])
        except CalibrationError:
            return None
    return None


def _zeiss(tif, page, width: int) -> Optional[Calibration]:
    """Zeiss SmartSEM (tag 34118): the stored image's pixel size with its unit."""
    fields = tif.sem_metadata
    if not fields:
        return None
    image_size = _zeiss_entry(fields.get("ap_image_pixel_size"))
    if image_size is not None:
        value, unit = image_size
        return _make("Zeiss", "Image Pixel Size", value, unit,
                     text=f"AP_IMAGE_PIXEL_SIZE: Image Pixel Size = {_fmt(value)} {unit}")
    pixel_size = _zeiss_entry(fields.get("ap_pixel_size"))
    if pixel_size is None:
        return None
    value, unit = pixel_size
    if width != 1024:
        _warn(f"Zeiss 'Pixel Size' = {_fmt(value)} {unit} without 'Image Pixel Size': SmartSEM versions "
              f"differ on whether it refers to this {width}-pixel-wide image or to a 1024-pixel-wide "
              "one, so it is not used; give the pixel size yourself or use the scale bar")
        return None
    return _make("Zeiss", "Pixel Size", value, unit, text=f"AP_PIXEL_SIZE: Pixel Size = {_fmt(value)} {unit}")


def _key_values(text: str) -> dict[str, str]:
    """``key=value`` lines of a text block; the first occurrence of a key wins."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        key = key.strip()
        if sep and key and key not in fields:
            fields[key] = value.strip().strip("\x00")
    return fields


def _tescan_blocks(raw: bytes, byteorder: str) -> Optional[dict[int, bytes]]:
    """Tescan tag 50431: blocks of uint32 size, uint16 type, (size - 2) bytes; type 2 is the main text."""
    blocks: dict[int, bytes] = {}
    pos = 0
    while pos + 6 <= len(raw):
        size, kind = struct.unpack_from(byteorder + "IH", raw, pos)
        if size < 2 or pos + 4 + size > len(raw):
            return None
        blocks.setdefault(kind, raw[pos + 6:pos + 4 + size])
        pos += 4 + size
        if kind == 0:
            break
    return blocks or None


def _tescan_tag(tif, page, width: int) -> Optional[Calibration]:
    tag = page.tags.get(50431)
    if tag is None:
        return None
    raw = tag.value
    raw = bytes(raw) if not isinstance(raw, bytes) else raw
    blocks = _tescan_blocks(raw, tif.byteorder)
    text = (blocks or {}).get(2, raw).decode("latin-1")
    return _tescan_fields(_key_values(text), "tag 50431")


def _tescan_fields(fields: Mapping[str, str], where: str) -> Optional[Calibration]:
    if "PixelSizeX" not in fields:
        return None
    return _make("Tescan", "PixelSizeX", fields["PixelSizeX"], "m", y=(fields.get("PixelSizeY"), "m"),
                 text=f"PixelSizeX={fields['PixelSizeX']}", note=f" ({where})")


def _imagej_unit(unit: str) -> str:
    """ImageJ writes non-ASCII units as Java escapes: ``\\u00B5m`` is µm."""
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), unit).strip()


def _imagej(tif, page, width: int) -> Optional[Calibration]:
    """ImageJ: ``unit=`` in the description, XResolution/YResolution pixels per unit."""
    fields = tif.imagej_metadata
    if not fields:
        return None
    raw_unit = str(fields.get("xunit") or fields.get("unit") or "")
    unit = _imagej_unit(raw_unit)
    if unit.lower() in _NO_UNIT or unit.lower() in _PRINT_UNITS:
        return None  # uncalibrated, or ImageJ's reading of a print resolution
    resolution = page.tags.get("XResolution")
    if resolution is None:
        return None
    x_num, x_den = resolution.value
    if not x_num:
        return None
    y_tag = page.tags.get("YResolution")
    y = None
    if y_tag is not None and y_tag.value[0]:
        y = (y_tag.value[1] / y_tag.value[0], unit)
    return _make("ImageJ", "1/XResolution", x_den / x_num, unit, y=y,
                 text=f"unit={raw_unit}, XResolution={x_num}/{x_den}")


# --------------------------------------------------------------------------- sidecar text files
def sidecar_calibration(path: PathLike) -> Optional[Calibration]:
    """The pixel size in a Hitachi or JEOL ``<name>.txt``, or a Tescan ``<name>-tif.hdr``, beside an image.

    Parameters
    ----------
    path : str or os.PathLike
        The image file (its sidecar shares its name).

    Returns
    -------
    Calibration or None
    """
    path = Path(path)
    for suffix in (".txt", ".TXT", ".Txt"):
        sidecar = path.with_suffix(suffix)
        if sidecar.is_file() and sidecar != path:
            text = sidecar.read_bytes()[:1_000_000].decode("latin-1")
            found = _hitachi(text, sidecar.name)
            if found is None:
                found = _jeol(text, sidecar.name, path)
            if found is not None:
                return found
            break
    for sidecar in (path.with_name(f"{path.stem}-{path.suffix.lstrip('.')}.hdr"), path.with_suffix(".hdr")):
        if sidecar.is_file() and sidecar != path:
            text = sidecar.read_bytes()[:1_000_000].decode("latin-1")
            main = re.search(r"^\s*\[MAIN\]\s*$(.*?)(?=^\s*\[|\Z)", text, re.MULTILINE | re.DOTALL | re.IGNORECASE)
            found = _tescan_fields(_key_values(main.group(1) if main else text), sidecar.name)
            if found is not None:
                return found
    return None


def _hitachi(text: str, where: str) -> Optional[Calibration]:
    """Hitachi SEM/TEM: ``[SemImageFile]`` header, ``PixelSize=`` in nanometres."""
    if not re.search(r"^\s*\[(Sem|Tem)ImageFile\]", text, re.MULTILINE):
        return None
    match = re.search(r"^\s*PixelSize\s*=\s*(\S+)", text, re.MULTILINE)
    if match is None:
        return None
    return _make("Hitachi", "PixelSize", match.group(1), "nm", text=f"PixelSize={match.group(1)}",
                 note=f" ({where})")


def _image_width(path: Path) -> Optional[int]:
    from PIL import Image

    try:
        with Image.open(path) as im:
            return int(im.size[0])
    except Exception:  # not an image PIL knows: no cross-check
        return None


def _jeol(text: str, where: str, image: Path) -> Optional[Calibration]:
    """JEOL SEM: a marker length over the length of its bar in pixels."""
    bar = re.search(r"^\s*\$\$SM_MICRON_BAR\s+(\S+)", text, re.MULTILINE)
    marker = re.search(r"^\s*\$\$SM_MICRON_MARKER\s+(.+?)\s*$", text, re.MULTILINE)
    if bar is None or marker is None:
        return None
    bar_px = _number(bar.group(1))
    try:
        length, unit = parse_length(marker.group(1))
    except CalibrationError:
        length, unit = None, ""
    if bar_px is None or bar_px <= 0 or length is None:
        _warn(f"JEOL {where}: $$SM_MICRON_BAR {bar.group(1)!r} / $$SM_MICRON_MARKER {marker.group(1)!r} "
              "is not a bar length and a marker length: no pixel size taken from it")
        return None
    size = re.search(r"^\s*\$CM_FULL_SIZE\s+(\d+)\s+(\d+)", text, re.MULTILINE)
    width = _image_width(image)
    if size is not None and width is not None and int(size.group(1)) != width:
        _warn(f"JEOL {where} describes a {size.group(1)}-pixel-wide image but {image.name} is {width} "
              "pixels wide (resized?): its micron bar is not used")
        return None
    return _make("JEOL", "$$SM_MICRON_MARKER / $$SM_MICRON_BAR", length / bar_px, unit,
                 text=f"$$SM_MICRON_MARKER {marker.group(1)}; $$SM_MICRON_BAR {bar.group(1)}",
                 note=f" ({where}; the bar length is a whole number of pixels)")


# --------------------------------------------------------------------------- RosettaSciIO signals
def image_axis_positions(axes: Sequence[Mapping[str, Any]], ndim: int) -> Optional[tuple[int, int]]:
    """Array positions (row axis, column axis) of the image plane of a RosettaSciIO signal.

    The image plane is the last two signal (non-navigation) axes; axes before them are
    frames of a stack or scan positions.

    Parameters
    ----------
    axes : sequence of dict
        RosettaSciIO axis dicts (``index_in_array``, ``navigate``, ``scale``, ``units``).
    ndim : int
        Number of dimensions of the signal's data.

    Returns
    -------
    (int, int) or None
        None when the signal is not an image (a spectrum, a spectrum image, a scalar).

    Examples
    --------
    >>> image_axis_positions([{"navigate": True}, {"navigate": False}, {"navigate": False}], 3)
    (1, 2)
    >>> image_axis_positions([{"navigate": True}, {"navigate": True}, {"navigate": False}], 3) is None
    True
    """
    if ndim < 2:
        return None
    if axes and len(axes) == ndim and all("navigate" in axis for axis in axes):
        signal = sorted(int(axis.get("index_in_array", i)) for i, axis in enumerate(axes) if not axis["navigate"])
    else:
        signal = list(range(ndim))
    if len(signal) < 2:
        return None
    return signal[-2], signal[-1]


def _axis_at(axes: Sequence[Mapping[str, Any]], position: int) -> Optional[Mapping[str, Any]]:
    for i, axis in enumerate(axes):
        if int(axis.get("index_in_array", i)) == position:
            return axis
    return None


def _first(value: Any) -> Optional[float]:
    """A header number that RosettaSciIO may give as a 1-element array."""
    try:
        return _number(np.ravel(value)[0])
    except (IndexError, TypeError, ValueError):
        return None


def signal_calibration(signal: Mapping[str, Any], reader: str) -> Optional[Calibration]:
    """The pixel size of one RosettaSciIO signal dict (``data``, ``axes``, ``original_metadata``).

    Parameters
    ----------
    signal : dict
        One item of a RosettaSciIO ``file_reader`` result.
    reader : {"digitalmicrograph", "emd", "mrc", "tia"} or other rsciio plugin name
        Which plugin read it: MRC and Velox EMD are read from their raw header fields.

    Returns
    -------
    Calibration or None
        None for a signal without a 2-D image, without units, or with non-length units
        (the latter with a CalibrationWarning).
    """
    label = _READER_LABELS.get(reader, reader)
    metadata = signal.get("original_metadata") or {}
    if reader == "mrc" and "fei_header" not in metadata:
        return _mrc_header(metadata.get("std_header") or {})
    binary = metadata.get("BinaryResult") if reader == "emd" else None
    if isinstance(binary, Mapping) and isinstance(binary.get("PixelSize"), Mapping):
        size = binary["PixelSize"]
        unit_x = binary.get("PixelUnitX", "")
        return _make("Velox", "BinaryResult.PixelSize.width", size.get("width"), unit_x,
                     y=(size.get("height"), binary.get("PixelUnitY", unit_x)),
                     text=f"PixelSize.width = {size.get('width')} {unit_x}")
    data = signal.get("data")
    axes = list(signal.get("axes") or [])
    positions = image_axis_positions(axes, len(getattr(data, "shape", ())))
    if positions is None:
        return None
    y_axis, x_axis = (_axis_at(axes, p) for p in positions)
    if x_axis is None or str(x_axis.get("units") or "").strip().lower() in _NO_UNIT:
        return None
    y = (y_axis.get("scale"), str(y_axis.get("units") or "")) if y_axis is not None else None
    name = x_axis.get("name") or "x"
    return _make(label, f"{name}-axis scale", x_axis.get("scale"), str(x_axis.get("units")), y=y,
                 text=f"{name} scale = {_fmt(_number(x_axis.get('scale')) or 0.0)} {x_axis.get('units')}")


def _mrc_header(header: Mapping[str, Any]) -> Optional[Calibration]:
    """MRC: cell length over sampling (Xlen / MX), in ångström; zero means uncalibrated."""
    x_len, mx = _first(header.get("Xlen")), _first(header.get("MX"))
    if not x_len or not mx or x_len <= 0 or mx <= 0:
        return None  # RosettaSciIO then reports 1 nm, which the file does not say
    y_len, my = _first(header.get("Ylen")), _first(header.get("MY"))
    y = (y_len / my, "Å") if y_len and my else None
    return _make("MRC", "Xlen/MX", x_len / mx, "Å", y=y, text=f"Xlen = {_fmt(x_len)} Å, MX = {int(mx)}")
