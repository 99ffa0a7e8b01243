"""EMPS access: splits, publication-aware validation, polygons vs stored maps, statistics."""
import numpy as np
import pytest
import torch

from bpartis_nb.data import (
    EMPSDataset, dataset_statistics, load_emps_labels, load_metadata, rasterize_regions, region_scale, split_names,
    validation_split,
)
from bpartis_nb.metrics import iou_matrix


def test_splits_are_the_papers(emps_dir):
    train, test = split_names(emps_dir, "train"), split_names(emps_dir, "test")
    assert (len(train), len(test)) == (366, 99) and not set(train) & set(test)
    with pytest.raises(ValueError):
        split_names(emps_dir, "val")


def test_validation_split_keeps_publications_together(emps_dir):
    train, val = validation_split(emps_dir, fraction=0.15, seed=0)
    doi = load_metadata(emps_dir)["doi"]
    assert set(train) | set(val) == set(split_names(emps_dir, "train")) and not set(train) & set(val)
    assert not {doi[n] for n in train} & {doi[n] for n in val}
    assert 0.12 < len(val) / 366 < 0.3
    assert validation_split(emps_dir, 0.15, seed=0) == (train, val)


@pytest.mark.parametrize("index", [0, 7, 42])
def test_polygons_rasterise_to_the_stored_maps(emps_dir, index):
    name = split_names(emps_dir, "test")[index]
    stored = load_emps_labels(emps_dir, name)
    regions = load_metadata(emps_dir).loc[name, "regions"]
    drawn = rasterize_regions(regions, stored.shape, region_scale(regions, stored))
    assert len(np.unique(drawn)) == len(np.unique(stored))
    iou = iou_matrix(drawn, stored)
    # the polygons were drawn on the original figures: after scaling, boundaries differ
    # by a pixel or so
    assert np.median(iou.max(axis=1)) > 0.85


def test_statistics_and_dataset(emps_dir):
    images, instances = dataset_statistics(emps_dir, "test")
    assert len(images) == 99 and images["particles"].sum() == 2608 == len(instances)
    assert instances["fraction"].between(0, 1).all()
    ds = EMPSDataset(emps_dir, "test", size=128)
    x, y = ds[0]
    assert x.shape == (3, 128, 128) and x.dtype == torch.float32 and 0 <= float(x.min()) <= float(x.max()) <= 1
    assert y.shape == (128, 128) and y.dtype == torch.int64 and int(y.max()) > 0
    raw = EMPSDataset(emps_dir, names=[ds.names[0]], size=None)
    assert raw[0][1].shape == tuple(load_emps_labels(emps_dir, ds.names[0]).shape)
