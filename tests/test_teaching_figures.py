"""The figures of the teaching notebooks: each returns (figure, axes), labelled, and
shows what it claims (checked on inputs with known content)."""
import numpy as np
import pandas as pd
import pytest
import torch

from bpartis_nb import viz
from bpartis_nb.examples import perfect_output, synthetic_micrograph


@pytest.fixture(scope="module")
def bayes(published_model):
    ex = synthetic_micrograph()
    from bpartis_nb import segment

    return ex, segment(ex.image, samples=3, seed=0, model=published_model, keep_samples=True)


def _labelled(ax):
    return ax.get_xlabel() and ax.get_ylabel()


def test_label_overlay_colours_instances_and_marks_dropped_in_red():
    image = np.full((40, 40), 100, np.uint8)
    kept = np.zeros((40, 40), np.int32)
    kept[5:15, 5:15] = 1
    dropped = np.zeros((40, 40), np.int32)
    dropped[25:35, 25:35] = 1
    out = viz.label_overlay(image, kept, dropped)
    assert out.shape == (40, 40, 3)
    assert (out[0, 0] == 100).all()                               # background stays grey
    assert tuple(out[25, 30]) == viz.FILTERED_COLOUR               # dropped outline is red
    assert not (out[10, 10] == 100).all()                         # kept interior is tinted
    with pytest.raises(ValueError, match="differ in shape"):
        viz.label_overlay(image, kept[:30])


def test_gallery_and_dataset_statistics():
    ex = synthetic_micrograph(size=96, n_particles=4, radius=(8, 12))
    fig, axes = viz.plot_gallery([ex.image] * 3, [ex.labels] * 3, titles=["a", "b", "c"], ncols=2)
    assert len(axes) == 3 and [a.get_title() for a in axes] == ["a", "b", "c"]
    assert len(fig.axes) == 4                                     # 2 x 2 grid, one hidden
    images = pd.DataFrame({"particles": [1, 5, 30]})
    inst = pd.DataFrame({"fraction": [0.001, 0.01, 0.2, 0.05]})
    fig, (a1, a2) = viz.plot_dataset_statistics(images, inst)
    assert _labelled(a1) and _labelled(a2) and a2.get_xscale() == "log"
    assert sum(p.get_height() for p in a1.patches) == 3 and sum(p.get_height() for p in a2.patches) == 4


def test_maps_share_a_scale_on_request():
    maps = {"a": np.zeros((8, 8)), "b": np.full((8, 8), 2.0)}
    fig, axes = viz.plot_maps(maps, label="nats", same_scale=True)
    assert [ax.images[0].get_clim() for ax in axes] == [(0.0, 2.0), (0.0, 2.0)]
    assert len(fig.axes) == 4                                     # two maps, two colour bars
    _, axes = viz.plot_maps(maps)
    assert axes[0].images[0].get_clim() != axes[1].images[0].get_clim()


def test_embeddings_of_a_perfect_output_collapse_to_points():
    truth = np.zeros((64, 64), np.int32)
    truth[5:25, 5:25] = 1
    truth[30:60, 30:50] = 2
    fig, (a1, a2) = viz.plot_embeddings(perfect_output(truth), truth)
    pixels, embedded = a1.collections[0].get_offsets(), a2.collections[0].get_offsets()
    assert len(pixels) == len(embedded) == (truth > 0).sum()
    assert len(np.unique(np.round(np.asarray(embedded), 5), axis=0)) == 2
    assert _labelled(a2)


def test_seed_samples_cluster_steps_and_instance_uncertainty(bayes, published_model):
    from bpartis_nb.cluster import cluster_steps

    ex, result = bayes
    fig, axes = viz.plot_seed_samples(result.seed_samples, n=2)
    assert [a.get_title() for a in axes][-2:] == ["mean of T = 3", "standard deviation"]
    steps = cluster_steps(result.net_output, steps=3)
    fig, axes = viz.plot_cluster_steps(steps, ex.image)
    assert axes.shape == (2, 3) and "accepted" in axes[1, 0].get_title()
    with pytest.raises(ValueError, match="no clustering steps"):
        viz.plot_cluster_steps([])
    fig, ax = viz.plot_instance_uncertainty(result)
    assert _labelled(ax) and sum(len(c.get_offsets()) for c in ax.collections) == len(result.instances)
    from bpartis_nb import segment

    with pytest.raises(ValueError, match="discriminative"):
        viz.plot_instance_uncertainty(segment(ex.image, samples=0, model=published_model))


def test_sweep_and_training_plots():
    sweep = pd.DataFrame({"tu": [0.005, 0.0125, 0.02, np.inf], "ap": [0.5, 0.6, 0.55, 0.5], "ap50": [0.8, 0.9, 0.85, 0.8],
                          "ap75": [0.7, 0.8, 0.75, 0.7], "miou": [0.6, 0.7, 0.65, 0.6]})
    sweep.attrs["images"] = 4
    fig, ax = viz.plot_threshold_sweep(sweep)
    assert len(ax.lines) == 4 + 4 + 1 and _labelled(ax) and "4 images" in ax.get_title()
    samples = pd.DataFrame({"samples": [0, 1, 5], "ap50": [0.8, 0.8, 0.82], "ap50_filter": [0.8, 0.85, 0.9],
                            "miou": [0.7, 0.7, 0.72], "miou_filter": [0.7, 0.75, 0.8]})
    fig, ax = viz.plot_samples_sweep(samples)
    assert len(ax.lines) == 4 and _labelled(ax)
    log = pd.DataFrame({"epoch": [1, 2], "loss": [3.0, 2.0], "lovasz": [1.0, 0.9], "seed": [0.2, 0.1],
                        "smooth": [0.1, 0.05], "val_ap50": [0.0, 0.1], "val_miou": [0.0, 0.2]})
    fig, (a1, a2) = viz.plot_training_log(log)
    assert len(a1.lines) == 4 and len(a2.lines) == 2 and _labelled(a1) and _labelled(a2)


def test_augmentations_keep_labels_aligned():
    from bpartis_nb.augment import Augment

    x = torch.zeros(3, 32, 32)
    y = torch.zeros(32, 32, dtype=torch.int64)
    x[:, 4:12, 4:12] = 1.0
    y[4:12, 4:12] = 1
    fig, axes = viz.plot_augmentations(x, y, Augment(generator=torch.Generator().manual_seed(0), jitter=0), n=3)
    assert [a.get_title() for a in axes] == ["original", "augmented 1", "augmented 2", "augmented 3"]


def test_particle_summary(bayes):
    from bpartis_nb.analysis import measure

    ex, result = bayes
    table = measure(result.labels, scale=ex.pixel_size, unit="nm")
    truth = measure(ex.labels, scale=ex.pixel_size, unit="nm")
    fig, axes = viz.plot_particle_summary(result, ex.image, table, pixel=ex.pixel_size, reference=truth)
    assert axes.shape == (2, 3)
    text = axes[0, 2].texts[0].get_text()
    assert f"particles measured: {len(table)}" in text and f"ground truth: {len(truth)} particles" in text
    assert axes[1, 2].get_xlabel() == "r (nm)" and "nm" in axes[1, 0].get_xlabel()
