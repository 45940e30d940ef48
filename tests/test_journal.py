"""A long run's journal: a run stopped part-way and started again continues where it stopped
and ends with the numbers of a run that was never stopped."""

from __future__ import annotations

import threading

import pytest
import torch

from aelab.experiments.base import Stopped
from aelab.experiments.runner import JOURNALS, read_result, reproduce
from aelab.models.registry import build_model
from aelab.train.checkpoints import CheckpointError, Journal
from aelab.train.loop import Callbacks, FitConfig, fit


def _model():
    return build_model("dae", n_visible=20, n_hidden=8, generator=torch.Generator().manual_seed(3))


def _data():
    return torch.rand(64, 20, generator=torch.Generator().manual_seed(4))


def _fit(model, journal=None, stop_after=None):
    epochs = []

    def on_epoch(epoch, metrics):
        epochs.append(epoch)
        if stop_after is not None and epoch == stop_after:
            raise Stopped("stop")

    callbacks = Callbacks(on_epoch=on_epoch, journal=None if journal is None else journal.scoped("stage"))
    history = fit(model, model.loss, _data(), FitConfig(epochs=5, batch_size=16, lr=0.1), generator=torch.Generator().manual_seed(5),
                  callbacks=callbacks, description="dae")
    return history, epochs


def test_a_stopped_phase_resumes_exactly(tmp_path):
    reference = _model()
    expected, _ = _fit(reference)

    with pytest.raises(Stopped):
        _fit(_model(), Journal(tmp_path, every_seconds=0), stop_after=3)
    model = _model()
    journal = Journal(tmp_path, every_seconds=0)
    history, heard = _fit(model, journal)
    assert journal.restored == 1
    assert heard == [1, 2, 3, 4, 5]  # restored epochs replayed to on_epoch, then 4 and 5 trained
    assert [h["train_loss"] for h in history] == pytest.approx([h["train_loss"] for h in expected], rel=1e-6)
    for (name, a), b in zip(model.state_dict().items(), reference.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6), name

    # finished: restored without training, the same weights and history
    again = _model()
    history2, heard2 = _fit(again, Journal(tmp_path, every_seconds=0))
    assert heard2 == [1, 2, 3, 4, 5] and len(history2) == 5
    for a, b in zip(again.state_dict().values(), model.state_dict().values()):
        assert torch.equal(a, b)


def test_a_journal_of_another_phase_is_refused(tmp_path):
    _fit(_model(), Journal(tmp_path, every_seconds=0))
    folder = next(p for p in tmp_path.iterdir() if p.is_dir())
    config = folder / "config.json"
    config.write_text(config.read_text().replace("stage", "other"))
    with pytest.raises(CheckpointError, match="belongs to phase"):
        _fit(_model(), Journal(tmp_path, every_seconds=0))


def test_reproduce_resumes_a_stopped_run(tmp_path):
    fresh = reproduce("zhou-curves", scale="smoke", out=tmp_path / "fresh", device="cpu")
    stop = threading.Event()

    def progress(done, total, desc):
        if desc.startswith("J "):  # the layer-wise phases are done, the joint one has begun
            stop.set()

    with pytest.raises(Stopped):
        reproduce("zhou-curves", scale="smoke", out=tmp_path / "run", device="cpu", progress=progress, stop=stop)
    journals = list((tmp_path / "run" / JOURNALS).iterdir())
    assert len(journals) == 1 and any(journals[0].iterdir())
    folder = reproduce("zhou-curves", scale="smoke", out=tmp_path / "run", device="cpu")
    result, arrays = read_result(folder)
    expected, expected_arrays = read_result(fresh)
    assert result["resumed_phases"] >= 2 and result["resumed_training_seconds"] > 0
    assert not (tmp_path / "run" / JOURNALS).exists()  # removed with the result
    assert result["command"] == f"aelab reproduce zhou-curves --scale smoke --seed 0 --out {tmp_path / 'run'} --device cpu"
    for key in ("train_L", "test_L", "train_J", "test_J"):
        assert arrays[key] == pytest.approx(expected_arrays[key], rel=1e-5), key
    assert result["deviations"] == []


def test_a_stopped_dictionary_learning_resumes_at_the_next_alternation(tmp_path):
    from aelab.train.dictionary import learn_dictionary

    X = torch.rand(60, 16, generator=torch.Generator().manual_seed(0))
    init = X[:8].clone()

    def model():
        return build_model("sparse-coding", n_visible=16, n_hidden=8, lam=0.1, n_iter=30,
                           generator=torch.Generator().manual_seed(0))

    whole = model()
    _, history = learn_dictionary(whole, X, 4, init=init)

    calls = []

    def stop_at_third():
        calls.append(1)
        if len(calls) == 3:
            raise Stopped("stopped")

    journal = Journal(tmp_path, every_seconds=0)
    first = model()
    with pytest.raises(Stopped):
        learn_dictionary(first, X, 4, init=init,
                         callbacks=Callbacks(check_stop=stop_at_third, journal=journal.scoped("dict")))
    seen = []
    again = model()
    journal = Journal(tmp_path, every_seconds=0)
    _, resumed = learn_dictionary(again, X, 4, init=init, callbacks=Callbacks(
        on_epoch=lambda it, m: seen.append(it), journal=journal.scoped("dict")))
    assert journal.restored == 1 and seen == [1, 2, 3, 4]  # two replayed, two trained
    assert [h["objective"] for h in resumed] == pytest.approx([h["objective"] for h in history], rel=1e-6)
    assert torch.allclose(again.D, whole.D, atol=1e-6)
