"""SWWAE: stages from a spec, mirrored decoder, eq. 1-2 loss terms and the three modes."""

import pytest
import torch

from aelab.models.spec import SpecError
from aelab.models.whatwhere import SWWAE
from aelab.train.semisup import classification_error, random_shifts, reconstruction_error, train_swwae


@pytest.fixture
def batch():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(6, 1, 16, 16, generator=gen)
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    return x, y


def small(**kw):
    torch.manual_seed(0)
    return SWWAE("(4)3c-2p-(4)3c-2p-3fc", input_size=16, **kw)


def test_decoder_mirrors_the_encoder_shapes(batch):
    x, _ = batch
    model = small()
    code = model.encode(x)
    tilde = model.decode(code)
    assert [t.shape for t in tilde] == [w.shape for w in code.whats]
    assert code.logits.shape == (6, 3)


@pytest.mark.parametrize("pooling", ["hard", "soft"])
def test_forward_returns_scores_and_reconstruction(batch, pooling):
    x, _ = batch
    logits, x_tilde = small(pooling=pooling, beta=10.0)(x)
    assert logits.shape == (6, 3) and x_tilde.shape == x.shape


def test_loss_has_named_terms_and_weighted_total(batch):
    x, y = batch
    model = small(lambda_nll=1.0, lambda_rec=0.5, lambda_mid=0.25)
    terms = model.loss(x, y)
    assert set(terms) == {"nll", "l2rec", "l2m", "total"}
    expected = terms["nll"] + 0.5 * terms["l2rec"] + 0.25 * terms["l2m"]
    assert torch.allclose(terms["total"], expected)
    assert float(terms["l2m"].detach()) > 0  # one intermediate stage: the first pool's "what"


def test_supervised_mode_skips_the_decoder(batch):
    x, y = batch
    model = small(lambda_rec=0.0, lambda_mid=0.0)
    terms = model.loss(x, y)
    terms["total"].backward()
    assert all(p.grad is None for stage in model.stages for p in stage.decoder.parameters())
    assert float(terms["l2rec"]) == 0.0


def test_unsupervised_mode_ignores_labels(batch):
    x, y = batch
    model = small(lambda_nll=0.0)
    assert float(model.loss(x, y)["nll"]) == 0.0
    assert torch.equal(model.loss(x)["total"], model.loss(x, y)["total"])


def test_unlabelled_examples_contribute_only_reconstruction(batch):
    x, y = batch
    model = small()
    labelled = torch.tensor([True, True, True, False, False, False])
    mixed = model.loss(x, y, labelled)
    only_labelled = model.loss(x[:3], y[:3])
    assert torch.allclose(mixed["nll"], only_labelled["nll"])
    y_scrambled = y.clone()
    y_scrambled[3:] = torch.tensor([2, 2, 0])
    assert torch.allclose(model.loss(x, y_scrambled, labelled)["nll"], mixed["nll"])
    minus_one = torch.where(labelled, y, torch.full_like(y, -1))
    assert torch.allclose(model.loss(x, minus_one)["nll"], mixed["nll"])


def test_upsampling_decoder_does_not_need_where(batch):
    x, _ = batch
    model = small(unpool="upsample")
    code = model.encode(x)
    code.wheres = [None] * len(code.wheres)
    assert model.decode(code)[0].shape == x.shape


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
    before = reconstruction_error(model, x)
    history = train_swwae(model, x[30:], x[:30], y[:30], epochs=6, batch_size=30, labelled_per_batch=10, lr=1e-2,
                          generator=torch.Generator().manual_seed(0))
    assert history.terms["total"][-1] < history.terms["total"][0]
    assert reconstruction_error(model, x) < before
    assert classification_error(model, x, y) < 0.34


def test_training_rejects_a_bad_labelled_share():
    x = torch.rand(10, 1, 16, 16)
    with pytest.raises(ValueError, match="labelled_per_batch"):
        train_swwae(small(), x, x[:4], torch.zeros(4, dtype=torch.long), batch_size=5, labelled_per_batch=0)


def test_random_shifts_move_content_without_wrapping():
    x = torch.zeros(50, 1, 8, 8)
    x[:, :, 3, 3] = 1.0
    moved = random_shifts(2, torch.Generator().manual_seed(0))(x)
    assert torch.equal(moved.sum(dim=(1, 2, 3)), torch.ones(50))
    rows, cols = torch.nonzero(moved[:, 0])[:, 1], torch.nonzero(moved[:, 0])[:, 2]
    assert rows.min() >= 1 and rows.max() <= 5 and cols.min() >= 1 and cols.max() <= 5
    assert len(set(zip(rows.tolist(), cols.tolist()))) > 5
