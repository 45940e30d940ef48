"""Benchmark: Parzen-window log-likelihood, aelab vs a numpy port of the published code,
and GSN chain throughput. Writes `benchmarks/results/parzen-<device>.json`.

    python benchmarks/parzen.py                      # 10k samples x 10k points x 784, auto device
    python benchmarks/parzen.py --device cpu --port-points 100 --threads 1

The full problem (10,000 MNIST test images scored under 10,000 centres) is timed for
aelab. The port (`aelab.measure.parzen.reference_log_likelihood`: explicit differences
x - mu for every pair, 10 points per batch as in the published code, float32 as Theano ran
it) is timed on `--port-points` test points and extrapolated linearly (its cost is exactly
proportional to the number of points). Both are checked against a float64 run of the port
on a few points. Chain throughput: kept samples per second of `run_chains` for a
784-1000-1000 DAE, one chain (the paper's setting) and many chains side by side.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

import numpy as np
import torch

from aelab.device import resolve_device, synchronize
from aelab.fileio import write_json_atomic
from aelab.measure import parzen
from aelab.measure.sampling import ChainSettings, run_chains
from aelab.models.dense import DeepAutoencoder
from aelab.train.records import environment

RESULTS = Path(__file__).resolve().parent / "results"


def _data(n_samples: int, n_points: int, dim: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, str]:
    """Centres and test points: MNIST (noisy training images as 'samples') when dim is 784
    and the files are there, else uniform random vectors."""
    g = torch.Generator().manual_seed(seed)
    if dim == 784:
        try:
            from aelab import data

            train = data.load("mnist", "train").x[:n_samples].reshape(-1, 784)
            test = data.load("mnist", "test").x[:n_points].reshape(-1, 784)
            if len(train) == n_samples and len(test) == n_points:
                samples = (train + 0.05 * torch.randn(train.shape, generator=g)).clamp_(0, 1)
                return samples, test, "mnist (train[:N] + N(0, 0.05^2) as samples, test[:M] as points)"
        except Exception as error:  # no MNIST here: fall back to random data, and say so
            print(f"MNIST not available ({error}); using random data")
    return torch.rand(n_samples, dim, generator=g), torch.rand(n_points, dim, generator=g), "uniform random"


def bench_parzen(args, device: torch.device) -> dict:
    samples, points, source = _data(args.n_samples, args.n_points, args.dim, args.seed)
    samples_d, points_d = samples.to(device), points.to(device)
    parzen.log_likelihood(samples_d, points_d[:64], args.sigma)  # warm-up
    synchronize(device)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    ll = parzen.log_likelihood(samples_d, points_d, args.sigma)
    synchronize(device)
    aelab_seconds = time.perf_counter() - t0
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    mean, stderr = parzen.mean_stderr(ll)

    sub_s, sub_x = samples.numpy(), points[:args.port_points].numpy()
    t0 = time.perf_counter()
    port = parzen.reference_log_likelihood(sub_s, sub_x, args.sigma, batch_size=10)
    port_seconds_subset = time.perf_counter() - t0
    port_seconds = port_seconds_subset * args.n_points / args.port_points

    check = min(20, args.port_points)
    exact = parzen.reference_log_likelihood(samples[:, :].double().numpy(), points[:check].double().numpy(),
                                            args.sigma, batch_size=2)
    ours = ll[:check].cpu().numpy()
    return {
        "problem": f"{args.n_samples} samples x {args.n_points} points x {args.dim} dims, sigma={args.sigma}",
        "data": source,
        "aelab_seconds": aelab_seconds,
        "port_seconds_extrapolated": port_seconds,
        "port_seconds_measured": port_seconds_subset,
        "port_points_measured": args.port_points,
        "speedup": port_seconds / aelab_seconds,
        "mean_log_likelihood": mean, "stderr": stderr,
        "max_abs_error_aelab_vs_float64_nats": float(np.abs(ours - exact).max()),
        "max_abs_error_port_float32_vs_float64_nats": float(np.abs(port[:check] - exact).max()),
        "max_rss_growth_mb": (rss_after - rss_before) / 1024.0,
        "max_rss_mb": rss_after / 1024.0,
    }


def bench_chains(args, device: torch.device) -> dict:
    g = torch.Generator(device=device).manual_seed(args.seed)
    model = DeepAutoencoder([784, 1000, 1000], noise=("gaussian", 0.3), generator=torch.Generator().manual_seed(0))
    model.to(device)
    out = {}
    for n_chains, n_steps in ((1, args.chain_steps), (args.many_chains, max(10, args.chain_steps // 10))):
        start = torch.rand(n_chains, 784, generator=g, device=device)
        run_chains(model, start, ChainSettings(n_steps=5), generator=g)  # warm-up
        synchronize(device)
        t0 = time.perf_counter()
        run_chains(model, start, ChainSettings(n_steps=n_steps), generator=g)
        synchronize(device)
        seconds = time.perf_counter() - t0
        out[f"{n_chains}_chains"] = {"steps": n_steps, "seconds": seconds,
                                     "samples_per_second": n_chains * n_steps / seconds}
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--n-samples", type=int, default=10_000)
    parser.add_argument("--n-points", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=784)
    parser.add_argument("--sigma", type=float, default=0.2)
    parser.add_argument("--port-points", type=int, default=100)
    parser.add_argument("--chain-steps", type=int, default=1000)
    parser.add_argument("--many-chains", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--note", default="", help="e.g. 'machine shared with other jobs'")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    record = {
        "benchmark": "parzen",
        "parzen": bench_parzen(args, device),
        "chains": bench_chains(args, device),
        "load_average": list(os.getloadavg()),
        "note": args.note,
        "env": environment(device),
    }
    out = args.out or RESULTS / f"parzen-{device.type}.json"
    write_json_atomic(out, record)
    p = record["parzen"]
    print(f"Parzen {p['problem']}: aelab {p['aelab_seconds']:.2f} s, port {p['port_seconds_extrapolated']:.0f} s "
          f"(extrapolated from {args.port_points} points), {p['speedup']:.0f}x; "
          f"error vs float64 {p['max_abs_error_aelab_vs_float64_nats']:.1e} nats")
    for name, c in record["chains"].items():
        print(f"chains {name}: {c['samples_per_second']:.0f} samples/s")
    print(f"load average {record['load_average']}; wrote {out}")
    return record


if __name__ == "__main__":
    main()
