"""One epoch of semi-supervised MNIST SWWAE vs the same convnet without its decoder.

The cost of the "where" pathway (Zhao et al. 2016): the SWWAE `(64)5c-2p-(64)3c-2p-(64)3c-2p-10fc`
on 32x32 MNIST trains with mixed batches (labelled + unlabelled, all three loss terms);
the baseline is the same convnet with lambda_L2* = 0, so its decoder never runs, trained on
the same batches (NLL on the labelled part). Both time the same number of steps after a
warm-up step; the result is written to `benchmarks/results/swwae_epoch-<device>.json`.

    python benchmarks/swwae_epoch.py              # a full epoch (50,000 images, 500 steps)
    python benchmarks/swwae_epoch.py --quick      # 30 steps, per-epoch time extrapolated
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch

from aelab import data
from aelab.device import describe_device, resolve_device, synchronize
from aelab.fileio import write_json_atomic
from aelab.models.registry import build_model
from aelab.models.whatwhere import SWWAE
from aelab.train.records import environment
from aelab.train.semisup import swwae_fit_config, train_swwae

SPEC = "(64)5c-2p-(64)3c-2p-(64)3c-2p-10fc"
RESULTS = Path(__file__).resolve().parent / "results"


def time_model(model: SWWAE, x_unl, x_lab, y_lab, *, steps: int, batch_size: int, labelled_per_batch: int,
               device: torch.device) -> float:
    """Seconds for `steps` training steps (after one warm-up step)."""
    common = dict(config=swwae_fit_config(batch_size=batch_size), labelled_per_batch=labelled_per_batch,
                  generator=torch.Generator(device=device).manual_seed(0))
    train_swwae(model, x_unl, x_lab, y_lab, steps_per_epoch=1, **common)  # warm-up (allocations, kernels)
    synchronize(device)
    started = time.perf_counter()
    train_swwae(model, x_unl, x_lab, y_lab, steps_per_epoch=steps, **common)
    synchronize(device)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="time 30 steps and extrapolate to an epoch")
    parser.add_argument("--steps", type=int, default=None, help="steps to time (default: a full epoch, 30 with --quick)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--n-labels", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--labelled-per-batch", type=int, default=20)
    parser.add_argument("--out", default=None, help="result file (default benchmarks/results/swwae_epoch-<device>.json)")
    args = parser.parse_args(argv)

    device = resolve_device(args.device)
    train = data.load("mnist", "train")
    x = data.pad_to(train.x, 32).to(device)
    y = train.y.to(device)
    labelled = data.balanced_subset(train.y, args.n_labels).to(device)
    rest = torch.ones(len(y), dtype=torch.bool, device=device)
    rest[labelled] = False
    x_unl, x_lab, y_lab = x[rest], x[labelled], y[labelled]
    epoch_steps = len(x_unl) // (args.batch_size - args.labelled_per_batch)
    steps = args.steps or (30 if args.quick else epoch_steps)
    steps = min(steps, epoch_steps)

    timings = {}
    for name, lambdas in (("swwae", dict(lambda_rec=1.0, lambda_mid=1.0)), ("convnet", dict(lambda_rec=0.0, lambda_mid=0.0))):
        model = build_model("swwae", spec=SPEC, input_size=32, dropout=0.5, **lambdas,
                            generator=torch.Generator().manual_seed(0)).to(device)
        seconds = time_model(model, x_unl, x_lab, y_lab, steps=steps, batch_size=args.batch_size,
                             labelled_per_batch=args.labelled_per_batch, device=device)
        timings[name] = {"seconds": seconds, "seconds_per_epoch": seconds * epoch_steps / steps,
                         "images_per_second": steps * args.batch_size / seconds}
        print(f"{name}: {seconds:.2f} s for {steps} steps -> {timings[name]['seconds_per_epoch']:.1f} s per epoch")
    ratio = timings["swwae"]["seconds"] / timings["convnet"]["seconds"]
    print(f"SWWAE / convnet time ratio: {ratio:.2f}")
    result = {
        "benchmark": "swwae_epoch", "spec": SPEC, "device": describe_device(device), "steps_timed": steps,
        "steps_per_epoch": epoch_steps, "batch_size": args.batch_size, "labelled_per_batch": args.labelled_per_batch,
        "extrapolated": steps < epoch_steps, "timings": timings, "ratio_swwae_over_convnet": ratio,
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "env": environment(device),
        "note": "timings on a shared machine are noisy; compare the ratio, which shares the noise",
    }
    out = Path(args.out) if args.out else RESULTS / f"swwae_epoch-{device.type}.json"
    write_json_atomic(out, result)
    print(f"wrote {out}")
    return result


if __name__ == "__main__":
    main()
