"""One training epoch of a 784-1000-784 tied DAE (masking 25%, batch 100, RMSprop) on the
50,000 MNIST training images: aelab's loop vs the plain PyTorch loop a user would write
(DataLoader over a TensorDataset, the same model and optimiser), in one process.

Also the arithmetic bound: the epoch's matrix-multiply FLOPs (6 products of 2 * 100 * 784 * 1000
per batch: encode, decode, and their gradients, none for the input) divided by the rate the
machine reaches on those same products.

    python benchmarks/dae_epoch.py [--device auto] [--quick] [--repeats 2] [--threads N]

Writes benchmarks/results/dae_epoch-<device>.json (times, ratio, bound, device, versions).
"""

from __future__ import annotations

import argparse
import copy
import os
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader, TensorDataset

from aelab import data
from aelab.device import describe_device, resolve_device, set_threads, synchronize
from aelab.fileio import write_json_atomic
from aelab.models.dense import Autoencoder
from aelab.train.loop import FitConfig, fit
from aelab.train.records import environment

N_VISIBLE, N_HIDDEN, BATCH = 784, 1000, 100


def matmul_rate(device: torch.device, seconds: float = 2.0) -> float:
    """GFLOP/s of the six products of one training step, at the step's shapes."""
    x = torch.rand(BATCH, N_VISIBLE, device=device)
    w = torch.rand(N_HIDDEN, N_VISIBLE, device=device)
    h = torch.rand(BATCH, N_HIDDEN, device=device)
    g_x = torch.rand(BATCH, N_VISIBLE, device=device)

    def step():
        x @ w.t()          # encode
        h @ w              # decode
        g_x @ w.t()        # gradient w.r.t. h through the decoder
        g_x.t() @ h        # gradient w.r.t. W (decoder side)
        h.t() @ x          # gradient w.r.t. W (encoder side)
        h @ w              # (shape twin of the encode product, backward)

    for _ in range(5):
        step()
    synchronize(device)
    n, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for _ in range(10):
            step()
        n += 10
        synchronize(device)
    elapsed = time.perf_counter() - started
    return n * 6 * 2 * BATCH * N_VISIBLE * N_HIDDEN / elapsed / 1e9


def aelab_epoch(model: Autoencoder, x: torch.Tensor, device: torch.device) -> float:
    config = FitConfig(epochs=1, batch_size=BATCH, optimizer="rmsprop", lr=1e-3)
    synchronize(device)
    started = time.perf_counter()
    fit(model, model.loss, x, config, generator=torch.Generator(device).manual_seed(0))
    synchronize(device)
    return time.perf_counter() - started


def plain_epoch(model: Autoencoder, x: torch.Tensor, device: torch.device) -> float:
    """The loop from a tutorial: DataLoader, loss.item() per batch for the running mean."""
    optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.9)
    loader = DataLoader(TensorDataset(x), batch_size=BATCH, shuffle=True)
    synchronize(device)
    started = time.perf_counter()
    running = 0.0
    for (xb,) in loader:
        loss = model.loss(xb)["total"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        running += loss.item()
    synchronize(device)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--quick", action="store_true", help="10,000 images instead of 50,000, one repeat")
    parser.add_argument("--repeats", type=int, default=2, help="epochs timed per loop (the best is kept)")
    parser.add_argument("--threads", type=int, help="CPU threads (default: $AELAB_THREADS, else torch's)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args(argv)
    threads = set_threads(args.threads)
    device = resolve_device(args.device)
    n = 10000 if args.quick else 50000
    repeats = 1 if args.quick else args.repeats
    x = data.load("mnist", "train").x[:n].reshape(n, -1).to(device)
    torch.manual_seed(0)
    start = Autoencoder(N_VISIBLE, N_HIDDEN, noise=("masking", 0.25)).to(device)
    # warm-up: first-call costs (imports inside the optimiser, allocator, thread pools) are
    # paid here, not by whichever loop happens to be timed first
    aelab_epoch(copy.deepcopy(start), x[:2000], device)
    plain_epoch(copy.deepcopy(start), x[:2000], device)
    rate_before = matmul_rate(device)
    aelab_times, plain_times = [], []
    for _ in range(repeats):  # interleaved, so both loops see the same machine load
        aelab_times.append(aelab_epoch(copy.deepcopy(start), x, device))
        plain_times.append(plain_epoch(copy.deepcopy(start), x, device))
    rate = max(rate_before, matmul_rate(device))  # the better of two, as load on a shared machine varies
    batches = -(-n // BATCH)
    flops = batches * 6 * 2 * BATCH * N_VISIBLE * N_HIDDEN
    bound = flops / (rate * 1e9)
    result = {
        "benchmark": "dae_epoch", "examples": n, "batch_size": BATCH, "model": "784-1000-784 tied DAE, masking 0.25",
        "optimizer": "RMSprop(lr=1e-3, alpha=0.9)", "device": describe_device(device), "threads": threads,
        "aelab_seconds": aelab_times, "plain_seconds": plain_times,
        "aelab_best": min(aelab_times), "plain_best": min(plain_times),
        "ratio_plain_over_aelab": min(plain_times) / min(aelab_times),
        "matmul_gflops": rate, "epoch_gflop": flops / 1e9, "arithmetic_bound_seconds": bound,
        "aelab_over_bound": min(aelab_times) / bound,
        "load_average": os.getloadavg(),
        "note": "the machine may be shared with other jobs while this runs (see load_average); compare "
                "numbers from one run; on a busy machine --threads 1 gives the steadiest numbers",
        "env": environment(device),
    }
    out = Path(args.out) / f"dae_epoch-{device.type}{'-quick' if args.quick else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out, result)
    print(f"{describe_device(device)}: aelab {min(aelab_times):.2f} s, plain {min(plain_times):.2f} s "
          f"(plain/aelab {result['ratio_plain_over_aelab']:.2f}); bound {bound:.2f} s at {rate:.1f} GFLOP/s "
          f"(aelab/bound {result['aelab_over_bound']:.2f}); wrote {out}")
    return result


if __name__ == "__main__":
    main()
