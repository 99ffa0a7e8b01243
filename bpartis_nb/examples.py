"""Built-in examples (no download needed): a synthetic micrograph with its truth, the
output a perfect network would give, and out-of-distribution inputs.

The image imitates a secondary-electron SEM picture of dispersed nanoparticles: a dark,
slightly uneven substrate; bright, convex particles of varied size and mild ellipticity
with brighter rims (the edge effect); a little blur and shot noise. Its true instance
map and pixel size come with it, so results can be checked against the truth.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

__all__ = ["Example", "synthetic_micrograph", "perfect_output", "out_of_distribution_images"]


@dataclass(frozen=True)
class Example:
    """A micrograph with its ground truth.

    Attributes
    ----------
    name : str
    image : ndarray of shape (M, N, 3), uint8
        Grey values replicated to RGB.
    labels : ndarray of shape (M, N), int32
        True instance map, 0 = background.
    pixel_size : float
        Physical size of one pixel, in ``unit``.
    unit : str
    description : str
    """

    name: str
    image: NDArray[np.uint8]
    labels: NDArray[np.int32]
    pixel_size: float
    unit: str
    description: str


def synthetic_micrograph(
    size: int = 512,
    n_particles: int = 45,
    radius: tuple[float, float] = (14.0, 30.0),
    seed: int = 7,
    pixel_size: float = 2.0,
) -> Example:
    """Generate an SEM-like image of separated particles, with its true instance map.

    Parameters
    ----------
    size : int
        Side of the square image in pixels.
    n_particles : int
        Particles to place (fewer when the image is full: they never overlap).
    radius : (float, float)
        Range of the particles' mean radius in pixels.
    seed : int
        Same seed, same image.
    pixel_size : float
        Nanometres per pixel attached to the example.

    Returns
    -------
    Example

    Examples
    --------
    >>> ex = synthetic_micrograph(size=128, n_particles=5, radius=(8, 12))
    >>> ex.image.shape, ex.image.dtype, int(ex.labels.max())
    ((128, 128, 3), dtype('uint8'), 5)
    """
    rng = np.random.default_rng(seed)
    labels = np.zeros((size, size), np.int32)
    height = np.zeros((size, size))
    rim = np.zeros((size, size))
    placed = 0
    for _ in range(n_particles * 50):
        if placed == n_particles:
            break
        r = rng.uniform(*radius)
        a, b = r * rng.uniform(1.0, 1.35), r
        theta = rng.uniform(0, np.pi)
        cy, cx = rng.uniform(a + 2, size - a - 2, 2)
        # work in a window around the particle (its semi-axes plus the 3-pixel gap)
        half = int(np.ceil(a)) + 5
        r0, r1 = max(0, int(cy) - half), min(size, int(cy) + half + 1)
        c0, c1 = max(0, int(cx) - half), min(size, int(cx) + half + 1)
        dy = np.arange(r0, r1, dtype=np.float64)[:, None] - cy
        dx = np.arange(c0, c1, dtype=np.float64)[None, :] - cx
        u = (dx * np.cos(theta) + dy * np.sin(theta)) / a
        v = (-dx * np.sin(theta) + dy * np.cos(theta)) / b
        rho2 = u * u + v * v
        inside = rho2 <= 1.0
        grown = ndimage.binary_dilation(inside, iterations=3)
        window = (slice(r0, r1), slice(c0, c1))
        if np.any(labels[window][grown]):
            continue
        placed += 1
        labels[window][inside] = placed
        height[window][inside] = np.sqrt(1.0 - rho2[inside]) * rng.uniform(0.75, 1.0)
        rim[window][inside] = np.clip((rho2[inside] - 0.55) / 0.45, 0, 1) ** 2
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float64)
    substrate = 0.18 + 0.06 * np.sin(cols / size * 3.0) * np.cos(rows / size * 2.0)
    substrate += ndimage.gaussian_filter(rng.normal(0, 1, (size, size)), 6) * 0.08
    tone = substrate + (labels > 0) * (0.35 + 0.25 * height + 0.3 * rim)
    tone = ndimage.gaussian_filter(tone, 1.0)
    tone = rng.poisson(np.clip(tone, 0, 1) * 200) / 200.0
    grey = np.clip(tone * 255, 0, 255).astype(np.uint8)
    return Example(
        name="synthetic SEM nanoparticles",
        image=np.repeat(grey[:, :, None], 3, axis=2),
        labels=labels,
        pixel_size=pixel_size,
        unit="nm",
        description=(
            f"{placed} separated particles, mean radius {radius[0]:g}-{radius[1]:g} px, "
            f"{pixel_size:g} nm/px; generated with seed {seed}"
        ),
    )


def perfect_output(labels: NDArray[np.integer], sigma: float = 0.02, seed: float = 0.99) -> NDArray[np.float32]:
    """The raw output an ideal network would give for an instance map.

    Every pixel of an instance gets the offset that moves its embedding exactly onto the
    instance's centroid, the same sigma logit, and a high seed; background pixels get zero
    offsets and sigma logits and a low seed.

    Parameters
    ----------
    labels : ndarray of shape (M, N), int
        Instance map, 0 = background.
    sigma : float
        Standard deviation of every instance's Gaussian, in embedding units (image
        widths): the sigma logit is ``ln(1 / (2 sigma^2)) / 10``.
    seed : float
        Seed probability inside instances (background gets ``1 - seed``).

    Returns
    -------
    ndarray of shape (5, M, N), float32
        Offset logits (x, y), sigma logits (x, y), seed logit: the layout of
        :class:`bpartis_nb.model.BranchedERFNet`'s output.

    Examples
    --------
    >>> from bpartis_nb.cluster import cluster_output
    >>> truth = np.zeros((64, 64), np.int32); truth[5:25, 5:25] = 1; truth[30:60, 30:50] = 2
    >>> labels, _ = cluster_output(perfect_output(truth))
    >>> bool((labels == truth).all())
    True
    """
    from .cluster import embedding_coordinates

    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"labels must be a 2-D instance map, got shape {labels.shape}")
    if not 0 < sigma < 1 or not 0.5 < seed < 1:
        raise ValueError(f"need 0 < sigma < 1 and 0.5 < seed < 1, got sigma={sigma}, seed={seed}")
    height, width = labels.shape
    coords = embedding_coordinates(height, width).astype(np.float64)
    out = np.zeros((5, height, width), np.float64)
    logit = np.log(seed / (1 - seed))
    out[4] = -logit
    for k in np.unique(labels[labels > 0]):
        mask = labels == k
        centre = coords[:, mask].mean(axis=1)
        delta = np.clip(centre[:, None] - coords[:, mask], -0.999999, 0.999999)
        out[0:2, mask] = np.arctanh(delta)
        out[2:4, mask] = np.log(1.0 / (2.0 * sigma**2)) / 10.0
        out[4, mask] = logit
    return out.astype(np.float32)


def out_of_distribution_images(size: int = 512, seed: int = 0) -> dict[str, NDArray[np.uint8]]:
    """Inputs unlike any electron micrograph, to see what the uncertainty does with them.

    Returns
    -------
    dict
        ``"photograph"``: scikit-image's ``chelsea`` (a cat, public domain, shipped with
        scikit-image) and ``"noise"``: uniform RGB noise of shape (size, size, 3); uint8.
    """
    from skimage import data

    rng = np.random.default_rng(seed)
    return {
        "photograph": data.chelsea(),
        "noise": rng.integers(0, 256, (size, size, 3), dtype=np.uint8),
    }
