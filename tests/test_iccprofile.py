"""Pictures with an embedded ICC profile are read into sRGB, and their coloured copies say they are sRGB."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from skimage import color

from filmcolor import iccprofile
from filmcolor.cli import main
from filmcolor.imageio import read_image


def _gamma_curve(gamma: float) -> bytes:
    return b"curv" + bytes(4) + struct.pack(">IH", 1, round(gamma * 256))


def _gray(gamma: float) -> bytes:
    return iccprofile.gray_profile(_gamma_curve(gamma), name=f"Gray Gamma {gamma}")


def _rgb(r: float, g: float, b: float) -> bytes:
    """An RGB matrix profile with sRGB's primaries and a power curve per channel."""
    srgb = iccprofile._tags(iccprofile.srgb_profile())
    tags = {sig: srgb[sig] for sig in (b"wtpt", b"rXYZ", b"gXYZ", b"bXYZ")}
    tags |= {b"rTRC": _gamma_curve(r), b"gTRC": _gamma_curve(g), b"bTRC": _gamma_curve(b)}
    return iccprofile.display_profile(b"RGB ", tags, f"gamma {r} {g} {b}")


def _srgb_levels(linear: np.ndarray, top: int) -> np.ndarray:
    """Linear light -> sRGB levels 0..top, unrounded (IEC 61966-2-1's encoding)."""
    return top * np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * np.maximum(linear, 0) ** (1 / 2.4) - 0.055)


@pytest.mark.parametrize(("dtype", "top", "within"), [(np.uint8, 255, 0.6), (np.uint16, 65535, 16)])
def test_a_gray_profile_is_read_level_for_level_into_srgb(dtype, top: int, within: float) -> None:
    levels = np.arange(top + 1, dtype=dtype).reshape(-1, 256)
    out, said = iccprofile.to_srgb(levels, _gray(1.8))
    assert said == ""  # done: nothing to say
    assert out.dtype == dtype and out.shape == levels.shape
    expected = _srgb_levels((levels / top) ** 1.8, top)
    assert np.abs(out - expected).max() <= within
    assert np.abs(levels.astype(float) - expected).max() > 30 * within  # negative control: it is no identity


def test_rgb_profiles_are_converted_at_8_bits_and_along_the_neutral_axis_at_16() -> None:
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)
    out, said = iccprofile.to_srgb(rgb, _rgb(2.2, 2.2, 2.2))
    assert said == ""
    assert np.abs(out - _srgb_levels((rgb / 255) ** 2.2, 255)).max() <= 1.0  # same primaries: per channel
    deep = rgb.astype(np.uint16) * 257
    out16, said = iccprofile.to_srgb(np.dstack([deep, np.full(deep.shape[:2], 7, np.uint16)]), _rgb(2.2, 2.2, 2.2))
    assert out16.dtype == np.uint16 and said == ""
    assert np.abs(out16[..., :3] - _srgb_levels((deep / 65535) ** 2.2, 65535)).max() <= 16
    assert (out16[..., 3] == 7).all()  # alpha untouched
    # three different curves: no one neutral axis, so 16 bits cannot be kept, and it says so
    out8, said = iccprofile.to_srgb(deep, _rgb(2.2, 1.8, 2.2))
    assert out8.dtype == np.uint8 and said == ("its ICC profile 'gamma 2.2 1.8 2.2' converted to sRGB at 8 bits "
                                               "(16 bits are kept when a profile has one curve for R, G and B)")
    assert np.abs(out8[..., 1] - _srgb_levels((rgb[..., 1] / 255) ** 1.8, 255)).max() <= 1.5


def test_srgb_profiles_change_nothing_and_unusable_ones_are_named() -> None:
    rgb = np.random.default_rng(4).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    srgb_gray = iccprofile.gray_profile(iccprofile._tags(iccprofile._srgb_gray().tobytes())[b"kTRC"])
    for image, icc in ((rgb, iccprofile.srgb_profile()), (rgb.astype(np.uint16) * 257, iccprofile.srgb_profile()),
                       (rgb[..., 0], srgb_gray), (rgb[..., 0].astype(np.uint16) * 257, srgb_gray)):
        out, said = iccprofile.to_srgb(image, icc)
        assert out is image and said == ""
    out, said = iccprofile.to_srgb(rgb, _gray(1.8))  # a colour picture tagged with a gray profile
    assert np.array_equal(out, rgb)
    assert said == "its ICC profile 'Gray Gamma 1.8' is for GRAY pictures, not RGB ones: taken as sRGB"
    # a gray picture tagged with an RGB profile (ImageMagick writes them): read along its neutral axis, in
    # silence (an audit: it was 'done, with warnings'); sRGB's own changes nothing
    out, said = iccprofile.to_srgb(rgb[..., 0], _rgb(2.2, 2.2, 2.2))
    assert said == "" and np.abs(out - _srgb_levels((rgb[..., 0] / 255) ** 2.2, 255)).max() <= 0.6
    out, said = iccprofile.to_srgb(rgb[..., 0], iccprofile.srgb_profile())
    assert said == "" and np.array_equal(out, rgb[..., 0])
    out, said = iccprofile.to_srgb(rgb[..., 0], _rgb(2.2, 1.8, 2.2))  # no one neutral curve
    assert np.array_equal(out, rgb[..., 0])
    assert said == "its ICC profile 'gamma 2.2 1.8 2.2' is for RGB pictures, not gray ones: taken as sRGB"
    out, said = iccprofile.to_srgb(rgb, b"not a profile" * 20)
    assert np.array_equal(out, rgb) and said == "its ICC profile cannot be read: taken as sRGB"


@pytest.mark.parametrize("ext", ["jpg", "png", "tif"])
def test_a_profiled_scan_keeps_its_tones_and_its_copy_says_srgb(tmp_path: Path, ext: str) -> None:
    """A gray scan in 'Gray Gamma 1.8' (a Mac's old default): its coloured copy has the L its profile gives each
    level, not the L sRGB would (mid-gray: 61 against 54), and carries sRGB's profile."""
    levels = np.tile(np.arange(0, 256, 4, dtype=np.uint8), (16, 1))
    src = tmp_path / f"scan.{ext}"
    Image.fromarray(levels).save(src, icc_profile=_gray(1.8), **({"quality": 100} if ext == "jpg" else {}))
    read = read_image(src, warnings := [])
    assert warnings == []  # a profile honoured is no warning: Photoshop and scanners write one into every scan
    dst = tmp_path / f"out.{ext}"
    result = CliRunner().invoke(main, ["image", str(src), "-o", str(dst)])
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output
    with Image.open(dst) as out:
        assert out.info["icc_profile"] == iccprofile.srgb_profile()
        rgb = np.asarray(out.convert("RGB"))
    y = (np.asarray(Image.open(src)) / 255.0) ** 1.8  # the profile's own meaning of each level
    wanted_l = 116 * np.cbrt(np.maximum(y, 0.008856)) - 16
    wanted_l = np.where(y > 0.008856, wanted_l, 903.3 * y)
    got_l = color.rgb2lab(rgb)[..., 0]
    assert np.abs(got_l - wanted_l).mean() < 0.5
    assert np.abs(color.rgb2lab(np.dstack([read] * 3))[..., 0] - wanted_l).max() < 1.0
    naive_l = color.rgb2lab(np.dstack([np.asarray(Image.open(src))] * 3))[..., 0]
    assert np.abs(naive_l - wanted_l).mean() > 3  # negative control: sRGB's reading of the levels is far off


def test_a_photo_without_a_profile_gets_none(tmp_path: Path) -> None:
    src = tmp_path / "plain.png"
    Image.fromarray(np.tile(np.arange(0, 256, 4, dtype=np.uint8), (16, 1))).save(src)
    dst = tmp_path / "out.png"
    assert CliRunner().invoke(main, ["image", str(src), "-o", str(dst)]).exit_code == 0
    with Image.open(dst) as out:
        assert "icc_profile" not in out.info


def test_gray_with_alpha_takes_its_gray_profile_and_copies_are_the_same_bytes(tmp_path: Path) -> None:
    """An LA PNG is read as RGBA with R = G = B: its gray profile applies to its gray (an audit: it was refused as
    'for GRAY pictures, not RGB ones', 7 L units off in the midtones), the alpha untouched. And sRGB's profile
    carries a fixed date, so two runs write the same bytes (an audit: LittleCMS dated it to the second)."""
    levels = np.tile(np.arange(0, 256, 4, dtype=np.uint8), (16, 1))
    src = tmp_path / "cutout.png"
    Image.fromarray(np.dstack([levels, np.full_like(levels, 200)]), "LA").save(src, icc_profile=_gray(1.8))
    read = read_image(src, notes := [])
    assert notes == [] and read.shape == (16, 64, 4) and (read[..., 3] == 200).all()
    assert np.abs(read[..., 0] - _srgb_levels((levels / 255) ** 1.8, 255)).max() <= 0.6
    assert np.array_equal(read[..., 0], read[..., 1]) and np.array_equal(read[..., 0], read[..., 2])
    copies = []
    for n in range(2):
        dst = tmp_path / f"out{n}.png"
        assert CliRunner().invoke(main, ["image", str(src), "-o", str(dst)]).exit_code == 0
        copies.append(dst.read_bytes())
    assert copies[0] == copies[1]
    assert iccprofile.srgb_profile()[24:36] == struct.pack(">6H", 2000, 1, 1, 0, 0, 0)
