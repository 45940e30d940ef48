"""What one paper-scale cell of Zhou's and Vincent's grids costs, from measured epochs
(the numbers behind docs/sweeps.md), torch on one CPU thread as `aelab sweep` runs a cell:

  zhou    MNIST (50,000 images), 1000 logistic units per layer, depth 2 and 3, batch 100,
          RMSprop: one layer-wise epoch of every layer, one joint epoch (DAE and CAE), the
          top codes, the linear SVM over the 4 Cs of the experiment, one fine-tuning epoch
  vincent SdA-3 on 1,000 mnist-basic images, batch 1, SGD: one pre-training epoch of the
          3 layers, one fine-tuning epoch (scale by 10 for the 10,000 images of a set)

A paper cell is then 300 x these epochs (+ the SVMs, + fine-tuning until early stopping),
as docs/sweeps.md works out.

    python benchmarks/sweep_costs.py      # about 15 minutes on a 2-core machine

Writes benchmarks/results/sweep_costs-cpu.json (seconds, load average, versions).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import torch

from aelab.data import splits
from aelab.experiments.vincent import init_generator
from aelab.experiments.zhou import ZhouConfig, _codes, _model
from aelab.fileio import write_json_atomic
from aelab.measure.probes import linear_svm_probe
from aelab.models.dense import noise_string
from aelab.models.registry import build_model
from aelab.train.finetune import finetune
from aelab.train.loop import FitConfig
from aelab.train.records import environment
from aelab.train.schemes import train_joint, train_layerwise

OUT = Path(__file__).resolve().parent / "results" / "sweep_costs-cpu.json"


def main() -> None:
    torch.set_num_threads(1)
    out: dict = {"benchmark": "sweep_costs", "threads": 1, "load_before": os.getloadavg()}

    def timed(label, fn):
        started = time.perf_counter()
        result = fn()
        out[label] = time.perf_counter() - started
        print(f"{label}: {out[label]:.1f} s", flush=True)
        return result

    train, valid, test = splits("mnist", "cpu")
    one = FitConfig(epochs=1, batch_size=100, optimizer="rmsprop", lr=0.01)
    common = dict(x_eval=train.x[:2000], x_test=test.x[:2000])
    for depth in (2, 3):
        model = _model(ZhouConfig(depth=depth, regularizer="dae"), train.n_features, 0.3, 0)
        timed(f"zhou_mnist_layerwise_d{depth}_1epoch_per_layer",
              lambda: train_layerwise(model, train.x, one, generator=torch.Generator().manual_seed(0), **common))
        timed(f"zhou_mnist_joint_d{depth}_1epoch",
              lambda: train_joint(model, train.x, one, generator=torch.Generator().manual_seed(1), **common))
        codes = timed(f"zhou_mnist_codes_d{depth}",
                      lambda: (_codes(model, train.x), _codes(model, valid.x), _codes(model, test.x)))
        timed(f"zhou_mnist_svm_4Cs_d{depth}", lambda: linear_svm_probe(
            codes[0], train.y, codes[1], valid.y, codes[2], test.y, Cs=(0.01, 0.1, 1.0, 10.0)))
        timed(f"zhou_mnist_finetune_d{depth}_1epoch", lambda: finetune(
            model, train, valid, test, one, patience=50, n_classes=10, generator=torch.Generator().manual_seed(2)))
        cae = _model(ZhouConfig(depth=depth, regularizer="cae"), train.n_features, 0.05, 0)
        timed(f"zhou_mnist_cae_joint_d{depth}_1epoch",
              lambda: train_joint(cae, train.x, one, generator=torch.Generator().manual_seed(1), **common))
    train, valid, test = splits("mnist-basic", "cpu")
    sub = train.subset(slice(0, 1000))
    sda = build_model("deep", sizes=[train.n_features, 1000, 1000, 1000], noise=noise_string(("masking", 0.1)),
                      generator=init_generator(0))
    timed("vincent_pretrain_1000ex_1epoch_per_layer", lambda: train_layerwise(
        sda, sub.x, FitConfig(epochs=1, batch_size=1, optimizer="sgd", lr=0.001), x_eval=sub.x[:200],
        generator=torch.Generator().manual_seed(0)))
    timed("vincent_finetune_1000ex_1epoch", lambda: finetune(
        sda, sub, valid.subset(slice(0, 200)), test.subset(slice(0, 200)),
        FitConfig(epochs=1, batch_size=1, optimizer="sgd", lr=0.1), patience=50, n_classes=10,
        generator=torch.Generator().manual_seed(2)))
    out["load_after"] = os.getloadavg()
    out["env"] = environment("cpu")
    write_json_atomic(OUT, out)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
