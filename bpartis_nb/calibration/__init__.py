"""Calibration: nanometres per pixel from instrument metadata or from the scale bar drawn
in the image.

:func:`read_calibration` tries, in order, the file's metadata (FEI/Thermo, Zeiss and other
SEM TIFFs; Gatan DM3/DM4, Velox EMD, MRC through RosettaSciIO), then the scale bar (found
by its geometry, its label read by OCR), and otherwise says that lengths stay in pixels.
"""
from .base import Box, Calibration
from .units import CalibrationError, CalibrationWarning, UnknownUnitError, normalize_unit, parse_length, to_nm

__all__ = [
    "Box",
    "Calibration",
    "CalibrationError",
    "CalibrationWarning",
    "UnknownUnitError",
    "normalize_unit",
    "read_calibration",
    "read_metadata_calibration",
    "resolve_calibration",
    "parse_length",
    "to_nm",
]

_AUTO = ("read_calibration", "read_metadata_calibration", "resolve_calibration")


def __getattr__(name: str):
    # .auto sits above bpartis_nb.formats, which imports .base: importing it lazily keeps
    # "import bpartis_nb.calibration.base" from pulling formats in half-initialised
    if name in _AUTO:
        from . import auto

        return getattr(auto, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
