"""The :class:`Calibration` result: how many nanometres one pixel spans, and how we know."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Optional

from .units import CalibrationError, format_length, to_nm

__all__ = ["Calibration", "Box", "SOURCES", "boxes_overlap"]

#: (min_row, min_col, max_row, max_col), max exclusive, like ``skimage.measure.regionprops``.
Box = tuple[int, int, int, int]

def boxes_overlap(a: Box, b: Box) -> bool:
    """Two boxes share at least one pixel.

    Examples
    --------
    >>> boxes_overlap((0, 0, 2, 2), (1, 1, 3, 3)), boxes_overlap((0, 0, 2, 2), (2, 0, 4, 2))
    (True, False)
    """
    return min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])


#: Where a calibration can come from, most trusted first.
SOURCES = ("manual", "metadata", "scale_bar")


@dataclass(frozen=True)
class Calibration:
    """The pixel size of a micrograph and its provenance.

    Attributes
    ----------
    nm_per_px : float or None
        Nanometres per pixel; None when unknown (lengths stay in pixels).
    source : {"metadata", "scale_bar", "manual", None}
    value : float or None
        The raw value as read: the bar's label value ("200" of "200 nm"), or the pixel size
        in the file's own unit.
    unit : str or None
        The unit of ``value`` (canonical, see :func:`~bpartis_nb.calibration.units.normalize_unit`).
    text : str
        What was read: the label as the OCR read it, or the metadata key and value.
    bar_px : float or None
        Length of the scale bar in pixels (``source == "scale_bar"``).
    bar_box, label_box : (min_row, min_col, max_row, max_col) or None
        Where the bar and its label are in the image.
    confidence : float
        0 to 1: 1 for metadata and manual values; for a scale bar, the OCR confidence
        times how well the label sits on its bar.
    detail : str
        One line for people: which file field or which bar.
    warnings : tuple of str
        What went wrong or disagreed on the way (also issued as
        :class:`~bpartis_nb.calibration.units.CalibrationWarning`).

    Examples
    --------
    >>> c = Calibration.manual(0.5)
    >>> c.nm_per_px, c.source, c.pixel_size("µm")
    (0.5, 'manual', 0.0005)
    >>> Calibration.unknown().known
    False
    """

    nm_per_px: Optional[float] = None
    source: Optional[str] = None
    value: Optional[float] = None
    unit: Optional[str] = None
    text: str = ""
    bar_px: Optional[float] = None
    bar_box: Optional[Box] = None
    label_box: Optional[Box] = None
    confidence: float = 0.0
    detail: str = ""
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.nm_per_px is not None and not (0 < self.nm_per_px < float("inf")):
            raise CalibrationError(f"a pixel size must be positive and finite, got {self.nm_per_px} nm")
        if self.source not in (None, *SOURCES):
            raise CalibrationError(f"unknown calibration source {self.source!r}; use one of {SOURCES}")

    @property
    def known(self) -> bool:
        """True when the pixel size is known."""
        return self.nm_per_px is not None

    def pixel_size(self, unit: str = "nm") -> float:
        """The size of one pixel in ``unit`` (nm, µm, Å, ...).

        Raises
        ------
        CalibrationError
            When the calibration is unknown.
        """
        if self.nm_per_px is None:
            raise CalibrationError("the pixel size is unknown: give it yourself (scale=nm per pixel)")
        return self.nm_per_px / to_nm(1.0, unit)

    def with_warning(self, message: str) -> "Calibration":
        """A copy with one more warning."""
        return replace(self, warnings=(*self.warnings, message))

    def describe(self) -> str:
        """One line for people, e.g. ``0.81 nm/px from the scale bar '200 nm' (247.0 px)``."""
        if self.nm_per_px is None:
            return "no calibration: lengths in pixels"
        size = format_length(self.nm_per_px)
        if self.source == "scale_bar":
            return f"{size}/px from the scale bar '{self.text}' ({self.bar_px:.1f} px)"
        if self.source == "metadata":
            return f"{size}/px from the file's metadata ({self.detail or self.text})"
        return f"{size}/px given by hand"

    @classmethod
    def manual(cls, pixel_size: float, unit: str = "nm") -> "Calibration":
        """A pixel size typed in by the user, in ``unit``."""
        return cls(nm_per_px=to_nm(pixel_size, unit), source="manual", value=float(pixel_size),
                   unit=unit, confidence=1.0, detail=f"{pixel_size} {unit} per pixel, given by hand")

    @classmethod
    def unknown(cls, *warnings: str) -> "Calibration":
        """No calibration (lengths stay in pixels), with the reasons."""
        return cls(warnings=tuple(warnings))
