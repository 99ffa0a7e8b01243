"""Losses with known answers: Lovasz = Jaccard on 0/1 errors, perfect prediction ~0, gradients flow."""
import itertools

import pytest
import torch

from bpartis_nb.losses import LossWeights, jaccard_loss, lovasz_grad, lovasz_hinge, spatial_embedding_loss
from bpartis_nb.model import coordinate_grid


def lovasz_extension(errors, labels):
    e, order = torch.sort(errors, descending=True)
    return float(torch.dot(e, lovasz_grad(labels[order].float())))


@pytest.mark.parametrize("labels", [list(v) for v in itertools.product([0, 1], repeat=5) if any(v)])
def test_lovasz_extension_equals_jaccard_on_binary_errors(labels):
    """On every 0/1 error vector the extension equals the Jaccard loss of the implied mask."""
    y = torch.tensor(labels, dtype=torch.float32)
    for errors in itertools.product([0.0, 1.0], repeat=5):
        m = torch.tensor(errors)
        pred = torch.where(m > 0, 1 - y, y)  # an error flips the pixel
        assert lovasz_extension(m, y) == pytest.approx(jaccard_loss(pred, y), abs=1e-6)


def test_hinge_values():
    y = torch.tensor([1.0, 1.0, 0.0, 0.0])
    assert float(lovasz_hinge(torch.tensor([3.0, 3.0, -3.0, -3.0]), y)) == 0.0
    # all wrong with margin 1: errors are 2 each -> 2 * (1 - 0) = 2
    assert float(lovasz_hinge(torch.tensor([-1.0, -1.0, 1.0, 1.0]), y)) == pytest.approx(2.0)
    assert float(lovasz_hinge(torch.zeros(0), torch.zeros(0))) == 0.0


def two_squares(size=32):
    inst = torch.zeros(1, size, size, dtype=torch.int64)
    inst[0, 4:12, 4:12] = 1
    inst[0, 18:28, 16:30] = 2
    return inst


def perfect_output(inst):
    """Offsets pointing every pixel at its instance's centre, narrow kernels, seeds 1/0."""
    _, h, w = inst.shape
    grid = coordinate_grid(h, w)
    out = torch.zeros(1, 5, h, w)
    out[0, 2:4] = 0.6  # precision exp(6): small sigma
    out[0, 4] = -12.0
    for k in (1, 2):
        mask = inst[0] == k
        centre = grid[:, mask].mean(1, keepdim=True)
        out[0, 0:2, mask] = torch.atanh((centre - grid[:, mask]).clamp(-0.999, 0.999))
        out[0, 4, mask] = 12.0
    return out


def test_perfect_prediction_has_near_zero_loss():
    inst = two_squares()
    loss, parts = spatial_embedding_loss(perfect_output(inst), inst)
    assert float(loss) < 0.01
    assert parts["lovasz"] < 0.01 and parts["smooth"] < 1e-8 and parts["seed"] < 0.01
    noisy = perfect_output(inst) + torch.randn(1, 5, 32, 32, generator=torch.Generator().manual_seed(0))
    assert float(spatial_embedding_loss(noisy, inst)[0]) > 10 * float(loss)


def test_gradients_reach_offsets_sigmas_and_seeds():
    inst = two_squares()
    out = (perfect_output(inst) * 0.5).requires_grad_(True)
    loss, _ = spatial_embedding_loss(out, inst, LossWeights())
    loss.backward()
    g = out.grad[0]
    for channels in ((0, 1), (2, 3), (4,)):
        assert g[list(channels)].abs().sum() > 0, channels


def test_shapes_checked():
    with pytest.raises(ValueError, match="N, 5"):
        spatial_embedding_loss(torch.zeros(1, 4, 8, 8), torch.zeros(1, 8, 8, dtype=torch.int64))
    with pytest.raises(ValueError, match="instances"):
        spatial_embedding_loss(torch.zeros(1, 5, 8, 8), torch.zeros(1, 9, 8, dtype=torch.int64))


def test_background_only_image():
    inst = torch.zeros(1, 16, 16, dtype=torch.int64)
    out = torch.zeros(1, 5, 16, 16, requires_grad=True)
    loss, parts = spatial_embedding_loss(out, inst)
    assert loss.item() == pytest.approx(0.25)  # sigmoid(0)^2 on every pixel
    loss.backward()
    assert out.grad[0, 4].abs().sum() > 0
