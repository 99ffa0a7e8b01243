"""Training losses of BPartIS: Lovasz hinge, seed loss and sigma smoothness (weights 1, 1, 10).

For every ground-truth instance ``S_k`` of an image, with pixel embeddings
``e_i = tanh(o_i) + x_i`` and sigma logits ``s_i``:

* the centre is the mean embedding ``mu_k`` and the instance's sigma the mean ``s_k``
  over its pixels;
* every pixel gets the Gaussian score ``phi_k(e_i) = exp(-sum((e_i - mu_k)^2 exp(10 s_k)))``;
* **Lovasz hinge** (Berman et al. 2018) between the scores, as logits ``2 phi - 1``, and the
  instance mask: a convex surrogate of 1 - IoU;
* **smoothness**: mean of ``(s_i - s_k)^2`` over the instance (s_k held fixed);
* **seed**: the seed map is regressed to ``phi_k`` (held fixed) on the instance and to 0 on
  the background, squared error averaged over all pixels.

Instance terms are averaged over the instances of an image, images over the batch.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .model import coordinate_grid

__all__ = ["lovasz_grad", "lovasz_hinge", "jaccard_loss", "LossWeights", "spatial_embedding_loss", "coordinate_grid"]


def lovasz_grad(gt_sorted: torch.Tensor) -> torch.Tensor:
    """Gradient of the Lovasz extension of the Jaccard loss w.r.t. sorted errors.

    Parameters
    ----------
    gt_sorted : Tensor of shape (P,)
        Ground-truth labels (0/1) ordered by decreasing error.
    """
    gts = gt_sorted.sum()
    intersection = gts - gt_sorted.cumsum(0)
    union = gts + (1 - gt_sorted).cumsum(0)
    jaccard = 1.0 - intersection / union
    if len(gt_sorted) > 1:
        jaccard[1:] = jaccard[1:] - jaccard[:-1]
    return jaccard


def lovasz_hinge(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Binary Lovasz hinge loss.

    Parameters
    ----------
    logits : Tensor of shape (P,)
        Real-valued scores (positive = foreground).
    labels : Tensor of shape (P,)
        0/1 ground truth.

    Returns
    -------
    Tensor, scalar

    Examples
    --------
    >>> y = torch.tensor([1., 1., 0., 0.])
    >>> float(lovasz_hinge(torch.tensor([5., 5., -5., -5.]), y))  # confident and right
    0.0
    """
    labels = labels.float()
    if labels.numel() == 0:
        return logits.sum() * 0.0
    signs = 2.0 * labels - 1.0
    errors = 1.0 - logits * signs
    errors_sorted, order = torch.sort(errors, descending=True)
    return torch.dot(F.relu(errors_sorted), lovasz_grad(labels[order]))


def jaccard_loss(pred: torch.Tensor, labels: torch.Tensor) -> float:
    """1 - IoU of two binary masks (the set function the Lovasz hinge extends); 0 when both are empty."""
    pred, labels = pred.bool(), labels.bool()
    union = (pred | labels).sum().item()
    return 0.0 if union == 0 else 1.0 - (pred & labels).sum().item() / union


@dataclass(frozen=True)
class LossWeights:
    """Weights of the three terms (the paper: 1, 1, 10)."""

    lovasz: float = 1.0
    seed: float = 1.0
    smooth: float = 10.0


def spatial_embedding_loss(
    output: torch.Tensor, instances: torch.Tensor, weights: LossWeights = LossWeights()
) -> tuple[torch.Tensor, dict[str, float]]:
    """The BPartIS training loss for a batch.

    Parameters
    ----------
    output : Tensor of shape (N, 5, H, W)
        Raw network output (offsets, sigma logits, seed logit).
    instances : Tensor of shape (N, H, W), int
        Ground-truth instance maps, 0 = background.
    weights : LossWeights

    Returns
    -------
    loss : Tensor, scalar
        Weighted sum, differentiable.
    parts : dict
        ``lovasz``, ``seed``, ``smooth`` (floats, unweighted batch means) for logging.
    """
    if output.ndim != 4 or output.shape[1] != 5:
        raise ValueError(f"output must have shape (N, 5, H, W), got {tuple(output.shape)}")
    n, _, h, w = output.shape
    if instances.shape != (n, h, w):
        raise ValueError(f"instances must have shape {(n, h, w)}, got {tuple(instances.shape)}")
    grid = coordinate_grid(h, w, output.device)
    total = output.new_zeros(())
    parts = {"lovasz": 0.0, "seed": 0.0, "smooth": 0.0}
    for b in range(n):
        emb = torch.tanh(output[b, 0:2]) + grid
        sigma = output[b, 2:4]
        seed = torch.sigmoid(output[b, 4])
        inst = instances[b]
        ids = [int(i) for i in torch.unique(inst) if i != 0]
        seed_target_err = (seed[inst == 0] ** 2).sum()
        lov = output.new_zeros(())
        smooth = output.new_zeros(())
        for k in ids:
            mask = inst == k
            centre = emb[:, mask].mean(dim=1, keepdim=True)
            s_pix = sigma[:, mask]
            s_k = s_pix.mean(dim=1, keepdim=True)
            smooth = smooth + ((s_pix - s_k.detach()) ** 2).mean()
            precision = torch.exp(s_k * 10.0).view(2, 1, 1)
            score = torch.exp(-(((emb - centre.view(2, 1, 1)) ** 2) * precision).sum(0))
            lov = lov + lovasz_hinge((score * 2.0 - 1.0).flatten(), mask.flatten())
            seed_target_err = seed_target_err + ((seed[mask] - score[mask].detach()) ** 2).sum()
        m = max(len(ids), 1)
        seed_term = seed_target_err / (h * w)
        image_loss = weights.lovasz * lov / m + weights.seed * seed_term + weights.smooth * smooth / m
        total = total + image_loss
        parts["lovasz"] += lov.item() / m / n
        parts["seed"] += seed_term.item() / n
        parts["smooth"] += smooth.item() / m / n
    return total / n, parts
