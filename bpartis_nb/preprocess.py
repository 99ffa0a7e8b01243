"""Preprocessing: an image becomes the network's input, and maps return to the image's size.

The published network was trained on RGB images in [0, 1] resized to 512 x 512 with a
bicubic filter. :func:`to_network_input` does the same to any image the package reads;
:func:`resize_labels` (nearest) and :func:`resize_map` (bicubic) bring the network's
instance and uncertainty maps back to the image's size.
"""
from __future__ import annotations

import numpy as np
import torch
from numpy.typing import NDArray
from PIL import Image

__all__ = ["NETWORK_SIZE", "resize_rgb", "to_network_input", "resize_labels", "resize_map"]

#: Side of the square the published network was trained and evaluated at.
NETWORK_SIZE = 512


def _to_unit_float(image: NDArray) -> NDArray[np.float32]:
    """Scale any image to float32 in [0, 1] (8-bit by /255, others by their own range)."""
    if image.dtype == np.uint8:
        return image.astype(np.float32) / np.float32(255.0)
    a = image.astype(np.float64)
    if np.issubdtype(image.dtype, np.floating) and a.min() >= 0.0 and a.max() <= 1.0:
        return a.astype(np.float32)
    lo, hi = float(a.min()), float(a.max())
    if hi <= lo:
        return np.zeros(a.shape, np.float32)
    return ((a - lo) / (hi - lo)).astype(np.float32)


def _rgb(image: NDArray) -> NDArray:
    """Drop alpha, replicate grey to three channels."""
    if image.ndim == 2:
        return np.repeat(image[:, :, None], 3, axis=2)
    return image[:, :, :3]


def resize_rgb(image: NDArray, size: tuple[int, int]) -> NDArray:
    """Bicubic resize to ``size`` = (width, height) as RGB: 8-bit stays 8-bit (PIL's
    filter, as the published model was trained); other depths are stretched to [0, 1]
    by their own range and resized channel by channel in float32 (no clipping)."""
    rgb = _rgb(image)
    if rgb.dtype == np.uint8:
        return np.asarray(Image.fromarray(np.ascontiguousarray(rgb)).resize(size, Image.BICUBIC))
    unit = _to_unit_float(rgb)
    return np.stack([np.asarray(Image.fromarray(unit[:, :, c]).resize(size, Image.BICUBIC)) for c in range(3)], axis=2)


def to_network_input(image: NDArray, size: int = NETWORK_SIZE) -> torch.Tensor:
    """Turn a validated image into the network's input.

    8-bit images are resized as 8-bit RGB with PIL's bicubic filter and then divided by
    255, exactly as the published model was trained and evaluated. Other bit depths
    (16-bit, float) are stretched to [0, 1] by their own minimum and maximum and resized
    channel by channel in float. Alpha is ignored; grey is replicated to RGB.

    Parameters
    ----------
    image : ndarray of shape (M, N) or (M, N, C)
    size : int
        Side of the square network input.

    Returns
    -------
    Tensor of shape (1, 3, size, size), float32
    """
    resized = resize_rgb(image, (size, size))
    if resized.dtype == np.uint8:
        x = (resized / 255.0).astype(np.float32)
    else:
        x = np.clip(resized, 0.0, 1.0).astype(np.float32)
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None]


def resize_labels(labels: NDArray, shape: tuple[int, int]) -> NDArray[np.int32]:
    """Nearest-neighbour resize of an instance map to ``shape`` = (rows, cols)."""
    labels = np.asarray(labels, dtype=np.int32)
    if labels.shape == tuple(shape):
        return labels.copy()
    im = Image.fromarray(labels)
    return np.asarray(im.resize((shape[1], shape[0]), Image.NEAREST), dtype=np.int32)


def resize_map(values: NDArray, shape: tuple[int, int]) -> NDArray[np.float32]:
    """Bicubic resize of a float map to ``shape`` = (rows, cols) (for display)."""
    values = np.asarray(values, dtype=np.float32)
    if values.shape == tuple(shape):
        return values.copy()
    return np.asarray(Image.fromarray(values).resize((shape[1], shape[0]), Image.BICUBIC), dtype=np.float32)
