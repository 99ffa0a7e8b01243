"""Pixel sizes read from instrument metadata: real files of each vendor and format are
written here, read back, and must give exactly the pixel size that was written."""
from __future__ import annotations

import ast
import json
import math
import struct
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from bpartis_nb.calibration import Calibration, CalibrationWarning
from bpartis_nb.calibration.auto import read_metadata_calibration
from bpartis_nb.formats import FormatsExtraMissing, read_instrument_image
from bpartis_nb.io import ImageError, read_image

ROOT = Path(__file__).resolve().parents[1]

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib


def _image(rows: int = 40, cols: int = 56, offset: int = 0) -> np.ndarray:
    """A deterministic uint16 ramp, shape (rows, cols), no two neighbours equal."""
    r, c = np.mgrid[0:rows, 0:cols]
    return ((r * 131 + c * 7 + offset) % 4093).astype(np.uint16)


def _exact(calibration: Calibration, nm_per_px: float, value: float, unit: str) -> None:
    assert calibration is not None
    assert calibration.source == "metadata" and calibration.confidence == 1.0
    assert math.isclose(calibration.nm_per_px, nm_per_px, rel_tol=1e-12), calibration
    assert math.isclose(calibration.value, value, rel_tol=1e-12), calibration
    assert calibration.unit == unit


def _quiet_none(path: Path) -> None:
    """No calibration and no CalibrationWarning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", CalibrationWarning)
        assert read_metadata_calibration(path) is None


# --------------------------------------------------------------------------- TIFF vendors
FEI_TEXT = (
    "[User]\r\nDate=03/14/2024\r\nTime=10:12:31 AM\r\n\r\n"
    "[System]\r\nSystemType=Helios G4 UC\r\n\r\n"
    "[Scan]\r\nDwelltime=3e-06\r\nPixelWidth={w}\r\nPixelHeight={h}\r\n\r\n"
    "[Image]\r\nResolutionX=56\r\nResolutionY=40\r\n"
)


def test_fei_tiff_pixel_width(tmp_path):
    path = tmp_path / "helios.tif"
    tifffile.imwrite(path, _image(), extratags=[(34682, "s", 0, FEI_TEXT.format(w="1.953e-09", h="1.953e-09"), True)])
    with warnings.catch_warnings():
        warnings.simplefilter("error", CalibrationWarning)
        found = read_metadata_calibration(path)
    _exact(found, 1.953, 1.953e-09, "m")
    assert found.detail == "FEI PixelWidth = 1.953e-09 m" and found.text == "PixelWidth = 1.953e-09"
    assert found.warnings == ()


def test_fei_non_square_pixels_use_x_and_warn(tmp_path):
    path = tmp_path / "stretched.tif"
    tifffile.imwrite(path, _image(), extratags=[(34682, "s", 0, FEI_TEXT.format(w="2e-09", h="3e-09"), True)])
    with pytest.warns(CalibrationWarning, match="non-square") as record:
        found = read_metadata_calibration(path)
    _exact(found, 2.0, 2e-09, "m")
    message = str(record[0].message)
    assert "2e-09 m wide" in message and "3e-09 m high" in message
    assert found.warnings == (message,)


def _zeiss_header(*entries: tuple[str, str]) -> bytes:
    """Tag 34118 as SmartSEM writes it: unnamed numbers, then KEY / "Name = value unit" pairs (latin-1)."""
    lines = ["0", "0", "1.2e-09"]
    for key, line in entries:
        lines += [key, line]
    return ("\r\n".join(lines) + "\r\n").encode("latin-1") + b"\x00"


def test_zeiss_image_pixel_size_with_its_unit(tmp_path):
    path = tmp_path / "zeiss.tif"
    header = _zeiss_header(("AP_IMAGE_PIXEL_SIZE", "Image Pixel Size = 0.0125 \u00b5m"),
                           ("AP_PIXEL_SIZE", "Pixel Size = 7.5 nm"),
                           ("SV_VERSION", "Version = V06.03.00.00 : 13-Jun-17"))
    tifffile.imwrite(path, _image(), extratags=[(34118, "s", 0, header, True)])
    found = read_metadata_calibration(path)
    _exact(found, 12.5, 0.0125, "µm")  # the image's own pixel size wins over "Pixel Size"
    assert "Image Pixel Size" in found.detail


def test_zeiss_pixel_size_alone_only_for_1024_wide_images(tmp_path):
    header = _zeiss_header(("AP_PIXEL_SIZE", "Pixel Size = 3.5 nm"))
    narrow, wide = tmp_path / "narrow.tif", tmp_path / "wide.tif"
    tifffile.imwrite(narrow, _image(), extratags=[(34118, "s", 0, header, True)])
    tifffile.imwrite(wide, _image(16, 1024), extratags=[(34118, "s", 0, header, True)])
    with pytest.warns(CalibrationWarning, match="56-pixel-wide"):
        assert read_metadata_calibration(narrow) is None
    _exact(read_metadata_calibration(wide), 3.5, 3.5, "nm")


def _tescan_payload(text: str) -> bytes:
    """Tag 50431: blocks of uint32 size, uint16 type, size - 2 bytes (type 2 main text, 0 last)."""
    main = text.encode("latin-1")
    thumb = b"\xff\xd8 not really a jpeg \xff\xd9"
    return (struct.pack("<IH", len(thumb) + 2, 1) + thumb
            + struct.pack("<IH", len(main) + 2, 2) + main
            + struct.pack("<IH", 2, 0))


def test_tescan_tiff_main_block(tmp_path):
    path = tmp_path / "mira.tif"
    text = "[MAIN]\r\nDate=2024-03-14\r\nDevice=MIRA3 LMH\r\nPixelSizeX=4.8828125e-009\r\nPixelSizeY=4.8828125e-009\r\n"
    payload = _tescan_payload(text)
    tifffile.imwrite(path, _image(), extratags=[(50431, "B", len(payload), payload, True)])
    found = read_metadata_calibration(path)
    _exact(found, 4.8828125, 4.8828125e-09, "m")
    assert found.detail.startswith("Tescan PixelSizeX = 4.8828125e-09 m")


@pytest.mark.parametrize("unit, resolution, value, nm", [
    ("\\u00B5m", 80.0, 0.0125, 12.5),  # how ImageJ itself writes µm
    ("nm", 1 / 0.3, 0.3, 0.3),
    ("micron", 4.0, 0.25, 250.0),
])
def test_imagej_tiff_unit_and_resolution(tmp_path, unit, resolution, value, nm):
    path = tmp_path / "imagej.tif"
    tifffile.imwrite(path, _image(), imagej=True, resolution=(resolution, resolution), metadata={"unit": unit})
    found = read_metadata_calibration(path)
    _exact(found, nm, value, "µm" if unit != "nm" else "nm")


def test_print_resolutions_and_plain_images_are_not_calibrations(tmp_path):
    dpi72, dpcm, png, ij_inch = (tmp_path / n for n in ("72dpi.tif", "cm.tif", "plain.png", "ij_inch.tif"))
    tifffile.imwrite(dpi72, _image(), resolution=(72, 72), resolutionunit="INCH")
    tifffile.imwrite(dpcm, _image(), resolution=(118.11, 118.11), resolutionunit="CENTIMETER")
    Image.fromarray(_image().astype(np.uint8)).save(png, dpi=(300, 300))
    tifffile.imwrite(ij_inch, _image(), imagej=True, resolution=(300, 300), metadata={"unit": "inch"})
    for path in (dpi72, dpcm, png, ij_inch):
        _quiet_none(path)


# --------------------------------------------------------------------------- sidecar text files
def test_hitachi_sidecar(tmp_path):
    path = tmp_path / "su8230.tif"
    Image.fromarray(_image().astype(np.uint8)).save(path)
    (tmp_path / "su8230.txt").write_text(
        "[SemImageFile]\r\nInstructName=SU8230\r\nDataSize=56x40\r\nPixelSize=4.960938\r\n"
        "Magnification=25000\r\n", encoding="latin-1")
    found = read_metadata_calibration(path)
    _exact(found, 4.960938, 4.960938, "nm")
    assert "su8230.txt" in found.detail


def test_jeol_sidecar_and_a_resized_image(tmp_path):
    path = tmp_path / "jsm.tif"
    Image.fromarray(_image().astype(np.uint8)).save(path)
    sidecar = "$CM_FORMAT JEOL/SEM\n$CM_FULL_SIZE {w} 40\n$$SM_MICRON_BAR 148\n$$SM_MICRON_MARKER 1um\n"
    (tmp_path / "jsm.txt").write_text(sidecar.format(w=56))
    _exact(read_metadata_calibration(path), 1000 / 148, 1 / 148, "µm")
    (tmp_path / "jsm.txt").write_text(sidecar.format(w=1280))
    with pytest.warns(CalibrationWarning, match="1280-pixel-wide"):
        assert read_metadata_calibration(path) is None


def test_tescan_hdr_sidecar(tmp_path):
    path = tmp_path / "vega.tif"
    Image.fromarray(_image().astype(np.uint8)).save(path)
    (tmp_path / "vega-tif.hdr").write_text(
        "[MAIN]\nDevice=VEGA3\nPixelSizeX=1.5625e-008\nPixelSizeY=1.5625e-008\n[SEM]\nHV=20000\n")
    _exact(read_metadata_calibration(path), 15.625, 1.5625e-08, "m")


# --------------------------------------------------------------------------- Gatan DigitalMicrograph
def _dm_file(images, scales, units, version: int) -> bytes:
    """A DM3/DM4 file: root TagGroup > ImageList > one unnamed group per image, as Gatan writes it.

    Header and tag structure are big-endian; tag values little-endian (the header's flag
    says so). DM4 widens the counts to 8 bytes and puts each tag's byte length after its
    name (RosettaSciIO skips those lengths, so it reads either placement for groups).
    """
    count = struct.Struct(">i" if version == 3 else ">q")

    def tag(name, body, group):
        label = name.encode("latin-1")
        head = bytes([20 if group else 21]) + struct.pack(">h", len(label)) + label
        return head + (struct.pack(">q", len(body)) if version == 4 else b"") + body

    def group(entries):  # sorted, open, number of tags, tags
        return b"\x01\x00" + count.pack(len(entries)) + b"".join(entries)

    def simple(kind, fmt, value):  # "%%%%", info array [kind], value
        return b"%%%%" + count.pack(1) + count.pack(kind) + struct.pack("<" + fmt, value)

    def array(kind, n, payload):  # info array [20 (array), element kind, length]
        return b"%%%%" + count.pack(3) + count.pack(20) + count.pack(kind) + count.pack(n) + payload

    def text(s):  # strings are arrays of uint16 characters
        return array(4, len(s), np.array([ord(c) for c in s], "<u2").tobytes())

    def calibration(scale, unit):
        return group([tag("Origin", simple(6, "f", 0.0), False), tag("Scale", simple(6, "f", scale), False),
                      tag("Units", text(unit), False)])

    entries = []
    for k, (image, scale, unit) in enumerate(zip(images, scales, units)):
        rows, cols = image.shape
        dims = [tag("", calibration(scale, unit), True), tag("", calibration(scale, unit), True)]  # x, y
        data = np.ascontiguousarray(image, "<u2")
        image_data = group([
            tag("Calibrations", group([tag("Brightness", calibration(1.0, "counts"), True),
                                       tag("Dimension", group(dims), True)]), True),
            tag("Data", array(4, data.size, data.tobytes()), False),
            tag("DataType", simple(3, "i", 10), False),  # 10: uint16
            tag("Dimensions", group([tag("", simple(5, "I", cols), False), tag("", simple(5, "I", rows), False)]), True),
            tag("PixelDepth", simple(3, "i", 2), False),
        ])
        entries.append(tag("", group([tag("ImageData", image_data, True), tag("ImageTags", group([]), True),
                                      tag("Name", text(f"image {k}"), False)]), True))
    body = group([tag("ImageList", group(entries), True)]) + b"\x00" * 8
    return struct.pack(">i", version) + count.pack(len(body)) + struct.pack(">i", 1) + body


@pytest.mark.parametrize("version, scale, unit, nm", [(3, 0.15625, "nm", 0.15625),
                                                      (4, 0.0048828125, "\u00b5m", 4.8828125)])
def test_gatan_dm_pixel_size_and_pixels(tmp_path, version, scale, unit, nm):
    pytest.importorskip("rsciio")
    path = tmp_path / f"ceta.dm{version}"
    path.write_bytes(_dm_file([_image()], [scale], [unit], version))
    from rsciio.digitalmicrograph import file_reader  # the file is one rsciio reads

    assert file_reader(str(path))[0]["axes"][1]["units"] == unit
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _exact(read_metadata_calibration(path), nm, scale, "µm" if unit != "nm" else "nm")
        pixels = read_image(path)
    assert pixels.dtype == np.uint16 and np.array_equal(pixels, _image())


def test_dm_diffraction_units_give_none_with_a_reason(tmp_path):
    pytest.importorskip("rsciio")
    path = tmp_path / "pattern.dm3"
    path.write_bytes(_dm_file([_image()], [0.0125], ["1/nm"], 3))
    with pytest.warns(CalibrationWarning, match=r"'1/nm', which is not a length"):
        assert read_metadata_calibration(path) is None
    uncalibrated = tmp_path / "raw.dm3"
    uncalibrated.write_bytes(_dm_file([_image()], [1.0], [""], 3))
    _quiet_none(uncalibrated)


def test_dm_with_two_images_warns_and_signal_chooses(tmp_path):
    pytest.importorskip("rsciio")
    path = tmp_path / "two.dm4"
    path.write_bytes(_dm_file([_image(), _image(offset=5)], [0.25, 0.5], ["nm", "nm"], 4))
    with pytest.warns(UserWarning, match=r"holds 2 signals.*took signal 0.*signal=k"):
        first, calibration = read_instrument_image(path)
    assert np.array_equal(first, _image()) and calibration.nm_per_px == 0.25
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        second, calibration = read_instrument_image(path, signal=1)
        assert read_metadata_calibration(path, signal=1).nm_per_px == 0.5
    assert np.array_equal(second, _image(offset=5)) and calibration.nm_per_px == 0.5
    with pytest.raises(ImageError, match="signal=2 is not one"):
        read_instrument_image(path, signal=2)


def test_damaged_dm_file_is_an_image_error(tmp_path):
    pytest.importorskip("rsciio")
    path = tmp_path / "cut.dm3"
    path.write_bytes(_dm_file([_image()], [0.25], ["nm"], 3)[:200])
    with pytest.raises(ImageError, match="cut.dm3 could not be read as a Gatan DigitalMicrograph file"):
        read_image(path)


# --------------------------------------------------------------------------- Velox and NCEM EMD
def _velox(path: Path, frames, width_m: float, height_m: float) -> None:
    """A Velox EMD as the Velox reader expects: /Version JSON, /Data/Image/<uuid>/{Data (y, x, frame),
    Metadata (JSON bytes, one column per frame)}."""
    h5py = pytest.importorskip("h5py")
    metadata = {
        "BinaryResult": {"PixelSize": {"width": repr(width_m), "height": repr(height_m)},
                         "PixelUnitX": "m", "PixelUnitY": "m", "Offset": {"x": "0", "y": "0"}},
        "Acquisition": {"AcquisitionStartDatetime": {"DateTime": "1700000000"}},
        "Scan": {"FrameTime": "2.5"},
    }
    raw = np.frombuffer(json.dumps(metadata).encode(), np.uint8)
    columns = np.zeros((raw.size + 32, len(frames)), np.uint8)
    columns[: raw.size] = raw[:, None]
    with h5py.File(path, "w") as f:
        f.create_dataset("Version", data=np.array([json.dumps({"format": "Velox", "version": "11"}).encode()]))
        group = f.create_group("Data/Image/8a1e2c6b5d4f4e3a9b0c7d6e5f4a3b2c")
        group.create_dataset("Data", data=np.stack(frames, axis=-1))
        group.create_dataset("Metadata", data=columns)


def test_velox_emd_pixel_size_and_pixels(tmp_path):
    pytest.importorskip("rsciio")
    path = tmp_path / "haadf.emd"
    _velox(path, [_image()], 2.5e-10, 2.5e-10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        found = read_metadata_calibration(path)
        pixels = read_image(path)
    _exact(found, 0.25, 2.5e-10, "m")
    assert "PixelSize.width" in found.detail
    assert np.array_equal(pixels, _image())


def test_velox_stack_warns_and_frame_chooses(tmp_path):
    pytest.importorskip("rsciio")
    path = tmp_path / "series.emd"
    _velox(path, [_image(offset=k) for k in range(3)], 2.5e-10, 2.5e-10)
    with pytest.warns(UserWarning, match=r"stack of 3 images.*took frame 0.*frame=k \(0 to 2\)"):
        first, _ = read_instrument_image(path)
    third, calibration = read_instrument_image(path, frame=2)
    assert np.array_equal(first, _image()) and np.array_equal(third, _image(offset=2))
    assert calibration.nm_per_px == 0.25


def _ncem(path: Path, data: np.ndarray, axes: list) -> None:
    """A Berkeley (NCEM) EMD, written by RosettaSciIO's own EMD writer."""
    pytest.importorskip("h5py")
    emd = pytest.importorskip("rsciio.emd")
    emd.file_writer(str(path), {"data": data, "axes": axes, "metadata": {"General": {"title": "t"}, "Signal": {}},
                                "original_metadata": {}})


def test_ncem_emd_written_by_rosettasciio(tmp_path):
    path = tmp_path / "berkeley.emd"
    _ncem(path, _image(), [{"name": n, "size": s, "scale": 0.375, "offset": 0.0, "units": "nm", "navigate": False}
                           for n, s in (("y", 40), ("x", 56))])
    _exact(read_metadata_calibration(path), 0.375, 0.375, "nm")
    assert np.array_equal(read_image(path), _image())


def test_ncem_stack_frames_are_the_leading_axis(tmp_path):
    """NCEM marks every axis as a signal axis: the image is the last two, frames the rest."""
    path = tmp_path / "tilt.emd"
    stack = np.stack([_image(offset=k) for k in range(3)])
    _ncem(path, stack, [{"name": n, "size": s, "scale": c, "offset": 0.0, "units": u, "navigate": False}
                        for n, s, c, u in (("tilt", 3, 2.0, "deg"), ("y", 40, 0.5, "nm"), ("x", 56, 0.5, "nm"))])
    image, calibration = read_instrument_image(path, frame=1)
    assert np.array_equal(image, _image(offset=1))
    _exact(calibration, 0.5, 0.5, "nm")


# --------------------------------------------------------------------------- MRC
def test_mrc_voxel_size_in_angstrom(tmp_path):
    pytest.importorskip("rsciio")
    mrcfile = pytest.importorskip("mrcfile")
    path = tmp_path / "map.mrc"
    with mrcfile.new(path) as mrc:
        mrc.set_data(_image().astype(np.int16))
        mrc.voxel_size = (1.25, 1.5, 1.0)  # x, y, z
    with pytest.warns(CalibrationWarning, match=r"1\.25 Å wide \(x\) and 1\.5 Å high"):
        found = read_metadata_calibration(path)
    _exact(found, 0.125, 1.25, "Å")
    with warnings.catch_warnings():
        warnings.simplefilter("error", CalibrationWarning)  # reading pixels says nothing about calibration
        assert np.array_equal(read_image(path), _image())


def test_mrc_without_cell_size_is_not_calibrated(tmp_path):
    pytest.importorskip("rsciio")
    mrcfile = pytest.importorskip("mrcfile")
    path = tmp_path / "bare.mrc"
    with mrcfile.new(path) as mrc:
        mrc.set_data(_image().astype(np.int16))  # cell lengths stay 0
    _quiet_none(path)


# --------------------------------------------------------------------------- the optional extra
def test_missing_extra_names_the_fix(tmp_path, monkeypatch):
    path = tmp_path / "ceta.dm3"
    path.write_bytes(_dm_file([_image()], [0.25], ["nm"], 3))
    monkeypatch.setitem(sys.modules, "rsciio", None)  # as if RosettaSciIO were not installed
    for read in (read_metadata_calibration, read_image):
        with pytest.raises(FormatsExtraMissing) as info:
            read(path)
        assert isinstance(info.value, ImportError)
        assert 'pip install "bpartis-nb[formats]"' in str(info.value) and "ceta.dm3" in str(info.value)


def test_formats_extra_and_test_extra_list_the_readers():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    names = {name: {r.split(">")[0].split("[")[0].strip().lower() for r in reqs} for name, reqs in extras.items()}
    assert {"rosettasciio", "h5py"} <= names["formats"] <= names["test"]


def test_io_imports_no_reader_at_module_import():
    """RosettaSciIO, h5py and tifffile are imported only when a file needs them."""
    for module in ("io.py", "formats.py", "calibration/metadata.py"):
        tree = ast.parse((ROOT / "bpartis_nb" / module).read_text())
        top = set()
        for node in tree.body:
            if isinstance(node, ast.Import):
                top |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                top.add(node.module.split(".")[0])
        assert not top & {"rsciio", "h5py", "mrcfile", "tifffile"}, (module, top)
