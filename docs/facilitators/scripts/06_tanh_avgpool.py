"""Lesson 06, Discuss 3: run the lesson's own cells (solution notebook) up to the one test evaluation, once as
written and once with nn.Tanh / nn.AvgPool2d in place of nn.ReLU / nn.MaxPool2d (the learning-rate sweep
included, as a learner who edits LeNet5 and re-runs the notebook would), and print the curves.

    PYTHONPATH=. python docs/facilitators/scripts/06_tanh_avgpool.py original
    PYTHONPATH=. python docs/facilitators/scripts/06_tanh_avgpool.py tanh
"""
import os
import sys
from pathlib import Path

import matplotlib
import nbformat

matplotlib.use("Agg")
lesson = Path(__file__).resolve().parents[3] / "solutions" / "06_lenet"
nb = nbformat.read(lesson / "06_lenet.ipynb", 4)
variant = sys.argv[1] if len(sys.argv) > 1 else "tanh"
os.chdir(lesson)
last = next(i for i, cell in enumerate(nb.cells) if cell.get("id") == "code-34b-test-once")   # the test cell
namespace: dict = {}
for index, cell in enumerate(nb.cells[:last + 1]):
    if cell.cell_type != "code" or cell.metadata.get("nbgrader", {}).get("grade") or "Explorer" in cell.source:
        continue                                       # skip test cells and widgets
    source = cell.source
    if variant == "tanh":
        source = source.replace("nn.ReLU()", "nn.Tanh()").replace("nn.MaxPool2d", "nn.AvgPool2d")
    exec(compile(source, f"cell {index}", "exec"), namespace)
history = namespace["history"]
for key in ("epoch", "train_loss", "val_loss", "val_accuracy"):
    print(variant, key, [round(value, 4) for value in history[key]])
print(variant, "learning rate", namespace["learning_rate"], "kept epoch", namespace["kept"]["epoch"],
      "test accuracy", namespace["test_accuracy"])
