"""sRGB (D65, skimage's convention) <-> CIE Lab, the model normalisation and the gray->L lookup.

The only home of these constants. Conversions go through OpenCV's float32 path (about 20x faster
than skimage on a 1080p frame); the normalisation applies to numpy arrays and torch tensors alike.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    import torch

# skimage.color's sRGB -> XYZ matrix and D65 (2 degree observer) white point.
XYZ_FROM_RGB = np.array(
    [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]],
    dtype=np.float64,
)
RGB_FROM_XYZ = np.linalg.inv(XYZ_FROM_RGB)
WHITE_D65 = np.array([0.95047, 1.0, 1.08883], dtype=np.float64)

# The seed's normalisation of the network's input and output.
L_SCALE, L_SHIFT = 50.0, 1.0  # l_norm = L / 50 - 1, in [-1, 1]
AB_SCALE = 110.0  # ab_norm = ab / 110, roughly in [-1, 1]
AB_LIMIT = 110.0  # predicted ab is clamped to +-AB_LIMIT Lab units before conversion


def normalize_l(l: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """L in [0, 100] -> network input in [-1, 1]."""
    return l / L_SCALE - L_SHIFT


def denormalize_l(l_norm: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    return (l_norm + L_SHIFT) * L_SCALE


def normalize_ab(ab: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """ab in Lab units -> network target, roughly in [-1, 1]."""
    return ab / AB_SCALE


def denormalize_ab(ab_norm: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    return ab_norm * AB_SCALE


# sRGB's tone curve (IEC 61966-2-1): linear = ((c + OFFSET) / (1 + OFFSET)) ** GAMMA above KNEE, c / SLOPE below
SRGB_GAMMA, SRGB_OFFSET, SRGB_SLOPE, SRGB_KNEE = 2.4, 0.055, 12.92, 0.04045


def _srgb_to_linear(c: np.ndarray) -> np.ndarray:
    return np.where(c > SRGB_KNEE, ((c + SRGB_OFFSET) / (1 + SRGB_OFFSET)) ** SRGB_GAMMA, c / SRGB_SLOPE)


def _lab_f(t: np.ndarray) -> np.ndarray:
    return np.where(t > 0.008856, np.cbrt(t), 7.787 * t + 16.0 / 116.0)


def _gray_to_l_table(top: int = 255) -> np.ndarray:
    """L of the sRGB gray (g, g, g) for each level g of 0..top; float64 for exactness."""
    y = _srgb_to_linear(np.arange(top + 1, dtype=np.float64) / top)  # Y of a gray is its linear value
    return 116.0 * _lab_f(y) - 16.0


GRAY_TO_L = _gray_to_l_table().astype(np.float32)  # (256,) L units


def gray_to_l(gray_hw: np.ndarray) -> np.ndarray:
    """uint8 or uint16 gray levels (any shape) -> L in [0, 100] float32, one gather."""
    return (_gray16_to_l() if gray_hw.dtype == np.uint16 else GRAY_TO_L)[gray_hw]


@functools.cache
def _linear_of_level16() -> np.ndarray:
    return _srgb_to_linear(np.arange(65536, dtype=np.float64) / 65535.0).astype(np.float32)


@functools.cache
def _gray16_to_l() -> np.ndarray:
    return _gray_to_l_table(65535).astype(np.float32)


def full_to_limited_range_lut() -> np.ndarray:
    """uint8 lookup mapping full-range luma (0-255) to limited range (16-235); inverse of the one below."""
    return np.round(16.0 + np.arange(256, dtype=np.float64) * 219.0 / 255.0).astype(np.uint8)


def limited_to_full_range_lut() -> np.ndarray:
    """uint8 lookup mapping limited-range luma (16-235) to full range (0-255), clipped."""
    levels = np.arange(256, dtype=np.float64)
    return np.clip(np.round((levels - 16.0) * 255.0 / 219.0), 0, 255).astype(np.uint8)


DEEP_MAX = 65535  # deep luma: luma of input deeper than 8 bits, full range on 16 bits whatever its depth


def _range(bits: int, full_range: bool) -> tuple[float, float]:
    """(black level, black-to-white span) of ``bits``-bit luma: limited range is 16-235 scaled by 2^(bits-8)."""
    if full_range:
        return 0.0, float((1 << bits) - 1)
    scale = 1 << (bits - 8)
    return 16.0 * scale, 219.0 * scale


def deep_luma(samples: np.ndarray, bits: int, full_range: bool) -> np.ndarray:
    """uint16 luma samples of ``bits`` bits (native byte order) -> deep luma (uint16, 0..DEEP_MAX), rounded and
    clipped (limited range's footroom and headroom are cut, as the 8-bit lookups cut them)."""
    black, span = _range(bits, full_range)
    alpha = DEEP_MAX / span
    return cv2.addWeighted(samples, alpha, samples, 0.0, -black * alpha, dtype=cv2.CV_16U)


REC709_KR_KB = (0.2126, 0.0722)  # luma weights of R and B in HD video's Y' (G gets the rest)


def deep_luma_of_rgb(r: np.ndarray, g: np.ndarray, b: np.ndarray, bits: int) -> np.ndarray:
    """The R', G', B' planes (uint16, ``bits`` bits: an RGB scan such as a 10-bit DPX) -> deep luma: their
    Rec. 709 Y', rounded, so that a neutral scan (R = G = B) keeps its levels."""
    scale = DEEP_MAX / _range(bits, full_range=True)[1]
    kr, kb = REC709_KR_KB
    rg = cv2.addWeighted(r, kr * scale, g, (1.0 - kr - kb) * scale, 0.0, dtype=cv2.CV_32F)
    return cv2.addWeighted(rg, 1.0, b.astype(np.float32), kb * scale, 0.0, dtype=cv2.CV_16U)


def deep_to_gray(deep: np.ndarray) -> np.ndarray:
    """Deep luma -> full-range 8-bit gray, rounded."""
    return cv2.convertScaleAbs(deep, alpha=255.0 / DEEP_MAX)


def limited_luma(deep: np.ndarray, bits: int, dst: np.ndarray | None = None) -> np.ndarray:
    """Deep luma -> limited-range ``bits``-bit samples (uint16), rounded; written into ``dst`` (a uint16 view,
    e.g. a frame's plane) when given."""
    black, span = _range(bits, full_range=False)
    return cv2.addWeighted(deep, span / DEEP_MAX, deep, 0.0, black, dst=dst, dtype=cv2.CV_16U)


_LINEAR_OF_LEVEL = _srgb_to_linear(np.arange(256, dtype=np.float64) / 255.0).astype(np.float32)
_XYZN_FROM_RGB = (XYZ_FROM_RGB / WHITE_D65[:, None]).astype(np.float32)  # XYZ already divided by white
_LAB_FROM_F = np.array([[0, 116, 0, -16], [500, -500, 0, 0], [0, 200, -200, 0]], dtype=np.float32)


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """RGB (..., 3) uint8, uint16, or float in [0, 1] -> Lab float32 (..., 3), L in [0, 100].

    OpenCV's own float Lab path is up to 0.5 units off skimage, so only its fast primitives are used.
    """
    shape = rgb.shape
    img = rgb.reshape(-1, 1, 3) if rgb.ndim != 3 else rgb
    if img.dtype == np.uint8:
        lin = cv2.LUT(np.ascontiguousarray(img), _LINEAR_OF_LEVEL)
    elif img.dtype == np.uint16:
        lin = _linear_of_level16()[img]
    else:
        lin = _srgb_to_linear(np.clip(img, 0.0, 1.0).astype(np.float64)).astype(np.float32)
    xyz = cv2.transform(lin, _XYZN_FROM_RGB)
    f = cv2.pow(np.maximum(xyz, 0.0, out=xyz), 1.0 / 3.0)
    linear_part = xyz <= 0.008856
    if linear_part.any():
        f[linear_part] = 7.787 * xyz[linear_part] + 16.0 / 116.0
    return cv2.transform(f, _LAB_FROM_F).reshape(shape)


# b at which Z reaches 0 is (L + 16) * 200 / 116; skimage clips negative Z to 0 there, OpenCV does not
# (dark, strongly yellow ab then turns red), so b is clamped to it before OpenCV's conversion.
_B_MAX_PER_L = np.float32(200.0 / 116.0)
_B_MAX_AT_L0 = np.float32(16.0 * 200.0 / 116.0)


def _clamp_b_to_nonnegative_z(lab_hw3: np.ndarray) -> None:
    """In place: b <= (L + 16) * 200 / 116, i.e. Z >= 0, as skimage's lab2rgb does."""
    b = lab_hw3[..., 2]
    np.minimum(b, lab_hw3[..., 0] * _B_MAX_PER_L + _B_MAX_AT_L0, out=b)


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """Lab float (..., 3) -> RGB float32 in [0, 1] (..., 3), out-of-gamut values clipped."""
    lab_f = lab.astype(np.float32, copy=True)
    shape = lab_f.shape
    flat = lab_f.reshape(-1, shape[-2] if lab_f.ndim > 2 else 1, 3) if lab_f.ndim != 3 else lab_f
    flat = np.ascontiguousarray(flat)
    _clamp_b_to_nonnegative_z(flat)
    rgb = cv2.cvtColor(flat, cv2.COLOR_Lab2RGB)
    return np.clip(rgb, 0.0, 1.0, out=rgb).reshape(shape)


# A colour outside sRGB at its pixel's L is brought in by shortening its ab (same hue), found by halving the
# interval this many times (to 1/256 of its chroma), not by clipping R, G and B, which changes the lightness:
# a saturated red hint on a pale sky took L from 86 to 70 (an audit).
GAMUT_STEPS = 8
GAMUT_SLACK = 1e-4  # linear RGB this far outside [0, 1] is float error, not a colour out of gamut
_EDGE = 1e-7
_RGB_FROM_XYZN = (RGB_FROM_XYZ * WHITE_D65[None, :]).astype(np.float32)  # linear RGB from XYZ / white
_F_FROM_LAB = np.array([[1 / 116, 1 / 500, 0, 16 / 116], [1 / 116, 0, 0, 16 / 116], [1 / 116, 0, -1 / 200, 16 / 116]],
                       dtype=np.float32)  # (fx, fy, fz) of CIE Lab's inverse from (L, a, b, 1)


def _linear_rgb(lab_n3: np.ndarray) -> np.ndarray:
    """Lab (N, 3) -> linear RGB (N, 3), unclipped (OpenCV's conversion clips, so it cannot tell what is out)."""
    f = cv2.transform(lab_n3[:, None], _F_FROM_LAB)[:, 0]  # (fx, fy, fz)
    xyz = np.where(f > np.float32(6.0 / 29.0), f * f * f, (f - np.float32(16.0 / 116.0)) * np.float32(1.0 / 7.787))
    return cv2.transform(xyz[:, None], _RGB_FROM_XYZN)[:, 0]


def _inside(lab_n3: np.ndarray) -> np.ndarray:
    rgb = _linear_rgb(lab_n3)
    return ((rgb >= -GAMUT_SLACK) & (rgb <= 1.0 + GAMUT_SLACK)).all(axis=1)


def _fit_gamut(lab: np.ndarray, rgb: np.ndarray) -> None:
    """In place: each pixel of ``rgb`` (from ``lab``, H x W x 3) that sRGB cannot show is remade from its Lab
    with the longest ab, of those GAMUT_STEPS halvings try, that it can (ab 0, gray, always is)."""
    # OpenCV clips what it converts to [0, 1]: only a pixel with a channel at 0 or 1 can be out of gamut
    flat = lab.reshape(-1, 3)
    outside = cv2.inRange(rgb, (_EDGE,) * 3, (1.0 - _EDGE,) * 3).reshape(-1) == 0
    if not outside.any():
        return
    outside[outside] = ~_inside(flat[outside])
    if not outside.any():
        return
    lab_out = flat[outside]
    lo = np.zeros(len(lab_out), np.float32)
    hi = np.ones(len(lab_out), np.float32)
    trial = lab_out.copy()
    for _ in range(GAMUT_STEPS):
        mid = (lo + hi) * 0.5
        trial[:, 1:] = lab_out[:, 1:] * mid[:, None]
        fits = _inside(trial)
        lo = np.where(fits, mid, lo)
        hi = np.where(fits, hi, mid)
    trial[:, 1:] = lab_out[:, 1:] * lo[:, None]
    rgb.reshape(-1, 3)[outside] = cv2.cvtColor(trial[:, None], cv2.COLOR_Lab2RGB)[:, 0]


def lab_to_rgb_levels(l_hw: np.ndarray, ab_hw2: np.ndarray, dtype: type = np.uint8) -> np.ndarray:
    """Full-resolution L (H, W) and ab (H, W, 2) -> RGB (H, W, 3) levels: uint8, or uint16 with ``dtype``.
    A colour sRGB cannot show at its L keeps the L and the hue and loses saturation (_fit_gamut)."""
    a_hw, b_hw = cv2.split(np.asarray(ab_hw2, dtype=np.float32))
    lab = cv2.merge([np.asarray(l_hw, dtype=np.float32), a_hw, b_hw])  # 5x faster than numpy's channel writes
    _clamp_b_to_nonnegative_z(lab)
    rgb = cv2.cvtColor(lab, cv2.COLOR_Lab2RGB)
    _fit_gamut(lab, rgb)
    if dtype == np.uint16:  # clipped to [0, 1] first, a guard (OpenCV 4's float Lab -> RGB clips them itself)
        np.clip(rgb, 0.0, 1.0, out=rgb)
        return (rgb * 65535.0 + 0.5).astype(np.uint16)
    return cv2.convertScaleAbs(rgb, alpha=255.0)  # scales, rounds and saturates to uint8
