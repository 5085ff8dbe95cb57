"""lab.py against skimage.color, the independent reference for sRGB (D65) <-> CIE Lab."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from skimage import color

from filmcolor import lab
from filmcolor.imageio import read_image

TOL_LAB = 0.05  # Lab units, float32 against skimage's float64
TOL_RGB = 0.5 / 255


def gamut_grid() -> np.ndarray:
    """Every combination of 60 levels per channel (all of 0-19 around sRGB's linear segment, 254, 255)."""
    levels = np.unique(np.r_[np.linspace(0, 255, 40).round(), np.arange(20), 254]).astype(np.uint8)
    r, g, b = np.meshgrid(levels, levels, levels, indexing="ij")
    return np.stack([r, g, b], axis=-1).reshape(-1, 1, 3)  # (M, 1, 3)


def max_abs_per_channel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(np.asarray(a, np.float64) - b).reshape(-1, 3).max(axis=0)


@pytest.fixture(scope="module")
def grid() -> np.ndarray:
    return gamut_grid()


@pytest.fixture(scope="module")
def grid_lab_ref(grid: np.ndarray) -> np.ndarray:
    return color.rgb2lab(grid)


def test_rgb_to_lab_uint8_matches_skimage_over_gamut(grid, grid_lab_ref):
    ours = lab.rgb_to_lab(grid)
    assert ours.dtype == np.float32 and ours.shape == grid.shape
    assert (max_abs_per_channel(ours, grid_lab_ref) < TOL_LAB).all()


def test_rgb_to_lab_float_matches_skimage_over_gamut(grid, grid_lab_ref):
    ours = lab.rgb_to_lab(grid.astype(np.float32) / 255.0)
    assert (max_abs_per_channel(ours, grid_lab_ref) < TOL_LAB).all()


def test_lab_to_rgb_matches_skimage_and_round_trips(grid, grid_lab_ref):
    rgb_ref = grid / 255.0
    ours = lab.lab_to_rgb(grid_lab_ref.astype(np.float32))
    assert np.abs(ours - rgb_ref).max() < TOL_RGB
    assert np.abs(ours - color.lab2rgb(grid_lab_ref)).max() < TOL_RGB


def test_lab_to_rgb_levels_round_trips_exactly(grid, grid_lab_ref):
    lab_f = grid_lab_ref.astype(np.float32)
    out = lab.lab_to_rgb_levels(lab_f[..., 0], lab_f[..., 1:])
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, grid)


def test_out_of_gamut_lab_is_clipped_like_skimage():
    """The network can predict any ab in +-110: out-of-gamut colours must clip as skimage does (no red
    blotches in dark yellow areas from a negative Z) on the float path (the video's chroma, whose luma is
    the film's own whatever the RGB)."""
    rng = np.random.default_rng(1)
    lab_pts = np.concatenate([rng.uniform(0, 100, (4000, 1, 1)), rng.uniform(-110, 110, (4000, 1, 2))],
                             axis=-1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # skimage warns about the negative Z values it clips
        ref = color.lab2rgb(lab_pts)
    lab_f = lab_pts.astype(np.float32)
    assert np.abs(lab.lab_to_rgb(lab_f) - ref).max() < TOL_RGB


def test_out_of_gamut_colours_keep_their_lightness_and_hue_in_levels():
    """A photo keeps its own L: a colour sRGB cannot show at a pixel's L loses saturation, not lightness (an
    audit: a #aa3311 hint on a pale sky clipped in RGB took its L from 86 to 79, #ff0000 to 70); its hue
    stays (the dark yellow of a negative Z is clamped first, as skimage does, so it turns no red)."""
    rng = np.random.default_rng(1)
    lab_f = np.concatenate([rng.uniform(0, 100, (4000, 1, 1)), rng.uniform(-110, 110, (4000, 1, 2))],
                           axis=-1).astype(np.float32)
    clamped = lab_f.copy()
    clamped[..., 2] = np.minimum(clamped[..., 2], (clamped[..., 0] + 16) * 200 / 116)
    u8 = lab.lab_to_rgb_levels(lab_f[..., 0].copy(), lab_f[..., 1:].copy())
    out = lab.rgb_to_lab(u8)
    assert np.abs(out[..., 0] - lab_f[..., 0]).max() < 1.0  # 8-bit rounding; clipping R, G, B: up to 40
    chroma = np.hypot(out[..., 1], out[..., 2])
    hue_out = np.angle(out[..., 1] + 1j * out[..., 2])
    hue_in = np.angle(clamped[..., 1] + 1j * clamped[..., 2])
    turned = np.abs(np.angle(np.exp(1j * (hue_out - hue_in))))[chroma > 10]
    assert np.percentile(turned, 99) < np.radians(6), np.degrees(turned.max())
    assert (chroma <= np.hypot(clamped[..., 1], clamped[..., 2]) + 1.0).all()  # shortened, never lengthened
    sky = lab.lab_to_rgb_levels(np.full((2, 2), 86.3, np.float32), np.broadcast_to(
        lab.rgb_to_lab(np.array([[[0xAA, 0x33, 0x11]]], np.uint8))[0, 0, 1:], (2, 2, 2)).astype(np.float32))
    assert abs(float(lab.rgb_to_lab(sky)[0, 0, 0]) - 86.3) < 0.5
    deep = lab.lab_to_rgb_levels(lab_f[..., 0].copy(), lab_f[..., 1:].copy(), np.uint16)
    assert np.abs(lab.rgb_to_lab((deep / 257).round().astype(np.uint8))[..., 0] - lab_f[..., 0]).max() < 1.0


def test_random_images_any_batch_shape():
    rng = np.random.default_rng(0)
    for shape in [(7, 3), (5, 9, 3), (2, 4, 6, 3)]:
        rgb = rng.integers(0, 256, shape, dtype=np.uint8)
        ours = lab.rgb_to_lab(rgb)
        assert ours.shape == shape
        assert (max_abs_per_channel(ours, color.rgb2lab(rgb)) < TOL_LAB).all()
        back = lab.lab_to_rgb(ours)
        assert back.shape == shape and np.abs(back - rgb / 255.0).max() < TOL_RGB


def test_real_photos_match_skimage(shared_data):
    photos = sorted((shared_data / "photos" / "val").glob("*.jpg"))[:3]
    assert photos
    for path in photos:
        rgb = read_image(path)
        ref = color.rgb2lab(rgb)
        assert (max_abs_per_channel(lab.rgb_to_lab(rgb), ref) < TOL_LAB).all(), path
        np.testing.assert_array_equal(lab.lab_to_rgb_levels(ref[..., 0].astype(np.float32),
                                                           ref[..., 1:].astype(np.float32)), rgb)


def test_gray_to_l_equals_skimage_l_of_gray_levels():
    levels = np.arange(256, dtype=np.uint8)
    gray_rgb = np.repeat(levels[:, None, None], 3, axis=2)  # (256, 1, 3)
    ref = color.rgb2lab(gray_rgb)
    assert lab.GRAY_TO_L.shape == (256,)
    assert np.abs(lab.GRAY_TO_L - ref[:, 0, 0]).max() < 1e-4
    assert np.abs(ref[..., 1:]).max() < 0.01  # skimage agrees a gray has (next to) no chroma
    image = np.random.default_rng(0).integers(0, 256, (5, 7), dtype=np.uint8)
    np.testing.assert_allclose(lab.gray_to_l(image), color.rgb2lab(np.dstack([image] * 3))[..., 0], atol=1e-4)


def test_normalisation_is_the_seeds_and_round_trips():
    l_vals = np.linspace(0, 100, 11, dtype=np.float32)
    ab_vals = np.linspace(-110, 110, 11, dtype=np.float32)
    np.testing.assert_allclose(lab.normalize_l(l_vals), l_vals / 50.0 - 1.0, atol=1e-6)
    np.testing.assert_allclose(lab.normalize_ab(ab_vals), ab_vals / 110.0, atol=1e-6)
    assert lab.normalize_l(np.float32(0)) == -1 and lab.normalize_l(np.float32(100)) == 1
    np.testing.assert_allclose(lab.denormalize_l(lab.normalize_l(l_vals)), l_vals, atol=1e-5)
    np.testing.assert_allclose(lab.denormalize_ab(lab.normalize_ab(ab_vals)), ab_vals, atol=1e-5)
    t = torch.from_numpy(l_vals)
    assert torch.allclose(lab.denormalize_l(lab.normalize_l(t)), t, atol=1e-5)


def test_limited_to_full_range_lut():
    lut = lab.limited_to_full_range_lut()
    assert lut.dtype == np.uint8 and lut.shape == (256,)
    assert lut[16] == 0 and lut[235] == 255
    assert (lut[:17] == 0).all() and (lut[235:] == 255).all()
    assert (np.diff(lut.astype(int)) >= 0).all()
    levels = np.arange(16, 236)
    assert np.abs(lut[levels] - (levels - 16) * 255 / 219).max() <= 0.5
