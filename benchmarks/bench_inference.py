"""Seconds per image of Bayesian inference: this package vs the straightforward loop.

Both run in one process on the same images, interleaved image by image, so the ratio
holds even when the machine's speed drifts. The straightforward loop is how the method
is usually written: T full forward passes of the network (NCHW tensors, autograd
disabled with ``torch.no_grad``), the raw outputs averaged, then the same clustering and
uncertainty computation. The package adds: the deterministic head computed once,
``torch.inference_mode``, channels-last tensors on CPU, streaming statistics.

    python benchmarks/bench_inference.py --emps ../shared/emps --images 10 --samples 30

Prints per-image seconds, medians, the ratio, and the achieved GFLOP/s of the network
against this machine's float32 matrix-product rate.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from bpartis_nb.cluster import cluster_output
from bpartis_nb.data import emps_root, load_emps_image, split_names
from bpartis_nb.model import mc_dropout
from bpartis_nb.pipeline import segment
from bpartis_nb.preprocess import to_network_input
from bpartis_nb.uncertainty import instance_mean, mutual_information
from bpartis_nb.weights import load_model


def straightforward(model, image, samples: int, seed: int) -> float:
    start = time.perf_counter()
    x = to_network_input(image)
    g = torch.Generator().manual_seed(seed)
    outs = []
    with torch.no_grad(), mc_dropout(model, g):
        for _ in range(samples):
            outs.append(model(x)[0])
    outs = torch.stack(outs)
    labels, _ = cluster_output(outs.mean(0))
    mi = mutual_information(torch.sigmoid(outs[:, 4]).numpy())
    instance_mean(labels, mi)
    return time.perf_counter() - start


def network_gflop(model, size: int = 512) -> tuple[float, float, float]:
    """GFLOP (multiply-adds x 2, from the convolution shapes) of one whole forward pass,
    of the deterministic head and of the stochastic rest."""
    flops = 0

    def hook(module, inputs, output):
        nonlocal flops
        k = module.weight[0].numel()  # in_channels/groups * kh * kw
        flops += 2 * k * output.numel()

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    counts = []
    with torch.no_grad():
        x = torch.zeros(1, 3, size, size)
        model(x)
        counts.append(flops)
        flops = 0
        branch, skip = model.forward_deterministic(x)
        counts.append(flops)
        flops = 0
        model.forward_stochastic(branch, skip)
        counts.append(flops)
    for h in handles:
        h.remove()
    return tuple(c / 1e9 for c in counts)


def matmul_gflops(n: int = 2048, repeats: int = 5) -> float:
    a, b = torch.rand(n, n), torch.rand(n, n)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--emps", default=None)
    ap.add_argument("--images", type=int, default=10)
    ap.add_argument("--samples", type=int, nargs="+", default=[30])
    ap.add_argument("--weights", default=None)
    args = ap.parse_args()
    model = load_model(args.weights or True, device="cpu")
    root = emps_root(args.emps)
    names = split_names(root, "test")[: args.images]
    images = [load_emps_image(root, n) for n in names]
    segment(images[0], samples=1, model=model)  # warm-up
    straightforward(model, images[0], 1, 0)
    gflop, head, tail = network_gflop(model)
    peak = matmul_gflops()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; one forward pass at 512x512: "
          f"{gflop:.1f} GFLOP (deterministic head {head:.1f}, stochastic rest {tail:.1f}); "
          f"float32 2048x2048 matrix product: {peak:.0f} GFLOP/s")
    for T in args.samples:
        base, ours, fast, used = [], [], [], []
        for i, image in enumerate(images):
            base.append(straightforward(model, image, T, i))
            ours.append(segment(image, samples=T, model=model, seed=i).seconds)
            r = segment(image, samples=T, model=model, seed=i, adaptive=True)
            fast.append(r.seconds)
            used.append(r.samples)
        mb, mo, mf = statistics.median(base), statistics.median(ours), statistics.median(fast)
        work = head + T * tail
        print(f"T = {T:3d}, {len(images)} images (median s/image): straightforward loop {mb:.2f}, "
              f"bpartis_nb exact {mo:.2f} (paired speed-up {statistics.median([b / o for b, o in zip(base, ours)]):.2f}x), "
              f"adaptive {mf:.2f} with mean T {statistics.mean(used):.1f} "
              f"(time vs exact, summed: {sum(fast) / sum(ours):.2f})")
        print(f"          achieved rate, exact mode: ({head:.1f} + T x {tail:.1f}) GFLOP / {mo:.2f} s = "
              f"{work / mo:.0f} GFLOP/s = {100 * work / mo / peak:.0f}% of the matrix-product rate "
              f"(time includes clustering and uncertainty)")
    print("reference (published segmenter, same kind of machine): T = 30: 6.33 s, T = 10: 2.51 s")


if __name__ == "__main__":
    main()
