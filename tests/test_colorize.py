"""Colorizer: any 8-bit image in, same size out, its own L kept, colour added (skimage as reference)."""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import make_test_weights
from skimage import color

from filmcolor import guide, lab
from filmcolor.colorize import Colorizer, choose_device, image_l, render_shape, upsample_rows
from filmcolor.errors import ConfigError, InputError
from filmcolor.imageio import read_image


@pytest.fixture(scope="module")
def colorizer(test_weights: Path) -> Colorizer:
    return Colorizer.from_pretrained(test_weights, device="cpu", runtime="torch")


@pytest.fixture(scope="module")
def small_colorizer(test_weights: Path) -> Colorizer:
    """Renders at short side 64: the same code path, a fraction of the CPU time."""
    return Colorizer.from_pretrained(test_weights, device="cpu", runtime="torch", render_size=64)


@pytest.fixture(scope="module")
def mild_colorizer(tmp_path_factory: pytest.TempPathFactory) -> Colorizer:
    """A sepia-strength test model: like a trained one, it rarely leaves the sRGB gamut."""
    path = make_test_weights(tmp_path_factory.mktemp("mild") / "mild.safetensors", ab_bias=(0.04, 0.06))
    return Colorizer.from_pretrained(path, device="cpu", runtime="torch")


def smooth_image(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Photo-like content (smooth, some texture) of any shape, uint8."""
    rng = np.random.default_rng(seed)
    h, w = shape[:2]
    channels = shape[2] if len(shape) == 3 else 1
    coarse = rng.uniform(30, 230, (4, 5, channels)).astype(np.float32)
    image = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC).reshape(h, w, channels)
    image += rng.normal(0, 6, image.shape).astype(np.float32)
    return np.clip(image, 0, 255).astype(np.uint8).reshape(shape)


def skimage_l(image: np.ndarray) -> np.ndarray:
    rgb = np.dstack([image] * 3) if image.ndim == 2 else image[..., :3]
    return color.rgb2lab(rgb)[..., 0]


def chroma(rgb: np.ndarray) -> np.ndarray:
    ab = color.rgb2lab(rgb[..., :3])[..., 1:]
    return np.hypot(ab[..., 0], ab[..., 1])


@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (97, 61), (61, 97, 3), (33, 47, 4), (2, 300)])
def test_any_size_and_layout(small_colorizer, shape):
    image = smooth_image(shape)
    out = small_colorizer.colorize_image(image)
    channels = 4 if len(shape) == 3 and shape[2] == 4 else 3
    assert out.dtype == np.uint8 and out.shape == (*shape[:2], channels)
    if channels == 4:
        np.testing.assert_array_equal(out[..., 3], image[..., 3])  # alpha passes through untouched
    assert chroma(out).mean() > 15  # the test model's output is clearly coloured


def test_output_keeps_input_l_on_real_photos(mild_colorizer, shared_data):
    photos = sorted((shared_data / "photos" / "val").glob("*.jpg"))[:2]
    assert photos
    for path in photos:
        rgb = read_image(path)
        for image in (rgb, cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)):
            out = mild_colorizer.colorize_image(image)
            dl = np.abs(skimage_l(out) - skimage_l(image))
            assert dl.mean() < 0.5 and np.percentile(dl, 99) < 1.5, (path.name, image.ndim)
            assert chroma(out).mean() > 5


def test_l_is_kept_in_gamut_and_out(colorizer, shared_data):
    """With a strongly coloured model, the output is skimage's own Lab -> sRGB of (input L, predicted ab) where
    that colour is inside sRGB, to 8-bit rounding; where it is not, the colour loses saturation and keeps
    the L (clipping R, G and B had moved it)."""
    rgb = read_image(sorted((shared_data / "photos" / "val").glob("*.jpg"))[1])
    l_in = skimage_l(rgb)
    ab = colorizer.colorize_batch(image_l(rgb)[None])[0]
    lab_pred = np.dstack([l_in, ab])
    linear = color.lab2xyz(lab_pred) @ color.colorconv.rgb_from_xyz.T
    in_gamut = np.all((linear >= 0) & (linear <= 1), axis=-1)
    assert in_gamut.mean() > 0.1 and (~in_gamut).mean() > 0.01
    out = colorizer.colorize_image(rgb)
    dl = np.abs(skimage_l(out) - l_in)
    assert dl[in_gamut].mean() < 0.5 and np.percentile(dl[in_gamut], 99) < 1.5
    assert dl[~in_gamut].mean() < 0.5 and np.percentile(dl[~in_gamut], 99) < 1.5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = np.round(color.lab2rgb(lab_pred) * 255)
    assert np.abs(out - reference)[in_gamut].max() <= 1


def test_gray_and_gray_as_rgb_give_the_same_output(small_colorizer):
    gray = smooth_image((40, 56))
    np.testing.assert_array_equal(small_colorizer.colorize_image(gray),
                                  small_colorizer.colorize_image(np.dstack([gray] * 3)))


def test_tinted_input_uses_only_its_l(small_colorizer):
    """A sepia print and a blue-toned print of the same picture (same L) get the same colours."""
    l_plane = skimage_l(smooth_image((48, 64)))
    tints = []
    for a, b in [(6.0, 22.0), (-4.0, -18.0)]:
        lab_img = np.dstack([l_plane, np.full_like(l_plane, a), np.full_like(l_plane, b)])
        tints.append(np.round(color.lab2rgb(lab_img) * 255).astype(np.uint8))
    sepia, blue = tints
    out_sepia, out_blue = small_colorizer.colorize_image(sepia), small_colorizer.colorize_image(blue)
    diff = np.abs(out_sepia.astype(int) - out_blue)  # only the 8-bit rounding of the two tints differs
    assert diff.mean() < 0.5 and diff.max() <= 4
    # the colour comes from the network, not from the tint: b* of the output is far from the blue tone's
    assert color.rgb2lab(out_blue)[..., 2].mean() > 0


def test_batch_shapes_and_ab_clamp(small_colorizer):
    colorizer = small_colorizer
    l_frames = np.stack([image_l(smooth_image((50, 70), seed=i)) for i in range(3)])
    ab_small = colorizer.predict_ab(l_frames)
    h, w = colorizer.network_shape(50, 70)
    assert ab_small.shape == (3, h // 4, w // 4, 2) and ab_small.dtype == np.float32
    assert np.abs(ab_small).max() <= lab.AB_LIMIT
    ab = colorizer.colorize_batch(l_frames)
    assert ab.shape == (3, 50, 70, 2)
    np.testing.assert_allclose(ab[1], colorizer.colorize_batch(l_frames[1:2])[0], atol=1e-3)
    with pytest.raises(InputError, match="shaped \\(N, H, W\\)"):
        colorizer.predict_ab(l_frames[0])


@pytest.mark.parametrize(("h", "w", "size", "expected"), [
    (480, 640, 256, (256, 352)),   # 341.3 -> 352
    (640, 480, 256, (352, 256)),   # orientation kept
    (256, 256, 256, (256, 256)),
    (1080, 1920, 192, (192, 352)),  # 341.3 -> 352
    (1080, 1920, 200, (192, 352)),  # render size itself rounds to a multiple
    (1, 1, 256, (256, 256)),
    (3, 5, 256, (256, 416)),       # 426.7 -> 416
    (10, 4000, 256, (256, 2048)),  # aspect capped at 8:1, else 256 x 102400
    (2, 300, 64, (64, 512)),
    (100, 100, 40, (32, 32)),      # never below one multiple
    (100, 100, 80, (96, 96)),      # halves round up (round() took 80 to 64 and 48 to 64: to the even one)
    (100, 100, 48, (64, 64)),
    (100, 100, 144, (160, 160)),
])
def test_render_shape_rounding(h, w, size, expected):
    assert render_shape(h, w, size, 32) == expected


def test_render_shape_properties():
    rng = np.random.default_rng(0)
    for _ in range(200):
        h, w = (int(v) for v in rng.integers(1, 5000, 2))
        size, multiple = int(rng.integers(32, 600)), int(rng.choice([8, 32, 256]))
        rh, rw = render_shape(h, w, size, multiple)
        assert rh % multiple == 0 and rw % multiple == 0 and rh >= multiple and rw >= multiple
        short_r, long_r = (rh, rw) if h <= w else (rw, rh)
        assert abs(short_r - size) <= multiple / 2 or short_r == multiple
        ideal_long = min(max(h, w) * short_r / min(h, w), 8 * short_r)
        assert abs(long_r - ideal_long) <= multiple / 2 + 1e-6 or long_r == multiple


def test_render_size_changes_network_shape(test_weights):
    small = Colorizer.from_pretrained(test_weights, device="cpu", runtime="torch", render_size=128)
    assert small.network_shape(480, 640) == (128, 160)
    out = small.colorize_image(smooth_image((48, 64)))
    assert out.shape == (48, 64, 3)


def test_bad_images_and_options(colorizer, test_weights):
    with pytest.raises(InputError, match="8-bit or 16-bit"):
        colorizer.colorize_image(np.zeros((4, 4), np.int32))
    with pytest.raises(InputError, match="shape"):
        colorizer.colorize_image(np.zeros((4, 4, 2), np.uint8))
    with pytest.raises(ConfigError, match="render-size"):
        Colorizer.from_pretrained(test_weights, device="cpu", render_size=16)
    with pytest.raises(ConfigError, match="runtime"):
        Colorizer.from_pretrained(test_weights, device="cpu", runtime="tensorrt")
    with pytest.raises(ConfigError, match="--device"):
        choose_device("tpu")


def test_device_choice():
    assert choose_device("cpu") == "cpu"
    import torch

    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert choose_device("auto") == expected  # with or without the shortcut that skips loading torch
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available"):
            choose_device("cuda")


@pytest.mark.parametrize("name", ["cuda:x", "cudafoo", "cuda:", "cuda:-1"])
def test_a_misspelt_cuda_device_is_one_line(name, monkeypatch):
    """An audit (CUDA faked): 'cuda:x' and 'cudafoo' reached torch.device, a RuntimeError ('unexpected'), and
    'cuda:7' on a one-GPU machine was taken."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ConfigError, match=rf"--device {re.escape(name)}: expected auto, cpu, cuda, cuda:N or mps"):
        choose_device(name)
    with pytest.raises(ConfigError, match=r"--device cuda:7: this machine has 1 CUDA device\(s\), cuda:0 to cuda:0"):
        choose_device("cuda:7")
    assert choose_device("cuda:0") == "cuda:0"


@pytest.mark.slow
def test_automatic_video_on_cpu_never_loads_torch(tmp_path, test_weights):
    """With the model's graph and facts cached by a first run, `filmcolor video` starts without torch."""
    import subprocess
    import sys

    from media import make_clip

    clip = make_clip(tmp_path / "in.mp4", frames=3)
    env = {**os.environ, "FILMCOLOR_CACHE": str(tmp_path / "cache")}
    probe = ("import sys, runpy; sys.argv = ['filmcolor', 'video', sys.argv[1], '-o', sys.argv[2], '--model', "
             "sys.argv[3], '--device', 'cpu', '--runtime', 'onnx', '-q', '--overwrite']\n"
             "try:\n    runpy.run_module('filmcolor', run_name='__main__')\nexcept SystemExit as e:\n"
             "    assert not e.code, e.code\nprint('torch loaded:', 'torch' in sys.modules)")
    runs = [subprocess.run([sys.executable, "-c", probe, str(clip), str(tmp_path / "out.mp4"), str(test_weights)],
                           env=env, capture_output=True, text=True, timeout=120) for _ in range(2)]
    assert [r.stdout.strip().splitlines()[-1] for r in runs] == ["torch loaded: True", "torch loaded: False"], \
        [r.stderr[-2000:] for r in runs]


@pytest.mark.slow
def test_large_image(colorizer):
    image = np.ascontiguousarray(np.tile(smooth_image((300, 400)), (10, 10)))  # 3000 x 4000 gray
    out = colorizer.colorize_image(image)
    assert out.shape == (3000, 4000, 3)
    sample = (slice(None, None, 7), slice(None, None, 7))  # skimage on a subsample keeps this quick
    dl = np.abs(skimage_l(out[sample]) - skimage_l(image[sample]))
    assert np.percentile(dl, 50) < 0.5  # the strong test colours clip in the darks; the rest keeps L


def test_strips_give_the_whole_picture_result(small_colorizer, monkeypatch):
    """Large pictures are converted in strips of rows: the result is that of one whole-picture conversion."""
    import filmcolor.colorize as colorize

    image = smooth_image((301, 157, 3), seed=5)
    l_hw = lab.rgb_to_lab(image)[..., 0]
    whole = lab.lab_to_rgb_levels(l_hw, small_colorizer.colorize_batch(l_hw[None])[0])
    monkeypatch.setattr(colorize, "STRIP_ROWS", 64)  # five strips and a short one
    strips = small_colorizer.colorize_image(image)
    assert np.abs(strips.astype(int) - whole).max() <= 1
    np.testing.assert_allclose(colorize.image_l(image), l_hw, atol=1e-4)


# ---- pictures wider or taller than OpenCV's remap takes (a side of 32767, SHRT_MAX) ----


def test_ab_upsampled_in_tiles_is_the_one_call_result(monkeypatch):
    """Tiles of 7 (rows and columns, the last ones short) give exactly what one cv2.remap of the strip gives,
    and that samples like cv2.resize, to remap's 1/32-pixel interpolation steps."""
    import filmcolor.colorize as colorize

    ab = np.random.default_rng(1).uniform(-50, 50, (9, 13, 2)).astype(np.float32)
    height, width, y0, y1 = 61, 83, 5, 40
    map_x = ((np.arange(width, dtype=np.float32) + 0.5) * (13 / width) - 0.5)[None, :].repeat(y1 - y0, 0)
    map_y = ((np.arange(y0, y1, dtype=np.float32) + 0.5) * (9 / height) - 0.5)[:, None].repeat(width, 1)
    one_call = cv2.remap(ab, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    monkeypatch.setattr(colorize, "REMAP_TILE", 7)
    tiled = upsample_rows(ab, height, width, y0, y1)
    np.testing.assert_array_equal(tiled, one_call)
    resized = cv2.resize(ab, (width, height), interpolation=cv2.INTER_LINEAR)[y0:y1]
    assert np.abs(tiled - resized).max() <= np.ptp(ab) / 32


@pytest.fixture(scope="module")
def shipped() -> Colorizer:
    return Colorizer.from_pretrained("default", device="cpu", runtime="torch")


@pytest.mark.parametrize("wide", [True, False])
def test_a_picture_over_32767_pixels_long_is_coloured_with_its_own_l(shipped, wide):
    """A 33000 x 40 panorama (and the same picture turned upright): cv2.remap refused it whole. Coloured
    automatically and with a red hint, which reddens the picture where it was put."""
    strip = smooth_image((40, 33000), seed=2)
    image = strip if wide else np.ascontiguousarray(strip.T)
    x, y = (300.0, 20.0) if wide else (20.0, 300.0)
    hint = guide.Hints(np.array([x], np.float32), np.array([y], np.float32), guide.parse_color("#c0201a")[None],
                       np.array([4.0], np.float32))
    auto, hinted = shipped.colorize_image(image), shipped.colorize_image(image, hints=hint)
    near = (slice(int(y) - 10, int(y) + 10), slice(int(x) - 10, int(x) + 10))
    sample = (slice(None, None, 7), slice(None, None, 7))  # skimage on a subsample keeps this quick
    for out in (auto, hinted):
        assert out.shape == (*image.shape, 3) and out.dtype == np.uint8
        dl = np.abs(skimage_l(out[sample]) - skimage_l(image[sample]))
        in_gamut = (out[sample].min(axis=2) > 0) & (out[sample].max(axis=2) < 255)  # (clipping moves L)
        assert in_gamut.mean() > 0.5 and dl[in_gamut].max() < 1.0
    assert color.rgb2lab(hinted[near])[..., 1].mean() > color.rgb2lab(auto[near])[..., 1].mean() + 10


def test_what_a_python_caller_gets_wrong_is_an_input_error(small_colorizer, tmp_path_factory):
    """An audit of the library from Python: empty pictures, gray levels given as L, bad hints built in
    Python and a gray reference ended deep inside numpy (ZeroDivisionError, IndexError, TypeError), or, for
    gray levels as L, in wrong colour without a word."""
    from conftest import make_guided_weights

    for empty in (np.zeros((0, 10), np.uint8), np.zeros((10, 0, 3), np.uint8)):
        with pytest.raises(InputError, match="empty image"):
            small_colorizer.colorize_image(empty)
    with pytest.raises(InputError, match="none empty"):
        small_colorizer.colorize_batch(np.zeros((0, 8, 8), np.float32))
    with pytest.raises(InputError, match="L in \\[0, 100\\] as floats, got uint8"):
        small_colorizer.colorize_batch(np.full((1, 8, 8), 128, np.uint8))
    # a second audit: a 1-D or 0-D array and None were Python's ValueError/AttributeError; half floats
    # OpenCV's multi-line assertion
    for bad, message in ((np.zeros(10, np.uint8), "unsupported image shape"),
                         (np.zeros((), np.uint8), "unsupported image shape"), (None, "expected a numpy array")):
        with pytest.raises(InputError, match=message):
            small_colorizer.colorize_image(bad)
    assert small_colorizer.predict_ab(np.full((1, 40, 50), 50, np.float16)).dtype == np.float32
    guided = Colorizer.from_pretrained(make_guided_weights(tmp_path_factory.mktemp("g") / "g.safetensors"),
                                       device="cpu", runtime="torch", render_size=64)
    gray = np.full((40, 60), 120, np.uint8)
    red = guide.parse_color("#aa3311")
    for hints, message in [
        (guide.Hints.of([(5000.0, 5.0, red, 3.0)]), "hint 0: \\(5000, 5\\) is outside the 60x40 picture"),
        (guide.Hints.of([(5.0, -1.0, red, 0.0)]), "hint 0: \\(5, -1\\) is outside"),
        (guide.Hints.of([(5.0, float("nan"), red, 0.0)]), "hint 0: \\(5, nan\\) is outside"),
        (guide.Hints([1.0, 2.0], [1.0], [red, red], [0.0, 0.0]), "2 x, 1 y"),
        (guide.Hints.of([(5.0, 5.0, red, 1e9)]), "hint 0: radius 1e\\+09 must be between 0"),
    ]:
        with pytest.raises(InputError, match=message):
            guided.colorize_image(gray, hints=hints)
    plain = guide.Hints([10, 20], [5, 6], [list(red), list(red)], [0, 2])  # plain Python lists are fine
    assert guided.colorize_image(gray, hints=plain).shape == (40, 60, 3)
    with pytest.raises(InputError, match="expected an 8-bit RGB or RGBA picture"):
        guided.reference(gray)


def test_a_photo_render_size_out_of_range_is_refused_where_it_is_given(test_weights):
    """An audit: photo_render_size=0 fell back to the film's size in silence, 5000 failed only later."""
    for size in (0, 5000):
        with pytest.raises(ConfigError, match=f"--render-size {size}: must be between"):
            Colorizer.from_pretrained(test_weights, device="cpu", runtime="torch", photo_render_size=size)


def test_a_colouriser_keeps_a_few_sessions_not_one_per_shape_ever_seen(test_weights, monkeypatch):
    """An audit: one ONNX Runtime session (60-110 MB and a thread) was kept for every network shape a folder of
    photos brought, for the whole run: 25 shapes took 1.8 GB. The shapes used longest ago go."""
    from filmcolor import colorize, runtime

    built = []
    monkeypatch.setattr(runtime.OnnxRunner, "for_shape",
                        classmethod(lambda cls, get_model, path, shape, threads=None, part="full":
                                    built.append(shape) or object()))
    colorizer = Colorizer.from_pretrained(test_weights, device="cpu", runtime="onnx")
    for width in range(256, 256 + 32 * 12, 32):
        colorizer._runner(1, 256, width)
    colorizer._runner(1, 256, 256 + 32 * 11)  # the last one, still kept: not built again
    assert len(built) == 12 and len(colorizer._runners) == colorize.MAX_SESSIONS
    assert (1, 256, 256) not in colorizer._runners and (1, 256, 256 + 32 * 11) in colorizer._runners
    colorizer._runner(1, 256, 256)  # gone, so built again
    assert len(built) == 13
    # a shape already built never waits for the model being loaded meanwhile (under the colouriser's lock)
    import threading

    found = []
    with colorizer._making:
        looker = threading.Thread(target=lambda: found.append(colorizer._runner(1, 256, 256)), daemon=True)
        looker.start()
        looker.join(5)
    assert found, "the lookup waited for the model's lock"
