"""The interactive app: upload a micrograph, run Bayesian segmentation, move t_u, read the plots.

A small class per panel; callbacks only call the package's core functions. Works inline
in JupyterLab and Colab and served by Voila from ``notebooks/dashboard.ipynb``::

    from bpartis_nb.dashboard import Dashboard
    Dashboard().widget

Needs ipywidgets >= 8 (``pip install bpartis-nb[dashboard]``); importing
``bpartis_nb`` itself does not import this module.
"""
from __future__ import annotations

import base64
import contextlib
import html
import io
import os
import tempfile
import time
import warnings
from typing import Callable, Optional

import numpy as np
import ipywidgets as W

from .calibration import CalibrationWarning
from .analysis import measure, particle_rdf, resolve_scale, summarize
from .examples import synthetic_micrograph
from .inference import Segmentation
from .io import ImageError, read_image_bytes
from .montecarlo import DEFAULT_SAMPLES, DEFAULT_TU
from .pipeline import segment
from .viz import overlay, plot_aspect_histogram, plot_rdf, plot_size_histogram, plot_uncertainty

__all__ = ["Dashboard", "InputPanel", "ControlPanel", "ResultsPanel", "MAX_UPLOAD_MB", "upload_files", "default_examples"]

#: Largest upload accepted, in megabytes (stated on the page).
MAX_UPLOAD_MB = 40
EXAMPLE = "built-in synthetic SEM example"


def upload_files(value) -> list[dict]:
    """Normalise ``FileUpload.value`` of ipywidgets 8 (tuple of dicts) and 7 (dict of dicts).

    Returns
    -------
    list of dict
        Each with ``name``, ``size`` and ``content`` (bytes).
    """
    if not value:
        return []
    if isinstance(value, dict):  # ipywidgets 7: {name: {"metadata": {...}, "content": bytes}}
        items = [{"name": k, **v.get("metadata", {}), "content": v["content"]} for k, v in value.items()]
    else:
        items = [dict(v) for v in value]
    for item in items:
        item["content"] = bytes(item["content"])
        item.setdefault("size", len(item["content"]))
    return items


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def _array_png(array: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def _download_link(data: bytes, filename: str, mime: str, label: str) -> str:
    b64 = base64.b64encode(data).decode("ascii")
    return (f'<a class="bp-download" download="{html.escape(filename)}" href="data:{mime};base64,{b64}" '
            f'style="margin-right:1em">{html.escape(label)}</a>')


def default_examples(n_emps: int = 5) -> dict[str, Callable[[], np.ndarray]]:
    """The built-in example, plus the first EMPS test images when EMPS is available locally."""
    examples: dict[str, Callable[[], np.ndarray]] = {EXAMPLE: lambda: synthetic_micrograph().image}
    try:
        from .data import emps_root, load_emps_image, split_names

        root = emps_root()
        for name in split_names(root, "test")[:n_emps]:
            examples[f"EMPS test image {name}"] = lambda name=name: load_emps_image(root, name)
    except (FileNotFoundError, OSError, ValueError):
        pass
    return examples


class InputPanel:
    """Where the micrograph comes from: an upload or an example."""

    def __init__(self, examples: Optional[dict[str, Callable[[], np.ndarray]]] = None):
        self.examples = examples or default_examples()
        self.upload = W.FileUpload(accept=".png,.jpg,.jpeg,.tif,.tiff,.bmp", multiple=False,
                                   description="Upload micrograph")
        self.upload.add_class("bp-upload")
        self.example = W.Dropdown(options=list(self.examples), description="Example")
        self.example.add_class("bp-example")
        self.note = W.HTML(f"<small>PNG, JPEG or TIFF (8/16-bit, grey or colour), at most {MAX_UPLOAD_MB} MB. "
                           "Without an upload the selected example is used.</small>")
        self.widget = W.VBox([W.HBox([self.upload, self.example]), self.note])


class ControlPanel:
    """Monte-Carlo samples, uncertainty threshold, scale, border handling, Run."""

    def __init__(self):
        wide = {"description_width": "initial"}
        self.samples = W.IntSlider(value=DEFAULT_SAMPLES, min=0, max=50, description="MC samples T",
                                   style=wide)
        self.tu = W.FloatSlider(value=DEFAULT_TU, min=0.0005, max=0.05, step=0.0005, readout_format=".4f",
                                description="uncertainty threshold t_u", style=wide,
                                layout=W.Layout(width="420px"))
        self.tu.add_class("bp-tu")
        self.scale = W.FloatText(value=0.0, description="nm / pixel", tooltip="0: no scale (pixels)")
        self.bar_px = W.FloatText(value=0.0, description="bar (px)")
        self.bar_value = W.FloatText(value=0.0, description="bar value")
        self.unit = W.Text(value="nm", description="unit")
        self.exclude_border = W.Checkbox(value=True, description="exclude particles at the border",
                                         style={"description_width": "initial"}, indent=False)
        self.auto_scale = W.Checkbox(value=True, description="read the scale from the file or its scale bar",
                                     style={"description_width": "initial"}, indent=False)
        self.auto_scale.add_class("bp-auto-scale")
        self.mask_annotations = W.Checkbox(value=True, description="set aside particles on scale bars and labels",
                                           style={"description_width": "initial"}, indent=False)
        self.calibration = W.HTML()
        self.calibration.add_class("bp-calibration")
        self.run = W.Button(description="Run", button_style="primary", icon="play")
        self.run.add_class("bp-run")
        self.progress = W.IntProgress(value=0, min=0, max=1, description="")
        self.widget = W.VBox([
            W.HBox([self.samples, self.tu]),
            W.HBox([self.auto_scale, self.mask_annotations]),
            W.HBox([self.scale, self.unit]),
            W.HBox([self.bar_px, self.bar_value]),
            self.calibration,
            self.exclude_border,
            W.HBox([self.run, self.progress]),
        ])

    @property
    def inputs(self) -> list[W.Widget]:
        return [self.samples, self.scale, self.bar_px, self.bar_value, self.unit, self.exclude_border,
                self.auto_scale, self.mask_annotations, self.run]

    def show_calibration(self, calibration) -> None:
        """Put a calibration found in the image into the scale box, and say where it came from."""
        if calibration is None:
            self.calibration.value = ""
            return
        notes = "".join(f'<br><span class="bp-calibration-warning" style="color:#a15c00">⚠ {html.escape(w)}</span>'
                        for w in calibration.warnings)
        if calibration.known:
            self.bar_px.value = self.bar_value.value = 0.0
            self.unit.value = "nm"
            self.scale.value = round(calibration.nm_per_px, 6)
            text = (f"<b>Scale:</b> {html.escape(calibration.describe())}, outlined on the image; "
                    "type another value in the nm / pixel box to correct it.")
        else:  # never carry the last image's scale over to this one
            self.bar_px.value = self.bar_value.value = self.scale.value = 0.0
            text = "<b>Scale:</b> none found, lengths in pixels; type the nm / pixel or the scale bar below."
        self.calibration.value = f"<small>{text}{notes}</small>"

    def scale_argument(self):
        """The ``scale`` for :func:`bpartis_nb.analysis.measure` from the fields (None: pixels)."""
        if self.bar_px.value > 0 and self.bar_value.value > 0:
            return (self.bar_px.value, self.bar_value.value, self.unit.value or "nm")
        if self.scale.value > 0:
            return self.scale.value
        return None


class ResultsPanel:
    """Pictures, numbers and downloads of one result."""

    def __init__(self):
        def image(cls):
            w = W.Image(format="png", layout=W.Layout(max_width="100%", display="none"))
            w.add_class(cls)
            return w

        self.overlay = image("bp-overlay")
        self.uncertainty = image("bp-uncertainty")
        self.size_hist = image("bp-size-hist")
        self.aspect_hist = image("bp-aspect-hist")
        self.rdf = image("bp-rdf")
        self.summary = W.HTML()
        self.summary.add_class("bp-summary")
        self.table = W.HTML()
        self.table.add_class("bp-table")
        self.sort_by = W.Dropdown(options=["id"], value="id", description="sort table by")
        self.sort_by.add_class("bp-sort")
        self.descending = W.Checkbox(value=False, description="descending", indent=False)
        self.downloads = W.HTML()
        self.downloads.add_class("bp-downloads")
        self.images = [self.overlay, self.uncertainty, self.size_hist, self.aspect_hist, self.rdf]
        self.widget = W.VBox([
            self.summary,
            W.HBox([self.overlay, self.uncertainty]),
            W.HBox([self.size_hist, self.aspect_hist, self.rdf]),
            self.downloads,
            W.HBox([self.sort_by, self.descending]),
            self.table,
        ])


@contextlib.contextmanager
def _as_file(name: str, content: Optional[bytes]):
    """An uploaded file's bytes as a temporary file of the same suffix (its metadata then reads)."""
    if content is None:
        yield None
        return
    suffix = os.path.splitext(name)[1].lower()
    with tempfile.TemporaryDirectory(prefix="bpartis-upload-") as folder:
        path = os.path.join(folder, "upload" + suffix)
        with open(path, "wb") as fh:
            fh.write(content)
        yield path


class Dashboard:
    """The whole app. ``Dashboard().widget`` is what a notebook displays.

    Parameters
    ----------
    model : BranchedERFNet, optional
        Defaults to the published weights (loaded on the first run).
    examples : dict, optional
        Name -> callable returning an image, for the example selector.
    seed : int
        Seed of the dropout draws (runs are reproducible).
    """

    def __init__(self, model=None, examples=None, seed: int = 0, network_size: int = 512, cluster_params=None):
        self.model = model
        self.seed = seed
        self.network_size = network_size
        self.cluster_params = cluster_params
        self.inputs = InputPanel(examples)
        self.controls = ControlPanel()
        self.results = ResultsPanel()
        self.message = W.HTML()
        self.message.add_class("bp-message")
        self.image: Optional[np.ndarray] = None
        self.name = ""
        self.result: Optional[Segmentation] = None
        self.table = None
        self.seconds = {}
        self.controls.run.on_click(self._on_run)
        self.controls.tu.observe(self._on_threshold, names="value")
        for w in (self.controls.exclude_border, self.controls.scale, self.controls.unit,
                  self.controls.bar_px, self.controls.bar_value):
            w.observe(self._on_measure_change, names="value")
        for w in (self.results.sort_by, self.results.descending):
            w.observe(self._on_sort, names="value")
        title = W.HTML("<h2>BPartIS: Bayesian particle segmentation</h2>")
        self.widget = W.VBox([title, self.inputs.widget, self.controls.widget, self.message, self.results.widget])

    # ------------------------------------------------------------------ helpers
    def _error(self, text: str) -> None:
        self.message.value = f'<div class="bp-error" style="color:#b00020"><b>Error:</b> {html.escape(text)}</div>'

    def _info(self, text: str) -> None:
        self.message.value = f'<div class="bp-info">{html.escape(text)}</div>'

    def _load_input(self) -> tuple[str, np.ndarray, Optional[bytes]]:
        """Name, pixels and (for uploads) the file's bytes, whose metadata may hold the scale."""
        files = upload_files(self.inputs.upload.value)
        if files:
            f = files[0]
            if f["size"] > MAX_UPLOAD_MB * 2**20:
                raise ImageError(f"{f['name']} is {f['size'] / 2**20:.0f} MB; the limit is {MAX_UPLOAD_MB} MB. "
                                 "Downscale or crop it first.")
            return f["name"], read_image_bytes(f["content"], f["name"]), f["content"]
        name = self.inputs.example.value
        return name, self.inputs.examples[name](), None

    def _set_busy(self, busy: bool) -> None:
        for w in self.controls.inputs + [self.inputs.upload, self.inputs.example]:
            w.disabled = busy

    # ------------------------------------------------------------------ callbacks
    def _on_run(self, _=None) -> None:
        try:
            name, image, content = self._load_input()
        except (ImageError, ValueError) as exc:
            self._error(str(exc))
            return
        self._set_busy(True)
        t = self.controls.samples.value
        self.controls.progress.max = max(t, 1)
        self.controls.progress.value = 0

        def report(done: int, total: int) -> None:
            self.controls.progress.value = done

        try:
            if self.model is None:
                from .weights import load_model

                self._info("loading the published weights ...")
                self.model = load_model(pretrained=True)
            self._info(f"segmenting {name} with T = {t} ...")
            start = time.perf_counter()
            kw = {} if self.cluster_params is None else {"cluster_params": self.cluster_params}
            c = self.controls
            with _as_file(name, content) as source, warnings.catch_warnings():
                warnings.simplefilter("ignore", CalibrationWarning)  # shown beside the scale box instead
                result = segment(image if source is None else source, samples=t, tu=c.tu.value, model=self.model,
                                 seed=self.seed, progress=report, network_size=self.network_size,
                                 scale="auto" if c.auto_scale.value else None,
                                 annotations=c.mask_annotations.value, **kw)
            self.seconds["segment"] = time.perf_counter() - start
        except (ImageError, ValueError, RuntimeError) as exc:
            self._error(str(exc))
            return
        finally:
            self._set_busy(False)
        self.name, self.image, self.result = name, image, result
        self.controls.progress.value = self.controls.progress.max
        if self.controls.auto_scale.value:
            self.controls.show_calibration(result.calibration)
        self._render()
        if result.count == 0:
            self._error("no particles found in this image: is it an electron micrograph of particles? "
                        "Try another image, or lower T / raise t_u.")
        else:
            self._info(f"{name}: {result.count} particles kept, {len(self.table)} measured, "
                       f"in {self.seconds['segment']:.1f} s")

    def _on_threshold(self, change) -> None:
        if self.result is None or not self.result.bayesian:
            return
        start = time.perf_counter()
        self.result = self.result.with_threshold(change["new"])
        self._render()
        self.seconds["refilter"] = time.perf_counter() - start

    def _on_measure_change(self, change) -> None:
        if self.result is not None:
            try:
                self._render()
            except ValueError as exc:
                self._error(str(exc))

    def _on_sort(self, change) -> None:
        if self.table is not None:
            self._render_table()

    # ------------------------------------------------------------------ output
    def _render_table(self) -> None:
        r, table = self.results, self.table
        key = r.sort_by.value if r.sort_by.value in table.columns else "id"
        shown = table.sort_values(key, ascending=not r.descending.value, kind="stable").round(3)
        r.table.value = (
            '<div style="max-height:300px;overflow:auto">'
            + shown.to_html(index=False, classes="bp-particles", border=0)
            + "</div>"
        )

    def _render(self) -> None:
        result, image, r = self.result, self.image, self.results
        pixel, unit = resolve_scale(self.controls.scale_argument(), self.controls.unit.value or "nm")
        table = measure(result.labels, scale=pixel, unit=unit, image=image,
                        uncertainty=result.mutual_information, exclude_border=self.controls.exclude_border.value)
        self.table = table
        stats = summarize(table)
        picture = overlay(result, image)
        overlay_png = _array_png(picture)
        r.overlay.value = overlay_png
        r.overlay.layout.width = r.uncertainty.layout.width = "49%"
        for w in (r.size_hist, r.aspect_hist, r.rdf):
            w.layout.width = "32%"
        r.uncertainty.value = _png(plot_uncertainty(result)[0]) if result.bayesian else b""
        r.size_hist.value = _png(plot_size_histogram(table)[0])
        r.aspect_hist.value = _png(plot_aspect_histogram(table)[0])
        u = html.escape(stats["unit"])
        rr, g = particle_rdf(table, result.shape, pixel)
        r.rdf.value = _png(plot_rdf(rr, g, unit=u)[0])
        for w in r.images:
            w.layout.display = "" if len(w.value) else "none"
        d, a = stats["diameter"], stats["aspect_ratio"]
        on_annotations = int(result.instances.get("excluded_annotation", np.zeros(0, bool)).sum())
        filtered = len(result.instances) - result.count - on_annotations
        masked = f", {on_annotations} on annotations (shaded)" if "excluded_annotation" in result.instances else ""
        r.summary.value = (
            f'<div class="bp-summary-text"><b>Particles: <span class="bp-count">{stats["count"]}</span></b>'
            f" (kept {result.count}, {filtered} removed as uncertain at t_u = {result.tu:.4f}{masked}"
            f"{', border particles excluded' if self.controls.exclude_border.value else ''})<br>"
            f"diameter mean {d['mean']:.2f} ± {d['std']:.2f} {u}, median {d['median']:.2f} {u}; "
            f"aspect ratio mean {a['mean']:.2f}, median {a['median']:.2f}; PDI {stats['polydispersity_index']:.3f}</div>"
        )
        columns = list(table.columns)
        if list(r.sort_by.options) != columns:
            keep = r.sort_by.value if r.sort_by.value in columns else "id"
            r.sort_by.options = columns
            r.sort_by.value = keep
        self._render_table()
        stem = self.name.rsplit(".", 1)[0].replace(" ", "_") or "image"
        r.downloads.value = (
            _download_link(table.to_csv(index=False).encode(), f"{stem}_particles.csv", "text/csv", "Download particle CSV")
            + _download_link(overlay_png, f"{stem}_overlay.png", "image/png", "Download overlay PNG")
        )
