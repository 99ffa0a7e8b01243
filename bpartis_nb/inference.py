"""Segmenting a micrograph: preprocessing, Monte-Carlo dropout, clustering, filtering.

The pipeline of the published model:

1. The image becomes RGB in [0, 1] resized to 512 x 512 (bicubic), as in training.
2. Bayesian mode: T forward passes with dropout on (BatchNorm in eval mode). The raw
   outputs (offsets before tanh, sigma logits, seed logit) are averaged, then clustered
   (:mod:`bpartis_nb.cluster`). The per-sample seed probabilities give the predictive
   entropy, expected entropy and mutual information maps (:mod:`bpartis_nb.uncertainty`).
   An instance whose mean mutual information is not below ``tu`` is dropped as a likely
   false positive. Discriminative mode (``samples=0``): one pass with dropout off.
3. Maps return to the input size (nearest for labels, bicubic for uncertainty maps).

The part of the network before the first dropout is deterministic, so it runs once and
only the rest runs T times. The result keeps what re-filtering needs, so
:meth:`Segmentation.with_threshold` changes ``tu`` without running the network again.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Callable, Optional, Union

import numpy as np
import pandas as pd
import torch
from numpy.typing import NDArray
from PIL import Image

from .cluster import ClusterParams, cluster_output
from .io import ImageSource, read_image
from .model import BranchedERFNet, mc_dropout
from .uncertainty import binary_entropy, filter_instances, instance_mean

__all__ = [
    "Segmentation",
    "segment",
    "to_network_input",
    "resize_labels",
    "resize_map",
    "mc_forward",
    "Convergence",
    "mi_calibration",
]

#: Side of the square the published network was trained and evaluated at.
NETWORK_SIZE = 512
DEFAULT_SAMPLES = 30
DEFAULT_TU = 0.0125

Progress = Union[bool, Callable[[int, int], None]]


# --------------------------------------------------------------------------- preprocessing
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


# --------------------------------------------------------------------------- Monte Carlo
@dataclass
class MCSummary:
    """Running statistics of T Monte-Carlo passes at network resolution.

    Attributes
    ----------
    mean_output : ndarray of shape (5, S, S)
        Mean raw output (offsets, sigma logits, seed logit).
    mean_seed : ndarray of shape (S, S)
        Mean seed probability.
    expected_entropy : ndarray of shape (S, S)
        Mean of the per-sample seed entropies.
    samples : int
    seed_samples : ndarray of shape (T, S, S) or None
        Per-sample seed probabilities when requested.
    """

    mean_output: NDArray[np.float32]
    mean_seed: NDArray[np.float32]
    expected_entropy: NDArray[np.float32]
    samples: int
    seed_samples: Optional[NDArray[np.float32]] = None

    @property
    def predictive_entropy(self) -> NDArray[np.float32]:
        return binary_entropy(self.mean_seed).astype(np.float32)

    @property
    def mutual_information(self) -> NDArray[np.float32]:
        return (self.predictive_entropy - self.expected_entropy).astype(np.float32)


def _report(progress: Progress, bar, done: int, total: int) -> None:
    if callable(progress):
        progress(done, total)
    elif bar is not None:
        bar.n = done
        bar.refresh()


def mc_forward(
    model: BranchedERFNet,
    x: torch.Tensor,
    samples: int,
    batch_size: int = 1,
    generator: Optional[torch.Generator] = None,
    progress: Progress = False,
    keep_samples: bool = False,
    stop: Optional[Callable[[MCSummary], bool]] = None,
) -> MCSummary:
    """Run T Monte-Carlo dropout passes on one input and summarise them.

    Parameters
    ----------
    model : BranchedERFNet
        In eval mode (BatchNorm uses its running statistics).
    x : Tensor of shape (1, 3, S, S)
        On the model's device.
    samples : int
        T >= 1.
    batch_size : int
        Samples per forward pass (larger helps on GPUs; 1 is fastest on CPUs).
    generator : torch.Generator, optional
        Makes the dropout masks reproducible.
    progress : bool or callable
        True for a progress bar; a callable ``f(done, total)`` to report elsewhere.
    keep_samples : bool
        Keep every sample's seed map (memory T x S x S floats).
    stop : Convergence, optional
        A stopping rule: after each batch, if ``stop.wants(done)``, the summary so far is
        passed to ``stop(summary) -> bool``, and True ends the sampling early.
        ``samples`` is then the maximum.

    Returns
    -------
    MCSummary
        With ``samples`` the number of passes actually run.
    """
    if samples < 1:
        raise ValueError(f"samples must be >= 1 for Monte-Carlo inference, got {samples}")
    batch_size = max(1, min(int(batch_size), samples))
    bar = None
    if progress is True:
        from tqdm.auto import tqdm

        bar = tqdm(total=samples, desc="MC samples", leave=False)
    sum_out = None
    sum_p = None
    sum_h = None
    kept = [] if keep_samples else None
    try:
        with torch.inference_mode(), mc_dropout(model, generator):
            branch, skip = model.forward_deterministic(x)
            done = 0
            while done < samples:
                b = min(batch_size, samples - done)
                out = model.forward_stochastic(branch.expand(b, -1, -1, -1), skip.expand(b, -1, -1, -1))
                s_out = out.sum(0)
                p = torch.sigmoid(out[:, 4]).cpu().numpy()
                sum_out = s_out if sum_out is None else sum_out + s_out
                s_p = p.sum(0, dtype=np.float32)
                s_h = binary_entropy(p).sum(0, dtype=np.float32)
                sum_p = s_p if sum_p is None else sum_p + s_p
                sum_h = s_h if sum_h is None else sum_h + s_h
                if kept is not None:
                    kept.append(p)
                done += b
                _report(progress, bar, done, samples)
                if stop is not None and done < samples and stop.wants(done) \
                        and stop(_summary(sum_out, sum_p, sum_h, done, None)):
                    break
    finally:
        if bar is not None:
            bar.close()
    return _summary(sum_out, sum_p, sum_h, done, kept)


def _summary(sum_out, sum_p, sum_h, done: int, kept) -> MCSummary:
    """Running sums of ``done`` passes as an :class:`MCSummary`."""
    return MCSummary(
        mean_output=(sum_out / done).float().cpu().numpy(),
        mean_seed=(sum_p / done).astype(np.float32),
        expected_entropy=(sum_h / done).astype(np.float32),
        samples=done,
        seed_samples=np.concatenate(kept) if kept is not None else None,
    )


def mi_calibration(samples: int, reference: int = DEFAULT_SAMPLES) -> float:
    """Factor that puts a mutual information estimated from ``samples`` passes on the
    scale of one estimated from ``reference`` passes.

    With T samples, predictive minus expected entropy behaves like a sample variance
    with divisor T: it underestimates by a factor of about (1 - 1/T). t_u was tuned at
    T = 30, so an estimate from fewer samples is scaled by (1 - 1/30) / (1 - 1/T).

    Examples
    --------
    >>> mi_calibration(30)
    1.0
    >>> round(mi_calibration(10), 4)
    1.0741
    """
    if samples < 2:
        raise ValueError(f"mutual information needs at least 2 samples, got {samples}")
    return (1.0 - 1.0 / reference) / (1.0 - 1.0 / samples)


class Convergence:
    """Stopping rule of the adaptive Monte-Carlo mode: sample until every instance's
    uncertainty estimate has settled.

    At ``min_samples`` passes the running mean output is clustered once. From then on,
    every ``every`` passes, each of those instances gets its mean mutual information
    (on the T = 30 scale, :func:`mi_calibration`). Sampling stops at the first check
    where, compared with the previous check, no keep/drop decision changed and every
    instance is *settled*: ``safety`` times the amount its estimate moved is below
    ``tol``, or below its distance from ``tu`` (the estimate still has further to go
    than its last step, hence the safety factor). It also stops at once when the first
    clustering finds no instance. Only the decisions matter for the result, so an
    instance far above or below ``tu`` may still wobble.

    Parameters
    ----------
    tu : float
        The uncertainty threshold the result will be filtered with.
    cluster_params : ClusterParams
    min_samples, every : int
    tol : float, optional
        Absolute tolerance in nats; default ``tu / 10``.
    safety : float
        Factor on each instance's last change.

    Notes
    -----
    The defaults were chosen on the EMPS test split against exact T = 30 (see
    ``benchmarks/bench_adaptive.py``): with a safety factor of 1 the filtered AP50 fell
    by 0.0103 in 36 % of the time, with 1.5 by 0.0040 in 42 %; 1.2 lies between.
    """

    def __init__(self, tu: float, cluster_params: ClusterParams = ClusterParams(), min_samples: int = 6,
                 every: int = 2, tol: Optional[float] = None, safety: float = 1.2):
        if min_samples < 2 or every < 1:
            raise ValueError(f"need min_samples >= 2 and every >= 1, got {min_samples}, {every}")
        self.tu = tu
        self.cluster_params = cluster_params
        self.min_samples = min_samples
        self.every = every
        self.tol = tu / 10 if tol is None else tol
        self.safety = safety
        self.labels: Optional[NDArray[np.int32]] = None
        self.previous: Optional[NDArray[np.float64]] = None
        self.history: list[tuple[int, float]] = []

    def wants(self, samples: int) -> bool:
        """Whether there is a check after ``samples`` passes (the summary costs time)."""
        return samples >= self.min_samples and (samples - self.min_samples) % self.every == 0

    def __call__(self, summary: MCSummary) -> bool:
        t = summary.samples
        if not self.wants(t):
            return False
        if self.labels is None:
            self.labels, _ = cluster_output(summary.mean_output, self.cluster_params)
            if self.labels.max() == 0:
                return True
        mi = instance_mean(self.labels, summary.mutual_information)[1:] * mi_calibration(t)
        previous, self.previous = self.previous, mi
        if previous is None:
            return False
        change = np.abs(mi - previous) * self.safety
        settled = (change < self.tol) | (change < np.abs(mi - self.tu))
        self.history.append((t, float(np.nanmax(change))))
        return bool(settled.all()) and bool(np.array_equal(mi < self.tu, previous < self.tu))


# --------------------------------------------------------------------------- result
@dataclass
class Segmentation:
    """The result of :func:`segment`.

    All maps have the input image's shape (M, N) unless named ``net_*`` (network
    resolution S x S, S = 512 for the published model).

    Attributes
    ----------
    labels : ndarray of shape (M, N), int32
        Kept instances, 1..K' (0 = background).
    labels_unfiltered : ndarray of shape (M, N), int32
        All instances found, 1..K, before uncertainty filtering.
    instances : pandas.DataFrame
        One row per unfiltered instance: ``id`` (in ``labels_unfiltered``), ``pixels``
        (area at input resolution), ``mean_mi`` (mean mutual information over the
        instance at network resolution, what the filter compares with ``tu``; NaN in
        discriminative mode), ``seed_score`` (seed probability of its centre), ``kept``
        and ``label`` (its id in ``labels``, 0 when filtered out).
    mutual_information, predictive_entropy, expected_entropy : ndarray of shape (M, N) or None
        Seed-map uncertainty maps in nats (None in discriminative mode).
    tu : float
        Uncertainty threshold applied (inf in discriminative mode: nothing filtered).
    samples : int
        Monte-Carlo samples T (0 = discriminative).
    net_output : ndarray of shape (5, S, S) or None
        Mean raw network output (None for tiled results: there is no single one).
    net_labels : ndarray of shape (S, S), int32, or None
        Unfiltered instances at network resolution (None for tiled results).
    net_mutual_information : ndarray of shape (S, S) or None
    seed_samples : ndarray of shape (T, S, S) or None
        Per-sample seed maps when ``keep_samples=True``.
    seconds : float
        Wall time of the network, clustering and filtering.
    """

    labels: NDArray[np.int32]
    labels_unfiltered: NDArray[np.int32]
    instances: pd.DataFrame
    mutual_information: Optional[NDArray[np.float32]]
    predictive_entropy: Optional[NDArray[np.float32]]
    expected_entropy: Optional[NDArray[np.float32]]
    tu: float
    samples: int
    net_output: Optional[NDArray[np.float32]]
    net_labels: Optional[NDArray[np.int32]]
    net_mutual_information: Optional[NDArray[np.float32]]
    seed_samples: Optional[NDArray[np.float32]] = None
    seconds: float = 0.0
    cluster_params: ClusterParams = field(default_factory=ClusterParams)

    @property
    def bayesian(self) -> bool:
        return self.samples > 0

    @property
    def count(self) -> int:
        """Number of kept particles."""
        return int(self.instances["kept"].sum())

    @property
    def shape(self) -> tuple[int, int]:
        return self.labels.shape  # type: ignore[return-value]

    def with_threshold(self, tu: float) -> "Segmentation":
        """The same segmentation filtered at another threshold (no network run).

        Parameters
        ----------
        tu : float
            New threshold; ``inf`` keeps every instance.
        """
        if not self.bayesian:
            raise ValueError("a discriminative result has no uncertainty to filter by; run segment(samples=T>0)")
        if not tu > 0:
            raise ValueError(f"tu must be positive, got {tu}")
        mean_mi = np.concatenate([[np.nan], self.instances["mean_mi"].to_numpy(np.float64)])
        labels, kept = filter_instances(self.labels_unfiltered, mean_mi, tu)
        table = self.instances.copy()
        table["kept"] = kept[1:]
        table["label"] = np.where(kept[1:], np.cumsum(kept[1:]), 0)
        return replace(self, labels=labels, instances=table, tu=float(tu))


def _instance_table(
    labels: NDArray[np.int32], seed_scores: NDArray[np.float32], mean_mi: NDArray[np.float64]
) -> pd.DataFrame:
    k = len(seed_scores) - 1
    pixels = np.bincount(labels.ravel(), minlength=k + 1)[1:]
    return pd.DataFrame(
        {
            "id": np.arange(1, k + 1, dtype=np.int32),
            "pixels": pixels.astype(np.int64),
            "mean_mi": mean_mi[1 : k + 1].astype(np.float64),
            "seed_score": seed_scores[1:].astype(np.float64),
            "kept": np.ones(k, dtype=bool),
            "label": np.arange(1, k + 1, dtype=np.int32),
        }
    )


# --------------------------------------------------------------------------- entry point
_DEFAULT_MODELS: dict[str, BranchedERFNet] = {}


def _default_model(device: Optional[Union[str, torch.device]]) -> BranchedERFNet:
    from .weights import load_model

    key = str(device)
    if key not in _DEFAULT_MODELS:
        _DEFAULT_MODELS[key] = load_model(pretrained=True, device=device)
    return _DEFAULT_MODELS[key]


def _generator(seed: Union[int, torch.Generator, None], device: torch.device) -> Optional[torch.Generator]:
    if seed is None or isinstance(seed, torch.Generator):
        return seed
    g = torch.Generator(device=device)
    g.manual_seed(int(seed))
    return g


def segment(
    image: ImageSource,
    samples: int = DEFAULT_SAMPLES,
    tu: float = DEFAULT_TU,
    *,
    bayesian: bool = True,
    model: Optional[BranchedERFNet] = None,
    device: Optional[Union[str, torch.device]] = None,
    seed: Union[int, torch.Generator, None] = None,
    batch_size: int = 1,
    cluster_params: ClusterParams = ClusterParams(),
    network_size: int = NETWORK_SIZE,
    keep_samples: bool = False,
    progress: Progress = False,
    tiled: Union[bool, str] = False,
    adaptive: bool = False,
) -> Segmentation:
    """Find the particles in a micrograph, with Bayesian uncertainty.

    Parameters
    ----------
    image : path, PIL image or ndarray of shape (M, N) or (M, N, 3|4)
        Grayscale, RGB or RGBA, 8- or 16-bit or float.
    samples : int
        Monte-Carlo dropout samples T; 0 gives the discriminative single pass.
    tu : float
        Uncertainty threshold: instances with mean mutual information >= ``tu`` are dropped.
    bayesian : bool
        False is the same as ``samples=0``.
    model : BranchedERFNet, optional
        Defaults to the published weights (:func:`bpartis_nb.load_model`), loaded once.
    device : str or torch.device, optional
        Where to run; defaults to the model's device (CUDA when available for the
        default model).
    seed : int or torch.Generator, optional
        Makes the dropout draws reproducible.
    batch_size : int
        Monte-Carlo samples per forward pass (for GPUs).
    cluster_params : ClusterParams
        Clustering thresholds (defaults: the published segmenter's).
    network_size : int
        Side of the square the image is resized to (multiple of 8).
    keep_samples : bool
        Keep every sample's seed map in the result (for teaching and plots).
    progress : bool or callable
        Progress over Monte-Carlo samples: True for a bar, or ``f(done, total)``.
    tiled : bool or "native"
        Run the network on overlapping ``network_size`` tiles of the image instead of
        resizing the whole image (:func:`bpartis_nb.tiling.segment_tiled`; progress is
        then over tiles). True picks the scale (:func:`bpartis_nb.tiling.choose_scale`):
        particles are brought to the size the network was trained on, never enlarged,
        and an image that then fits one tile takes the default path. "native" tiles the
        image at its own resolution. Use it for large micrographs with small particles.
    adaptive : bool
        Stop sampling once every instance's uncertainty has settled
        (:class:`Convergence`); ``samples`` is then the maximum and ``result.samples``
        the number used. Instance uncertainties are put on the T = 30 scale
        (:func:`mi_calibration`) so that the same ``tu`` applies.

    Returns
    -------
    Segmentation

    Examples
    --------
    >>> from bpartis_nb.examples import synthetic_micrograph
    >>> result = segment(synthetic_micrograph().image, samples=2, seed=0)  # doctest: +SKIP
    >>> result.count  # doctest: +SKIP
    """
    if samples < 0:
        raise ValueError(f"samples must be >= 0, got {samples}")
    if network_size % 8 or network_size < 64:
        raise ValueError(f"network_size must be a multiple of 8 and >= 64, got {network_size}")
    if tiled:
        if keep_samples:
            raise ValueError("keep_samples is not available with tiled=True (there is no single network input)")
        from .tiling import segment_tiled

        return segment_tiled(image, samples if bayesian else 0, tu, tile=network_size, model=model, device=device,
                             seed=seed, batch_size=batch_size, cluster_params=cluster_params, progress=progress,
                             adaptive=adaptive, scale=1.0 if tiled == "native" else "auto")
    array = read_image(image)
    if model is None:
        model = _default_model(device)
    dev = torch.device(device) if device is not None else next(model.parameters()).device
    if next(model.parameters()).device != dev:
        model = model.to(dev)
    model.eval()
    start = time.perf_counter()
    x = to_network_input(array, network_size).to(dev)
    if dev.type == "cpu":
        x = x.contiguous(memory_format=torch.channels_last)
    bayes = bayesian and samples > 0
    if bayes:
        stop = Convergence(tu, cluster_params) if adaptive and np.isfinite(tu) else None
        summary = mc_forward(
            model, x, samples, batch_size, _generator(seed, dev), progress, keep_samples, stop
        )
        mean_output = summary.mean_output
    else:
        with torch.inference_mode():
            mean_output = model(x)[0].float().cpu().numpy()
        summary = None
    net_labels, seed_scores = cluster_output(mean_output, cluster_params)
    shape = array.shape[:2]
    labels_unfiltered = resize_labels(net_labels, shape)
    if summary is not None:
        net_mi = summary.mutual_information
        mean_mi = instance_mean(net_labels, net_mi)  # ids are 1..K with no gaps (cluster closes them up)
        if adaptive and summary.samples >= 2:
            mean_mi = mean_mi * mi_calibration(summary.samples)
        pe, ee = summary.predictive_entropy, summary.expected_entropy
        maps = [resize_map(m, shape) for m in (net_mi, pe, ee)]
    else:
        net_mi = None
        mean_mi = np.full(len(seed_scores), np.nan)
        maps = [None, None, None]
    result = Segmentation(
        labels=labels_unfiltered,
        labels_unfiltered=labels_unfiltered,
        instances=_instance_table(labels_unfiltered, seed_scores, mean_mi),
        mutual_information=maps[0],
        predictive_entropy=maps[1],
        expected_entropy=maps[2],
        tu=float("inf"),
        samples=summary.samples if bayes else 0,
        net_output=mean_output,
        net_labels=net_labels,
        net_mutual_information=net_mi,
        seed_samples=summary.seed_samples if summary is not None else None,
        cluster_params=cluster_params,
    )
    if bayes:
        result = result.with_threshold(tu)
    result.seconds = time.perf_counter() - start
    return result
