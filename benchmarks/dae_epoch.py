"""One training epoch of the dense family on the 50,000 MNIST training images (batch 100,
RMSprop lr 1e-3 alpha 0.9), three ways, in one process:

  aelab    `aelab.train.loop.fit` with the fused step of `aelab.train.fast` (the default; on cuda
           the step is captured in a CUDA graph and replayed, `fast.GraphedStep`)
  eager    on cuda only: the same with `FitConfig(cuda_graph=False)` (the fused step launched op by op)
  autograd the same loop with `FitConfig(fused=False)` (autograd through `model.loss`)
  plain    the loop from a tutorial: DataLoader over a TensorDataset, autograd, loss.item()
  floor    the step's matrix products alone, at the step's shapes, times the number of steps

for three models: the 784-1000-784 tied DAE (masking 25%), the 784-1000-784 CAE (lambda 0.1)
and the 784-1000-1000 deep DAE trained jointly (Zhou eq. 8, masking 25% at both inputs).
Also a profile (torch.profiler, 20 steps) of where a step's time goes: the fused step with the
fused optimizer update vs autograd with torch's RMSprop.

    python benchmarks/dae_epoch.py [--device auto] [--quick] [--repeats 2] [--threads N]

Writes benchmarks/results/dae_epoch-<device>[-quick].json (times, ratios, floors, profile,
thread count, load average, versions).
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
from aelab.models.dense import Autoencoder, DeepAutoencoder
from aelab.train.fast import fused_loss
from aelab.train.loop import FitConfig, fit, make_optimizer
from aelab.train.records import environment
from aelab.train.schemes import train_joint

BATCH = 100


def models() -> dict[str, torch.nn.Module]:
    g = torch.Generator().manual_seed(0)
    return {
        "dae": Autoencoder(784, 1000, noise="masking:0.25", generator=g),
        "cae": Autoencoder(784, 1000, contractive=0.1, generator=g),
        "deep_dae_joint": DeepAutoencoder([784, 1000, 1000], noise="masking:0.25", generator=g),
    }


def products(name: str) -> list[tuple[int, int, int]]:
    """(m, k, n) of every matrix product of one training step (m x k times k x n)."""
    b = BATCH
    one = [(b, 784, 1000), (b, 1000, 784),            # encode, decode
           (b, 784, 1000), (1000, b, 784), (1000, b, 784)]  # dh, dW (decoder side), dW (encoder side)
    if name != "deep_dae_joint":
        return one
    return [(b, 784, 1000), (b, 1000, 1000), (b, 1000, 1000), (b, 1000, 784),   # 2 encoders, 2 decoders
            (1000, b, 784), (1000, b, 784), (b, 784, 1000),                     # layer 1: dW twice, dz_1
            (1000, b, 1000), (1000, b, 1000), (b, 1000, 1000), (b, 1000, 1000)]  # layer 2: dW twice, dz_2, du_2


def floor_seconds(name: str, steps: int, device: torch.device, seconds: float = 2.0) -> tuple[float, float]:
    """(time of the products of `steps` steps, GFLOP/s reached) at the step's shapes."""
    shapes = products(name)
    pairs = [(torch.rand(m, k, device=device), torch.rand(k, n, device=device)) for m, k, n in shapes]

    def step():
        for a, b in pairs:
            a @ b

    for _ in range(5):
        step()
    synchronize(device)
    n, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for _ in range(10):
            step()
        n += 10
        synchronize(device)
    per_step = (time.perf_counter() - started) / n
    flops = sum(2 * m * k * n_ for m, k, n_ in shapes)
    return per_step * steps, flops / per_step / 1e9


def aelab_epoch(name: str, model, x, device, fused: bool, cuda_graph: bool = True) -> float:
    config = FitConfig(epochs=1, batch_size=BATCH, optimizer="rmsprop", lr=1e-3, fused=fused, cuda_graph=cuda_graph)
    generator = torch.Generator(device).manual_seed(0)
    synchronize(device)
    started = time.perf_counter()
    if name == "deep_dae_joint":
        train_joint(model, x, config, x_eval=x[:100], generator=generator)  # a tiny evaluation, as little as possible
    else:
        fit(model, model.loss, x, config, generator=generator)
    synchronize(device)
    return time.perf_counter() - started


def plain_epoch(name: str, model, x, device) -> float:
    """The loop from a tutorial: DataLoader, autograd, loss.item() per batch for the running mean."""
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


def profile(model, x, device, fused: bool, steps: int = 20) -> list[dict]:
    """Top operations of `steps` training steps (self time, share)."""
    from torch.profiler import profile as torch_profile

    step = fused_loss(model) if fused else None
    # the optimizer each path builds: the fused update (FusedRMSprop) or torch's RMSprop
    optimizer = make_optimizer(model.parameters(), FitConfig(optimizer="rmsprop", lr=1e-3, fused=fused))
    generator = torch.Generator(device).manual_seed(0)
    batches = [x[i * BATCH:(i + 1) * BATCH] for i in range(steps)]
    with torch_profile() as prof:
        for xb in batches:
            optimizer.zero_grad(set_to_none=True)
            if step is not None:
                step(xb, generator)
            else:
                model.loss(xb, generator)["total"].backward()
            optimizer.step()
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events) or 1.0
    return [{"op": e.key, "ms_per_step": e.self_cpu_time_total / 1e3 / steps,
             "share": e.self_cpu_time_total / total} for e in events[:10]]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--quick", action="store_true", help="10,000 images instead of 50,000, one repeat")
    parser.add_argument("--repeats", type=int, default=2, help="epochs timed per loop (the best is kept)")
    parser.add_argument("--threads", type=int, help="CPU threads (default: $AELAB_THREADS, else torch's)")
    parser.add_argument("--models", default="dae,cae,deep_dae_joint", help="comma-separated subset")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args(argv)
    threads = set_threads(args.threads)
    device = resolve_device(args.device)
    n = 10000 if args.quick else 50000
    repeats = 1 if args.quick else args.repeats
    x = data.load("mnist", "train").x[:n].reshape(n, -1).to(device)
    steps = -(-n // BATCH)
    load_before = os.getloadavg()
    results = {}
    for name, start in models().items():
        if name not in args.models.split(","):
            continue
        start = start.to(device)
        # warm-up: first-call costs are paid here, not by whichever loop is timed first
        for fused in (True, False):
            aelab_epoch(name, copy.deepcopy(start), x[:2000], device, fused)
        plain_epoch(name, copy.deepcopy(start), x[:2000], device)
        times = {"aelab": [], "autograd": [], "plain": []}
        if device.type == "cuda":
            times["eager"] = []
        for _ in range(repeats):  # interleaved, so the loops see the same machine load
            times["aelab"].append(aelab_epoch(name, copy.deepcopy(start), x, device, True))
            if device.type == "cuda":
                times["eager"].append(aelab_epoch(name, copy.deepcopy(start), x, device, True, cuda_graph=False))
            times["autograd"].append(aelab_epoch(name, copy.deepcopy(start), x, device, False))
            times["plain"].append(plain_epoch(name, copy.deepcopy(start), x, device))
        floor, gflops = floor_seconds(name, steps, device)
        best = {k: min(v) for k, v in times.items()}
        results[name] = {
            "seconds": times, "best": best, "floor_seconds": floor, "floor_gflops": gflops,
            "matrix_products_per_step": len(products(name)),
            "plain_over_aelab": best["plain"] / best["aelab"],
            "autograd_over_aelab": best["autograd"] / best["aelab"],
            "aelab_over_floor": best["aelab"] / floor,
            "profile_fused": profile(copy.deepcopy(start), x, device, True),
            "profile_autograd": profile(copy.deepcopy(start), x, device, False),
        }
        if "eager" in best:
            results[name]["eager_over_aelab"] = best["eager"] / best["aelab"]
        print(f"{name:15} aelab {best['aelab']:.3f} s" + (f" | eager {best['eager']:.3f} s" if "eager" in best else "") +
              f" | autograd {best['autograd']:.2f} s | plain {best['plain']:.2f} s"
              f" | floor {floor:.2f} s ({gflops:.0f} GFLOP/s) | plain/aelab {results[name]['plain_over_aelab']:.2f}"
              f" | aelab/floor {results[name]['aelab_over_floor']:.2f}", flush=True)
    targets = {}
    if "dae" in results:
        targets["dae_plain_over_aelab_at_least_1.3"] = results["dae"]["plain_over_aelab"] >= 1.3
        targets["dae_aelab_over_floor_at_most_1.25"] = results["dae"]["aelab_over_floor"] <= 1.25
    if "dae" in results and device.type == "cuda":
        targets["dae_epoch_under_0.1_s_on_gpu"] = results["dae"]["best"]["aelab"] < 0.1
    if "deep_dae_joint" in results:
        targets["deep_plain_over_aelab_at_least_1.3"] = results["deep_dae_joint"]["plain_over_aelab"] >= 1.3
    if "dae" in results and "cae" in results:
        ratio = results["cae"]["best"]["aelab"] / results["dae"]["best"]["aelab"]
        results["cae_over_dae"] = ratio
        targets["cae_over_dae_at_most_1.6"] = ratio <= 1.6
    result = {
        "benchmark": "dae_epoch", "examples": n, "batch_size": BATCH, "optimizer": "RMSprop(lr=1e-3, alpha=0.9)",
        "device": describe_device(device), "threads": threads, "models": results, "targets": targets,
        "load_average_before": load_before, "load_average_after": os.getloadavg(),
        "note": "compare numbers from one run only; the machine may be shared (see the load averages)",
        "env": environment(device),
    }
    out = Path(args.out) / f"dae_epoch-{device.type}{'-quick' if args.quick else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out, result)
    print(f"targets: {targets}; wrote {out}")
    return result


if __name__ == "__main__":
    main()
