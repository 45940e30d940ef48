"""The `aelab` command: data, experiments, training and the dashboards.

    aelab data list                      which datasets are present, generated or missing
    aelab data prepare NAME|all          download / generate and cache datasets
    aelab list                           the experiments and what each reproduces
    aelab reproduce NAME [--scale ...]   run one experiment, write result.json + figure.html
    aelab train --model dae --out DIR    train one autoencoder, write a checkpoint + record.json
    aelab lab [--port P] [--no-browser]  serve the dashboards with Voila on 127.0.0.1
    aelab sweep NAME --preset P ...      run a paper's grid on Ray: one folder per cell, a table
    aelab zoo list|verify|rebuild NAME   the model zoo of full-tier models (results/zoo)
    aelab results [--write README.md]    the table paper | full tier | teach tier of the shipped results

Bad input (`aelab.errors.UsageError`, or an OSError about a path named by --out, --root,
--resume or --notebooks) is printed as one line and exits 1; any other exception keeps its
traceback, so a bug is never disguised as a user error. Every flag is range-checked before
any work (`aelab.checks`; seeds are 0 .. 2**32 - 1), and the output folder is created and
proved writable first.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from aelab import __version__
from aelab.errors import UsageError


def _cmd_data_list(args: argparse.Namespace) -> int:
    from aelab import checks, data

    checks.seed(args.seed, "--seed")

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
    from aelab import checks, data

    checks.seed(args.seed, "--seed")

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
            raise UsageError(f"reproduce: unexpected argument {token!r} (experiment options look like --name VALUE)")
        key, sep, value = token[2:].partition("=")
        if not sep:
            if i + 1 >= len(extra) or extra[i + 1].startswith("--"):
                raise UsageError(f"reproduce: option {token} needs a value")
            value = extra[i + 1]
            i += 1
        overrides[key.replace("-", "_")] = value
        i += 1
    return overrides


def _pinned_threads(args: argparse.Namespace) -> int | None:
    """The CPU thread count this command pinned torch to (`--threads`, else `$AELAB_THREADS`), or None."""
    from aelab import settings

    return args.threads if args.threads is not None else settings.threads()


def _cmd_reproduce(args: argparse.Namespace, extra: list[str]) -> int:
    from tqdm import tqdm

    from aelab import checks
    from aelab.experiments.runner import FIGURE, read_result, reproduce
    from aelab.fileio import atomic_path
    from aelab.viz import figure_for_result

    checks.seed(args.seed, "--seed")
    _check_out_folder(args.out)
    bar = _LazyBar(desc=args.name, unit="step", disable=args.quiet)

    def progress(done: int, total: int, desc: str) -> None:
        bar.update_to(done, total, desc or args.name)

    def add_figure(folder: Path) -> None:  # written into the new result folder before it is moved into place
        figure = figure_for_result(*read_result(folder))
        with atomic_path(folder / FIGURE) as tmp:
            figure.write_html(str(tmp), include_plotlyjs="cdn", full_html=True)

    try:
        folder = reproduce(args.name, scale=args.scale, dataset=args.dataset, device=args.device,
                           seed=args.seed, out=args.out, overrides=_parse_overrides(extra),
                           progress=progress, log=tqdm.write, finish=add_figure, resume=not args.fresh,
                           threads=_pinned_threads(args))
    finally:
        bar.close()
    result, _ = read_result(folder)
    print(f"{args.name}: {result['seconds']:.1f} s on {result['env'].get('device')}; wrote {folder}/result.json "
          f"and figure.html")
    for key, value in result["metrics"].items():
        if not isinstance(value, (list, dict)):
            paper = result["paper"].get(key)
            print(f"  {key}: {value}" + (f"   (paper: {paper})" if paper is not None else ""))
    return 0


class _LazyBar:
    """A tqdm bar that appears with the first progress report and is cleared when closed, so
    that an error is the only line left on stderr (one found before any work, the only line)."""

    def __init__(self, **options) -> None:
        self.options, self.bar = options, None

    def update_to(self, done: int, total: int, desc: str) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=1, dynamic_ncols=True, leave=False, **self.options)
        self.bar.total, self.bar.n = max(total, 1), done
        self.bar.set_description(desc, refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _cmd_lab(args: argparse.Namespace) -> int:
    import shlex

    from aelab.widgets import lab

    folder = lab.find_notebooks(args.notebooks)
    max_kernels = lab.check_options(folder, port=args.port, preheat=args.preheat, timeout=args.timeout,
                                    cull_idle=args.cull_idle, cull_interval=args.cull_interval,
                                    max_kernels=args.max_kernels)
    argv = lab.voila_argv(folder, port=args.port, open_browser=not args.no_browser, preheat=args.preheat,
                          timeout=args.timeout, cull_idle=args.cull_idle, cull_interval=args.cull_interval,
                          tracebacks=args.tracebacks, max_kernels=max_kernels, allow_hosts=args.allow_host,
                          fork=not args.no_fork)
    if args.print_command:
        print(shlex.join(["voila", *argv]))
        return 0
    return lab.serve(folder, argv, args.port, fork=not args.no_fork)


def _cmd_train(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from aelab import checks
    from aelab.device import resolve_device
    from aelab.train.checkpoints import CheckpointError
    from aelab.train.schemes import TrainConfig, train_one

    config = TrainConfig(model=args.model, dataset=args.dataset, hidden=args.hidden, noise=args.noise,
                         contractive=args.contractive, sparsity=args.sparsity, epochs=args.epochs,
                         batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr, n_train=args.n_train)
    checks.seed(args.seed, "--seed")
    config.check()  # every flag range-checked before any work
    _check_out_folder(args.out)
    if args.resume is not None and not Path(args.resume).expanduser().is_dir():
        raise UsageError(f"--resume {args.resume} is not a folder: name the --out folder of the run to continue")
    try:
        config.build(1)  # bad flags fail here, before any data is loaded
    except ValueError as err:  # building from the flags alone: any refusal is about the flags
        raise UsageError(str(err)) from err
    bar = _LazyBar(desc="train", unit="batch")

    def progress(done: int, total: int, desc: str) -> None:
        bar.update_to(done, total, desc)

    try:
        metrics = train_one(config, args.out, device=resolve_device(args.device), seed=args.seed,
                            resume=args.resume, progress=progress, log=tqdm.write)
    except CheckpointError as err:  # --resume names a folder that is not a readable checkpoint
        raise UsageError(str(err)) from err
    finally:
        bar.close()
    print(f"wrote {args.out}/weights.safetensors, config.json and record.json; "
          f"seconds per epoch: {', '.join(f'{s:.1f}' for s in metrics['seconds_per_epoch'])}")
    return 0


def _cmd_results(args: argparse.Namespace) -> int:
    from aelab.experiments import report

    if args.write:
        changed = report.write_readme(args.write)
        print(f"{args.write}: results table {'updated' if changed else 'already up to date'}")
    else:
        print(report.markdown())
    return 0


def _cmd_zoo(args: argparse.Namespace) -> int:
    from aelab.experiments import zoo

    if args.action == "list":
        records = zoo.manifest()["models"]
        print(f"zoo: {zoo.root()}")
        for name, spec in zoo.ENTRIES.items():
            record = records.get(name)
            state = "absent" if record is None else ("ok" if not zoo.verify(name) else "damaged")
            size = f"{record['bytes'] / 2**20:6.2f} MB" if record else " " * 9
            print(f"  {name:20} {state:8} {size}  {spec.description}  [{spec.experiment}]")
        total = sum(r.get("bytes", 0) for r in records.values())
        print(f"  {len(records)} of {len(zoo.ENTRIES)} present, {total / 2**20:.1f} MB of {zoo.BUDGET_BYTES / 2**20:.0f} MB")
        return 0
    if args.action == "verify":
        problems = zoo.verify_all()
        for problem in problems:
            print(problem)
        count = len(zoo.manifest()["models"])
        print(f"zoo: {count} models, " + ("all verified" if not problems else f"{len(problems)} problem(s)"))
        return 1 if problems else 0
    if not args.names:
        raise UsageError("zoo rebuild: name the model(s) to rebuild (see `aelab zoo list`)")
    for name in args.names:
        zoo.entry(name)
    for name in args.names:
        record = zoo.rebuild(name, from_result=args.from_result, device=args.device, threads=_pinned_threads(args))
        print(f"{name}: {record['bytes'] / 2**20:.2f} MB, from `{record['command']}`")
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from aelab.sweep import build_plan, parse_grid, run_sweep
    from aelab.sweep.execute import cells_to_run, import_ray
    from aelab.sweep.presets import Metrics

    if not args.in_process and not args.dry_run:
        import_ray()  # without Ray: one line saying how to get it, before any work
    metrics = None
    if args.metric or args.valid:
        if not (args.metric and args.valid):
            raise UsageError("--metric and --valid go together (dotted keys of result.json's metrics)")
        metrics = Metrics(test=args.metric, valid=args.valid)
    plan = build_plan(args.name, preset=args.preset, grid=parse_grid(args.grid or []), seeds=args.seeds,
                      scale=args.scale, select=args.select.split(",") if args.select else None, metrics=metrics)
    out = args.out or str(Path("runs") / "sweeps" / plan.name)
    _check_out_folder(out)
    todo = cells_to_run(plan, out)
    print(f"{plan.name}: {len(plan.cells)} cells ({len(plan.seeds)} seed(s)), {len(plan.cells) - len(todo)} "
          f"finished before; {plan.paper}; chosen on validation: {', '.join(plan.select) or 'nothing'}; out {out}")
    if args.dry_run:
        for cell in todo:
            print(f"  to run: {cell.key}  {cell.label()}")
        return 0
    bar = tqdm(total=len(plan.cells), desc=plan.name, unit="cell", dynamic_ncols=True, disable=args.quiet)

    def progress(done: int, total: int, desc: str) -> None:
        bar.total, bar.n = max(total, 1), done
        bar.set_postfix_str(desc, refresh=False)
        bar.refresh()

    try:
        summary = run_sweep(plan, out, backend="in-process" if args.in_process else "ray", address=args.address,
                            cpus_per_cell=args.cpus_per_cell, gpus_per_cell=args.gpus_per_cell, retries=args.retries,
                            num_cpus=args.num_cpus, device=args.device, dashboard=not args.no_dashboard,
                            progress=progress, log=tqdm.write)
    finally:
        bar.close()
    print(f"{plan.name}: {summary['ran']} cells run, {summary['skipped']} finished before, {summary['failed']} "
          f"failed, {summary['retried']} retried, in {summary['seconds']:.1f} s; wrote {out}/table.json and "
          f"figure.html")
    from aelab.fileio import read_json

    table = read_json(Path(out) / "table.json")
    for row in table["rows"]:
        ours = "—" if row["test_mean"] is None else f"{row['test_mean']:.2f}" + (
            f" ± {row['test_interval']:.2f}" if row["test_interval"] is not None else "")
        paper = "" if row["paper"] is None else f"   (paper: {row['paper']:.2f}" + (
            f" ± {row['paper_interval']:.2f})" if row["paper_interval"] is not None else ")")
        print(f"  {row['label']}: {ours}{paper}")
    for failure in table["failed"]:
        print(f"  failed: {failure['label']}: {failure['error']}  (rerun the command to retry it)")
    return 0 if not summary["interrupted"] else 130


def _sweep_epilog() -> str:
    from aelab.sweep.presets import PRESETS

    lines = ["grid presets (NAME --preset P):"]
    lines += [f"  {p.experiment} --preset {p.name}: {p.paper}" for p in PRESETS]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    from aelab.scales import SCALE_HELP, SCALES

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
        p.add_argument("--seed", type=int, default=0, help="seed of the generated sets, 0 to 2**32-1 (default 0)")
        p.set_defaults(func=_cmd_data_list if action == "list" else _cmd_data_prepare)

    p = sub.add_parser("list", help="list the experiments and what each reproduces")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("reproduce", help="run one experiment; writes OUT/NAME/result.json and figure.html",
                       description="Run one experiment. Options not listed here (e.g. --depth 3) set fields "
                                   "of the experiment's config; 'aelab list' names the experiments.")
    p.add_argument("name", help="experiment name (see 'aelab list')")
    p.add_argument("--dataset", help="dataset for experiments that take one")
    p.add_argument("--scale", choices=SCALES, default="teach",
                   help="; ".join(f"{k}: {v}" for k, v in SCALE_HELP.items()))
    p.add_argument("--device", default="auto", help="auto (cuda, then mps, then cpu), cpu, cuda or mps")
    p.add_argument("--seed", type=int, default=0, help="seed of the run, 0 to 2**32-1 (default 0)")
    p.add_argument("--out", default="runs", help="output folder (default ./runs)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--fresh", action="store_true",
                   help="start afresh instead of resuming an unfinished run of the same command from its journal "
                        "(OUT/.aelab-journal)")
    p.set_defaults(func=_cmd_reproduce, takes_extra=True)

    p = sub.add_parser("train", help="train one autoencoder from flags; writes a checkpoint and record.json")
    p.add_argument("--model", choices=("ae", "dae", "cae", "sparse"), default="dae")
    p.add_argument("--dataset", default="mnist")
    p.add_argument("--hidden", type=int, default=1000)
    p.add_argument("--noise", default="masking:0.25", help="corruption of dae, e.g. masking:0.25, gaussian:0.3")
    p.add_argument("--contractive", type=float, default=0.1, help="contraction weight of cae")
    p.add_argument("--sparsity", type=float, default=0.1, help="KL sparsity weight of sparse (target 0.05)")
    p.add_argument("--epochs", type=int, default=2,
                   help="total epochs of the run (with --resume: the run continues until it has done this many)")
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--optimizer", choices=("sgd", "rmsprop", "adam"), default="rmsprop")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--n-train", type=int, default=0,
                   help="use the first N training examples (0 = all; more than the dataset has is an error)")
    p.add_argument("--out", required=True, help="checkpoint folder to write")
    p.add_argument("--resume", help="checkpoint folder of an interrupted run with the same flags: continue it "
                                    "exactly (model, optimizer and generator states)")
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights, data order and noise, 0 to 2**32-1")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("lab", help="serve the dashboards (notebooks) with Voila on 127.0.0.1 and print the URL")
    p.add_argument("--port", type=int, default=8866, help="port on 127.0.0.1 (default 8866)")
    p.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    p.add_argument("--notebooks", help="folder of dashboards (default: the checkout's notebooks/; see aelab.widgets.lab)")
    p.add_argument("--preheat", type=int, default=1, metavar="N",
                   help="kernels kept ready per dashboard, already run (default 1; 0: start on request)")
    p.add_argument("--timeout", type=int, default=300, help="seconds a dashboard cell may run (default 300)")
    p.add_argument("--cull-idle", type=int, default=300,
                   help="shut down kernels idle this many seconds whose page is closed (default 300)")
    p.add_argument("--cull-interval", type=int, default=60, help="seconds between idle-kernel checks (default 60)")
    p.add_argument("--max-kernels", type=int, metavar="N",
                   help="most live kernels at once, preheated ones included; further page loads get HTTP 503 "
                        "(default: the preheated ones + 6)")
    p.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                   help="also serve requests addressed to host NAME (e.g. behind a proxy; '*' = any). "
                        "By default only 127.0.0.1, ::1 and localhost are served")
    p.add_argument("--no-fork", action="store_true",
                   help="start each kernel as a new process instead of forking it from the lab's kernel zygote "
                        "(which has imported torch and the dashboards' modules once, for all kernels to share)")
    p.add_argument("--tracebacks", action="store_true", help="show Python tracebacks in the page (debugging)")
    p.add_argument("--print-command", action="store_true",
                   help="print the equivalent plain voila command line and exit (plain voila lacks the landing "
                        "page, the offline pages and the served plotly.js)")
    p.set_defaults(func=_cmd_lab)

    p = sub.add_parser("results", help="the table paper | full tier | teach tier from the shipped results",
                       description="Print the results table built from results/full and results/teach "
                                   "(AELAB_RESULTS), or write it into a README between its markers.")
    p.add_argument("--write", metavar="README", help="replace the table in this file (between its markers)")
    p.set_defaults(func=_cmd_results)

    p = sub.add_parser("zoo", help="the model zoo (results/zoo): list, verify, rebuild NAME",
                       description="The full-tier models the dashboards open on (float16 safetensors + config, "
                                   "sha256 in manifest.json). rebuild retrains a model from its experiment's full "
                                   "preset and seed 0 (hours on a CPU), or copies it from the shipped result with "
                                   "--from-result.")
    p.add_argument("action", choices=("list", "verify", "rebuild"))
    p.add_argument("names", nargs="*", metavar="NAME", help="model(s) to rebuild")
    p.add_argument("--from-result", action="store_true",
                   help="rebuild: copy from results/full/EXPERIMENT/models/ instead of retraining")
    p.add_argument("--device", default="auto", help="rebuild: auto, cpu, cuda or mps")
    p.set_defaults(func=_cmd_zoo)

    p = sub.add_parser("sweep", help="run a grid of an experiment's cells on Ray; a table chosen on validation",
                       formatter_class=argparse.RawDescriptionHelpFormatter, epilog=_sweep_epilog(),
                       description="Run every cell of a grid (each one `aelab reproduce` run, written to "
                                   "OUT/cells/KEY/), choose per row the cell with the best validation metric and "
                                   "write OUT/table.json (test mean ± 95%% interval over the seeds, the paper's "
                                   "number beside it) and figure.html. Rerunning the command runs only the "
                                   "cells not finished yet.")
    p.add_argument("name", help="experiment name (see 'aelab list')")
    p.add_argument("--preset", help="a paper's grid (listed below)")
    p.add_argument("--grid", action="append", metavar="FIELD=V1,V2",
                   help="a grid axis; replaces the preset's axis of that field (repeatable; a tuple value: (1,2))")
    p.add_argument("--seeds", default="0", help="replicates, e.g. 0-9 or 0,3,5 (default 0)")
    p.add_argument("--scale", choices=("smoke", "teach", "paper"), default="teach",
                   help="the experiment's preset under the grid; smoke and teach also shrink a preset's grid")
    p.add_argument("--address", help="join a Ray cluster: auto (one started with 'ray start' here), HOST:PORT "
                                     "or ray://HOST:PORT; default: start a local Ray on this machine")
    p.add_argument("--cpus-per-cell", type=float, default=1, metavar="N",
                   help="CPUs Ray reserves per cell; torch uses as many threads (default 1)")
    p.add_argument("--gpus-per-cell", type=float, default=0, metavar="F",
                   help="GPUs per cell, fractions share a GPU (default 0)")
    p.add_argument("--retries", type=int, default=2, help="retries of a cell whose worker died (default 2)")
    p.add_argument("--num-cpus", type=int, help="CPUs of the local Ray (default: all cores)")
    p.add_argument("--select", metavar="FIELD,...", help="grid fields chosen on validation (default: the "
                                                           "preset's, else every --grid field)")
    p.add_argument("--metric", metavar="PATH", help="reported metric: dotted key of result.json's metrics")
    p.add_argument("--valid", metavar="PATH", help="the metric cells are chosen on (with --metric)")
    p.add_argument("--device", default="auto", help="device of each cell: auto, cpu, cuda, mps")
    p.add_argument("--in-process", action="store_true", help="no Ray: run the cells here, one after another")
    p.add_argument("--no-dashboard", action="store_true", help="do not start Ray's dashboard (local Ray)")
    p.add_argument("--dry-run", action="store_true", help="list the cells still to run and exit")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--out", help="the sweep's folder (default runs/sweeps/NAME-PRESET)")
    p.set_defaults(func=_cmd_sweep)
    return parser


PATH_OPTIONS = ("out", "root", "resume", "notebooks")  # options that name a file or folder


def _user_path_option(err: OSError, args: argparse.Namespace) -> str | None:
    """`--out DIR` (say) when `err` is about that path or one inside or above it, else None."""
    failed = [Path(f).absolute() for f in (err.filename, getattr(err, "filename2", None))
              if isinstance(f, (str, Path))]
    for name in PATH_OPTIONS:
        value = getattr(args, name, None)
        if not value:
            continue
        named = Path(value).expanduser().absolute()
        if any(f == named or named in f.parents or f in named.parents for f in failed):
            return f"--{name} {value}"
    return None


def _check_out_folder(out: str) -> None:
    """Create --out and prove it writable before any work is done (a file, a read-only folder
    or a path through a file is a one-line error naming --out)."""
    from aelab.fileio import probe_writable

    probe_writable(out, f"--out {out}")


def _one_line(err: BaseException) -> str:
    """An error's message on one line (a message of several lines is joined with spaces)."""
    return " ".join(line.strip() for line in str(err).splitlines() if line.strip())


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if args.command is None else 2
    if extra and not getattr(args, "takes_extra", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    from aelab.device import set_threads
    from aelab.train.loop import TrainingDiverged

    try:
        if args.threads is not None and args.threads < 1:
            raise UsageError(f"--threads must be a positive integer, got {args.threads}")
        set_threads(args.threads)
        return args.func(args, extra) if getattr(args, "takes_extra", False) else args.func(args)
    except UsageError as err:  # bad input: one line; anything else keeps its traceback
        print(f"aelab: error: {_one_line(err)}", file=sys.stderr)
        return 1
    except TrainingDiverged as err:  # not a bug: the run's settings made the loss explode
        print(f"aelab: training diverged: {_one_line(err)}", file=sys.stderr)
        return 3
    except BrokenPipeError:  # stdout closed early (e.g. `aelab list | head -1`): not an error worth a traceback
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as err:
        option = _user_path_option(err, args)
        if option is None:
            raise
        print(f"aelab: error: {option}: {err.strerror or err}: {err.filename}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("aelab: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
