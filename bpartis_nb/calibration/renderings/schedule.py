"""The plan of :func:`~bpartis_nb.calibration.renderings.rendering_set`, and its coverage.

The categorical choices of a rendering set follow a fixed schedule, so that a set of 72
covers every choice at least three times; :func:`style_coverage` counts what a set holds.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

from .style import (
    COLOURS,
    FACTORS,
    LABEL_FONTS,
    LABEL_POSITIONS,
    MICRO_SPELLINGS,
    PANELS,
    POSITIONS,
    STRIP_BGS,
    STRIP_KINDS,
    format_number,
)
from .truth import AnnotatedMicrograph

__all__ = ["schedule", "item_seed", "style_coverage"]

#: What each rendering carries, in turn: a bar in the picture ("bar", "unlabelled"), none,
#: or an info strip.
_KIND_CYCLE = ("bar", "bar", "hitachi", "bar", "unlabelled", "zeiss", "bar", "bar", "jeol", "bar", "none", "fei",
               "bar", "bar", "philips", "bar", "bar", "fields")
#: Labels of the bars, in turn: the first 13 hold every value once, the next 13 every
#: value again, with the rarer units.
_LABEL_SCHEDULE = (
    (200, "nm"), (1, "µm"), (50, "nm"), (0.5, "µm"), (5, "Å"), (100, "nm"), (2, "µm"),
    (20, "nm"), (1.5, "µm"), (500, "nm"), (10, "nm"), (0.2, "µm"), (250, "nm"),
    (1, "mm"), (0.5, "mm"), (10, "Å"), (500, "µm"), (2, "nm"), (5, "µm"), (20, "µm"),
    (50, "nm"), (100, "nm"), (200, "nm"), (250, "nm"), (0.2, "µm"), (1.5, "µm"),
)
_BOX_SCHEDULE = (None, "white", None, "black", None, "translucent-white", None, "translucent-black")
_GOLDEN, _PLASTIC = 0.6180339887, 0.7548776662


def schedule(n: int) -> list[dict[str, Any]]:
    """The style overrides of a rendering set's ``n`` renderings: a balanced, fixed plan.

    Parameters
    ----------
    n : int

    Returns
    -------
    list of dict
        Overrides for :func:`~bpartis_nb.calibration.renderings.render_annotated`.
    """
    plan = []
    generic = labelled = unboxed = micro = fractional = strips = panels = resampled = compressed = 0
    for i in range(n):
        kind = _KIND_CYCLE[i % len(_KIND_CYCLE)]
        o: dict[str, Any] = {}
        if kind in STRIP_KINDS:
            turn = strips + strips // 6
            o.update(strip=kind, bar="labelled", strip_side="top" if turn % 4 == 3 else "bottom",
                     strip_bg=tuple(STRIP_BGS)[turn % 3], strip_frac=round((strips * _GOLDEN) % 1, 4),
                     strip_variant=strips * 7 + 3, mode=("sem", "tem")[strips % 2])
            strips += 1
        else:
            o.update(strip=None, bar={"bar": "labelled"}.get(kind, kind))
        if o["bar"] != "none" and o["strip"] in (None, "fields"):  # a bar drawn in the picture
            box = _BOX_SCHEDULE[(generic // 5 + generic) % len(_BOX_SCHEDULE)]
            o.update(label_pos=LABEL_POSITIONS[generic % 4], position=POSITIONS[generic % 5], box=box,
                     ticks=generic % 3 == 2, bar_thickness=1 + (generic * 5) % 12,
                     bar_frac=round(0.10 + 0.30 * ((generic * _GOLDEN) % 1), 4),
                     font_frac=round(0.025 + 0.045 * ((generic * _PLASTIC + 0.3) % 1), 4),
                     label_align=("center", "center", "start", "center", "end")[generic % 5], outline=False)
            if box is None:
                colour = tuple(COLOURS)[unboxed % 6]
                # white bars on the dark SEM look, black ones on the bright TEM look
                mode = {"white": "sem", "black": "tem"}.get(colour, ("sem", "tem")[unboxed % 2])
                o.update(bar_color=colour, outline=unboxed % 4 == 1, mode=mode)
                unboxed += 1
            else:
                o.update(bar_color="black" if box.endswith("white") else "white", mode=("sem", "tem")[generic % 2])
            generic += 1
            if o["bar"] == "labelled":
                value, unit = _LABEL_SCHEDULE[labelled % len(_LABEL_SCHEDULE)]
                o.update(value=float(value), unit=unit, unit_text=unit, font=LABEL_FONTS[labelled % len(LABEL_FONTS)],
                         space=labelled % 3 != 2, decimals=0, decimal_comma=False)
                if unit == "µm":
                    o["unit_text"] = MICRO_SPELLINGS[micro % 3]
                    micro += 1
                if not float(value).is_integer():
                    o["decimal_comma"] = fractional % 4 == 1
                    fractional += 1
                elif value < 10 and labelled % 5 == 4:
                    o["decimals"] = 1
                labelled += 1
        else:
            o.setdefault("mode", ("sem", "tem")[i % 2])
        panel = PANELS[i % len(PANELS)]
        o.update(panel=panel, extra=(None, "text", None, None, "arrow", None, None)[i % 7])
        if panel:
            o.update(panel_box=panels % 3 == 1, panel_corner="top-right" if panels % 4 == 3 else "top-left")
            panels += 1
        o["resample"] = (None, "bicubic", None, "bilinear", None, "area", None)[i % 7]
        if o["resample"]:
            o["resample_factor"] = FACTORS[resampled % len(FACTORS)]
            resampled += 1
        o["jpeg"] = None
        if i % 5 == 3:
            o["jpeg"] = (40, 55, 65, 75, 85, 95)[compressed % 6]
            compressed += 1
        plan.append(o)
    return plan


def item_seed(seed: int, index: int) -> int:
    """The seed of rendering ``index`` of the set of ``seed``.

    Examples
    --------
    >>> item_seed(2, 5)
    2000011
    """
    return int(seed) * 1_000_003 + int(index)


def _size_bin(frac: float, edges: tuple[float, float], names: tuple[str, str, str]) -> str:
    return names[0] if frac < edges[0] else names[1] if frac < edges[1] else names[2]


def _panel_kind(text: Optional[str]) -> str:
    """The panel letter's pattern: "x", "X", "(x)", "x)" or "none"."""
    if not text:
        return "none"
    if text.startswith("("):
        return "(x)"
    if text.endswith(")"):
        return "x)"
    return "X" if text.isupper() else "x"


def style_coverage(renderings: Sequence[AnnotatedMicrograph]) -> dict[str, dict[str, int]]:
    """How often each style choice occurs in ``renderings``.

    Choices that only apply to some renderings are counted there: label choices on
    labelled bars, bar placement on bars drawn in the picture (not in a strip), strip side
    and background on strips.

    Parameters
    ----------
    renderings : sequence of AnnotatedMicrograph

    Returns
    -------
    dict
        ``{axis: {choice: count}}``, e.g. ``coverage["strip"]["hitachi"]``; a choice of
        None is counted as "none", the others as their ``str``.
    """
    table: dict[str, dict[str, int]] = {}

    def count(axis: str, choice: Any) -> None:
        key = "none" if choice is None else str(choice)
        table.setdefault(axis, {})
        table[axis][key] = table[axis].get(key, 0) + 1

    for r in renderings:
        s = r.style
        drawn_bar = r.bar_px is not None
        count("mode", s["mode"])
        count("bar", "none" if not drawn_bar else "labelled" if r.value is not None else "unlabelled")
        count("strip", s["strip"])
        if s["strip"]:
            count("strip_side", s["strip_side"])
            count("strip_bg", s["strip_bg"])
        if drawn_bar:
            count("bar_kind", s["bar_kind"])
        if s.get("generic_bar"):
            for axis in ("position", "box", "bar_color", "ticks", "outline"):
                count(axis, s[axis])
            count("bar_thickness", _size_bin(s["bar_thickness"], (3, 7), ("1-2 px", "3-6 px", "7-12 px")))
            count("bar_length", _size_bin(s["bar_frac"], (0.2, 0.3), ("10-20 %", "20-30 %", "30-40 %")))
            if r.value is not None:
                count("label_pos", s["label_pos"])
                count("font", s["font"])
                count("font_size", _size_bin(s["font_frac"], (0.04, 0.055), ("2.5-4 %", "4-5.5 %", "5.5-7 %")))
                count("space", s["space"])
                count("decimal_comma", s["decimal_comma"])
        if r.value is not None:
            count("unit", r.unit)
            count("value", format_number(r.value))
            if r.unit == "µm":
                count("micro_spelling", r.label_text.strip("0123456789., ")[:2])
        count("panel", _panel_kind(s["panel"]))
        if s["panel"]:
            count("panel_box", s["panel_box"])
        count("extra", s["extra"])
        count("resample", s["resample"])
        count("jpeg", s["jpeg"] is not None)
    return table
