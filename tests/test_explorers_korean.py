"""The explorers in the Korean edition: every word a learner reads while moving the sliders is Korean.

Each explorer is built as its lesson builds it, in Korean (``set_language("ko")``, what ``cnn-course lab --lang
ko`` gives), and every control is moved through a few values; at each stop every string the learner sees is
collected: the controls' descriptions, tooltips and option labels, the HTML above the picture, and every text
artist of the figure (titles, axis and tick labels, legends, labels on bars and boxes). The functions whose words
the explorers show (``explain_settings``, ``explain_pooling``, ``compare_costs``, ``explain_paths``,
``explain_scaling``) are also run over a grid of settings, so every branch of their explanations is read.

A string passes when each Latin-alphabet word in it (two letters or more; single letters are symbols: n, f, p,
s, x) is on ``STAY_ENGLISH``, the allow-list of terms that stay as written: formulas and units, method and
network names, PyTorch's argument values. A single English word or a run of them anywhere fails."""
from __future__ import annotations

import html
import itertools
import re

import ipywidgets as widgets
import matplotlib
import pytest
from matplotlib.text import Text

from cnnbook import i18n

from cnnbook.cost import CostExplorer, compare_costs
from cnnbook.optim_explorer import METHODS, OptimiserExplorer, explain_paths, optimiser_path
from cnnbook.plotting import korean_fallback
from cnnbook.pool_explorer import PoolExplorer, explain_pooling
from cnnbook.scaling import STRATEGIES, ScalingExplorer, explain_scaling
from cnnbook.widgets import ConvExplorer, PhotoConvExplorer, explain_settings

matplotlib.use("Agg")
# Each explorer is drawn through its whole range: seconds each, a minute for the file on this machine.
pytestmark = pytest.mark.slow

#: Terms that stay as written in the Korean edition (the lessons' ko.po write them so too).
STAY_ENGLISH = frozenset({
    "floor",                                            # the output-size formula, as the lessons write it
    "px", "MACs", "MAC",                                # units
    "IoU", "NMS",                                       # detection's abbreviations
    "SGD", "RMSProp", "Adam", "lr",                     # optimisers' names, torch.optim's argument
    "AlexNet", "EfficientNet", "B0", "PyTorch",         # networks and the framework
    "ceil_mode", "True",                                # PyTorch's argument as code
    "valid", "same",                                    # padding='valid' / 'same', PyTorch's values, in quotes
    "c_in", "c_out", "n_c",                             # the lessons' symbols
    "Shift", "Enter", "JupyterLab",                     # keys and the program the learner runs
    # the explorers' class names, as a static viewer's text names the code that draws them
    "ConvExplorer", "PhotoConvExplorer", "CostExplorer", "PoolExplorer", "ScalingExplorer", "OptimiserExplorer",
    "NMSExplorer",
})
_TEX_COMMAND = re.compile(r"\\[A-Za-z]+")        # mathtext in tick labels: $\mathdefault{10^{2}}$
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def english_words(text: str) -> list[str]:
    """The Latin-alphabet words of ``text`` (two letters or more) that are not on ``STAY_ENGLISH``."""
    return [w for w in _WORD.findall(_TEX_COMMAND.sub(" ", text)) if sum(c.isalpha() for c in w) >= 2 and w not in STAY_ENGLISH]


def _html_text(value: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", value))


def _widgets(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _widgets(child)


def controls(explorer) -> list:
    return [w for w in _widgets(explorer.widget)
            if isinstance(w, (widgets.ValueWidget)) and not isinstance(w, (widgets.HTML, widgets.Image))]


def shown_strings(explorer) -> set[str]:
    """Every string a learner sees in ``explorer`` right now."""
    out: set[str] = set()
    for w in _widgets(explorer.widget):
        for attr in ("description", "tooltip", "placeholder"):
            value = getattr(w, attr, None)
            if isinstance(value, str) and value:
                out.add(value)
        if isinstance(w, widgets.HTML):
            out.add(_html_text(w.value))
        out.update(str(label) for label in getattr(w, "_options_labels", ()) or ())
        out.update(str(tip) for tip in getattr(w, "tooltips", ()) or ())
    out.update(t.get_text() for t in explorer.figure.findobj(Text))
    out.add(explorer._repr_mimebundle_()["text/plain"])
    return {s for s in out if s}


def _stops(control) -> list:
    """A few values of a control: its ends and middle for a slider, every option, both states of a box."""
    if isinstance(control, widgets.Checkbox):
        return [not control.value, control.value]
    if hasattr(control, "options"):
        return [value for _, value in control._options_full] if hasattr(control, "_options_full") else \
            list(control.options)
    low, high = control.min, control.max
    if isinstance(control, widgets.FloatLogSlider):
        return [control.base ** low, control.base ** ((low + high) / 2), control.base ** high, control.value]
    middle = low + round((high - low) / 2 / control.step) * control.step
    return [low, middle, high, control.value]


def sweep(explorer, states=()) -> dict[str, set[str]]:
    """``{string: where it was seen}`` with every control moved through its stops (one at a time, from the
    lesson's state), then through ``states`` (``set(...)`` arguments)."""
    seen: dict[str, set[str]] = {}

    def collect(where: str) -> None:
        for text in shown_strings(explorer):
            seen.setdefault(text, set()).add(where)

    collect("as built")
    for control in controls(explorer):
        start = control.value
        for value in _stops(control):
            control.value = value
            collect(f"{control.description}={value!r}")
        control.value = start
    for values in states:
        explorer.set(**values)
        collect(f"set({values})")
    return seen


def problems(seen) -> list[str]:
    items = seen.items() if isinstance(seen, dict) else ((text, {"?"}) for text in seen)
    return [f"{sorted(where)[0]}: {english_words(text)} in {text!r}" for text, where in items
            if english_words(text)]


@pytest.fixture
def korean():
    """The Korean edition, its Hangul drawn with the Korean font as in a Korean kernel (``import cnnbook``)."""
    i18n.set_language("ko")
    with matplotlib.rc_context():
        korean_fallback()
        yield
    i18n.set_language(None)


def _nms():
    from test_nms_explorer import shipped_explorer

    return shipped_explorer(canvas=2, score_threshold=0.05, iou_threshold=0.5)


# the explorers as their lessons build them, and a few states the per-control sweep does not reach
LESSON_EXPLORERS = {
    "03 ConvExplorer": (lambda: ConvExplorer(n=7, f=3, p=0, s=3),
                        [dict(n=3, f=5), dict(n=12, f=2, p=3, s=4), dict(n=7, f=3, p=1, s=1),
                         dict(n=5, f=4, p=0, s=1), dict(n=8, f=2, p=2, s=3)]),
    "03 PhotoConvExplorer": (lambda: PhotoConvExplorer(kernel="vertical edges", f=3, p=1, s=1),
                             [dict(kernel="box blur", f=9, p=0, s=3), dict(kernel="horizontal edges", f=1, p=0),
                              dict(kernel="gaussian blur", f=4, p=2, s=2), dict(f=7, p=0, s=1)]),
    "04 CostExplorer": (lambda: CostExplorer(n=6, f=3, c_in=3, c_out=5, padding="valid"),
                        [dict(n=64, f=7, c_in=256, c_out=512, padding="same"), dict(f=1, c_out=1),
                         dict(n=2, f=5, padding="valid"), dict(n=6, f=3, c_out=9)]),
    "05 PoolExplorer": (lambda: PoolExplorer(f=4, s=4, mode="max", source="edge map"),
                        [dict(f=3, s=2, mode="average"), dict(f=2, s=5), dict(f=1, s=3), dict(f=3, s=3),
                         dict(f=16, s=1, mode="average", source="photo")]),
    "07 ScalingExplorer": (lambda: ScalingExplorer(phi=2, strategy="compound"),
                           [dict(phi=0.0), dict(phi=4.0, strategy="depth only")]),
    "09 OptimiserExplorer": (lambda: OptimiserExplorer(lr=0.01, momentum=0.9, steps=80),
                             [dict(lr=0.09, momentum=0.99), dict(lr=0.2, momentum=0.0), dict(lr=0.001)]),
    "10 NMSExplorer": (_nms, [dict(canvas=34, score_threshold=0.01, iou_threshold=0.9),
                              dict(canvas=8, score_threshold=0.6, iou_threshold=0.0, mode="all classes")]),
}


@pytest.mark.parametrize("name", list(LESSON_EXPLORERS))
def test_every_word_an_explorer_shows_is_korean(korean, name):
    build, states = LESSON_EXPLORERS[name]
    seen = sweep(build(), states)
    assert any(re.search("[가-힣]", text) for text in seen), "nothing Korean at all"
    left = problems(seen)
    assert not left, f"{name} in the Korean edition still shows English:\n" + "\n".join(sorted(left)[:60])


def test_every_explanation_over_a_grid_of_settings_is_korean(korean):
    seen: set[str] = set()
    for n, f, p, s in itertools.product(range(1, 13), range(0, 8), range(-1, 4), range(0, 5)):
        info = explain_settings(n, f, p, s)
        seen |= {info["message"], info["formula"]}
    for n, f, s in itertools.product((1, 5, 16, 256), range(0, 17), range(0, 17)):
        info = explain_pooling(n, f, s)
        seen |= {info["message"], info["formula"]}
    for n, f, c_in, c_out, padding, bias in itertools.product((1, 4, 32), (1, 2, 3, 5), (1, 3), (1, 4, 9, 64),
                                                              ("valid", "same"), (True, False)):
        seen.add(compare_costs(n, f, c_in, c_out, padding, bias)["message"])
    for lr, momentum in itertools.product((0.001, 0.04, 0.07, 0.2), (0.0, 0.5, 0.99)):
        paths = {m: optimiser_path(m, lr, momentum, 60) for m in METHODS}
        seen.add(explain_paths(paths, lr, momentum)["message"])
    for phi, strategy in itertools.product((0.0, 0.25, 1.0, 2.5, 4.0), STRATEGIES):
        seen.add(explain_scaling(phi, strategy)["message"])
    assert any(re.search("[가-힣]", text) for text in seen), "nothing Korean at all"
    left = problems(seen)
    assert not left, "explanations still in English:\n" + "\n".join(sorted(left)[:60])


def test_the_check_reads_english_as_english():
    """The test's own check: the English edition's words fail it, a Korean sentence with symbols passes."""
    assert english_words("the stride does not fit")
    assert english_words("출력 None")
    assert not english_words("$\\mathdefault{10^{-6}}$")
    assert not english_words("스트라이드 s = 2가 맞지 않습니다: floor((7 + 2·0 − 3)/2) + 1 = 3, 4 MACs, IoU > 0.50")
    explorer = ConvExplorer(n=7, f=3, p=0, s=3)
    assert problems(sweep(explorer))
