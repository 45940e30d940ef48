"""What-where pooling: hard switches, soft eqs. 3-4, unpooling, upsampling and their pitfalls."""

import pytest
import torch
import torch.nn.functional as F

from aelab.models.pooling import (WhatWherePool, WhatWhereUnpool, hard_pool, hard_unpool, soft_pool, soft_unpool,
                                  upsample)


@pytest.fixture
def z():
    return torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("size", [2, 4, 8])
def test_hard_unpool_puts_each_max_back_at_its_switch(z, size):
    what, where = hard_pool(z, size)
    out = hard_unpool(what, where, size, output_size=z.shape)
    assert torch.equal(F.max_pool2d(out, size), what)
    assert int((out != 0).sum()) == what.numel()
    assert torch.equal(out[out != 0], z[out != 0])


def test_odd_sizes_unpool_to_the_full_map():
    z = torch.rand(1, 2, 7, 5)
    what, where = hard_pool(z, 2)
    assert what.shape == (1, 2, 3, 2)
    assert hard_unpool(what, where, 2, output_size=(7, 5)).shape == (1, 2, 7, 5)
    w, p = soft_pool(z, 2, beta=10.0)
    assert soft_unpool(w, p, 2, output_size=(7, 5)).shape == (1, 2, 7, 5)
    assert upsample(w, 2, output_size=(7, 5)).shape == (1, 2, 7, 5)


def test_output_size_that_does_not_pool_to_what_is_an_error(z):
    what, where = hard_pool(z, 2)
    with pytest.raises(ValueError, match="does not pool"):
        hard_unpool(what, where, 2, output_size=(12, 12))


def test_ties_give_exactly_one_switch():
    z = torch.ones(1, 1, 4, 4)
    what, where = hard_pool(z, 4)
    out = hard_unpool(what, where, 4, output_size=(4, 4))
    assert int((out != 0).sum()) == 1 and float(out.sum()) == 1.0


def test_overlapping_pools_average_switches_that_coincide():
    z = torch.zeros(1, 1, 5, 5)
    z[0, 0, 2, 2] = 3.0  # the max of all four overlapping 3x3 regions (stride 2)
    what, where = hard_pool(z, 3, stride=2)
    assert torch.equal(what, torch.full((1, 1, 2, 2), 3.0))
    out = hard_unpool(what, where, 3, stride=2, output_size=(5, 5))
    assert float(out[0, 0, 2, 2]) == 3.0 and float(out.sum()) == 3.0


def test_pool_covering_the_whole_map_gives_one_what_and_where(z):
    w, p = soft_pool(z * 10, 8, beta=100.0)
    assert w.shape == (2, 3, 1, 1) and p.shape == (2, 3, 1, 1, 2)
    what, where = hard_pool(z, 8)
    assert torch.equal(what.flatten(), z.flatten(2).amax(2).flatten())


def test_soft_pool_with_large_beta_approaches_max_and_argmax():
    z = torch.zeros(1, 1, 4, 4)
    z[0, 0, 3, 0] = 1.0  # bottom-left: (x, y) = (-1, +1)
    what, where = soft_pool(z, 4, beta=100.0)
    assert float(what) == pytest.approx(1.0, abs=1e-6)
    assert where.flatten().tolist() == pytest.approx([-1.0, 1.0], abs=1e-6)


def test_soft_pool_with_small_beta_approaches_mean_pooling(z):
    what, where = soft_pool(z, 2, beta=1e-6)
    assert torch.allclose(what, F.avg_pool2d(z, 2), atol=1e-5)
    assert where.abs().max() < 1e-5


def test_soft_pool_does_not_overflow_with_large_activations():
    z = torch.tensor([[[[1000.0, 999.0], [0.0, 0.0]]]])
    what, where = soft_pool(z, 2, beta=100.0)
    assert torch.isfinite(what).all() and torch.isfinite(where).all()
    assert float(what) == pytest.approx(1000.0)


def test_soft_where_lies_in_minus_one_to_one(z):
    _, where = soft_pool(z * 5, 4, beta=3.0)
    assert where.min() >= -1 and where.max() <= 1


@pytest.mark.parametrize("beta", [0.0, -1.0])
def test_non_positive_beta_is_an_error(z, beta):
    with pytest.raises(ValueError, match="beta"):
        soft_pool(z, 2, beta=beta)
    with pytest.raises(ValueError, match="beta"):
        WhatWherePool(2, soft=True, beta=beta)


def test_soft_unpool_places_what_at_where_by_interpolation():
    what = torch.tensor([[[[2.0]]]])
    where = torch.tensor([[[[[0.0, -1.0]]]]])  # x halfway across a 3-wide region, top row
    out = soft_unpool(what, where, 3, output_size=(3, 3))
    assert out[0, 0].tolist() == [[0.0, 2.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    between = soft_unpool(what, torch.tensor([[[[[-0.5, -1.0]]]]]), 3, output_size=(3, 3))
    assert between[0, 0, 0].tolist() == pytest.approx([1.0, 1.0, 0.0])


def test_gradients_flow_through_soft_where():
    z = torch.rand(1, 1, 4, 4, requires_grad=True)
    what, where = soft_pool(z, 4, beta=5.0)
    where.retain_grad()
    out = soft_unpool(what, where, 4, output_size=(4, 4))
    (out * torch.arange(16.0).view(1, 1, 4, 4)).sum().backward()
    assert where.grad is not None and where.grad.abs().sum() > 0


@pytest.mark.parametrize("unpool, where_shape", [(hard_unpool, (2, 3, 2, 2)), (soft_unpool, (2, 3, 4, 4))])
def test_mismatched_where_shape_is_an_error(z, unpool, where_shape):
    what = torch.rand(2, 3, 4, 4)
    where = torch.zeros(where_shape, dtype=torch.long if unpool is hard_unpool else torch.float32)
    with pytest.raises(ValueError, match="does not match"):
        unpool(what, where, 2, output_size=(8, 8))


def test_upsample_copies_what_onto_every_position():
    what = torch.tensor([[[[1.0, 2.0]]]])
    assert upsample(what, 2)[0, 0].tolist() == [[1.0, 1.0, 2.0, 2.0], [1.0, 1.0, 2.0, 2.0]]


def test_pool_larger_than_the_map_is_an_error():
    with pytest.raises(ValueError, match="does not fit"):
        hard_pool(torch.rand(1, 1, 4, 4), 8)


def test_unpool_module_dispatches_on_where_kind(z):
    unpool = WhatWhereUnpool(2)
    what, where = WhatWherePool(2)(z)
    assert torch.equal(unpool(what, where, z.shape[-2:]), hard_unpool(what, where, 2, output_size=(8, 8)))
    w, p = WhatWherePool(2, soft=True, beta=10.0)(z)
    assert torch.allclose(unpool(w, p, (8, 8)), soft_unpool(w, p, 2, output_size=(8, 8)))
    with pytest.raises(ValueError, match="needs the encoder's where"):
        unpool(w, None, (8, 8))
