"""Checks for the exercises of the teaching notebooks.

Each exercise in ``notebooks/0*.ipynb`` asks for a value in a variable such as
``answer_4_2`` and is followed by a check cell::

    exercises.check("4.2", answer_4_2, result=result)

The check computes the right answer itself, from the context it is given and the
package's own functions, and then

- prints a confirmation when the answer is right,
- raises ``AssertionError`` with a hint when it is wrong,
- prints the hint when the answer is still ``...`` (not attempted), so that running a
  notebook top to bottom before solving it does not stop.

``solution("4.2")`` prints a model solution. The continuous-integration test of the
notebooks puts every solution in place of its ``...`` and runs the notebook, so each
check is seen passing on a right answer; ``tests/test_exercises.py`` sees each one fail
on wrong answers.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

__all__ = ["check", "solution", "fill_solutions", "EXERCISES", "Exercise"]


@dataclass(frozen=True)
class Exercise:
    """An exercise: its check, a hint shown on a wrong answer, and a model solution.

    Attributes
    ----------
    key : str
        "notebook.number", e.g. "4.2".
    expected : callable
        ``expected(**context) -> value`` computes the right answer.
    compare : callable
        ``compare(answer, expected, **context) -> bool``.
    hint : str
    solution : str
        Python code that assigns the answer variable (``answer_4_2 = ...``).
    """

    key: str
    expected: Callable[..., Any]
    compare: Callable[..., bool]
    hint: str
    solution: str

    @property
    def variable(self) -> str:
        return "answer_" + self.key.replace(".", "_")


def _close(rtol: float = 1e-3, atol: float = 1e-6):
    def compare(answer, expected, **_):
        a = np.asarray(answer, dtype=np.float64)
        return a.shape == np.shape(expected) and bool(np.allclose(a, expected, rtol=rtol, atol=atol))
    return compare


def _equal(answer, expected, **_):
    return answer == expected


EXERCISES: dict[str, Exercise] = {}


def _register(key, expected, compare, hint, solution):
    EXERCISES[key] = Exercise(key, expected, compare, hint, solution.strip())


# --------------------------------------------------------------------------- 01 dataset
def _test_instances(root):
    from .data import dataset_statistics

    return int(dataset_statistics(root, "test")[0]["particles"].sum())


def _train_doi_counts(root):
    from .data import load_metadata, split_names

    counts = load_metadata(root).loc[split_names(root, "train"), "doi"].value_counts()
    return counts


def _small_share(root):
    from .data import dataset_statistics

    return 100.0 * float((dataset_statistics(root, "test")[1]["fraction"] < 0.001).mean())


_register(
    "1.1", _test_instances, _equal,
    "sum the 'particles' column of the test split's per-image table (an int).",
    'answer_1_1 = int(test_images["particles"].sum())',
)
_register(
    "1.3", _train_doi_counts,
    lambda answer, counts, root: (  # any DOI tied for the most images is right
        isinstance(answer, tuple) and len(answer) == 2
        and int(answer[1]) == counts.iloc[0] and counts.get(answer[0], -1) == counts.iloc[0]
    ),
    "count the train images per DOI (metadata 'doi' column, rows of the train split) and "
    "give (doi, count) of the largest group.",
    'counts = metadata.loc[split_names(root, "train"), "doi"].value_counts()\n'
    "answer_1_3 = (counts.index[0], int(counts.iloc[0]))",
)
_register(
    "1.2", _small_share, _close(1e-6, 1e-6),
    "the 'fraction' column is area / image area; 0.1 % is 0.001. Answer in percent.",
    'answer_1_2 = 100 * (test_instances["fraction"] < 0.001).mean()',
)


# --------------------------------------------------------------------------- 02 training
def _sigma_logit(sigma):
    return float(np.log(1.0 / (2.0 * sigma**2)) / 10.0)


def _perfect_seed_term(toy):
    import torch

    from .examples import perfect_output
    from .losses import spatial_embedding_loss

    out = torch.from_numpy(perfect_output(toy))[None]
    return spatial_embedding_loss(out, torch.from_numpy(np.asarray(toy, np.int64))[None])[1]["seed"]


def _lands_on_centre(answer, expected, **_):
    from .cluster import embedding_coordinates

    a = np.asarray(answer, dtype=np.float64)
    if a.shape != (2,):
        return False
    grid = embedding_coordinates(64, 64)[:, 10, 20].astype(np.float64)
    return bool(np.allclose(np.tanh(a) + grid, [0.5, 0.5], atol=1e-5))


_register(
    "2.1", lambda: _sigma_logit(0.01), _close(1e-4),
    "the precision is exp(10 s) = 1 / (2 sigma^2); solve for s.",
    "answer_2_1 = np.log(1 / (2 * 0.01**2)) / 10",
)
_register(
    "2.2", _perfect_seed_term, _close(1e-3, 1e-7),
    "the perfect output's seed is 0.99 on particles (where the target, the Gaussian score, "
    "is exactly 1) and 0.01 on the background (target 0): every pixel is off by 0.01.",
    "answer_2_2 = 0.01**2",
)
_register(
    "2.3", lambda: None, _lands_on_centre,
    "the embedding is tanh(offset) + coordinate, and in a 64-pixel-wide image column c "
    "has x = c / 63. Give (offset_x, offset_y).",
    "answer_2_3 = (np.arctanh(0.5 - 20 / 63), np.arctanh(0.5 - 10 / 63))",
)


# --------------------------------------------------------------------------- 03 inference
def _max_std_pixel(answer, expected, seed_samples):
    std = np.asarray(seed_samples).std(0)
    try:
        r, c = (int(v) for v in answer)
    except (TypeError, ValueError):
        return False
    return 0 <= r < std.shape[0] and 0 <= c < std.shape[1] and bool(np.isclose(std[r, c], std.max()))


_register(
    "3.1", lambda: float(np.exp(-(0.05**2) * np.exp(10 * 0.5))), _close(1e-4),
    "score = exp(-sum((e - mu)^2 * exp(10 s))): only x differs here, by 0.05.",
    "answer_3_1 = np.exp(-(0.05**2) * np.exp(10 * 0.5))",
)
_register(
    "3.2", lambda seed_samples: None, _max_std_pixel,
    "take the standard deviation over axis 0 (the samples) and np.unravel_index its argmax; "
    "give (row, column).",
    "answer_3_2 = np.unravel_index(result.seed_samples.std(0).argmax(), result.seed_samples.shape[1:])",
)
_register(
    "3.3", lambda result: 1.0 - result.count / len(result.instances), _close(1e-6),
    "result.instances has one row per instance found; result.count counts those kept.",
    "answer_3_3 = 1 - result.count / len(result.instances)",
)


# --------------------------------------------------------------------------- 04 uncertainty
def _mi_two_samples():
    from .uncertainty import mutual_information

    return float(mutual_information(np.array([0.1, 0.9])))


def _largest_mean_mi(result):
    table = result.instances
    return float(table.loc[table["pixels"].idxmax(), "mean_mi"])


def _best_threshold(answer, expected, sweep):
    finite = sweep[np.isfinite(sweep["tu"])]
    hit = finite[np.isclose(finite["tu"], float(answer))]
    return len(hit) == 1 and bool(np.isclose(hit["ap50"].iloc[0], finite["ap50"].max()))


_register(
    "4.1", _mi_two_samples, _close(1e-4),
    "the predictive entropy is H of the mean (0.5); the expected entropy is the mean of "
    "H(0.1) and H(0.9); H(p) = -p ln p - (1 - p) ln(1 - p).",
    "H = lambda p: -p * np.log(p) - (1 - p) * np.log(1 - p)\n"
    "answer_4_1 = H(0.5) - (H(0.1) + H(0.9)) / 2",
)
_register(
    "4.2", _largest_mean_mi, _close(1e-3, 1e-7),
    "find the id of the instance with the most pixels in result.instances, then average "
    "result.net_mutual_information over result.net_labels == id (both at network resolution).",
    'k = int(result.instances.loc[result.instances["pixels"].idxmax(), "id"])\n'
    "answer_4_2 = result.net_mutual_information[result.net_labels == k].mean()",
)
_register(
    "4.3", lambda sweep: None, _best_threshold,
    "look for the row of the sweep table with the largest ap50 (ignore the t_u = inf row).",
    'finite = sweep[np.isfinite(sweep["tu"])]\n'
    'answer_4_3 = float(finite.loc[finite["ap50"].idxmax(), "tu"])',
)


# --------------------------------------------------------------------------- 05 analysis
def _density(labels, pixel_size):
    count = len(np.unique(labels[labels > 0]))
    area_um2 = labels.shape[0] * labels.shape[1] * (pixel_size / 1000.0) ** 2
    return count / area_um2


def _pdi(table):
    from .analysis import summarize

    return summarize(table)["polydispersity_index"]


_register(
    "5.1", lambda table: float(table["diameter_nm"].mean()), _close(1e-6),
    "the table of interior particles has a 'diameter_nm' column.",
    'answer_5_1 = table["diameter_nm"].mean()',
)
_register(
    "5.2", _density, _close(1e-4),
    "count every particle of the instance map (border ones too) and divide by the image "
    "area in square micrometres (1 um = 1000 nm).",
    "n_particles = len(np.unique(result.labels[result.labels > 0]))\n"
    "answer_5_2 = n_particles / (result.labels.size * (pixel_size / 1000) ** 2)",
)
_register(
    "5.3", _pdi, _close(1e-6),
    "PDI = (standard deviation / mean)^2 of the diameters, with the sample standard "
    "deviation (pandas' default, ddof = 1).",
    'd = table["diameter_nm"]\n'
    "answer_5_3 = (d.std() / d.mean()) ** 2",
)


# --------------------------------------------------------------------------- public API
def _get(key: str) -> Exercise:
    if key not in EXERCISES:
        raise KeyError(f"no exercise {key!r}; there are {', '.join(EXERCISES)}")
    return EXERCISES[key]


def check(key: str, answer: Any, **context) -> None:
    """Check an exercise's answer.

    Parameters
    ----------
    key : str
        Exercise number, e.g. "4.2".
    answer : object
        The student's answer; ``...`` (Ellipsis) means "not attempted yet".
    **context
        What the check needs to compute the right answer (named in the notebook).

    Raises
    ------
    AssertionError
        The answer is wrong; the message gives a hint.
    """
    ex = _get(key)
    if answer is Ellipsis:
        print(f"Exercise {key}: not answered yet. Hint: {ex.hint}\n"
              f"(bpartis_nb.exercises.solution({key!r}) prints a solution.)")
        return
    expected = ex.expected(**context)
    try:
        ok = ex.compare(answer, expected, **context)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise AssertionError(f"Exercise {key}: {answer!r} is not right. Hint: {ex.hint}")
    print(f"Exercise {key}: correct.")


def solution(key: str) -> str:
    """Print and return a model solution of an exercise."""
    code = _get(key).solution
    print(code)
    return code


def fill_solutions(notebook) -> list[str]:
    """Put each exercise's model solution in place of its ``answer_N_M = ...`` line.

    Parameters
    ----------
    notebook : dict or nbformat.NotebookNode
        Changed in place.

    Returns
    -------
    list of str
        The exercise keys filled in, in notebook order.
    """
    import re

    filled = []
    pattern = re.compile(r"^(answer_(\d+)_(\d+))\s*=\s*\.\.\.(\s*#.*)?$", re.M)
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        match = pattern.search(source)
        if match:
            key = f"{match.group(2)}.{match.group(3)}"
            code = _get(key).solution
            source = source[: match.start()] + code + source[match.end():]
            cell["source"] = source
            filled.append(key)
    return filled
