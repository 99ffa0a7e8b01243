"""Native-resolution inference on overlapping tiles, stitched into one instance map.

The default path of :func:`bpartis_nb.segment` resizes every image to 512 x 512, as the
network was trained. Then a particle's size in network pixels depends on the image's
size: a 4096 x 4096 micrograph with 30-pixel particles becomes a 512 x 512 input with
4-pixel particles, below what the clustering accepts. The tiled path runs the network on
512 x 512 windows of the image at its own resolution instead, so memory is bounded by
the tile, not the image.

Stitching
---------
Tiles overlap by ``overlap`` pixels (spread evenly to cover the image). Each tile is
clustered on its own; every instance found becomes a *candidate*, marked **cut** when it
touches a tile edge that lies inside the image (part of it may be outside the tile). The
candidates are then painted into one map:

1. Whole (uncut) candidates first, the most central in their tile first. A candidate
   whose pixels are already more than half taken is a duplicate of a particle found in
   another tile and is dropped; otherwise it takes the pixels still free.
2. Cut candidates next. Overlapping a particle that was itself made of cut pieces: the
   same large particle seen in another tile, so the pieces merge into one instance.
   More than half taken otherwise: a piece of a particle found whole elsewhere,
   dropped. Otherwise a new instance.

A particle smaller than the overlap is therefore always found whole in some tile, and one
larger than a tile is assembled from its pieces. The uncertainty maps are blended across
overlaps with weights that fall to zero at tile edges, and each instance's uncertainty
is the mean mutual information over its pixels at the image's resolution.
"""
from __future__ import annotations

import math
import time
from typing import Optional, Union

import numpy as np
import torch
from numpy.typing import NDArray

from .cluster import ClusterParams, cluster_output
from .inference import Segmentation, _default_model, _instance_table, segment_resized
from .io import ImageSource, read_image
from .model import BranchedERFNet
from .montecarlo import DEFAULT_SAMPLES, DEFAULT_TU, Convergence, Progress, _generator, mc_forward, mi_calibration
from .preprocess import NETWORK_SIZE, _rgb, _to_unit_float, resize_labels, resize_map, resize_rgb
from .uncertainty import instance_mean

__all__ = ["tile_origins", "segment_tiled", "choose_scale", "DEFAULT_OVERLAP", "TARGET_DIAMETER"]

#: Overlap of neighbouring tiles in pixels: particles up to this size are found whole.
DEFAULT_OVERLAP = 128
#: Median equivalent diameter, in network pixels, of the EMPS training particles (each
#: image resized to 512 x 512; median area 0.33 % of the image): the scale the network knows.
TARGET_DIAMETER = 33.0


def choose_scale(image: NDArray, model: BranchedERFNet, device=None, size: int = NETWORK_SIZE,
                 cluster_params: ClusterParams = ClusterParams()) -> float:
    """The factor to resize an image by before tiling, so that its particles appear at the
    size the network was trained on.

    One discriminative pass on the image resized to ``size`` x ``size`` estimates the
    particles' median equivalent diameter, and the factor brings it to
    :data:`TARGET_DIAMETER` network pixels without ever enlarging (at most 1). The
    factor is 1 (native resolution) when the particles are too small at that size: the
    pass finds no instance, or most of its foreground lies in blobs too small for the
    clustering to keep, or it finds fewer than 5 instances (too few to estimate a size
    from; often merged blobs of many small particles) and the image would not fit one
    tile at the implied scale.

    Parameters
    ----------
    image : ndarray of shape (M, N) or (M, N, C)
    model : BranchedERFNet

    Returns
    -------
    float
        In (0, 1]; a value with ``factor * max(M, N) <= size`` means the whole image
        fits one network input, i.e. the default resize path.
    """
    from scipy import ndimage

    array = read_image(image)
    height, width = array.shape[:2]
    probe = segment_resized(array, samples=0, model=model, device=device, network_size=size,
                            cluster_params=cluster_params)
    seed = 1.0 / (1.0 + np.exp(-probe.net_output[4]))
    blobs, n_blobs = ndimage.label(seed > cluster_params.seed_threshold)
    sizes = np.bincount(blobs.ravel())[1:]
    ids, counts = np.unique(probe.net_labels[probe.net_labels > 0], return_counts=True)
    if not len(ids) or sizes[sizes <= cluster_params.min_pixels].sum() * 2 > sizes.sum():
        return 1.0
    d_net = float(np.median(2.0 * np.sqrt(counts / np.pi)))
    d_image = d_net * math.sqrt(height * width) / size
    factor = min(1.0, TARGET_DIAMETER / d_image)
    if len(ids) < 5 and factor * max(height, width) > size:
        return 1.0  # a few blobs are no basis for tiling at a reduced scale
    return float(factor)


def tile_origins(length: int, tile: int, overlap: int) -> list[int]:
    """Start positions of tiles covering ``length`` pixels with at least ``overlap`` shared.

    Parameters
    ----------
    length, tile, overlap : int
        ``0 <= overlap < tile``.

    Returns
    -------
    list of int
        Evenly spread, first 0 and last ``length - tile`` (just ``[0]`` when the tile covers it).

    Examples
    --------
    >>> tile_origins(1000, 512, 128)
    [0, 244, 488]
    >>> tile_origins(1400, 512, 128)
    [0, 296, 592, 888]
    >>> tile_origins(300, 512, 128)
    [0]
    """
    if not 0 <= overlap < tile:
        raise ValueError(f"overlap must be in [0, tile), got overlap={overlap}, tile={tile}")
    if length <= tile:
        return [0]
    n = math.ceil((length - tile) / (tile - overlap)) + 1
    return [int(round(v)) for v in np.linspace(0, length - tile, n)]


def _resized(array: NDArray, factor: float) -> NDArray:
    """The image shrunk by ``factor`` (bicubic; 8-bit stays 8-bit)."""
    height, width = array.shape[:2]
    return resize_rgb(array, (max(1, round(width * factor)), max(1, round(height * factor))))


def _tent(tile: int) -> NDArray[np.float32]:
    """Blending weights of one tile: 1 in the middle, falling linearly to ~0 at the edges."""
    ramp = np.minimum(np.arange(tile) + 0.5, tile - np.arange(tile) - 0.5) / (tile / 2)
    ramp = np.clip(ramp, 0, 1).astype(np.float32)
    return np.outer(ramp, ramp)


def _candidates(labels: NDArray[np.int32], scores, r0: int, c0: int, shape: tuple[int, int], tile: int):
    """Instances of one tile as (cut, centrality, flat global pixel indices, seed score)."""
    height, width = shape
    flat = labels.ravel()
    order = np.argsort(flat, kind="stable")
    bounds = np.searchsorted(flat[order], np.arange(1, len(scores) + 1))
    out = []
    for k in range(1, len(scores)):
        pix = order[bounds[k - 1] : bounds[k]]
        rows, cols = np.divmod(pix, tile)
        inside = (rows + r0 < height) & (cols + c0 < width)  # drop what lies in the padding
        if inside.sum() * 2 <= pix.size:
            continue
        rows, cols = rows[inside], cols[inside]
        cut = bool((rows.min() == 0 and r0 > 0) or (cols.min() == 0 and c0 > 0)
                   or (rows.max() == tile - 1 and r0 + tile < height)
                   or (cols.max() == tile - 1 and c0 + tile < width))
        centrality = max(abs(rows.mean() - (tile - 1) / 2), abs(cols.mean() - (tile - 1) / 2))
        out.append((cut, float(centrality), (rows + r0) * width + (cols + c0), float(scores[k])))
    return out


def _stitch(candidates: list, shape: tuple[int, int]) -> tuple[NDArray[np.int32], NDArray[np.float32]]:
    """Paint candidates into one instance map (see the module docstring)."""
    label = np.zeros(shape[0] * shape[1], np.int32)
    from_pieces = [False]
    scores = [0.0]
    for cut, _, idx, score in sorted(candidates, key=lambda c: (c[0], c[1])):
        existing = label[idx]
        taken = existing > 0
        n_taken = int(np.count_nonzero(taken))
        if cut and n_taken:
            ids, counts = np.unique(existing[taken], return_counts=True)
            best = int(ids[np.argmax(counts)])
            if from_pieces[best]:  # another piece of the same large particle
                label[idx[~taken]] = best
                continue
        if n_taken * 2 > idx.size:  # found (whole) already
            continue
        from_pieces.append(cut)
        scores.append(score)
        label[idx[~taken]] = len(scores) - 1
    return label.reshape(shape), np.asarray(scores, np.float32)


def segment_tiled(
    image: ImageSource,
    samples: int = DEFAULT_SAMPLES,
    tu: float = DEFAULT_TU,
    *,
    tile: int = NETWORK_SIZE,
    overlap: int = DEFAULT_OVERLAP,
    model: Optional[BranchedERFNet] = None,
    device: Optional[Union[str, torch.device]] = None,
    seed: Union[int, torch.Generator, None] = None,
    batch_size: int = 1,
    cluster_params: ClusterParams = ClusterParams(),
    progress: Progress = False,
    adaptive: bool = False,
    scale: Union[float, str] = 1.0,
) -> Segmentation:
    """Segment an image at its own resolution (or a chosen one), tile by tile.

    Parameters
    ----------
    image : path, PIL image or ndarray of shape (M, N) or (M, N, 3|4)
    samples, tu, model, device, seed, batch_size, cluster_params
        As :func:`bpartis_nb.segment`; ``samples=0`` is the discriminative pass.
    tile : int
        Side of the square tiles (a multiple of 8; the network was trained at 512).
        Images smaller than a tile are padded with their median edge colour.
    overlap : int
        Pixels shared by neighbouring tiles; particles up to about this size are found
        whole in one tile, larger ones are assembled from pieces.
    progress : bool or callable
        True for a progress bar over tiles; a callable ``f(done, total)``.
    adaptive : bool
        Adaptive sampling in each tile (:class:`bpartis_nb.montecarlo.Convergence`);
        each tile's mutual-information map is then put on the T = 30 scale
        (:func:`bpartis_nb.montecarlo.mi_calibration`) before blending.
    scale : float or "auto"
        Resize the image by this factor before tiling (1: native resolution). "auto"
        picks it with :func:`choose_scale`; when the whole image then fits one tile, the
        result is the default resize path's (:func:`bpartis_nb.inference.segment_resized`).

    Returns
    -------
    Segmentation
        At the image's resolution; the ``net_*`` fields are None (there is no single
        network-resolution output). ``samples`` is the most any tile used.
    """
    if samples < 0:
        raise ValueError(f"samples must be >= 0, got {samples}")
    if tile % 8 or tile < 64:
        raise ValueError(f"tile must be a multiple of 8 and >= 64, got {tile}")
    array = read_image(image)
    full_shape = array.shape[:2]
    if model is None:
        model = _default_model(device)
    dev = torch.device(device) if device is not None else next(model.parameters()).device
    if next(model.parameters()).device != dev:
        model = model.to(dev)
    model.eval()
    start = time.perf_counter()
    if scale == "auto":
        scale = choose_scale(array, model, dev, tile, cluster_params)
        if scale * max(full_shape) <= tile:
            result = segment_resized(array, samples, tu, model=model, device=dev, seed=seed, batch_size=batch_size,
                                     cluster_params=cluster_params, network_size=tile, progress=progress,
                                     adaptive=adaptive)
            result.seconds = time.perf_counter() - start
            return result
    scale = float(scale)
    if not 0 < scale <= 1:
        raise ValueError(f"scale must be in (0, 1] or 'auto', got {scale}")
    if scale < 1:
        array = _resized(array, scale)
    height, width = array.shape[:2]
    origins_r, origins_c = tile_origins(height, tile, overlap), tile_origins(width, tile, overlap)
    rgb = _rgb(array)
    pixels = rgb if rgb.dtype == np.uint8 else _to_unit_float(rgb)
    pad = ((0, max(0, tile - height)), (0, max(0, tile - width)), (0, 0))
    if pad[0][1] or pad[1][1]:
        # a flat border of the image's typical edge colour: mirroring would double the
        # particles that touch the edge, and repeating the edge would smear them
        edge = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
        fill = np.median(edge, axis=0).astype(pixels.dtype)
        padded = np.empty((height + pad[0][1], width + pad[1][1], 3), pixels.dtype)
        padded[...] = fill
        padded[:height, :width] = pixels
        pixels = padded
    bayes = samples > 0
    gen = _generator(seed, dev)
    weight = _tent(tile)
    maps = np.zeros((3, height, width), np.float32) if bayes else None
    wsum = np.zeros((height, width), np.float32) if bayes else None
    candidates: list = []
    tiles = [(r, c) for r in origins_r for c in origins_c]
    used = 0
    bar = None
    if progress is True:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(tiles), desc="tiles", leave=False)
    try:
        for done, (r0, c0) in enumerate(tiles, 1):
            crop = pixels[r0 : r0 + tile, c0 : c0 + tile]
            scale = 255.0 if crop.dtype == np.uint8 else 1.0
            x = torch.from_numpy(np.ascontiguousarray(crop.transpose(2, 0, 1)).astype(np.float32) / np.float32(scale))
            x = x[None].to(dev)
            if dev.type == "cpu":
                x = x.contiguous(memory_format=torch.channels_last)
            if bayes:
                stop = Convergence(tu, cluster_params) if adaptive and np.isfinite(tu) else None
                summary = mc_forward(model, x, samples, batch_size, gen, stop=stop)
                used = max(used, summary.samples)
                out = summary.mean_output
                factor = mi_calibration(summary.samples) if stop is not None and summary.samples >= 2 else 1.0
                vh, vw = min(tile, height - r0), min(tile, width - c0)
                w = weight[:vh, :vw]
                for i, m in enumerate((summary.mutual_information * np.float32(factor), summary.predictive_entropy,
                                       summary.expected_entropy)):
                    maps[i, r0 : r0 + vh, c0 : c0 + vw] += w * m[:vh, :vw]
                wsum[r0 : r0 + vh, c0 : c0 + vw] += w
            else:
                with torch.inference_mode():
                    out = model(x)[0].float().cpu().numpy()
            labels, scores = cluster_output(out, cluster_params)
            candidates += _candidates(labels, scores, r0, c0, (height, width), tile)
            if callable(progress):
                progress(done, len(tiles))
            elif bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    labels, seed_scores = _stitch(candidates, (height, width))
    if bayes:
        maps /= np.maximum(wsum, np.float32(1e-12))
    if (height, width) != full_shape:
        labels = resize_labels(labels, full_shape)
        if bayes:
            maps = np.stack([resize_map(m, full_shape) for m in maps])
    if bayes:
        mean_mi = instance_mean(labels, maps[0])
        mean_mi = np.pad(mean_mi, (0, max(0, len(seed_scores) - len(mean_mi))), constant_values=np.nan)
    else:
        mean_mi = np.full(len(seed_scores), np.nan)
    result = Segmentation(
        labels=labels,
        labels_unfiltered=labels,
        instances=_instance_table(labels, seed_scores, mean_mi),
        mutual_information=maps[0] if bayes else None,
        predictive_entropy=maps[1] if bayes else None,
        expected_entropy=maps[2] if bayes else None,
        tu=float("inf"),
        samples=used if bayes else 0,
        net_output=None,
        net_labels=None,
        net_mutual_information=None,
        cluster_params=cluster_params,
    )
    if bayes:
        result = result.with_threshold(tu)
    result.seconds = time.perf_counter() - start
    return result
