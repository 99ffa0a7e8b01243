"""The BPartIS network: a branched ERFNet with Monte-Carlo dropout.

The encoder follows ERFNet (Romera et al. 2018) with the two changes of the BPartIS
paper: ELU activations everywhere and, in the decoders, bilinear upsampling followed by
an ordinary convolution instead of transposed convolutions. Two decoders share the
encoder: decoder 0 predicts 4 channels (2 offsets, 2 sigma logits), decoder 1 the seed
logit. Module names mirror the published state dict so that
``load_state_dict(strict=True)`` accepts ``bpartis-emps-2021.pt`` unchanged.

Dropout is channel-wise (as ``nn.Dropout2d``) but drawn by :class:`MCDropout`, which
takes an optional ``torch.Generator`` so that Monte-Carlo runs are reproducible and can
be switched on at test time while BatchNorm stays in evaluation mode.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["BranchedERFNet", "MCDropout", "mc_dropout", "coordinate_grid", "OUTPUT_CHANNELS"]

#: Output channels of the network: 2 offsets (x, y), 2 sigma logits (x, y), 1 seed logit.
OUTPUT_CHANNELS = 5

_BN_EPS = 1e-3


def coordinate_grid(height: int, width: int, device=None) -> torch.Tensor:
    """Pixel coordinates in [0, 1] that the offsets are added to, shape (2, height, width).

    Channel 0 is x (column), from 0 at the left to 1 at the right; channel 1 is y (row).
    """
    x = torch.linspace(0.0, 1.0, width, device=device).view(1, width).expand(height, width)
    y = torch.linspace(0.0, 1.0, height, device=device).view(height, 1).expand(height, width)
    return torch.stack([x, y])


class MCDropout(nn.Module):
    """Channel dropout that can stay on at test time.

    Active when the module is in training mode or when ``mc`` is set (see
    :func:`mc_dropout`). A whole feature map (channel) of each sample is zeroed with
    probability ``p`` and the rest are scaled by ``1 / (1 - p)``, as ``nn.Dropout2d``.

    Parameters
    ----------
    p : float
        Probability of dropping a channel.
    """

    def __init__(self, p: float):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = float(p)
        self.mc = False
        self.generator: torch.Generator | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p == 0.0 or not (self.training or self.mc):
            return x
        keep = torch.empty(x.shape[0], x.shape[1], 1, 1, device=x.device, dtype=x.dtype)
        keep.bernoulli_(1.0 - self.p, generator=self.generator)
        return x * keep.div_(1.0 - self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class DownsamplerBlock(nn.Module):
    """Strided 3x3 convolution concatenated with 2x2 max-pooling, then BN and ELU."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels - in_channels, 3, stride=2, padding=1)
        self.pool = nn.MaxPool2d(2, stride=2)
        self.bn = nn.BatchNorm2d(out_channels, eps=_BN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.elu(self.bn(torch.cat([self.conv(x), self.pool(x)], dim=1)))


class NonBottleneck1d(nn.Module):
    """ERFNet's factorised residual block (3x1 and 1x3 convolutions, optional dilation).

    The residual branch ends with channel dropout before the skip connection is added.
    ``branch`` and ``merge`` are exposed separately so that inference can compute the
    deterministic part of the first stochastic block once for all Monte-Carlo samples.
    """

    def __init__(self, channels: int, dropout: float, dilation: int):
        super().__init__()
        c, d = channels, dilation
        self.conv3x1_1 = nn.Conv2d(c, c, (3, 1), padding=(1, 0))
        self.conv1x3_1 = nn.Conv2d(c, c, (1, 3), padding=(0, 1))
        self.bn1 = nn.BatchNorm2d(c, eps=_BN_EPS)
        self.conv3x1_2 = nn.Conv2d(c, c, (3, 1), padding=(d, 0), dilation=(d, 1))
        self.conv1x3_2 = nn.Conv2d(c, c, (1, 3), padding=(0, d), dilation=(1, d))
        self.bn2 = nn.BatchNorm2d(c, eps=_BN_EPS)
        self.dropout = MCDropout(dropout)

    def branch(self, x: torch.Tensor) -> torch.Tensor:
        """Residual branch up to (not including) dropout; deterministic."""
        y = F.elu(self.conv3x1_1(x))
        y = F.elu(self.bn1(self.conv1x3_1(y)))
        y = F.elu(self.conv3x1_2(y))
        return self.bn2(self.conv1x3_2(y))

    def merge(self, branch: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Dropout on the branch, add the skip connection, ELU."""
        return F.elu(self.dropout(branch) + x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.merge(self.branch(x), x)


class UpsamplerBlock(nn.Module):
    """Bilinear 2x upsampling, 3x3 convolution, BN, ELU (replaces ERFNet's deconvolution)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.bn = nn.BatchNorm2d(out_channels, eps=_BN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        return F.elu(self.bn(self.conv(x)))


class Encoder(nn.Module):
    """ERFNet encoder: 1/8 resolution, 128 channels.

    Dropout 0.03 in the five 64-channel blocks and 0.3 in the eight dilated 128-channel
    blocks. ``output_conv`` exists only because the published state dict holds it (the
    original code could train the encoder alone); segmentation does not use it.
    """

    def __init__(self, num_outputs: int = OUTPUT_CHANNELS, p64: float = 0.03, p128: float = 0.3):
        super().__init__()
        self.initial_block = DownsamplerBlock(3, 16)
        layers: list[nn.Module] = [DownsamplerBlock(16, 64)]
        layers += [NonBottleneck1d(64, p64, 1) for _ in range(5)]
        layers.append(DownsamplerBlock(64, 128))
        for _ in range(2):
            layers += [NonBottleneck1d(128, p128, d) for d in (2, 4, 8, 16)]
        self.layers = nn.ModuleList(layers)
        self.output_conv = nn.Conv2d(128, num_outputs, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.initial_block(x)
        for layer in self.layers:
            x = layer(x)
        return x


class Decoder(nn.Module):
    """Two upsampling stages with residual blocks, a last bilinear 2x and a 3x3 head."""

    def __init__(self, num_outputs: int):
        super().__init__()
        self.layers = nn.ModuleList(
            [
                UpsamplerBlock(128, 64),
                NonBottleneck1d(64, 0.0, 1),
                NonBottleneck1d(64, 0.0, 1),
                UpsamplerBlock(64, 16),
                NonBottleneck1d(16, 0.0, 1),
                NonBottleneck1d(16, 0.0, 1),
            ]
        )
        self.output_conv = nn.Conv2d(16, num_outputs, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        return self.output_conv(x)


class BranchedERFNet(nn.Module):
    """The BPartIS network.

    Parameters
    ----------
    p64, p128 : float
        Dropout probabilities of the 64- and 128-channel encoder blocks (paper: 0.03, 0.3).

    Notes
    -----
    Input: float tensor of shape (N, 3, H, W), RGB in [0, 1], H and W multiples of 8
    (the published model was trained at 512 x 512). Output: raw tensor of shape
    (N, 5, H, W): channels 0-1 offsets before tanh (x then y), 2-3 sigma logits
    ``s`` (the Gaussian precision is ``exp(10 s)``), 4 the seed logit (before sigmoid).

    Examples
    --------
    >>> net = BranchedERFNet().eval()
    >>> net(torch.zeros(1, 3, 64, 64)).shape
    torch.Size([1, 5, 64, 64])
    """

    def __init__(self, p64: float = 0.03, p128: float = 0.3):
        super().__init__()
        self.encoder = Encoder(OUTPUT_CHANNELS, p64, p128)
        self.decoders = nn.ModuleList([Decoder(4), Decoder(1)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.encoder(x)
        return torch.cat([decoder(features) for decoder in self.decoders], dim=1)

    # --- split forward for Monte-Carlo inference -------------------------------------
    def _first_stochastic(self) -> int:
        for i, layer in enumerate(self.encoder.layers):
            if isinstance(layer, NonBottleneck1d) and layer.dropout.p > 0:
                return i
        raise RuntimeError("the network has no dropout layer: Monte-Carlo dropout needs one")

    def forward_deterministic(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Everything before the first dropout acts.

        Returns
        -------
        branch, skip : Tensor
            The residual branch of the first stochastic block (before dropout) and its
            input, each of shape (N, 64, H/4, W/4).
        """
        i = self._first_stochastic()
        x = self.encoder.initial_block(x)
        for layer in self.encoder.layers[:i]:
            x = layer(x)
        return self.encoder.layers[i].branch(x), x

    def forward_stochastic(self, branch: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        """The rest of the network from the first dropout on; see :meth:`forward_deterministic`."""
        i = self._first_stochastic()
        x = self.encoder.layers[i].merge(branch, skip)
        for layer in self.encoder.layers[i + 1 :]:
            x = layer(x)
        return torch.cat([decoder(x) for decoder in self.decoders], dim=1)

    def dropout_layers(self) -> list[MCDropout]:
        """The dropout modules with p > 0, in forward order."""
        return [m for m in self.modules() if isinstance(m, MCDropout) and m.p > 0]


@contextlib.contextmanager
def mc_dropout(model: BranchedERFNet, generator: torch.Generator | None = None) -> Iterator[None]:
    """Switch Monte-Carlo dropout on (BatchNorm untouched) for the duration of a block.

    Parameters
    ----------
    model : BranchedERFNet
    generator : torch.Generator, optional
        Source of the dropout masks, for reproducible runs; the global RNG otherwise.
    """
    layers = [m for m in model.modules() if isinstance(m, MCDropout)]
    saved = [(m.mc, m.generator) for m in layers]
    try:
        for m in layers:
            m.mc, m.generator = True, generator
        yield
    finally:
        for m, (mc, gen) in zip(layers, saved):
            m.mc, m.generator = mc, gen
