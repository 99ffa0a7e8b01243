"""Execute the teaching notebooks top to bottom and report the time each takes.

    python scripts/run_notebooks.py                  # full mode, all notebooks
    python scripts/run_notebooks.py --smoke 03 04    # smoke mode (as CI), two of them

Exercise answers are filled in with the model solutions (``--no-solutions`` leaves the
``...`` placeholders, whose checks then only print hints). Executed copies go to
``--out`` (default ``runs/notebooks``); the notebooks in ``notebooks/`` are not touched.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from bpartis_nb.exercises import fill_solutions

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("only", nargs="*", help="notebook name prefixes (e.g. 03); default all")
    parser.add_argument("--smoke", action="store_true", help="set SMOKE_TEST=1 (short loops, as in CI)")
    parser.add_argument("--no-solutions", action="store_true", help="keep the exercise placeholders")
    parser.add_argument("--out", default=str(ROOT / "runs" / "notebooks"), help="folder for executed copies")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    args = parser.parse_args(argv)
    if args.smoke:
        os.environ["SMOKE_TEST"] = "1"
    else:
        os.environ.pop("SMOKE_TEST", None)
        os.environ.pop("CI", None)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    paths = sorted((ROOT / "notebooks").glob("*.ipynb"))
    if args.only:
        paths = [p for p in paths if any(p.name.startswith(o) for o in args.only)]
    failed = 0
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        filled = [] if args.no_solutions else fill_solutions(nb)
        start = time.perf_counter()
        try:
            NotebookClient(nb, timeout=args.timeout, kernel_name="python3",
                           resources={"metadata": {"path": str(out)}}).execute()
            status = "ok"
        except Exception as exc:  # report and go on with the next notebook
            status = f"FAILED: {type(exc).__name__}: {str(exc)[-400:]}"
            failed += 1
        seconds = time.perf_counter() - start
        nbformat.write(nb, out / path.name)
        print(f"{path.name}: {status} in {seconds:.0f} s ({'smoke' if args.smoke else 'full'} mode, "
              f"{len(filled)} exercises solved)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
