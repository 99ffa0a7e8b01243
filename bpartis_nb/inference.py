"""Segmenting a micrograph at network resolution: the result and the default path.

The pipeline of the published model, for one image:

1. The image becomes RGB in [0, 1] resized to 512 x 512 (bicubic), as in training
   (:mod:`bpartis_nb.preprocess`).
2. Bayesian mode: T forward passes with dropout on (:mod:`bpartis_nb.montecarlo`). The
   raw outputs (offsets before tanh, sigma logits, seed logit) are averaged, then
   clustered (:mod:`bpartis_nb.cluster`). The per-sample seed probabilities give the
   predictive entropy, expected entropy and mutual information maps
   (:mod:`bpartis_nb.uncertainty`). An instance whose mean mutual information is not
   below ``tu`` is dropped as a likely false positive. Discriminative mode
   (``samples=0``): one pass with dropout off.
3. Maps return to the input size (nearest for labels, bicubic for uncertainty maps).

:func:`segment_resized` is that path; :func:`bpartis_nb.segment` (in
:mod:`bpartis_nb.pipeline`) chooses between it and the tiled path
(:mod:`bpartis_nb.tiling`). The result keeps what re-filtering needs, so
:meth:`Segmentation.with_threshold` changes ``tu`` without running the network again.

The preprocessing and Monte-Carlo names that used to live here (``NETWORK_SIZE``,
``to_network_input``, ``resize_rgb``, ``resize_labels``, ``resize_map``, ``mc_forward``,
``MCSummary``, ``Convergence``, ``mi_calibration``, ``DEFAULT_SAMPLES``, ``DEFAULT_TU``)
are still importable from this module.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Optional, Union

import numpy as np
import pandas as pd
import torch
from numpy.typing import NDArray

from .cluster import ClusterParams, cluster_output
from .io import ImageSource, read_image
from .model import BranchedERFNet
from .montecarlo import (  # noqa: F401  (MCSummary is re-exported for the old import path)
    DEFAULT_SAMPLES,
    DEFAULT_TU,
    Convergence,
    MCSummary,
    Progress,
    _generator,
    mc_forward,
    mi_calibration,
)
from .preprocess import NETWORK_SIZE, resize_labels, resize_map, resize_rgb, to_network_input  # noqa: F401
from .uncertainty import certain_instances, instance_mean, keep_instances

__all__ = [
    "Segmentation",
    "segment_resized",
    "to_network_input",
    "resize_labels",
    "resize_map",
    "mc_forward",
    "Convergence",
    "mi_calibration",
]


# --------------------------------------------------------------------------- result
#: The instance-table column of instances set aside as annotations.
EXCLUDED = "excluded_annotation"


@dataclass
class Segmentation:
    """The result of :func:`bpartis_nb.segment`.

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
    calibration : Calibration or None
        The pixel size found or given (``segment(scale=...)``); None when not asked for.
    annotations : Annotations or None
        Scale bars, labels, boxes and info strips found in the image
        (:func:`bpartis_nb.annotations.find_annotations`) when masking was asked for; the
        instance table then has an ``excluded_annotation`` column and those instances
        are not kept, whatever their uncertainty.
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
    calibration: Optional[object] = None
    annotations: Optional[object] = None

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
            New threshold; ``inf`` keeps every instance (but those on annotations).
        """
        if not self.bayesian:
            raise ValueError("a discriminative result has no uncertainty to filter by; run segment(samples=T>0)")
        if not tu > 0:
            raise ValueError(f"tu must be positive, got {tu}")
        mean_mi = np.concatenate([[np.nan], self.instances["mean_mi"].to_numpy(np.float64)])
        kept = certain_instances(mean_mi, tu)
        return replace(self._with_kept(kept & ~self.excluded), tu=float(tu))

    def exclude(self, excluded: NDArray[np.bool_]) -> "Segmentation":
        """The same segmentation with some instances set aside as annotations, flagged in
        the ``excluded_annotation`` column of :attr:`instances` (kept out by
        :meth:`with_threshold` too).

        Parameters
        ----------
        excluded : ndarray of shape (K + 1,), bool
            ``excluded[k]`` for id ``k`` of ``labels_unfiltered`` (entry 0 ignored).

        Examples
        --------
        >>> import pandas as pd
        >>> lab = np.array([[1, 1, 0, 2, 3]], np.int32)
        >>> table = _instance_table(lab, np.ones(4, np.float32), np.zeros(4))
        >>> r = Segmentation(lab, lab, table, None, None, None, np.inf, 0, None, None, None)
        >>> r.exclude(np.array([False, False, True, False])).labels.tolist()
        [[1, 1, 0, 0, 2]]
        """
        flags = np.asarray(excluded, dtype=bool)
        if flags.shape != (len(self.instances) + 1,):
            raise ValueError(f"excluded must have one entry per id and one for 0: shape ({len(self.instances) + 1},), "
                             f"got {flags.shape}")
        table = self.instances.copy()
        table[EXCLUDED] = flags[1:]
        kept = np.concatenate([[False], self.instances["kept"].to_numpy(bool)]) & ~flags
        return replace(self, instances=table)._with_kept(kept)

    @property
    def excluded(self) -> NDArray[np.bool_]:
        """(K + 1,) bool: the ids set aside as annotations (none without masking)."""
        flags = np.zeros(len(self.instances) + 1, dtype=bool)
        if EXCLUDED in self.instances:
            flags[1:] = self.instances[EXCLUDED].to_numpy(bool)
        return flags

    def _with_kept(self, kept: NDArray[np.bool_]) -> "Segmentation":
        """Keep exactly the ids where ``kept`` (shape (K + 1,)), renumbered in id order."""
        labels = keep_instances(self.labels_unfiltered, kept)
        table = self.instances.copy()
        table["kept"] = kept[1:]
        table["label"] = np.where(kept[1:], np.cumsum(kept[1:]), 0).astype(np.int32)
        return replace(self, labels=labels, instances=table)


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


# --------------------------------------------------------------------------- the default path
_DEFAULT_MODELS: dict[str, BranchedERFNet] = {}


def _default_model(device: Optional[Union[str, torch.device]]) -> BranchedERFNet:
    """The published model on ``device``, loaded on first use and kept for the process."""
    from .weights import load_model

    key = str(device)
    if key not in _DEFAULT_MODELS:
        _DEFAULT_MODELS[key] = load_model(pretrained=True, device=device)
    return _DEFAULT_MODELS[key]


def segment_resized(
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
    adaptive: bool = False,
) -> Segmentation:
    """Segment a micrograph resized to one network input (the default path of
    :func:`bpartis_nb.segment`).

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
    adaptive : bool
        Stop sampling once every instance's uncertainty has settled
        (:class:`~bpartis_nb.montecarlo.Convergence`); ``samples`` is then the maximum
        and ``result.samples`` the number used. Instance uncertainties are put on the
        T = 30 scale (:func:`~bpartis_nb.montecarlo.mi_calibration`) so that the same
        ``tu`` applies.

    Returns
    -------
    Segmentation
    """
    if samples < 0:
        raise ValueError(f"samples must be >= 0, got {samples}")
    if network_size % 8 or network_size < 64:
        raise ValueError(f"network_size must be a multiple of 8 and >= 64, got {network_size}")
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
