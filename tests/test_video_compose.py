"""The output frame builder: the input's luma written exactly, chroma equal to Lab -> RGB -> YUV."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from filmcolor import lab
from filmcolor.video.avcol import AVCOL_SPC_BT709, AVCOL_SPC_SMPTE170M
from filmcolor.video.compose import YuvComposer


def smooth_colour_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(30, 226, (4, 5, 3), dtype=np.uint8)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)


@pytest.mark.parametrize("pix_fmt,size", [("yuv420p", (48, 64)), ("yuv444p", (61, 97))])
def test_luma_plane_is_the_input_luma_in_limited_range(pix_fmt: str, size: tuple[int, int]) -> None:
    gray = np.random.default_rng(1).integers(0, 256, size, dtype=np.uint8)
    ab = np.random.default_rng(2).normal(0, 30, (size[0] // 4 + 1, size[1] // 4 + 1, 2)).astype(np.float32)
    frame = YuvComposer(size[1], size[0], pix_fmt, AVCOL_SPC_BT709).compose(gray, ab)
    assert (frame.width, frame.height, frame.format.name) == (size[1], size[0], pix_fmt)
    plane = frame.planes[0]
    y = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[: size[0], : size[1]]
    expected = np.round(16 + gray.astype(np.float64) * 219 / 255)  # limited range, independent formula
    assert np.array_equal(y, expected.astype(np.uint8))


@pytest.mark.parametrize("pix_fmt,bits", [("yuv420p10le", 10), ("yuv422p12le", 12), ("yuv444p16le", 16)])
def test_deep_luma_is_written_at_the_format_depth(pix_fmt: str, bits: int) -> None:
    height, width = 30, 50
    deep = np.random.default_rng(4).integers(0, 65536, (height, width)).astype(np.uint16)
    gray = (deep // 257).astype(np.uint8)
    ab = np.zeros((8, 13, 2), np.float32)
    composer = YuvComposer(width, height, pix_fmt, AVCOL_SPC_BT709)
    frame = composer.compose(gray, ab, deep)
    plane = frame.planes[0]
    y = np.frombuffer(plane, np.uint16).reshape(-1, plane.line_size // 2)[:height, :width]
    scale = 2 ** (bits - 8)
    exact = 16 * scale + 219 * scale * deep.astype(np.float64) / 65535
    assert np.abs(y - exact).max() <= 0.51  # rounded (to within float32 arithmetic)
    cb = np.frombuffer(frame.planes[1], np.uint16)
    assert composer.chroma_size == (-(-width // (1 if "444" in pix_fmt else 2)), -(-height // (2 if "420" in pix_fmt
                                                                                                 else 1)))
    assert np.all(cb[: composer.chroma_size[0]] == 128 * scale)  # no colour: the middle of the range
    assert len(np.unique(y)) > len(np.unique(gray))
    plane = composer.compose(gray, ab).planes[0]  # no deep luma: the 8-bit level times 2^(bits - 8)
    eight_bit = np.frombuffer(plane, np.uint16).reshape(-1, plane.line_size // 2)[:height, :width]
    assert np.array_equal(eight_bit, np.round(16 + gray.astype(np.float64) * 219 / 255) * scale)


@pytest.mark.parametrize("pix_fmt", ["yuv444p", "yuv444p10le"])
@pytest.mark.parametrize("colorspace,sws", [(AVCOL_SPC_BT709, "itu709"), (AVCOL_SPC_SMPTE170M, "smpte170m")])
def test_colour_decodes_back_to_the_lab_colour(colorspace: int, sws: str, pix_fmt: str) -> None:
    height, width = 40, 56
    rgb = smooth_colour_image(height, width)
    lab_img = lab.rgb_to_lab(rgb)
    # the luma a B&W transfer of this picture has in this colour space
    kr, kb = (0.2126, 0.0722) if colorspace == AVCOL_SPC_BT709 else (0.299, 0.114)
    gray = np.round(rgb @ np.array([kr, 1 - kr - kb, kb])).astype(np.uint8)
    frame = YuvComposer(width, height, pix_fmt, colorspace).compose(gray, lab_img[..., 1:].copy())
    back = frame.reformat(format="rgb24", src_colorspace=sws, src_color_range="MPEG").to_ndarray()
    error = np.abs(back.astype(int) - rgb.astype(int))
    # The L the network works with is the gray's, which differs a little from the colour pixel's own L
    # (luma is not luminance), so saturated pixels move by a few levels; a gray frame would be ~10x off.
    gray_error = np.abs(gray[..., None].astype(int) - rgb.astype(int))
    assert error.mean() < 2.0 and np.percentile(error, 99) < 16
    assert error.mean() < gray_error.mean() / 5


def test_full_rgb_keeps_the_input_l() -> None:
    gray = np.random.default_rng(3).integers(20, 235, (30, 50), dtype=np.uint8)
    ab = np.full((8, 13, 2), 12.0, np.float32)
    rgb = YuvComposer.full_rgb(gray, ab)
    l_out = lab.rgb_to_lab(rgb)[..., 0]
    assert np.abs(l_out - lab.gray_to_l(gray)).mean() < 0.5


def test_reduced_grid_adds_under_half_a_lab_unit_at_1080p() -> None:
    """Cb/Cr computed on the reduced grid and scaled up vs. computed at chroma resolution: mean colour
    difference of the decoded pictures (Lab units) under 0.5 on footage scaled to 1080p (a 480p frame with
    hard edges, film grain and saturated colour: 0.36 here). Pixel-sharp 1080p pictures come closer to
    the bar (0.45 mean on sharp photos, scripts/bench_chroma.py)."""
    height, width = 1080, 1920
    rng = np.random.default_rng(4)
    gray = smooth_colour_image(480, 854, seed=5).mean(axis=2)
    for _ in range(12):  # hard-edged objects
        y, x = rng.integers(0, 480 - 90), rng.integers(0, 854 - 130)
        gray[y:y + rng.integers(10, 90), x:x + rng.integers(10, 130)] = rng.integers(10, 245)
    grain = cv2.GaussianBlur(rng.normal(0, 1, (480, 854)).astype(np.float32), (0, 0), 1.0)
    gray = np.clip(gray + 8 * grain / grain.std(), 0, 255).astype(np.uint8)
    gray = cv2.resize(gray, (width, height), interpolation=cv2.INTER_CUBIC)
    ab = cv2.resize(rng.normal(0, 35, (6, 10, 2)).astype(np.float32), (96, 56), interpolation=cv2.INTER_CUBIC)
    fast = YuvComposer(width, height, "yuv420p", AVCOL_SPC_BT709)
    exact = YuvComposer(width, height, "yuv420p", AVCOL_SPC_BT709, work_lines=0)
    assert fast.work_size == (480, 270) and exact.work_size == (960, 540)
    out, ref = fast.compose(gray, ab), exact.compose(gray, ab)
    np.testing.assert_array_equal(out.to_ndarray()[:height], ref.to_ndarray()[:height])  # luma untouched
    ref_lab = lab.rgb_to_lab(ref.to_ndarray(format="rgb24"))
    delta = np.linalg.norm(lab.rgb_to_lab(out.to_ndarray(format="rgb24")) - ref_lab, axis=-1)
    assert delta.mean() < 0.5, delta.mean()
    # the measure can tell: the same frame with its colour shifted by 2 Lab units is well past it
    shifted = fast.compose(gray, ab + 2.0)
    assert np.linalg.norm(lab.rgb_to_lab(shifted.to_ndarray(format="rgb24")) - ref_lab, axis=-1).mean() > 1.0
