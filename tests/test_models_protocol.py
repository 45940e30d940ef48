"""Every registered model name keeps the model protocol: it builds from its name (seeded by an
explicit generator only), its loss speaks the vocabulary of terms, it offers encode / decode /
reconstruct, and it survives save_model / load_model with identical outputs."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from aelab.models.registry import build_model, check_terms, entry, load_model, names, save_model

# Small settings for the families whose defaults are paper-sized images; input shapes per example.
SMALL = {
    "swwae": (dict(spec="(2)3c-2p-(3)3c-2p-3fc", input_size=8), (1, 8, 8)),
    "augmented": (dict(classifier_spec="(2)3c-2p-(3)3c-2p-6fc-3fc", input_shape=[1, 8, 8], invert_fc=True),
                  (1, 8, 8)),
}


def small(name: str) -> tuple[dict, tuple[int, ...]]:
    if name in SMALL:
        return SMALL[name]
    fields = {f.name for f in dataclasses.fields(entry(name).config_class)}
    if "n_visible" in fields:
        return dict(n_visible=12, n_hidden=5), (12,)
    if "sizes" in fields:
        return dict(sizes=[12, 6, 3]), (12,)
    pytest.fail(f"model {name!r}: add small settings and an input shape for it to SMALL in {__file__}")


def build(name: str, seed: int = 0):
    fields, shape = small(name)
    return build_model(name, generator=torch.Generator().manual_seed(seed), **fields), shape


def example(shape, n: int = 4) -> torch.Tensor:
    return torch.rand(n, *shape, generator=torch.Generator().manual_seed(11))


def labels(model, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        n_classes = model.classify(x).shape[1]
    return torch.arange(len(x)) % n_classes


def same_state(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_the_convolutional_families_are_registered():
    assert {"swwae", "augmented"} <= set(names())


@pytest.mark.parametrize("name", names())
def test_initial_weights_come_from_the_generator_alone(name):
    torch.manual_seed(1)
    a, _ = build(name, seed=0)
    torch.manual_seed(2)
    b, _ = build(name, seed=0)
    c, _ = build(name, seed=1)
    assert same_state(a, b), "the same generator seed must give the same weights, whatever the global seed"
    assert not same_state(a, c), "another generator seed must give other weights"


@pytest.mark.parametrize("name", names())
def test_loss_terms_speak_the_vocabulary_and_train(name):
    model, shape = build(name)
    x = example(shape)
    terms = model.loss(x, generator=torch.Generator().manual_seed(0))
    check_terms(terms)
    assert all(v.dim() == 0 and torch.isfinite(v) for v in terms.values())
    terms["total"].backward()
    assert any(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in model.parameters())
    if hasattr(model, "classify"):
        supervised = model.loss(x, labels(model, x), generator=torch.Generator().manual_seed(0))
        check_terms(supervised)
        assert "classification" in supervised and float(supervised["classification"].detach()) > 0


@pytest.mark.parametrize("name", names())
def test_encode_decode_reconstruct(name):
    model, shape = build(name)
    model.eval()
    x = example(shape)
    with torch.no_grad():
        x_r = model.reconstruct(x)
        decoded = model.decode(model.encode(x))
    assert x_r.shape == x.shape
    assert torch.allclose(decoded.reshape(x.shape), x_r)


@pytest.mark.parametrize("name", names())
def test_save_and_load_rebuild_the_same_model(name, tmp_path):
    model, shape = build(name)
    model.eval()
    save_model(tmp_path / name, model)
    again = load_model(tmp_path / name)
    assert type(again) is type(model) and again.config == model.config
    assert same_state(again, model)
    x = example(shape)
    with torch.no_grad():
        assert torch.equal(again.reconstruct(x), model.reconstruct(x))
        if hasattr(model, "classify"):
            assert torch.equal(again.classify(x), model.classify(x))
        ours = model.loss(x, generator=torch.Generator().manual_seed(3))
        theirs = again.loss(x, generator=torch.Generator().manual_seed(3))
    assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)
