"""Command line: ``bpartis-nb segment``, ``analyze``, ``evaluate``, ... (also ``python -m bpartis_nb``)."""
from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Optional, Sequence

from .baselines import METHODS as BASELINES
from .montecarlo import DEFAULT_SAMPLES, DEFAULT_TU

__all__ = ["main", "build_parser"]


def _nonnegative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def _scale(text: str):
    """--scale: "auto", "none" (pixels) or the size of one pixel."""
    if text.strip().lower() in ("auto", "none"):
        return text.strip().lower()
    try:
        return _positive_float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"use auto, none or a positive number, got {text!r}") from None


SCALE_HELP = ("size of one pixel in --unit (e.g. 0.8); 'auto' (default): the file's metadata, else the scale bar "
              "read in the image, else pixels with a warning; 'none': lengths in pixels")


def _figure_options(parser: argparse.ArgumentParser, outputs: str) -> None:
    parser.add_argument("--panels", action="store_true",
                        help="the images are figures with several panels: each micrograph panel on its own, "
                             f"with its own scale bar; plots and drawings skipped ({outputs})")
    parser.add_argument("--keep-annotations", action="store_true",
                        help="do not set aside particles found on scale bars, labels and info strips "
                             "(masking is on with --scale auto)")


def _mode_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tiled", action="store_true",
                        help="run on overlapping 512 x 512 tiles at a scale that brings the particles to the "
                             "size the network was trained on (large micrographs with small particles) "
                             "instead of resizing the whole image")
    parser.add_argument("--adaptive", action="store_true",
                        help="stop sampling once every particle's uncertainty has settled (--samples is the maximum)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bpartis-nb",
        description="Bayesian particle instance segmentation (BPartIS) of electron micrographs.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    seg = sub.add_parser("segment", help="segment and measure micrographs; write overlay PNGs and particle CSVs")
    seg.add_argument("images", nargs="*", help="image files (default: the built-in synthetic example)")
    seg.add_argument("--out", default="out", help="output folder (default: ./out)")
    seg.add_argument("--samples", type=_nonnegative_int, default=DEFAULT_SAMPLES, help="Monte-Carlo samples T (0: discriminative)")
    seg.add_argument("--tu", type=_positive_float, default=DEFAULT_TU, help="uncertainty threshold t_u")
    seg.add_argument("--scale", type=_scale, default="auto", help=SCALE_HELP)
    seg.add_argument("--unit", default="nm", help="unit of --scale (default nm)")
    seg.add_argument("--seed", type=int, default=0, help="seed of the dropout draws")
    seg.add_argument("--device", default=None, help="cpu, cuda, ... (default: CUDA when available)")
    seg.add_argument("--weights", default=None, help="weights file (default: the published BPartIS weights)")
    seg.add_argument("--keep-border", action="store_true", help="keep particles touching the image edge")
    _figure_options(seg, "files are named NAME_pK_*")
    _mode_options(seg)

    an = sub.add_parser("analyze", help="segment and measure a folder of micrographs into one particle table "
                                         "(resumable; local processes or a Dask cluster)")
    an.add_argument("inputs", nargs="+", metavar="DIR_OR_GLOB",
                    help="a folder (searched recursively), a quoted glob pattern such as 'data/*.tif', or image files")
    an.add_argument("--out", required=True, help="output folder; rerunning with the same folder resumes")
    an.add_argument("--workers", type=_positive_int, default=1, help="local worker processes (default 1: this process)")
    an.add_argument("--scheduler", default=None, metavar="ADDRESS",
                    help="run on the Dask cluster with this scheduler, e.g. tcp://10.0.0.1:8786")
    an.add_argument("--threads", type=_positive_int, default=None,
                    help="torch threads per task (default: cores // workers; 1 on Dask)")
    an.add_argument("--samples", type=_nonnegative_int, default=DEFAULT_SAMPLES,
                    help="Monte-Carlo samples T (0: discriminative)")
    an.add_argument("--tu", type=_positive_float, default=DEFAULT_TU, help="uncertainty threshold t_u")
    an.add_argument("--scale", type=_scale, default="auto", help=SCALE_HELP + " (a number applies to every image)")
    an.add_argument("--unit", default="nm", help="unit of --scale (default nm)")
    an.add_argument("--seed", type=int, default=0,
                    help="base seed of the dropout draws (each image's seed depends on its name)")
    an.add_argument("--device", default=None, help="cpu, cuda, ... (default: CUDA when available)")
    an.add_argument("--weights", default=None, help="weights file (default: the published BPartIS weights)")
    an.add_argument("--keep-border", action="store_true", help="keep particles touching the image edge")
    _figure_options(an, "one summary row per panel, a panel column in the table")
    _mode_options(an)
    an.add_argument("--no-progress", action="store_true", help="no progress bar")

    cmp = sub.add_parser("compare", help="particle statistics of predictions vs ground truth on EMPS (paper Fig. 8)")
    cmp.add_argument("--emps", default=None, help="EMPS folder (default: $BPARTIS_NB_EMPS, else the cache)")
    cmp.add_argument("--split", default="test", choices=["test", "train"])
    cmp.add_argument("--min-particles", type=_positive_int, default=30, help="only images with at least this many particles")
    cmp.add_argument("--samples", type=_positive_int, default=DEFAULT_SAMPLES, help="Monte-Carlo samples T")
    cmp.add_argument("--tu", type=_positive_float, default=DEFAULT_TU, help="uncertainty threshold t_u")
    cmp.add_argument("--seed", type=int, default=0, help="base seed of the dropout draws")
    cmp.add_argument("--weights", default=None, help="weights file (default: the published BPartIS weights)")
    cmp.add_argument("--json", dest="json_out", default=None, help="write all numbers to this JSON file")

    tr = sub.add_parser("train", help="train BPartIS on EMPS (checkpoints each epoch; resumes)")
    tr.add_argument("--emps", default=None, help="EMPS folder (default: $BPARTIS_NB_EMPS, else the cache)")
    tr.add_argument("--epochs", type=_positive_int, default=300)
    tr.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda, ...")
    tr.add_argument("--out", required=True, help="run folder (an existing last.pt there is resumed)")
    tr.add_argument("--init", default="scratch", help="scratch, pretrained, or a checkpoint path")
    tr.add_argument("--n-train", type=_positive_int, default=None, help="only the first N training images")
    tr.add_argument("--batch-size", type=_positive_int, default=2)
    tr.add_argument("--size", type=_positive_int, default=512, help="images resized to size x size")
    tr.add_argument("--crop", type=_positive_int, default=None, help="random square crops of this side")
    tr.add_argument("--lr", type=_positive_float, default=3e-4)
    tr.add_argument("--no-augment", action="store_true", help="switch the augmentations off")
    tr.add_argument("--val-images", type=_positive_int, default=None, help="validate on at most N images")
    tr.add_argument("--seed", type=int, default=0)

    ev = sub.add_parser("evaluate", help="Table 1 of the paper on an EMPS split")
    ev.add_argument("--emps", default=None, help="EMPS folder (default: $BPARTIS_NB_EMPS, else the cache)")
    ev.add_argument("--split", default="test", choices=["test", "train"])
    ev.add_argument("--limit", type=_positive_int, default=None, help="only the first N images of the split")
    ev.add_argument("--samples", type=_positive_int, default=DEFAULT_SAMPLES, help="Monte-Carlo samples T")
    ev.add_argument("--tu", type=_positive_float, default=DEFAULT_TU, help="uncertainty threshold t_u")
    ev.add_argument("--seed", type=int, default=0, help="base seed of the dropout draws")
    ev.add_argument("--weights", default=None, help="weights file (default: the published BPartIS weights)")
    ev.add_argument("--method", default="bpartis", choices=["bpartis", *BASELINES],
                    help="bpartis (default), or a classical baseline that needs no weights "
                         "(--samples, --tu, --seed and --weights then do not apply)")
    ev.add_argument("--json", dest="json_out", default=None, help="write all numbers to this JSON file")
    return parser


def _model(weights: Optional[str], device: Optional[str] = None):
    from .weights import load_model

    return load_model(pretrained=weights if weights else True, device=device)


def _cmd_segment(args: argparse.Namespace) -> int:
    from .calibration import CalibrationError, CalibrationWarning
    from .examples import synthetic_micrograph
    from .figures import segment_figure
    from .io import ImageError, read_image
    from .pipeline import segment
    from .viz import write_report

    model = _model(args.weights, args.device)
    sources = args.images or [None]
    failures = 0
    for src in sources:
        scale, unit = (None if args.scale == "none" else args.scale), args.unit
        if src is None:
            example = synthetic_micrograph()
            name, image = "example", example.image
            if scale == "auto":
                scale, unit = example.pixel_size, example.unit
        else:
            name, image = Path(src).stem, src
        options = dict(samples=args.samples, tu=args.tu, model=model, seed=args.seed, tiled=args.tiled,
                       adaptive=args.adaptive, scale=scale, unit=unit,
                       annotations=False if args.keep_annotations else None)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", CalibrationWarning)
                if args.panels:
                    figure, pixels = segment_figure(image, **options), read_image(image)
                    parts = [(f"{name}_p{p.index}", r, p.crop(pixels)) for p, r in figure]
                else:
                    figure, parts = None, [(name, segment(image, progress=True, **options), image)]
        except (ImageError, FileNotFoundError, CalibrationError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            failures += 1
            continue
        for w in caught:
            print(f"{name}: warning: {w.message}", file=sys.stderr)
        if figure is not None:
            for index, reason in figure.skipped.items():
                print(f"{name}: panel {index} skipped: {reason}")
            if not parts:
                print(f"{name}: no micrograph panel found", file=sys.stderr)
        for key, result, pixels in parts:
            paths = write_report(args.out, key, result, pixels, exclude_border=not args.keep_border)
            print(f"{key}: {_outcome(result)} in {result.seconds:.1f} s -> "
                  f"{', '.join(str(p) for p in paths.values())}")
    return 1 if failures else 0


def _outcome(result) -> str:
    """One line: particles kept, set aside, and the calibration."""
    table = result.instances
    uncertain = int((~table["kept"] & ~table.get("excluded_annotation", False)).sum())
    text = f"{result.count} particles ({uncertain} filtered out as uncertain"
    if "excluded_annotation" in table:
        text += f", {int(table['excluded_annotation'].sum())} on annotations"
    text += ")"
    if result.calibration is not None:
        text += f"; {result.calibration.describe()}"
    return text


def _cmd_analyze(args: argparse.Namespace) -> int:
    from .batch import MissingDependencyError, analyze

    inputs = args.inputs[0] if len(args.inputs) == 1 else args.inputs
    try:
        result = analyze(inputs, args.out, workers=args.workers, scheduler=args.scheduler, threads=args.threads,
                         samples=args.samples, tu=args.tu, scale=None if args.scale == "none" else args.scale,
                         unit=args.unit, annotations=False if args.keep_annotations else None, panels=args.panels,
                         exclude_border=not args.keep_border, seed=args.seed, weights=args.weights,
                         device=args.device, progress=not args.no_progress, tiled=args.tiled,
                         adaptive=args.adaptive)
    except MissingDependencyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"interrupted: the finished images are kept in {args.out}; run the same command again to resume",
              file=sys.stderr)
        return 130
    print(f"analyze: {result}")
    for key, reason in result.errors.items():
        print(f"  failed: {key}: {reason}", file=sys.stderr)
    return 1 if result.failed else 0


def _write_json(path: Optional[str], result: dict) -> None:
    """Write a result as JSON atomically, when a path was asked for."""
    if not path:
        return
    from .io import atomic_write

    text = json.dumps(result, indent=1)
    atomic_write(path, lambda p: p.write_text(text))
    print(f"wrote {path}")


def _cmd_compare(args: argparse.Namespace) -> int:
    from .comparison import compare_split, format_comparison

    result = compare_split(args.emps, args.split, args.min_particles, args.samples, args.tu,
                           model=_model(args.weights), seed=args.seed)
    print(format_comparison(result))
    _write_json(args.json_out, result)
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from .train import TrainConfig, Trainer

    config = TrainConfig(epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, size=args.size,
                         crop=args.crop, n_train=args.n_train, init=args.init, device=args.device,
                         seed=args.seed, augment=not args.no_augment, val_images=args.val_images)
    trainer = Trainer(config, args.out, emps=args.emps)
    if trainer.epoch:
        print(f"resuming {args.out} after epoch {trainer.epoch}")
    trainer.fit(progress=True)
    print(f"checkpoint: {trainer.checkpoint_path} (load with bpartis_nb.load_model(path))")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluation import evaluate_baseline, evaluate_split, format_table

    if args.method != "bpartis":
        if args.weights:
            print(f"note: --weights is not used by the baseline {args.method}", file=sys.stderr)
        result = evaluate_baseline(args.emps, args.split, args.limit, method=args.method)
    else:
        result = evaluate_split(
            args.emps, args.split, args.limit, args.samples, args.tu, model=_model(args.weights), seed=args.seed
        )
    print(format_table(result))
    _write_json(args.json_out, result)
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "segment":
            return _cmd_segment(args)
        if args.command == "analyze":
            return _cmd_analyze(args)
        if args.command == "compare":
            return _cmd_compare(args)
        if args.command == "train":
            return _cmd_train(args)
        return _cmd_evaluate(args)
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        # ImageError, WeightsUnavailableError and bad settings: a message, not a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
