"""Fine-tune the published weights for one epoch on the EMPS train split and compare test AP50.

    python scripts/finetune_check.py --emps ../shared/emps --out runs/finetune-1epoch

Prints the discriminative AP50 (and AP_match50) on the 99 test images before and after.
"""
import argparse
import time

import numpy as np

from bpartis_nb.data import emps_root, load_emps_image, load_emps_labels, split_names
from bpartis_nb.metrics import image_metrics
from bpartis_nb.pipeline import segment
from bpartis_nb.train import TrainConfig, Trainer


def test_scores(model, root):
    rows = []
    for name in split_names(root, "test"):
        labels = segment(load_emps_image(root, name), samples=0, model=model).labels
        rows.append(image_metrics(labels, load_emps_labels(root, name)))
    return {k: float(np.mean([r[k] for r in rows])) for k in ("ap50", "ap75", "miou", "ap_match50")}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--emps", default=None)
    ap.add_argument("--out", default="runs/finetune-1epoch")
    ap.add_argument("--batch-size", type=int, default=2)
    args = ap.parse_args()
    root = emps_root(args.emps)
    cfg = TrainConfig(epochs=1, init="pretrained", batch_size=args.batch_size, size=512, seed=0)
    t = Trainer(cfg, args.out, emps=root, train_names=split_names(root, "train"), val_names=[])
    before = test_scores(t.model.eval(), root)
    print("before:", {k: round(v, 4) for k, v in before.items()}, flush=True)
    start = time.perf_counter()
    t.fit(progress=True)
    print(f"one epoch over {len(t.train_set)} images: {time.perf_counter() - start:.0f} s", flush=True)
    after = test_scores(t.model.eval(), root)
    print("after: ", {k: round(v, 4) for k, v in after.items()})
    print(f"test AP50 change: {after['ap50'] - before['ap50']:+.4f}")


if __name__ == "__main__":
    main()
