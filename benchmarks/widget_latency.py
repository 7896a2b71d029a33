"""Time from a slider key press to the redrawn figure, in a real browser, for the lesson-03 photo explorer.

    python benchmarks/widget_latency.py [--moves 20] [--size 256]

Starts JupyterLab on 127.0.0.1 and Debian's Chromium (as the browser tests do), displays
PhotoConvExplorer on the 'camera' photo (size x size pixels), presses the arrow keys on its padding
slider `--moves` times (up, down, up, ...) and measures, in the page, from the key press to the moment the
new picture is in the <img>. Prints every time, the median and the worst.
Goal on a 2-core machine: median at most 150 ms, worst at most 400 ms.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from lab import CHROMIUM, CHROMIUM_ARGS, run_all_cells, start_lab  # noqa: E402

GOAL_MEDIAN_MS, GOAL_WORST_MS = 150.0, 400.0

OBSERVE = """(el) => {
    const img = el.querySelector('img');
    window.__changed = null;
    new MutationObserver((_, obs) => { window.__changed = performance.now(); obs.disconnect(); })
        .observe(img, {attributes: true, attributeFilter: ['src']});
}"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=20)
    parser.add_argument("--size", type=int, default=256, help="photo side in pixels (at least 256)")
    args = parser.parse_args()
    if not CHROMIUM:
        print("Chromium is not installed: apt-get install chromium", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        root, home = Path(tmp) / "root", Path(tmp) / "home"
        root.mkdir()
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(
            "from cnnbook.widgets import PhotoConvExplorer\n"
            f"PhotoConvExplorer(kernel='vertical edges', f=3, p=1, s=1, size={args.size})")]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, root / "latency.ipynb")
        server = start_lab(root, home)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(server.page_url("latency.ipynb"))
                run_all_cells(page)
                explorer = page.locator(".cnnbook-PhotoConvExplorer").first
                shape = explorer.locator(".widget-html").first.inner_text()
                handle = explorer.locator(".widget-slider").nth(1).locator(".noUi-handle")  # padding p
                handle.focus()
                times = []
                for move in range(args.moves):
                    key = "ArrowRight" if move % 2 == 0 else "ArrowLeft"
                    explorer.evaluate(OBSERVE)
                    started = page.evaluate("() => performance.now()")
                    page.keyboard.press(key)
                    page.wait_for_function("() => window.__changed !== null", timeout=10_000, polling="raf")
                    times.append(page.evaluate("() => window.__changed") - started)
                    page.wait_for_timeout(100)  # let the kernel settle, as a learner's pauses would
                browser.close()
        finally:
            server.stop()
    median, worst = statistics.median(times), max(times)
    print(f"# {os.cpu_count()} cores; PhotoConvExplorer on a {args.size}x{args.size} photo; {args.moves} key presses")
    print(f"# first shown: {shape.splitlines()[0][:100]}")
    print("ms per move: " + " ".join(f"{t:.0f}" for t in times))
    print(f"median {median:.0f} ms (goal <= {GOAL_MEDIAN_MS:.0f})  worst {worst:.0f} ms (goal <= {GOAL_WORST_MS:.0f})")
    return 0 if median <= GOAL_MEDIAN_MS and worst <= GOAL_WORST_MS else 1


if __name__ == "__main__":
    sys.exit(main())
