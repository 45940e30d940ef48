"""SWWAE: stages from a spec, mirrored decoder, eq. 1-2 loss terms, the three modes, and
training through the one loop with the semi-supervised sampler."""

import pytest
import torch

from aelab.models.spec import SpecError
from aelab.models.whatwhere import SWWAE
from aelab.train.loop import Callbacks
from aelab.train.semisup import (SemiSupervised, classification_error_fraction, mean_squared_error_per_pixel,
                                 random_shifts, swwae_fit_config, train_swwae)


@pytest.fixture
def batch():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(6, 1, 16, 16, generator=gen)
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    return x, y


def small(**kw):
    return SWWAE("(4)3c-2p-(4)3c-2p-3fc", input_size=16, generator=torch.Generator().manual_seed(0), **kw)


def test_decoder_mirrors_the_encoder_shapes(batch):
    x, _ = batch
    model = small()
    code = model.encode(x)
    tilde = model.decode_stages(code)
    assert [t.shape for t in tilde] == [w.shape for w in code.whats]
    assert code.logits.shape == (6, 3)
    assert torch.equal(model.decode(code), tilde[0])


@pytest.mark.parametrize("pooling", ["hard", "soft"])
def test_classify_gives_scores_and_forward_the_reconstruction(batch, pooling):
    x, _ = batch
    model = small(pooling=pooling, beta=10.0)
    logits, x_tilde = model.classify(x), model(x)
    assert logits.shape == (6, 3) and x_tilde.shape == x.shape
    assert torch.equal(x_tilde, model.reconstruct(x))
    with pytest.raises(ValueError, match="no fully connected layer"):
        SWWAE("(4)3c-2p", input_size=16).classify(x)


def test_loss_has_named_terms_and_weighted_total(batch):
    x, y = batch
    model = small(lambda_nll=1.0, lambda_rec=0.5, lambda_mid=0.25)
    terms = model.loss(x, y)
    assert set(terms) == {"classification", "reconstruction", "reconstruction_middle", "total"}
    expected = terms["classification"] + 0.5 * terms["reconstruction"] + 0.25 * terms["reconstruction_middle"]
    assert torch.allclose(terms["total"], expected)
    assert float(terms["reconstruction_middle"].detach()) > 0  # one intermediate stage: the first pool's "what"


def test_supervised_mode_skips_the_decoder(batch):
    x, y = batch
    model = small(lambda_rec=0.0, lambda_mid=0.0)
    terms = model.loss(x, y)
    terms["total"].backward()
    assert all(p.grad is None for stage in model.stages for p in stage.decoder.parameters())
    assert float(terms["reconstruction"]) == 0.0


def test_unsupervised_mode_ignores_labels(batch):
    x, y = batch
    model = small(lambda_nll=0.0)
    assert float(model.loss(x, y)["classification"]) == 0.0
    assert torch.equal(model.loss(x)["total"], model.loss(x, y)["total"])


def test_unlabelled_examples_contribute_only_reconstruction(batch):
    x, y = batch
    model = small()
    labelled = torch.tensor([True, True, True, False, False, False])
    mixed = model.loss(x, y, labelled)
    only_labelled = model.loss(x[:3], y[:3])
    assert torch.allclose(mixed["classification"], only_labelled["classification"])
    y_scrambled = y.clone()
    y_scrambled[3:] = torch.tensor([2, 2, 0])
    assert torch.allclose(model.loss(x, y_scrambled, labelled)["classification"], mixed["classification"])
    minus_one = torch.where(labelled, y, torch.full_like(y, -1))
    assert torch.allclose(model.loss(x, minus_one)["classification"], mixed["classification"])


def test_upsampling_decoder_does_not_need_where(batch):
    x, _ = batch
    model = small(unpool="upsample")
    code = model.encode(x)
    code.wheres = [None] * len(code.wheres)
    assert model.decode(code).shape == x.shape


def test_dropout_and_batchnorm_options_build(batch):
    x, y = batch
    model = small(dropout=0.5, batchnorm=True)
    assert any(isinstance(m, torch.nn.Dropout) for m in model.classifier)
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules()) == 3  # 2 encoder + 1 decoder conv
    model.loss(x, y)["total"].backward()


@pytest.mark.parametrize("kwargs, match", [
    (dict(spec="(4)3c-32p"), "does not fit"), (dict(spec="(4)3c-2x"), "token 2"),
    (dict(pooling="soft", beta=0.0), "beta"), (dict(pooling="soft", beta=-3.0), "beta"),
    (dict(dropout=1.0), "dropout"), (dict(lambda_rec=-1.0), ">= 0"), (dict(spec="2p-(4)3c"), "no convolution"),
])
def test_bad_hyper_parameters_raise_before_training(kwargs, match):
    spec = kwargs.pop("spec", "(4)3c-2p")
    with pytest.raises((ValueError, SpecError), match=match):
        SWWAE(spec, input_size=16, **kwargs)


def test_wrong_input_shape_is_a_clear_error(batch):
    with pytest.raises(ValueError, match="expects N x 1 x 16 x 16"):
        small().encode(torch.rand(2, 1, 28, 28))


def test_decoding_with_the_wrong_number_of_wheres_is_an_error(batch):
    model = small()
    code = model.encode(batch[0])
    code.wheres = code.wheres[:1]
    with pytest.raises(ValueError, match="where"):
        model.decode(code)


def test_semi_supervised_training_lowers_the_loss_and_learns_labels():
    gen = torch.Generator().manual_seed(1)
    y = torch.arange(3).repeat(40)
    x = torch.zeros(120, 1, 16, 16)
    for c in range(3):  # three classes = a bright square in one of three places
        x[y == c, :, 2 + 4 * c: 6 + 4 * c, 2 + 4 * c: 6 + 4 * c] = 1.0
    x = (x + 0.1 * torch.rand(x.shape, generator=gen)).clamp(0, 1)
    model = small(lambda_rec=1.0, lambda_mid=1.0)
    before = mean_squared_error_per_pixel(model, x)
    epochs = []
    history = train_swwae(model, x[30:], x[:30], y[:30], swwae_fit_config(epochs=6, batch_size=30, lr=1e-2),
                          labelled_per_batch=10, generator=torch.Generator().manual_seed(0),
                          callbacks=Callbacks(on_epoch=lambda epoch, metrics: epochs.append(epoch)))
    assert epochs == [1, 2, 3, 4, 5, 6] and len(history) == 6
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert mean_squared_error_per_pixel(model, x) < before
    assert classification_error_fraction(model, x, y) < 0.34


def test_training_rejects_a_bad_labelled_share():
    x = torch.rand(10, 1, 16, 16)
    with pytest.raises(ValueError, match="labelled_per_batch"):
        train_swwae(small(), x, x[:4], torch.zeros(4, dtype=torch.long), swwae_fit_config(batch_size=5),
                    labelled_per_batch=0)


def test_random_shifts_move_content_without_wrapping():
    x = torch.zeros(50, 1, 8, 8)
    x[:, :, 3, 3] = 1.0
    moved = random_shifts(2, torch.Generator().manual_seed(0))(x)
    assert torch.equal(moved.sum(dim=(1, 2, 3)), torch.ones(50))
    rows, cols = torch.nonzero(moved[:, 0])[:, 1], torch.nonzero(moved[:, 0])[:, 2]
    assert rows.min() >= 1 and rows.max() <= 5 and cols.min() >= 1 and cols.max() <= 5
    assert len(set(zip(rows.tolist(), cols.tolist()))) > 5


def test_the_sampler_mixes_labelled_and_unlabelled_examples_in_every_batch():
    x_unl, x_lab = torch.rand(25, 1, 4, 4), torch.rand(7, 1, 4, 4) + 10.0  # labelled images are > 10
    y_lab = torch.arange(7) % 3
    sampler = SemiSupervised(x_unl, x_lab, y_lab, batch_size=8, labelled_per_batch=3)
    assert sampler.n_batches == 5  # one pass over 25 unlabelled, 5 at a time
    for x, y in sampler.epoch(torch.Generator().manual_seed(0)):
        assert x.shape == (8, 1, 4, 4)
        labelled = y >= 0
        assert labelled.tolist() == [False] * 5 + [True] * 3
        assert bool((x[labelled].flatten(1).min(1).values > 10).all())
        assert bool((x[~labelled] < 1).all())
    only_unlabelled = next(iter(SemiSupervised(x_unl, batch_size=8).epoch(None)))
    assert len(only_unlabelled) == 1  # no labels: batches are (x,)
    doubled = SemiSupervised(x_unl, batch_size=5, augment=lambda x: 2 * x + 100)
    assert bool((next(iter(doubled.epoch(None)))[0] >= 100).all())


def test_the_sampler_state_resumes_the_same_batches():
    x_unl, x_lab, y_lab = torch.rand(9, 1, 2, 2), torch.rand(4, 1, 2, 2), torch.arange(4)

    def batches(sampler, generator, epochs):
        return [torch.cat([b[0].flatten(), b[1].float()]) for _ in range(epochs) for b in sampler.epoch(generator)]

    whole = SemiSupervised(x_unl, x_lab, y_lab, batch_size=5, labelled_per_batch=3)
    expected = batches(whole, torch.Generator().manual_seed(3), 3)
    first = SemiSupervised(x_unl, x_lab, y_lab, batch_size=5, labelled_per_batch=3)
    generator = torch.Generator().manual_seed(3)
    head = batches(first, generator, 1)
    state, generator_state = first.state_dict(), generator.get_state()
    resumed = SemiSupervised(x_unl, x_lab, y_lab, batch_size=5, labelled_per_batch=3)
    resumed.load_state_dict(state)
    generator = torch.Generator().set_state(generator_state)
    assert all(torch.equal(a, b) for a, b in zip(head + batches(resumed, generator, 2), expected))
    assert len(head) + 2 * resumed.n_batches == len(expected)


def test_training_the_softmax_alone_leaves_the_autoencoder_unchanged(batch):
    x, y = batch
    model = small()
    before = {k: v.clone() for k, v in model.stages.state_dict().items()}
    history = train_swwae(model, None, x, y, swwae_fit_config(epochs=2, batch_size=3, lr=1e-2),
                          parameters=model.classifier.parameters())
    assert len(history) == 2
    assert all(torch.equal(before[k], v) for k, v in model.stages.state_dict().items())


def test_dropout_masks_come_from_the_generator(batch):
    x, y = batch
    model = small(dropout=0.5).train()
    a = model.loss(x, y, generator=torch.Generator().manual_seed(4))["classification"]
    b = model.loss(x, y, generator=torch.Generator().manual_seed(4))["classification"]
    c = model.loss(x, y, generator=torch.Generator().manual_seed(5))["classification"]
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_semi_supervised_training_resumes_exactly_from_its_loop_state():
    import copy

    gen = torch.Generator().manual_seed(2)
    x, y = torch.rand(40, 1, 16, 16, generator=gen), torch.arange(40) % 3

    def run(resume=None, weights=None):
        model = small(dropout=0.5)
        if weights is not None:
            model.load_state_dict(weights)
        saved = {}

        def checkpoint(epoch, state):
            saved[epoch] = (copy.deepcopy(state), copy.deepcopy(model.state_dict()))

        history = train_swwae(model, x[10:], x[:10], y[:10], swwae_fit_config(epochs=3, batch_size=10, lr=1e-2),
                              labelled_per_batch=3, generator=torch.Generator().manual_seed(0), resume=resume,
                              callbacks=Callbacks(checkpoint=checkpoint))
        return model, history, saved

    whole, whole_history, saved = run()
    state, weights = saved[1]
    resumed, history, _ = run(resume=state, weights=weights)
    assert [h["train_loss"] for h in history] == [h["train_loss"] for h in whole_history]
    assert all(torch.equal(v, resumed.state_dict()[k]) for k, v in whole.state_dict().items())
