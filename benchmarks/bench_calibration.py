"""Calibration and annotation masking, measured: scale bars read, nm/px error, annotations
left as particles, time per image, and Table 1 with and without masking.

Usage::

    python benchmarks/bench_calibration.py synthetic [--n 72] [--seed 0] [--segment T]
    python benchmarks/bench_calibration.py emps [--split train|test|both] [--emps ../shared/emps]
    python benchmarks/bench_calibration.py table1 [--limit N] [--samples 30] [--emps ../shared/emps]
    python benchmarks/bench_calibration.py all

``synthetic``: the annotated renderings of :mod:`bpartis_nb.calibration.renderings`
(exact truth). Label read right, nm/px within 2 %, median and worst nm/px error, false
scales on renderings without a labelled bar, annotation-mask recall and particle pixels
wrongly masked, seconds per image. With ``--segment T`` every rendering is also
segmented with ``scale="auto"`` (T Monte-Carlo samples) and the annotation pixels left
inside kept particles are counted.

``emps``: the 465 EMPS micrographs with the scale bars labelled by hand in
``benchmarks/data/emps_annotations.jsonl`` (bar outer edge to outer edge, ticks and
outline included; the label as printed). Same numbers, per split. The bar and OCR
constants were chosen on the train split and the renderings; the test split is reported
once.

``table1``: the EMPS test split segmented as the published model does (no masking) and
with ``scale="auto"`` masking: Table 1's metrics for both, and the predicted instances
lying mostly (>= 50 % of their pixels) on a hand-labelled annotation box, counted for
both. An image whose info strip is cropped is segmented twice; for the others the
unmasked result is the masked run before its exclusions (the same network run).

Numbers are printed and written to ``benchmarks/results/calibration_<part>.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from bpartis_nb.calibration import CalibrationWarning, read_calibration
from bpartis_nb.calibration.units import to_nm

HERE = Path(__file__).resolve().parent
LABELS = HERE / "data" / "emps_annotations.jsonl"
RESULTS = HERE / "results"


def _errors(rows: list[dict]) -> dict:
    """Label accuracy and nm/px error over rows with ``truth_nm_per_px``."""
    labelled = [r for r in rows if r["truth_nm_per_px"] is not None]
    unlabelled = [r for r in rows if r["truth_nm_per_px"] is None]
    err = np.array([abs(r["nm_per_px"] / r["truth_nm_per_px"] - 1) if r["nm_per_px"] else np.inf for r in labelled])
    found = err[np.isfinite(err)]
    n = max(len(labelled), 1)
    return {
        "images": len(rows),
        "labelled": len(labelled),
        "label_right": sum(r["label_right"] for r in labelled) / n,
        "within_2pct": float(np.mean(err <= 0.02)) if len(err) else float("nan"),
        "no_scale": int(np.sum(~np.isfinite(err))),
        "median_error": float(np.median(found)) if len(found) else float("nan"),
        "worst_error_when_found": float(np.max(found)) if len(found) else float("nan"),
        "false_scale_without_label": sum(r["nm_per_px"] is not None for r in unlabelled),
        "median_seconds": float(np.median([r["seconds"] for r in rows])),
    }


def _read(image) -> tuple:
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        c = read_calibration(image, warn=False)
    return c, time.perf_counter() - start


def synthetic(n: int, seed: int, segment_samples: int | None) -> dict:
    from bpartis_nb.annotations import find_annotations
    from bpartis_nb.calibration.renderings import rendering_set

    rows, masks = [], []
    for i, r in enumerate(rendering_set(n, seed=seed)):
        c, seconds = _read(r.image)
        truth = r.nm_per_px if r.label_text else None
        right = bool(c.known and truth and abs(c.value - r.value) < 1e-9 and c.unit == r.unit)
        rows.append({"index": i, "truth": r.label_text, "read": c.text, "nm_per_px": c.nm_per_px,
                     "truth_nm_per_px": truth, "label_right": right, "seconds": seconds,
                     "warning": c.warnings[0] if c.warnings else ""})
        found = find_annotations(r.image, calibration=c)
        truth_mask, particles = r.annotation_mask, r.labels > 0
        masks.append({"annotation_px": int(truth_mask.sum()), "covered": int((found.mask & truth_mask).sum()),
                      "particle_px": int(particles.sum()), "particle_masked": int((found.mask & particles).sum()),
                      "strip": r.strip_box is not None, "strip_found": found.strip_box is not None})
    out = {"set": f"rendering_set(n={n}, seed={seed})", "reading": _errors(rows)}
    total = sum(m["annotation_px"] for m in masks)
    out["masking"] = {
        "annotation_pixel_recall": sum(m["covered"] for m in masks) / max(total, 1),
        "particle_pixels_masked": sum(m["particle_masked"] for m in masks) / max(sum(m["particle_px"] for m in masks), 1),
        "strips": sum(m["strip"] for m in masks),
        "strips_found": sum(m["strip"] and m["strip_found"] for m in masks),
        "strips_false": sum(m["strip_found"] and not m["strip"] for m in masks),
    }
    if segment_samples is not None:
        out["segmented"] = _segment_renderings(n, seed, segment_samples)
    out["failures"] = [r for r in rows if r["truth_nm_per_px"] and
                       not (r["label_right"] and abs(r["nm_per_px"] / r["truth_nm_per_px"] - 1) <= 0.02)]
    return out


def _segment_renderings(n: int, seed: int, samples: int) -> dict:
    """Annotation pixels inside kept particles, with masking and without."""
    from bpartis_nb import load_model, segment
    from bpartis_nb.calibration.renderings import rendering_set

    model = load_model(pretrained=True)
    left = {"masked": 0, "unmasked": 0}
    instances = {"masked": 0, "unmasked": 0}
    for i, r in enumerate(rendering_set(n, seed=seed)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CalibrationWarning)
            for mode, kw in (("masked", {"scale": "auto"}), ("unmasked", {})):
                result = segment(r.image, samples=samples, model=model, seed=i, **kw)
                on = r.annotation_mask & (result.labels > 0)
                left[mode] += int(on.sum())
                ids = np.unique(result.labels[r.annotation_mask])
                for k in ids[ids > 0]:
                    instances[mode] += int(np.mean(r.annotation_mask[result.labels == k]) >= 0.5)
    return {"samples": samples, "annotation_pixels_in_particles": left, "particles_on_annotations": instances}


def _emps_truth() -> dict[str, dict]:
    return {rec["stem"]: rec for rec in map(json.loads, LABELS.read_text().splitlines())}


def emps(split: str) -> dict:
    from bpartis_nb.data import emps_root, load_emps_image

    root = emps_root()
    truth = _emps_truth()
    out = {}
    for part in (["train", "test"] if split == "both" else [split]):
        rows = []
        for stem, rec in truth.items():
            if rec["split"] != part:
                continue
            bar = rec["scale_bar"]
            labelled = bar is not None and bar.get("legible", True)
            c, seconds = _read(load_emps_image(root, stem))
            t = to_nm(bar["value"], bar["unit"]) / bar["bar_length_px"] if labelled else None
            right = bool(labelled and c.known and abs(c.value - bar["value"]) < 1e-9 and c.unit == bar["unit"])
            rows.append({"image": stem, "truth": bar["text"] if labelled else None, "read": c.text,
                         "nm_per_px": c.nm_per_px, "truth_nm_per_px": t, "label_right": right, "seconds": seconds,
                         "warning": c.warnings[0] if c.warnings else ""})
        out[part] = _errors(rows)
        out[part + "_failures"] = [r for r in rows if r["truth_nm_per_px"] and not (
            r["label_right"] and abs(r["nm_per_px"] / r["truth_nm_per_px"] - 1) <= 0.02)]
    return out


def _annotation_boxes(rec: dict, shape) -> np.ndarray:
    """(M, N) bool: the hand-labelled annotation boxes of an EMPS image."""
    mask = np.zeros(shape, bool)
    boxes = [a["box"] for a in rec["annotations"]]
    if rec["scale_bar"]:
        boxes += [b for b in (rec["scale_bar"].get("bar_box"), rec["scale_bar"].get("label_box")) if b]
    if rec.get("unlabelled_bar"):
        boxes.append(rec["unlabelled_bar"])
    for r0, c0, r1, c1 in boxes:
        mask[r0:r1, c0:c1] = True
    return mask


def _on_annotations(labels: np.ndarray, mask: np.ndarray) -> int:
    from bpartis_nb.annotations import annotation_fraction

    return int(np.sum(annotation_fraction(labels, mask)[1:] >= 0.5)) if mask.any() else 0


def table1(limit: int | None, samples: int, tu: float) -> dict:
    from dataclasses import replace

    from bpartis_nb import load_model
    from bpartis_nb.data import emps_root, load_emps_image, load_emps_labels, split_names
    from bpartis_nb.metrics import image_metrics
    from bpartis_nb.pipeline import segment
    from tqdm import tqdm

    root = emps_root()
    truth = _emps_truth()
    names = split_names(root, "test")[:limit]
    model = load_model(pretrained=True)
    rows = []
    for i, name in enumerate(tqdm(names, desc="EMPS test")):
        image, gt = load_emps_image(root, name), load_emps_labels(root, name)
        boxes = _annotation_boxes(truth[name], gt.shape)
        row = {"name": name, "annotated": bool(boxes.any())}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CalibrationWarning)
            masked = {"discriminative": segment(image, samples=0, model=model, annotations=True),
                      "bayesian": segment(image, samples=samples, tu=tu, model=model, seed=i, annotations=True)}
            cropped = masked["bayesian"].annotations.strip_box is not None
            if cropped:
                plain = {"discriminative": segment(image, samples=0, model=model),
                         "bayesian": segment(image, samples=samples, tu=tu, model=model, seed=i)}
            else:  # the same run, before the annotations were set aside
                plain = {k: _unmasked(v) for k, v in masked.items()}
        row["strip_cropped"] = cropped
        for mode, results in (("unmasked", plain), ("masked", masked)):
            variants = {"discriminative": results["discriminative"].labels,
                        "bayesian": results["bayesian"].labels_unfiltered,
                        "bayesian_filter": results["bayesian"].labels}
            if mode == "masked":  # the instances masking set aside count as removed
                variants["bayesian"] = _drop_excluded(results["bayesian"])
            row[mode] = {v: {**image_metrics(lab, gt), "on_annotations": _on_annotations(lab, boxes)}
                         for v, lab in variants.items()}
        rows.append(row)
    summary = {}
    for mode in ("unmasked", "masked"):
        summary[mode] = {}
        for v in ("discriminative", "bayesian", "bayesian_filter"):
            per = [r[mode][v] for r in rows]
            keys = [k for k in per[0] if k not in ("n_pred", "n_gt")]
            summary[mode][v] = {k: float(np.mean([p[k] for p in per])) for k in keys}
            summary[mode][v]["on_annotations"] = int(sum(p["on_annotations"] for p in per))
            summary[mode][v]["images_with_instances_on_annotations"] = int(sum(p["on_annotations"] > 0 for p in per))
    return {"images": len(rows), "annotated_images": sum(r["annotated"] for r in rows),
            "strips_cropped": sum(r["strip_cropped"] for r in rows), "samples": samples, "tu": tu,
            "summary": summary, "rows": rows}


def _unmasked(result):
    """A masked result as it was before its annotation exclusions (same network run)."""
    from dataclasses import replace

    table = result.instances.drop(columns=["excluded_annotation"])
    plain = replace(result, instances=table, annotations=None)
    if plain.bayesian:
        return plain.with_threshold(plain.tu)
    return replace(plain, labels=plain.labels_unfiltered,
                   instances=table.assign(kept=True, label=table["id"]))


def _drop_excluded(result) -> np.ndarray:
    """The unfiltered Bayesian map without the instances set aside as annotations."""
    return np.where(result.excluded[result.labels_unfiltered], 0, result.labels_unfiltered)


def _print(part: str, result: dict) -> None:
    def show(d, indent=""):
        for k, v in d.items():
            if isinstance(v, dict):
                print(f"{indent}{k}:")
                show(v, indent + "  ")
            elif not isinstance(v, list):
                print(f"{indent}{k}: {v:.4f}" if isinstance(v, float) else f"{indent}{k}: {v}")
    print(f"== {part}")
    show(result)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("part", choices=["synthetic", "emps", "table1", "all"])
    p.add_argument("--n", type=int, default=72)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--segment", type=int, default=None, metavar="T")
    p.add_argument("--split", default="both", choices=["train", "test", "both"])
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--samples", type=int, default=30)
    p.add_argument("--tu", type=float, default=0.0125)
    p.add_argument("--emps", default=None, help="EMPS folder (default: $BPARTIS_NB_EMPS, else the cache)")
    args = p.parse_args(argv)
    if args.emps:
        os.environ["BPARTIS_NB_EMPS"] = args.emps
    RESULTS.mkdir(exist_ok=True)
    parts = ["synthetic", "emps", "table1"] if args.part == "all" else [args.part]
    for part in parts:
        start = time.perf_counter()
        if part == "synthetic":
            result = synthetic(args.n, args.seed, args.segment)
        elif part == "emps":
            result = emps(args.split)
        else:
            result = table1(args.limit, args.samples, args.tu)
        result["seconds"] = time.perf_counter() - start
        _print(part, result)
        path = RESULTS / f"calibration_{part}.json"
        path.write_text(json.dumps(result, indent=1, default=str))
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
