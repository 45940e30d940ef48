"""The SWWAE's faster forms compute the same maps: channels-last unpooling, the decoder's
one-output convolution as a product and a fold, soft pooling by reshape, and the model as a
whole against its plain N C H W / F.conv2d form (values and gradients)."""

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from aelab.models.pooling import channels_last, hard_pool, hard_unpool, soft_pool, soft_unpool, upsample
from aelab.models.whatwhere import SWWAE, _mse, conv_by_taps, tap_padding

CL = torch.channels_last


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("size, stride", [(2, 2), (3, 3), (4, 4), (3, 2)])
def test_channels_last_unpool_equals_the_plain_one_and_max_unpool(size, stride):
    z = torch.randn(3, 5, 12, 11, generator=gen())
    what, where = hard_pool(z.contiguous(memory_format=CL), size, stride)
    assert channels_last(what) and channels_last(where)
    plain_what, plain_where = what.contiguous(), where.contiguous()
    out = hard_unpool(what, where, size, stride, output_size=z.shape)
    ref = hard_unpool(plain_what, plain_where, size, stride, output_size=z.shape)
    assert channels_last(out) and not channels_last(ref)
    assert torch.equal(out, ref)
    if stride == size:  # non-overlapping: also torch's own max_unpool2d
        assert torch.equal(out, F.max_unpool2d(plain_what, plain_where, size, stride, output_size=z.shape[-2:]))
    # gradients: the adjoint gather, in either layout
    w1, w2 = what.detach().requires_grad_(True), plain_what.detach().requires_grad_(True)
    g = torch.randn(z.shape, generator=gen(1))
    hard_unpool(w1, where, size, stride, output_size=z.shape).backward(g.contiguous(memory_format=CL))
    hard_unpool(w2, plain_where, size, stride, output_size=z.shape).backward(g)
    assert torch.allclose(w1.grad, w2.grad)


def test_a_one_channel_map_counts_as_plain_layout():
    assert not channels_last(torch.rand(2, 1, 4, 4).contiguous(memory_format=CL))
    assert channels_last(torch.rand(2, 3, 4, 4).contiguous(memory_format=CL))
    assert not channels_last(torch.rand(2, 3, 4))


@pytest.mark.parametrize("out_channels, kernel", [(1, 5), (3, 3), (2, 7)])
@pytest.mark.parametrize("layout", [torch.contiguous_format, CL])
def test_conv_by_taps_equals_conv2d_with_its_gradients(out_channels, kernel, layout):
    x = torch.randn(4, 16, 10, 9, generator=gen()).contiguous(memory_format=layout).requires_grad_(True)
    w = (torch.randn(out_channels, 16, kernel, kernel, generator=gen(1)) * 0.1).requires_grad_(True)
    b = torch.randn(out_channels, generator=gen(2)).requires_grad_(True)
    pad = (kernel // 2, kernel // 2)
    y = conv_by_taps(x, w, b, pad)
    ref = F.conv2d(x, w, b, padding=pad)
    assert y.shape == ref.shape
    assert torch.allclose(y, ref, atol=1e-5, rtol=1e-5)
    g = torch.randn(ref.shape, generator=gen(3))
    grads = torch.autograd.grad(y, (x, w, b), g)
    ref_grads = torch.autograd.grad(ref, (x, w, b), g)
    for a, r in zip(grads, ref_grads):
        assert torch.allclose(a, r, atol=1e-4, rtol=1e-4)


def test_only_size_keeping_few_output_convolutions_run_by_taps():
    assert tap_padding(nn.Conv2d(64, 1, 5, padding="same")) == (2, 2)
    assert tap_padding(nn.Conv2d(64, 3, 3, padding=1)) == (1, 1)
    assert tap_padding(nn.Conv2d(64, 64, 3, padding=1)) is None  # many outputs: oneDNN is fast there
    assert tap_padding(nn.Conv2d(64, 1, 4, padding="same")) is None  # 'same' pads an even kernel unevenly
    assert tap_padding(nn.Conv2d(64, 1, 5, padding=0)) is None  # does not keep the size
    assert tap_padding(nn.Conv2d(64, 1, 5, padding=4, dilation=2)) is None
    model = SWWAE("(8)5c-2p-(8)3c-2p-10fc", input_size=16)
    assert model.stages[0].decoder._by_taps == {0: (2, 2)}  # the image's deconvolution
    assert model.stages[1].decoder._by_taps == {}


def _unfold_soft_pool(z, size, beta):
    """Eqs. 3-4 written with F.unfold (the general path), for comparison."""
    n, c, h, w = z.shape
    regions = F.unfold(z.reshape(n * c, 1, h, w), size, stride=size)
    weights = torch.softmax(beta * regions, dim=1)
    axis = torch.linspace(-1.0, 1.0, size)
    ys, xs = torch.meshgrid(axis, axis, indexing="ij")
    what = (regions * weights).sum(1)
    where = torch.stack([(xs.reshape(-1, 1) * weights).sum(1), (ys.reshape(-1, 1) * weights).sum(1)], -1)
    h2, w2 = h // size, w // size
    return what.reshape(n, c, h2, w2), where.reshape(n, c, h2, w2, 2)


@pytest.mark.parametrize("shape, size", [((2, 3, 8, 8), 2), ((2, 3, 7, 5), 2), ((1, 2, 16, 16), 16), ((2, 2, 9, 9), 3)])
def test_soft_pooling_by_reshape_equals_the_unfold_form(shape, size):
    z = (torch.rand(shape, generator=gen()) * 3).requires_grad_(True)
    what, where = soft_pool(z, size, beta=10.0)
    ref_what, ref_where = _unfold_soft_pool(z, size, 10.0)
    assert torch.allclose(what, ref_what, atol=1e-6) and torch.allclose(where, ref_where, atol=1e-6)
    # unpooling by reshape places the same values as the fold of the general path
    out = soft_unpool(what, where, size, output_size=shape)
    assert torch.allclose(out, _fold_soft_unpool(what, where, size, shape[-2:]), atol=1e-6)
    up = upsample(what, size, output_size=shape)
    h2, w2 = what.shape[-2:]
    assert torch.equal(up[..., : h2 * size, : w2 * size],
                       what.repeat_interleave(size, -1).repeat_interleave(size, -2))
    assert float(up[..., h2 * size:, :].detach().abs().sum()) == 0.0  # the remainder stays zero
    assert float(up[..., w2 * size:].detach().abs().sum()) == 0.0


def _fold_soft_unpool(what, where, size, hw):
    """Bilinear placement written with F.fold (the general path), for comparison."""
    n, c, h2, w2 = what.shape
    grid = torch.arange(size, dtype=what.dtype)

    def tent(p):
        return torch.clamp(1 - ((p + 1) * 0.5 * (size - 1)).unsqueeze(-1).sub(grid).abs(), min=0)

    placed = what[..., None, None] * tent(where[..., 1])[..., :, None] * tent(where[..., 0])[..., None, :]
    columns = placed.reshape(n * c, h2 * w2, size * size).transpose(1, 2)
    return F.fold(columns, tuple(hw), size, stride=size).reshape(n, c, *hw)


def test_mse_is_torchs_mean_squared_error():
    a, b = torch.rand(3, 4, 5, 6, generator=gen()), torch.rand(3, 4, 5, 6, generator=gen(1))
    assert torch.allclose(_mse(a, b), F.mse_loss(a, b))


def _plain(model: SWWAE) -> SWWAE:
    """The same model computed the plain way: N C H W maps and kernels, every deconvolution by F.conv2d."""
    plain = copy.deepcopy(model)
    for stage in plain.stages:
        stage.channels_last = False
        stage.decoder._by_taps = {}
    for p in plain.parameters():
        p.data = p.data.contiguous()
    return plain


@pytest.mark.parametrize("spec, pooling, unpool", [("(8)5c-2p-(8)3c-2p-(8)3c-2p-10fc", "hard", "where"),
                                                   ("(6)5c-(6)3c-2p-(6)3c-16p", "soft", "where"),
                                                   ("(4)5c-(8)3c-4p", "hard", "upsample")])
def test_the_swwae_loss_and_gradients_equal_the_plain_computation(spec, pooling, unpool):
    model = SWWAE(spec, input_size=32, pooling=pooling, unpool=unpool, beta=10.0, generator=gen())
    assert model.stages[0].encoder[0].weight.is_contiguous(memory_format=CL)
    plain = _plain(model)
    x = torch.rand(6, 1, 32, 32, generator=gen(1))
    y = torch.tensor([0, 1, 2, -1, -1, 3]) if model.classifier is not None else None
    terms, ref = model.loss(x, y), plain.loss(x, y)
    for k in ref:
        assert torch.allclose(terms[k], ref[k], rtol=1e-5, atol=1e-7), k
    terms["total"].backward()
    ref["total"].backward()
    for (name, p), q in zip(model.named_parameters(), plain.parameters()):
        assert torch.allclose(p.grad, q.grad, rtol=1e-4, atol=1e-6), name
