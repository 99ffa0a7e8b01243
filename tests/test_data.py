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


# ----------------------------------------------------------------- download, on loopback
import http.server  # noqa: E402
import threading  # noqa: E402
import zipfile  # noqa: E402

from PIL import Image  # noqa: E402

from bpartis_nb.data import emps_root, fetch_emps  # noqa: E402


def _archive(path, names, drop_segmap=None):
    with zipfile.ZipFile(path, "w") as z:
        for n in names:
            for folder, mode, value in (("images", "RGB", (80, 80, 80)), ("segmaps", "I;16", 1)):
                if folder == "segmaps" and n == drop_segmap:
                    continue
                tmp = path.parent / f"{folder}-{n}.png"
                Image.new(mode, (20, 16), value).save(tmp)
                z.write(tmp, f"emps-abc/{folder}/{n}.png")
        z.writestr("emps-abc/train.csv", "\n".join(names[:-1]) + "\n")
        z.writestr("emps-abc/test.csv", names[-1] + "\n")
        z.writestr("emps-abc/metadata.csv", "filename,doi,locator,regions\n")


@pytest.fixture()
def server(tmp_path):
    hits = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):
            super().__init__(*a, directory=str(tmp_path / "www"), **k)

        def log_message(self, *a):
            hits.append(a)

    (tmp_path / "www").mkdir()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/", tmp_path / "www", hits
    httpd.shutdown()


def test_fetch_from_loopback_then_cached(server, tmp_path, monkeypatch):
    base, www, hits = server
    _archive(www / "emps.zip", ["a1", "b2", "c3"])
    monkeypatch.setenv("BPARTIS_NB_CACHE", str(tmp_path / "cache"))
    root = fetch_emps(url=base + "emps.zip", expected_count=3, progress=False)
    assert root == tmp_path / "cache" / "emps" and emps_root() == root
    assert split_names(root, "test") == ["c3"] and (root / "segmaps" / "a1.png").is_file()
    n = len(hits)
    assert fetch_emps(url=base + "emps.zip", expected_count=3, progress=False) == root and len(hits) == n
    assert not [p for p in root.parent.iterdir() if p.name.startswith(".emps-")]


def test_fetch_rejects_incomplete_archives(server, tmp_path):
    base, www, _ = server
    _archive(www / "broken.zip", ["a1", "b2"], drop_segmap="b2")
    dest = tmp_path / "emps"
    with pytest.raises(RuntimeError, match="missing"):
        fetch_emps(dest, url=base + "broken.zip", expected_count=2, progress=False)
    with pytest.raises(RuntimeError, match="expected 5"):
        fetch_emps(dest, url=base + "broken.zip", expected_count=5, progress=False)
    with pytest.raises(RuntimeError, match="could not download"):
        fetch_emps(dest, url=base + "nothing-here.zip", progress=False)
    assert not dest.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".emps-")]


def test_emps_root_downloads_on_request(server, tmp_path, monkeypatch):
    """emps_root(download=True) fetches into the cache when no copy is there (Binder, Colab)."""
    import bpartis_nb.data as data

    base, www, hits = server
    _archive(www / "emps.zip", ["a1", "b2", "c3"])
    monkeypatch.setenv("BPARTIS_NB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("BPARTIS_NB_EMPS_URL", base + "emps.zip")
    monkeypatch.setattr(data, "EMPS_IMAGES", 3)
    with pytest.raises(FileNotFoundError, match="no EMPS data set"):
        emps_root()
    assert not hits
    root = emps_root(download=True)
    assert root == tmp_path / "cache" / "emps" and split_names(root, "train") == ["a1", "b2"]
    assert emps_root() == root
    explicit = tmp_path / "elsewhere"
    with pytest.raises(FileNotFoundError):  # an explicit path is never replaced by a download
        emps_root(explicit, download=True)
    assert not explicit.exists()
