"""The registry of published BPartIS weights and the local cache they are kept in.

A :class:`PretrainedWeights` entry pairs a weights file with what a user needs to trust
and cite it: its SHA-256, licence, citation, where it is published, the metrics it
reaches and the inference settings it was tuned with. :data:`BPARTIS_EMPS_2021` is the
published model (Yildirim & Cole 2021, MIT licence). :mod:`bpartis_nb.retrieval` finds
or fetches the file; :mod:`bpartis_nb.weights` loads it into a network.

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
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import platformdirs

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
]

#: Environment variable naming a weights file that overrides the cache.
ENV_WEIGHTS = "BPARTIS_NB_WEIGHTS"
#: Environment variable naming the cache directory.
ENV_CACHE = "BPARTIS_NB_CACHE"
#: Environment variable with extra ``pip download`` arguments (split with shlex).
ENV_PIP_ARGS = "BPARTIS_NB_PIP_ARGS"

_CHUNK = 1 << 20


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

