"""Running a sweep's cells: on Ray (a local cluster, or one joined by address), or in this
process one after another (no Ray; for debugging and timing).

Each cell is one call of the experiment runner (`aelab.experiments.runner.reproduce`, the
same result.json as `aelab reproduce`) with torch limited to `cpus_per_cell` threads, so a
cell gives the same metrics on Ray and in-process. A worker returns the cell's files to the
driver, which writes them (`aelab.sweep.store`): this works on a cluster without a shared
file system, and a killed driver loses only the cells in flight.

Fault tolerance is Ray's: a worker that dies mid-cell has its cell retried (`max_retries`);
an exception inside a cell is not retried (it would fail again) and is recorded as failed
with its traceback, and the sweep goes on. A small actor counts the attempts of each cell.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Iterable

from aelab import settings
from aelab.errors import UsageError
from aelab.sweep import store
from aelab.sweep.plan import Cell, Plan

Progress = Callable[[int, int, str], None]
RAY_MISSING = ("aelab sweep runs on Ray, which is not installed: pip install 'aelab[sweep]' "
               "(or pip install 'ray[default]'), or add --in-process to run the cells here one by one")
TASK_NAME = "aelab_cell"
LOCAL_OBJECT_STORE = 256 * 2**20  # results are small; keep /dev/shm use low on shared machines


class RayMissing(UsageError):
    """Ray is not installed (the `sweep` extra)."""


def import_ray():
    """The `ray` module, or RayMissing with the one line that says how to get it."""
    try:
        import ray
    except ImportError:
        raise RayMissing(RAY_MISSING) from None
    return ray


@contextlib.contextmanager
def loopback_only(ray):
    """While a local cluster starts, make Ray take 127.0.0.1 as this node's address, so its
    servers (GCS, raylet, dashboard) listen on the loopback interface only. Ray does this on
    macOS and Windows; `RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0` (read by Ray at import, hence
    also set on its constant) asks for it on Linux. Not for joining a cluster."""
    from ray._private import ray_constants

    constant = getattr(ray_constants, "ENABLE_RAY_CLUSTER", None)
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        with settings.environment_set("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0"):
            yield
    finally:
        if constant is not None:
            ray_constants.ENABLE_RAY_CLUSTER = constant


# ------------------------------------------------------------------------------ one cell

def run_cell(spec: dict[str, Any], *, threads: int = 1, device: str = "auto",
             stop: threading.Event | None = None) -> dict[str, Any]:
    """Run one cell in this process: {"files": {name: bytes}, "info": {...}}.

    torch uses `threads` CPU threads during the cell (restored afterwards); a set `stop`
    ends the cell at the runner's next check (`Stopped`)."""
    import torch

    from aelab.experiments.runner import reproduce

    previous = torch.get_num_threads()
    torch.set_num_threads(max(1, int(threads)))
    started = time.perf_counter()
    try:
        overrides = {k: tuple(v) if isinstance(v, list) else v for k, v in spec["overrides"].items()}
        dataset = overrides.pop("dataset", None)
        with tempfile.TemporaryDirectory(prefix="aelab-cell-") as tmp:
            folder = reproduce(spec["experiment"], scale=spec["scale"], dataset=dataset, device=device,
                               seed=int(spec["seed"]), out=tmp, overrides=overrides, stop=stop,
                               threads=max(1, int(threads)))
            files = {p.name: p.read_bytes() for p in sorted(Path(folder).iterdir()) if p.is_file()}
    finally:
        torch.set_num_threads(previous)
    return {"files": files, "info": {"host": socket.gethostname(), "pid": os.getpid(), "threads": int(threads),
                                     "device": device, "seconds": time.perf_counter() - started}}


def _ray_cell(spec: dict[str, Any], threads: int, device: str, attempts) -> dict[str, Any]:
    """The Ray task: count the attempt, run the cell, return its files."""
    import importlib

    importlib.import_module("aelab.experiments.runner")  # the slow imports first, while the counter starts

    attempt = None
    if attempts is not None:
        import ray

        try:
            attempt = ray.get(attempts.begin.remote(spec["key"]), timeout=60)
        except Exception:  # the counter is a convenience: never fail a cell for it
            attempt = None
    out = run_cell(spec, threads=threads, device=device)
    out["info"]["attempts"] = attempt
    return out


def _attempt_counter(ray):
    """A Ray actor counting how often each cell was started (retries show as counts > 1).
    Defined here so that it travels by value: its process imports nothing of aelab."""

    class AttemptCounter:
        def __init__(self) -> None:
            self.counts: dict[str, int] = {}

        def begin(self, key: str) -> int:
            self.counts[key] = self.counts.get(key, 0) + 1
            return self.counts[key]

        def all(self) -> dict[str, int]:
            return dict(self.counts)

    return ray.remote(num_cpus=0)(AttemptCounter).remote()


# ------------------------------------------------------------------------------ the driver

def _cell_info(cell: Cell, backend: str, extra: dict[str, Any]) -> dict[str, Any]:
    return {"key": cell.key, "label": cell.label(), "experiment": cell.experiment, "scale": cell.scale,
            "seed": cell.seed, "point": cell.point, "overrides": cell.overrides, "backend": backend,
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **extra}


def _failure(cell: Cell, err: BaseException, attempts: int | None, backend: str) -> dict[str, Any]:
    cause = getattr(err, "cause", None) or err
    first = (str(cause).strip().splitlines() or [""])[0]
    return {"key": cell.key, "label": cell.label(), "seed": cell.seed, "point": cell.point,
            "overrides": cell.overrides, "backend": backend, "attempts": attempts,
            "error": f"{type(cause).__name__}: {first}".rstrip(": "),
            "traceback": "".join(traceback.format_exception(type(err), err, err.__traceback__)) if cause is err
            else str(err), "failed": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def run_sweep(plan: Plan, out: str | Path, *, backend: str = "ray", address: str | None = None,
              cpus_per_cell: float = 1, gpus_per_cell: float = 0, retries: int = 2, num_cpus: int | None = None,
              device: str = "auto", dashboard: bool = True, progress: Progress | None = None,
              log: Callable[[str], None] | None = None, stop: threading.Event | None = None,
              write_figure: bool = True) -> dict[str, Any]:
    """Run the plan's unfinished cells into folder `out`, then write table.json and figure.html.

    backend: "ray" (a local Ray cluster on this machine, or the one at `address`: "auto", a
    head's HOST:PORT or ray://HOST:PORT; a Ray already initialised in this process is used
    as it is) or "in-process" (one cell after another, no Ray). Returns a summary: cells
    total/skipped/ran/failed, cells retried, seconds, the dashboard address."""
    if backend not in ("ray", "in-process"):
        raise UsageError(f"backend must be 'ray' or 'in-process', got {backend!r}")
    if cpus_per_cell <= 0 or gpus_per_cell < 0 or retries < 0:
        raise UsageError("--cpus-per-cell must be > 0, --gpus-per-cell and --retries >= 0")
    log = log or (lambda message: None)
    progress = progress or (lambda done, total, desc: None)
    stop = stop or threading.Event()
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    store.clear_staging(folder, older_than_s=60)
    store.write_plan(folder, plan.to_json())
    done_before = store.finished_keys(folder)
    todo = [c for c in plan.cells if c.key not in done_before]
    summary: dict[str, Any] = {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "backend": backend,
                               "total": len(plan.cells), "skipped": len(plan.cells) - len(todo), "ran": 0,
                               "failed": 0, "retried": 0, "interrupted": False, "dashboard": None}
    started = time.perf_counter()
    threads = max(1, int(cpus_per_cell))
    if todo:
        if backend == "in-process":
            _run_in_process(todo, folder, summary, threads, device, progress, log, stop)
        else:
            _run_on_ray(todo, folder, summary, threads, cpus_per_cell, gpus_per_cell, retries, address, num_cpus,
                        device, dashboard, progress, log, stop)
    else:
        progress(len(plan.cells), len(plan.cells), "every cell was finished before")
    summary["seconds"] = time.perf_counter() - started
    _append_run(folder, summary)
    finish(folder, write_figure=write_figure)
    return summary


def _append_run(folder: Path, summary: dict[str, Any]) -> None:
    from aelab.fileio import read_json, write_json_atomic

    path = folder / "runs.json"
    try:
        runs = read_json(path)
    except (OSError, ValueError):
        runs = []
    write_json_atomic(path, [*runs, summary])


def finish(folder: str | Path, write_figure: bool = True) -> dict[str, Any]:
    """Write table.json (and figure.html) from the folder; return the table."""
    from aelab.fileio import write_json_atomic
    from aelab.sweep.table import build_table

    folder = Path(folder)
    table = build_table(folder)
    write_json_atomic(folder / store.TABLE, table)
    if write_figure:
        from aelab.viz.sweeps import sweep_figure

        store.write_text_atomic(folder / store.FIGURE,
                                sweep_figure(table).to_html(include_plotlyjs="cdn", full_html=True))
    return table


def _status(summary: dict[str, Any], running: int | None = None) -> str:
    parts = [f"{summary['skipped'] + summary['ran']}/{summary['total']} cells"]
    if running:
        parts.append(f"{running} to go")
    if summary["failed"]:
        parts.append(f"{summary['failed']} failed")
    if summary["retried"]:
        parts.append(f"{summary['retried']} retried")
    return ", ".join(parts)


def _run_in_process(todo: list[Cell], folder: Path, summary: dict[str, Any], threads: int, device: str,
                    progress: Progress, log, stop: threading.Event) -> None:
    total = summary["total"]
    for cell in todo:
        if stop.is_set():
            summary["interrupted"] = True
            break
        progress(summary["skipped"] + summary["ran"], total, f"running {cell.label()}")
        try:
            out = run_cell(cell.spec(), threads=threads, device=device, stop=stop)
        except Exception as err:
            if type(err).__name__ == "Stopped" or stop.is_set():
                summary["interrupted"] = True
                break
            store.write_failure(folder, cell.key, _failure(cell, err, 1, "in-process"))
            summary["failed"] += 1
            log(f"failed: {cell.label()}: {type(err).__name__}: {err}")
        else:
            store.write_cell(folder, cell.key, out["files"],
                             _cell_info(cell, "in-process", {**out["info"], "attempts": 1}))
        summary["ran"] += 1
        progress(summary["skipped"] + summary["ran"], total, _status(summary))


def _run_on_ray(todo: list[Cell], folder: Path, summary: dict[str, Any], threads: int, cpus_per_cell: float,
                gpus_per_cell: float, retries: int, address: str | None, num_cpus: int | None, device: str,
                dashboard: bool, progress: Progress, log, stop: threading.Event) -> None:
    ray = import_ray()
    started_here = not ray.is_initialized()
    if started_here:
        local = address in (None, "", "local")
        kwargs: dict[str, Any] = {"address": "local" if local else address, "log_to_driver": False,
                                  "logging_level": logging.WARNING}
        if local:
            # dashboard: Ray's own (None: started when `ray[default]` is installed)
            kwargs.update(num_cpus=num_cpus, include_dashboard=None if dashboard else False, dashboard_host="127.0.0.1",
                          object_store_memory=LOCAL_OBJECT_STORE)
        try:
            if local or _on_loopback(address):  # a cluster on 127.0.0.1: this driver's node is 127.0.0.1
                with loopback_only(ray):
                    context = ray.init(**kwargs)
            else:
                context = ray.init(**kwargs)
        except ConnectionError as err:
            raise UsageError(f"--address {address}: cannot join a Ray cluster there ({err})") from err
        url = getattr(context, "dashboard_url", None)
        summary["dashboard"] = f"http://{url}" if url and not url.startswith("http") else (url or None)
    if summary["dashboard"]:
        log(f"Ray dashboard: {summary['dashboard']}")
    resources = ray.cluster_resources()
    log(f"Ray cluster: {resources.get('CPU', 0):g} CPUs, {resources.get('GPU', 0):g} GPUs; "
        f"{len(todo)} cells to run, {summary['skipped']} finished before")
    try:
        attempts = _attempt_counter(ray)
        task = ray.remote(_ray_cell).options(name=TASK_NAME, num_cpus=cpus_per_cell, num_gpus=gpus_per_cell,
                                             max_retries=retries, retry_exceptions=False)
        pending = {task.remote(cell.spec(), threads, device, attempts): cell for cell in todo}
        total = summary["total"]
        progress(summary["skipped"], total, _status(summary, len(pending)))
        while pending:
            if stop.is_set():
                for ref in pending:
                    ray.cancel(ref, force=True)
                summary["interrupted"] = True
                break
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
            for ref in ready:
                cell = pending.pop(ref)
                try:
                    out = ray.get(ref)
                except ray.exceptions.RayError as err:
                    count = _attempts_of(ray, attempts, cell.key)
                    store.write_failure(folder, cell.key, _failure(cell, err, count, "ray"))
                    summary["failed"] += 1
                    cause = getattr(err, "cause", None) or err
                    log(f"failed: {cell.label()}: {type(cause).__name__}: "
                        f"{(str(cause).strip().splitlines() or [''])[0]}")
                else:
                    store.write_cell(folder, cell.key, out["files"], _cell_info(cell, "ray", out["info"]))
                summary["ran"] += 1
            if ready:
                summary["retried"] = _retried(ray, attempts)
            progress(summary["skipped"] + summary["ran"], total, _status(summary, len(pending)))
        summary["retried"] = _retried(ray, attempts)
        ray.kill(attempts)
    except KeyboardInterrupt:
        summary["interrupted"] = True
        raise
    finally:
        if started_here:
            ray.shutdown()


def _on_loopback(address: str | None) -> bool:
    """Whether `address` (HOST:PORT) names a head on this machine's loopback interface."""
    host = (address or "").rpartition(":")[0].strip("[]")
    return host in ("127.0.0.1", "localhost", "::1")


def _attempts_of(ray, attempts, key: str) -> int | None:
    try:
        return ray.get(attempts.all.remote(), timeout=30).get(key)
    except Exception:
        return None


def _retried(ray, attempts) -> int:
    try:
        return sum(1 for n in ray.get(attempts.all.remote(), timeout=30).values() if n > 1)
    except Exception:
        return 0


def cells_to_run(plan: Plan, out: str | Path) -> list[Cell]:
    """The plan's cells not finished in `out` (what a run would do)."""
    done = store.finished_keys(out)
    return [c for c in plan.cells if c.key not in done]


def sweep(experiment: str, *, out: str | Path, preset: str | None = None, grid=None, seeds: str | Iterable[int] = (0,),
          scale: str = "smoke", select: Iterable[str] | None = None, name: str | None = None,
          **run_options: Any) -> dict[str, Any]:
    """Plan and run a sweep (`aelab sweep` in Python); returns the run's summary."""
    from aelab.sweep.plan import build_plan

    plan = build_plan(experiment, preset=preset, grid=grid, seeds=seeds, scale=scale, select=select, name=name)
    return run_sweep(plan, out, **run_options)


__all__ = ["run_cell", "run_sweep", "finish", "sweep", "cells_to_run", "import_ray", "loopback_only", "RayMissing",
           "RAY_MISSING"]
