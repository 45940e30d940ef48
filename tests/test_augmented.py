"""Augmented networks (Zhang et al. 2016): splitting a classifier into macro-layers,
the mirrored decoding pathway, fixed vs known switches, the three variants, bad input."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from aelab.models.augmented import (SWITCHES, VARIANTS, AugmentedNetwork, AugmentError, fixed_switches,
                                    load_classifier_weights, split_macro_layers, vgg_classifier)

SPEC = "(4)3c-(4)3c-2p-(8)3c-2p-16fc-10fc"


@pytest.fixture
def net():
    torch.manual_seed(0)
    return vgg_classifier(SPEC, 16)


@pytest.fixture
def x():
    return torch.rand(3, 1, 16, 16, generator=torch.Generator().manual_seed(1))


class VGGShaped(nn.Module):
    """torchvision's VGG layout (features / avgpool / classifier, flatten in forward)."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(inplace=True),
                                      nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2, 2),
                                      nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2, 2))
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(nn.Linear(8 * 49, 16), nn.ReLU(True), nn.Dropout(),
                                        nn.Linear(16, 16), nn.ReLU(True), nn.Dropout(), nn.Linear(16, 5))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


class AlexNetShaped(VGGShaped):
    """torchvision's AlexNet layout: strided 11x11 conv1, overlapping 3x3/2 pools, conv3-5 share a pool."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 4, 11, stride=4, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
            nn.Conv2d(4, 8, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
            nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(8, 8, 3, padding=1),
            nn.ReLU(inplace=True), nn.MaxPool2d(3, 2))
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(nn.Dropout(), nn.Linear(8 * 36, 16), nn.ReLU(True), nn.Linear(16, 5))


def test_split_puts_convolutions_before_each_pool_into_one_macro_layer(net):
    split = split_macro_layers(net)
    assert [len(group) for group in split.macro] == [5, 3]
    assert split.names == ["pool1", "pool2", "fc1", "fc2"]


@pytest.mark.parametrize("cls, shape, names", [
    (VGGShaped, (3, 16, 16), ["pool1", "pool2", "fc1", "fc2", "fc3"]),
    (AlexNetShaped, (3, 67, 67), ["pool1", "pool2", "pool3", "fc1", "fc2"]),
])
@pytest.mark.parametrize("switches", SWITCHES)
def test_torchvision_shaped_networks_are_augmented_and_inverted_from_every_layer(cls, shape, names, switches):
    torch.manual_seed(0)
    classifier = cls().eval()
    model = AugmentedNetwork(classifier, shape, variant="all", switches=switches, invert_fc=True).eval()
    x = torch.rand(2, *shape)
    assert torch.allclose(model(x), classifier(x), atol=1e-5)
    assert model.layer_names == names
    for name in names:
        assert model.invert(x, name).shape == x.shape
    loss = model.loss(x, torch.tensor([0, 3]))
    loss["total"].backward()
    assert all(p.grad is not None for p in model.decoders.parameters())


def test_user_named_ends_make_one_macro_layer_per_convolution():
    model = AugmentedNetwork(AlexNetShaped(), (3, 67, 67), ends=["features.2", "features.5", "features.7",
                                                                 "features.10"])
    assert model.layer_names == ["pool1", "pool2", "conv3", "pool4", "fc1", "fc2"]
    assert model.point("features.7") == "conv3"
    assert model.reconstruct(torch.rand(1, 3, 67, 67)).shape == (1, 3, 67, 67)


def test_fixed_switches_point_at_the_top_left_of_every_window():
    what = torch.zeros(1, 1, 2, 3)
    assert fixed_switches(what, 2, 2, (4, 6))[0, 0].tolist() == [[0, 2, 4], [12, 14, 16]]


def _identity_net(switches):
    """conv 1x1 (weight 1) -> ReLU -> 2x2 pool, and a decoder deconv of weight 1: the
    decoder output is exactly the unpooled map."""
    classifier = nn.Sequential(nn.Conv2d(1, 1, 1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4, 2))
    model = AugmentedNetwork(classifier, (1, 4, 4), variant="first", switches=switches)
    with torch.no_grad():
        for conv in (model.encoder[0][0], model.decoders[0].deconvs[0]):
            conv.weight.fill_(1.0)
            conv.bias.zero_()
    return model


def test_known_switches_put_each_maximum_back_where_it_was_and_fixed_ones_at_the_top_left():
    x = torch.arange(16, dtype=torch.float32).reshape(1, 1, 4, 4).flip(-1)  # maxima at the top-right... of windows
    known = _identity_net("known").reconstruct(x)[0, 0]
    fixed = _identity_net("fixed").reconstruct(x)[0, 0]
    maxima = torch.nn.functional.max_pool2d(x, 2)[0, 0]
    expected_known = torch.zeros(4, 4)
    expected_fixed = torch.zeros(4, 4)
    for i in range(2):
        for j in range(2):
            window = x[0, 0, 2 * i:2 * i + 2, 2 * j:2 * j + 2]
            r, c = divmod(int(window.argmax()), 2)
            expected_known[2 * i + r, 2 * j + c] = maxima[i, j]
            expected_fixed[2 * i, 2 * j] = maxima[i, j]
    assert torch.equal(known, expected_known)
    assert torch.equal(fixed, expected_fixed)
    assert not torch.equal(known, fixed)


@pytest.mark.parametrize("variant", VARIANTS)
def test_loss_terms_follow_each_variant_and_total_is_c_plus_lambda_u(net, x, variant):
    model = AugmentedNetwork(net, (1, 16, 16), variant=variant, lam=0.5)
    y = torch.tensor([0, 1, 2])
    out = model.loss(x, y)
    recon = [k for k in out if k.startswith("reconstruction_")]
    assert recon == (["reconstruction_0"] if variant == "first" else ["reconstruction_0", "reconstruction_1"])
    assert torch.allclose(out["total"], out["classification"] + 0.5 * out["reconstruction"])
    assert "classification" not in model.loss(x)


def test_layerwise_decodes_each_layer_from_the_clean_encoder_activations_and_stacked_from_the_top(net, x):
    layerwise = AugmentedNetwork(net, (1, 16, 16), variant="layerwise")
    stacked = AugmentedNetwork(net, (1, 16, 16), variant="first")
    stacked.init_decoders_from(layerwise)
    enc = layerwise.encode(x)
    assert torch.allclose(layerwise.decode(enc), layerwise.decode_macro(enc.a[1], enc, 1))
    a1_hat = stacked.decode_macro(enc.a[2], enc, 2)
    assert torch.allclose(stacked.decode(enc), stacked.decode_macro(a1_hat, enc, 1))
    assert torch.equal(stacked.decode_stages(enc)[0], stacked.decode(enc))


def test_gammas_default_to_one_over_each_layers_dimension(net):
    model = AugmentedNetwork(net, (1, 16, 16), variant="all")
    assert model.gammas.tolist() == pytest.approx([1 / 256, 1 / (4 * 8 * 8)])
    with pytest.raises(AugmentError, match="gammas"):
        AugmentedNetwork(net, (1, 16, 16), gammas=[1.0])


def test_the_classifier_is_copied_unless_asked_otherwise(net):
    model = AugmentedNetwork(net, (1, 16, 16))
    assert model.encoder[0][0].weight is not net[0].weight
    shared = AugmentedNetwork(net, (1, 16, 16), copy=False)
    assert shared.encoder[0][0].weight is net[0].weight


# ----------------------------------------------------------------------------- bad input

def test_a_classifier_without_pooling_is_refused_with_its_module_list():
    classifier = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 14 * 14, 3))
    with pytest.raises(AugmentError, match=r"no max-pooling.*0 \(Conv2d\)"):
        AugmentedNetwork(classifier, (1, 16, 16))


def test_an_unsupported_module_is_named():
    classifier = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Upsample(scale_factor=2), nn.MaxPool2d(2), nn.Flatten(),
                               nn.Linear(8, 2))
    with pytest.raises(AugmentError, match=r"module 1 \(Upsample\)"):
        split_macro_layers(classifier)
    with pytest.raises(AugmentError, match="no sub-modules"):
        split_macro_layers(nn.Linear(3, 3))


def test_unknown_end_or_layer_name_lists_what_is_available(net, x):
    with pytest.raises(AugmentError, match=r"unknown macro-layer end.*'conv9'.*0, 1, 2"):
        AugmentedNetwork(net, (1, 16, 16), ends=["conv9"])
    model = AugmentedNetwork(net, (1, 16, 16), invert_fc=True)
    with pytest.raises(AugmentError, match="available: pool1, pool2, fc1, fc2"):
        model.invert(x, "pool7")
    with pytest.raises(AugmentError, match="invert_fc=True"):
        AugmentedNetwork(net, (1, 16, 16)).invert(x, "fc1")


def test_a_forward_that_does_not_follow_registration_order_is_detected():
    class Shuffled(nn.Module):
        def __init__(self):
            super().__init__()
            self.pool = nn.MaxPool2d(2)
            self.conv = nn.Conv2d(1, 2, 3, padding=1)
            self.fc = nn.Linear(2 * 16, 3)

        def forward(self, x):
            return self.fc(torch.flatten(torch.relu(self.pool(self.conv(x))), 1))

    with pytest.raises(AugmentError):
        AugmentedNetwork(Shuffled(), (1, 8, 8))


def test_mismatched_weights_and_inputs_are_refused(net, x):
    other = AugmentedNetwork(vgg_classifier("(4)3c-2p-(8)3c-2p-16fc-10fc", 16), (1, 16, 16), variant="layerwise")
    model = AugmentedNetwork(net, (1, 16, 16), variant="all")
    with pytest.raises(AugmentError, match="do not match.*Available"):
        model.init_decoders_from(other)
    with pytest.raises(AugmentError, match="expected inputs of shape N x 1 x 16 x 16"):
        model(torch.rand(2, 1, 8, 8))
    with pytest.raises(AugmentError, match=r"classifier weights do not match: missing 0.weight"):
        load_classifier_weights(net, {k: v for k, v in other.encoder.state_dict().items()})
    with pytest.raises(AugmentError, match="variant"):
        AugmentedNetwork(net, (1, 16, 16), variant="middle")
    with pytest.raises(AugmentError, match="switches"):
        AugmentedNetwork(net, (1, 16, 16), switches="random")


# ----------------------------------------------------------------------------- the shared stage, config

def test_the_decoding_pathway_is_made_of_what_where_stages_shared_with_the_swwae(net):
    from aelab.models.whatwhere import SWWAE, WhatWhereStage

    model = AugmentedNetwork(net, (1, 16, 16))
    swwae = SWWAE("(4)3c-2p-10fc", input_size=16)
    assert all(isinstance(stage, WhatWhereStage) for stage in [*model.stages, *swwae.stages])
    assert model.stages[0].encoder[0] is model.encoder[0][0] and model.decoders[1] is model.stages[1].decoder
    assert [stage.decoder.mode for stage in AugmentedNetwork(net, (1, 16, 16), switches="fixed").stages] == \
        ["fixed", "fixed"]


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
def test_size_preserving_convolutions_mirror_as_convolutions_and_strided_ones_as_their_transpose():
    alex = AugmentedNetwork(AlexNetShaped(), (3, 67, 67))
    assert isinstance(alex.decoders[0].deconvs[0], nn.ConvTranspose2d)  # 11x11, stride 4
    assert all(isinstance(d, nn.Conv2d) and not isinstance(d, nn.ConvTranspose2d)
               for d in alex.decoders[2].deconvs)
    even = AugmentedNetwork(vgg_classifier("(2)2c-2p-4fc", 8), (1, 8, 8))  # even kernel, 'same' padding
    assert even.reconstruct(torch.rand(2, 1, 8, 8)).shape == (2, 1, 8, 8)


def test_unpooling_at_fixed_switches_needs_no_where():
    from aelab.models.pooling import WhatWhereUnpool, hard_unpool

    what = torch.rand(2, 3, 2, 3)
    expected = hard_unpool(what, fixed_switches(what, 2, 2, (4, 6)), 2, output_size=(4, 6))
    assert torch.equal(WhatWhereUnpool(2, mode="fixed")(what, None, (4, 6)), expected)


def test_spec_built_networks_have_a_config_and_user_classifiers_do_not(net, tmp_path):
    from aelab.models.registry import load_model, save_model

    model = AugmentedNetwork(net, (1, 16, 16), variant="first", lam=0.5, invert_fc=True)
    assert model.config.classifier_spec == SPEC and model.config.input_shape == [1, 16, 16]
    save_model(tmp_path / "net", model)
    again = load_model(tmp_path / "net")
    x = torch.rand(2, 1, 16, 16)
    assert again.variant == "first" and again.lam == 0.5 and torch.equal(again.gammas, model.gammas)
    model.eval()
    assert torch.equal(again.invert(x, "fc1"), model.invert(x, "fc1"))
    with pytest.raises(AugmentError, match="no config"):
        AugmentedNetwork(VGGShaped(), (3, 16, 16)).config
    with pytest.raises(AugmentError, match="no config"):
        AugmentedNetwork(net, (1, 16, 16), ends=["4", "7"]).config


def test_vgg_classifier_and_decoders_are_seeded_by_the_generator():
    a = vgg_classifier(SPEC, 16, generator=torch.Generator().manual_seed(3))
    b = vgg_classifier(SPEC, 16, generator=torch.Generator().manual_seed(3))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    one = AugmentedNetwork(a, (1, 16, 16), generator=torch.Generator().manual_seed(4))
    two = AugmentedNetwork(a, (1, 16, 16), generator=torch.Generator().manual_seed(4))
    assert all(torch.equal(p, q) for p, q in zip(one.decoder_parameters(), two.decoder_parameters()))
