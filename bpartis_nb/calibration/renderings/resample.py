"""What publishers do to a figure after drawing: resampling and JPEG; the truth follows.

Resampling by a rational factor ``p/q`` of a canvas whose sides are multiples of ``q``
scales every length by exactly ``p/q``; boxes are scaled outward to whole pixels and the
annotation mask grows to every pixel the filter mixed an annotated pixel into.
"""
from __future__ import annotations

import io
from fractions import Fraction
from typing import Optional

import numpy as np
from numpy.typing import NDArray
from PIL import Image
from scipy import ndimage

from ..base import Box

__all__ = ["RESAMPLERS", "resample", "dilate", "scale_box", "jpeg_round_trip"]

#: Resampling filters by name.
RESAMPLERS = {"bicubic": Image.BICUBIC, "bilinear": Image.BILINEAR, "area": Image.BOX}


def resample(image: NDArray[np.uint8], labels: NDArray[np.int32], touched: NDArray[np.bool_], factor: Fraction,
             method: int) -> tuple[NDArray[np.uint8], NDArray[np.int32], NDArray[np.bool_]]:
    """Resize the figure, its instance map and its annotation mask by ``factor``.

    Parameters
    ----------
    image : ndarray of shape (M, N, 3), uint8
    labels : ndarray of shape (M, N), int32
        Resized by nearest neighbour.
    touched : ndarray of shape (M, N), bool
        Pixels the annotations changed.
    factor : Fraction
        New size over old size; the sides should be multiples of its denominator.
    method : int
        The PIL filter of the image (a value of :data:`RESAMPLERS`).

    Returns
    -------
    image, labels, touched
        Resized; ``touched`` becomes every pixel an annotated pixel reached through the
        filter, or whose nearest source pixel was annotated.
    """
    height, width = labels.shape
    size = (width * factor.numerator // factor.denominator, height * factor.numerator // factor.denominator)
    image = np.asarray(Image.fromarray(image).resize(size, method))
    labels = np.asarray(Image.fromarray(labels).resize(size, Image.NEAREST)).astype(np.int32)
    spread = np.asarray(Image.fromarray(touched.astype(np.float32), "F").resize(size, method))
    nearest = np.asarray(Image.fromarray(touched).resize(size, Image.NEAREST))
    return image, labels, (np.abs(spread) > 1e-6) | nearest


def dilate(mask: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """``mask`` grown by one pixel (8-neighbourhood), working only around its pixels.

    Examples
    --------
    >>> m = np.zeros((4, 5), bool); m[0, 4] = True
    >>> dilate(m).astype(int)
    array([[0, 0, 0, 1, 1],
           [0, 0, 0, 1, 1],
           [0, 0, 0, 0, 0],
           [0, 0, 0, 0, 0]])
    """
    rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    out = np.zeros_like(mask)
    if rows.size == 0:
        return out
    r0, r1 = max(0, rows[0] - 1), min(mask.shape[0], rows[-1] + 2)
    c0, c1 = max(0, cols[0] - 1), min(mask.shape[1], cols[-1] + 2)
    out[r0:r1, c0:c1] = ndimage.binary_dilation(mask[r0:r1, c0:c1], structure=np.ones((3, 3), bool))
    return out


def scale_box(box: Optional[Box], factor: Fraction) -> Optional[Box]:
    """A box scaled by ``factor``, rounded outward to whole pixels (None stays None).

    Examples
    --------
    >>> scale_box((1, 2, 3, 5), Fraction(2, 3))
    (0, 1, 2, 4)
    """
    if box is None:
        return None
    p, q = factor.numerator, factor.denominator
    r0, c0, r1, c1 = box
    return (r0 * p // q, c0 * p // q, -(-r1 * p // q), -(-c1 * p // q))


def jpeg_round_trip(image: NDArray[np.uint8], quality: int) -> tuple[NDArray[np.uint8], bytes]:
    """``image`` compressed as JPEG at ``quality`` and decoded again, and the JPEG file.

    Parameters
    ----------
    image : ndarray of shape (M, N, 3), uint8
    quality : int
        1 to 100.

    Returns
    -------
    image : ndarray of shape (M, N, 3), uint8
        The decoded picture.
    jpeg : bytes
        The compressed file.
    """
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", quality=int(quality))
    jpeg = buffer.getvalue()
    with Image.open(io.BytesIO(jpeg)) as decoded:
        return np.asarray(decoded.convert("RGB")).copy(), jpeg
