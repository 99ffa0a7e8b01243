"""The micrograph under the annotations: particles, their instance map and the tone.

The particles come from :func:`bpartis_nb.examples.synthetic_micrograph`, generated at a
modest size (cheaper than a large micrograph), toned there (inverted for the look of a
bright-field TEM picture, mottled, shaded, gamma, black and white levels), then zoomed up
and cropped to the canvas and given fresh grain.
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from ...examples import synthetic_micrograph
from .style import SALT

__all__ = ["background"]


def _particle_cap(gen: int, lo: float, hi: float) -> int:
    """At most this many particles cover about 30 % of the picture: beyond that the
    generator spends its time on failed placements."""
    mean = (lo + hi) / 2 * gen * 1.2 + 3
    return max(1, int(0.3 * gen * gen / (math.pi * mean * mean)))


@lru_cache(maxsize=1)
def _grain_field() -> NDArray[np.float32]:
    """Unit Gaussian noise from which each rendering takes a window (cheaper than drawing it)."""
    return np.random.default_rng([SALT, 0]).standard_normal((1600, 1600), dtype=np.float32)


def _relabel(labels: NDArray[np.int32]) -> NDArray[np.int32]:
    """Instance numbers made consecutive (1, 2, ...) over the particles still present."""
    present = np.bincount(labels.ravel(), minlength=1) > 0
    present[0] = False
    lookup = np.cumsum(present).astype(np.int32) * present
    return lookup[labels]


def background(style: dict[str, Any], height: int, width: int) -> tuple[NDArray[np.uint8], NDArray[np.int32]]:
    """The micrograph without annotations: grey levels and the instance map.

    Parameters
    ----------
    style : dict
        The rendering's style (``gen_size``, ``n_particles``, ``radius_frac``, ``bg_seed``,
        ``mode``, ``mottle``, ``shading``, ``gamma``, ``black``, ``white``,
        ``crop_offset``, ``grain``).
    height, width : int
        Canvas size.

    Returns
    -------
    grey : ndarray of shape (height, width), uint8
    labels : ndarray of shape (height, width), int32
        Particle instances numbered from 1; 0 = background.
    """
    side = max(height, width)
    gen = int(min(side, style["gen_size"]))
    lo, hi = style["radius_frac"]
    example = synthetic_micrograph(size=gen, n_particles=min(int(style["n_particles"]), _particle_cap(gen, lo, hi)),
                                   radius=(lo * gen, hi * gen), seed=int(style["bg_seed"]))
    grey = example.image[:, :, 0].astype(np.float32) / np.float32(255)
    rng = np.random.default_rng([SALT, int(style["bg_seed"]), 1])
    if style["mode"] == "tem":  # bright-field look: dark particles on a bright film
        grey = 1.0 - grey
    coarse = rng.standard_normal((gen // 6 + 2, gen // 6 + 2), dtype=np.float32)
    grey += np.float32(style["mottle"]) * np.asarray(Image.fromarray(coarse, "F").resize((gen, gen), Image.BICUBIC))
    ramp = np.arange(gen, dtype=np.float32) / np.float32(gen) - np.float32(0.5)
    grey += np.float32(style["shading"][0]) * ramp[:, None] + np.float32(style["shading"][1]) * ramp[None, :]
    grey = np.clip(grey, 0, 1) ** np.float32(style["gamma"])
    grey = np.float32(style["black"]) + np.float32(style["white"] - style["black"]) * grey

    r0 = int(round(style["crop_offset"][0] * (side - height)))
    c0 = int(round(style["crop_offset"][1] * (side - width)))
    if gen == side:
        grey = grey[r0:r0 + height, c0:c0 + width]
        labels = example.labels[r0:r0 + height, c0:c0 + width]
    else:  # zoom up only the part that is kept
        scale = gen / side
        box = (c0 * scale, r0 * scale, (c0 + width) * scale, (r0 + height) * scale)
        grey = np.asarray(Image.fromarray(grey, "F").resize((width, height), Image.BICUBIC, box=box))
        labels = np.asarray(Image.fromarray(example.labels).resize((width, height), Image.NEAREST, box=box))
    labels = _relabel(labels.astype(np.int32))
    noise = _grain_field()
    r0, c0 = (int(v) for v in rng.integers(0, noise.shape[0] - side, 2))
    grey = grey * np.float32(255) + np.float32(255 * style["grain"]) * noise[r0:r0 + height, c0:c0 + width]
    np.clip(grey, 0, 255, out=grey)
    return np.rint(grey).astype(np.uint8), labels
