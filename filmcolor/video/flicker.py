"""Temporal metrics of a colourised video: flicker, and with a colour original, ab error and its flicker.

flicker = mean over consecutive frame pairs of |ab_t - warp(ab_{t-1})| (Euclidean, Lab units), on the pixels
where the flow computed from L is reliable; pairs across a detected scene cut are left out. The same flow
and mask serve the output and the original, so flicker(output) / flicker(original) compares like with like
(1.0 is as steady as reality). Everything is measured at a small analysis size (short side 128 pixels):
chroma is low-frequency and the flow is then cheap. Streaming: memory does not grow with the video.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import av
import cv2
import numpy as np

from filmcolor.errors import InputError
from filmcolor.lab import rgb_to_lab
from filmcolor.video.scenecut import DEFAULT_CUT_THRESHOLD, SceneCutDetector, change_score
from filmcolor.video.temporal import MotionEstimator, l_to_u8, warp_reliability

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


def _ab_distance(ab_a: np.ndarray, ab_b: np.ndarray) -> np.ndarray:
    d = ab_a - ab_b
    return np.sqrt(np.einsum("hwc,hwc->hw", d, d))


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
            self._ab_error_sum += float(_ab_distance(ab_cur, ab_ref).mean())
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
        if self._detector.update(change_score(l_cur, l_prev_warped)):
            self._cuts.append(self._frames)
            return
        flow_fwd = self._motion.flow(l_prev_u8, l_u8)
        reliable = warp_reliability(flow_back, flow_fwd, map_x, map_y, l_cur, l_prev_warped) >= RELIABLE_TRUST
        fraction = float(reliable.mean())
        if fraction < MIN_RELIABLE_FRACTION:
            return
        self._pairs += 1
        self._reliable_sum += fraction
        change = _ab_distance(ab_cur, self._motion.warp(ab_prev, map_x, map_y))
        self._flicker_sum += float(change[reliable].mean())
        if ab_ref is not None and ab_ref_prev is not None:
            ref_change = _ab_distance(ab_ref, self._motion.warp(ab_ref_prev, map_x, map_y))
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


def lab_frames(path: Path, short_side: int) -> Iterator[np.ndarray]:
    """Lab (h, w, 3) of each frame at the analysis size (RGB shrunk first: cheap on long films)."""
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as err:
        raise InputError(f"{path}: not a readable video ({err})") from err
    with container:
        if not container.streams.video:
            raise InputError(f"{path}: no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            for frame in container.decode(stream):
                rgb = frame.to_ndarray(format="rgb24")
                h, w = analysis_shape(*rgb.shape[:2], short_side)
                if (h, w) != rgb.shape[:2]:
                    rgb = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
                yield rgb_to_lab(rgb)
        except av.error.FFmpegError as err:
            raise InputError(f"{path}: decoding failed ({err})") from err


def evaluate_video(output: Path, original: Path | None = None, cut_threshold: float = DEFAULT_CUT_THRESHOLD,
                   short_side: int = ANALYSIS_SHORT_SIDE) -> dict:
    """The metrics of ``output`` (and against ``original``) as a JSON-ready dict; Lab units."""
    meter = FlickerMeter(short_side=short_side, cut_threshold=cut_threshold)
    out_frames = lab_frames(output, short_side)
    ref_frames = lab_frames(original, short_side) if original is not None else None
    output_count = original_count = 0
    for lab_out in out_frames:
        output_count += 1
        ab_ref = None
        if ref_frames is not None:
            lab_ref = next(ref_frames, None)
            if lab_ref is None:
                break
            original_count += 1
            ab_ref = lab_ref[..., 1:]
        # Flow and reliability come from the output's L (the input's own L, kept by the colouriser).
        meter.update(np.ascontiguousarray(lab_out[..., 0]), lab_out[..., 1:], ab_ref)
    warnings = []
    if ref_frames is not None:
        original_count += sum(1 for _ in ref_frames)
        output_count += sum(1 for _ in out_frames)
        if original_count != output_count:
            warnings.append(f"output has {output_count} frames, original {original_count}: "
                            f"compared the first {meter.result().frames}")
    if output_count == 0:
        raise InputError(f"{output}: no video frames decoded")
    result = meter.result()
    return {
        "output": str(output),
        "original": None if original is None else str(original),
        "frames": result.frames,
        "pairs_measured": result.pairs,
        "reliable_fraction": round(result.reliable_fraction, 4),
        "cuts": result.cuts,
        "flicker": result.flicker,
        "ab_error": result.ab_error,
        "original_flicker": result.reference_flicker,
        "flicker_ratio": result.flicker_ratio,
        "units": "Lab",
        "analysis_short_side": short_side,
        "warnings": warnings,
    }
