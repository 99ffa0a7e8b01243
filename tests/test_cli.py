"""Tests of the command line (bpartis_nb.cli and ``python -m bpartis_nb``)."""
from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
from PIL import Image

from bpartis_nb.cli import main
from bpartis_nb.examples import synthetic_micrograph


def test_segment_builtin_example(tmp_path, published_weights, capsys):
    out = tmp_path / "out"
    rc = main(["segment", "--out", str(out), "--samples", "2", "--weights", str(published_weights)])
    assert rc == 0
    overlay = out / "example_overlay.png"
    table = out / "example_particles.csv"
    assert overlay.is_file() and table.is_file()
    with Image.open(overlay) as im:
        im.load()
        assert im.format == "PNG" and im.mode == "RGB"
        size = synthetic_micrograph().image.shape[:2]
        assert im.size == (size[1], size[0])
    particles = pd.read_csv(table)
    example = synthetic_micrograph()
    assert len(particles) > 10
    # the example carries its pixel size (nm), so the table is in nm
    assert "diameter_nm" in particles.columns and (particles["diameter_nm"] > 0).all()
    # diameters agree with the example's true particles (within 15 %)
    from bpartis_nb.analysis import measure

    truth = measure(example.labels, scale=example.pixel_size)
    assert abs(particles["diameter_nm"].median() / truth["diameter_nm"].median() - 1) < 0.15
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"example_{k}" for k in ("overlay.png", "particles.csv", "summary.json", "uncertainty.png",
                                 "size_hist.png", "aspect_hist.png", "rdf.png")
    )
    summary = json.loads((out / "example_summary.json").read_text())
    assert summary["count"] == len(particles) and summary["unit"] == "nm" and summary["samples"] == 2
    printed = capsys.readouterr().out
    assert "example:" in printed and "particles" in printed


def test_segment_missing_file_is_an_error_not_a_traceback(tmp_path, published_weights, capsys):
    missing = tmp_path / "no_such_micrograph.png"
    rc = main(["segment", str(missing), "--out", str(tmp_path / "out"), "--samples", "1",
               "--weights", str(published_weights)])
    assert rc != 0
    err = capsys.readouterr().err
    assert "error" in err and "no_such_micrograph.png" in err
    assert "Traceback" not in err
    assert not (tmp_path / "out" / "no_such_micrograph_particles.csv").exists()


def test_segment_keeps_going_after_a_bad_file(tmp_path, published_weights, capsys):
    good = tmp_path / "good.png"
    Image.fromarray(synthetic_micrograph(size=128, n_particles=5, radius=(10, 14)).image).save(good)
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    out = tmp_path / "out"
    rc = main(["segment", str(bad), str(good), "--out", str(out), "--samples", "0",
               "--scale", "2", "--weights", str(published_weights)])
    assert rc == 1
    assert "bad.png" in capsys.readouterr().err
    assert (out / "good_overlay.png").is_file()
    assert "diameter_nm" in pd.read_csv(out / "good_particles.csv").columns
    assert not (out / "bad_overlay.png").exists()


def test_missing_weights_file(tmp_path, capsys):
    rc = main(["segment", "--out", str(tmp_path), "--weights", str(tmp_path / "none.pt")])
    assert rc != 0
    err = capsys.readouterr().err
    assert "none.pt" in err and "Traceback" not in err


def test_evaluate_writes_json(tmp_path, published_weights, emps_dir, capsys):
    report = tmp_path / "e.json"
    rc = main(["evaluate", "--emps", str(emps_dir), "--limit", "2", "--samples", "2",
               "--weights", str(published_weights), "--json", str(report)])
    assert rc == 0
    data = json.loads(report.read_text())
    assert set(data["variants"]) == {"discriminative", "bayesian", "bayesian_filter"}
    for variant, metrics in data["variants"].items():
        for key in ("ap", "ap50", "ap75", "miou", "ap_match50"):
            assert 0.0 <= metrics[key] <= 1.0, (variant, key)
    assert len(data["images"]) == 2
    for image in data["images"]:
        for variant in ("discriminative", "bayesian", "bayesian_filter"):
            assert image[variant]["seconds"] > 0
    assert data["settings"]["samples"] == 2 and data["settings"]["images"] == 2
    # the filter only removes instances
    assert data["variants"]["bayesian_filter"]["n_pred"] <= data["variants"]["bayesian"]["n_pred"]
    printed = capsys.readouterr().out
    assert "| variant |" in printed and str(report) in printed


def test_evaluate_without_emps_is_an_error(tmp_path, published_weights, capsys):
    rc = main(["evaluate", "--emps", str(tmp_path / "nowhere"), "--weights", str(published_weights)])
    assert rc != 0
    err = capsys.readouterr().err
    assert "nowhere" in err and "Traceback" not in err


def test_module_help_in_subprocess(capsys):
    proc = subprocess.run([sys.executable, "-m", "bpartis_nb", "--help"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "segment" in proc.stdout and "evaluate" in proc.stdout
    with pytest.raises(SystemExit) as info:
        main(["segment", "--help"])
    assert info.value.code == 0
    assert "--samples" in capsys.readouterr().out


def test_bad_arguments_exit_with_usage(capsys):
    with pytest.raises(SystemExit) as info:
        main(["segment", "--samples", "many"])
    assert info.value.code == 2
    assert "usage" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([])


@pytest.mark.parametrize(
    "argv",
    [
        ["segment", "--samples", "-1"],
        ["segment", "--tu", "0"],
        ["segment", "--scale", "-2"],
        ["evaluate", "--limit", "0"],
        ["evaluate", "--samples", "0"],
    ],
)
def test_bad_values_are_rejected_before_any_work(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "must be" in err and "Traceback" not in err


def test_corrupt_weights_file_is_an_error_not_a_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    code = main(["segment", "--out", str(tmp_path / "out"), "--samples", "1", "--weights", str(bad)])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "Traceback" not in err


def test_compare_prints_beside_the_paper(tmp_path, published_weights, emps_dir, capsys):
    out = tmp_path / "cmp.json"
    rc = main(["compare", "--emps", str(emps_dir), "--min-particles", "150", "--samples", "2",
               "--weights", str(published_weights), "--json", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "0.02111" in printed and "0.03261" in printed and "0.63646" in printed
    result = json.loads(out.read_text())
    assert result["settings"]["images"] == 2 and len(result["images"]) == 2
    assert set(result["means"]) == {"size_cosine", "aspect_cosine", "rdf_rmse", "rdf_l2"}


def test_segment_tiled_adaptive(tmp_path, published_weights):
    out = tmp_path / "out"
    rc = main(["segment", "--out", str(out), "--samples", "8", "--tiled", "--adaptive", "--weights", str(published_weights)])
    assert rc == 0
    summary = json.loads((out / "example_summary.json").read_text())
    assert 2 <= summary["samples"] <= 8 and summary["count"] > 10
