"""Temporal smoothing of predicted ab across frames ("off", "ema", "flow"), reset at scene cuts.

``flow`` warps the previous smoothed ab into the current frame with optical flow computed on L (known
exactly) and blends it with the current prediction; the blend weight drops to zero where the warp is
unreliable (forward-backward disagreement, pixels leaving the frame, L that does not match after the warp,
a warped colour very far from the new prediction), so moving objects keep their colour without smearing or
trailing. Everything runs at the ab resolution (about 64 x 112 for 480p), a few milliseconds per frame on
one core.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from filmcolor.options import Options, option
from filmcolor.video.scenecut import DEFAULT_CUT_THRESHOLD, SceneCutDetector, change_score

TEMPORAL_MODES = ("off", "ema", "flow")
MAX_BLEND = 0.95  # strength 1 still lets 5% of each new prediction in, so colour can never freeze
L_TOLERANCE = 8.0  # L units: an L mismatch of this size after the warp cuts the blend weight to 1/e
AB_TOLERANCE = 30.0  # Lab units: a warped colour this far from the new prediction gets 1/e of the weight


@dataclass(frozen=True)
class TemporalOptions(Options):
    """``strength`` (0..1) is the weight of the past at a fully reliable pixel; ``cut_threshold`` is the
    ratio of a frame's motion-compensated L change to the shot's median change that counts as a cut."""

    mode: str = option("flow", "Smooth colour over time to stop flicker: motion-compensated (flow), plain "
                       "average (ema).", flag="--temporal", choices=TEMPORAL_MODES)
    # chosen with the shipped model: -63..-67% flicker, ab error not worse (MODEL_CARD.md)
    strength: float = option(0.8, "How much of the previous frames' colour is kept (0 = none).",
                             flag="--temporal-strength", at_least=0.0, at_most=1.0)
    cut_threshold: float = option(DEFAULT_CUT_THRESHOLD, "Scene-cut sensitivity; smoothing restarts at each cut "
                                  "(lower finds more cuts).", above=1.0)


def l_to_u8(l_hw: np.ndarray) -> np.ndarray:
    """L in [0, 100] -> uint8 (x 2.55) for OpenCV's optical flow."""
    return cv2.convertScaleAbs(l_hw, alpha=2.55)


class MotionEstimator:
    """Dense optical flow between two L frames (DIS, at full resolution of the given arrays)."""

    def __init__(self) -> None:
        # At the ab resolution (~64 x 112) patches are matched at half that size and the variational
        # refinement brings the flow to full size: as good as the finest scale in the benchmark, 3x cheaper.
        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
        self._dis.setFinestScale(1)
        self._dis.setPatchSize(8)
        self._dis.setPatchStride(4)
        self._grid: tuple[np.ndarray, np.ndarray] | None = None

    def flow(self, l_from_u8: np.ndarray, l_to_u8: np.ndarray) -> np.ndarray:
        """(h, w, 2) pixels: l_from(x) ~ l_to(x + flow(x))."""
        return self._dis.calc(l_from_u8, l_to_u8, None)

    def coords(self, flow_hw2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Absolute sampling positions x + flow(x), as two float32 maps for cv2.remap."""
        h, w = flow_hw2.shape[:2]
        if self._grid is None or self._grid[0].shape != (h, w):
            gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
            self._grid = (gx, gy)
        return self._grid[0] + flow_hw2[..., 0], self._grid[1] + flow_hw2[..., 1]

    @staticmethod
    def warp(image: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
        """Sample ``image`` (h, w[, c]) at the given positions, bilinear, edges replicated."""
        return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def warp_reliability(flow_back: np.ndarray, flow_fwd: np.ndarray, map_x: np.ndarray, map_y: np.ndarray,
                     l_cur: np.ndarray, l_prev_warped: np.ndarray) -> np.ndarray:
    """Per-pixel trust (h, w) in [0, 1] of warping frame t-1 into frame t.

    flow_back maps t -> t-1 (sampled at map_x/map_y), flow_fwd maps t-1 -> t. Trust drops with the
    forward-backward round-trip error (Sundaram et al. 2010, relative to the motion), with the L mismatch
    after the warp (occlusions, lighting) and is zero where the source lies outside the frame.
    """
    h, w = l_cur.shape
    fwd_at_target = cv2.remap(flow_fwd, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    round_trip = flow_back + fwd_at_target
    err2 = np.einsum("hwc,hwc->hw", round_trip, round_trip)
    motion2 = np.einsum("hwc,hwc->hw", flow_back, flow_back) + np.einsum("hwc,hwc->hw", fwd_at_target,
                                                                       fwd_at_target)
    fb_trust = np.exp(-err2 / (0.01 * motion2 + 0.5))
    l_trust = np.exp(-np.square((l_cur - l_prev_warped) * (1.0 / L_TOLERANCE)))
    inside = (map_x >= 0) & (map_x <= w - 1) & (map_y >= 0) & (map_y <= h - 1)
    return (fb_trust * l_trust * inside).astype(np.float32)


@dataclass
class _State:
    l_u8: np.ndarray
    l: np.ndarray
    ab: np.ndarray  # the smoothed ab returned for the previous frame


class TemporalSmoother:
    """Call once per frame, in order: (L (h, w) L units, predicted ab (h, w, 2) Lab units) -> smoothed ab.

    ``cuts`` lists the 0-based indices (counted over calls) of frames found to start a new shot; the
    smoothing state is reset there so no colour leaks across the cut. Cuts are detected in every mode.
    """

    cuts: list[int]

    def __init__(self, options: TemporalOptions | None = None):
        self.options = options or TemporalOptions()
        self.blend = min(self.options.strength, MAX_BLEND)
        self.cuts = []
        self._motion = MotionEstimator()
        self._detector = SceneCutDetector(self.options.cut_threshold)
        self._state: _State | None = None
        self._frames = 0

    def reset(self) -> None:
        """Forget the previous frame (as at a cut); the frame count and ``cuts`` go on."""
        self._state = None
        self._detector.reset()

    def __call__(self, l_small: np.ndarray, ab_small: np.ndarray) -> np.ndarray:
        if l_small.shape != ab_small.shape[:2] or ab_small.ndim != 3 or ab_small.shape[2] != 2:
            raise ValueError(f"expected L (h, w) and ab (h, w, 2), got {l_small.shape} and {ab_small.shape}")
        index = self._frames
        self._frames += 1
        l_cur = np.ascontiguousarray(l_small, dtype=np.float32)
        ab_cur = np.ascontiguousarray(ab_small, dtype=np.float32)
        l_u8 = l_to_u8(l_cur)
        prev, out = self._state, ab_cur
        if prev is not None and prev.l.shape == l_cur.shape:
            flow_back = self._motion.flow(l_u8, prev.l_u8)  # (h, w, 2): frame t -> t-1
            map_x, map_y = self._motion.coords(flow_back)
            l_prev_warped = self._motion.warp(prev.l, map_x, map_y)
            if self._detector.update(change_score(l_cur, l_prev_warped)):
                self.cuts.append(index)
            elif self.options.mode == "ema" and self.blend > 0:
                out = ab_cur + self.blend * (prev.ab - ab_cur)
            elif self.options.mode == "flow" and self.blend > 0:
                flow_fwd = self._motion.flow(prev.l_u8, l_u8)  # frame t-1 -> t
                trust = warp_reliability(flow_back, flow_fwd, map_x, map_y, l_cur, l_prev_warped)
                ab_prev_warped = self._motion.warp(prev.ab, map_x, map_y)
                # A warped colour far from the new prediction is more likely a half-pixel slip across an
                # object's edge than flicker: trust it less, so edges leave no one-pixel trail.
                gap = ab_prev_warped - ab_cur
                trust *= np.exp(np.einsum("hwc,hwc->hw", gap, gap) * (-1.0 / AB_TOLERANCE**2))
                out = ab_cur + (self.blend * trust)[..., None] * (ab_prev_warped - ab_cur)
        self._state = _State(l_u8=l_u8, l=l_cur, ab=out)
        return out
