"""Pretrained BPartIS weights: loading a weights file into the network.

:func:`load_model` builds a :class:`~bpartis_nb.model.BranchedERFNet` with the published
weights (:data:`~bpartis_nb.registry.BPARTIS_EMPS_2021`, found or fetched by
:func:`~bpartis_nb.retrieval.resolve_weights`), a file of your own, or random weights.
The registry and the cache (:mod:`bpartis_nb.registry`) and the retrieval
(:mod:`bpartis_nb.retrieval`) are importable from here too; the environment variables
``BPARTIS_NB_WEIGHTS``, ``BPARTIS_NB_CACHE`` and ``BPARTIS_NB_PIP_ARGS`` are described there.

Examples
--------
>>> from bpartis_nb.weights import load_model
>>> net = load_model()                     # doctest: +SKIP
>>> net = load_model("my-checkpoint.pt")   # doctest: +SKIP
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import torch

from .model import BranchedERFNet
from .registry import (  # noqa: F401  (re-exported: the registry and the cache)
    BPARTIS_EMPS_2021,
    ENV_CACHE,
    ENV_PIP_ARGS,
    ENV_WEIGHTS,
    PretrainedWeights,
    WeightsUnavailableError,
    cache_dir,
    cached_weights_path,
    sha256_file,
)
from .retrieval import resolve_weights

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
