"""A rendering's style: every choice it makes, drawn from its seed, overridable, checked.

The style is a JSON-serialisable dictionary. :func:`draw_style` draws each choice from the
seed in a fixed order (so a seed always gives the same style), :func:`resolve_style`
applies a caller's overrides and checks the result, and the constants here are the
vocabulary the choices come from.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Any, Optional, Sequence

import numpy as np

from ..units import NM_PER_UNIT, normalize_unit
from .fonts import FONTS
from .resample import RESAMPLERS

__all__ = [
    "SALT", "SIDE_STEP", "COLOURS", "STRIP_KINDS", "STRIPS_WITH_BAR", "STRIP_BGS", "POSITIONS",
    "LABEL_POSITIONS", "BOXES", "FACTORS", "MICRO_SPELLINGS", "LABEL_FONTS", "PANELS", "DERIVED_KEYS",
    "draw_style", "resolve_style", "check_style", "format_number", "label_text",
]

#: Mixed into every random generator's seed, so that renderings draw their own streams.
SALT = 20240613
#: Canvas sides are multiples of this, so that every factor's denominator divides them.
SIDE_STEP = 24

#: Bar and label colours (RGB).
COLOURS = {
    "white": (255, 255, 255),
    "black": (0, 0, 0),
    "yellow": (255, 255, 0),
    "red": (255, 0, 0),
    "cyan": (0, 255, 255),
    "green": (0, 255, 0),
}
#: Info strips: the first five carry the scale bar and its label; "fields" is text only.
STRIP_KINDS = ("hitachi", "jeol", "zeiss", "fei", "philips", "fields")
STRIPS_WITH_BAR = STRIP_KINDS[:5]
STRIP_BGS = {"black": (0, 0, 0), "white": (255, 255, 255), "grey": (96, 96, 96)}

POSITIONS = ("bottom-right", "bottom-left", "top-right", "top-left", "bottom-center")
LABEL_POSITIONS = ("above", "below", "left", "right")
BOXES = (None, "white", "black", "translucent-white", "translucent-black")
FACTORS = ("1/2", "2/3", "3/4", "5/6", "7/8", "9/8", "7/6", "5/4", "4/3", "3/2")

#: Values a label may show, per unit.
_VALUES = {
    "nm": (1, 2, 5, 10, 20, 50, 100, 200, 250, 500),
    "µm": (0.2, 0.5, 1, 1.5, 2, 5, 10, 20, 50, 100, 200, 500),
    "Å": (1, 2, 5, 10, 20, 50, 100, 500),
    "mm": (0.5, 1, 2, 5),
}
MICRO_SPELLINGS = ("µm", "μm", "um")
#: The label fonts, in the order of :func:`~.schedule.schedule`.
LABEL_FONTS = (
    "DejaVuSans-Bold", "STIXGeneral", "DejaVuSans", "DejaVuSerif-Bold", "cmr10", "DejaVuSans-Oblique",
    "STIXGeneral-Bold", "DejaVuSansMono", "cmss10", "DejaVuSerif", "DejaVuSans-BoldOblique",
    "STIXGeneral-Italic", "cmb10",
)
PANELS = (None, "a", "(b)", None, "c)", "D", None, "(a)", "B", None, "e", "(C)")
_EXTRA_TEXTS = ("Au NPs", "SiO2", "30°C", "Fe3O4", "Ag NPs", "TiO2", "pH 7", "sample A", "E: MIPs")

#: Keys the renderer writes into the style (ignored when passed back as overrides).
DERIVED_KEYS = frozenset({"seed", "bar_kind", "bar_length_drawn", "canvas", "final_size", "text_color",
                          "generic_bar"})


def draw_style(seed: int) -> dict[str, Any]:
    """Every random choice of a rendering, drawn from ``seed`` in a fixed order.

    Parameters
    ----------
    seed : int

    Returns
    -------
    dict
        The style: choice name to value.
    """
    rng = np.random.default_rng([SALT, int(seed)])

    def pick(options: Sequence[Any], p: Optional[Sequence[float]] = None) -> Any:
        index = int(rng.choice(len(options), p=None if p is None else np.asarray(p) / np.sum(p)))
        return options[index]

    def uniform(lo: float, hi: float) -> float:
        return round(float(rng.uniform(lo, hi)), 4)

    def chance(p: float) -> bool:
        return bool(rng.random() < p)

    mode = pick(("sem", "tem"))
    unit = pick(("nm", "µm", "Å", "mm"), (0.55, 0.35, 0.06, 0.04))
    value = pick(_VALUES[unit])
    lo = float(rng.uniform(0.015, 0.07))
    return {
        "seed": int(seed),
        "annotate": True,
        "height": SIDE_STEP * int(rng.integers(16, 43)),
        "aspect": round(float(pick((0.8, 1.0, 1.0, 1.25, 1.33, 1.33, 1.5, 1.5))), 4),
        "mode": mode,
        "gen_size": int(rng.integers(256, 417)),
        "n_particles": int(rng.integers(6, 90)),
        "radius_frac": [round(lo, 4), round(lo * float(rng.uniform(1.15, 2.0)), 4)],
        "bg_seed": int(rng.integers(2**31)),
        "crop_offset": [round(float(v), 4) for v in rng.uniform(0, 1, 2)],
        "black": uniform(0.0, 0.15),
        "white": uniform(0.78, 1.0),
        "gamma": uniform(0.7, 1.4),
        "grain": uniform(0.0, 0.05),
        "mottle": uniform(0.0, 0.05),
        "shading": [round(float(v), 4) for v in rng.uniform(-0.12, 0.12, 2)],
        "bar": pick(("labelled", "unlabelled", "none"), (0.84, 0.08, 0.08)),
        "value": float(value),
        "unit": unit,
        "unit_text": pick(MICRO_SPELLINGS, (0.55, 0.25, 0.2)) if unit == "µm" else unit,
        "space": chance(0.7),
        "decimals": int(rng.random() < 0.1),
        "decimal_comma": chance(0.05),
        "font": pick(LABEL_FONTS),
        "font_frac": uniform(0.025, 0.07),
        "bar_thickness": int(rng.integers(1, 13)),
        "bar_frac": uniform(0.10, 0.40),
        "bar_color": pick(("white", "yellow", "red", "cyan", "green") if mode == "sem" else
                          ("black", "red", "yellow", "cyan", "green"), (0.6, 0.1, 0.1, 0.1, 0.1)),
        "ticks": chance(0.3),
        "outline": chance(0.12),
        "label_pos": pick(LABEL_POSITIONS, (0.35, 0.4, 0.1, 0.15)),
        "label_align": pick(("center", "start", "end"), (0.7, 0.2, 0.1)),
        "position": pick(POSITIONS, (0.45, 0.25, 0.08, 0.07, 0.15)),
        "margin_frac": uniform(0.015, 0.05),
        "box": pick(BOXES, (0.6, 0.12, 0.12, 0.08, 0.08)),
        "box_alpha": uniform(0.55, 0.8),
        "box_border": chance(0.25),
        "strip": pick((None, *STRIP_KINDS), (0.7, 0.08, 0.05, 0.06, 0.05, 0.02, 0.04)),
        "strip_side": pick(("bottom", "top"), (0.85, 0.15)),
        "strip_bg": pick(tuple(STRIP_BGS), (0.7, 0.15, 0.15)),
        "strip_frac": uniform(0.0, 1.0),
        "strip_variant": int(rng.integers(0, 1000)),
        "panel": pick(PANELS),
        "panel_box": chance(0.3),
        "panel_corner": pick(("top-left", "top-right"), (0.8, 0.2)),
        "panel_font": pick(("DejaVuSans-Bold", "DejaVuSerif-Bold", "STIXGeneral-Bold", "DejaVuSans",
                            "STIXGeneral")),
        "panel_frac": uniform(0.04, 0.08),
        "extra": pick((None, "text", "arrow"), (0.8, 0.1, 0.1)),
        "extra_text": pick(_EXTRA_TEXTS),
        "resample": pick((None, "bicubic", "bilinear", "area"), (0.55, 0.2, 0.15, 0.1)),
        "resample_factor": pick(FACTORS),
        "jpeg": int(rng.integers(40, 96)) if rng.random() < 0.3 else None,
    }


def resolve_style(seed: int, overrides: dict[str, Any]) -> dict[str, Any]:
    """The style of ``seed`` with ``overrides`` applied, made consistent and checked.

    Keys the renderer derives (:data:`DERIVED_KEYS`) are ignored, so that a rendering's
    style can be passed back. A bar that is not labelled moves an instrument strip to
    "fields" (instruments always label their bar); a unit spelling that does not fit the
    unit, and was not asked for, becomes the unit itself.

    Raises
    ------
    TypeError
        An override that is not a style key.
    ValueError
        An override value the renderer does not know (see :func:`check_style`).
    """
    style = draw_style(seed)
    unknown = set(overrides) - set(style) - DERIVED_KEYS
    if unknown:
        raise TypeError(f"unknown style keys {sorted(unknown)}; use some of {sorted(style)}")
    style.update({k: v for k, v in overrides.items() if k not in DERIVED_KEYS})
    style["seed"] = int(seed)
    if style["bar"] != "labelled" and style["strip"] in STRIPS_WITH_BAR:
        style["strip"] = "fields"
    if "unit_text" not in overrides and _canonical(style["unit_text"]) != style["unit"]:
        style["unit_text"] = style["unit"]
    check_style(style)
    return style


def check_style(style: dict[str, Any]) -> None:
    """Refuse choices the renderer does not know, naming the allowed ones.

    Raises
    ------
    ValueError
        Naming the first unknown choice.
    """
    allowed = {
        "mode": ("sem", "tem"), "bar": ("labelled", "unlabelled", "none"), "unit": tuple(NM_PER_UNIT),
        "font": tuple(FONTS), "bar_color": tuple(COLOURS), "label_pos": LABEL_POSITIONS,
        "label_align": ("center", "start", "end"), "position": POSITIONS, "box": BOXES,
        "strip": (None, *STRIP_KINDS), "strip_side": ("bottom", "top"), "strip_bg": tuple(STRIP_BGS),
        "extra": (None, "text", "arrow"), "resample": (None, *RESAMPLERS),
    }
    for key, options in allowed.items():
        if style[key] not in options:
            raise ValueError(f"{key}={style[key]!r} is not one of {options}")
    factor = Fraction(style["resample_factor"])
    if not Fraction(1, 4) <= factor <= 4:
        raise ValueError(f"resample_factor={style['resample_factor']!r} must lie between 1/4 and 4")
    if style["jpeg"] is not None and not 1 <= int(style["jpeg"]) <= 100:
        raise ValueError(f"jpeg={style['jpeg']!r} must be a quality from 1 to 100, or None")
    if style["height"] < 64 or not 0.2 <= style["aspect"] <= 5:
        raise ValueError("height must be at least 64 pixels and aspect (width / height) between 0.2 and 5")


def _canonical(unit_text: str) -> Optional[str]:
    try:
        return normalize_unit(unit_text)
    except ValueError:
        return None


def format_number(value: float, decimals: int = 0, comma: bool = False) -> str:
    """``value`` as a label writes it.

    Examples
    --------
    >>> format_number(200.0), format_number(0.5), format_number(1.0, decimals=1), format_number(0.5, comma=True)
    ('200', '0.5', '1.0', '0,5')
    """
    if decimals and float(value).is_integer():
        text = f"{value:.{decimals}f}"
    else:
        text = f"{value:g}"
    return text.replace(".", ",") if comma else text


def label_text(style: dict[str, Any]) -> str:
    """The scale-bar label a style asks for: number, optional space, unit spelling.

    Examples
    --------
    >>> label_text({"value": 0.5, "decimals": 0, "decimal_comma": False, "space": False, "unit_text": "um"})
    '0.5um'
    """
    number = format_number(style["value"], style["decimals"], style["decimal_comma"])
    return number + (" " if style["space"] else "") + style["unit_text"]
