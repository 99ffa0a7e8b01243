"""The paper's training augmentations, applied identically to an image and its instance map.

Horizontal and vertical flips, random rotations, colour jitter (brightness, contrast,
saturation and hue, each +-0.3), and random crops of half the resolution scaled back up
(bicubic for the image, nearest for the labels). Written with torch alone (torchvision
does not install beside the CPU torch used here).

Images are float tensors (3, H, W) in [0, 1]; labels are integer tensors (H, W).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F

__all__ = ["Augment", "flip", "rotate", "colour_jitter", "crop_and_resize"]


def flip(image: torch.Tensor, labels: torch.Tensor, horizontal: bool, vertical: bool):
    """Mirror left-right and/or top-bottom."""
    dims = [d for d, on in ((-1, horizontal), (-2, vertical)) if on]
    if not dims:
        return image, labels
    return image.flip(dims), labels.flip(dims)


def rotate(image: torch.Tensor, labels: torch.Tensor, degrees: float):
    """Rotate about the centre (bilinear image, nearest labels); corners become 0/background."""
    theta = math.radians(degrees)
    c, s = math.cos(theta), math.sin(theta)
    matrix = torch.tensor([[c, -s, 0.0], [s, c, 0.0]], dtype=image.dtype).unsqueeze(0)
    grid = F.affine_grid(matrix, (1, 1, *image.shape[-2:]), align_corners=False)
    img = F.grid_sample(image[None], grid, mode="bilinear", padding_mode="zeros", align_corners=False)[0]
    lab = F.grid_sample(labels[None, None].float(), grid, mode="nearest", padding_mode="zeros",
                        align_corners=False)[0, 0]
    return img.clamp(0, 1), lab.round().to(labels.dtype)


def _grey(image: torch.Tensor) -> torch.Tensor:
    return (0.299 * image[0] + 0.587 * image[1] + 0.114 * image[2])[None]


def colour_jitter(image: torch.Tensor, brightness: float, contrast: float, saturation: float, hue: float):
    """Scale brightness, contrast and saturation by the given factors and turn the hue.

    Parameters
    ----------
    brightness, contrast, saturation : float
        Multiplicative factors (1 = unchanged).
    hue : float
        Hue turn as a fraction of a full circle (0 = unchanged), applied as a rotation
        of the chroma plane in YIQ space.
    """
    x = image * brightness
    mean = _grey(x).mean()
    x = (x - mean) * contrast + mean
    g = _grey(x)
    x = (x - g) * saturation + g
    if hue:
        to_yiq = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]],
                              dtype=x.dtype)
        a = 2 * math.pi * hue
        turn = torch.tensor([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]],
                            dtype=x.dtype)
        m = torch.linalg.inv(to_yiq) @ turn @ to_yiq
        x = torch.einsum("ij,jhw->ihw", m, x)
    return x.clamp(0, 1)


def crop_and_resize(image: torch.Tensor, labels: torch.Tensor, top: int, left: int, fraction: float = 0.5):
    """Crop ``fraction`` of each side at (top, left) and scale back to the full size."""
    h, w = image.shape[-2:]
    ch, cw = max(1, int(round(h * fraction))), max(1, int(round(w * fraction)))
    img = image[:, top : top + ch, left : left + cw]
    lab = labels[top : top + ch, left : left + cw]
    img = F.interpolate(img[None], size=(h, w), mode="bicubic", align_corners=False)[0].clamp(0, 1)
    # "nearest-exact" samples pixel centres, as bicubic with align_corners=False does
    lab = F.interpolate(lab[None, None].float(), size=(h, w), mode="nearest-exact")[0, 0].to(labels.dtype)
    return img, lab


@dataclass
class Augment:
    """Random augmentation of (image, labels) pairs, with the paper's settings.

    Parameters
    ----------
    p_flip : float
        Probability of each flip.
    max_rotation : float
        Rotations are uniform in [-max_rotation, max_rotation] degrees.
    jitter : float
        Brightness, contrast and saturation factors uniform in [1 - jitter, 1 + jitter];
        hue turn uniform in [-jitter, jitter] of a full circle (torchvision's ``hue``
        convention; at most 0.5).
    p_crop : float
        Probability of a half-resolution crop scaled back up.
    generator : torch.Generator, optional
        For reproducible draws.

    Examples
    --------
    >>> aug = Augment(generator=torch.Generator().manual_seed(0))
    >>> img, lab = aug(torch.rand(3, 32, 32), torch.zeros(32, 32, dtype=torch.int64))
    >>> img.shape, lab.shape
    (torch.Size([3, 32, 32]), torch.Size([32, 32]))
    """

    p_flip: float = 0.5
    max_rotation: float = 180.0
    jitter: float = 0.3
    p_crop: float = 0.5
    generator: Optional[torch.Generator] = None

    def _u(self, lo: float = 0.0, hi: float = 1.0) -> float:
        return float(torch.rand((), generator=self.generator)) * (hi - lo) + lo

    def __call__(self, image: torch.Tensor, labels: torch.Tensor):
        if image.ndim != 3 or image.shape[0] != 3 or labels.shape != image.shape[-2:]:
            raise ValueError(f"expected image (3, H, W) and labels (H, W); got {tuple(image.shape)}, {tuple(labels.shape)}")
        image, labels = flip(image, labels, self._u() < self.p_flip, self._u() < self.p_flip)
        if self.max_rotation:
            image, labels = rotate(image, labels, self._u(-self.max_rotation, self.max_rotation))
        j = self.jitter
        if j:
            image = colour_jitter(image, self._u(1 - j, 1 + j), self._u(1 - j, 1 + j), self._u(1 - j, 1 + j),
                                  self._u(-min(j, 0.5), min(j, 0.5)))
        if self._u() < self.p_crop:
            h, w = labels.shape
            top = int(self._u() * (h - h // 2 + 1))
            left = int(self._u() * (w - w // 2 + 1))
            image, labels = crop_and_resize(image, labels, min(top, h - h // 2), min(left, w - w // 2))
        return image, labels
