"""A short CPU run that visibly learns: 4 EMPS training images, 256 x 256 crops, from scratch.

    python scripts/capacity_cpu_demo.py --emps ../shared/emps --steps 300 --out runs/cpu-demo

Prints the training loss at the start and end and the discriminative AP50 of the model
on those 4 images (at 512 x 512) before and after.
"""
import argparse
import time

import numpy as np
import torch

from bpartis_nb.cluster import cluster_output
from bpartis_nb.data import EMPSDataset, emps_root, split_names
from bpartis_nb.metrics import image_metrics
from bpartis_nb.train import TrainConfig, Trainer


def ap50(trainer):
    trainer.model.eval()
    scores = []
    with torch.no_grad():
        for i in range(len(trainer.train_set)):
            x, y = EMPSDataset(trainer.train_set.root, names=[trainer.train_set.names[i]], size=512)[0]
            labels, _ = cluster_output(trainer.model(x[None])[0])
            scores.append(image_metrics(labels, y.numpy())["ap50"])
    return float(np.mean(scores))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--emps", default=None)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--out", default="runs/cpu-demo")
    args = ap.parse_args()
    names = split_names(emps_root(args.emps), "train")[:4]
    cfg = TrainConfig(epochs=1, size=512, crop=256, batch_size=2, lr=3e-4, seed=0)
    t = Trainer(cfg, args.out, emps=args.emps, train_names=names, val_names=names[:1])
    before = ap50(t)
    losses, start = [], time.perf_counter()
    steps_per_epoch = 2  # 4 images, batch 2
    for epoch in range(args.steps // steps_per_epoch):
        losses.append(t.train_epoch()["loss"])
        if epoch % 25 == 0:
            print(f"step {(epoch + 1) * steps_per_epoch}: loss {losses[-1]:.4f} ({time.perf_counter() - start:.0f} s)", flush=True)
    after = ap50(t)
    first, last = np.mean(losses[:5]), np.mean(losses[-5:])
    print(f"training loss: first 10 steps {first:.4f}, last 10 steps {last:.4f} (ratio {last / first:.2f}); "
          f"AP50 on the 4 images: before {before:.3f}, after {after:.3f}; {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
