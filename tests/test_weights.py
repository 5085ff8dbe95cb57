"""Weights files: safetensors with our metadata, one-line errors naming the file, never unpickled; and the
shipped weights: they load, carry their colour gain and colour photos better than gray."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from filmcolor import weights
from filmcolor.errors import WeightsError
from filmcolor.fsutil import PARTIAL_MARK
from filmcolor.models import create_model
from filmcolor.weights import load_model, read_meta, resolve_weights, save_weights

ARCH, KWARGS = "pix2pix-unet", {"num_filters": 4, "n_down": 5}  # small and quick to build; the format does not
# depend on the architecture


def good_metadata(**changes: str) -> dict[str, str]:
    meta = {"format": "filmcolor", "format_version": "1", "arch": ARCH, "arch_kwargs": json.dumps(KWARGS),
            "normalization": json.dumps(weights.lab_normalization()), "info": "{}"}
    meta.update(changes)
    return meta


def small_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return {k: v.contiguous() for k, v in create_model(ARCH, **KWARGS).state_dict().items()}


def assert_one_line_error_naming(path: Path, match: str | None = None) -> WeightsError:
    with pytest.raises(WeightsError) as info:
        load_model(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message, message
    if match:
        assert match in message, message
    return info.value


def test_round_trip_keeps_outputs_and_metadata(tmp_path):
    torch.manual_seed(0)
    kwargs = {"decoder_channels": [32, 32, 16, 16]}
    model = create_model("filmcolor-fast", **kwargs).eval()
    with torch.no_grad():  # non-trivial BatchNorm statistics, so buffers must round-trip too
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    info = {"epochs": 3, "data": "photos/train", "metrics": {"psnr": 24.5}}
    path = tmp_path / "m.safetensors"
    save_weights(path, model, "filmcolor-fast", kwargs, info)
    assert not list(tmp_path.glob(f"*{PARTIAL_MARK}*"))

    loaded, meta = load_model(path)
    assert meta.arch == "filmcolor-fast" and meta.arch_kwargs == kwargs and meta.info == info
    assert meta.normalization == {"l_scale": 50.0, "l_shift": 1.0, "ab_scale": 110.0}
    assert read_meta(path) == meta
    assert not loaded.training
    x = torch.rand(2, 1, 64, 96) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)


def test_loading_never_unpickles(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("weights loading must not unpickle")

    path = tmp_path / "m.safetensors"
    save_weights(path, create_model(ARCH, **KWARGS), ARCH, KWARGS)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    monkeypatch.setattr(torch, "load", refuse)
    load_model(path)
    # and a pickled checkpoint is refused, not executed
    pickled = tmp_path / "evil.safetensors"
    torch.save(small_state(), pickled, _use_new_zipfile_serialization=False)
    assert_one_line_error_naming(pickled, "not a valid .safetensors")


@pytest.mark.parametrize("content", [b"", b"hello, this is text\n",
                                     b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}"])
def test_not_safetensors_is_a_weights_error(tmp_path, content):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    assert_one_line_error_naming(path, "not a valid .safetensors")


def test_truncated_file_is_a_weights_error(tmp_path):
    path = tmp_path / "m.safetensors"
    save_weights(path, create_model(ARCH, **KWARGS), ARCH, KWARGS)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert_one_line_error_naming(path)


def test_safetensors_without_our_metadata(tmp_path):
    path = tmp_path / "plain.safetensors"
    save_file(small_state(), str(path))
    assert_one_line_error_naming(path, "without filmcolor metadata")
    with pytest.raises(WeightsError):
        read_meta(path)


@pytest.mark.parametrize("gain", ['"x"', "-1", "null", "true"])
def test_a_gain_that_is_no_number_is_a_weights_error(tmp_path, gain):
    """A library audit: an info 'ab_gain' of "x" was a bare ValueError when the Colorizer was made."""
    path = tmp_path / "gain.safetensors"
    save_file(small_state(), str(path), metadata=good_metadata(info='{"ab_gain": ' + gain + "}"))
    with pytest.raises(WeightsError, match="ab_gain .* is not a number of 0 or more"):
        read_meta(path)


def test_missing_tensor(tmp_path):
    state = small_state()
    del state["model.model.0.weight"]
    path = tmp_path / "missing.safetensors"
    save_file(state, str(path), metadata=good_metadata())
    assert_one_line_error_naming(path, "missing 1")


def test_unexpected_tensor(tmp_path):
    path = tmp_path / "extra.safetensors"
    save_file({**small_state(), "extra.weight": torch.zeros(3)}, str(path), metadata=good_metadata())
    assert_one_line_error_naming(path, "unexpected 1")


def test_tensor_of_the_wrong_shape(tmp_path):
    state = small_state()
    state["model.model.0.weight"] = torch.zeros(4, 3, 4, 4)
    path = tmp_path / "shape.safetensors"
    save_file(state, str(path), metadata=good_metadata())
    assert_one_line_error_naming(path, "model.model.0.weight")


def test_wrong_architecture(tmp_path):
    path = tmp_path / "arch.safetensors"
    save_file(small_state(), str(path), metadata=good_metadata(arch="filmcolor-fast", arch_kwargs="{}"))
    assert_one_line_error_naming(path, "do not match architecture 'filmcolor-fast'")
    save_file(small_state(), str(path), metadata=good_metadata(arch="no-such-net"))
    assert_one_line_error_naming(path, "no-such-net")


@pytest.mark.parametrize("changes", [{"arch_kwargs": "{broken"}, {"arch_kwargs": "[1, 2]"}, {"info": "[1]"},
                                     {"arch_kwargs": '{"no_such_argument": 1}'},
                                     {"arch_kwargs": '{"num_filters": -1}'}, {"arch_kwargs": '{"n_down": "x"}'},
                                     {"format_version": "2"}, {"format_version": "x"},
                                     {"normalization": '{"l_scale": 100.0, "l_shift": 0, "ab_scale": 128}'}])
def test_bad_metadata(tmp_path, changes):
    path = tmp_path / "meta.safetensors"
    save_file(small_state(), str(path), metadata=good_metadata(**changes))
    assert_one_line_error_naming(path)


@pytest.mark.parametrize("spoil", ["nan", "inf", "int8"])
def test_tensors_that_colour_nothing_are_a_weights_error(tmp_path, spoil):
    """An audit: weights holding NaN (a training run that diverged) or integers loaded in silence, and every
    picture came out white."""
    state = small_state()
    name = "model.model.0.weight"
    if spoil == "int8":
        state = {k: v.to(torch.int8) if v.is_floating_point() else v for k, v in state.items()}
    else:
        state[name][0, 0, 0, 0] = float(spoil)
    path = tmp_path / f"{spoil}.safetensors"
    save_file(state, str(path), metadata=good_metadata())
    error = assert_one_line_error_naming(path, name if spoil != "int8" else "holds int8, not floating-point")
    assert ("NaN or infinity" in str(error)) == (spoil != "int8")


def test_a_discriminator_is_no_colouring_network(tmp_path):
    """An audit: a PatchGAN's weights as --model failed on the first photo, naming the photo."""
    path = tmp_path / "d.safetensors"
    save_weights(path, create_model("patchgan"), "patchgan", {})
    assert_one_line_error_naming(path, "'patchgan' is a discriminator, not a colouring network")


def test_a_pipe_as_weights_is_refused_at_once(tmp_path):
    """An audit: a pipe (or /dev/zero) as --model waited (or read) for ever before anything was checked."""
    import os

    fifo = tmp_path / "w.safetensors"
    os.mkfifo(fifo)
    assert_one_line_error_naming(fifo, "not a file")
    assert_one_line_error_naming(Path("/dev/zero"), "not a file")


def test_create_model_with_arguments_it_cannot_take_is_a_config_error():
    from filmcolor.errors import ConfigError

    for kwargs in ({"no_such_argument": 1}, {"num_filters": -1}):
        with pytest.raises(ConfigError, match="do not fit 'pix2pix-unet'"):
            create_model("pix2pix-unet", **kwargs)


def test_missing_file_and_folder(tmp_path):
    assert_one_line_error_naming(tmp_path / "absent.safetensors", "not found")
    assert_one_line_error_naming(tmp_path, "folder")


def test_resolve_weights(tmp_path, monkeypatch):
    monkeypatch.setattr(weights, "PACKAGE_WEIGHTS_DIR", tmp_path / "none")
    with pytest.raises(WeightsError, match="filmcolor train") as info:
        resolve_weights("default")
    assert "--model PATH" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(WeightsError, match="unknown model 'nonsense'"):
        resolve_weights("nonsense")
    file = tmp_path / "x.safetensors"
    assert resolve_weights(str(file)) == file  # a path is passed on; loading reports if it is missing

    shipped = tmp_path / "shipped"
    shipped.mkdir()
    save_weights(shipped / "filmcolor-guided.safetensors", create_model(ARCH, **KWARGS), ARCH, KWARGS)
    monkeypatch.setattr(weights, "PACKAGE_WEIGHTS_DIR", shipped)
    assert resolve_weights("default") == shipped / "filmcolor-guided.safetensors"
    assert resolve_weights(None) == shipped / "filmcolor-guided.safetensors"


# ---- the weights that ship inside the package ----

SKIMAGE_PHOTOS = ("astronaut", "chelsea", "coffee")  # colour photos inside scikit-image's wheel: no download


@pytest.fixture(scope="module")
def shipped_path() -> Path:
    path = weights.shipped_weights().get(weights.DEFAULT_WEIGHTS_NAME)
    assert path is not None and path.is_file(), "the default weights must ship inside the package"
    return path


@pytest.fixture(scope="module")
def shipped(shipped_path: Path):
    from filmcolor.colorize import Colorizer

    return Colorizer.from_pretrained(shipped_path, device="cpu", runtime="torch")


def test_shipped_weights_load_as_the_guided_model_and_apply_the_stored_gain(shipped_path: Path, shipped) -> None:
    model, meta = load_model(shipped_path)
    assert meta.arch == "filmcolor-guided" and not model.training and shipped.guided
    assert resolve_weights("default") == shipped_path
    # no uniform colour gain: the colour is learned (issue 17); the Colorizer applies whatever is stored
    assert meta.info.get("ab_gain", 1.0) == 1.0 == shipped.ab_gain
    l_nhw = np.linspace(20, 80, 64 * 96, dtype=np.float32).reshape(1, 64, 96)
    ab_plain = shipped.predict_ab(l_nhw)
    shipped.ab_gain = 1.1
    try:
        ab_gained = shipped.predict_ab(l_nhw)
    finally:
        shipped.ab_gain = 1.0
    inside = np.abs(ab_gained).max(axis=-1) < 100  # away from the +-110 clamp
    np.testing.assert_allclose(ab_gained[inside], 1.1 * ab_plain[inside], rtol=1e-4, atol=1e-3)


def test_shipped_model_follows_a_hint(shipped) -> None:
    import skimage.data

    from filmcolor import guide
    from filmcolor.colorize import image_l

    gray = skimage.data.camera()[::2, ::2]  # 256 x 256, a man with a camera on a lawn
    l_hw = image_l(gray)
    auto = shipped.colorize_batch(l_hw[None])[0]
    hint = guide.Hints(np.array([60.0], np.float32), np.array([200.0], np.float32),
                       guide.parse_color("#c0201a")[None], np.array([4.0], np.float32))  # the lawn made red
    hinted = shipped.colorize_batch(l_hw[None], shipped.guide_for(l_hw, hint)[None])[0]
    assert hinted[195:206, 55:66, 0].mean() > auto[195:206, 55:66, 0].mean() + 20  # a (red) up at the hint
    assert np.abs(hinted[:40] - auto[:40]).mean() < 3  # the sky, far away and brighter: barely moved


@pytest.mark.slow
def test_shipped_model_colours_photos_above_gray(shipped, tmp_path: Path) -> None:
    import skimage.data

    from filmcolor.evaluate import evaluate_images
    from filmcolor.imageio import write_image

    for name in SKIMAGE_PHOTOS:
        write_image(tmp_path / f"{name}.png", getattr(skimage.data, name)())
    for path in sorted(tmp_path.glob("*.png")):
        scores = evaluate_images(shipped, [path])
        assert scores["gray_colorfulness"] == 0  # the baseline: the photo's own luma, no colour
        assert scores["psnr"] > scores["gray_psnr"] + 1.0, (path.name, scores)
        assert scores["colorfulness"] > 20, (path.name, scores)


@pytest.mark.slow
def test_shipped_model_colours_val_photos_above_gray(shipped, shared_data: Path) -> None:
    from filmcolor.evaluate import evaluate_images
    from filmcolor.imageio import list_images

    photos = list_images([shared_data / "photos" / "val"])[::55]  # a few from every source
    assert len(photos) >= 5
    scores = evaluate_images(shipped, photos)
    assert scores["psnr"] > scores["gray_psnr"] + 0.5, scores
    assert scores["colorfulness"] > 0.5 * scores["real_colorfulness"], scores
