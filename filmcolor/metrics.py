"""Quality metrics shared by eval, training and benchmarks, for photos and video.

Per picture: PSNR, SSIM, colourfulness, ab error and its AuC. Over time: flicker, the mean colour change
between consecutive frames along the motion (``FlickerMeter``); ``evaluate.py`` feeds them files.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

import cv2
import numpy as np
from skimage.metrics import structural_similarity

from filmcolor import lab
from filmcolor.video.scenecut import DEFAULT_CUT_THRESHOLD, SceneCutDetector, cut_score
from filmcolor.video.temporal import MotionEstimator, l_to_u8, warp_reliability

PSNR_CAP = 100.0  # dB for identical images, so that one exact match cannot make a mean infinite
GRAY_CHROMA = 2.0  # Lab units: a picture whose mean chroma is below this has no colour (to learn from, to score)
_CHROMA_CHECK_SIDE = 64  # pixels: the chroma check looks at a copy this small (a mean needs no detail)


def psnr(reference: np.ndarray, test: np.ndarray, data_range: float = 255.0) -> float:
    """PSNR in dB of two same-shaped images (uint8 RGB compared as 8-bit values), capped at PSNR_CAP."""
    mse = np.mean((reference.astype(np.float64) - test.astype(np.float64)) ** 2)
    return PSNR_CAP if mse == 0 else min(PSNR_CAP, float(10.0 * np.log10(data_range**2 / mse)))


def mean_chroma(rgb: np.ndarray) -> float:
    """Mean chroma sqrt(a^2 + b^2) of an RGB uint8 image in Lab units, measured on a small copy."""
    h, w = rgb.shape[:2]
    scale = _CHROMA_CHECK_SIDE / max(h, w)
    if scale < 1:
        rgb = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    ab = lab.rgb_to_lab(np.ascontiguousarray(rgb))[..., 1:]
    return float(np.mean(np.hypot(ab[..., 0], ab[..., 1])))


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


# ---- over time ----
# flicker = mean over consecutive frame pairs of |ab_t - warp(ab_{t-1})| (Euclidean, Lab units), on the pixels
# where the flow computed from L is reliable; pairs across a detected scene cut are left out. The same flow
# and mask serve the output and the original, so flicker(output) / flicker(original) compares like with like
# (1.0 is as steady as reality). Everything is measured at a small analysis size (short side 128 pixels):
# chroma is low-frequency and the flow is then cheap. Streaming: memory does not grow with the video.

ANALYSIS_SHORT_SIDE = 128  # pixels
RELIABLE_TRUST = 0.5  # pixels whose warp trust (temporal.warp_reliability) is at least this are measured
MIN_RELIABLE_FRACTION = 0.01  # a pair with fewer reliable pixels than this is left out


def analysis_shape(height: int, width: int, short_side: int = ANALYSIS_SHORT_SIDE) -> tuple[int, int]:
    """(h, w) with the short side at most ``short_side``, aspect kept."""
    scale = min(1.0, short_side / min(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def _resize(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    if image.shape[:2] == shape:
        return np.ascontiguousarray(image, dtype=np.float32)
    shrinking = image.shape[0] > shape[0]
    return cv2.resize(np.ascontiguousarray(image, dtype=np.float32), (shape[1], shape[0]),
                      interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


@dataclass(frozen=True)
class TemporalMetrics:
    """Lab units; the reference fields are None without a colour original."""

    frames: int
    pairs: int  # consecutive pairs measured (cuts and pairs with no reliable pixels left out)
    flicker: float
    reliable_fraction: float  # mean share of pixels the flicker was measured on
    cuts: list[int] = field(default_factory=list)
    ab_error: float | None = None
    reference_flicker: float | None = None
    flicker_ratio: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


class FlickerMeter:
    """Feed frames in order with ``update``; ``result()`` at any time gives the metrics so far."""

    def __init__(self, short_side: int = ANALYSIS_SHORT_SIDE, cut_threshold: float = DEFAULT_CUT_THRESHOLD):
        self.short_side = short_side
        self._motion = MotionEstimator()
        self._detector = SceneCutDetector(cut_threshold)
        self._prev: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None] | None = None
        self._frames = self._pairs = 0
        self._flicker_sum = self._ref_flicker_sum = self._reliable_sum = 0.0
        self._ab_error_sum = 0.0
        self._has_reference: bool | None = None
        self._cuts: list[int] = []

    def update(self, l_hw: np.ndarray, ab_hw2: np.ndarray,
               ab_reference_hw2: np.ndarray | None = None) -> None:
        """One frame: L (H, W) L units, its ab (h, w, 2), optionally the colour original's ab; any sizes."""
        if self._has_reference is None:
            self._has_reference = ab_reference_hw2 is not None
        elif self._has_reference != (ab_reference_hw2 is not None):
            raise ValueError("give the reference ab for every frame or for none")
        shape = analysis_shape(*l_hw.shape[:2], self.short_side)
        l_cur = _resize(l_hw, shape)
        ab_cur = _resize(ab_hw2, shape)
        ab_ref = None if ab_reference_hw2 is None else _resize(ab_reference_hw2, shape)
        l_u8 = l_to_u8(l_cur)
        if ab_ref is not None:
            self._ab_error_sum += ab_error(ab_ref, ab_cur)
        if self._prev is not None and self._prev[0].shape == shape:
            self._measure_pair(l_cur, l_u8, ab_cur, ab_ref)
        self._prev = (l_cur, l_u8, ab_cur, ab_ref)
        self._frames += 1

    def _measure_pair(self, l_cur: np.ndarray, l_u8: np.ndarray, ab_cur: np.ndarray,
                      ab_ref: np.ndarray | None) -> None:
        l_prev, l_prev_u8, ab_prev, ab_ref_prev = self._prev  # type: ignore[misc]
        flow_back = self._motion.flow(l_u8, l_prev_u8)
        map_x, map_y = self._motion.coords(flow_back)
        l_prev_warped = self._motion.warp(l_prev, map_x, map_y)
        if self._detector.update(cut_score(l_cur, l_prev_warped), l_prev, l_cur):
            self._cuts.append(self._frames)
            return
        flow_fwd = self._motion.flow(l_prev_u8, l_u8)
        reliable = warp_reliability(flow_back, flow_fwd, map_x, map_y, l_cur, l_prev_warped) >= RELIABLE_TRUST
        fraction = float(reliable.mean())
        if fraction < MIN_RELIABLE_FRACTION:
            return
        self._pairs += 1
        self._reliable_sum += fraction
        change = ab_distance(ab_cur, self._motion.warp(ab_prev, map_x, map_y))
        self._flicker_sum += float(change[reliable].mean())
        if ab_ref is not None and ab_ref_prev is not None:
            ref_change = ab_distance(ab_ref, self._motion.warp(ab_ref_prev, map_x, map_y))
            self._ref_flicker_sum += float(ref_change[reliable].mean())

    def result(self) -> TemporalMetrics:
        pairs = max(self._pairs, 1)
        flicker = self._flicker_sum / pairs
        ab_error = reference_flicker = ratio = None
        if self._has_reference:
            ab_error = self._ab_error_sum / max(self._frames, 1)
            reference_flicker = self._ref_flicker_sum / pairs
            ratio = flicker / reference_flicker if reference_flicker > 0 else None
        return TemporalMetrics(frames=self._frames, pairs=self._pairs, flicker=flicker,
                               reliable_fraction=self._reliable_sum / pairs, cuts=list(self._cuts),
                               ab_error=ab_error, reference_flicker=reference_flicker, flicker_ratio=ratio)


def flicker(l_frames: Iterable[np.ndarray], ab_frames: Iterable[np.ndarray]) -> float:
    """Flicker (Lab units) of a sequence of L (H, W) and ab (h, w, 2) frames."""
    meter = FlickerMeter()
    for l_hw, ab_hw2 in zip(l_frames, ab_frames, strict=True):
        meter.update(l_hw, ab_hw2)
    return meter.result().flicker
