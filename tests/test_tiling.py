"""Tiled inference: tile layout, stitching across seams with a network whose answer is
known, and the real model on a synthetic image larger than one tile."""
import numpy as np
import pytest
import torch

from bpartis_nb.examples import perfect_output, synthetic_micrograph
from bpartis_nb.pipeline import segment
from bpartis_nb.tiling import segment_tiled, tile_origins


@pytest.mark.parametrize("length,tile,overlap", [(512, 512, 128), (513, 512, 128), (1000, 512, 0), (4096, 512, 128),
                                                 (2000, 256, 200)])
def test_tiles_cover_with_the_overlap(length, tile, overlap):
    starts = tile_origins(length, tile, overlap)
    assert starts[0] == 0 and starts[-1] == max(0, length - tile)
    covered = np.zeros(length, int)
    for s in starts:
        covered[s : s + tile] += 1
    assert (covered >= 1).all()
    assert all(b - a <= tile - overlap for a, b in zip(starts, starts[1:]))
    with pytest.raises(ValueError, match="overlap"):
        tile_origins(length, tile, tile)


class OracleNet(torch.nn.Module):
    """A stand-in network that reads a tile's true instance ids from the pixel values
    (red = id // 256, green = id % 256) and returns the output a perfect network would
    give for that tile: stitching is then the only thing under test."""

    def __init__(self):
        super().__init__()
        self.unused = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        ids = torch.round(x[:, 0] * 255) * 256 + torch.round(x[:, 1] * 255)
        return torch.stack([torch.from_numpy(perfect_output(i.numpy().astype(np.int32))) for i in ids])


def _encode(labels):
    image = np.zeros(labels.shape + (3,), np.uint8)
    image[..., 0], image[..., 1] = labels // 256, labels % 256
    return image


def _same_partition(a, b):
    """Each instance of a is exactly one instance of b, and vice versa."""
    fa, fb = a.ravel(), b.ravel()
    if not np.array_equal(fa > 0, fb > 0):
        return False
    pairs = np.unique(np.stack([fa[fa > 0], fb[fa > 0]]), axis=1)
    return len(np.unique(pairs[0])) == len(np.unique(pairs[1])) == pairs.shape[1]


def test_stitching_with_a_perfect_network_gives_the_truth_back():
    truth = np.zeros((900, 1300), np.int32)
    k = 0
    for r in range(20, 880, 60):            # a grid of small particles, many crossing seams
        for c in range(20, 1280, 60):
            k += 1
            truth[r : r + 40, c : c + 40] = k
    truth[300:700, 200:1100] = 0
    truth[320:680, 220:1080] = k + 1        # one particle larger than a tile (860 px wide)
    truth[0:30, 600:640] = k + 2            # touching the image edge
    image = _encode(truth)
    result = segment_tiled(image, samples=0, model=OracleNet(), tile=512, overlap=128)
    assert result.net_output is None and result.shape == truth.shape
    assert _same_partition(result.labels, truth)
    assert len(result.instances) == len(np.unique(truth[truth > 0]))


def test_small_images_are_padded_not_stretched():
    truth = np.zeros((200, 300), np.int32)
    truth[20:60, 30:90] = 1
    truth[120:190, 200:290] = 2
    result = segment_tiled(_encode(truth), samples=0, model=OracleNet(), tile=512)
    assert _same_partition(result.labels, truth)


def test_real_model_on_a_synthetic_image_larger_than_a_tile(published_model):
    ex = synthetic_micrograph(size=1024, n_particles=262, radius=(12.0, 24.0), seed=11)
    result = segment(ex.image, samples=2, seed=0, model=published_model, tiled=True)
    assert result.shape == (1024, 1024) and result.mutual_information.shape == (1024, 1024)
    truth = ex.labels
    n_true = truth.max()
    assert abs(result.count - n_true) <= 0.03 * n_true
    # no particle is split across a seam, and none is found twice
    split = dup = 0
    for k in range(1, n_true + 1):
        ids, counts = np.unique(result.labels_unfiltered[truth == k], return_counts=True)
        counts = counts[ids > 0]
        split += int((counts > 0.2 * (truth == k).sum()).sum() > 1)
    for k in range(1, len(result.instances) + 1):
        ids, counts = np.unique(truth[result.labels_unfiltered == k], return_counts=True)
        dup += 0 if len(ids[ids > 0]) else 1
    assert split == 0 and dup <= 0.02 * n_true


def test_tiled_options_are_checked(published_model):
    image = synthetic_micrograph(size=128, n_particles=3, radius=(10, 14)).image
    with pytest.raises(ValueError, match="keep_samples"):
        segment(image, samples=2, model=published_model, tiled=True, keep_samples=True)
    with pytest.raises(ValueError, match="tile"):
        segment_tiled(image, samples=0, model=published_model, tile=100)
    a = segment(image, samples=2, seed=1, model=published_model, tiled=True)
    b = segment(image, samples=2, seed=1, model=published_model, tiled=True)
    assert np.array_equal(a.labels, b.labels) and a.with_threshold(0.5).count >= a.count


def test_tiled_adaptive_runs_fewer_samples_in_calm_tiles(published_model):
    ex = synthetic_micrograph(size=700, n_particles=60, radius=(12.0, 24.0), seed=2)
    full = segment_tiled(ex.image, samples=16, seed=0, model=published_model)
    fast = segment_tiled(ex.image, samples=16, seed=0, model=published_model, adaptive=True)
    assert full.samples == 16 and 6 <= fast.samples <= 16
    assert abs(fast.count - full.count) <= 3
