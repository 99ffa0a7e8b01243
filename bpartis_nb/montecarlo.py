"""Monte-Carlo dropout: T stochastic passes summarised as running statistics.

Bayesian mode runs T forward passes with dropout on (BatchNorm in eval mode). The part
of the network before the first dropout is deterministic, so it runs once and only the
rest runs T times. :func:`mc_forward` keeps running sums of the raw outputs (offsets
before tanh, sigma logits, seed logit), of the seed probabilities and of their entropies,
from which the predictive entropy, expected entropy and mutual information maps follow
(:mod:`bpartis_nb.uncertainty`). :class:`Convergence` is the stopping rule of the
adaptive mode, and :func:`mi_calibration` puts an estimate from fewer passes on the scale
the threshold t_u was tuned at.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Union

import numpy as np
import torch
from numpy.typing import NDArray

from .cluster import ClusterParams, cluster_output
from .model import BranchedERFNet, mc_dropout
from .uncertainty import binary_entropy, instance_mean

__all__ = ["DEFAULT_SAMPLES", "DEFAULT_TU", "MCSummary", "mc_forward", "mi_calibration", "Convergence"]

#: Monte-Carlo samples T of the published model.
DEFAULT_SAMPLES = 30
#: Uncertainty threshold t_u (nats) the published model was tuned with at T = 30.
DEFAULT_TU = 0.0125

Progress = Union[bool, Callable[[int, int], None]]


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


def _generator(seed: Union[int, torch.Generator, None], device: torch.device) -> Optional[torch.Generator]:
    """A generator on ``device`` seeded with ``seed`` (a generator or None is passed through)."""
    if seed is None or isinstance(seed, torch.Generator):
        return seed
    g = torch.Generator(device=device)
    g.manual_seed(int(seed))
    return g


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
