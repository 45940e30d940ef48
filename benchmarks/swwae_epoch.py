"""One epoch of semi-supervised MNIST SWWAE vs the same convnet without its decoder.

The cost of the "where" pathway (Zhao et al. 2016): the SWWAE `(64)5c-2p-(64)3c-2p-(64)3c-2p-10fc`
on 32x32 MNIST trains with mixed batches (labelled + unlabelled, all three loss terms);
the baseline is the same convnet with lambda_L2* = 0, so its decoder never runs, trained on
the same batches (NLL on the labelled part). Both go through the lab's loop (`train_swwae`).

The machine may be shared with other busy processes, so the two are timed interleaved in
one process: `--rounds` rounds, each timing `--steps` steps of one model and then of the
other (the order alternates between rounds), after a warm-up. The ratio is the summed
SWWAE time over the summed convnet time (the median of the per-round ratios is recorded
too); wall-clock and process CPU seconds are both kept. A torch.profiler profile of
`--profile-steps` steps of each model says where the time goes (self CPU time per op,
grouped: convolutions, matmul_and_fold (the decoder's image convolution by taps, and the fc
layer), unpooling, pooling, ReLU, losses, optimizer, fill_and_copy, other; and the top ops).

    python benchmarks/swwae_epoch.py                    # 8 rounds of 4 steps, torch's threads (one a core)
    python benchmarks/swwae_epoch.py --threads 1        # one thread (steadier on a loaded machine)

On a machine whose cores are busy with other processes, two threads that wait on each other
at every operation get descheduled: a step then takes several times its single-thread time,
more so for the SWWAE's many small operations, and the ratio measures the contention rather
than the code. The one-thread run (`-1t.json`) is the one to compare there; its CPU-time
ratio is the steadiest number.

Writes benchmarks/results/swwae_epoch-<device>[-<threads>t].json: times, ratio, profile,
thread count, load average before and after, versions.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import torch

from aelab import data
from aelab.device import describe_device, resolve_device, set_threads, synchronize
from aelab.fileio import write_json_atomic
from aelab.models.registry import build_model
from aelab.models.whatwhere import SWWAE
from aelab.train.records import environment
from aelab.train.semisup import swwae_fit_config, train_swwae

SPEC = "(64)5c-2p-(64)3c-2p-(64)3c-2p-10fc"
RESULTS = Path(__file__).resolve().parent / "results"
MODELS = {"swwae": dict(lambda_rec=1.0, lambda_mid=1.0), "convnet": dict(lambda_rec=0.0, lambda_mid=0.0)}

# op-name fragments -> group (first match wins; self CPU time of the op)
GROUPS = (("convolution", ("conv",)),
          # the decoder's image convolution run as a product and a fold (`conv_by_taps`), and the fc layer
          ("matmul_and_fold", ("aten::mm", "aten::bmm", "addmm", "aten::linear", "im2col", "col2im")),
          ("unpooling", ("scatter", "gather", "max_unpool", "unpool")),
          ("pooling", ("max_pool",)),
          ("relu", ("threshold", "relu", "clamp_min")),
          ("losses", ("mse_loss", "nll_loss", "log_softmax", "cross_entropy", "aten::pow", "aten::square")),
          ("optimizer", ("adam", "Adam", "lerp", "addcdiv", "addcmul", "sqrt", "_foreach", "Optimizer")),
          ("fill_and_copy", ("fill_", "zero_", "copy_", "empty", "contiguous", "clone")))


def group_of(op: str) -> str:
    for group, fragments in GROUPS:
        if any(f in op for f in fragments):
            return group
    return "other"


def make_models(device: torch.device) -> dict[str, SWWAE]:
    return {name: build_model("swwae", spec=SPEC, input_size=32, dropout=0.5, **lambdas,
                              generator=torch.Generator().manual_seed(0)).to(device)
            for name, lambdas in MODELS.items()}


def run_steps(model: SWWAE, parts, steps: int, args, device: torch.device, seed: int) -> None:
    x_unl, x_lab, y_lab = parts
    train_swwae(model, x_unl, x_lab, y_lab, config=swwae_fit_config(batch_size=args.batch_size),
                labelled_per_batch=args.labelled_per_batch, steps_per_epoch=steps,
                generator=torch.Generator(device=device).manual_seed(seed))
    synchronize(device)


def profile(model: SWWAE, parts, args, device: torch.device) -> dict:
    """Self CPU time per op over `args.profile_steps` steps: grouped, and the top 12 ops."""
    from torch.profiler import profile as torch_profile

    run_steps(model, parts, 1, args, device, 99)  # warm-up outside the profile
    with torch_profile() as prof:
        run_steps(model, parts, args.profile_steps, args, device, 100)
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events) or 1.0
    groups: dict[str, float] = {}
    for e in events:
        groups[group_of(e.key)] = groups.get(group_of(e.key), 0.0) + e.self_cpu_time_total
    per_step = 1e3 * args.profile_steps
    return {"steps": args.profile_steps, "ms_per_step": total / per_step,
            "groups_ms_per_step": {g: t / per_step for g, t in sorted(groups.items(), key=lambda kv: -kv[1])},
            "top_ops": [{"op": e.key, "ms_per_step": e.self_cpu_time_total / per_step, "calls_per_step":
                         e.count / args.profile_steps, "share": e.self_cpu_time_total / total} for e in events[:12]]}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: $AELAB_THREADS, else torch's)")
    parser.add_argument("--rounds", type=int, default=8, help="interleaved rounds")
    parser.add_argument("--steps", type=int, default=4, help="steps per model per round")
    parser.add_argument("--profile-steps", type=int, default=5, help="steps profiled per model (0: no profile)")
    parser.add_argument("--n-labels", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--labelled-per-batch", type=int, default=20)
    parser.add_argument("--out", default=None, help="result file (default benchmarks/results/swwae_epoch-<device>.json)")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.steps < 1 or args.profile_steps < 0:
        parser.error("rounds and steps must be >= 1, profile-steps >= 0")

    threads = set_threads(args.threads)
    device = resolve_device(args.device)
    train = data.load("mnist", "train")
    x = data.pad_to(train.x, 32).to(device)
    y = train.y.to(device)
    labelled = data.balanced_subset(train.y, args.n_labels).to(device)
    rest = torch.ones(len(y), dtype=torch.bool, device=device)
    rest[labelled] = False
    parts = (x[rest], x[labelled], y[labelled])
    epoch_steps = len(parts[0]) // (args.batch_size - args.labelled_per_batch)

    load_before = os.getloadavg()
    models = make_models(device)
    for name, model in models.items():  # warm-up (allocations, kernel choices)
        run_steps(model, parts, 2, args, device, 0)
    wall = {name: [] for name in models}
    cpu = {name: [] for name in models}
    for r in range(args.rounds):
        order = list(models) if r % 2 == 0 else list(reversed(models))
        for name in order:
            w0, c0 = time.perf_counter(), time.process_time()
            run_steps(models[name], parts, args.steps, args, device, r + 1)
            wall[name].append(time.perf_counter() - w0)
            cpu[name].append(time.process_time() - c0)
    steps = args.rounds * args.steps
    timings = {name: {"seconds": sum(wall[name]), "cpu_seconds": sum(cpu[name]),
                      "seconds_per_step": sum(wall[name]) / steps,
                      "seconds_per_epoch": sum(wall[name]) / steps * epoch_steps,
                      "images_per_second": steps * args.batch_size / sum(wall[name]),
                      "round_seconds": wall[name]} for name in models}
    ratio = timings["swwae"]["seconds"] / timings["convnet"]["seconds"]
    round_ratios = [s / c for s, c in zip(wall["swwae"], wall["convnet"])]
    cpu_ratio = timings["swwae"]["cpu_seconds"] / timings["convnet"]["cpu_seconds"]
    for name in models:
        print(f"{name}: {timings[name]['seconds_per_step']:.3f} s per step -> "
              f"{timings[name]['seconds_per_epoch']:.0f} s per epoch of {epoch_steps} steps")
    print(f"SWWAE / convnet time ratio: {ratio:.2f} (median over rounds {statistics.median(round_ratios):.2f}, "
          f"CPU time {cpu_ratio:.2f})")
    profiles = {}
    if args.profile_steps:
        profiles = {name: profile(model, parts, args, device) for name, model in make_models(device).items()}
        for name, p in profiles.items():
            print(name, {g: round(t, 1) for g, t in p["groups_ms_per_step"].items()})
    result = {
        "benchmark": "swwae_epoch", "spec": SPEC, "device": describe_device(device), "threads": threads,
        "rounds": args.rounds, "steps_per_round": args.steps, "steps_timed": steps, "steps_per_epoch": epoch_steps,
        "batch_size": args.batch_size, "labelled_per_batch": args.labelled_per_batch,
        "timings": timings, "ratio_swwae_over_convnet": ratio,
        "ratio_median_over_rounds": statistics.median(round_ratios),
        "ratio_cpu_time": cpu_ratio, "target_ratio": 2.2, "meets_target": ratio <= 2.2, "profile": profiles,
        "load_average_before": load_before, "load_average_after": os.getloadavg(), "cpu_count": os.cpu_count(),
        "env": environment(device),
        "note": "the two models are timed interleaved in one process, so a shared machine's load falls on both; "
                "seconds_per_epoch is seconds_per_step x steps_per_epoch under that load",
    }
    suffix = f"-{threads}t" if device.type == "cpu" and args.threads is not None else ""
    out = Path(args.out) if args.out else RESULTS / f"swwae_epoch-{device.type}{suffix}.json"
    write_json_atomic(out, result)
    print(f"wrote {out}")
    return result


if __name__ == "__main__":
    main()
