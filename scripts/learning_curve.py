#!/usr/bin/env python3
"""Learning curves of the full-tier targets that the shipped runs missed (issue 13).

    python scripts/learning_curve.py zhou-parzen [--epochs 300] [--at 10,20,40,...]
    python scripts/learning_curve.py vincent-filters [--epochs 200]
    python scripts/learning_curve.py zhao-translation [--epochs 12]

Each trains the model of a shipped result (results/SCALE/NAME/result.json, default scale
full) again, with that run's seeds, for `--epochs` and measures the target at the epochs in
`--at` (default: every `--every` epochs):
- zhou-parzen: DAE-2J (the learning rate and noise the shipped run used, chosen on validation
  at the full tier), its GSN chain's Parzen test log-likelihood (the shipped chain's seed);
- vincent-filters: the DAEs of the two highest masking levels (25% and 50% at the full tier;
  the shipped run's shuffles and masks), the share of filters still like their random start;
- zhao-translation: the what-where autoencoder, how far "where" moves for a 3 px shift.
Up to the shipped run's epoch count the curve retraces that run (same seeds and thread
count), so its point there is the shipped number; beyond it, it shows what more epochs would
give. The JSON (results/SCALE/curves/NAME.json) is rewritten after every point, with the
command, the environment and the seconds so far. A stopped run starts again from epoch 1.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Callable

import plotly.graph_objects as go
import torch

from aelab.data import splits
from aelab.experiments import get
from aelab.experiments.base import RunContext
from aelab.fileio import read_json, to_json, write_bytes_atomic, write_json_atomic
from aelab.train.records import environment
from aelab.viz.curves import learning_curves

ROOT = Path(__file__).resolve().parent.parent
CURVES = ("zhou-parzen", "vincent-filters", "zhao-translation")
DEFAULT_EPOCHS = {"zhou-parzen": 160, "vincent-filters": 200, "zhao-translation": 12}
DEFAULT_EVERY = {"zhou-parzen": 10, "vincent-filters": 10, "zhao-translation": 1}


@dataclasses.dataclass
class ShiftedContext(RunContext):
    """A run context whose generator offsets are moved by `shift`: the shipped vincent-filters
    run drew level i's shuffles and masks from offset i, and this curve trains only levels 2-3."""

    shift: int = 0

    def generator(self, offset: int = 0) -> torch.Generator:
        return super().generator(offset + self.shift)


class Curve:
    """The points measured so far, written to `path` after each one."""

    def __init__(self, path: Path, command: str, name: str, what: str, target: dict, config, shipped: dict,
                 epochs: int, draw: Callable[[list[dict]], go.Figure]):
        self.path, self.started, self.draw = path, time.perf_counter(), draw
        self.record = {"experiment": name, "measures": what, "target": target, "epochs": epochs,
                       "command": command,
                       "torch_threads": torch.get_num_threads(), "config": dataclasses.asdict(config),
                       "shipped": shipped, "status": "running", "points": [], "env": environment(torch.device("cpu"))}

    def add(self, **point) -> None:
        point["seconds"] = round(time.perf_counter() - self.started, 1)
        self.record["points"].append(point)
        print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in point.items()), flush=True)
        self.write()

    def finish(self) -> None:
        self.record["status"] = "finished"
        self.record["seconds"] = round(time.perf_counter() - self.started, 1)
        self.write()

    def write(self) -> None:
        """The JSON and its picture (NAME.html beside it)."""
        write_json_atomic(self.path, self.record)
        html = self.draw(self.record["points"]).to_html(include_plotlyjs="cdn", full_html=True)
        write_bytes_atomic(self.path.with_suffix(".html"), html.encode())


def _series(points: list[dict], key: str, **where) -> tuple[list[int], list[float]]:
    chosen = [p for p in points if all(p[k] == v for k, v in where.items())]
    return [p["epoch"] for p in chosen], [p[key] for p in chosen]


def _shipped(results: Path, name: str, scale: str) -> dict:
    path = results / scale / name / "result.json"
    if not path.is_file():
        raise SystemExit(f"{path} is missing: the curve follows a shipped run (aelab reproduce {name} --scale {scale})")
    return read_json(path)


def parzen_curve(shipped: dict, epochs: int, at: set[int], out: Path, command: str) -> None:
    from aelab.experiments import gsn, zhou
    from aelab.measure import parzen
    from aelab.train.loop import Callbacks, FitConfig
    from aelab.train.schemes import train_joint

    lr, noise = shipped["metrics"]["lr"], shipped["metrics"]["noise"]
    config = get("zhou-parzen").config(shipped["scale"])
    if 2 not in config.depths or "J" not in config.schemes:
        raise SystemExit(f"the {shipped['scale']} preset trains no DAE-2J")
    depth_index, scheme_index = list(config.depths).index(2), list(config.schemes).index("J")
    ctx = RunContext(seed=shipped["seed"], scale=shipped["scale"])
    n_valid = config.n_sigma_valid + (config.n_search_valid if config.search_lrs else 0)
    train, valid_all, test = splits(config.dataset, ctx.device, config.n_train, n_valid, config.n_test)
    valid = valid_all.subset(slice(0, config.n_sigma_valid))
    # as gsn.run_parzen -> zhou.train_models at depth 2 (generator offset 100 * its index + 4 for
    # scheme J; the chain's seed 10_000 + 100 * the depth's index + the scheme's index)
    zc = zhou.ZhouConfig(dataset=config.dataset, regularizer="dae", depth=2, schemes=("L", "J"),
                         hidden=config.hidden, epochs=epochs, batch_size=config.batch_size)
    model = zhou._model(zc, train.n_features, noise, ctx.seed).to(ctx.device)
    curve = Curve(out, command, "zhou-parzen", "DAE-2J Parzen test log-likelihood (nats)",
                  {"DAE-2J": 150.0, "paper": 266.0}, config,
                  {"epochs": config.epochs, "DAE-2J": shipped["metrics"]["DAE-2J"], "lr": lr, "noise": noise,
                   "training images": shipped["metrics"]["training images"]}, epochs,
                  lambda points: learning_curves(
                      {"DAE-2J": _series(points, "log_likelihood")}, y_label="Parzen test log-likelihood (nats)",
                      title=f"zhou-parzen DAE-2J (lr {lr:g}, noise {noise:g}): log-likelihood of its chain's samples",
                      target=150.0, target_label="issue 13's target 150 (paper 266)", marked_epoch=config.epochs))

    def measure(epoch: int, metrics: dict) -> None:
        if epoch not in at:
            return
        training = model.training
        samples = gsn._chain_samples(model, config, ctx, train, noise, config.n_samples,
                                     10_000 + 100 * depth_index + scheme_index, "DAE-2J")
        estimate = parzen.evaluate(samples, test.x, valid.x, config.sigmas)
        model.train(training)
        curve.add(epoch=epoch, log_likelihood=estimate.mean, stderr=estimate.stderr, sigma=estimate.sigma,
                  test_reconstruction=float(metrics["test_reconstruction_input"]))

    fit = FitConfig(epochs=epochs, batch_size=config.batch_size, optimizer="rmsprop", lr=lr)
    train_joint(model, train.x, fit, x_eval=train.x[:2000], x_test=test.x[:2000], generator=ctx.generator(100 * depth_index + 4),
                callbacks=Callbacks(on_epoch=measure))
    curve.finish()


def filters_curve(shipped: dict, epochs: int, at: set[int], out: Path, command: str) -> None:
    from aelab.experiments import vincent
    from aelab.measure.filters import filter_stats

    full = get("vincent-filters").config(shipped["scale"])
    levels, first = tuple(full.levels[-2:]), max(0, len(full.levels) - 2)  # the two highest levels
    config = dataclasses.replace(full, levels=levels, epochs=epochs, n_show=full.n_hidden)
    ctx = ShiftedContext(seed=shipped["seed"], scale=shipped["scale"], shift=first)
    curve = Curve(out, command, "vincent-filters", "share of filters that still look like their random start",
                  {"like_start_share": "falls from 0% to 50% masking, at least 3x lower at 50%"}, config,
                  {"epochs": full.epochs, **{f"nu={lv:g}": shipped["metrics"][f"nu={lv:g}"]["like_start_share"]
                                             for lv in full.levels}}, epochs,
                  lambda points: learning_curves(
                      {f"{lv:.0%} masking": _series(points, "like_start_share", level=lv) for lv in levels},
                      y_label="share of filters like their random start",
                      title="vincent-filters: filters still like their start, two highest masking levels",
                      target=shipped["metrics"][f"nu={full.levels[-3]:g}"]["like_start_share"] if len(full.levels) > 2
                      else None, target_label=f"{full.levels[-3]:.0%} masking, shipped: a monotone fall needs both "
                                              "lines below it and the highest level below the other",
                      marked_epoch=full.epochs))

    def measure(i: int, epoch: int, images, metrics: dict) -> None:
        if epoch in at:
            stats = filter_stats(images)
            curve.add(level=levels[i], epoch=epoch, like_start_share=stats["like_start_share"],
                      structure_median=stats["structure_median"],
                      test_reconstruction=float(metrics["test_reconstruction"]))

    vincent.run_filters(config, ctx, on_epoch=measure)
    curve.finish()


def translation_curve(shipped: dict, epochs: int, at: set[int], out: Path, command: str) -> None:
    from aelab.experiments import zhao

    preset = get("zhao-translation").config(shipped["scale"])
    config = dataclasses.replace(preset, epochs=epochs)
    ctx = RunContext(seed=shipped["seed"], scale=shipped["scale"])
    m = shipped["metrics"]
    curve = Curve(out, command, "zhao-translation", "how far 'where' moves for a 3 px shift (normalised units)",
                  {"where_move": m["expected_where_shift"], "tolerance": m["where_move_tolerance"]}, config,
                  {"epochs": preset.epochs, "where_move": m["where_move"],
                   "median_where_move": m["median_over_active_planes"]["where_move"]}, epochs,
                  lambda points: learning_curves(
                      {"the most active plane": _series(points, "where_move"),
                       "median over active planes": _series(points, "median_where_move")},
                      y_label="'where' move for a 3 px shift", title="zhao-translation: how far 'where' moves",
                      target=m["expected_where_shift"], target_label="expected (a shift's share of the map)",
                      marked_epoch=preset.epochs))

    def measure(epoch: int, model, x_test) -> None:
        if epoch in at:
            training = model.training
            model.eval()
            got = zhao.evaluate_translation(model, x_test, config).metrics
            model.train(training)
            curve.add(epoch=epoch, where_move=got["where_move"], median_where_move=got["median_over_active_planes"]["where_move"],
                      what_corr_h=got["what_corr_h"], reconstruction_mse=got["reconstruction_mse"])

    zhao.train_translation(config, ctx, on_epoch=measure)
    curve.finish()


RUN = {"zhou-parzen": parzen_curve, "vincent-filters": filters_curve, "zhao-translation": translation_curve}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("experiment", choices=CURVES)
    parser.add_argument("--epochs", type=int, help="epochs to train (default: %s)" % DEFAULT_EPOCHS)
    parser.add_argument("--every", type=int, help="measure every this many epochs (default: %s)" % DEFAULT_EVERY)
    parser.add_argument("--at", help="measure at these epochs instead (comma-separated)")
    parser.add_argument("--threads", type=int, default=int(os.environ.get("AELAB_THREADS", "1")),
                        help="torch CPU threads (default: $AELAB_THREADS or 1, as the shipped runs)")
    parser.add_argument("--scale", default="full", help="the shipped result's scale (default: full)")
    parser.add_argument("--results", type=Path, default=ROOT / "results",
                        help="the results folder the shipped run is in (default: the repository's results/)")
    parser.add_argument("--out", type=Path, help="the JSON file (default: RESULTS/SCALE/curves/EXPERIMENT.json)")
    args = parser.parse_args(argv)
    epochs = args.epochs or DEFAULT_EPOCHS[args.experiment]
    every = args.every or DEFAULT_EVERY[args.experiment]
    if epochs < 1 or every < 1:
        parser.error("--epochs and --every must be at least 1")
    at = {int(e) for e in args.at.split(",")} if args.at else set(range(every, epochs + 1, every))
    if args.at and (not at or min(at) < 1 or max(at) > epochs):
        parser.error(f"--at must name epochs in 1..{epochs}")
    at.add(epochs)
    torch.set_num_threads(args.threads)
    shipped = _shipped(args.results, args.experiment, args.scale)
    preset = json.loads(to_json(dataclasses.asdict(get(args.experiment).config(args.scale))))
    if shipped["config"] != preset:
        changed = sorted(k for k in preset.keys() | shipped["config"].keys()
                         if preset.get(k) != shipped["config"].get(k))
        parser.error(f"the shipped {args.experiment} ran another config than today's {args.scale} preset "
                     f"({', '.join(changed)}), so a curve would not retrace it")
    out = args.out or args.results / args.scale / "curves" / f"{args.experiment}.json"
    words = sys.argv[1:] if argv is None else argv
    command = " ".join(shlex.quote(w) for w in ["python", "scripts/learning_curve.py", *words])
    RUN[args.experiment](shipped, epochs, at, out, command)


if __name__ == "__main__":
    main()
