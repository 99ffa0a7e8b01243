"""Training loop: learns on a tiny problem, checkpoints atomically, resumes, loads via load_model."""
import json

import pandas as pd
import pytest
import torch

from bpartis_nb.train import TrainConfig, Trainer, random_crop
from bpartis_nb.weights import load_model


@pytest.fixture()
def names(emps_dir):
    from bpartis_nb.data import split_names

    train = split_names(emps_dir, "train")
    return train[:2], train[2:3]


def test_two_epochs_then_resume(tmp_path, emps_dir, names):
    cfg = TrainConfig(epochs=2, size=64, batch_size=2, augment=False, seed=0)
    t = Trainer(cfg, tmp_path / "run", emps=emps_dir, train_names=names[0], val_names=names[1])
    log = t.fit(progress=False)
    assert list(log["epoch"]) == [1, 2] and {"loss", "lovasz", "seed", "smooth", "val_ap50"} <= set(log.columns)
    assert (tmp_path / "run" / "last.pt").is_file() and (tmp_path / "run" / "curves.png").is_file()
    assert json.loads((tmp_path / "run" / "config.json").read_text())["epoch"] == 2
    assert len(pd.read_csv(tmp_path / "run" / "log.csv")) == 2
    assert not [p for p in (tmp_path / "run").iterdir() if ".part" in p.name]
    # resume: a new trainer on the same folder continues at epoch 3
    cfg.epochs = 3
    t2 = Trainer(cfg, tmp_path / "run", emps=emps_dir, train_names=names[0], val_names=names[1])
    assert t2.epoch == 2
    assert list(t2.fit(progress=False)["epoch"]) == [1, 2, 3]
    # the checkpoint loads like the published weights
    model = load_model(tmp_path / "run" / "last.pt", device="cpu")
    for a, b in zip(model.state_dict().values(), t2.model.state_dict().values()):
        assert torch.equal(a, b.cpu())


def test_loss_falls_on_a_fixed_batch(tmp_path, emps_dir, names):
    cfg = TrainConfig(epochs=1, size=64, batch_size=2, augment=False, lr=1e-3, seed=0)
    t = Trainer(cfg, tmp_path / "run", emps=emps_dir, train_names=names[0], val_names=names[1])
    first = t.train_epoch()["loss"]
    for _ in range(12):
        last = t.train_epoch()["loss"]
    assert last < 0.7 * first


def test_random_crop():
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(3, 20, 30), torch.arange(600).view(20, 30)
    cx, cy = random_crop(x, y, 8, g)
    assert cx.shape == (3, 8, 8) and cy.shape == (8, 8)
    r, c = divmod(int(cy[0, 0]), 30)
    assert torch.equal(cx, x[:, r : r + 8, c : c + 8])
    with pytest.raises(ValueError):
        random_crop(x, y, 40, g)


def test_train_command(tmp_path, emps_dir):
    from bpartis_nb.cli import main

    out = tmp_path / "cli-run"
    assert main(["train", "--emps", str(emps_dir), "--epochs", "1", "--out", str(out), "--n-train", "2",
                 "--size", "64", "--val-images", "1", "--device", "cpu"]) == 0
    assert (out / "last.pt").is_file() and len(pd.read_csv(out / "log.csv")) == 1
    with pytest.raises(SystemExit) as info:
        main(["train", "--emps", str(emps_dir), "--epochs", "0", "--out", str(out)])
    assert info.value.code == 2
