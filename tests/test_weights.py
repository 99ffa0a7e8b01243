"""Tests of bpartis_nb.weights: registry, cache, pip retrieval (offline) and loading."""
from __future__ import annotations

import base64
import hashlib
import os
import shutil
import zipfile
from pathlib import Path

import pytest
import torch

from bpartis_nb import retrieval
from bpartis_nb import weights as W
from bpartis_nb.model import BranchedERFNet

PUBLISHED = Path(__file__).resolve().parents[1].parent / "shared" / "weights" / "bpartis-emps-2021.pt"

needs_published = pytest.mark.skipif(
    not PUBLISHED.is_file(), reason=f"published weights not found at {PUBLISHED}"
)


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------
def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode("ascii")


def build_wheel(directory: Path, member_bytes: bytes) -> Path:
    """Write a minimal valid imagedataextractor 2.0.4 wheel holding ``member_bytes``."""
    directory.mkdir(parents=True, exist_ok=True)
    dist_info = "imagedataextractor-2.0.4.dist-info"
    files = {
        "imagedataextractor/__init__.py": b"",
        W.BPARTIS_EMPS_2021.member: member_bytes,
        f"{dist_info}/METADATA": (
            b"Metadata-Version: 2.1\nName: imagedataextractor\nVersion: 2.0.4\n"
        ),
        f"{dist_info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: bpartis_nb-tests\n"
            b"Root-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = "".join(f"{name},{_record_hash(data)},{len(data)}\n" for name, data in files.items())
    record += f"{dist_info}/RECORD,,\n"
    wheel = directory / "imagedataextractor-2.0.4-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        zf.writestr(f"{dist_info}/RECORD", record)
    return wheel


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    """No user weights/pip settings leak in; the cache lives in tmp_path."""
    monkeypatch.delenv(W.ENV_WEIGHTS, raising=False)
    monkeypatch.delenv(W.ENV_PIP_ARGS, raising=False)
    monkeypatch.setenv(W.ENV_CACHE, str(tmp_path / "cache"))
    # pip must see only the --find-links directory a test passes, not the machine's config
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    for var in ("PIP_FIND_LINKS", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_CONSTRAINT",
                "PIP_NO_INDEX", "PIP_REQUIRE_HASHES", "PIP_ONLY_BINARY", "PIP_NO_BINARY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")


@pytest.fixture(scope="module")
def published_bytes() -> bytes:
    if not PUBLISHED.is_file():
        pytest.skip(f"published weights not found at {PUBLISHED}")
    return PUBLISHED.read_bytes()


@pytest.fixture(scope="module")
def good_wheel_dir(tmp_path_factory, published_bytes) -> Path:
    directory = tmp_path_factory.mktemp("wheels")
    build_wheel(directory, published_bytes)
    return directory


def _use_find_links(monkeypatch, directory: Path) -> None:
    monkeypatch.setenv(W.ENV_PIP_ARGS, f"--no-index --find-links {directory}")


def _cache_entries(tmp_path: Path) -> list[Path]:
    weights_dir = tmp_path / "cache" / "weights"
    return sorted(weights_dir.iterdir()) if weights_dir.exists() else []


# --------------------------------------------------------------------------------------
# registry and paths
# --------------------------------------------------------------------------------------
def test_registry_entry():
    w = W.BPARTIS_EMPS_2021
    assert w.name == "bpartis-emps-2021"
    assert w.filename == "bpartis-emps-2021.pt"
    assert w.sha256 == "02b8224a95dc0e9b02c83200a7375e733abd91ac67a332bf887d3b2e00a85585"
    assert w.licence == "MIT"
    assert "10.1021/acs.jcim.0c01455" in w.citation
    assert w.source_package == "imagedataextractor==2.0.4"
    assert w.member == "imagedataextractor/models/seg-model.pt"
    assert w.metrics["bayesian_filter"]["AP50"] == pytest.approx(0.931)
    assert w.metrics["discriminative"]["AP"] == pytest.approx(0.539)
    assert w.inference_defaults["samples"] == 30
    assert w.inference_defaults["tu"] == pytest.approx(0.0125)
    with pytest.raises(Exception):
        w.name = "other"  # frozen
    with pytest.raises(TypeError):
        w.metrics["discriminative"]["AP"] = 1.0  # read-only mapping
    assert set(W.__all__) >= {
        "PretrainedWeights", "BPARTIS_EMPS_2021", "WeightsUnavailableError",
        "cache_dir", "sha256_file", "resolve_weights", "load_state_dict", "load_model",
    }


def test_cache_dir_env(monkeypatch, tmp_path):
    assert W.cache_dir() == tmp_path / "cache"
    monkeypatch.delenv(W.ENV_CACHE)
    assert W.cache_dir().name.lower().startswith("bpartis_nb") or "bpartis_nb" in str(W.cache_dir())


def test_sha256_file(tmp_path):
    f = tmp_path / "x.bin"
    data = bytes(range(256)) * 5000
    f.write_bytes(data)
    assert W.sha256_file(f) == hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------------------
# the published file
# --------------------------------------------------------------------------------------
@needs_published
def test_published_file_hash_and_strict_load():
    assert W.sha256_file(PUBLISHED) == W.BPARTIS_EMPS_2021.sha256
    model = W.load_model(PUBLISHED, device="cpu")
    assert isinstance(model, BranchedERFNet)
    assert not model.training
    sd = W.load_state_dict(PUBLISHED)
    for k, v in model.state_dict().items():
        assert torch.equal(v, sd[k]), k
    BranchedERFNet().load_state_dict(sd, strict=True)


@needs_published
def test_checkpoint_dict_accepted(tmp_path):
    sd = W.load_state_dict(PUBLISHED)
    ckpt = tmp_path / "ckpt.pt"
    torch.save({"epoch": 3, "model": sd}, ckpt)
    model = W.load_model(ckpt, device="cpu")
    key = "encoder.initial_block.conv.weight"
    assert torch.equal(model.state_dict()[key], sd[key])
    torch.save({"state_dict": {"module." + k: v for k, v in sd.items()}}, ckpt)
    W.load_model(str(ckpt), device="cpu")


def test_random_init_and_device_default():
    model = W.load_model(False)
    assert not model.training
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert next(model.parameters()).device.type == expected


def test_mismatched_keys_named(tmp_path):
    sd = BranchedERFNet().state_dict()
    sd.pop("encoder.initial_block.conv.weight")
    sd["extra.weight"] = torch.zeros(1)
    f = tmp_path / "bad.pt"
    torch.save(sd, f)
    with pytest.raises(ValueError) as info:
        W.load_model(f, device="cpu")
    msg = str(info.value)
    assert "encoder.initial_block.conv.weight" in msg and "extra.weight" in msg


def test_not_a_state_dict(tmp_path):
    f = tmp_path / "list.pt"
    torch.save([torch.zeros(2)], f)
    with pytest.raises(ValueError, match="state dict"):
        W.load_state_dict(f)
    g = tmp_path / "garbage.pt"
    g.write_bytes(b"this is not a torch file")
    with pytest.raises(ValueError, match="torch.load"):
        W.load_state_dict(g)


# --------------------------------------------------------------------------------------
# resolution order
# --------------------------------------------------------------------------------------
def test_missing_explicit_path_is_clear(tmp_path):
    missing = tmp_path / "nope.pt"
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        W.resolve_weights(missing)


def test_missing_env_path_is_clear(monkeypatch, tmp_path):
    monkeypatch.setenv(W.ENV_WEIGHTS, str(tmp_path / "nope.pt"))
    with pytest.raises(FileNotFoundError, match=W.ENV_WEIGHTS):
        W.resolve_weights()


def test_env_var_wins_over_cache(monkeypatch, tmp_path):
    cached = W.cached_weights_path()
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"cached")
    own = tmp_path / "own.pt"
    own.write_bytes(b"mine")
    monkeypatch.setenv(W.ENV_WEIGHTS, str(own))
    assert W.resolve_weights() == own.resolve()
    # an explicit argument wins over the environment variable
    arg = tmp_path / "arg.pt"
    arg.write_bytes(b"arg")
    assert W.resolve_weights(arg) == arg.resolve()


def test_user_file_hash_mismatch_only_warns(tmp_path):
    own = tmp_path / "own.pt"
    own.write_bytes(b"my own checkpoint")
    with pytest.warns(UserWarning, match="sha256"):
        assert W.resolve_weights(own, expected_sha256=W.BPARTIS_EMPS_2021.sha256) == own.resolve()


def test_no_download_gives_instructions():
    with pytest.raises(W.WeightsUnavailableError) as info:
        W.resolve_weights(download=False)
    msg = str(info.value)
    assert W.ENV_WEIGHTS in msg and W.BPARTIS_EMPS_2021.sha256 in msg
    assert str(W.cached_weights_path()) in msg


# --------------------------------------------------------------------------------------
# retrieval through pip (offline, --no-index --find-links)
# --------------------------------------------------------------------------------------
def test_pip_download_end_to_end(monkeypatch, tmp_path, good_wheel_dir, capsys):
    wheels = tmp_path / "wheels"
    shutil.copytree(good_wheel_dir, wheels)
    _use_find_links(monkeypatch, wheels)

    got = W.resolve_weights()
    target = W.cached_weights_path()
    assert got == target.resolve()
    assert W.sha256_file(target) == W.BPARTIS_EMPS_2021.sha256
    assert _cache_entries(tmp_path) == [target]  # no temp files left behind
    assert "through pip" in capsys.readouterr().err

    # second call: served from the cache, pip is not needed
    shutil.rmtree(wheels)
    monkeypatch.setattr(retrieval, "_run_pip_download", _no_pip)
    assert W.resolve_weights() == target.resolve()
    assert W.resolve_weights(download=False) == target.resolve()


def _no_pip(*args, **kwargs):  # pragma: no cover - failing is the point
    raise AssertionError("pip must not be invoked when the cache is valid")


def test_wrong_member_bytes_rejected(monkeypatch, tmp_path):
    wheels = tmp_path / "badwheels"
    build_wheel(wheels, b"not the published weights")
    _use_find_links(monkeypatch, wheels)
    with pytest.raises(W.WeightsUnavailableError) as info:
        W.resolve_weights(progress=False)
    msg = str(info.value)
    assert "sha256" in msg and W.ENV_WEIGHTS in msg and W.BPARTIS_EMPS_2021.sha256 in msg
    assert _cache_entries(tmp_path) == []  # neither the final file nor a temp file


def test_member_missing(monkeypatch, tmp_path):
    wheels = tmp_path / "nomember"
    wheel = build_wheel(wheels, b"x")
    # rewrite without the weights member
    with zipfile.ZipFile(wheel) as zf:
        items = {n: zf.read(n) for n in zf.namelist() if n != W.BPARTIS_EMPS_2021.member}
    with zipfile.ZipFile(wheel, "w") as zf:
        for n, d in items.items():
            zf.writestr(n, d)
    _use_find_links(monkeypatch, wheels)
    with pytest.raises(W.WeightsUnavailableError, match="no member"):
        W.resolve_weights(progress=False)
    assert _cache_entries(tmp_path) == []


def test_pip_cannot_find_package(monkeypatch, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    _use_find_links(monkeypatch, empty)
    with pytest.raises(W.WeightsUnavailableError) as info:
        W.resolve_weights(progress=False)
    msg = str(info.value)
    assert "pip" in msg and "exit status" in msg
    assert "imagedataextractor" in msg  # pip's own error line is quoted
    assert "pip download --no-deps" in msg and W.BPARTIS_EMPS_2021.member in msg
    assert W.ENV_WEIGHTS in msg and str(W.cached_weights_path()) in msg
    assert W.BPARTIS_EMPS_2021.sha256 in msg
    assert not W.cached_weights_path().exists()


def test_corrupted_cache_is_refetched(monkeypatch, tmp_path, good_wheel_dir):
    target = W.cached_weights_path()
    target.parent.mkdir(parents=True)
    target.write_bytes(b"truncated download")
    _use_find_links(monkeypatch, good_wheel_dir)
    with pytest.warns(UserWarning, match="fetching them again"):
        got = W.resolve_weights(progress=False)
    assert got == target.resolve()
    assert W.sha256_file(target) == W.BPARTIS_EMPS_2021.sha256


def test_corrupted_cache_without_download_errors():
    target = W.cached_weights_path()
    target.parent.mkdir(parents=True)
    target.write_bytes(b"truncated download")
    with pytest.raises(W.WeightsUnavailableError, match="sha256"):
        W.resolve_weights(download=False)
