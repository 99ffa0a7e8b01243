"""Instance-segmentation metrics of the BPartIS paper, and the StarDist matching score.

Everything derives from one label-overlap table (a 2-D histogram of predicted id against
ground-truth id), so no per-pair mask loop is needed.

The paper's per-image metrics (``ap``, ``ap50``, ``ap75``, ``miou``):

* At an IoU threshold ``t`` a prediction and a ground-truth instance match when their IoU
  exceeds t. True positives (TP) are the ground-truth instances with at least one match;
  false positives (FP) are the predictions that match nothing; false negatives are the
  unmatched ground truth. Precision = TP / (TP + FP), recall = TP / ground truth. For
  t >= 0.5 matches are one-to-one and this is the usual TP / predictions. Below 0.5 a
  prediction may overlap several instances and several predictions one instance; the
  reference's text leaves these cases open. This reading keeps precision <= 1 and gives
  the reference's discriminative AP (0.539) to within 0.001, and its AP50, AP75 and
  mean IoU exactly. (Counting TP / predictions instead reaches the reference's
  Bayesian numbers more closely but gives precisions above 1 when one prediction spans
  several particles, so it is not used.)
* ``ap``: precision and recall at t = 0.00, 0.05, ..., 0.95, ordered by decreasing t,
  precision made monotonic (running maximum from the high-recall end), trapezoid area
  under precision over recall, with no end points added. This AP only measures how
  precision falls as recall grows with looser thresholds: when recall does not change
  with t (a perfect prediction, say) the area is 0. Read it with ``ap50`` and the
  matching scores.
* ``ap50``, ``ap75``: the precision at t = 0.5 and 0.75 (misses do not count).
* ``miou``: at t = 0.5, the mean over predictions of a matched prediction's IoU (0 for an
  unmatched one).

``ap_match50`` etc. follow StarDist/Cellpose: one-to-one matching at IoU >= t,
``TP / (TP + FP + FN)``.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "overlap_table",
    "iou_matrix",
    "precision_recall",
    "average_precision",
    "matching_score",
    "image_metrics",
    "AP_THRESHOLDS",
    "MATCH_THRESHOLDS",
]

#: IoU thresholds of the paper's AP: 0.00, 0.05, ..., 0.95.
AP_THRESHOLDS = np.round(np.arange(20) * 0.05, 2)
#: IoU thresholds of the matching scores: 0.50, 0.55, ..., 0.95.
MATCH_THRESHOLDS = np.round(0.5 + np.arange(10) * 0.05, 2)


def overlap_table(pred: NDArray[np.integer], gt: NDArray[np.integer]) -> tuple[NDArray, NDArray, NDArray]:
    """Pixel overlaps between every predicted and ground-truth instance.

    Parameters
    ----------
    pred, gt : ndarray of shape (M, N), int
        Instance maps, 0 = background; ids need not be consecutive.

    Returns
    -------
    table : ndarray of shape (P, G), int64
        ``table[i, j]`` pixels shared by the i-th predicted and j-th true instance.
    pred_area : ndarray of shape (P,)
    gt_area : ndarray of shape (G,)
        Rows and columns follow the sorted non-zero ids of ``pred`` and ``gt``.
    """
    pred = np.asarray(pred)
    gt = np.asarray(gt)
    if pred.shape != gt.shape:
        raise ValueError(f"prediction {pred.shape} and ground truth {gt.shape} differ in shape")
    p_ids, p_inv = np.unique(pred.ravel(), return_inverse=True)
    g_ids, g_inv = np.unique(gt.ravel(), return_inverse=True)
    table = np.bincount(p_inv * len(g_ids) + g_inv, minlength=len(p_ids) * len(g_ids))
    table = table.reshape(len(p_ids), len(g_ids))
    p_area = table.sum(1)
    g_area = table.sum(0)
    # drop the background row/column (id 0 is the smallest id when present)
    p0 = int(p_ids[0] == 0) if len(p_ids) else 0
    g0 = int(g_ids[0] == 0) if len(g_ids) else 0
    return table[p0:, g0:].astype(np.int64), p_area[p0:], g_area[g0:]


def iou_matrix(pred: NDArray[np.integer], gt: NDArray[np.integer]) -> NDArray[np.float64]:
    """IoU of every predicted instance with every ground-truth instance, shape (P, G)."""
    table, pa, ga = overlap_table(pred, gt)
    union = pa[:, None] + ga[None, :] - table
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, table / np.maximum(union, 1), 0.0)


def precision_recall(iou: NDArray[np.floating], t: float) -> tuple[float, float, float]:
    """Precision, recall and mean IoU of the paper at threshold ``t``.

    Parameters
    ----------
    iou : ndarray of shape (P, G)
    t : float

    Returns
    -------
    precision, recall, mean_iou : float
        0 where undefined (no predictions, no ground truth).
    """
    n_pred, n_gt = iou.shape
    above = iou > t
    tp = int(np.count_nonzero(above.any(axis=0))) if n_pred else 0
    fp = int(np.count_nonzero(~above.any(axis=1))) if n_gt else n_pred
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / n_gt if n_gt else 0.0
    if n_pred and n_gt:
        mean_iou = float(np.where(above, iou, 0.0).max(axis=1).mean())
    else:
        mean_iou = 0.0
    return precision, recall, mean_iou


def average_precision(iou: NDArray[np.floating], thresholds: Sequence[float] = AP_THRESHOLDS) -> float:
    """The paper's AP: area under the monotone precision-recall curve over ``thresholds``.

    Examples
    --------
    Three predictions with IoU 0.92, 0.62 and 0.32 against three true instances: recall
    (= precision here) is 0 at t = 0.95, 1/3 down to t = 0.65, 2/3 down to 0.35 and 1
    below; the monotone precision is 1 everywhere, so the area from recall 0 to 1 is 1:

    >>> round(average_precision(np.diag([0.92, 0.62, 0.32])), 4)
    1.0

    A perfect prediction has recall 1 at every threshold, hence no area:

    >>> average_precision(np.eye(3))
    0.0
    """
    pr = np.array([precision_recall(iou, t)[:2] for t in sorted(thresholds, reverse=True)])
    precision, recall = pr[:, 0], pr[:, 1]
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    return float(np.trapezoid(precision, recall))


def matching_score(iou: NDArray[np.floating], t: float = 0.5) -> float:
    """StarDist/Cellpose score TP / (TP + FP + FN) with one-to-one matching at IoU >= t.

    Pairs are taken greedily by decreasing IoU, which is the optimal one-to-one matching
    for t >= 0.5 (each instance then has at most one partner above t). 1.0 when both
    sides are empty.
    """
    n_pred, n_gt = iou.shape
    if n_pred + n_gt == 0:
        return 1.0
    rows, cols = np.nonzero(iou >= t)
    order = np.argsort(-iou[rows, cols], kind="stable")
    used_p = np.zeros(n_pred, bool)
    used_g = np.zeros(n_gt, bool)
    tp = 0
    for r, c in zip(rows[order], cols[order]):
        if not used_p[r] and not used_g[c]:
            used_p[r] = used_g[c] = True
            tp += 1
    return tp / (n_pred + n_gt - tp)


def image_metrics(pred: NDArray[np.integer], gt: NDArray[np.integer]) -> dict[str, float]:
    """All per-image metrics of one prediction against its ground truth.

    Parameters
    ----------
    pred, gt : ndarray of shape (M, N), int

    Returns
    -------
    dict
        ``ap``, ``ap50``, ``ap75``, ``miou`` (paper), ``ap_match50`` ... ``ap_match95``
        (StarDist), ``n_pred``, ``n_gt``.

    Examples
    --------
    >>> gt = np.zeros((20, 20), int); gt[2:8, 2:8] = 1; gt[10:18, 10:18] = 2
    >>> m = image_metrics(gt, gt)
    >>> m["ap50"], m["miou"], m["ap_match50"]
    (1.0, 1.0, 1.0)
    """
    iou = iou_matrix(pred, gt)
    out: dict[str, float] = {"ap": average_precision(iou)}
    p50, _, miou = precision_recall(iou, 0.5)
    out["ap50"] = p50
    out["ap75"] = precision_recall(iou, 0.75)[0]
    out["miou"] = miou
    for t in MATCH_THRESHOLDS:
        out[f"ap_match{int(round(t * 100))}"] = matching_score(iou, t)
    out["n_pred"] = float(iou.shape[0])
    out["n_gt"] = float(iou.shape[1])
    return out
