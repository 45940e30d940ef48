"""The `aelab` command: data, experiments, training and the dashboards.

    aelab data list                      which datasets are present, generated or missing
    aelab data prepare NAME|all          download / generate and cache datasets
    aelab list                           the experiments and what each reproduces
    aelab reproduce NAME [--scale ...]   run one experiment, write result.json + figure.html
    aelab train --model dae --out DIR    train one autoencoder, write a checkpoint + record.json
    aelab lab [--port P] [--no-browser]  serve the dashboards with Voila on 127.0.0.1
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from aelab import __version__


def _cmd_data_list(args: argparse.Namespace) -> int:
    from aelab import data

    root = data.data_root(args.root)
    print(f"data root: {root}")
    print(f"{'name':18} {'train/valid/test':>20}  {'state':9} location")
    for name, meta in data.DATASETS.items():
        state, where = data.status(name, root=args.root, seed=args.seed)
        sizes = "/".join(str(s) for s in meta.sizes)
        print(f"{name:18} {sizes:>20}  {state:9} {where}")
    from aelab.data.natural import NATURAL, natural_status

    print("natural images (aelab.data.natural.load_natural; official files, downloaded on request):")
    for name, meta in NATURAL.items():
        state, where = natural_status(name, root=args.root)
        print(f"{name:18} {'/'.join(meta.splits):>20}  {state:9} {where}")
    return 0


def _cmd_data_prepare(args: argparse.Namespace) -> int:
    from aelab import data

    from aelab.data import natural

    if args.name in natural.NATURAL:
        for split in natural.NATURAL[args.name].splits:
            natural.ensure_files(args.name, split, root=args.root)
        print(f"{args.name:18} ready in {data.data_root(args.root) / natural.NATURAL[args.name].folder}")
        return 0
    names = list(data.DATASETS) if args.name == "all" else [args.name]
    for name in names:
        data.catalog.info(name)  # unknown names fail before any work
    for name in names:
        started = time.perf_counter()
        where = data.prepare(name, root=args.root, seed=args.seed, progress=True)
        print(f"{name:18} ready in {time.perf_counter() - started:6.1f} s  {where or 'embedded'}")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from aelab.experiments import registry

    for name, experiment in registry().items():
        datasets = f"  datasets: {', '.join(experiment.datasets)}" if experiment.datasets else ""
        print(f"{name:20} {experiment.title}  [{experiment.paper}]{datasets}")
    return 0


def _parse_overrides(extra: list[str]) -> dict[str, str]:
    """`--regularizer cae --depth 3` -> {'regularizer': 'cae', 'depth': '3'}."""
    overrides: dict[str, str] = {}
    i = 0
    while i < len(extra):
        token = extra[i]
        if not token.startswith("--"):
            raise SystemExit(f"aelab reproduce: unexpected argument {token!r}")
        key, sep, value = token[2:].partition("=")
        if not sep:
            if i + 1 >= len(extra) or extra[i + 1].startswith("--"):
                raise SystemExit(f"aelab reproduce: option {token} needs a value")
            value = extra[i + 1]
            i += 1
        overrides[key.replace("-", "_")] = value
        i += 1
    return overrides


def _cmd_reproduce(args: argparse.Namespace, extra: list[str]) -> int:
    from tqdm import tqdm

    from aelab.experiments.runner import read_result, reproduce
    from aelab.fileio import atomic_path
    from aelab.viz import figure_for_result

    bar = tqdm(total=1, desc=args.name, unit="step", disable=args.quiet, dynamic_ncols=True)

    def progress(done: int, total: int, desc: str) -> None:
        bar.total = max(total, 1)
        bar.set_description(desc or args.name, refresh=False)
        bar.n = done
        bar.refresh()

    try:
        folder = reproduce(args.name, scale=args.scale, dataset=args.dataset, device=args.device,
                           seed=args.seed, out=args.out, overrides=_parse_overrides(extra),
                           progress=progress, log=tqdm.write)
    finally:
        bar.close()
    result, arrays = read_result(folder)
    figure = figure_for_result(result, arrays)
    with atomic_path(folder / "figure.html") as tmp:
        figure.write_html(str(tmp), include_plotlyjs="cdn", full_html=True)
    print(f"{args.name}: {result['seconds']:.1f} s on {result['env'].get('device')}; wrote {folder}/result.json "
          f"and figure.html")
    for key, value in result["metrics"].items():
        if not isinstance(value, (list, dict)):
            paper = result["paper"].get(key)
            print(f"  {key}: {value}" + (f"   (paper: {paper})" if paper is not None else ""))
    return 0


def _cmd_lab(args: argparse.Namespace) -> int:
    from aelab.widgets import lab

    folder = lab.find_notebooks(args.notebooks)
    argv = lab.voila_argv(folder, port=args.port, open_browser=not args.no_browser, preheat=args.preheat,
                          timeout=args.timeout, cull_idle=args.cull_idle, cull_interval=args.cull_interval,
                          tracebacks=args.tracebacks)
    if args.print_command:
        print(" ".join(["voila", *argv]))
        return 0
    return lab.serve(folder, argv, args.port)


def _cmd_train(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from aelab.device import resolve_device
    from aelab.train.schemes import TrainConfig, train_one

    config = TrainConfig(model=args.model, dataset=args.dataset, hidden=args.hidden, noise=args.noise,
                         contractive=args.contractive, sparsity=args.sparsity, epochs=args.epochs,
                         batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr, n_train=args.n_train)
    config.build(1)  # bad flags fail here, before any data is loaded
    bar = tqdm(total=1, desc="train", unit="batch", dynamic_ncols=True)

    def progress(done: int, total: int, desc: str) -> None:
        bar.total, bar.n = max(total, 1), done
        bar.set_description(desc, refresh=False)
        bar.refresh()

    try:
        metrics = train_one(config, args.out, device=resolve_device(args.device), seed=args.seed,
                            resume=args.resume, progress=progress, log=tqdm.write)
    finally:
        bar.close()
    print(f"wrote {args.out}/weights.safetensors, config.json and record.json; "
          f"seconds per epoch: {', '.join(f'{s:.1f}' for s in metrics['seconds_per_epoch'])}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aelab", description="aelab: an autoencoder lab (models, experiments, dashboards)")
    parser.add_argument("--version", action="version", version=f"aelab {__version__}")
    parser.add_argument("--threads", type=int, metavar="N",
                        help="CPU threads for torch (default: $AELAB_THREADS, else one per core); "
                             "1 is often fastest on a busy shared machine")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    data = sub.add_parser("data", help="list, download and generate datasets")
    data_sub = data.add_subparsers(dest="data_command", metavar="ACTION")
    for action, helptext in (("list", "show each dataset: present, generated or missing, and where"),
                             ("prepare", "download (MNIST) or generate and cache a dataset")):
        p = data_sub.add_parser(action, help=helptext)
        if action == "prepare":
            p.add_argument("name", help="a dataset name (see 'aelab data list') or 'all'")
        p.add_argument("--root", help="data folder (default: $AELAB_DATA, else ~/.cache/aelab)")
        p.add_argument("--seed", type=int, default=0, help="seed of the generated sets (default 0)")
        p.set_defaults(func=_cmd_data_list if action == "list" else _cmd_data_prepare)

    p = sub.add_parser("list", help="list the experiments and what each reproduces")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("reproduce", help="run one experiment; writes OUT/NAME/result.json and figure.html",
                       description="Run one experiment. Options not listed here (e.g. --depth 3) set fields "
                                   "of the experiment's config; 'aelab list' names the experiments.")
    p.add_argument("name", help="experiment name (see 'aelab list')")
    p.add_argument("--dataset", help="dataset for experiments that take one")
    p.add_argument("--scale", choices=("smoke", "teach", "paper"), default="teach",
                   help="smoke: seconds (tests); teach: under a minute on 2 cores; paper: the paper's settings (GPU)")
    p.add_argument("--device", default="auto", help="auto (cuda, then mps, then cpu), cpu, cuda or mps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs", help="output folder (default ./runs)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_reproduce, takes_extra=True)

    p = sub.add_parser("train", help="train one autoencoder from flags; writes a checkpoint and record.json")
    p.add_argument("--model", choices=("ae", "dae", "cae", "sparse"), default="dae")
    p.add_argument("--dataset", default="mnist")
    p.add_argument("--hidden", type=int, default=1000)
    p.add_argument("--noise", default="masking:0.25", help="corruption of dae, e.g. masking:0.25, gaussian:0.3")
    p.add_argument("--contractive", type=float, default=0.1, help="contraction weight of cae")
    p.add_argument("--sparsity", type=float, default=0.1, help="KL sparsity weight of sparse (target 0.05)")
    p.add_argument("--epochs", type=int, default=2,
                   help="epochs to train now (with --resume: more epochs after those already in the checkpoint)")
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--optimizer", choices=("sgd", "rmsprop"), default="rmsprop")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--n-train", type=int, default=0, help="use the first N training examples (0 = all)")
    p.add_argument("--out", required=True, help="checkpoint folder to write")
    p.add_argument("--resume", help="checkpoint folder to continue from")
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("lab", help="serve the dashboards (notebooks) with Voila on 127.0.0.1 and print the URL")
    p.add_argument("--port", type=int, default=8866, help="port on 127.0.0.1 (default 8866)")
    p.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    p.add_argument("--notebooks", help="folder of dashboards (default: the checkout's notebooks/; see aelab.widgets.lab)")
    p.add_argument("--preheat", type=int, default=1, metavar="N",
                   help="kernels kept ready per dashboard, already run (default 1; 0: start on request)")
    p.add_argument("--timeout", type=int, default=300, help="seconds a dashboard cell may run (default 300)")
    p.add_argument("--cull-idle", type=int, default=900, help="shut down kernels idle this many seconds (default 900)")
    p.add_argument("--cull-interval", type=int, default=60, help="seconds between idle-kernel checks (default 60)")
    p.add_argument("--tracebacks", action="store_true", help="show Python tracebacks in the page (debugging)")
    p.add_argument("--print-command", action="store_true", help="print the voila command line and exit")
    p.set_defaults(func=_cmd_lab)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if args.command is None else 2
    if extra and not getattr(args, "takes_extra", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    from aelab.data.errors import DataError
    from aelab.device import set_threads

    try:
        set_threads(args.threads)
        return args.func(args, extra) if getattr(args, "takes_extra", False) else args.func(args)
    except (DataError, KeyError, ValueError, RuntimeError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"aelab: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("aelab: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
