"""Every exercise check accepts its model solution and rejects wrong answers."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bpartis_nb import exercises
from bpartis_nb.exercises import EXERCISES, check, fill_solutions, solution


@pytest.fixture(scope="module")
def segmented(published_model):
    """A Bayesian result on the built-in example (small T: the checks only need a result)."""
    from bpartis_nb import segment
    from bpartis_nb.examples import synthetic_micrograph

    ex = synthetic_micrograph()
    return ex, segment(ex.image, samples=4, seed=0, model=published_model, keep_samples=True)


@pytest.fixture()
def context(emps_dir, segmented):
    """Per exercise: (names the solution code reads, keyword context of the check)."""
    from bpartis_nb.analysis import measure
    from bpartis_nb.data import dataset_statistics, load_metadata, split_names

    ex, result = segmented
    test_images, test_instances = dataset_statistics(emps_dir, "test")
    toy = np.zeros((64, 64), np.int32)
    toy[5:25, 5:25] = 1
    toy[30:60, 30:50] = 2
    table = measure(result.labels, scale=ex.pixel_size, unit="nm")
    sweep = pd.DataFrame({"tu": [0.005, 0.01, 0.0125, np.inf], "ap50": [0.7, 0.95, 0.9, 0.8]})
    names = {"np": np, "root": emps_dir, "test_images": test_images, "test_instances": test_instances,
             "metadata": load_metadata(emps_dir), "split_names": split_names, "result": result,
             "table": table, "sweep": sweep, "pixel_size": ex.pixel_size}
    kwargs = {"1.1": {"root": emps_dir}, "1.2": {"root": emps_dir}, "1.3": {"root": emps_dir},
              "2.1": {}, "2.2": {"toy": toy}, "2.3": {},
              "3.1": {}, "3.2": {"seed_samples": result.seed_samples}, "3.3": {"result": result},
              "4.1": {}, "4.2": {"result": result}, "4.3": {"sweep": sweep},
              "5.1": {"table": table}, "5.2": {"labels": result.labels, "pixel_size": ex.pixel_size},
              "5.3": {"table": table}}
    return names, kwargs


def _wrong(answer):
    """Answers that must be rejected, derived from a right one."""
    if isinstance(answer, tuple) and isinstance(answer[0], str):
        return [(answer[0], answer[1] + 1), ("10.0000.not-a-doi", answer[1]), answer[0]]
    if isinstance(answer, tuple) or (isinstance(answer, np.ndarray) and answer.ndim == 1):
        a = tuple(float(v) for v in answer)
        return [tuple(v + 3 for v in a), a[::-1] if a[0] != a[1] else (a[0] + 1, a[1]), a[0]]
    if isinstance(answer, (int, np.integer)) and not isinstance(answer, bool):
        return [int(answer) + 1, int(answer) - 1, "many"]
    return [float(answer) * 1.05 + 1e-3, -abs(float(answer)) - 1, None]


@pytest.mark.parametrize("key", sorted(EXERCISES))
def test_check_accepts_the_solution_and_rejects_wrong_answers(key, context, capsys):
    names, kwargs = context
    ns = dict(names)
    exec(EXERCISES[key].solution, ns)
    answer = ns[EXERCISES[key].variable]
    check(key, answer, **kwargs[key])
    assert f"Exercise {key}: correct." in capsys.readouterr().out
    for wrong in _wrong(answer):
        with pytest.raises(AssertionError, match=f"Exercise {key}: .* is not right. Hint: "):
            check(key, wrong, **kwargs[key])


def test_unanswered_exercise_prints_a_hint_and_does_not_stop(capsys):
    check("4.1", ...)
    out = capsys.readouterr().out
    assert "not answered yet" in out and EXERCISES["4.1"].hint in out and "solution('4.1')" in out


def test_unknown_exercise_names_the_known_ones():
    with pytest.raises(KeyError, match="there are 1.1"):
        check("9.9", 1)


def test_solution_prints_code(capsys):
    code = solution("2.1")
    assert code.startswith("answer_2_1 =") and code in capsys.readouterr().out


def test_fill_solutions_replaces_only_placeholders():
    nb = {"cells": [
        {"cell_type": "markdown", "source": "answer_4_1 = ..."},
        {"cell_type": "code", "source": "answer_4_1 = ...  # your answer: a number in nats"},
        {"cell_type": "code", "source": ["x = 1\n", "answer_2_1 = ...\n", "y = 2"]},
        {"cell_type": "code", "source": "answer_3_1 = 0.7"},
    ]}
    assert fill_solutions(nb) == ["4.1", "2.1"]
    assert nb["cells"][0]["source"] == "answer_4_1 = ..."
    assert nb["cells"][1]["source"] == EXERCISES["4.1"].solution
    assert nb["cells"][2]["source"] == "x = 1\n" + EXERCISES["2.1"].solution + "\ny = 2"
    assert nb["cells"][3]["source"] == "answer_3_1 = 0.7"


def test_every_solution_assigns_its_variable():
    for key, ex in exercises.EXERCISES.items():
        assert f"{ex.variable} =" in ex.solution, key
