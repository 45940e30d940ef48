"""`aelab sweep`: paper grids as cells of the experiment runner, on Ray, resumable, fault tolerant.

The Ray tests share one local cluster (2 CPUs, no dashboard, on 127.0.0.1) for the module and
shut it down at the end; the cells are Zhou's Table II grid at smoke size (about a second
each). They skip without Ray; CI installs it (the `sweep` extra).
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from aelab.cli import main
from aelab.fileio import read_json
from aelab.sweep import build_plan, build_table, parse_grid, parse_seeds, run_sweep
from aelab.sweep import store
from aelab.sweep.presets import PRESETS, Metrics
from aelab.sweep.table import mean_interval

REPO = Path(__file__).resolve().parents[1]
GRID = {"lrs": ("0.01", "0.02"), "noise_levels": ("0.3", "0.5")}  # 2 x 2 (the table2 smoke grid)


def zhou_plan(seeds="0-1", **kwargs):
    return build_plan("zhou-svm", preset="table2", grid=GRID, seeds=seeds, scale="smoke", **kwargs)


def _without_timings(value):
    """`value` without its wall-clock entries (keys naming seconds), which differ run to run."""
    if isinstance(value, dict):
        return {k: _without_timings(v) for k, v in value.items() if "seconds" not in k}
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


def metrics_by_key(folder: Path) -> dict[str, dict]:
    return {p.name: _without_timings(read_json(p / "result.json")["metrics"]) for p in (folder / "cells").iterdir()}


# ------------------------------------------------------------------------------ no Ray needed

def test_presets_are_the_papers_grids():
    from aelab.experiments import zhou
    from aelab.experiments.vincent import BENCHMARKS

    by_name = {(p.experiment, p.name): p for p in PRESETS}
    assert {("zhou-svm", f"table{n}") for n in (2, 3, 4)} | {("zhou-finetune", f"table{n}") for n in (5, 6, 7)} \
        | {("vincent-sda", "table1"), ("zhao-semisup", "table4"), ("zhao-semisup", "table5")} <= set(by_name)
    table2 = by_name[("zhou-svm", "table2")]
    assert set(table2.grids[0]["dataset"]) == set(zhou.ROWS)
    assert table2.grids[0]["lrs"] == (0.001, 0.005, 0.01, 0.02)
    assert table2.grids[0]["noise_levels"] == (0.1, 0.3, 0.5, 0.7, 0.9)
    assert by_name[("zhou-svm", "table3")].grids[0]["contraction_levels"] == (0.01, 0.05, 0.15, 0.3, 0.6)
    assert set(by_name[("vincent-sda", "table1")].grids[0]["dataset"]) == set(BENCHMARKS)
    # the paper-scale grid: 9 datasets x depth 2, 3 x 4 learning rates x 5 levels per seed
    assert len(build_plan("zhou-svm", preset="table2", seeds="0", scale="paper").cells) == 360
    zhao = build_plan("zhao-semisup", preset="table5", seeds="0-2", scale="smoke")
    assert all(c.config["label_seed"] == c.seed for c in zhao.cells)  # label draws are the seeds
    for preset in PRESETS:  # every preset plans at every scale, with unique keys, and says what it chose
        assert preset.notes
        for scale in ("smoke", "teach", "paper"):
            plan = build_plan(preset.experiment, preset=preset, seeds="0-1", scale=scale)
            assert len({c.key for c in plan.cells}) == len(plan.cells) > 0


def test_seeds_grid_and_keys():
    assert parse_seeds("0-2,5") == (0, 1, 2, 5)
    assert parse_grid(["lrs=0.1,0.2", "hidden=(3,3),(4,4)"]) == {"lrs": ("0.1", "0.2"), "hidden": ("3,3", "4,4")}
    a = zhou_plan()
    b = build_plan("zhou-svm", preset="table2", grid={"noise_levels": (0.5, 0.3), "lrs": (0.02, 0.01)},
                   seeds=[1, 0], scale="smoke")
    assert len(a.cells) == 8 and {c.key for c in a.cells} == {c.key for c in b.cells}  # keyed by config
    assert a.cells[0].config["lrs"] == [0.01] and a.cells[0].overrides["regularizer"] == "dae"
    with pytest.raises(ValueError, match="unknown grid field"):
        build_plan("zhou-svm", grid={"no_such_field": ("1",)}, scale="smoke")


def test_table_chooses_on_validation_and_reports_test_over_seeds(tmp_path):
    plan = build_plan("vincent-sda", preset="table1", seeds="0-2", scale="smoke")
    store.write_plan(tmp_path, plan.to_json())
    # level 0.1: better validation, worse test; level 0.25: the opposite
    fake = {0.1: ([10.0, 11.0, 12.0], [30.0, 31.0, 35.0]), 0.25: ([20.0, 21.0, 22.0], [5.0, 6.0, 7.0])}
    for cell in plan.cells:
        valid, test = (v[cell.seed] for v in fake[cell.point["levels"][0]])
        result = {"metrics": {"valid_error_percent": valid, "test_error_percent": test},
                  "paper": {"test_error_percent": 2.8, "test_error_interval_percent": 0.14}, "seconds": 1.0}
        store.write_cell(tmp_path, cell.key, {"result.json": json.dumps(result).encode()}, {"attempts": 1})
    [row] = build_table(tmp_path)["rows"]
    assert row["chosen"] == {"levels": 0.1} and row["test_values"] == [30.0, 31.0, 35.0]
    mean, half = mean_interval([30.0, 31.0, 35.0])
    assert row["test_mean"] == pytest.approx(32.0) and row["test_interval"] == pytest.approx(half)
    assert half == pytest.approx(4.303 * math.sqrt(7.0) / math.sqrt(3), rel=1e-3)  # t(0.975, 2) s / sqrt(n)
    assert (row["paper"], row["paper_interval"], row["provisional"]) == (2.8, 0.14, False)


def test_in_process_sweep_resumes_and_draws(tmp_path):
    plan = build_plan("zhou-svm", preset="table2", seeds="0", scale="smoke", grid={"lrs": ("0.01",)},
                      metrics=Metrics(test="test_error_percent.{row}", valid="chosen.{row}.valid_error_percent",
                                      rows="test_error_percent"))
    first = run_sweep(plan, tmp_path, backend="in-process")
    assert (first["ran"], first["failed"]) == (2, 0)
    again = run_sweep(plan, tmp_path, backend="in-process")
    assert (again["ran"], again["skipped"]) == (0, 2)
    table = read_json(tmp_path / "table.json")
    assert [r["model"] for r in table["rows"]] == ["DAE-2L", "DAE-2U", "DAE-2J", "DAE-2UJ"]
    assert table["complete"] and (tmp_path / "figure.html").stat().st_size > 1000
    from aelab.viz.sweeps import sweep_figure, sweep_rows, sweep_scatter, sweep_table

    assert sweep_figure(table).data[0].type == "table" and sweep_table(table).data[0].type == "table"
    assert len(sweep_scatter(table).data) == 5 and len(sweep_rows(table).data) == 2  # 4 rows + diagonal


def test_the_sweeps_dashboard_reads_a_folder(tmp_path, monkeypatch):
    from aelab.widgets.base import Runner
    from aelab.widgets.sweeps import SweepsApp

    monkeypatch.setattr(Runner, "synchronous", True)
    plan = build_plan("zhou-svm", preset="table2", seeds="0", scale="smoke", grid={"lrs": ("0.01",)})
    run_sweep(plan, tmp_path / "sweep", backend="in-process", write_figure=False)
    app = SweepsApp(tmp_path / "sweep", refresh_s=0.2)
    try:
        assert app.table["cells"] == {"planned": 2, "finished": 2, "failed": 0} and "2/2" in app.summary.value
        assert app.fig.figure.data[0].type == "table"
        app.view.value = "validation vs test"
        assert app.fig.figure.data[0].type == "scatter"
    finally:
        app.close()
    empty = SweepsApp(tmp_path / "not-yet")  # a folder with no sweep yet: how to start one, no error
    try:
        assert "No sweep" in empty.summary.value and empty.runner.error.value == ""
    finally:
        empty.close()


def test_without_ray_the_command_says_how_to_get_it(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails as if not installed
    assert main(["sweep", "zhou-svm", "--preset", "table2", "--scale", "smoke", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install 'aelab[sweep]'" in err


# ------------------------------------------------------------------------------ on Ray

@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[sweep]')")
    from aelab.sweep.execute import LOCAL_OBJECT_STORE, loopback_only

    with loopback_only(ray):
        context = ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
                           object_store_memory=LOCAL_OBJECT_STORE, logging_level="warning")
    try:
        yield context.address_info["address"]
    finally:
        ray.shutdown()


def _cell_workers() -> list[int]:
    """Ray worker processes running a cell now (their title is ray::aelab_cell)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes().startswith(b"ray::aelab_cell"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_sweep_on_ray_matches_in_process(ray_cluster, tmp_path):
    plan = zhou_plan()
    summary = run_sweep(plan, tmp_path / "ray", backend="ray")
    assert (summary["ran"], summary["failed"]) == (8, 0)
    run_sweep(plan, tmp_path / "here", backend="in-process")
    assert metrics_by_key(tmp_path / "ray") == metrics_by_key(tmp_path / "here")  # same seeds, same numbers
    on_ray, here = build_table(tmp_path / "ray"), build_table(tmp_path / "here")
    assert on_ray["rows"] == here["rows"] and len(on_ray["rows"]) == 4
    assert all(r["n"] == 2 and r["test_interval"] is not None for r in on_ray["rows"])


def test_a_cell_that_raises_is_recorded_and_the_rest_complete(ray_cluster, tmp_path):
    plan = build_plan("zhou-svm", preset="table2", grid={"regularizer": ("dae", "bogus"), "lrs": ("0.01",),
                                                          "noise_levels": ("0.3",)}, seeds="0-1", scale="smoke")
    summary = run_sweep(plan, tmp_path, backend="ray")
    table = read_json(tmp_path / "table.json")
    assert (summary["ran"], summary["failed"]) == (4, 2), (summary, table["failed"])
    assert [f["attempts"] for f in table["failed"]] == [1, 1]  # an exception is not retried: it would fail again
    assert table["cells"] == {"planned": 4, "finished": 2, "failed": 2}
    assert {f["seed"] for f in table["failed"]} == {0, 1}
    assert all("regularizer must be dae, cae or l2" in f["error"] for f in table["failed"])
    assert all(r["fields"]["regularizer"] == "dae" and r["n"] == 2 for r in table["rows"])
    failure = read_json(next((tmp_path / "failed").glob("*.json")))
    assert "Traceback" in failure["traceback"] or "ValueError" in failure["traceback"]


def test_a_killed_worker_has_its_cell_retried(ray_cluster, tmp_path):
    plan = zhou_plan(seeds="0", fixed={"epochs": 6})  # 4 cells, long enough to be killed in the middle
    outcome: dict = {}
    thread = threading.Thread(target=lambda: outcome.update(run_sweep(plan, tmp_path, backend="ray", retries=2)))
    thread.start()
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and time.monotonic() < deadline and thread.is_alive():
        workers = _cell_workers() if store.finished_keys(tmp_path) else []  # once a cell is done, all is up
        if workers:
            time.sleep(0.3)  # well inside the cell
            if workers[0] in _cell_workers():
                os.kill(workers[0], signal.SIGKILL)
                killed = workers[0]
        time.sleep(0.02)
    thread.join(timeout=180)
    assert killed is not None, "no cell was seen running"
    assert (outcome["ran"], outcome["failed"]) == (4, 0) and outcome["retried"] >= 1
    assert len(store.finished_keys(tmp_path)) == 4
    attempts = [read_json(p / "cell.json")["attempts"] for p in (tmp_path / "cells").iterdir()]
    assert max(attempts) >= 2


def test_killed_driver_rerun_finishes_only_the_missing_cells(ray_cluster, tmp_path):
    """Last in the module. The driver is `aelab sweep` in its own process, joined to the module's
    cluster, killed once a cell is written; the rerun is the same sweep from this process (the
    same plan through the Python API: the same cell keys), which finds the finished cells."""
    command = [sys.executable, "-m", "aelab.cli", "sweep", "zhou-svm", "--preset", "table2", "--scale", "smoke",
               "--grid", "lrs=0.01,0.02", "--grid", "noise_levels=0.3,0.5", "--seeds", "0-1",
               "--address", ray_cluster, "--out", str(tmp_path), "--quiet"]
    driver = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)
    try:
        deadline = time.monotonic() + 120
        while not store.finished_keys(tmp_path) and time.monotonic() < deadline and driver.poll() is None:
            time.sleep(0.05)
        driver.send_signal(signal.SIGKILL)
    finally:
        driver.wait(timeout=30)
    before = {k: (store.cell_folder(tmp_path, k) / "result.json").stat().st_mtime_ns
              for k in store.finished_keys(tmp_path)}
    assert 0 < len(before) < 8, f"{len(before)} cells finished before the kill"
    assert [c["key"] for c in read_json(tmp_path / "sweep.json")["cells"]] == [c.key for c in zhou_plan().cells]
    rerun = run_sweep(zhou_plan(), tmp_path, backend="ray")
    assert (rerun["skipped"], rerun["ran"], rerun["failed"]) == (len(before), 8 - len(before), 0)
    assert len(store.finished_keys(tmp_path)) == 8
    assert all((store.cell_folder(tmp_path, k) / "result.json").stat().st_mtime_ns == t for k, t in before.items())
    assert main(["sweep", "zhou-svm", "--preset", "table2", "--scale", "smoke", "--grid", "lrs=0.01,0.02",
                 "--grid", "noise_levels=0.3,0.5", "--seeds", "0-1", "--out", str(tmp_path), "--quiet"]) == 0
    assert read_json(tmp_path / "runs.json")[-1]["ran"] == 0  # the same command again: nothing left to run
