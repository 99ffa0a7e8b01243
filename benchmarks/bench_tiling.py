"""Resize path vs tiled path: particle counts, sizes and AP50 against the truth.

Three experiments, each printing a table:

1. ``synthetic``: a generated 4096 x 4096 SEM-like image with thousands of small
   particles (radius 12-24 px) and its true instance map. Resized to 512 x 512 the
   particles shrink to 1.5-3 px radius and vanish; tiles see them at their own size.
2. ``upscaled``: EMPS test images (and their instance maps) enlarged 2x and 4x
   (bicubic / nearest): the same content at higher resolution.
3. ``native``: EMPS test images at their own size: AP50 of both paths (the tiled one
   must not lose accuracy where resizing is harmless).

Counts compare all instances; diameters are medians of equivalent diameters of the
particles that do not touch the border, prediction against truth.

    python benchmarks/bench_tiling.py --emps ../shared/emps --samples 10 --images 99
"""
from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from PIL import Image

from bpartis_nb.analysis import measure
from bpartis_nb.data import emps_root, load_emps_image, load_emps_labels, split_names
from bpartis_nb.examples import synthetic_micrograph
from bpartis_nb.metrics import image_metrics
from bpartis_nb.pipeline import segment
from bpartis_nb.weights import load_model


def _errors(labels, truth) -> dict:
    pred, true = measure(labels), measure(truth)
    n_pred, n_true = len(np.unique(labels[labels > 0])), len(np.unique(truth[truth > 0]))
    d_pred = float(np.median(pred["diameter_px"])) if len(pred) else float("nan")  # nan: nothing measured
    d_true = float(np.median(true["diameter_px"]))
    return {"count": n_pred, "true_count": n_true, "count_error_%": 100 * (n_pred - n_true) / n_true,
            "median_d_px": d_pred, "true_median_d_px": d_true, "d_error_%": 100 * (d_pred - d_true) / d_true}


def _both(image, truth, model, samples, seed) -> dict:
    out = {}
    for path, tiled in (("resize", False), ("tiled, native", "native"), ("tiled, auto scale", True)):
        start = time.perf_counter()
        result = segment(image, samples=samples, model=model, seed=seed, tiled=tiled)
        out[path] = {**_errors(result.labels, truth), "ap50": image_metrics(result.labels, truth)["ap50"],
                     "seconds": time.perf_counter() - start}
    return out


def _print(title: str, rows: list[dict]) -> None:
    print(f"\n## {title}\n")
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for r in rows:
        print("| " + " | ".join(f"{v:.3g}" if isinstance(v, float) else str(v) for v in r.values()) + " |")


def synthetic(model, samples: int, size: int, radius: tuple[float, float], seed: int) -> None:
    density = 4000 * ((radius[0] + radius[1]) / 36.0) ** 2  # pixels per particle: ~28 % covered
    ex = synthetic_micrograph(size=size, n_particles=int(size * size / density), radius=radius, seed=11)
    res = _both(ex.image, ex.labels, model, samples, seed)
    _print(f"synthetic {size} x {size}, {ex.labels.max()} particles of radius {radius[0]:g}-{radius[1]:g} px, "
           f"T = {samples}",
           [{"path": k, **{m: v[m] for m in ("count", "count_error_%", "median_d_px", "d_error_%", "ap50", "seconds")},
             "true_median_d_px": v["true_median_d_px"]} for k, v in res.items()])


def upscaled(model, root, names, factors, samples: int, seed: int) -> None:
    rows = []
    for f in factors:
        agg = {}
        for i, n in enumerate(names):
            img, gt = load_emps_image(root, n), load_emps_labels(root, n)
            h, w = gt.shape
            big = np.asarray(Image.fromarray(img).resize((w * f, h * f), Image.BICUBIC))
            big_gt = np.asarray(Image.fromarray(gt).resize((w * f, h * f), Image.NEAREST)).astype(np.int32)
            for k, v in _both(big, big_gt, model, samples, seed + i).items():
                agg.setdefault(k, []).append(v)
        for k, vals in agg.items():
            rows.append({"factor": f, "path": k,
                         "count_error_%": float(np.mean([abs(v["count_error_%"]) for v in vals])),
                         "d_error_%": float(np.nanmean([abs(v["d_error_%"]) for v in vals])),
                         "ap50": float(np.mean([v["ap50"] for v in vals])),
                         "median_s": float(np.median([v["seconds"] for v in vals]))})
    _print(f"EMPS test images enlarged, {len(names)} images, T = {samples} (mean |error| per image)", rows)


def native(model, root, names, samples: int, seed: int) -> None:
    agg = {}
    for i, n in enumerate(names):
        for k, v in _both(load_emps_image(root, n), load_emps_labels(root, n), model, samples, seed + i).items():
            agg.setdefault(k, []).append(v)
    rows = [{"path": k, "ap50": float(np.mean([v["ap50"] for v in vals])),
             "count_error_%": float(np.mean([abs(v["count_error_%"]) for v in vals])),
             "median_s": float(np.median([v["seconds"] for v in vals]))} for k, vals in agg.items()]
    _print(f"EMPS test images at their own size, {len(names)} images, T = {samples}", rows)


def main(argv=None) -> None:
    warnings.filterwarnings("ignore", message="Mean of empty slice")
    warnings.filterwarnings("ignore", message="invalid value encountered")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emps", default=None)
    parser.add_argument("--weights", default=None)
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--images", type=int, default=99, help="EMPS test images for the native experiment")
    parser.add_argument("--upscaled-images", type=int, default=10)
    parser.add_argument("--size", type=int, default=4096, help="side of the synthetic image")
    parser.add_argument("--radius", type=float, nargs=2, default=(12.0, 24.0), help="particle radius range (px)")
    parser.add_argument("--only", choices=("synthetic", "upscaled", "native"), action="append")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    model = load_model(args.weights or True, device="cpu")
    only = set(args.only or ("synthetic", "upscaled", "native"))
    if "synthetic" in only:
        synthetic(model, args.samples, args.size, tuple(args.radius), args.seed)
    if only & {"upscaled", "native"}:
        root = emps_root(args.emps)
        names = split_names(root, "test")
        if "upscaled" in only:
            upscaled(model, root, names[: args.upscaled_images], (2, 4), args.samples, args.seed)
        if "native" in only:
            native(model, root, names[: args.images], args.samples, args.seed)


if __name__ == "__main__":
    main()
