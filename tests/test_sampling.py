"""GSN sampling chains (Zhou eqs. 14-15) and the nearest-training-example search."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aelab.measure import sampling
from aelab.measure.sampling import ChainSettings
from aelab.models.dense import Autoencoder, DeepAutoencoder
from aelab.train.loop import FitConfig, fit


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models: with 2 threads on a shared 2-core machine, each small op waits on a spin
    lock and the training test takes 10x longer; one thread is also what these sizes want."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_chains_keep_every_kth_state_after_burn_in_in_a_preallocated_block():
    model = Autoencoder(16, 8, noise=("none", 0.0), generator=_gen())
    start = torch.rand(3, 16, generator=_gen(1))
    out = sampling.run_chains(model, start, n_steps=12, every=4, burn_in=2, output="mean")
    assert out.shape == (3, 3, 16)
    # with no corruption and the mean output the chain is x <- g(f(x)): step burn_in + 4k
    x = start.clone()
    states = []
    with torch.no_grad():
        for _ in range(2 + 12):
            x = model(x)
            states.append(x.clone())
    for k in range(3):
        assert torch.allclose(out[k], states[2 + 4 * (k + 1) - 1], atol=1e-6)


def test_deep_chain_runs_the_whole_stack_and_keeps_the_decoder_mean():
    model = DeepAutoencoder([16, 12, 6], noise=("none", 0.0), generator=_gen())
    start = torch.rand(5, 1, 4, 4, generator=_gen(1))
    out = sampling.run_chains(model, start, n_steps=1, output="mean")
    with torch.no_grad():
        assert torch.allclose(out[0], model(start).reshape(5, 16), atol=1e-6)


def test_bernoulli_decoder_states_are_binary_and_means_are_probabilities():
    model = Autoencoder(16, 8, noise=("masking", 0.25), generator=_gen())
    start = torch.rand(4, 16, generator=_gen(1))
    states = sampling.run_chains(model, start, n_steps=6, record="state", generator=_gen(2))
    assert set(states.unique().tolist()) <= {0.0, 1.0}
    means = sampling.run_chains(model, start, n_steps=6, record="mean", generator=_gen(2))
    assert ((means > 0) & (means < 1)).all()


def test_same_generator_seed_gives_the_same_chain_and_another_seed_differs():
    model = DeepAutoencoder([16, 8, 8], noise=("gaussian", 0.3), generator=_gen())
    start = torch.rand(2, 16, generator=_gen(1))
    a = sampling.run_chains(model, start, n_steps=5, generator=_gen(7))
    b = sampling.run_chains(model, start, n_steps=5, generator=_gen(7))
    c = sampling.run_chains(model, start, n_steps=5, generator=_gen(8))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_corrupting_hidden_layers_changes_the_operator_of_a_deep_model():
    model = DeepAutoencoder([16, 8, 8], noise=("gaussian", 0.5), generator=_gen())
    start = torch.rand(2, 16, generator=_gen(1))
    a = sampling.run_chains(model, start, n_steps=1, output="mean", generator=_gen(3))
    b = sampling.run_chains(model, start, n_steps=1, output="mean", corrupt_hidden=True, generator=_gen(3))
    assert not torch.allclose(a, b)


def test_gaussian_decoder_samples_around_its_mean_with_output_std():
    model = Autoencoder(64, 8, decoder="linear", loss="squared", noise=("none", 0.0), generator=_gen())
    start = torch.rand(500, 64, generator=_gen(1))
    mean, state = sampling.denoise_step(model, start, ChainSettings(output_std=0.2), _gen(2))
    assert (state - mean).std().item() == pytest.approx(0.2, rel=0.05)
    with pytest.raises(ValueError, match="output_std"):
        sampling.run_chains(model, start, n_steps=1)


def test_consecutive_orders_each_chains_samples_together():
    chains = torch.arange(2 * 3 * 1).reshape(2, 3, 1).float()  # 2 kept x 3 chains
    assert sampling.consecutive(chains)[:, 0].long().tolist() == [0, 3, 1, 4, 2, 5]


def test_a_trained_dae_chain_from_noise_moves_to_the_data_it_learned():
    # two 16-bit prototypes; the training set is copies with 1 flipped bit
    g = _gen(4)
    protos = torch.tensor([[1.0] * 8 + [0.0] * 8, [0.0, 1.0] * 8])
    x = protos[torch.randint(0, 2, (400,), generator=g)]
    flip = torch.zeros_like(x).scatter_(1, torch.randint(0, 16, (400, 1), generator=g), 1.0)
    x = (x - flip).abs()
    model = Autoencoder(16, 16, noise=("salt-pepper", 0.2), generator=_gen(5))
    fit(model, model.loss, x, FitConfig(epochs=40, batch_size=20, lr=0.01), generator=_gen(6))
    start = sampling.start_states("noise", 50, x, generator=_gen(7))
    out = sampling.consecutive(sampling.run_chains(model, start, n_steps=20, every=5, generator=_gen(8)))
    to_proto = torch.cdist(out, protos).min(1).values ** 2
    from_noise = torch.cdist(start, protos).min(1).values ** 2
    assert to_proto.mean() < 0.3 * from_noise.mean()


def test_nearest_training_matches_brute_force_and_returns_exact_distances():
    g = _gen(9)
    train = torch.rand(1000, 1, 5, 5, generator=g)
    samples = torch.rand(70, 25, generator=g)
    index, distance = sampling.nearest_training(samples, train, batch_size=16, train_batch=300)
    brute = torch.cdist(samples.double(), train.reshape(1000, -1).double()) ** 2
    assert torch.equal(index, brute.argmin(1))
    assert torch.allclose(distance.double(), brute.min(1).values, atol=1e-5)


def test_nearest_training_finds_a_copied_training_example_at_distance_zero():
    train = torch.rand(50, 9, generator=_gen(10))
    index, distance = sampling.nearest_training(train[[3, 17]], train)
    assert index.tolist() == [3, 17] and torch.all(distance == 0)


def test_start_states_are_training_rows_or_uniform_noise():
    data = torch.rand(20, 1, 3, 3, generator=_gen(11))
    rows = sampling.start_states("data", 6, data, generator=_gen(12))
    flat = data.reshape(20, -1)
    assert all(any(torch.equal(r, d) for d in flat) for r in rows)
    noise = sampling.start_states("noise", 6, data, generator=_gen(12))
    assert noise.shape == (6, 9) and ((noise >= 0) & (noise < 1)).all()


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(n_steps=0), ValueError, "n_steps"),
    (dict(every=0), ValueError, "every"),
    (dict(n_steps=3, every=4), ValueError, "keeps no state"),
    (dict(output="median"), ValueError, "output"),
    (dict(record="both"), ValueError, "record"),
    (dict(noise=("blur", 0.1)), ValueError, "unknown corruption"),
    (dict(steps=3), ValueError, "unknown chain setting"),
])
def test_bad_chain_settings_raise_clear_errors(kwargs, error, message):
    model = Autoencoder(16, 8, generator=_gen())
    with pytest.raises(error, match=message):
        sampling.run_chains(model, torch.rand(2, 16), **kwargs)


def test_bad_starts_and_sets_raise_clear_errors():
    model = Autoencoder(16, 8, generator=_gen())
    with pytest.raises(ValueError, match="features"):
        sampling.run_chains(model, torch.rand(2, 15))
    with pytest.raises(ValueError, match="no states"):
        sampling.run_chains(model, torch.rand(0, 16))
    with pytest.raises(ValueError, match="non-finite"):
        sampling.run_chains(model, torch.full((1, 16), float("nan")))
    with pytest.raises(ValueError, match="unknown"):
        sampling.start_states("zeros", 2, torch.rand(3, 16))
    with pytest.raises(ValueError, match="dimensions"):
        sampling.nearest_training(torch.rand(2, 4), torch.rand(3, 5))
    with pytest.raises(ValueError, match="at least one"):
        sampling.nearest_training(torch.rand(0, 4), torch.rand(3, 4))


def test_stop_and_progress_callbacks_are_called():
    model = Autoencoder(16, 8, generator=_gen())
    seen = []
    sampling.run_chains(model, torch.rand(2, 16), n_steps=10, progress=lambda d, t, s: seen.append((d, t)))
    assert seen[-1] == (10, 10)

    class Stop(Exception):
        pass

    def stop():
        raise Stop

    with pytest.raises(Stop):
        sampling.run_chains(model, torch.rand(2, 16), n_steps=10, check_stop=stop)


# --- the zhou-parzen experiment and its figure --------------------------------------------

def test_table_i_cells_are_read_from_the_paper():
    from aelab.experiments.gsn import table_i

    assert table_i("mnist", 2, "L") == (204.0, 1.59)
    assert table_i("mnist", 3, "J") == (270.0, 1.26)
    assert table_i("convex", 3, "L") == (-1011.0, 10.79)
    assert table_i("mnist-bg-rand", 2, "J") == (-252.0, 0.36)
    assert table_i("digits", 2, "L") is None and table_i("mnist", 4, "L") is None


def test_chain_strips_show_every_kth_sample_and_end_rows_with_the_nearest_image():
    from aelab.viz.gsn import chain_strips

    t, h, w = 24, 3, 2
    chain = np.arange(t, dtype=np.float32)[:, None, None] * np.ones((t, h, w), np.float32)
    nearest = -chain
    fig = chain_strips({"DAE-2J": chain}, {"DAE-2J": nearest}, every=4, per_row=3, labels={"DAE-2J": "joint"})
    z = np.asarray(fig.data[0].z, dtype=float)
    # 6 picked samples (0, 4, ..., 20) in 2 rows of 3, a blank column, then the nearest image
    assert z.shape == (2 * h + 1, 5 * w + 4)
    first_row = [z[0, c * (w + 1)] for c in range(5)]
    assert first_row[:3] == [0, 4, 8] and np.isnan(first_row[3]) and first_row[4] == -8
    assert z[h + 1, 4 * (w + 1)] == -20
    assert list(fig.layout.yaxis.ticktext) == ["joint", ""]


def test_chain_strips_reject_mismatched_inputs():
    from aelab.viz.gsn import chain_strips

    with pytest.raises(ValueError, match="one nearest image per sample"):
        chain_strips({"a": np.zeros((4, 2, 2))}, {"a": np.zeros((3, 2, 2))})
    with pytest.raises(ValueError, match="no nearest"):
        chain_strips({"a": np.zeros((4, 2, 2))}, {})
    with pytest.raises(ValueError, match="every"):
        chain_strips({"a": np.zeros((4, 2, 2))}, {"a": np.zeros((4, 2, 2))}, every=0)


def test_zhou_parzen_runs_end_to_end_and_writes_a_figure(tmp_path):
    from aelab.experiments.runner import read_result, reproduce
    from aelab.viz import figure_for_result

    folder = reproduce("zhou-parzen", scale="smoke", out=tmp_path, device="cpu",
                       overrides=dict(hidden=16, n_samples=40, depths=(2,), n_test=50, n_sigma_valid=50))
    result, arrays = read_result(folder)
    for key in ("DAE-2L", "DAE-2J"):
        assert np.isfinite(result["metrics"][key]) and result["metrics"][f"{key} stderr"] > 0
        assert np.isclose(np.logspace(-1, 0, 10), result["metrics"][f"{key} sigma"]).any()
        assert arrays[f"chain_{key}"].shape == arrays[f"nearest_{key}"].shape == (20, 8, 8)
    assert result["paper"] == {}  # digits is not in Table I
    fig = figure_for_result(result, arrays)
    assert "DAE-2J" in " ".join(fig.layout.yaxis.ticktext)


def test_zhou_parzen_paper_preset_follows_the_published_protocol():
    from aelab.experiments import get

    config = get("zhou-parzen").config("paper")
    assert (config.dataset, config.n_samples, config.n_chains, config.n_sigma_valid) == ("mnist", 10_000, 1, 1000)
    assert config.depths == (2, 3) and config.schemes == ("L", "J") and config.hidden == 1000
    assert config.epochs == 300 and config.show_every == 4
    assert np.allclose(config.sigmas, np.logspace(-1, 0, 10))
    assert get("zhou-parzen").config("teach", dataset="mnist-rot").dataset == "mnist-rot"
