"""Paper metrics and matching scores on synthetic label maps with known answers."""
import numpy as np
import pytest

from bpartis_nb.metrics import (
    average_precision, image_metrics, iou_matrix, matching_score, overlap_table, precision_recall,
)


def squares(size=60, boxes=((5, 5, 15), (30, 30, 20))):
    lab = np.zeros((size, size), np.int32)
    for k, (r, c, s) in enumerate(boxes, 1):
        lab[r : r + s, c : c + s] = k
    return lab


def test_overlap_table_counts_pixels():
    gt = squares()
    pred = np.zeros_like(gt)
    pred[5:20, 5:10] = 7  # 75 px inside gt 1
    pred[40:60, 40:60] = 9  # 100 px overlap gt 2 (30..50 x 30..50 -> rows 40..50)
    table, pa, ga = overlap_table(pred, gt)
    assert table.tolist() == [[75, 0], [0, 100]]
    assert pa.tolist() == [75, 400] and ga.tolist() == [225, 400]
    iou = iou_matrix(pred, gt)
    assert iou[0, 0] == pytest.approx(75 / 225) and iou[1, 1] == pytest.approx(100 / 700)


def test_identical_maps():
    gt = squares()
    m = image_metrics(gt, gt)
    assert m["ap50"] == m["ap75"] == m["miou"] == m["ap_match50"] == m["ap_match95"] == 1.0
    # recall is 1 at every threshold, so the paper's AP curve has no area (documented)
    assert m["ap"] == 0.0


def test_shifted_discs_known_tp_fp_fn():
    rr, cc = np.mgrid[0:100, 0:100]
    gt = np.zeros((100, 100), np.int32)
    pred = np.zeros_like(gt)
    gt[(rr - 30) ** 2 + (cc - 30) ** 2 <= 100] = 1
    gt[(rr - 70) ** 2 + (cc - 70) ** 2 <= 100] = 2
    gt[(rr - 30) ** 2 + (cc - 75) ** 2 <= 64] = 3      # missed: FN
    pred[(rr - 30) ** 2 + (cc - 31) ** 2 <= 100] = 1   # shifted by 1 px: IoU ~0.88
    pred[(rr - 70) ** 2 + (cc - 79) ** 2 <= 100] = 2   # shifted by 9 px: IoU ~0.27
    pred[(rr - 85) ** 2 + (cc - 15) ** 2 <= 49] = 3    # on background: FP
    iou = iou_matrix(pred, gt)
    assert 0.8 < iou[0, 0] < 0.95 and 0.15 < iou[1, 1] < 0.35
    p50, r50, miou = precision_recall(iou, 0.5)
    assert (p50, r50) == pytest.approx((1 / 3, 1 / 3))
    assert miou == pytest.approx(iou[0, 0] / 3)
    assert matching_score(iou, 0.5) == pytest.approx(1 / (1 + 2 + 2))
    p10, r10, _ = precision_recall(iou, 0.1)
    assert (p10, r10) == pytest.approx((2 / 3, 2 / 3))
    # AP by hand: points (r, p) by decreasing t; monotone precision; trapezoid
    ts = np.arange(20)[::-1] * 0.05
    r = np.array([precision_recall(iou, t)[1] for t in ts])
    p = np.maximum.accumulate(np.array([precision_recall(iou, t)[0] for t in ts])[::-1])[::-1]
    assert average_precision(iou) == pytest.approx(np.sum((r[1:] - r[:-1]) * (p[1:] + p[:-1]) / 2))
    # recall climbs from 0 to 1/3 (t >= 0.9) then to 2/3 (t < 0.27): area = 2/3 * 2/3
    assert average_precision(iou) == pytest.approx(2 / 3 * 2 / 3)


def test_duplicates_count_once():
    gt = squares()
    pred = np.zeros_like(gt)
    pred[5:20, 5:12] = 1    # two halves of gt 1, each IoU < 0.5 but > 0
    pred[5:20, 12:19] = 2
    iou = iou_matrix(pred, gt)
    p, r, _ = precision_recall(iou, 0.3)
    assert (p, r) == (1.0, 0.5)  # gt 1 matched twice counts once; no prediction is unmatched
    p, r, _ = precision_recall(iou, 0.5)
    assert (p, r) == (0.0, 0.0)  # at 0.5 neither half matches: two FPs
    assert matching_score(iou, 0.5) == 0.0


def test_precision_never_exceeds_one():
    """One prediction covering many particles: every one is matched at t = 0, precision 1."""
    gt = np.zeros((40, 40), np.int32)
    for k in range(4):
        gt[2 + 10 * k : 8 + 10 * k, 2:8] = k + 1
    blob = np.zeros_like(gt)
    blob[:, :10] = 1
    iou = iou_matrix(blob, gt)
    for t in (0.0, 0.05, 0.3):
        p, r, _ = precision_recall(iou, t)
        assert 0 <= p <= 1 and 0 <= r <= 1
    assert precision_recall(iou, 0.0)[:2] == (1.0, 1.0)
    assert 0 <= average_precision(iou) <= 1


def test_empty_cases():
    gt = squares()
    empty = np.zeros_like(gt)
    m = image_metrics(empty, gt)
    assert m["ap"] == m["ap50"] == m["miou"] == m["ap_match50"] == 0.0
    assert image_metrics(empty, empty)["ap_match50"] == 1.0
    with pytest.raises(ValueError, match="shape"):
        iou_matrix(gt, gt[:10])
