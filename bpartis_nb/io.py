"""Reading micrographs robustly and writing results atomically."""
from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path
from typing import Callable, Union

import numpy as np
from numpy.typing import NDArray
from PIL import Image, UnidentifiedImageError

from .formats import INSTRUMENT_SUFFIXES, read_instrument_image  # RosettaSciIO is imported only when used
from .imagearray import MIN_SIDE, ImageError, as_image_array

__all__ = ["ImageError", "read_image", "read_image_bytes", "as_image_array", "atomic_write", "MIN_SIDE"]

ImageSource = Union[str, os.PathLike, NDArray, Image.Image]



def read_image(source: ImageSource) -> NDArray:
    """Read a micrograph from a path, a PIL image or an array, and validate it.

    Parameters
    ----------
    source : str, os.PathLike, PIL.Image.Image or ndarray
        A file PIL can read (PNG, JPEG, TIFF, BMP, ...; multi-page files give their
        first page), an instrument file (.dm3, .dm4, .emd, .mrc, .ser, .emi: its first
        image, see :func:`bpartis_nb.formats.read_instrument_image`), or an array of
        shape (M, N), (M, N, 1), (M, N, 3) or (M, N, 4).

    Returns
    -------
    ndarray of shape (M, N) or (M, N, C), C in {3, 4}
        The pixel values with their own dtype (uint8, uint16, float, ...): no scaling
        here (see :func:`bpartis_nb.preprocess.to_network_input`).

    Raises
    ------
    FileNotFoundError
        The path does not exist.
    ImageError
        Not an image, a damaged file, an unsupported array, or smaller than 16 x 16.
    bpartis_nb.formats.FormatsExtraMissing
        An instrument file without RosettaSciIO: ``pip install "bpartis-nb[formats]"``.
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise FileNotFoundError(f"no such file: {path}. Check the path or pass the image as an array.")
        if path.is_dir():
            raise ImageError(f"{path} is a folder, not an image file; pass one image file.")
        if path.suffix.lower() in INSTRUMENT_SUFFIXES:
            return read_instrument_image(path, calibration=False)[0]
        return _decode(lambda: Image.open(path), path.name, str(path))
    if isinstance(source, Image.Image):
        return as_image_array(_pil_to_array(source))
    return as_image_array(source)


def read_image_bytes(data: bytes, name: str = "upload") -> NDArray:
    """Decode an image file held in memory (an upload), with :func:`read_image`'s checks.

    Parameters
    ----------
    data : bytes
        The file's content.
    name : str
        The file's name, for messages.
    """
    import io as _io

    return _decode(lambda: Image.open(_io.BytesIO(bytes(data))), name, name)


def _decode(opener, name: str, where: str) -> NDArray:
    """Open, fully decode and validate an image, turning PIL's errors into ImageError."""
    try:
        with opener() as im:
            im.load()
            array = _pil_to_array(im)
    except PermissionError:
        raise ImageError(f"{where} cannot be read: permission denied. Check the file's permissions.") from None
    except Image.DecompressionBombError as exc:
        raise ImageError(f"{name} is too large to open safely ({exc}). Downscale it or cut it into tiles first.") from None
    except UnidentifiedImageError:
        raise ImageError(
            f"{name} is not an image that can be read (PNG, JPEG, TIFF, BMP ...); "
            "check that the file is a micrograph and not another kind of file renamed."
        ) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(
            f"{name} could not be decoded ({exc}); the file is probably truncated or "
            "damaged: export it again from the microscope software or the original figure."
        ) from None
    return as_image_array(array, name=name)


def _pil_to_array(im: Image.Image) -> NDArray:
    if im.mode in ("1", "P", "PA", "CMYK", "YCbCr", "LAB", "HSV"):
        im = im.convert("RGBA" if "A" in im.mode or "transparency" in im.info else "RGB")
    elif im.mode == "LA":
        im = im.convert("L")
    elif im.mode.startswith("I;16"):
        return np.asarray(im, dtype=np.uint16)
    return np.asarray(im)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Write a file so that readers see either the old or the complete new content.

    ``write`` is called with a temporary path in the same folder; on success the file is
    moved onto ``path`` with :func:`os.replace`, otherwise the temporary file is removed.

    Parameters
    ----------
    path : path-like
        Destination; its folder is created if needed.
    write : callable
        ``write(tmp_path)`` writes the content.

    Returns
    -------
    Path
        The destination.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part" + path.suffix, dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give what open() would
        os.replace(tmp, path)
    except BaseException:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
        raise
    return path
