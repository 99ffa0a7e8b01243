"""What a rendering is: the figure and its exact truth (:class:`AnnotatedMicrograph`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np
from numpy.typing import NDArray

from ..base import Box
from ..units import NM_PER_UNIT

__all__ = ["AnnotatedMicrograph", "jsonable"]


@dataclass(frozen=True, eq=False)
class AnnotatedMicrograph:
    """A synthetic micrograph with annotations and its exact truth.

    Attributes
    ----------
    image : ndarray of shape (M, N, 3), uint8
        The final figure (after resampling and JPEG compression when the style has them).
    labels : ndarray of shape (M, N), int32
        True particle instance map of the final image; 0 = background and every particle
        pixel hidden under an opaque annotation (bar, tick, glyph, filled box, strip).
    nm_per_px : float
        True pixel size of the final image, in nanometres. It exists even where nothing in
        the image states it (no bar, or a bar without label).
    label_text : str
        The scale-bar label as drawn ("200 nm", "0.5 µm", "1.00um"); "" when the image has
        no bar or a bar without label.
    value : float or None
        The label's number; None when there is no label to read.
    unit : str or None
        The label's unit, canonical ("pm", "Å", "nm", "µm", "mm"); None with ``value``.
    bar_px : float or None
        Bar length in final-image pixels, outer end to outer end including end ticks; None
        when there is no bar.
    bar_box, label_box : (min_row, min_col, max_row, max_col) or None
        Where the bar (with its ticks) and the label's ink are in the final image (max
        exclusive). After resampling, the drawn boxes scaled outward to whole pixels.
    annotation_mask : ndarray of shape (M, N), bool
        Every pixel that an annotation changed (bar, ticks, text, boxes, panel letters,
        strip, arrow), dilated by one pixel; after resampling, every pixel the resampling
        filter mixed an annotated pixel into, dilated by one pixel. JPEG's spreading of
        differences over 8 x 8 blocks is not included.
    strip_box : (min_row, min_col, max_row, max_col) or None
        The info strip.
    style : dict
        Every choice made (JSON-serialisable): ``render_annotated(style["seed"], **style)``
        draws the same rendering again.
    jpeg_bytes : bytes or None
        The JPEG file ``image`` was decoded from, when the style compresses.
    """

    image: NDArray[np.uint8]
    labels: NDArray[np.int32]
    nm_per_px: float
    label_text: str
    value: Optional[float]
    unit: Optional[str]
    bar_px: Optional[float]
    bar_box: Optional[Box]
    label_box: Optional[Box]
    annotation_mask: NDArray[np.bool_]
    strip_box: Optional[Box]
    style: dict[str, Any]
    jpeg_bytes: Optional[bytes] = field(default=None, repr=False)

    @property
    def value_nm(self) -> Optional[float]:
        """The label's length in nanometres (None without a label)."""
        if self.value is None or self.unit is None:
            return None
        return self.value * NM_PER_UNIT[self.unit]


def jsonable(value: Any) -> Any:
    """``value`` with tuples as lists, keys as strings and NumPy scalars as Python ones.

    Examples
    --------
    >>> jsonable({"a": (1, np.int64(2)), 3: [np.float32(0.5)]})
    {'a': [1, 2], '3': [0.5]}
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
