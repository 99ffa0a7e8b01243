"""Batch analysis (bpartis_nb.batch, ``bpartis-nb analyze``) with the published weights on
real EMPS test images and a synthetic one: outputs, bad files, resume after deletion and
after SIGKILL, local processes and Dask giving the same table, settings checks, the CLI."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from bpartis_nb.batch import (
    MissingDependencyError,
    SettingsMismatchError,
    analyze,
    find_images,
    image_seed,
    part_name,
)
from bpartis_nb.cli import main
from bpartis_nb.examples import synthetic_micrograph

SAMPLES = 2
# In-process runs use one torch thread (the machine may be busy: several threads then wait
# on each other); the SIGKILLed command, the process pool and Dask use their defaults, so
# the comparisons below also cover results made with different thread counts.
# the smallest files among the first EMPS test images (fast to measure)
EMPS_NAMES = ("ddffc403e3", "c61a50a061", "60c63e2383")


@pytest.fixture(scope="module")
def images(tmp_path_factory, emps_dir) -> Path:
    """Four good micrographs, one of them in a subfolder, plus a file that is no image."""
    folder = tmp_path_factory.mktemp("micrographs")
    (folder / "sub").mkdir()
    shutil.copy(emps_dir / "images" / f"{EMPS_NAMES[0]}.png", folder / f"{EMPS_NAMES[0]}.png")
    shutil.copy(emps_dir / "images" / f"{EMPS_NAMES[1]}.png", folder / f"{EMPS_NAMES[1]}.png")
    shutil.copy(emps_dir / "images" / f"{EMPS_NAMES[2]}.png", folder / "sub" / f"{EMPS_NAMES[2]} copy.png")
    Image.fromarray(synthetic_micrograph(size=256, n_particles=12, seed=3).image).save(folder / "synthetic.png")
    (folder / "notes.txt").write_text("not an image, and not picked up: wrong extension\n")
    return folder


@pytest.fixture(scope="module")
def reference(images, published_weights, tmp_path_factory):
    """A clean run over ``images`` in this process (workers=1)."""
    out = tmp_path_factory.mktemp("reference") / "out"
    result = analyze(images, out, samples=SAMPLES, threads=1, weights=published_weights, progress=False)
    return result, result.table()


def _settle(table: pd.DataFrame) -> pd.DataFrame:
    return table.reset_index(drop=True)


# --------------------------------------------------------------------------- keys and seeds
def test_keys_are_relative_paths_unique_and_safe(images):
    keys = find_images(images)
    assert list(keys) == sorted(keys) == sorted(
        [f"{EMPS_NAMES[0]}.png", f"{EMPS_NAMES[1]}.png", f"sub/{EMPS_NAMES[2]} copy.png", "synthetic.png"])
    assert find_images(str(images / "*.png")).keys() == {f"{EMPS_NAMES[0]}.png", f"{EMPS_NAMES[1]}.png",
                                                         "synthetic.png"}
    clash = find_images([images / "synthetic.png", images / "sub" / "synthetic.png"])
    assert list(clash) == [f"{images.name}/synthetic.png", "sub/synthetic.png"]
    names = {part_name(k) for k in ["a/b.png", "a_b.png", "A_b.png", "../x.png", "a b.png"]}
    assert len(names) == 5
    assert all("/" not in n and not n.startswith(".") for n in names)
    assert image_seed(0, "a.png") != image_seed(0, "b.png")
    assert image_seed(7, "a.png") == image_seed(7, "a.png")
    with pytest.raises(FileNotFoundError, match="no file matches"):
        find_images(str(images / "*.tif"))


# --------------------------------------------------------------------------- outputs, bad files
def test_outputs_and_a_broken_image(images, reference, published_weights, tmp_path):
    ref_result, ref_table = reference
    assert ref_result.images == 4 and ref_result.done == 4 and ref_result.failed == 0
    folder = tmp_path / "mixed"
    folder.mkdir()
    for key in (f"{EMPS_NAMES[1]}.png", "synthetic.png"):
        shutil.copy(images / key, folder / key)
    (folder / "broken.png").write_text("this is a text file named .png\n")
    (folder / "truncated.png").write_bytes((images / "synthetic.png").read_bytes()[:300])
    out = tmp_path / "out"
    result = analyze(folder, out, samples=SAMPLES, threads=1, weights=published_weights, progress=False)
    assert (result.images, result.done, result.failed, result.skipped) == (4, 2, 2, 0)

    errors = pd.read_csv(out / "errors.csv")
    assert list(errors.columns[:2]) == ["image", "error"]
    assert list(errors["image"]) == ["broken.png", "truncated.png"]
    assert "not an image" in errors.loc[0, "error"] and "truncated" in errors.loc[1, "error"]

    table = pd.read_parquet(out / "particles.parquet")
    assert table.columns[0] == "image" and "diameter_px" in table.columns and "mean_uncertainty" in table.columns
    assert set(table["image"]) == {f"{EMPS_NAMES[1]}.png", "synthetic.png"}
    assert not table.duplicated(["image", "id"]).any()
    pairs = list(table[["image", "id"]].itertuples(index=False))
    assert pairs == sorted(pairs)
    # parquet and csv hold the same table
    pd.testing.assert_frame_equal(table, pd.read_csv(out / "particles.csv"), check_exact=False, rtol=1e-12)
    # the same images give the same rows as in the reference run (seed from the key, not the run)
    expected = ref_table[ref_table["image"].isin(set(table["image"]))]
    pd.testing.assert_frame_equal(table, _settle(expected))

    summaries = pd.read_csv(out / "summaries.csv")
    assert list(summaries["image"]) == [f"{EMPS_NAMES[1]}.png", "synthetic.png"]
    counts = table.groupby("image").size()
    assert (summaries.set_index("image")["count"] == counts).all()
    assert {"diameter_mean_px", "diameter_median_px", "pdi", "instances_found", "filtered_out",
            "seconds"} <= set(summaries.columns)
    assert (summaries["instances_found"] >= summaries["count"]).all()
    settings = json.loads((out / "settings.json").read_text())
    assert settings["samples"] == SAMPLES and settings["seed"] == 0 and len(settings["weights_sha256"]) == 64
    assert not [p for p in out.rglob(".*") if p.name != ".lock"], "no temporary files left behind"

    # failed images are tried again by the next run; finished ones are not
    seen = []
    again = analyze(folder, out, samples=SAMPLES, threads=1, weights=published_weights,
                    progress=lambda k, s: seen.append((k, s)))
    assert sorted(seen) == [("broken.png", "failed"), ("truncated.png", "failed")]
    assert (again.skipped, again.done, again.failed) == (2, 0, 2)
    pd.testing.assert_frame_equal(again.table(), table)


def test_no_readable_image_gives_empty_tables_with_the_columns(reference, published_weights, tmp_path):
    _, ref_table = reference
    folder = tmp_path / "bad"
    folder.mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(folder / "thumbnail.png")
    result = analyze(folder, tmp_path / "out", samples=SAMPLES, threads=1, weights=published_weights, progress=False)
    assert (result.done, result.failed, result.particles) == (0, 1, 0)
    assert "8 x 8" in result.errors["thumbnail.png"]
    table = result.table()
    assert list(table.columns) == list(ref_table.columns) and len(table) == 0
    assert list(pd.read_csv(tmp_path / "out" / "particles.csv").columns) == list(ref_table.columns)


# --------------------------------------------------------------------------- resume
def test_resume_recomputes_only_the_missing_image(reference, images, published_weights, tmp_path):
    ref_result, ref_table = reference
    out = tmp_path / "out"
    shutil.copytree(ref_result.out, out)
    victim = f"sub/{EMPS_NAMES[2]} copy.png"
    (out / "parts" / f"{part_name(victim)}.json").unlink()  # as if killed before it finished
    before = {p.name: p.stat().st_mtime_ns for p in (out / "parts").glob("*.json")}
    seen = []
    result = analyze(images, out, samples=SAMPLES, threads=1, weights=published_weights,
                     progress=lambda k, s: seen.append((k, s)))
    assert seen == [(victim, "done")] and result.computed == [victim]
    assert (result.skipped, result.done, result.failed) == (3, 1, 0)
    after = {p.name: p.stat().st_mtime_ns for p in (out / "parts").glob("*.json")}
    assert all(after[name] == mtime for name, mtime in before.items())
    table = result.table()
    assert not table.duplicated(["image", "id"]).any()
    pd.testing.assert_frame_equal(table, ref_table)
    summaries = result.summaries().drop(columns="seconds")
    pd.testing.assert_frame_equal(summaries, ref_result.summaries().drop(columns="seconds"))


def _finished(out):
    """Finished images' markers (not the hidden temporaries of atomic writes)."""
    return [p for p in (out / "parts").glob("*.json") if not p.name.startswith(".")]


def test_sigkill_then_resume(images, reference, published_weights, tmp_path):
    """Kill the command after its first finished image; the rerun completes with every image once."""
    _, ref_table = reference
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "bpartis_nb", "analyze", str(images), "--out", str(out), "--samples", str(SAMPLES),
           "--weights", str(published_weights), "--no-progress", "--scale", "none"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not _finished(out):
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "no image finished in 120 s"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    finished = len(_finished(out))
    assert 1 <= finished < 4, "killed while images were still left"
    assert not (out / "particles.parquet").exists()

    result = analyze(images, out, samples=SAMPLES, threads=1, weights=published_weights, progress=False)
    assert (result.skipped, result.done, result.failed) == (finished, 4 - finished, 0)
    table = result.table()
    assert table.groupby("image").ngroups == 4 and not table.duplicated(["image", "id"]).any()
    pd.testing.assert_frame_equal(table, ref_table)
    assert not [p for p in out.rglob(".*") if p.name != ".lock"], "temporaries of the killed run are cleaned up"


# --------------------------------------------------------------------------- same table everywhere
def test_two_local_workers_give_the_same_table(images, reference, published_weights, tmp_path):
    ref_result, ref_table = reference
    result = analyze(images, tmp_path / "out", workers=2, samples=SAMPLES, weights=published_weights, progress=False)
    assert (result.done, result.failed) == (4, 0)
    pd.testing.assert_frame_equal(result.table(), ref_table)
    pd.testing.assert_frame_equal(result.summaries().drop(columns="seconds"),
                                  ref_result.summaries().drop(columns="seconds"))


def test_dask_cluster_gives_the_same_table(images, reference, published_weights, tmp_path):
    distributed = pytest.importorskip("distributed")
    _, ref_table = reference
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        by_client = analyze(images, tmp_path / "client", client=client, samples=SAMPLES,
                            weights=published_weights, progress=False)
        by_address = analyze(images, tmp_path / "address", scheduler=cluster.scheduler_address, samples=SAMPLES,
                             weights=published_weights, progress=False)
        assert client.status == "running", "a client passed in is left open"
    for result in (by_client, by_address):
        assert (result.done, result.failed) == (4, 0)
        pd.testing.assert_frame_equal(result.table(), ref_table)


# --------------------------------------------------------------------------- refusals
def test_other_settings_are_refused(reference, images, published_weights, tmp_path):
    ref_result, _ = reference
    out = tmp_path / "out"
    shutil.copytree(ref_result.out, out)
    for change in ({"samples": SAMPLES + 1}, {"seed": 1}, {"scale": 0.5}, {"exclude_border": False},
                   {"tiled": True}, {"adaptive": True}):
        kwargs = {"samples": SAMPLES, "weights": published_weights, "progress": False, **change}
        with pytest.raises(SettingsMismatchError, match="other settings") as info:
            analyze(images, out, **kwargs)
        assert "another --out" in str(info.value) and "same settings" in str(info.value)
    rc = main(["analyze", str(images), "--out", str(out), "--samples", "3", "--weights", str(published_weights)])
    assert rc == 2


def test_missing_optional_packages_name_the_extra(images, published_weights, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # makes "import pyarrow" fail
    with pytest.raises(MissingDependencyError, match=r'pip install "bpartis-nb\[batch\]"'):
        analyze(images, tmp_path / "out", samples=SAMPLES, weights=published_weights)
    monkeypatch.delitem(sys.modules, "pyarrow")
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(MissingDependencyError, match="distributed"):
        analyze(images, tmp_path / "out", scheduler="tcp://127.0.0.1:1", samples=SAMPLES, weights=published_weights)


# --------------------------------------------------------------------------- command line
def test_cli_analyze_glob(images, reference, published_weights, tmp_path, capsys):
    _, ref_table = reference
    out = tmp_path / "out"
    pattern = str(images / "s*.png")  # quoted glob: only synthetic.png (keys are file names)
    rc = main(["analyze", pattern, "--out", str(out), "--samples", str(SAMPLES), "--threads", "1",
               "--weights", str(published_weights), "--scale", "none"])
    assert rc == 0
    for name in ("particles.parquet", "particles.csv", "summaries.csv", "errors.csv", "settings.json"):
        assert (out / name).is_file()
    table = pd.read_parquet(out / "particles.parquet")
    pd.testing.assert_frame_equal(table, _settle(ref_table[ref_table["image"] == "synthetic.png"]))
    printed = capsys.readouterr().out
    assert "analyze: 1 image: 1 analysed, 0 already done, 0 failed" in printed
    assert f"{len(table)} particles" in printed
    rc = main(["analyze", pattern, "--out", str(out), "--samples", str(SAMPLES), "--weights", str(published_weights),
               "--scale", "none"])
    assert rc == 0 and "0 analysed, 1 already done" in capsys.readouterr().out


def test_tiled_and_adaptive_modes(images, published_weights, tmp_path):
    """The modes reach segment: settings record them, tiled tables are at native size."""
    import json

    out = tmp_path / "out"
    result = analyze(images / "synthetic.png", out, samples=8, threads=1, weights=published_weights, progress=False,
                     tiled=True, adaptive=True)
    settings = json.loads((out / "settings.json").read_text())
    assert settings["tiled"] and settings["adaptive"] and result.done == 1
    summary = result.summaries().iloc[0]
    assert 2 <= summary["samples"] <= 8 and summary["count"] > 5
