"""Named grids transcribed from each paper's own search: data, not code.

A `GridPreset` names the experiment it sweeps and

- `fixed`: config fields every cell sets;
- `grids`: one or more sub-grids, each {field: values}; the cells are the union of their
  cross products (sub-grids let an axis depend on another: Zhao's unsup-sfx has no lambda,
  Zhou's CAE varies a contraction weight where the DAE varies a noise level);
- `select`: the fields chosen on validation; the other grid fields make the table's rows;
- `metrics`: where a result keeps the reported metric, the one the choice is made on, and
  (for experiments that return several models per run, like Zhou's schemes L/U/J/UJ) the
  sub-rows. Paths are dotted keys into `result["metrics"]` (and `result["paper"]` for the
  paper's numbers); `{row}` stands for the sub-row;
- `scaled`: smaller axes for the smoke and teach scales (the paper's grid is for `paper`),
  so the same preset runs in seconds in CI and in minutes on a laptop;
- `seed_fields`: config fields set to the replicate's seed (Zhao's label draws);
- `notes`: where the paper is silent, what was chosen.

A grid value given for a tuple field of the config (Zhou's `lrs`, Vincent's `levels`, Zhao's
`lambdas`) means a one-point inner grid: the experiment's own search is cut to that point,
and the sweep does the search across cells.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from aelab.errors import UnknownName

Axes = Mapping[str, tuple]


@dataclass(frozen=True)
class Metrics:
    """How to read a cell's result.json: dotted paths, `{row}` = the sub-row."""

    test: str  # the reported metric (mean +- 95% interval over seeds)
    valid: str  # the metric the cell is chosen on
    rows: str | None = None  # a dict in result["metrics"] whose keys are the sub-rows
    interval: str | None = None  # the paper's interval, in result["paper"]
    paper: str | None = None  # the paper's value in result["paper"] (default: the `test` path)
    maximize: bool = False  # choose the largest `valid` (default: the smallest: errors)

    def paper_path(self) -> str:
        return self.paper or self.test


@dataclass(frozen=True)
class GridPreset:
    name: str
    experiment: str
    paper: str  # the table it reproduces
    grids: tuple[Axes, ...]
    select: tuple[str, ...]
    metrics: Metrics
    fixed: Mapping[str, Any] = field(default_factory=dict)
    scaled: Mapping[str, Axes] = field(default_factory=dict)
    seed_fields: tuple[str, ...] = ()
    notes: str = ""

    @property
    def title(self) -> str:
        return f"{self.experiment} --preset {self.name}: {self.paper}"


# ------------------------------------------------------------------------------ Zhou et al.
# Section IV: "learning rate (from the set {0.001,0.005,0.01,0.02}), noise level (from the set
# {0.1,0.3,0.5,0.7,0.9}) for deep denoising autoencoders (deep-DAE), and contraction level
# (from the set {0.01,0.05,0.15,0.3,0.6}) for deep contractive autoencoders"; depth 2 and 3;
# the best validation model reports its test error. Rows of Tables II-VII: these 9 datasets.
ZHOU_DATASETS = ("mnist", "mnist-basic", "mnist-rot", "mnist-bg-img", "mnist-bg-rand", "mnist-rot-bg-img",
                 "rectangles", "rectangles-img", "convex")
ZHOU_LRS = (0.001, 0.005, 0.01, 0.02)
ZHOU_NOISE = (0.1, 0.3, 0.5, 0.7, 0.9)
ZHOU_CONTRACTION = (0.01, 0.05, 0.15, 0.3, 0.6)
ZHOU_L2 = (1e-4, 1e-3)  # not printed in the paper (footnote 7 only says "L2 constraints")
ZHOU_METRICS = Metrics(test="test_error_percent.{row}", valid="chosen.{row}.valid_error_percent",
                       rows="test_error_percent", interval="test_error_interval_percent.{row}")
_ZHOU_LEVEL = {"dae": "noise_levels", "cae": "contraction_levels", "l2": "l2_levels"}
_ZHOU_GRID = {"dae": ZHOU_NOISE, "cae": ZHOU_CONTRACTION, "l2": ZHOU_L2}
_ZHOU_NOTES = ("Schemes L, U, J, UJ come from one run per cell (U and UJ continue L's layer-wise phase, as in the "
               "paper), so they are sub-rows, not grid axes. Paper silent: the SVM's C (the experiment chooses it "
               "on validation inside the cell from its svm_cs) and the seeds (one run per cell in the paper).")


def _zhou(name: str, experiment: str, regularizer: str, table: str) -> GridPreset:
    level = _ZHOU_LEVEL[regularizer]
    notes = _ZHOU_NOTES
    if regularizer == "l2":
        notes += (" Table IV/VII: the L2 weight grid is not printed; we search {1e-4, 1e-3}. Only joint training "
                  "(AE-2, AE-3), as in the table.")
    if experiment == "zhou-finetune":
        notes += (" Fine-tuning: at most 1000 epochs, early stopping on validation (the paper); its learning rate "
                  "is not printed: the pre-training rate is used.")
    return GridPreset(
        name=name, experiment=experiment, paper=f"Zhou et al., Table {table}",
        fixed={"regularizer": regularizer, "schemes": ("L", "U", "J", "UJ")},
        grids=({"dataset": ZHOU_DATASETS, "depth": (2, 3), "lrs": ZHOU_LRS, level: _ZHOU_GRID[regularizer]},),
        select=("lrs", level), metrics=ZHOU_METRICS,
        scaled={"smoke": {"dataset": ("digits",), "depth": (2,), "lrs": (0.01, 0.02),
                          level: _ZHOU_GRID[regularizer][1:3]},
                # teach: one dataset, depth 2, the paper's whole hyperparameter grid (20 cells a seed for
                # DAE/CAE, about 25 s each on one core)
                "teach": {"dataset": ("mnist",), "depth": (2,)}},
        notes=notes)


# ------------------------------------------------------------------------------ Vincent et al.
# Table 1 (SdA-3): "Several values of hyper parameters (destruction fraction nu, layer sizes,
# number of unsupervised training epochs) were tried, combined with early stopping in the fine
# tuning phase. For each task, the best model was selected based on its classification
# performance on the validation set." The values tried are not printed.
VINCENT_DATASETS = ("mnist-basic", "mnist-rot", "mnist-bg-rand", "mnist-bg-img", "mnist-rot-bg-img",
                    "rectangles", "rectangles-img", "convex")
VINCENT_NU = (0.1, 0.25, 0.4)

# ------------------------------------------------------------------------------ Zhao et al.
# Tables 4-5: N labels in {100, 600, 1000, 3000}, balanced over the classes, drawn afresh in
# every round ("datasets are refreshed before each round and we average the performances of
# all rounds"); lambda_L2* (lambda_L2rec = lambda_L2M) chosen on validation error (Fig. 5
# plots the error against it without listing the values).
ZHAO_N = (100, 600, 1000, 3000)
ZHAO_LAMBDAS = (0.2, 0.4, 0.8, 1.6)
_ZHAO_NOTES = ("Label draws are the seeds: seed s draws labelled set s (label_seed = seed), and the model is "
               "initialised with seed s. Paper silent: the lambda_L2* values searched (Fig. 5 has no tick labels "
               "in the text); we search {0.2, 0.4, 0.8, 1.6}, which brackets the values it reports as chosen "
               "elsewhere (0.4 and 0.8 on SVHN, 0.2 on STL-10); the number of rounds (we default to the seeds "
               "given); training length and optimiser (the experiment's: Adam, 10 epochs).")

PRESETS: tuple[GridPreset, ...] = (
    _zhou("table2", "zhou-svm", "dae", "II (deep DAE, linear SVM on the top codes)"),
    _zhou("table3", "zhou-svm", "cae", "III (deep CAE, linear SVM on the top codes)"),
    _zhou("table4", "zhou-svm", "l2", "IV (deep AE with L2 weight penalty, linear SVM)"),
    _zhou("table5", "zhou-finetune", "dae", "V (deep DAE fine-tuned as an MLP)"),
    _zhou("table6", "zhou-finetune", "cae", "VI (deep CAE fine-tuned as an MLP)"),
    _zhou("table7", "zhou-finetune", "l2", "VII (deep AE with L2 penalty, fine-tuned)"),
    GridPreset(
        name="table1", experiment="vincent-sda", paper="Vincent et al. 2008, Table 1 (SdA-3)",
        grids=({"dataset": VINCENT_DATASETS, "levels": VINCENT_NU},), select=("levels",),
        metrics=Metrics(test="test_error_percent", valid="valid_error_percent",
                        interval="test_error_interval_percent"),
        scaled={"smoke": {"dataset": ("digits",), "levels": (0.1, 0.25)},
                "teach": {"dataset": ("mnist-basic",)}},
        notes=("Paper silent on the values tried: nu from {10, 25, 40}% (the values Table 1 reports as chosen; "
               "nu = 0 is the separate SAA-3 column); layer sizes fixed at 3 x 1000 and 15 pre-training epochs "
               "(Theano's SdA.py recipe, the experiment's paper preset) instead of searching them.")),
    GridPreset(
        name="table4", experiment="zhao-semisup", paper="Zhao et al. 2016, Table 4 (validation error %)",
        fixed={"dropout": 0.5, "compare_baseline": False, "label_pool": "train"},
        grids=({"variant": ("swwae", "noL2M"), "n_labels": ZHAO_N, "lambdas": ZHAO_LAMBDAS},
               {"variant": ("unsup-sfx",), "n_labels": ZHAO_N}),
        select=("lambdas",), seed_fields=("label_seed",),
        metrics=Metrics(test="valid_error_percent", valid="valid_error_percent"),
        scaled={"smoke": {"n_labels": (100,), "lambdas": (0.4, 1.6)},
                "teach": {"n_labels": (100, 1000), "lambdas": (0.4, 1.6)}},
        notes=("Table 4 reports validation error (dropout on the fc layer), so the reported metric is the one "
               "chosen on, as in the paper. " + _ZHAO_NOTES)),
    GridPreset(
        name="table5", experiment="zhao-semisup", paper="Zhao et al. 2016, Table 5 (test error %)",
        fixed={"compare_baseline": False, "label_pool": "train"},  # one lambda a cell: chosen on validation
        grids=({"variant": ("swwae",), "dropout": (0.5, 0.0), "n_labels": ZHAO_N, "lambdas": ZHAO_LAMBDAS},
               {"variant": ("baseline",), "dropout": (0.0,), "n_labels": ZHAO_N}),
        select=("lambdas",), seed_fields=("label_seed",),
        metrics=Metrics(test="test_error_percent", valid="valid_error_percent"),
        scaled={"smoke": {"n_labels": (100,), "lambdas": (0.4, 1.6)},
                "teach": {"n_labels": (100, 1000), "lambdas": (0.4, 1.6)}},
        notes=("Rows: SWWAE with dropout 0.5 and without, and the convnet baseline (the same network with "
               "lambda_L2* = 0, no dropout, as LeCun et al.'s convnet had none). " + _ZHAO_NOTES)),
)

# metrics of experiments a --grid may sweep without a preset (the first preset's, else these)
EXTRA_METRICS = {
    # the lecture's claim has no held-out set: choose on the training reconstruction error
    "lecture-pca": Metrics(test="error_ratio", valid="ae_error", paper="error_ratio"),
}


def presets_of(experiment: str) -> dict[str, GridPreset]:
    return {p.name: p for p in PRESETS if p.experiment == experiment}


def get_preset(experiment: str, name: str) -> GridPreset:
    found = presets_of(experiment)
    if name not in found:
        known = ", ".join(found) or "none"
        raise UnknownName(f"{experiment}: unknown grid preset {name!r}; its presets: {known} "
                          f"(all: {', '.join(f'{p.experiment} {p.name}' for p in PRESETS)})")
    return found[name]


def default_metrics(experiment: str) -> Metrics | None:
    """The metrics a sweep of `experiment` reads when no preset names them."""
    for preset in PRESETS:
        if preset.experiment == experiment:
            return preset.metrics
    return EXTRA_METRICS.get(experiment)


__all__ = ["Metrics", "GridPreset", "PRESETS", "presets_of", "get_preset", "default_metrics"]
