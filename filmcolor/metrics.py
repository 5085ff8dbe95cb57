"""Quality metrics shared by eval, training and benchmarks: PSNR, colourfulness, ab error.

Flicker and other temporal metrics live at the end of this module.
"""

from __future__ import annotations

import numpy as np


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


def ab_error(ab_ref: np.ndarray, ab_test: np.ndarray) -> float:
    """Mean Euclidean distance in the ab plane, Lab units."""
    return float(np.mean(np.linalg.norm(ab_ref.astype(np.float64) - ab_test.astype(np.float64), axis=-1)))


# ---- temporal metrics ----
# Implemented beside the optical flow they share with the temporal smoother (filmcolor/video/flicker.py);
# re-exported here so that eval, training and benchmarks find every metric in one module.
from filmcolor.video.flicker import FlickerMeter, TemporalMetrics, evaluate_video, flicker  # noqa: E402

__all__ = ["psnr", "colorfulness", "ab_error", "FlickerMeter", "TemporalMetrics", "evaluate_video", "flicker"]
