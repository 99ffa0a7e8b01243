"""Cutting journal figures into panels (bpartis_nb.panels) on figures with known answers.

Figures are assembled here from micrographs (bpartis_nb.examples.synthetic_micrograph and
crops of real EMPS images) and matplotlib-rendered plots and a schematic, in 1x2, 2x2,
1x3 and 2+1 layouts, with white, black and grey gutters of 2 to 30 px, drawn borders
without gutters, and panel letters in the gutters and in the corners; the boxes must
come back within 2 px and the kinds right. Real EMPS micrographs (with instrument info
strips, scale bars in white boxes, saturated backgrounds) must come back whole: a sample
of them by default, all 465 under ``-m slow``.

The builders (render_plot, micrograph_panel, compose, random_figure) are also what the
accuracy report on random layouts uses.
"""
from __future__ import annotations

import dataclasses
import io
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from numpy.typing import NDArray  # noqa: E402
from PIL import Image, ImageDraw, ImageFont  # noqa: E402

from bpartis_nb import panelcut, panelkind, panels  # noqa: E402
from bpartis_nb.examples import synthetic_micrograph  # noqa: E402
from bpartis_nb.panels import (  # noqa: E402
    Panel,
    as_float_rgb,
    classify_panel,
    find_panel_boxes,
    micrograph_panels,
    panel_features,
    split_panels,
)

#: EMPS test-split images whose central crops serve as micrograph panels (dense particles,
#: a smooth TEM background, SEM on a dark substrate).
FIGURE_STEMS = ("c61a50a061", "60c63e2383", "9246d32fe0", "fc2851e6d3", "e7187b91bf", "0384c4e782")
#: EMPS test-split images in which an instrument info strip, a scale bar or letter in a
#: white or black box, or a saturated background caught the eye: each must stay whole.
HARD_STEMS = (
    "f77a745ba2", "5a25d179cc", "40afb05b44", "39b3a6db5e", "b1fc590830", "e59a1a493e",
    "724248a877", "345fb7ab68", "8dffc01cc2", "39b0dc1f52", "294049f7a8", "8c22d1acd5",
    "96c772f28b", "ddffc403e3", "a2883fc6eb", "cecb19b837", "90615b870a", "17f1cecc7a",
    "986f86c3b5", "5a65f9eba2", "2181ebb330", "bcab6454cf", "c0ba8a65a5", "c363833ad2",
    "83afcabd95", "ae843e9fc0", "d54e727066", "f7fa7d1729",
)
WHITE, BLACK, GREY = (255, 255, 255), (0, 0, 0), (200, 200, 200)


# --- builders --------------------------------------------------------------------------


def _ink_box(rgb: NDArray[np.uint8], background: int = 255) -> tuple[slice, slice]:
    ink = np.abs(rgb.astype(int) - background).max(axis=2) > 8
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def render_plot(kind: str, height: int, width: int, seed: int = 0, frame: bool = True) -> NDArray[np.uint8]:
    """A matplotlib figure of height x width px with matplotlib's own narrow white margin
    (tight_layout pad 0.4: about 5 px), shape (height, width, 3).

    kind: "histogram", "xrd" (a line spectrum), "bars", "scatter" or "schematic" (shapes,
    an arrow and words, no axes). frame=False hides the top and right spines.
    """
    rng = np.random.default_rng(seed)
    fig = plt.figure(figsize=(width / 100, height / 100), dpi=100)
    if kind == "schematic":
        from matplotlib.patches import Circle, FancyArrow, Rectangle

        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(0, 10)
        ax.set_ylim(0, 10)
        ax.axis("off")
        ax.add_patch(Rectangle((0.5, 1), 3, 2, color="#4a90d9"))
        ax.add_patch(Circle((7, 7), 1.5, color="#e8a33d"))
        for centre in rng.uniform(1, 9, (8, 2)):
            ax.add_patch(Circle(tuple(centre), 0.4, color="#c0392b"))
        ax.add_patch(FancyArrow(3.8, 2, 2.2, 3.5, width=0.15, color="k"))
        ax.text(0.5, 8.5, "Au seed", fontsize=11)
        ax.text(5.5, 0.6, "growth", fontsize=10)
    else:
        ax = fig.add_subplot()
        if kind == "histogram":
            ax.hist(rng.normal(40, 8, 400), bins=18, color=f"C{seed % 4}", edgecolor="k")
            ax.set_xlabel("Diameter (nm)")
            ax.set_ylabel("Count")
        elif kind == "xrd":
            x = np.linspace(10, 80, 1400)
            y = 0.05 + rng.normal(0, 0.01, x.size)
            for peak in rng.uniform(20, 75, 6):
                y += rng.uniform(0.2, 1) * np.exp(-0.5 * ((x - peak) / 0.15) ** 2)
            ax.plot(x, y, "k", lw=0.8)
            ax.set_xlabel(r"2$\theta$ (deg)")
            ax.set_ylabel("Intensity (a.u.)")
        elif kind == "bars":
            ax.bar(["Au", "Ag", "Pt", "Pd"], rng.uniform(1, 5, 4), color=["C0", "C1", "C2", "C3"])
            ax.set_ylabel("Yield (%)")
        elif kind == "scatter":
            x = rng.uniform(0, 10, 50)
            ax.scatter(x, 2 * x + rng.normal(0, 2, x.size), s=10)
            ax.set_xlabel("Time (h)")
            ax.set_ylabel("Size (nm)")
        else:
            raise ValueError(kind)
        if not frame:
            ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout(pad=0.4)
    fig.canvas.draw()
    rgb = np.asarray(fig.canvas.buffer_rgba())[:, :, :3].copy()
    plt.close(fig)
    return rgb


def micrograph_panel(height: int, width: int, seed: int = 0, emps: Path | None = None) -> NDArray[np.uint8]:
    """A micrograph of height x width px: the synthetic SEM picture, or the central
    320 x 320 px of an EMPS image resized; shape (height, width, 3)."""
    if emps is None:
        return synthetic_micrograph(size=max(height, width), n_particles=40, seed=seed).image[:height, :width]
    im = Image.open(emps).convert("RGB")
    cy, cx = im.height // 2, im.width // 2
    im = im.crop((cx - 160, cy - 160, cx + 160, cy + 160)).resize((width, height), Image.BILINEAR)
    return np.asarray(im)


@dataclass(frozen=True)
class Figure:
    """A figure with its answers: image (M, N, 3) uint8, boxes in reading order, kinds."""

    image: NDArray[np.uint8]
    boxes: tuple[tuple[int, int, int, int], ...]
    kinds: tuple[str, ...]


def compose(rows: list[list[tuple[NDArray[np.uint8], str]]], gutter: int = 20,
            colour: tuple[int, int, int] = WHITE, margin: int | None = None, frame: int = 0,
            letters: str | None = None) -> Figure:
    """Lay out rows of (panel, kind) pairs, top-aligned, left to right.

    The answer's box of a micrograph is where it is placed (inside any frame); that of a
    plot or drawing is its ink (pixels not white), without its own white margin.

    gutter : px between panels (and around them unless margin is given), in ``colour``;
        -frame makes neighbours share one border.
    frame : px of a drawn black border around each panel (the box is the inside).
    letters : None, "left" (a letter in the gutter beside each panel's top-left corner;
        gutter >= 18), "above" (in the gutter just above that corner; gutter >= 24) or
        "corner" (on a micrograph, in a white box).
    """
    margin = gutter if margin is None else margin
    placed, y = [], margin
    for row in rows:
        x, tallest = margin, 0
        for panel, kind in row:
            h, w = panel.shape[:2]
            placed.append((y + frame, x + frame, panel, kind))
            x += w + 2 * frame + gutter
            tallest = max(tallest, h + 2 * frame)
        y += tallest + gutter
    height = y - gutter + margin
    width = max(c + p.shape[1] + frame for _, c, p, _ in placed) + margin
    canvas = np.empty((height, width, 3), np.uint8)
    canvas[:] = colour
    for r, c, panel, _ in placed:
        h, w = panel.shape[:2]
        if frame:
            canvas[r - frame:r + h + frame, c - frame:c + w + frame] = 0
        canvas[r:r + h, c:c + w] = panel
    if letters:
        image = Image.fromarray(canvas)
        draw = ImageDraw.Draw(image)
        font = ImageFont.load_default(size=14)
        ink = (0, 0, 0) if np.mean(colour) > 127 else (255, 255, 255)
        for k, (r, c, _, kind) in enumerate(placed):
            letter = "abcdefghij"[k]
            if letters == "left":
                draw.text((c - gutter + 3, r), letter, fill=ink, font=font)
            elif letters == "above":  # just above its panel
                draw.text((c, r - 17), letter, fill=ink, font=font)
            elif kind == "micrograph":  # "corner": on the picture, in a white box
                draw.rectangle((c, r, c + 17, r + 19), fill=(255, 255, 255))
                draw.text((c + 4, r + 1), letter, fill=(0, 0, 0), font=font)
        canvas = np.asarray(image).copy()
    boxes = []
    for r, c, panel, kind in placed:
        h, w = panel.shape[:2]
        if kind == "micrograph":
            boxes.append((r, c, r + h, c + w))
        else:
            rows, cols = _ink_box(panel)
            boxes.append((r + int(rows.start), c + int(cols.start), r + int(rows.stop), c + int(cols.stop)))
    return Figure(canvas, tuple(boxes), tuple(k for _, _, _, k in placed))


def random_figure(seed: int, emps_images: list[Path]) -> Figure:
    """A random layout (1 to 3 rows of 1 to 3 panels of 140 to 320 px, about half of them
    micrographs), gutter 2 to 30 px white, black or grey, drawn borders or not, letters in
    the gutters or corners or none; reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    framed = rng.random() < 0.25
    gutter = int(rng.choice([0, 1, 4, 12]) if framed else rng.choice([2, 3, 6, 10, 20, 30]))
    colour = [WHITE, BLACK, GREY][rng.choice(3, p=[0.6, 0.25, 0.15])]
    letter_choices = ["corner", None] + (["left"] if gutter >= 18 else []) + (["above"] if gutter >= 24 else [])
    letters = letter_choices[rng.integers(len(letter_choices))]
    rows = []
    for _ in range(rng.integers(1, 4)):
        row = []
        height = int(rng.integers(140, 320))
        for _ in range(rng.integers(1 if rows else 2, 4)):
            width = int(rng.integers(140, 320))
            s = int(rng.integers(1_000_000))
            if rng.random() < 0.5:
                source = emps_images[rng.integers(len(emps_images))] if emps_images and rng.random() < 0.6 else None
                row.append((micrograph_panel(height, width, seed=s, emps=source), "micrograph"))
            else:
                kind = ["histogram", "xrd", "bars", "scatter", "schematic"][rng.integers(5)]
                row.append((render_plot(kind, height, width, seed=s, frame=bool(rng.random() < 0.7)),
                            "other" if kind == "schematic" else "plot"))
        rows.append(row)
    return compose(rows, gutter=gutter, colour=colour, margin=max(gutter, 6), frame=int(rng.integers(1, 3)) if framed else 0,
                   letters=letters)


def score(figure: Figure, panels: list[Panel], tolerance: int = 2) -> tuple[int, int, int]:
    """(panels found with the right box, of those the right kind, panels expected); the
    boxes are matched in reading order and must agree to ``tolerance`` px."""
    found = len(figure.boxes)
    if len(panels) != found:
        return 0, 0, found
    boxes_ok = [max(abs(a - b) for a, b in zip(p.box, box)) <= tolerance for p, box in zip(panels, figure.boxes)]
    kinds_ok = [ok and p.kind == kind for ok, p, kind in zip(boxes_ok, panels, figure.kinds)]
    return sum(boxes_ok), sum(kinds_ok), found


def _assert_figure(figure: Figure, panels: list[Panel]) -> None:
    got = [(p.box, p.kind) for p in panels]
    want = list(zip(figure.boxes, figure.kinds))
    assert len(panels) == len(figure.boxes), f"got {got}, want {want}"
    for p, box, kind in zip(panels, figure.boxes, figure.kinds):
        assert max(abs(a - b) for a, b in zip(p.box, box)) <= 2, f"got {got}, want {want}"
        assert p.kind == kind, f"panel {p.index} {p.box}: {p.kind} ({p.reason}), want {kind}"


# --- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def figure_micrographs(emps_dir) -> list[Path]:
    return [emps_dir / "images" / f"{stem}.png" for stem in FIGURE_STEMS]


def _emps_rgb(path: Path) -> NDArray[np.uint8]:
    return np.asarray(Image.open(path).convert("RGB"))


# --- single images, dtypes, the dataclass --------------------------------------------------


def test_a_single_micrograph_in_any_dtype_is_one_micrograph_panel():
    grey = synthetic_micrograph(size=200, n_particles=20, seed=3).image[:, :, 0]
    variants = {
        "uint8 RGB": np.repeat(grey[:, :, None], 3, axis=2),
        "uint8 grey": grey,
        "grey (M, N, 1)": grey[:, :, None],
        "uint16 12-bit": grey.astype(np.uint16) * 16,
        "float [0, 1]": grey / 255.0,
        "float counts": grey.astype(np.float64) * 37.5 + 1000,
        "RGBA opaque": np.dstack([grey, grey, grey, np.full_like(grey, 255)]),
    }
    for name, image in variants.items():
        panels = split_panels(image)
        assert [(p.index, p.box, p.kind) for p in panels] == [(0, (0, 0, 200, 200), "micrograph")], name
        assert 0.5 <= panels[0].confidence <= 1 and panels[0].reason.endswith("a micrograph (grey, continuous tone)")


def test_transparent_margins_count_as_white():
    rgba = np.zeros((180, 200, 4), np.uint8)  # fully transparent page
    rgba[20:160, 30:170, :3] = synthetic_micrograph(size=140, seed=1).image
    rgba[20:160, 30:170, 3] = 255
    assert [p.box for p in split_panels(rgba)] == [(20, 30, 160, 170)]
    assert np.allclose(as_float_rgb(rgba)[0, 0], 1.0)


def test_blank_images_have_no_panels_and_bad_shapes_are_refused():
    assert split_panels(np.full((50, 60, 3), 255, np.uint8)) == []
    assert split_panels(np.zeros((50, 60), np.float32)) == []
    with pytest.raises(ValueError, match="expected"):
        split_panels(np.zeros((4, 5, 6, 7)))
    with pytest.raises(ValueError, match="expected"):
        split_panels(np.zeros((40, 50, 2)))


def test_public_names_stay_importable_from_panels():
    """panels is the entry point: the classifier's names are re-exported, not copied."""
    for name in ("PanelFeatures", "as_float_rgb", "classify_panel", "panel_features"):
        assert getattr(panels, name) is getattr(panelkind, name)
    assert panels.split_panels.__kwdefaults__["tolerance"] == panelcut.FLAT_TOL
    assert all(hasattr(panels, name) for name in panels.__all__)


def test_panel_crop_and_is_micrograph():
    figure = np.arange(20 * 30 * 3, dtype=np.int64).reshape(20, 30, 3)
    panel = Panel(index=0, box=(2, 3, 12, 23), kind="plot", confidence=0.8, reason="r")
    assert panel.crop(figure).shape == (10, 20, 3)
    assert panel.crop(figure)[0, 0, 0] == figure[2, 3, 0]
    assert not panel.is_micrograph and Panel(1, (0, 0, 1, 1), "micrograph", 1.0, "r").is_micrograph
    with pytest.raises(dataclasses.FrozenInstanceError):
        panel.kind = "micrograph"  # type: ignore[misc]


# --- assembled figures with known answers ------------------------------------------------------


def _m(height: int, width: int, seed: int = 0, emps: Path | None = None):
    return micrograph_panel(height, width, seed=seed, emps=emps), "micrograph"


def _p(kind: str, height: int, width: int, seed: int = 0, frame: bool = True):
    return render_plot(kind, height, width, seed=seed, frame=frame), ("other" if kind == "schematic" else "plot")


def _layout(name: str, emps: list[Path]) -> Figure:
    """The named test figure (see LAYOUTS)."""
    if name == "1x2 white 20 px":
        return compose([[_m(220, 240, emps=emps[0]), _p("histogram", 220, 260)]], gutter=20)
    if name == "1x2 black 2 px":
        return compose([[_m(200, 200, seed=1), _p("xrd", 200, 280)]], gutter=2, colour=BLACK)
    if name == "2x2 white 2 px":
        return compose([[_m(190, 210, emps=emps[1]), _p("bars", 190, 230, seed=1)],
                        [_p("scatter", 200, 240, seed=2), _m(200, 200, seed=2)]], gutter=2)
    if name == "2x2 black 20 px, letters in the gutters":
        return compose([[_m(200, 220, emps=emps[2]), _p("xrd", 200, 250, seed=3)],
                        [_p("histogram", 210, 240, seed=3, frame=False), _m(210, 210, emps=emps[3])]],
                       gutter=20, colour=BLACK, letters="left")
    if name == "1x3 white 30 px, letters above":
        return compose([[_m(210, 200, emps=emps[4]), _p("schematic", 210, 230, seed=4), _p("xrd", 210, 260, seed=4)]],
                       gutter=30, letters="above")
    if name == "2+1 uneven, grey 10 px":
        return compose([[_p("histogram", 200, 260, seed=5), _m(200, 200, emps=emps[5])],
                        [_m(220, 470, seed=5)]], gutter=10, colour=GREY)
    if name == "shared 1 px borders, no gutter":
        return compose([[_m(180, 200, emps=emps[0]), _m(180, 190, seed=6)],
                        [_m(170, 230, seed=7), _m(170, 160, emps=emps[2])]], gutter=-1, margin=0, frame=1)
    if name == "black frames in white 12 px gutters":
        return compose([[_m(200, 200, emps=emps[1]), _m(200, 180, seed=8), _p("bars", 200, 240, seed=8)]],
                       gutter=12, frame=2)
    if name == "letters in the corners, white 6 px":
        return compose([[_m(190, 200, emps=emps[3]), _m(190, 220, seed=9)],
                        [_m(180, 210, seed=10), _m(180, 210, emps=emps[4])]], gutter=6, letters="corner")
    raise ValueError(name)


LAYOUTS = (
    "1x2 white 20 px",
    "1x2 black 2 px",
    "2x2 white 2 px",
    "2x2 black 20 px, letters in the gutters",
    "1x3 white 30 px, letters above",
    "2+1 uneven, grey 10 px",
    "shared 1 px borders, no gutter",
    "black frames in white 12 px gutters",
    "letters in the corners, white 6 px",
)


@pytest.mark.parametrize("name", LAYOUTS)
def test_assembled_figures_come_apart_into_the_right_panels(name, figure_micrographs):
    figure = _layout(name, figure_micrographs)
    _assert_figure(figure, split_panels(figure.image))


@pytest.mark.parametrize("name", ["1x2 white 20 px", "1x2 black 2 px", "2x2 white 2 px", "shared 1 px borders, no gutter"])
def test_jpeg_figures_come_apart_with_the_jpeg_tolerance(name, figure_micrographs):
    """JPEG ringing fills gutters: saved at quality 90, these four come apart with a 5 %
    tolerance (with the default 2.5 % they do not: see split_panels)."""
    figure = _layout(name, figure_micrographs)
    _assert_figure(figure, split_panels(_jpeg(figure.image, 90), tolerance=0.05))


def test_micrograph_panels_keeps_the_micrographs_and_the_rest_say_why(figure_micrographs):
    figure = _layout("1x3 white 30 px, letters above", figure_micrographs)  # micrograph, schematic, plot
    everything = split_panels(figure.image)
    kept = micrograph_panels(figure.image)
    assert kept == [p for p in everything if p.kind == "micrograph"] and [p.index for p in kept] == [0]
    assert kept[0].crop(figure.image).shape == (210, 200, 3)
    skipped = [p for p in everything if not p.is_micrograph]
    assert [(p.index, p.kind) for p in skipped] == [(1, "other"), (2, "plot")]
    assert skipped[0].reason.endswith(": other (coloured)")
    assert skipped[1].reason.endswith(": a plot (axes on a flat background, no continuous tone)")


def test_a_lone_letter_and_a_rule_are_not_panels(figure_micrographs):
    figure = compose([[_m(200, 200, emps=figure_micrographs[0]), _m(200, 220, seed=11)]], gutter=20, margin=30)
    image = Image.fromarray(figure.image)
    draw = ImageDraw.Draw(image)
    draw.text((236, 6), "x", fill=(0, 0, 0), font=ImageFont.load_default(size=14))  # above the gutter
    draw.line((5, 240, image.width - 5, 240), fill=(0, 0, 0), width=1)  # a rule across the bottom
    _assert_figure(figure, split_panels(np.asarray(image)))


def test_reading_order_is_rows_then_columns():
    tall = synthetic_micrograph(size=300, seed=12).image[:, :200]
    figure = np.full((320, 460, 3), 255, np.uint8)
    figure[10:310, 10:210] = tall
    figure[10:150, 230:450] = synthetic_micrograph(size=220, seed=13).image[:140]
    figure[170:310, 230:450] = synthetic_micrograph(size=220, seed=14).image[:140]
    assert find_panel_boxes(figure) == [(10, 10, 310, 210), (10, 230, 150, 450), (170, 230, 310, 450)]
    figure = np.full((320, 460, 3), 255, np.uint8)  # 2 x 2: row by row
    for r, c in [(10, 10), (10, 230), (170, 10), (170, 230)]:
        figure[r:r + 140, c:c + 200] = synthetic_micrograph(size=200, seed=r + c).image[:140]
    assert find_panel_boxes(figure) == [(10, 10, 150, 210), (10, 230, 150, 430), (170, 10, 310, 210), (170, 230, 310, 430)]


def test_random_layouts_mostly_come_apart_exactly(figure_micrographs):
    """Six random layouts (see random_figure); over seeds 0-159 all but one come out
    exactly (the report's accuracy check), so a single miss here is allowed."""
    scores = [score(f, split_panels(f.image)) for f in (random_figure(s, figure_micrographs) for s in range(6))]
    assert sum(b == n and k == n for b, k, n in scores) >= 5, scores
    assert sum(k for _, k, _ in scores) >= 0.95 * sum(n for _, _, n in scores), scores


# --- real micrographs stay whole --------------------------------------------------------------


def _emps_stems(emps_dir: Path) -> list[str]:
    """Every 15th stem of the sorted EMPS images, and the test-split images with info strips,
    boxed scale bars or letters and saturated backgrounds (HARD_STEMS)."""
    stems = sorted(p.stem for p in (emps_dir / "images").glob("*.png"))
    return sorted(set(stems[::15]) | set(HARD_STEMS))


def _not_one_whole_micrograph(emps_dir: Path, stems: list[str]) -> list[tuple]:
    """The stems that do not come back as one micrograph panel covering 95 % of the image,
    with what came back."""
    failures = []
    for stem in stems:
        image = _emps_rgb(emps_dir / "images" / f"{stem}.png")
        found = split_panels(image)
        height, width = image.shape[:2]
        covered = [(p.box[2] - p.box[0]) * (p.box[3] - p.box[1]) / (height * width) for p in found]
        if not (len(found) == 1 and found[0].is_micrograph and covered[0] >= 0.95):
            failures.append((stem, [(p.box, p.kind, p.reason) for p in found]))
    return failures


def test_real_micrographs_come_back_as_one_whole_micrograph(emps_dir):
    test_split = set((emps_dir / "test.csv").read_text().split())
    assert set(HARD_STEMS) <= test_split
    stems = _emps_stems(emps_dir)
    assert len(stems) >= 50
    failures = _not_one_whole_micrograph(emps_dir, stems)
    assert not failures, failures


@pytest.mark.slow
def test_every_emps_micrograph_comes_back_as_one_whole_micrograph(emps_dir):
    """All 465 EMPS images, the set the thresholds were chosen on (1.5 to 2 min on one core)."""
    stems = sorted(p.stem for p in (emps_dir / "images").glob("*.png"))
    assert len(stems) == 465
    failures = _not_one_whole_micrograph(emps_dir, stems)
    assert not failures, failures


# --- classification ----------------------------------------------------------------------------


def _jpeg(rgb: NDArray[np.uint8], quality: int = 75) -> NDArray[np.uint8]:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(buffer))


def test_plots_drawings_and_photos_are_told_from_micrographs(figure_micrographs):
    from skimage import data

    cases = [(render_plot(kind, 240, 260, seed=20), "plot") for kind in ("histogram", "xrd", "bars", "scatter")]
    cases += [(render_plot("histogram", 240, 260, seed=21, frame=False), "plot")]
    cases += [(_jpeg(render_plot(kind, 240, 260, seed=22)), "plot") for kind in ("xrd", "bars")]
    cases += [(render_plot("schematic", 240, 260, seed=23), "other"), (data.chelsea(), "other")]
    cases += [(_emps_rgb(p), "micrograph") for p in figure_micrographs[:3]]
    cases += [(_jpeg(_emps_rgb(figure_micrographs[3]), 60), "micrograph")]
    for crop, kind in cases:
        got, confidence, reason = classify_panel(crop)
        assert got == kind, reason
        assert 0 <= confidence <= 1 and ":" in reason and "\n" not in reason


def test_panel_features_of_a_drawn_frame_and_of_noise():
    frame = np.full((100, 120), 255, np.uint8)
    frame[[10, 89], 10:110] = 0
    frame[10:90, [10, 109]] = 0
    f = panel_features(frame)
    assert (f.horizontal_lines, f.vertical_lines) == (2, 2)
    assert f.background_fraction == pytest.approx(1 - (2 * 100 + 2 * 78) / 12000)
    assert f.grey_levels == pytest.approx(1.0)  # the busy pixels are all black
    assert (f.coloured_fraction, f.smooth_fraction, f.textured_fraction) == (0, 0, 0)
    assert classify_panel(frame)[0] == "plot"  # a bare frame: axes on a flat background

    noise = np.random.default_rng(0).integers(0, 256, (100, 120)).astype(np.uint8)
    f = panel_features(noise)
    assert f.textured_fraction > 0.99 and f.grey_levels > 200
    assert (f.horizontal_lines, f.vertical_lines) == (0, 0)
    assert classify_panel(noise)[0] == "micrograph"  # grey continuous tone, nothing else

    red = np.zeros((60, 60, 3), np.uint8)
    red[:, :30] = (220, 30, 30)
    f = panel_features(red)
    assert f.coloured_fraction == 1.0 and f.background_fraction == pytest.approx(0.5)


def test_saturated_backgrounds_corners_boxes_and_info_strips_do_not_split_a_micrograph():
    example = synthetic_micrograph(size=320, n_particles=30, seed=30)
    # particles on a saturated black background: the substrate's tone clipped to 0
    black_background = np.clip((example.image.astype(np.float64) - 70) * 1.6, 0, 255).astype(np.uint8)
    corner = example.image.copy()
    rows, cols = np.mgrid[0:320, 0:320]
    corner[rows + cols < 120] = 0  # a black wedge in a corner
    boxed = Image.fromarray(example.image.copy())
    draw = ImageDraw.Draw(boxed)
    draw.rectangle((200, 270, 310, 310), fill=(255, 255, 255))  # scale bar in a white box
    draw.rectangle((215, 292, 295, 298), fill=(0, 0, 0))
    draw.text((232, 272), "100 nm", fill=(0, 0, 0), font=ImageFont.load_default(size=13))
    strip = Image.new("RGB", (320, 350), (0, 0, 0))  # an instrument's info strip below
    strip.paste(Image.fromarray(example.image), (0, 0))
    ImageDraw.Draw(strip).text((6, 328), "SEM 5.0 kV x50k WD 8.1 mm   500 nm", fill=(255, 255, 255),
                               font=ImageFont.load_default(size=12))
    for name, image in {"black background": black_background, "black corner": corner,
                        "boxed scale bar": np.asarray(boxed), "info strip": np.asarray(strip)}.items():
        panels = split_panels(image)
        height, width = image.shape[:2]
        assert len(panels) == 1, (name, panels)
        r0, c0, r1, c1 = panels[0].box
        if name == "black background":
            # Small sharp particles on an exactly flat black page have neither the smooth
            # shading nor the texture everywhere that tell a micrograph (a known weakness:
            # "other", and its flat black edges are trimmed as margins); the real
            # saturated EMPS images (c363833ad2, ae843e9fc0) have them and stay whole.
            assert (r1 - r0) * (c1 - c0) >= 0.9 * height * width, (name, panels[0].box)
            continue
        assert (r1 - r0) * (c1 - c0) >= 0.95 * height * width, (name, panels[0].box)
        assert panels[0].is_micrograph, (name, panels)
