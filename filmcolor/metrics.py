"""Quality metrics shared by eval, training and benchmarks: PSNR, SSIM, colourfulness, ab error and its AuC.

Flicker and other temporal metrics live at the end of this module.
"""

from __future__ import annotations

import numpy as np
from skimage.metrics import structural_similarity

PSNR_CAP = 100.0  # dB for identical images, so that one exact match cannot make a mean infinite


def psnr(reference: np.ndarray, test: np.ndarray, data_range: float = 255.0) -> float:
    """PSNR in dB of two same-shaped images (uint8 RGB compared as 8-bit values), capped at PSNR_CAP."""
    mse = np.mean((reference.astype(np.float64) - test.astype(np.float64)) ** 2)
    return PSNR_CAP if mse == 0 else min(PSNR_CAP, float(10.0 * np.log10(data_range**2 / mse)))


def colorfulness(rgb: np.ndarray) -> float:
    """Hasler & Suesstrunk (2003) colourfulness of an RGB image (8-bit scale); 0 for gray."""
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    rg = r - g
    yb = 0.5 * (r + g) - b
    std = np.sqrt(rg.std() ** 2 + yb.std() ** 2)
    mean = np.sqrt(rg.mean() ** 2 + yb.mean() ** 2)
    return float(std + 0.3 * mean)


SSIM_WINDOW = 7  # skimage's default window (pixels); smaller images use the largest odd window that fits


def ssim(reference: np.ndarray, test: np.ndarray, data_range: float = 255.0) -> float:
    """Mean SSIM (skimage's structural_similarity, 7x7 uniform window) of two same-shaped RGB images.

    Images under 7 pixels on a side use a smaller odd window; under 3, the one window is the whole image.
    """
    side = min(reference.shape[:2])
    if side >= 3:
        win = min(SSIM_WINDOW, side if side % 2 else side - 1)
        return float(structural_similarity(reference, test, channel_axis=2, data_range=data_range, win_size=win))
    x, y = reference.astype(np.float64), test.astype(np.float64)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    per_channel = []
    for i in range(x.shape[2]):
        a, b = x[..., i].ravel(), y[..., i].ravel()
        cov = np.mean((a - a.mean()) * (b - b.mean()))
        per_channel.append((2 * a.mean() * b.mean() + c1) * (2 * cov + c2)
                           / ((a.mean() ** 2 + b.mean() ** 2 + c1) * (a.var() + b.var() + c2)))
    return float(np.mean(per_channel))


def ab_distance(ab_ref: np.ndarray, ab_test: np.ndarray) -> np.ndarray:
    """Per-pixel Euclidean distance in the ab plane (..., 2) -> (...), Lab units, float64."""
    return np.linalg.norm(ab_ref.astype(np.float64) - ab_test.astype(np.float64), axis=-1)


def ab_error(ab_ref: np.ndarray, ab_test: np.ndarray) -> float:
    """Mean Euclidean distance in the ab plane, Lab units."""
    return float(np.mean(ab_distance(ab_ref, ab_test)))


AUC_MAX_THRESHOLD = 150  # Lab units: Zhang et al. (2016) sweep the ab threshold over 0..150


def ab_auc(ab_ref: np.ndarray, ab_test: np.ndarray, max_threshold: int = AUC_MAX_THRESHOLD) -> float:
    """Zhang et al. (2016) raw accuracy: area under "fraction of pixels with ab error <= t", t = 0, 1 .. max.

    The curve is sampled at the max + 1 integer thresholds and averaged, so the area is in [0, 1]. A pixel
    with error d counts at every t >= ceil(d), i.e. at max(0, max + 1 - ceil(d)) of them, hence the sum below.
    """
    distance = ab_distance(ab_ref, ab_test)
    thresholds_met = np.clip(max_threshold + 1 - np.ceil(distance), 0, max_threshold + 1)
    return float(np.mean(thresholds_met) / (max_threshold + 1))


# ---- temporal metrics ----
# Implemented beside the optical flow they share with the temporal smoother (filmcolor/video/flicker.py);
# re-exported here so that eval, training and benchmarks find every metric in one module.
from filmcolor.video.flicker import FlickerMeter, TemporalMetrics, evaluate_video, flicker  # noqa: E402

__all__ = ["psnr", "ssim", "colorfulness", "ab_distance", "ab_error", "ab_auc", "FlickerMeter", "TemporalMetrics",
           "evaluate_video", "flicker"]
