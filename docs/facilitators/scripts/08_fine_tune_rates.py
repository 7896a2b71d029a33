"""Lesson 08, Discuss 2: run the lesson's own cells (solution notebook) up to the fine-tuning cell, then
fine-tune with other learning rates and other unfrozen blocks, with the lesson's seed, data and steps.

    PYTHONPATH=. python docs/facilitators/scripts/08_fine_tune_rates.py
"""
import os
from pathlib import Path

import matplotlib
import nbformat

matplotlib.use("Agg")
lesson = Path(__file__).resolve().parents[3] / "solutions" / "08_transfer"
nb = nbformat.read(lesson / "08_transfer.ipynb", 4)
os.chdir(lesson)
ns: dict = {}
for index, cell in enumerate(nb.cells[:29]):          # everything before the fine-tuning cell
    if cell.cell_type != "code" or cell.metadata.get("nbgrader", {}).get("grade") or "Explorer" in cell.source:
        continue                                       # skip test cells and widgets
    exec(compile(cell.source, f"cell {index}", "exec"), ns)

torch = ns["torch"]
variants = {
    "block3, head 1e-2, body 1e-3 (the lesson)": (["block3"], 1e-2, 1e-3),
    "block3, head 1e-2, body 1e-2 (same rate)": (["block3"], 1e-2, 1e-2),
    "block1 + block3, body 1e-3": (["block1", "block3"], 1e-2, 1e-3),
    "all blocks, body 1e-3": (["block1", "block2", "block3"], 1e-2, 1e-3),
    "all blocks, body 1e-2": (["block1", "block2", "block3"], 1e-2, 1e-2),
}
for name, (blocks, head_lr, body_lr) in variants.items():
    torch.manual_seed(0)
    model = ns["replace_head"](ns["load_pretrained"](ns["pretrained_weights"]), 5)
    optimizer = ns["fine_tune_optimizer"](model, blocks, head_lr=head_lr, body_lr=body_lr)
    history = ns["fit"](model, optimizer, ns["x_few"], ns["y_few"], ns["steps"], ns["x_watch"], ns["y_watch"], name)
    test = ns["accuracy"](model, ns["x_new_test"], ns["y_new_test"])
    curve = [round(100 * a, 1) for a in history["test_accuracy"]]
    print(f"{name:<45} test accuracy {test:.1%}; on the {len(ns['y_watch'])} curve images every 10 steps: {curve}", flush=True)
