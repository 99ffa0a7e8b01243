"""Training BPartIS: Adam 3e-4, the paper's losses and augmentations, atomic checkpoints, resume.

    trainer = Trainer(TrainConfig(epochs=5, crop=256, n_train=4), "runs/demo", emps="../shared/emps")
    log = trainer.fit()

Each epoch writes ``last.pt`` (model, optimiser, epoch, config) atomically, ``config.json``
beside it, a row of ``log.csv`` (losses, validation AP50 and mean IoU) and ``curves.png``.
Running again on the same folder resumes after the last finished epoch. A checkpoint
loads with :func:`bpartis_nb.load_model` like the published weights.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional, Union

import numpy as np
import pandas as pd
import torch

from .augment import Augment
from .data import EMPSDataset, validation_split
from .io import atomic_write
from .losses import LossWeights, spatial_embedding_loss
from .model import BranchedERFNet

__all__ = ["TrainConfig", "Trainer", "random_crop"]


@dataclass
class TrainConfig:
    """Settings of a training run (saved as ``config.json`` beside the checkpoints).

    Attributes
    ----------
    epochs : int
    lr : float
        Adam learning rate (paper: 3e-4).
    batch_size : int
    size : int
        Images are resized to size x size (paper: 512).
    crop : int or None
        Random square crops of this side after augmentation (None: whole images).
    n_train : int or None
        Use only the first N training images (the paper's capacity experiment).
    val_fraction : float
        Share of the train split held out for validation, whole publications at a time.
    init : str
        "scratch", "pretrained" or a checkpoint path.
    device : str
        "auto" (CUDA when available), "cpu", "cuda", ...
    seed : int
    augment : bool
    val_images : int or None
        Validate on at most this many images (None: all).
    weights : LossWeights
    """

    epochs: int = 300
    lr: float = 3e-4
    batch_size: int = 2
    size: int = 512
    crop: Optional[int] = None
    n_train: Optional[int] = None
    val_fraction: float = 0.15
    init: str = "scratch"
    device: str = "auto"
    seed: int = 0
    augment: bool = True
    val_images: Optional[int] = None
    weights: LossWeights = field(default_factory=LossWeights)


def random_crop(image: torch.Tensor, labels: torch.Tensor, side: int, generator: torch.Generator):
    """A random ``side`` x ``side`` window of an image (3, H, W) and its labels (H, W)."""
    h, w = labels.shape
    if side > min(h, w):
        raise ValueError(f"crop {side} is larger than the image {h} x {w}")
    top = int(torch.randint(0, h - side + 1, (), generator=generator))
    left = int(torch.randint(0, w - side + 1, (), generator=generator))
    return image[:, top : top + side, left : left + side], labels[top : top + side, left : left + side]


class Trainer:
    """Owns the model, optimiser and run folder of one training run.

    Parameters
    ----------
    config : TrainConfig
    out_dir : path-like
        Run folder (created); an existing ``last.pt`` there is resumed.
    emps : path-like, optional
        EMPS folder.
    train_names, val_names : list of str, optional
        Explicit image lists (default: :func:`bpartis_nb.data.validation_split`).
    """

    def __init__(self, config: TrainConfig, out_dir: Union[str, os.PathLike], emps=None,
                 train_names: Optional[list[str]] = None, val_names: Optional[list[str]] = None):
        self.config = config
        self.out = Path(out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        if config.device == "auto":
            self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        else:
            self.device = torch.device(config.device)
        torch.manual_seed(config.seed)
        if train_names is None or val_names is None:
            tr, va = validation_split(EMPSDataset(emps, "train", size=None).root, config.val_fraction, config.seed)
            train_names = tr if train_names is None else train_names
            val_names = va if val_names is None else val_names
        if config.n_train is not None:
            train_names = train_names[: config.n_train]
        if config.val_images is not None:
            val_names = val_names[: config.val_images]
        self.generator = torch.Generator().manual_seed(config.seed)
        augment = Augment(generator=self.generator) if config.augment else None
        self.train_set = EMPSDataset(emps, names=train_names, size=config.size, augment=augment)
        self.val_set = EMPSDataset(emps, names=val_names, size=config.size)
        self.model = self._initial_model().to(self.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr)
        self.epoch = 0
        self.log: list[dict] = []
        self._resume()

    def _initial_model(self) -> BranchedERFNet:
        from .weights import load_model

        init = self.config.init
        if init == "scratch":
            return BranchedERFNet()
        return load_model(True if init == "pretrained" else init, device="cpu")

    # ------------------------------------------------------------------ checkpoints
    @property
    def checkpoint_path(self) -> Path:
        return self.out / "last.pt"

    def _resume(self) -> None:
        if not self.checkpoint_path.exists():
            return
        state = torch.load(self.checkpoint_path, map_location=self.device, weights_only=True)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.epoch = int(state["epoch"])
        self.log = list(state.get("log", []))

    def save(self) -> Path:
        """Write ``last.pt`` and ``config.json`` atomically."""
        state = {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                 "epoch": self.epoch, "config": asdict(self.config), "log": self.log}
        atomic_write(self.checkpoint_path, lambda p: torch.save(state, p))
        config = json.dumps({**asdict(self.config), "epoch": self.epoch}, indent=1)
        atomic_write(self.out / "config.json", lambda p: p.write_text(config))
        return self.checkpoint_path

    # ------------------------------------------------------------------ loops
    def _batches(self):
        order = torch.randperm(len(self.train_set), generator=self.generator).tolist()
        bs = self.config.batch_size
        for i in range(0, len(order), bs):
            xs, ys = [], []
            for j in order[i : i + bs]:
                x, y = self.train_set[j]
                if self.config.crop:
                    x, y = random_crop(x, y, self.config.crop, self.generator)
                xs.append(x)
                ys.append(y)
            yield torch.stack(xs), torch.stack(ys)

    def train_epoch(self, progress: bool = False) -> dict:
        """One pass over the training images; returns the mean losses."""
        self.model.train()
        sums = {"loss": 0.0, "lovasz": 0.0, "seed": 0.0, "smooth": 0.0}
        n = 0
        batches = self._batches()
        if progress:
            from tqdm.auto import tqdm

            batches = tqdm(batches, total=-(-len(self.train_set) // self.config.batch_size),
                           desc=f"epoch {self.epoch + 1}", leave=False)
        for x, y in batches:
            x, y = x.to(self.device), y.to(self.device)
            loss, parts = spatial_embedding_loss(self.model(x), y, self.config.weights)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            sums["loss"] += loss.item()
            for k, v in parts.items():
                sums[k] += v
            n += 1
        return {k: v / max(n, 1) for k, v in sums.items()}

    @torch.no_grad()
    def validate(self) -> dict:
        """Discriminative AP50 and mean IoU on the validation images (paper metrics)."""
        from .cluster import cluster_output
        from .metrics import image_metrics

        self.model.eval()
        rows = []
        for x, y in (self.val_set[i] for i in range(len(self.val_set))):
            out = self.model(x[None].to(self.device))[0].cpu()
            labels, _ = cluster_output(out)
            rows.append(image_metrics(labels, y.numpy()))
        if not rows:
            return {"val_ap50": float("nan"), "val_miou": float("nan")}
        return {"val_ap50": float(np.mean([r["ap50"] for r in rows])),
                "val_miou": float(np.mean([r["miou"] for r in rows]))}

    def fit(self, progress: bool = True) -> pd.DataFrame:
        """Train until ``config.epochs``, checkpointing each epoch; returns the log."""
        while self.epoch < self.config.epochs:
            row = {"epoch": self.epoch + 1, **self.train_epoch(progress), **self.validate()}
            self.epoch += 1
            self.log.append(row)
            self.save()
            self._write_log()
            if progress:
                print(", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()))
        return pd.DataFrame(self.log)

    def _write_log(self) -> None:
        table = pd.DataFrame(self.log)
        atomic_write(self.out / "log.csv", lambda p: table.to_csv(p, index=False))
        from .teaching_figures import plot_training_log

        fig, _ = plot_training_log(table)
        atomic_write(self.out / "curves.png", lambda p: fig.savefig(p, format="png", dpi=100))
