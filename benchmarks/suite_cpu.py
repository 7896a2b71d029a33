"""CPU of the test suite, test by test and file by file: where the whole suite's time goes.

`/usr/bin/time` undercounts a run of the suite by about half: it adds up only the processes their parents wait for,
and the grader's kernels, sandboxes, Chromium, JupyterLab, Dask and PostgreSQL are not waited for that way. This
pytest plugin counts honestly: each pytest process (each xdist worker) moves itself into a cgroup of its own
(cgroup v1, cpuacct controller; as root) before any test runs, so everything it starts is counted in that cgroup,
and the cgroup's CPU is read before and after each test. A fixture's cost lands on the first test that uses it.

    PYTHONPATH=.:benchmarks python -m pytest -p suite_cpu -n 2        # README's command, counted
    python benchmarks/suite_cpu.py                                     # per file, and the heaviest tests

Lines go to test-artifacts/suite-cpu/<worker>.jsonl (SUITE_CPU_OUT for another folder; a new run starts them
afresh): {"id", "wall", "cpu", "end"}, seconds.
"""
from __future__ import annotations

import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest

CPUACCT = Path("/sys/fs/cgroup/cpuacct")
OUT = Path(os.environ.get("SUITE_CPU_OUT", Path(__file__).resolve().parent.parent / "test-artifacts" / "suite-cpu"))
_cgroup: Path | None = None


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def pytest_configure(config):
    global _cgroup
    if not (CPUACCT / "cpuacct.usage").is_file():
        raise pytest.UsageError("suite_cpu needs cgroup v1's cpuacct controller at /sys/fs/cgroup/cpuacct (and root)")
    _cgroup = CPUACCT / f"suite-cpu-{os.getpid()}-{_worker()}"
    _cgroup.mkdir(exist_ok=True)
    (_cgroup / "cgroup.procs").write_text(str(os.getpid()))
    OUT.mkdir(parents=True, exist_ok=True)
    if _worker() == "main":                     # the run's first process (xdist's controller): a run starts afresh
        for old in OUT.glob("*.jsonl"):
            old.unlink()


def _cpu() -> float:
    assert _cgroup is not None
    return int((_cgroup / "cpuacct.usage").read_text()) / 1e9


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    wall, cpu = time.monotonic(), _cpu()
    yield
    line = {"id": item.nodeid, "wall": round(time.monotonic() - wall, 2), "cpu": round(_cpu() - cpu, 2),
            "end": round(time.time(), 1)}
    with (OUT / f"{_worker()}.jsonl").open("a") as f:
        f.write(json.dumps(line) + "\n")


def main(folder: Path = OUT, heaviest: int = 20) -> None:
    rows = [json.loads(line) for path in sorted(folder.glob("*.jsonl")) for line in path.read_text().splitlines()]
    by_file: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
    for row in rows:
        total = by_file[row["id"].split("::")[0]]
        total[0] += row["cpu"]
        total[1] += row["wall"]
        total[2] += 1
    print(f"{len(rows)} tests, CPU {sum(r['cpu'] for r in rows):,.0f} s")
    print(f"{'CPU s':>8} {'wall s':>8} {'tests':>5}  file")
    for name, (cpu, wall, count) in sorted(by_file.items(), key=lambda item: -item[1][0]):
        print(f"{cpu:8.0f} {wall:8.0f} {count:5d}  {name}")
    print(f"\nthe {heaviest} heaviest tests (a fixture's cost is on the first test that used it)")
    for row in sorted(rows, key=lambda r: -r["cpu"])[:heaviest]:
        print(f"{row['cpu']:8.1f} {row['wall']:8.1f}  {row['id']}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
