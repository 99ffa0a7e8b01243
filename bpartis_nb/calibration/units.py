"""Lengths as microscopists write them: units, conversion to nanometres, label parsing.

Scale-bar labels and metadata use many spellings of the same unit ("µm", "μm", "um",
"micron"; "Å", "A", "angstrom"), decimal commas, and OCR confusions of digits with
letters ("5O nm", "l00 nm"). Everything here is pure string and number handling.
"""
from __future__ import annotations

import re
from typing import Iterator, Optional

__all__ = [
    "NM_PER_UNIT",
    "CalibrationError",
    "CalibrationWarning",
    "UnknownUnitError",
    "normalize_unit",
    "to_nm",
    "parse_length",
    "iter_lengths",
    "format_length",
]

#: Nanometres in one of each canonical unit.
NM_PER_UNIT = {"pm": 1e-3, "Å": 0.1, "nm": 1.0, "µm": 1e3, "mm": 1e6, "cm": 1e7, "m": 1e9}

_SPELLINGS = {
    "pm": "pm", "picometer": "pm", "picometre": "pm", "picometers": "pm", "picometres": "pm",
    "å": "Å", "Å": "Å", "a": "Å", "ang": "Å", "angstrom": "Å", "angstroms": "Å", "ångström": "Å",
    "nm": "nm", "nanometer": "nm", "nanometre": "nm", "nanometers": "nm", "nanometres": "nm",
    "µm": "µm", "μm": "µm", "um": "µm", "micron": "µm", "microns": "µm", "micrometer": "µm",
    "micrometre": "µm", "micrometers": "µm", "micrometres": "µm", "µ": "µm", "μ": "µm",
    "mm": "mm", "millimeter": "mm", "millimetre": "mm", "millimeters": "mm", "millimetres": "mm",
    "cm": "cm", "centimeter": "cm", "centimetre": "cm",
    "m": "m", "meter": "m", "metre": "m", "meters": "m", "metres": "m",
}


class CalibrationError(ValueError):
    """A calibration that cannot be used; the message says why and what to do."""


class UnknownUnitError(CalibrationError):
    """A length unit that is not one of pm, Å, nm, µm, mm, cm, m (or their spellings)."""


class CalibrationWarning(UserWarning):
    """A calibration was not found, was ambiguous, or disagreed with another source."""


def normalize_unit(text: str) -> str:
    """The canonical spelling of a length unit.

    Parameters
    ----------
    text : str
        "nm", "µm", "μm" (Greek mu), "um", "micron", "Å", "A", "angstrom", "mm", "pm", ...

    Returns
    -------
    str
        One of the keys of :data:`NM_PER_UNIT`.

    Raises
    ------
    UnknownUnitError
        For anything else (pixels, inches, an OCR misreading).

    Examples
    --------
    >>> normalize_unit("μm"), normalize_unit("um"), normalize_unit("Angstrom"), normalize_unit(" NM ")
    ('µm', 'µm', 'Å', 'nm')
    """
    key = str(text).strip().replace("\u00b5", "µ")
    canonical = _SPELLINGS.get(key) or _SPELLINGS.get(key.lower())
    if canonical is None:
        raise UnknownUnitError(
            f"unknown length unit {text!r}: use one of pm, Å, nm, µm (um), mm, cm, m, "
            "or give the size of one pixel yourself (scale=..., unit=...)"
        )
    return canonical


def to_nm(value: float, unit: str) -> float:
    """``value`` in ``unit`` expressed in nanometres.

    Examples
    --------
    >>> to_nm(2, "µm"), to_nm(5, "Å"), to_nm(1.5e-9, "m")
    (2000.0, 0.5, 1.5)
    """
    return float(value) * NM_PER_UNIT[normalize_unit(unit)]


# A number (decimal point or comma; OCR may put O for 0 and l/I for 1), optional spaces,
# then a unit word. The number must not be glued to letters on its left.
_NUMBER = r"(?<![A-Za-z0-9.])([0-9OolI]*[0-9][0-9OolI]*(?:[.,][0-9Oo]*)?|[.,][0-9]+)"
_UNIT = r"(pm|nm|mm|cm|[µμu]\s?m|micrometers?|micrometres?|microns?|nanometers?|nanometres?|" \
        r"angstroms?|ångström|[ÅAa]|m)"
# the unit must end the word; a trailing "l", "I" or "|" is a border or a tick read as a letter
_LENGTH = re.compile(_NUMBER + r"\s*" + _UNIT + r"(?![A-HJ-Za-km-z])", re.IGNORECASE)


def iter_lengths(text: str) -> Iterator[tuple[float, str, int, int]]:
    """Every length written in a text: (value, canonical unit, start, end of the match).

    Examples
    --------
    >>> [(v, u) for v, u, _, _ in iter_lengths("WD 5.1 mm  200 nm")]
    [(5.1, 'mm'), (200.0, 'nm')]
    """
    cleaned = str(text).replace("\u00b5", "µ").replace("μ", "µ")
    for match in _LENGTH.finditer(cleaned):
        number, unit = match.group(1), match.group(2)
        value = _number(number)
        if value is None or not value > 0 or unit == "a":  # a lower-case "a" is a panel letter
            continue
        yield value, normalize_unit(unit.replace(" ", "")), match.start(), match.end()


def parse_length(text: str) -> tuple[float, str]:
    """Value and unit of a scale-bar label.

    Accepts "50 nm", "1μm", "1 µm", "20.nm", "200nm", "5 um", "0,5 µm", "500 Å",
    "2 microns", and OCR slips of digits ("5O nm", "l00 nm"). The first length in the
    text wins ("Mag = 50 kX 200 nm" gives 200 nm: numbers without a length unit are
    skipped).

    Returns
    -------
    (value, unit)
        ``unit`` canonical (see :func:`normalize_unit`).

    Raises
    ------
    CalibrationError
        No number followed by a length unit, or a value that is not positive.

    Examples
    --------
    >>> parse_length("200nm"), parse_length("20.nm"), parse_length("0,5 μm"), parse_length("5O nm")
    ((200.0, 'nm'), (20.0, 'nm'), (0.5, 'µm'), (50.0, 'nm'))
    >>> parse_length("1 µm"), parse_length("500 Å"), parse_length("x50,000 0.5µm")
    ((1.0, 'µm'), (500.0, 'Å'), (0.5, 'µm'))
    """
    for value, unit, _, _ in iter_lengths(text):
        return value, unit
    raise CalibrationError(
        f"no length found in {text!r}: a scale-bar label is a number and a unit (e.g. '200 nm', '1 µm'); "
        "give the scale yourself (scale=nm per pixel, or scale=(bar length px, value, unit))"
    )


def _number(text: str) -> Optional[float]:
    """A decimal number with OCR letter slips mended; None when it is not one."""
    digits = text.translate(str.maketrans({"O": "0", "o": "0", "l": "1", "I": "1", ",": "."}))
    if digits.count(".") > 1:
        # "50,000" thousands separators: keep only the last separator as decimal only if it
        # is followed by fewer than 3 digits
        head, _, tail = digits.rpartition(".")
        digits = head.replace(".", "") + ("." + tail if len(tail) != 3 else tail)
    elif "." in digits:
        head, _, tail = digits.partition(".")
        if len(tail) == 3 and "," in text and head not in ("", "0"):
            digits = head + tail  # "50,000": a thousands separator
    if digits.endswith("."):
        digits = digits[:-1]
    try:
        return float(digits)
    except ValueError:
        return None


def format_length(value_nm: float) -> str:
    """A length in nanometres in the unit that reads best.

    Examples
    --------
    >>> format_length(0.25), format_length(12.5), format_length(2500.0), format_length(3.2e6)
    ('2.5 Å', '12.5 nm', '2.5 µm', '3.2 mm')
    """
    v = float(value_nm)
    for unit, factor in (("mm", 1e6), ("µm", 1e3), ("nm", 1.0)):
        if abs(v) >= factor:
            return f"{v / factor:.4g} {unit}"
    return f"{v * 10:.4g} Å"
