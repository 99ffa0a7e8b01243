"""Tests of bpartis_nb.io: reading micrographs of every kind, refusing bad ones clearly,
and writing files atomically."""
from __future__ import annotations

import io as _io

import numpy as np
import pytest
from PIL import Image

from bpartis_nb.io import MIN_SIDE, ImageError, as_image_array, atomic_write, read_image


def _gradient(rows: int = 40, cols: int = 48) -> np.ndarray:
    """A deterministic grey ramp, uint8, shape (rows, cols)."""
    r, c = np.mgrid[0:rows, 0:cols]
    return ((r * 7 + c * 3) % 256).astype(np.uint8)


# --------------------------------------------------------------------------- bad paths
def test_missing_path_names_it(tmp_path):
    missing = tmp_path / "no_such_micrograph.png"
    with pytest.raises(FileNotFoundError) as info:
        read_image(missing)
    assert str(missing) in str(info.value)


def test_folder_is_refused(tmp_path):
    with pytest.raises(ImageError, match="folder"):
        read_image(tmp_path)


def test_text_file_renamed_png(tmp_path):
    fake = tmp_path / "notes.png"
    fake.write_text("these are my lab notes, not a picture\n" * 20)
    with pytest.raises(ImageError) as info:
        read_image(fake)
    msg = str(info.value)
    assert "notes.png" in msg and "not an image" in msg


def test_truncated_png(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "cut.png"
    # noise does not compress, so half of the file lacks half of the pixel data
    Image.fromarray(rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)).save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError) as info:
        read_image(path)
    msg = str(info.value)
    assert "cut.png" in msg
    assert "truncated" in msg or "damaged" in msg


@pytest.mark.parametrize("side", [1, 10])
def test_too_small_image(tmp_path, side):
    path = tmp_path / f"thumb{side}.png"
    Image.fromarray(np.full((side, side), 128, np.uint8)).save(path)
    with pytest.raises(ImageError) as info:
        read_image(path)
    msg = str(info.value)
    assert f"{side} x {side}" in msg
    assert f"{MIN_SIDE} x {MIN_SIDE}" in msg
    # arrays get the same check
    with pytest.raises(ImageError, match=f"{MIN_SIDE} x {MIN_SIDE}"):
        read_image(np.zeros((side, 64), np.uint8))


def test_smallest_accepted_side():
    assert read_image(np.zeros((MIN_SIDE, MIN_SIDE), np.uint8)).shape == (MIN_SIDE, MIN_SIDE)


# --------------------------------------------------------------------------- file kinds
def test_rgb_png_round_trip(tmp_path):
    rgb = np.stack([_gradient(), _gradient()[::-1], 255 - _gradient()], axis=2)
    path = tmp_path / "rgb.png"
    Image.fromarray(rgb).save(path)
    out = read_image(path)
    assert out.dtype == np.uint8 and out.shape == (40, 48, 3)
    np.testing.assert_array_equal(out, rgb)


def test_rgba_png(tmp_path):
    rgba = np.zeros((40, 48, 4), np.uint8)
    rgba[..., 0] = _gradient()
    rgba[..., 1] = 200
    rgba[..., 3] = 128
    path = tmp_path / "rgba.png"
    Image.fromarray(rgba, mode="RGBA").save(path)
    out = read_image(path)
    assert out.shape == (40, 48, 4) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, rgba)


def test_16bit_grayscale_png(tmp_path):
    r, c = np.mgrid[0:40, 0:48]
    grey16 = (r * 1500 + c * 37).astype(np.uint16)
    assert grey16.max() > 255
    path = tmp_path / "grey16.png"
    Image.fromarray(grey16).save(path)
    out = read_image(path)
    assert out.dtype == np.uint16 and out.shape == (40, 48)
    np.testing.assert_array_equal(out, grey16)


def test_grayscale_png(tmp_path):
    path = tmp_path / "grey.png"
    Image.fromarray(_gradient()).save(path)
    out = read_image(path)
    assert out.dtype == np.uint8 and out.shape == (40, 48)
    np.testing.assert_array_equal(out, _gradient())


def test_palette_png(tmp_path):
    grey = _gradient()
    palette_image = Image.fromarray(grey).convert("RGB").quantize(colors=16)
    assert palette_image.mode == "P"
    path = tmp_path / "palette.png"
    palette_image.save(path)
    out = read_image(path)
    assert out.dtype == np.uint8 and out.shape == (40, 48, 3)
    np.testing.assert_array_equal(out, np.asarray(palette_image.convert("RGB")))


def test_palette_with_transparency_gives_rgba(tmp_path):
    palette_image = Image.fromarray(_gradient()).convert("RGB").quantize(colors=8)
    path = tmp_path / "palette_t.png"
    palette_image.save(path, transparency=0)
    out = read_image(path)
    assert out.shape == (40, 48, 4)


def test_pil_image_and_other_formats(tmp_path):
    grey = _gradient()
    np.testing.assert_array_equal(read_image(Image.fromarray(grey)), grey)
    for ext in ("tif", "bmp"):
        path = tmp_path / f"grey.{ext}"
        Image.fromarray(grey).save(path)
        np.testing.assert_array_equal(read_image(str(path)), grey)
    buffer = _io.BytesIO()
    Image.fromarray(grey).save(buffer, format="JPEG", quality=95)
    jpeg = tmp_path / "grey.jpg"
    jpeg.write_bytes(buffer.getvalue())
    assert read_image(jpeg).shape == (40, 48)


# --------------------------------------------------------------------------- arrays
def test_bool_array_becomes_uint8():
    mask = _gradient() > 100
    out = read_image(mask)
    assert out.dtype == np.uint8
    assert set(np.unique(out)) <= {0, 255}
    np.testing.assert_array_equal(out == 255, mask)


def test_float_array_kept():
    values = _gradient().astype(np.float32) / 255
    out = read_image(values)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, values)


def test_single_and_two_channel_arrays_become_grey():
    grey = _gradient()
    np.testing.assert_array_equal(read_image(grey[:, :, None]), grey)
    with_alpha = np.stack([grey, np.full_like(grey, 255)], axis=2)
    np.testing.assert_array_equal(read_image(with_alpha), grey)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_array(bad):
    values = np.zeros((32, 32), np.float64)
    values[3, 4] = bad
    with pytest.raises(ImageError, match="NaN or infinite"):
        read_image(values)


def test_four_dimensional_array():
    with pytest.raises(ImageError) as info:
        read_image(np.zeros((2, 32, 32, 3), np.uint8))
    assert "(2, 32, 32, 3)" in str(info.value)


def test_five_channels_and_strings_refused():
    with pytest.raises(ImageError, match="shape"):
        as_image_array(np.zeros((32, 32, 5), np.uint8))
    with pytest.raises(ImageError, match="not numeric"):
        as_image_array(np.full((32, 32), "x"))


def test_image_error_is_a_value_error():
    assert issubclass(ImageError, ValueError)


# --------------------------------------------------------------------------- atomic_write
def test_atomic_write_complete_content(tmp_path):
    target = tmp_path / "sub" / "table.csv"
    text = "id,diameter_px\n" + "".join(f"{i},{i * 1.5}\n" for i in range(1000))
    assert atomic_write(target, lambda p: p.write_text(text)) == target
    assert target.read_text() == text
    assert sorted(p.name for p in target.parent.iterdir()) == ["table.csv"]
    # writing again replaces the content whole
    atomic_write(target, lambda p: p.write_text("new\n"))
    assert target.read_text() == "new\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["table.csv"]


def test_atomic_write_failure_keeps_old_file(tmp_path):
    target = tmp_path / "overlay.png"
    target.write_bytes(b"old complete content")

    def failing(path):
        path.write_bytes(b"half of the new")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(target, failing)
    assert target.read_bytes() == b"old complete content"
    assert [p.name for p in tmp_path.iterdir()] == ["overlay.png"]


def test_atomic_write_failure_without_old_file(tmp_path):
    target = tmp_path / "new.csv"

    def failing(path):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, failing)
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_gives_ordinary_permissions(tmp_path):
    import os
    import stat

    old = os.umask(0o022)
    try:
        path = atomic_write(tmp_path / "table.csv", lambda p: p.write_text("a,b\n"))
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_read_image_bytes_like_files(tmp_path):
    from bpartis_nb.io import read_image_bytes

    buf = _io.BytesIO()
    Image.fromarray(np.full((32, 40, 3), 9, np.uint8)).save(buf, format="PNG")
    data = buf.getvalue()
    assert read_image_bytes(data, "a.png").shape == (32, 40, 3)
    assert read_image_bytes(memoryview(data), "a.png").shape == (32, 40, 3)
    with pytest.raises(ImageError, match="not an image"):
        read_image_bytes(b"hello, this is text", "notes.png")
    with pytest.raises(ImageError, match="truncated|damaged"):
        read_image_bytes(data[: len(data) // 2], "cut.png")
