"""Dense autoencoders: shapes, loss terms, the contractive closed form, bad input."""

import pytest
import torch

from aelab.models.dense import Autoencoder, DeepAutoencoder


@pytest.fixture
def x():
    return torch.rand(16, 1, 8, 8, generator=torch.Generator().manual_seed(0))


def test_autoencoder_accepts_images_and_flat_input(x):
    ae = Autoencoder(64, 20)
    assert ae.encode(x).shape == (16, 20)
    assert ae.encode(x.reshape(16, 64)).shape == (16, 20)
    assert ae(x).shape == x.shape
    assert ae.decode(ae.encode(x)).shape == (16, 64)


@pytest.mark.parametrize("unit", ["sigmoid", "tanh", "relu", "linear"])
def test_every_unit_trains_with_squared_error(unit, x):
    ae = Autoencoder(64, 10, encoder=unit, decoder=unit, loss="squared", tied=False, noise=("gaussian", 0.1))
    terms = ae.loss(x)
    terms["total"].backward()
    assert ae.W.grad is not None and ae.W_prime.grad is not None
    assert torch.isfinite(terms["total"])


def test_loss_terms_are_named_and_sum_to_total(x):
    ae = Autoencoder(64, 10, contractive=0.1, sparsity_l1=0.01, sparsity_kl=0.1, l2=1e-4)
    terms = ae.loss(x)
    assert set(terms) == {"reconstruction", "contraction", "sparsity_l1", "sparsity_kl", "weight_decay", "total"}
    parts = sum(v for k, v in terms.items() if k != "total")
    assert torch.allclose(terms["total"], parts)


def test_cross_entropy_matches_its_definition(x):
    ae = Autoencoder(64, 10, noise=None)
    xf = x.reshape(16, 64)
    z = ae.decode(ae.encode(xf))
    expected = -(xf * z.log() + (1 - xf) * (1 - z).log()).sum(1).mean()
    assert torch.allclose(ae.loss(x)["reconstruction"], expected, atol=1e-4)


def test_tied_decoder_uses_the_transpose():
    ae = Autoencoder(5, 3)
    assert ae.W_prime is None and torch.equal(ae.decoder_weight, ae.W.t())
    assert sum(p.numel() for p in ae.parameters()) == 5 * 3 + 3 + 5


@pytest.mark.parametrize("unit", ["sigmoid", "tanh"])
def test_contractive_closed_form_matches_autograd_jacobian(unit):
    torch.manual_seed(0)
    ae = Autoencoder(7, 4, encoder=unit, decoder="sigmoid", noise=None).double()
    x = torch.rand(3, 7, dtype=torch.double)
    closed = ae.contraction(ae.encode(x))
    for i in range(3):
        jac = torch.autograd.functional.jacobian(lambda v: ae.encode(v[None])[0], x[i])
        assert torch.allclose(closed[i], jac.pow(2).sum(), rtol=1e-10)


def test_masking_noise_is_used_only_in_the_loss(x):
    ae = Autoencoder(64, 10, noise=("masking", 0.5))
    assert torch.equal(ae(x), ae(x))
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(2)
    assert not torch.equal(ae.loss(x, g1)["total"], ae.loss(x, g2)["total"])


@pytest.mark.parametrize("kwargs, message", [
    (dict(noise=("masking", 1.5)), "masking level"),
    (dict(noise="gaussian:-1"), "gaussian level"),
    (dict(contractive=-0.1), "contractive"),
    (dict(sparsity_l1=-1.0), "sparsity_l1"),
    (dict(encoder="softplus"), "encoder unit"),
    (dict(loss="cross-entropy", decoder="linear"), "cross-entropy"),
])
def test_bad_hyper_parameters_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Autoencoder(64, 10, **kwargs)


def test_input_of_the_wrong_size_is_refused():
    with pytest.raises(ValueError, match="expects 64"):
        Autoencoder(64, 10).encode(torch.rand(2, 50))


def test_deep_autoencoder_follows_eqs_4_to_6(x):
    deep = DeepAutoencoder([64, 32, 16], noise=("gaussian", 0.1))
    assert [l.n_visible for l in deep.layers] == [64, 32] and deep.depth == 2
    h = deep.encode(x)
    assert torch.allclose(h, deep.layers[1].encode(deep.layers[0].encode(x)))
    assert torch.allclose(deep.decode(h), deep.layers[0].decode(deep.layers[1].decode(h)))
    assert deep(x).shape == x.shape
    assert [c.shape[1] for c in deep.codes(x)] == [32, 16]


def test_joint_loss_has_one_reconstruction_and_per_layer_regularisers(x):
    deep = DeepAutoencoder([64, 32, 16], contractive=0.1, noise=None)
    terms = deep.loss(x)
    assert set(terms) == {"reconstruction", "contraction_1", "contraction_2", "total"}
    plain = deep.loss(x, regularised=False)
    assert set(plain) == {"reconstruction", "total"}
    assert torch.allclose(plain["reconstruction"], deep.reconstruction_error(x), atol=1e-5)


def test_layers_that_do_not_chain_are_refused():
    with pytest.raises(ValueError, match="do not chain"):
        DeepAutoencoder.from_layers([Autoencoder(64, 32), Autoencoder(30, 10)])
    with pytest.raises(ValueError, match="positive integers"):
        DeepAutoencoder([64, 0, 10])
