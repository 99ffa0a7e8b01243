"""Adaptive Monte-Carlo mode vs exact T = 30 on an EMPS split: accuracy and time.

Both run in one process, image by image, with the same dropout seed per image, so the
time ratio holds even when the machine's speed drifts. Accuracy is the paper's AP50 of
the filtered result (Bayesian + filter, t_u = 0.0125), averaged over images.

    python benchmarks/bench_adaptive.py --emps ../shared/emps --images 99
"""
from __future__ import annotations

import argparse
import statistics

import numpy as np

from bpartis_nb.data import emps_root, load_emps_image, load_emps_labels, split_names
from bpartis_nb.metrics import image_metrics
from bpartis_nb.pipeline import segment
from bpartis_nb.weights import load_model


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--emps", default=None)
    ap.add_argument("--weights", default=None)
    ap.add_argument("--images", type=int, default=99)
    ap.add_argument("--samples", type=int, default=30, help="T of the exact mode and the adaptive maximum")
    args = ap.parse_args(argv)
    model = load_model(args.weights or True, device="cpu")
    root = emps_root(args.emps)
    names = split_names(root, "test")[: args.images]
    segment(load_emps_image(root, names[0]), samples=1, model=model)  # warm-up
    rows = []
    for i, name in enumerate(names):
        image, truth = load_emps_image(root, name), load_emps_labels(root, name)
        exact = segment(image, samples=args.samples, seed=i, model=model)
        fast = segment(image, samples=args.samples, seed=i, model=model, adaptive=True)
        rows.append({"exact_ap50": image_metrics(exact.labels, truth)["ap50"], "exact_s": exact.seconds,
                     "adaptive_ap50": image_metrics(fast.labels, truth)["ap50"], "adaptive_s": fast.seconds,
                     "samples": fast.samples})
    ex = np.mean([r["exact_ap50"] for r in rows])
    ad = np.mean([r["adaptive_ap50"] for r in rows])
    t_ex = sum(r["exact_s"] for r in rows)
    t_ad = sum(r["adaptive_s"] for r in rows)
    used = [r["samples"] for r in rows]
    print(f"{len(rows)} images, T = {args.samples}: AP50 (Bayesian + filter) exact {ex:.4f}, adaptive {ad:.4f} "
          f"(difference {ad - ex:+.4f})")
    print(f"time: exact {t_ex:.0f} s ({statistics.median(r['exact_s'] for r in rows):.2f} s/image median), "
          f"adaptive {t_ad:.0f} s ({statistics.median(r['adaptive_s'] for r in rows):.2f} s/image median): "
          f"{100 * t_ad / t_ex:.0f}% of the exact time")
    print(f"samples used: mean {statistics.mean(used):.1f}, median {statistics.median(used)}, "
          f"max {max(used)}; histogram {dict(sorted({t: used.count(t) for t in used}.items()))}")


if __name__ == "__main__":
    main()
