"""Colour guidance: hint files, propagation, reference transfer, and the guided network following them."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from conftest import make_guided_weights

from filmcolor import guide, lab
from filmcolor.colorize import Colorizer
from filmcolor.errors import ConfigError, InputError
from filmcolor.imageio import write_image


@pytest.fixture(scope="module")
def guided_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_guided_weights(tmp_path_factory.mktemp("guided") / "guided.safetensors")


@pytest.fixture(scope="module")
def colorizer(guided_weights: Path) -> Colorizer:
    return Colorizer.from_pretrained(guided_weights, device="cpu", runtime="torch", render_size=96)


def two_halves(h: int = 96, w: int = 160) -> np.ndarray:
    """A gray picture: a dark left half and a light right half (an object edge in L)."""
    gray = np.full((h, w), 70, np.uint8)
    gray[:, w // 2:] = 190
    return gray


def hint_file(tmp_path: Path, points: object) -> Path:
    path = tmp_path / "hints.json"
    path.write_text(json.dumps({"points": points}))
    return path


# ---- hint files ----

def test_hints_json_is_read_in_pixel_coordinates(tmp_path):
    path = hint_file(tmp_path, [{"x": 10, "y": 5, "color": "#aa3311"}, {"x": 150.5, "y": 90, "color": "00ff00",
                                                                       "radius": 4}])
    hints = guide.load_hints(path, 160, 96)
    assert len(hints) == 2
    assert hints.x.tolist() == [10, 150.5] and hints.y.tolist() == [5, 90] and hints.radius.tolist() == [0, 4]
    red = lab.rgb_to_lab(np.array([[[0xAA, 0x33, 0x11]]], np.uint8))[0, 0, 1:]
    np.testing.assert_allclose(hints.ab[0], red, atol=1e-4)
    assert hints.ab[1][0] < -50  # green: negative a


@pytest.mark.parametrize("points, message", [
    ([{"x": 160, "y": 5, "color": "#aa3311"}], "outside the 160x96 picture"),
    ([{"x": -1, "y": 5, "color": "#aa3311"}], "outside"),
    ([{"x": 1, "y": 5, "color": "red"}], "is not #RRGGBB"),
    ([{"x": 1, "y": 5, "color": "#12345"}], "is not #RRGGBB"),
    ([{"x": "a", "y": 5, "color": "#123456"}], "must be numbers"),
    ([{"y": 5, "color": "#123456"}], "must be numbers"),
    ([{"x": True, "y": 5, "color": "#123456"}], "must be numbers"),  # JSON true is not a coordinate
    ([{"x": 1, "y": 5, "radius": "3", "color": "#123456"}], "must be numbers"),
    (["not an object"], "expected an object"),
    ("nope", "expected"),
])
def test_bad_hints_name_the_file_and_the_point(tmp_path, points, message):
    path = hint_file(tmp_path, points)
    with pytest.raises(InputError) as err:
        guide.load_hints(path, 160, 96)
    assert str(path) in str(err.value) and message in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("points, message", [  # an audit: the message named the wrong cause, or the photo
    ([{"x": 1, "y": 0, "color": "#123456", "radius": float("inf")}], "radius inf must be between 0"),  # 'outside'
    ([{"x": 10 ** 400, "y": 5, "color": "#123456"}], "(inf, 5) is outside the 160x96 picture"),  # OverflowError
    ([{"x": 1, "y": 5, "colour": "#123456"}], 'the key is "color", not "colour"'),  # "colour None is not"
    ([{"x": 1, "y": 5, "Color": "#123456"}], 'the key is "color", not "Color"'),  # a second audit
    ([{"x": 1, "y": 5, "color": "bed"}], "colour 'bed' is not #RRGGBB"),  # CSS's short form needs its '#'
])
def test_bad_hint_values_are_named_for_what_they_are(tmp_path, points, message):
    path = tmp_path / "h.json"
    path.write_text(json.dumps({"points": points}))  # (json writes inf as Infinity, which it reads back)
    with pytest.raises(InputError) as err:
        guide.load_hints(path, 160, 96)
    assert str(path) in str(err.value) and message in str(err.value), err.value


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])  # Notepad's UTF-8 and PowerShell's default
def test_hints_json_with_a_byte_order_mark_is_read(tmp_path, encoding):
    path = tmp_path / "h.json"
    path.write_text(json.dumps({"points": [{"x": 1, "y": 2, "color": "#a31"}]}), encoding=encoding)
    hints = guide.load_hints(path, 160, 96)
    np.testing.assert_allclose(hints.ab[0], guide.parse_color("#aa3311"))  # CSS's short form, as #aa3311


def test_a_deeply_nested_hints_file_is_unreadable_not_a_crash(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)  # 'unexpected RecursionError' before
    with pytest.raises(InputError, match="deep.json: not a readable hints JSON file"):
        guide.load_hints(path, 160, 96)


def test_a_dotted_name_takes_its_own_guidance_file(tmp_path):
    """An audit: 1890.05.12_pier.jpg took 1890.05.json (Path.with_suffix), or a.b.jpg took a.json."""
    (tmp_path / "in").mkdir()
    (tmp_path / "h").mkdir()
    for name in ("a.b.jpg", "a.jpg", "1890.05.12_pier.jpg"):
        (tmp_path / "in" / name).touch()
    for name in ("a.b.json", "a.json", "1890.05.12_pier.json", "1890.05.json"):
        (tmp_path / "h" / name).touch()
    inputs = [tmp_path / "in"]
    for name, expected in (("a.b.jpg", "a.b.json"), ("a.jpg", "a.json"),
                           ("1890.05.12_pier.jpg", "1890.05.12_pier.json")):
        found = guide.guidance_file(tmp_path / "h", tmp_path / "in" / name, inputs, (".json",))
        assert found == tmp_path / "h" / expected
    one = guide.guidance_file(tmp_path / "h", tmp_path / "in" / "a.b.jpg", [tmp_path / "in" / "a.b.jpg"], (".json",))
    assert one == tmp_path / "h" / "a.b.json"  # a photo given on its own
    (tmp_path / "in" / "Pier.jpg").touch()  # a second audit: a camera's .JPG reference was 'named like no image'
    (tmp_path / "h" / "Pier.JPG").touch()
    found = guide.guidance_file(tmp_path / "h", tmp_path / "in" / "Pier.jpg", inputs, (".png", ".jpg"))
    assert found == tmp_path / "h" / "Pier.JPG"


def test_unreadable_and_missing_hints_files(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="not a readable hints JSON file"):
        guide.load_hints(bad, 10, 10)
    with pytest.raises(InputError, match="hints file not found"):
        guide.load_hints(tmp_path / "missing.json", 10, 10)


def test_scribbles_image_opaque_pixels_are_hints(tmp_path):
    rgba = np.zeros((20, 30, 4), np.uint8)
    rgba[5, 7] = (200, 30, 30, 255)
    rgba[6, 8] = (200, 30, 30, 100)  # mostly transparent: not a hint
    path = tmp_path / "s.png"
    write_image(path, rgba)
    hints = guide.hints_from_scribbles(path, 30, 20)
    assert len(hints) == 1 and (hints.x[0], hints.y[0]) == (7, 5) and hints.ab[0][0] > 30
    with pytest.raises(InputError, match="is 30x20, the picture 31x20"):
        guide.hints_from_scribbles(path, 31, 20)
    write_image(tmp_path / "rgb.png", rgba[..., :3])
    with pytest.raises(InputError, match="must be RGBA"):
        guide.hints_from_scribbles(tmp_path / "rgb.png", 30, 20)


# ---- propagation ----

def test_propagation_keeps_the_hint_and_stops_at_an_edge_in_l():
    l_hw = torch.from_numpy(lab.gray_to_l(two_halves()))
    yx, ab, l_pt = torch.tensor([[48.5, 20.5]]), torch.tensor([[40.0, 30.0]]), l_hw[48, 20][None]
    ab_map, conf = guide.propagate(l_hw, yx, ab, l_pt)
    assert conf[48, 20] > 0.99 and torch.allclose(ab_map[:, 48, 20], ab[0])
    assert conf[48, 45] > 0.5  # same half, 25 px away (sigma 24 px)
    assert conf[48, 85] < 1e-3  # across the edge in L, 65 px away: stopped
    # negative control: with no L term the hint crosses the edge
    _, conf_flat = guide.propagate(l_hw, yx, ab, l_pt, sigma_l=1e6)
    assert conf_flat[48, 85] > 0.02


def test_naive_propagation_is_full_resolution_and_faded():
    gray = two_halves()
    hints = guide.Hints(np.array([20.0], np.float32), np.array([48.0], np.float32),
                        np.array([[40.0, 30.0]], np.float32), np.zeros(1, np.float32))
    ab = guide.naive_propagation(hints, lab.gray_to_l(gray))
    assert ab.shape == (96, 160, 2)
    assert np.abs(ab[48, 20] - [40, 30]).max() < 4 and np.abs(ab[48, 150]).max() < 0.5


# ---- the guided network follows the guide ----

def test_no_guide_is_the_automatic_colour(colorizer):
    l_hw = lab.gray_to_l(two_halves())
    auto = colorizer.colorize_batch(l_hw[None])
    zero = np.zeros((1, 3, *colorizer.network_shape(*l_hw.shape)), np.float32)
    np.testing.assert_array_equal(colorizer.colorize_batch(l_hw[None], zero), auto)
    assert colorizer.guide_for(l_hw) is None


def test_a_hint_moves_the_colour_where_it_is_and_barely_elsewhere(colorizer):
    gray = two_halves()
    l_hw = lab.gray_to_l(gray)
    auto = colorizer.colorize_batch(l_hw[None])[0]
    hints = guide.Hints(np.array([30.0], np.float32), np.array([40.0], np.float32),
                        np.array([[50.0, 40.0]], np.float32), np.zeros(1, np.float32))
    hinted = colorizer.colorize_batch(l_hw[None], colorizer.guide_for(l_hw, hints)[None])[0]
    moved = np.abs(hinted - auto).max(axis=2)
    assert hinted[40, 30, 0] > auto[40, 30, 0] + 25  # towards the hint's red-orange, at the hint
    assert np.median(moved[:, 100:]) < 2.0  # the other half (lighter: another object) barely changes


def test_honour_hints_moves_the_colour_at_each_hint_to_it_and_leaves_other_objects():
    gray = two_halves()
    l_hw = lab.gray_to_l(gray)
    net_ab = np.full((24, 40, 2), [5.0, -5.0], np.float32)  # the network's output grid (stride 4)
    one = guide.Hints(np.array([30.0], np.float32), np.array([40.0], np.float32),
                      np.array([[50.0, 40.0]], np.float32), np.zeros(1, np.float32))
    out = guide.honour_hints(net_ab, one, l_hw)
    np.testing.assert_allclose(out[10, 7], [50.0, 40.0], atol=0.5)  # the hint's cell (y 40 / 4, x 30 / 4)
    assert np.abs(out[:, 25:] - net_ab[:, 25:]).max() < 0.5  # the lighter half: another object, untouched
    # two hints in one object: their residuals blend (a smooth correction), each cell moves towards its own
    two = guide.concat_hints(one, guide.Hints(np.array([34.0], np.float32), np.array([70.0], np.float32),
                                              np.array([[30.0, 20.0]], np.float32), np.zeros(1, np.float32)))
    out = guide.honour_hints(net_ab, two, l_hw)
    for cell, ab in (((10, 7), [50.0, 40.0]), ((17, 8), [30.0, 20.0])):
        assert np.abs(out[cell] - ab).max() < 0.5 * np.abs(net_ab[cell] - ab).max()
    np.testing.assert_array_equal(guide.honour_hints(net_ab, guide.Hints.empty(), l_hw), net_ab)


def test_the_residual_follows_content_the_encoder_tells_apart_where_lightness_cannot():
    l_hw = np.full((96, 160), 50.0, np.float32)  # one lightness: only the features tell the halves apart
    features = torch.zeros(2, 12, 20)  # unit features at stride 8: the left half one thing, the right another
    features[0, :, :10], features[1, :, 10:] = 1.0, 1.0
    red, blue = [50.0, 40.0], [10.0, -45.0]
    hints = guide.Hints(np.array([70.0, 150.0], np.float32), np.array([48.0, 48.0], np.float32),
                        np.array([red, blue], np.float32), np.zeros(2, np.float32))
    net_ab = np.zeros((24, 40, 2), np.float32)
    near_red_but_right = (12, 22)  # x 90: 20 px from the red hint, 60 from the blue one, on the blue hint's side
    by_content = guide.honour_hints(net_ab, hints, l_hw, features)[near_red_but_right]
    by_distance = guide.honour_hints(net_ab, hints, l_hw)[near_red_but_right]
    # the reach (confidence) is the same; which hint the cell listens to is not
    assert np.abs(by_content - blue).max() < 8.0
    assert np.abs(by_distance - blue).max() > 20.0
    np.testing.assert_allclose(guide.honour_hints(net_ab, hints, l_hw, features)[12, 17], red, atol=2.0)


def test_follow_hints_fades_a_guess_the_hints_contradict_and_keeps_the_rest():
    l_hw = lab.gray_to_l(two_halves())
    ramp = np.arange(40, dtype=np.float32) * 1.5  # the network guesses green, paler to the left
    auto = np.stack([np.broadcast_to(-ramp, (24, 40)), np.broadcast_to(ramp, (24, 40))], 2).astype(np.float32)
    # two hints on the dark half say it is neutral gray: the guess there is wrong
    hints = guide.Hints(np.array([20.0, 60.0], np.float32), np.array([30.0, 70.0], np.float32),
                        np.zeros((2, 2), np.float32), np.zeros(2, np.float32))
    dark = np.s_[:, :20]
    faded = np.abs(guide.follow_hints(auto.copy(), auto, hints, l_hw)[dark]).max(axis=2).mean()
    offset = np.abs(guide.honour_hints(auto, hints, l_hw)[dark]).max(axis=2).mean()  # the residual alone
    assert faded < 1.0 and offset > 5.0  # a constant offset cannot undo a guess that varies; the trust can
    out = guide.follow_hints(auto.copy(), auto, hints, l_hw)
    np.testing.assert_allclose(out[:, 22:], auto[:, 22:], atol=0.5)  # the light half (no hint there): kept
    # hints that agree with the guess (same hue, stronger) leave it trusted: nothing fades
    agree = guide.Hints(hints.x, hints.y, np.full((2, 2), [-40.0, 40.0], np.float32), hints.radius)
    assert (np.abs(guide.follow_hints(auto.copy(), auto, agree, l_hw)) >= np.abs(auto) - 0.5).all()


def test_a_photo_with_hints_has_the_hint_colour_at_the_hint(colorizer):
    gray = two_halves()
    hints = guide.Hints(np.array([30.0], np.float32), np.array([40.0], np.float32),
                        np.array([[50.0, 40.0]], np.float32), np.zeros(1, np.float32))
    ab = lab.rgb_to_lab(colorizer.colorize_image(gray, hints=hints))[..., 1:]
    assert np.abs(ab[38:43, 28:33].mean((0, 1)) - [50.0, 40.0]).max() < 4.0


def test_an_unguided_model_refuses_hints(tmp_path):
    from conftest import make_test_weights

    plain = Colorizer.from_pretrained(make_test_weights(tmp_path / "f.safetensors"), device="cpu", runtime="torch")
    hints = guide.Hints(np.zeros(1, np.float32), np.zeros(1, np.float32), np.zeros((1, 2), np.float32),
                        np.zeros(1, np.float32))
    with pytest.raises(ConfigError, match="takes no hints"):
        plain.colorize_image(two_halves(), hints=hints)


def colour_scene(h: int = 96, w: int = 160, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(20, 235, (3, 5, 3)).astype(np.float32)
    return cv2.resize(coarse, (w, h), interpolation=cv2.INTER_NEAREST).astype(np.uint8)


def test_a_reference_of_the_same_picture_gives_back_its_colours(colorizer):
    rgb = colour_scene()
    reference = colorizer.reference(rgb)
    l_hw = lab.rgb_to_lab(rgb)[..., 0]
    features = colorizer.match_features(l_hw)
    assert guide.match_score(features, reference) > 0.99
    ab_true = lab.rgb_to_lab(rgb)[..., 1:]
    guided = colorizer.colorize_batch(l_hw[None], colorizer.guide_for(l_hw, references=[reference])[None])[0]
    auto = colorizer.colorize_batch(l_hw[None])[0]
    err_guided = np.abs(guided - ab_true).mean()
    assert err_guided < 0.5 * np.abs(auto - ab_true).mean()


def test_a_huge_reference_is_read_in_memory_of_its_render_size(colorizer):
    """An audit: a 12000x12000 reference took 7.9 GB (float Lab of every pixel) to be matched at the render size.
    A reference 20x the render size is shrunk first: its peak memory stays near its own bytes, and it still
    gives back the colours of the same picture."""
    import tracemalloc

    rgb = cv2.resize(colour_scene(), (3200, 1920), interpolation=cv2.INTER_NEAREST)  # 18 MB of uint8
    tracemalloc.start()
    try:
        reference = colorizer.reference(rgb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 * rgb.nbytes, peak  # float Lab alone would be 4x
    l_hw = lab.rgb_to_lab(colour_scene())[..., 0]
    assert guide.match_score(colorizer.match_features(l_hw), reference) > 0.95


def test_an_unrelated_reference_is_not_used(colorizer):
    reference = colorizer.reference(colour_scene(seed=1))
    flat = np.full((96, 160), 128, np.uint8)  # no content at all in common
    l_hw = lab.gray_to_l(flat)
    score = guide.match_score(colorizer.match_features(l_hw), reference)
    assert (colorizer.guide_for(l_hw, references=[reference]) is None) == (score < guide.REFERENCE_MIN_SCORE)


@pytest.mark.slow
def test_onnx_and_torch_agree_with_hints(guided_weights):
    gray = two_halves()
    l_hw = lab.gray_to_l(gray)
    hints = guide.Hints(np.array([30.0, 120.0], np.float32), np.array([40.0, 70.0], np.float32),
                        np.array([[50.0, 40.0], [-30.0, 20.0]], np.float32), np.zeros(2, np.float32))
    results = []
    for runtime in ("torch", "onnx"):
        c = Colorizer.from_pretrained(guided_weights, device="cpu", runtime=runtime, render_size=96)
        results.append(c.colorize_batch(l_hw[None], c.guide_for(l_hw, hints)[None]))
    np.testing.assert_allclose(results[0], results[1], atol=0.05)
    assert np.abs(results[0]).max() > 10  # the hints are in both


@pytest.mark.slow
@pytest.mark.parametrize("runtime", ["torch", "onnx"])
def test_one_encoder_pass_matches_the_two_step_path(guided_weights, runtime):
    """predict_ab_matched (encoder once, guide from its features) = guide_for + predict_ab."""
    c = Colorizer.from_pretrained(guided_weights, device="cpu", runtime=runtime, render_size=96)
    rgb = colour_scene()
    reference = c.reference(rgb)
    l_hw = lab.rgb_to_lab(rgb)[..., 0]
    two_step = c.predict_ab(l_hw[None], c.guide_for(l_hw, references=[reference])[None])
    rh, rw = c.network_shape(*l_hw.shape)
    one_pass = c.predict_ab_matched(
        l_hw[None], lambda i, f, l_cells: guide.guide_from_transfer(*guide.transfer(f, reference, l_cells), rh, rw))
    np.testing.assert_allclose(one_pass, two_step, atol=0.05)


@pytest.mark.slow
def test_exporting_the_split_graphs_leaves_the_model_as_it_was(guided_weights, tmp_path, monkeypatch):
    """Regression: torch.onnx.export put the model back in train mode after the split export, so later
    torch features (references) used batch statistics and disturbed BatchNorm's running statistics."""
    monkeypatch.setenv("FILMCOLOR_CACHE", str(tmp_path / "cache"))
    c = Colorizer.from_pretrained(guided_weights, device="cpu", runtime="onnx", render_size=96)
    l_hw = lab.rgb_to_lab(colour_scene())[..., 0]
    before_state = {k: v.clone() for k, v in c.model.state_dict().items()}
    before = c.match_features(l_hw)
    encoder, _ = c._split_runners(1, *c.network_shape(*l_hw.shape))
    assert not any(m.training for m in c.model.modules())
    after = c.match_features(l_hw)
    torch.testing.assert_close(after, before)
    assert all(torch.equal(v, before_state[k]) for k, v in c.model.state_dict().items())
    taps = encoder.encode(c._network_input(l_hw)[None, None])
    torch.testing.assert_close(guide.match_features([torch.as_tensor(t) for t in taps]), before, atol=1e-4, rtol=0)


def test_propagation_in_chunks_equals_all_at_once(monkeypatch):
    rng = np.random.default_rng(1)
    l_hw = torch.from_numpy(lab.gray_to_l(two_halves()))
    yx = torch.from_numpy(rng.uniform(0, 96, (70, 2)).astype(np.float32))
    ab = torch.from_numpy(rng.uniform(-60, 60, (70, 2)).astype(np.float32))
    l_pts = torch.from_numpy(rng.uniform(20, 90, 70).astype(np.float32))
    monkeypatch.setattr(guide, "PROPAGATE_CHUNK", 1000)
    ab_once, conf_once = guide.propagate(l_hw, yx, ab, l_pts)
    monkeypatch.setattr(guide, "PROPAGATE_CHUNK", 16)  # 5 chunks, the last one short
    ab_chunks, conf_chunks = guide.propagate(l_hw, yx, ab, l_pts)
    torch.testing.assert_close(ab_chunks, ab_once, atol=1e-3, rtol=1e-4)
    torch.testing.assert_close(conf_chunks, conf_once, atol=1e-5, rtol=1e-5)


def test_training_hints_for_a_batch_equal_each_crop_spread_on_its_own():
    """The trainer simulates hints for a whole batch at once (on its device); each crop's guide must be what
    spreading its own hints' patch means with guide.propagate gives."""
    from filmcolor.train.guides import PATCH_SIZES, _draw_hints, _hints_guides

    rng = np.random.default_rng(3)
    n, height, width = 3, 40, 56
    l_units = torch.from_numpy(rng.uniform(0, 100, (n, height, width)).astype(np.float32))
    ab_units = torch.from_numpy(rng.uniform(-80, 80, (n, 2, height, width)).astype(np.float32))
    gen = torch.Generator().manual_seed(5)
    drawn = [_draw_hints(height, width, count, gen) for count in (1, 12, 5)]  # padded to 12 in the batch
    drawn[1][:4] = torch.tensor([[2, 0, 0], [2, height - 1, width - 1], [1, 0, width - 1], [0, 7, 9]])
    batch = _hints_guides(l_units, ab_units, drawn)
    for i, table in enumerate(drawn):
        yx, abs_, ls = [], [], []
        for size, y, x in table.tolist():
            r = PATCH_SIZES[size] // 2  # the patch, cut by the border
            window = (slice(max(0, y - r), y + r + 1), slice(max(0, x - r), x + r + 1))
            yx.append((y + 0.5, x + 0.5))
            abs_.append(ab_units[i][(slice(None), *window)].mean((1, 2)))
            ls.append(l_units[i][window].mean())
        ab, conf = guide.propagate(l_units[i], torch.tensor(yx), torch.stack(abs_), torch.stack(ls))
        torch.testing.assert_close(batch[i], guide.pack_guide(ab, conf), atol=2e-4, rtol=1e-4)
    assert batch[0, 2].max() > 0.9 and batch[0, 2].min() < 0.1  # one hint: confident near it, not far away


@pytest.mark.slow
def test_prepare_matched_loads_the_graphs_the_run_then_uses(guided_weights):
    """The video pipeline warms the split graphs while its pre-pass decodes; the run must reuse them."""
    c = Colorizer.from_pretrained(guided_weights, device="cpu", runtime="onnx", render_size=96)
    l_hw = lab.rgb_to_lab(colour_scene())[..., 0]
    shape = c.network_shape(*l_hw.shape)
    assert (1, *shape) not in c._split
    c.prepare_matched(1, *shape)
    runners = c._split[(1, *shape)]  # the encoder's and the decoder's graphs, loaded
    c.predict_ab_matched(l_hw[None], lambda i, f, l_cells: None)
    assert c._split_runners(1, *shape) is runners


def test_prepare_matched_is_best_effort(test_weights):
    """An automatic-only model cannot be matched: warming says nothing, the run itself says why."""
    c = Colorizer.from_pretrained(test_weights, device="cpu", runtime="onnx", render_size=96)
    c.prepare_matched(1, 96, 96)
    with pytest.raises(ConfigError, match="takes no hints"):
        c.predict_ab_matched(np.zeros((1, 96, 96), np.float32), lambda i, f, l_cells: None)


def _hints_at_point_by_point(hints, l_hw, out_h, out_w):
    """hints_at as it was written first, one point at a time (a scribble of 20 M pixels took minutes)."""
    height, width = l_hw.shape
    sy, sx = out_h / height, out_w / width
    l_blur = cv2.blur(l_hw, (3, 3))
    l_out = cv2.resize(l_hw, (out_w, out_h), interpolation=cv2.INTER_AREA)
    cells = {}
    for x, y, ab, r in zip(hints.x, hints.y, hints.ab, hints.radius, strict=True):
        cy, cx = min(out_h - 1, int(y * sy)), min(out_w - 1, int(x * sx))
        cells.setdefault((cy, cx), []).append((ab, float(l_blur[int(y), int(x)])))
        ry, rx = r * sy, r * sx
        if ry >= 1 or rx >= 1:
            for ky in range(max(0, int(cy - ry)), min(out_h, int(cy + ry) + 1)):
                for kx in range(max(0, int(cx - rx)), min(out_w, int(cx + rx) + 1)):
                    inside = ((ky - cy) / max(ry, 1e-6)) ** 2 + ((kx - cx) / max(rx, 1e-6)) ** 2 <= 1
                    if inside and (ky, kx) != (cy, cx):
                        cells.setdefault((ky, kx), []).append((ab, float(l_out[ky, kx])))
    keys = sorted(cells)
    if len(keys) > guide.MAX_POINTS:
        keys = [keys[i] for i in np.linspace(0, len(keys) - 1, guide.MAX_POINTS).round().astype(int)]
    return (np.array([(ky + 0.5, kx + 0.5) for ky, kx in keys], np.float32),
            np.array([np.mean([c[0] for c in cells[k]], axis=0) for k in keys], np.float32),
            np.array([np.mean([c[1] for c in cells[k]]) for k in keys], np.float32))


@pytest.mark.parametrize("count", [40, 5000])  # below and above MAX_POINTS cells
def test_hints_at_sums_the_points_as_one_by_one_did(count):
    rng = np.random.default_rng(count)
    l_hw = rng.uniform(0, 100, (90, 130)).astype(np.float32)
    hints = guide.Hints(rng.uniform(0, 130, count).astype(np.float32), rng.uniform(0, 90, count).astype(np.float32),
                        rng.uniform(-60, 60, (count, 2)).astype(np.float32),
                        np.where(rng.random(count) < 0.05, rng.uniform(0, 30, count), 0).astype(np.float32))
    for got, expected in zip(guide.hints_at(hints, l_hw, 56, 80), _hints_at_point_by_point(hints, l_hw, 56, 80),
                             strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4)


def test_two_guides_blend_by_how_well_each_matches_not_only_by_distance() -> None:
    """Two keyframes of a shot (or around a dissolve): where the far one matches a cell much better (0.75
    against 0.45), its colour goes there, not the nearer one's; where they match alike, the nearer one
    weighs more, as before."""
    h, w = 4, 6
    near = np.zeros((3, h, w), np.float32)
    far = np.zeros((3, h, w), np.float32)
    near[0], far[0] = 40.0, -40.0  # a: +40 from the near keyframe, -40 from the far one
    near[2], far[2] = 0.45, 0.75  # the far keyframe shows this content
    near[2, :, :3], far[2, :, :3] = 0.7, 0.7  # the left half: both alike
    mixed = guide.blend_guides([near, far], [1.0 / (1 + 5), 1.0 / (1 + 15)])  # 5 and 15 frames away
    assert np.all(mixed[0, :, 3:] < -35.0), mixed[0]
    assert np.all(mixed[0, :, :3] > 5.0), mixed[0]  # 3:1 for the near one: +20
    np.testing.assert_allclose(mixed[2], np.maximum(near[2], far[2]))


def _transfer_by_softmax(features, reference, l_cells, temperature=guide.MATCH_TEMPERATURE):
    """guide.transfer as its docstring says it: a softmax over each cell's similarities to the reference's
    cells, less the Gaussian in L, weighing the reference's ab, each quarter of the cells apart (when the
    reference's ab is per quarter)."""
    logits = guide.similarity(features, reference).double() / temperature
    if l_cells is not None:
        gap = l_cells.reshape(-1, 1).double() - reference.l_cells.reshape(1, -1).double()
        logits = logits - gap.square() / (2 * guide.SIGMA_L**2)
    weights = torch.softmax(logits, 1)
    h8, w8 = features.shape[-2:]
    q = reference.ab_cells.shape[-1] // reference.features.shape[-1]
    ab = torch.zeros(2, q * h8, q * w8, dtype=torch.float64)
    for dy in range(q):
        for dx in range(q):
            part = reference.ab_cells[:, dy::q, dx::q].flatten(1).T.double()  # the reference's (dy, dx) quarters
            ab[:, dy::q, dx::q] = (weights @ part).T.reshape(2, h8, w8)
    return ab.float()


@pytest.mark.parametrize("q", [1, 2])
@pytest.mark.parametrize("with_l", [True, False])
def test_transfer_is_the_softmax_over_the_reference_cells(with_l, q):
    """The transfer's softmax, written out in four passes over the similarities, gives the plain softmax's
    colour, each quarter of a cell from the matched cells' same quarter, also where every good match is
    across the whole range of L (0 against 100: no cell's weights all underflow)."""
    rng = torch.Generator().manual_seed(0)
    features = torch.nn.functional.normalize(torch.randn(64, 9, 13, generator=rng), dim=0)
    ref_features = torch.nn.functional.normalize(torch.randn(64, 7, 11, generator=rng), dim=0)
    ref_features[:, 0, 0] = features[:, 0, 0]  # one cell of the picture has its exact match
    ref_l = torch.rand(7, 11, generator=rng) * 100
    ref_l[:, :5] = 100.0
    reference = guide.Reference(ref_features, torch.randn(2, q * 7, q * 11, generator=rng) * 40, ref_l)
    l_cells = torch.rand(9, 13, generator=rng) * 100
    l_cells[0] = 0.0  # a black row against the reference's white cells
    ab, conf = guide.transfer(features, reference, l_cells if with_l else None)
    assert ab.shape == (2, q * 9, q * 13) and torch.isfinite(ab).all()
    torch.testing.assert_close(ab, _transfer_by_softmax(features, reference, l_cells if with_l else None),
                               atol=1e-3, rtol=1e-4)
    best = guide.similarity(features, reference).amax(1).reshape(9, 13)
    expected = ((best - guide.MATCH_FLOOR) / (guide.MATCH_FULL - guide.MATCH_FLOOR)).clamp(0, 1)
    torch.testing.assert_close(conf, expected.repeat_interleave(q, 0).repeat_interleave(q, 1))
    assert conf[0, 0] == 1.0
    l_cells[1] = 400.0  # L as no picture has it: every weight of the row underflows, and still no NaN
    assert torch.isfinite(guide.transfer(features, reference, l_cells)[0]).all()
