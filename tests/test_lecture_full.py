"""The lecture's experiments at the full tier: each full preset is MNIST's whole training set with
the settings the lecture names (the rest, the lab's choice, listed as deviations, for `paper` too),
and a run that is started again on its journal restores exactly the stages it may restore, retrains the ones
whose epoch hooks read the model, and ends with the numbers of the first run."""

from __future__ import annotations

import numpy as np
import pytest

from aelab.experiments import get
from aelab.experiments.base import RunContext
from aelab.experiments.runner import check_config
from aelab.train.checkpoints import Journal

LECTURE = ("lecture-pca", "lecture-tour", "lecture-latent", "lecture-sparse-coding", "lecture-psd",
           "lecture-hashing", "lecture-vae", "lecture-tangents", "lecture-pretraining")
# how many examples each full preset trains on (MNIST's training split holds 50000; 0 = all of it)
WHOLE = (0, 50000)
# metrics that are timings, not results: they differ between two runs
TIMINGS = {"seconds", "solver_seconds", "encoder_seconds", "speedup", "encoder_faster_than_solver"}


@pytest.mark.parametrize("name", LECTURE)
def test_full_and_paper_presets_list_their_deviations(name):
    experiment = get(name)
    assert {"smoke", "teach", "full", "paper"} <= set(experiment.presets)
    for scale in ("full", "paper"):
        deviations = experiment.deviations[scale]
        assert isinstance(deviations, tuple) and deviations, (name, scale)
        assert all(isinstance(d, str) and len(d) > 20 for d in deviations), (name, scale)
        check_config(experiment, experiment.config(scale))
    full = experiment.presets["full"]
    if hasattr(full, "dataset"):
        assert full.dataset == "mnist"
    if hasattr(full, "n_train"):
        assert full.n_train in WHOLE, name


def test_full_presets_use_the_sources_settings():
    latent = get("lecture-latent").presets["full"]  # Theano's SdA.py layer and dA.py recipe, masking 25% as the lecture
    assert (latent.model, latent.n_hidden, latent.noise, latent.optimizer, latent.lr, latent.batch_size) == \
        ("dae", 1000, "masking:0.25", "sgd", 0.1, 20)
    vae = get("lecture-vae").presets["full"]  # the lab's VAE (the lecture names no model)
    assert (vae.n_hidden, vae.batch_size, vae.real_split) == (500, 100, "valid")
    assert vae.n_valid + vae.n_samples <= 10000 and vae.iwae_k >= 1000
    hashing = get("lecture-hashing").presets["full"]  # logistic units, every test image a query
    assert (hashing.middle, hashing.n_test) == ("sigmoid", 10000)
    tangents = get("lecture-tangents").presets["full"]  # the lecture's picture: a vertical translation
    assert tangents.vertical and tangents.caveat_train in WHOLE
    pretraining = get("lecture-pretraining").presets["full"]  # three layers, masking 0.25 (Glorot et al. 2011)
    assert len(pretraining.hidden) == 3 and pretraining.noise == "masking:0.25"
    assert pretraining.n_seeds >= 2
    for name in ("lecture-sparse-coding", "lecture-psd"):
        assert get(name).presets["full"].n_atoms == 256


def _same(a, b, where=""):
    """Equal results, timings aside."""
    if isinstance(a, dict):
        assert set(a) == set(b), where
        for key in a:
            if key not in TIMINGS:
                _same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b), where
    else:
        assert a == b, where


# the stages restored from the journal when a smoke run is started again: those whose hooks only read the
# epoch's metrics; the caveat's CAEs (tangents) and every fine-tuning (pretraining) read the model, so they
# are trained again
RESTORED = {
    "lecture-pca": 1, "lecture-latent": 1, "lecture-psd": 1,
    "lecture-hashing": 3,  # 8 and 16 bits at noise 4, 16 bits at noise 0 (16 bits at noise 4 is shared)
    "lecture-vae": 3,  # the VAE, the 2-D VAE, the DAE of the chains
    "lecture-tangents": 5,  # AE, DAE, CAE, toy DAE, toy CAE (not the untied and tied CAE of the caveat)
    "lecture-pretraining": 8,  # 2 seeds x 2 layers x (denoising, supervised); no fine-tuning
}


@pytest.mark.parametrize("name", sorted(RESTORED))
def test_a_run_started_again_on_its_journal_ends_with_the_same_numbers(name, tmp_path):
    experiment = get(name)
    config = experiment.presets["smoke"]
    first = experiment.run(config, RunContext(seed=0, journal=Journal(tmp_path, every_seconds=0)))
    journal = Journal(tmp_path, every_seconds=0)
    again = experiment.run(config, RunContext(seed=0, journal=journal))
    _same(first.metrics, again.metrics)
    assert set(first.arrays) == set(again.arrays)
    for key in first.arrays:
        np.testing.assert_array_equal(first.arrays[key], again.arrays[key], err_msg=f"{name}: {key}")
    assert journal.restored == RESTORED[name]


def test_the_tours_live_view_is_the_same_after_a_restart(tmp_path):
    """The tour's hook draws the model after each epoch: with a hook, the stage is trained again, so
    the frames a dashboard sees are those of the training, not the final model's drawn again."""
    from aelab.experiments.lecture_demos import run_tour

    config = get("lecture-tour").config("smoke", epochs=4)
    frames, restored = ([], []), []
    for run in frames:
        journal = Journal(tmp_path, every_seconds=0)
        run_tour(config, RunContext(seed=0, journal=journal),
                 on_epoch=lambda epoch, arrays, run=run: run.append(arrays["grid_reconstructed"]))
        restored.append(journal.restored)
    assert len(frames[0]) == 4 and not np.array_equal(frames[0][0], frames[0][-1])
    for a, b in zip(*frames):
        np.testing.assert_array_equal(a, b)
    assert restored == [0, 0]
    # without a hook the stage is kept and restored
    journal = Journal(tmp_path / "plain", every_seconds=0)
    first = run_tour(config, RunContext(seed=0, journal=journal))
    journal = Journal(tmp_path / "plain", every_seconds=0)
    again = run_tour(config, RunContext(seed=0, journal=journal))
    assert journal.restored == 1
    np.testing.assert_array_equal(first.arrays["grid_reconstructed"], again.arrays["grid_reconstructed"])
