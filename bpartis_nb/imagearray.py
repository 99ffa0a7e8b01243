"""Validating an array as a micrograph: the checks every reader shares."""
from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["ImageError", "as_image_array", "MIN_SIDE"]

#: Smallest height or width accepted: below this a micrograph cannot hold a measurable particle.
MIN_SIDE = 16


class ImageError(ValueError):
    """The input is not an image BPartIS can segment; the message says why and what to do."""


def as_image_array(array: object, name: str = "image") -> NDArray:
    """Validate an array as a micrograph (see :func:`read_image` for the accepted shapes)."""
    try:
        a = np.asarray(array)
    except Exception as exc:  # pragma: no cover - exotic objects
        raise ImageError(f"{name}: cannot be turned into an array ({exc}).") from None
    if a.dtype == bool:
        a = a.astype(np.uint8) * 255
    if not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise ImageError(f"{name}: pixel type {a.dtype} is not numeric; pass a numeric image array.")
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim == 3 and a.shape[2] == 2:  # grey + alpha
        a = a[:, :, 0]
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (3, 4))):
        raise ImageError(
            f"{name}: expected a grayscale (M, N) or colour (M, N, 3|4) image, got an array of "
            f"shape {a.shape}. For a stack, pass one frame at a time."
        )
    if min(a.shape[:2]) < MIN_SIDE:
        raise ImageError(
            f"{name}: the image is {a.shape[1]} x {a.shape[0]} pixels; at least {MIN_SIDE} x "
            f"{MIN_SIDE} is needed to find particles. Pass the full micrograph, not a thumbnail."
        )
    if np.issubdtype(a.dtype, np.floating) and not np.all(np.isfinite(a)):
        raise ImageError(f"{name}: the image holds NaN or infinite values; replace them first.")
    return a
