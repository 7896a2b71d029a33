"""Progress bars of the lessons end at 100% (or disappear) after a successful run: a red bar reads as failure."""
from __future__ import annotations

import pytest
from conftest import LESSONS

pytestmark = pytest.mark.slow

PROGRESS_MODELS = {"FloatProgressModel", "IntProgressModel"}


def progress_bars(nb) -> list[dict]:
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    return [model["state"] for model in state.values() if model.get("model_name") in PROGRESS_MODELS]


WITH_BARS = [lesson for lesson in LESSONS if "tqdm(" in lesson.source.read_text(encoding="utf-8")]


@pytest.mark.parametrize("lesson", WITH_BARS, ids=lambda lesson: lesson.slug)
def test_a_solved_run_leaves_no_unfinished_or_red_bar(executed_solution, lesson):
    nb = executed_solution(lesson.slug)      # the solution's run test_notebooks checks (widget state stored)
    bars = progress_bars(nb)
    assert len(bars) >= (8 if lesson.slug.startswith("08_") else 1), f"found {len(bars)} progress bars"
    unfinished = [(bar.get("description"), bar.get("value"), bar.get("max"), bar.get("bar_style")) for bar in bars
                  if bar.get("bar_style") == "danger" or bar.get("value") != bar.get("max")]
    assert not unfinished, f"bars left red or short of 100% (description, value, max, style): {unfinished}"
