"""Temporal smoothing of predicted ab across frames ("off", "ema", "flow"), reset at scene cuts.

``flow`` warps the previous smoothed ab into the current frame with optical flow computed on L (known
exactly) and blends it with the current prediction; the blend weight drops to zero where the warp is
unreliable (forward-backward disagreement, pixels leaving the frame, L that does not match after the warp,
a warped colour very far from the new prediction), so moving objects keep their colour without smearing or
trailing. Everything runs at the ab resolution (56 x 96 for 480p and 1080p alike), a few milliseconds per
frame on one core.

Two stages, so that they can run on different threads: MotionAnalyzer (flow to the previous frame, scene
cuts) runs before the network and tells NetworkSchedule whether this frame needs the network at all
(--network-every); TemporalSmoother.blend then smooths a prediction, or carries the previous frame's colour
by the motion into a frame the network skipped.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

from filmcolor.options import Options, option
from filmcolor.video.scenecut import DEFAULT_CUT_THRESHOLD, SceneCutDetector, change_score, cut_score

TEMPORAL_MODES = ("off", "ema", "flow")
# the most of the past a pixel keeps: 5% of each new prediction gets in, colour never freezes (a patch frame keeps
# all of it where the warp is reliable: the next full frame, at most --network-every frames on, gets in)
MAX_BLEND = 0.95
L_TOLERANCE = 8.0  # L units: an L mismatch of this size after the warp cuts the blend weight to 1/e
AB_TOLERANCE = 30.0  # Lab units: a warped colour this far from the new prediction gets 1/e of the weight
# Lab units: a gap between the carried colour and the new prediction this large forgets 1/e of the count of
# frames a pixel's colour averages (TemporalSmoother._smooth): a model's wobble (2-5 units) is averaged, a
# change of the colour is followed. 15, 10 and 6 were run (scripts/bench_step.py, bench_temporal.py): 10 follows
# a still scene's steps as fast as the strength alone did, and keeps most of the fall in flicker (MODEL_CARD.md).
COUNT_TOLERANCE = 10.0
MEAN_SPAN = 4.0  # how many times the strength's own past frames the running mean may average (TemporalSmoother.most)
# ab pixels: L is smoothed by a 3x3 Gaussian of this sigma before the motion is found, so that film grain,
# dust and scratches are not taken for motion or for a mismatch (an audit: heavy grain, sigma 14 gray levels,
# lowered the warp's trust and ran the network on 69 frames of 72: flicker 1.47x the original's, now 1.10x;
# the three real clips' flicker fell too, their ab error within 0.1%; MODEL_CARD.md)
GRAIN_SIGMA = 0.8
# frames: a cut away from a shot and back within this many frames (a frame or two of another shot, a damaged
# frame) is an insert: the shot goes on after it, its colour carried on from the frame before the insert
# (and its keyframes: keyframes.ShotGuides), not restarted as a new shot's
MAX_INSERT = 2


@dataclass(frozen=True)
class TemporalOptions(Options):
    """``strength`` (0..1) is the least weight of the past at a fully reliable pixel (a pixel the motion has
    followed through n network frames, its colour holding, keeps n / (n + 1) of it, their running mean, up to
    TemporalSmoother.most; 0: no smoothing at all); ``cut_threshold`` is the
    ratio of a frame's motion-compensated L change to the shot's median change that counts as a cut."""

    mode: str = option("flow", "Smooth colour over time to stop flicker: motion-compensated (flow), plain "
                       "average (ema).", flag="--temporal", choices=TEMPORAL_MODES)
    # 0.8 chosen as a fixed weight with the shipped model (-63..-67% flicker, ab error not worse; MODEL_CARD.md);
    # the running mean (MEAN_SPAN) builds on it
    strength: float = option(0.8, "How much of the previous frames' colour is kept where the motion is reliable; "
                             "where it has been for long and the colour holds, more (a running mean of up to 4 "
                             "times as many past frames, at most 0.95: 0.8 -> 0.94). 0 = none.",
                             flag="--temporal-strength", at_least=0.0, at_most=1.0)
    cut_threshold: float = option(DEFAULT_CUT_THRESHOLD, "Scene-cut sensitivity; smoothing restarts at each cut, "
                                  "not after an insert of 1-2 frames (lower finds more cuts).", above=1.0)
    # 4: the largest of 1, 2, 3, 4, 6 within +1% ab error of every frame on a tuning clip (Big Buck Bunny);
    # the motion limits below usually run it sooner (scripts/bench_temporal.py, MODEL_CARD.md)
    network_every: int = option(4, "Run the network at least once every N frames; in between, while little moves, "
                                "the colour is carried from the last network frame by the motion (1: every "
                                "frame). The first frame of each shot always runs it. A held frame (the picture "
                                "before it again, as in films transferred with repeated frames) is not "
                                "counted.", at_least=1)


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
class Motion:
    """One frame's motion analysis (MotionAnalyzer), handed on to TemporalSmoother.blend.

    "The previous frame" below is frame ``after``: the one before, or, on the first frame after an insert
    (``cut`` and ``follows`` both: its shot goes on), the last frame before the insert.
    """

    index: int  # 0-based, counted over the analyser's calls
    l: np.ndarray  # (h, w) L units at the ab resolution
    l_u8: np.ndarray  # the same, as uint8 for the optical flow
    cut: bool = False  # the first frame after a cut (never the film's first frame)
    # (h, w, 2) frame t -> t-1 (the frame ``after``), and the three fields after it: None on the first frame of
    # a shot (after a cut, not an insert's end)
    flow_back: np.ndarray | None = None
    map_x: np.ndarray | None = None
    map_y: np.ndarray | None = None
    l_prev_warped: np.ndarray | None = None  # L of frame t-1 warped into frame t
    after: int = -1  # the frame this one follows: index - 1, or after an insert the frame before it
    change: float = 0.0  # motion-compensated L change from frame t-1 (scenecut.change_score)
    shift: float = 0.0  # motion from frame t-1 of the frame's fastest 1%, ab pixels
    miss: float = 0.0  # the most |L_t - warp(L_{t-1})| of any small patch (MISS_SIGMA), L units
    patch: bool = False  # NetworkSchedule ran the network for what the motion missed: the rest stays carried
    held: bool = False  # the frame before's picture shown again (MotionAnalyzer, HELD_L): not counted by the schedule

    @property
    def follows(self) -> bool:
        """Whether the previous frame is in the same shot, so its colour may be carried here."""
        return self.flow_back is not None


class MotionAnalyzer:
    """Call once per frame, in order: L (h, w) at the ab resolution -> Motion. Finds the scene cuts.

    ``cuts`` lists the 0-based indices of frames that follow a cut; ``resumed`` maps those of them that end
    an insert (MAX_INSERT) to the last frame before it, whose shot they continue.
    """

    cuts: list[int]
    resumed: dict[int, int]

    def __init__(self, cut_threshold: float = DEFAULT_CUT_THRESHOLD):
        self.cuts = []
        self.resumed = {}
        self._motion = MotionEstimator()
        self._detector = SceneCutDetector(cut_threshold)
        self._prev: Motion | None = None
        # the last frame before each cut of the last MAX_INSERT + 1 frames, the newest last: an insert may end
        # there (two damaged frames in a row, or a frame each of two other shots, are two cuts: the first
        # frame's became the one to come back to, and the shot was not resumed; a review)
        self._before_cuts: deque[Motion] = deque(maxlen=MAX_INSERT + 1)
        self._frames = 0
        # the miss of the last frame that showed a new picture: 0 on a shot's first frame (its change unknown, so
        # the frame after it is never held: when in doubt, the schedule counts a frame)
        self._picture_miss = 0.0
        self._held = 0  # held frames in a row just before

    def reset(self) -> None:
        """Forget the previous frame (as at a cut); the frame count and ``cuts`` go on."""
        self._prev = None
        self._before_cuts.clear()
        self._detector.reset()
        self._picture_miss, self._held = 0.0, 0

    def _follow(self, motion: Motion, prev: Motion) -> float:
        """Sets motion's flow from ``prev`` and what follows from it; returns the cut score between them."""
        flow_back = self._motion.flow(motion.l_u8, prev.l_u8)
        map_x, map_y = self._motion.coords(flow_back)
        l_prev_warped = self._motion.warp(prev.l, map_x, map_y)
        motion.flow_back, motion.map_x, motion.map_y, motion.l_prev_warped = flow_back, map_x, map_y, l_prev_warped
        motion.after = prev.index
        motion.change = change_score(motion.l, l_prev_warped)
        return cut_score(motion.l, l_prev_warped)

    @staticmethod
    def _unfollow(motion: Motion) -> None:
        motion.flow_back = motion.map_x = motion.map_y = motion.l_prev_warped = None
        motion.after, motion.change = -1, 0.0

    def __call__(self, l_small: np.ndarray) -> Motion:
        l_cur = cv2.GaussianBlur(np.ascontiguousarray(l_small, dtype=np.float32), (3, 3), GRAIN_SIGMA)
        motion = Motion(self._frames, l_cur, l_to_u8(l_cur))
        self._frames += 1
        prev, self._prev = self._prev, motion
        if prev is None or prev.l.shape != l_cur.shape:
            self._picture_miss, self._held = 0.0, 0
            return motion
        if self._detector.update(self._follow(motion, prev), prev.l, l_cur):
            self.cuts.append(motion.index)
            motion.cut = True
            self._unfollow(motion)
            if not self._resume(motion):
                self._before_cuts.append(prev)
                self._picture_miss, self._held = 0.0, 0
                return motion
        flow_back = motion.flow_back
        motion.miss = float(cv2.GaussianBlur(np.abs(l_cur - motion.l_prev_warped), (0, 0), MISS_SIGMA).max())
        motion.shift = float(np.percentile(np.sqrt(np.einsum("hwc,hwc->hw", flow_back, flow_back)), 99))
        motion.held = (not motion.cut and motion.miss < HELD_L and motion.shift < HELD_SHIFT
                       and motion.miss < HELD_SHARE * self._picture_miss and self._held < MAX_HELD)
        if motion.held:
            self._held += 1
        else:
            self._picture_miss, self._held = motion.miss, 0
        return motion

    def _resume(self, motion: Motion) -> bool:
        """Whether the frame after a cut is a shot before a cut of the last MAX_INSERT + 1 frames come back (the
        latest such shot that matches); if so it follows that shot's last frame."""
        for before in reversed(self._before_cuts):
            if motion.index - before.index > MAX_INSERT + 1 or before.l.shape != motion.l.shape:
                continue
            if self._detector.judge(self._follow(motion, before), before.l, motion.l):
                self._unfollow(motion)
                continue
            self.resumed[motion.index] = before.index
            self._before_cuts.clear()
            return True
        return False


# Frames whose colour is carried from the last network frame instead of predicted (--network-every): only
# while what changed since that frame is small, so the carried colour stays where it belongs.
CARRY_MAX_CHANGE = 3.0  # L units of motion-compensated change, summed since the last network frame
# ab pixels of motion (~5% of the frame's height) of the frame's fastest 1%, summed since the last network
# frame (an audit: its mean let a car crossing a still street, small beside the frame, leave a trail of its
# colour up to 76 ab deep on the carried frames)
CARRY_MAX_SHIFT = 3.0
# L units of the worst small patch's motion-compensated change (a Gaussian of MISS_SIGMA ab pixels), summed
# since the last network frame that saw it: a small object the flow does not follow at all (6 x 10 ab pixels
# crossing a still street at 1.5-6 ab pixels a frame: the flow of its fastest 1% read 0.1-0.4) moves the
# frame's mean change and motion by nothing, and its colour was left behind it on the carried frames
# (scripts/bench_trails.py, MODEL_CARD.md). Such a frame is a patch: the network's colour goes where the
# warp is unreliable, the rest stays carried, so that the still background's colour does not take each new
# prediction's wobble (run as full frames, a static CCTV camera's flicker went from 1.14x to 1.22x the
# original's). 24 is 3 x L_TOLERANCE; 16, 32 and 48 were run too.
CARRY_MAX_MISS = 24.0
MISS_SIGMA = 1.0
# A held frame shows the picture of the frame before it again: a film transferred at a higher rate than it was
# shot repeats frames (the silent film of ../shared/data/videos, 16.7 pictures a second at 25 fps, repeats
# every third frame: 76 of 241), as do CCTV recorders and animation on twos. It does not count toward
# --network-every (the network ran on held frames, and their colour moved while their picture did not). Held:
# its worst small patch (``miss``) changed by less than HELD_L, its fastest 1% moved less than HELD_SHIFT,
# and by less than HELD_SHARE of the last new picture's change, at most MAX_HELD frames in a row. The film's
# repeats measure 0.2-0.8 L units, 0.06 ab pixels, at most 0.14 of the picture before; its other frames 1.6
# L units and more. A review: without the share and the limit in a row, a slow pan or a small object moving
# slowly over a clean picture (0.2-0.6 L units a frame) was a run of held frames, and the network stopped.
HELD_L = 1.0
HELD_SHIFT = 0.1
HELD_SHARE = 0.25
MAX_HELD = 2  # a picture shown three times at most (24 to 60 fps: 2 and 3)


class NetworkSchedule:
    """Decides, frame by frame in order, whether the network must run or the colour can be carried.

    The network runs on the first frame of each shot and after an insert, at least every ``every`` frames, and
    as soon as the motion or the motion-compensated change summed since its last run passes CARRY_MAX_SHIFT or
    CARRY_MAX_CHANGE; held frames (``motion.held``) are not counted. ``every`` = 1 runs it on every frame. In
    between, it runs for a patch (``motion.patch``) once the worst patch's change summed since passes
    CARRY_MAX_MISS.
    """

    def __init__(self, every: int = 1):
        self.every = max(1, every)
        self._since = 0
        self._change = 0.0
        self._shift = 0.0
        self._miss = 0.0

    def __call__(self, motion: Motion, must: bool = False) -> bool:
        """Whether the network runs on this frame (``must``: it does, as a full frame)."""
        self._since += not (motion.held and self.every > 1)  # a held frame does not count (1: every frame runs)
        self._change += motion.change
        self._shift += motion.shift
        self._miss += motion.miss
        if (must or not motion.follows or motion.cut or self._since >= self.every or self._change > CARRY_MAX_CHANGE
                or self._shift > CARRY_MAX_SHIFT):
            self._since, self._change, self._shift, self._miss = 0, 0.0, 0.0, 0.0
            return True
        if self._miss > CARRY_MAX_MISS:
            self._miss = 0.0
            motion.patch = True
            return True
        return False


class TemporalSmoother:
    """Blends each frame's predicted ab with the previous frame's smoothed ab, warped by the motion.

    Use ``blend(motion, ab)`` with a MotionAnalyzer's output (ab None: no prediction for this frame, its
    colour is the previous frame's carried by the motion), or call it with (L (h, w), ab (h, w, 2)) to do
    both. ``cuts`` are the analyser's: the state is reset there, so no colour leaks across a cut; after an
    insert (``analyzer.resumed``) the colour goes on from the frame before it.
    """

    def __init__(self, options: TemporalOptions | None = None):
        self.options = options or TemporalOptions()
        self.blend_weight = min(self.options.strength, MAX_BLEND)
        # the most of the past a pixel followed for long keeps: its running mean may average MEAN_SPAN times
        # as many past frames as the strength's own weight does (s / (1 - s)), at most MAX_BLEND: 0.8 ->
        # 0.94, 0.5 -> 0.8, 0.05 -> 0.17, 0 -> 0 (a review: every strength above 0 reached 0.75 at least)
        self.most = min(MAX_BLEND, 1.0 - 1.0 / (1.0 + MEAN_SPAN * self.blend_weight / (1.0 - self.blend_weight)))
        self.analyzer = MotionAnalyzer(self.options.cut_threshold)
        self._estimator = MotionEstimator()  # its own: blend may run on another thread than the analyser
        # the last frames and their smoothed ab: the previous one, and the one before an insert
        # (with, in flow mode, how many network frames each pixel's colour stands for: TemporalSmoother._smooth)
        self._recent: deque[tuple[Motion, np.ndarray, np.ndarray | None]] = deque(maxlen=MAX_INSERT + 2)

    @property
    def cuts(self) -> list[int]:
        return self.analyzer.cuts

    def reset(self) -> None:
        """Forget the previous frame (as at a cut); the frame count and ``cuts`` go on."""
        self.analyzer.reset()
        self._recent.clear()

    def __call__(self, l_small: np.ndarray, ab_small: np.ndarray) -> np.ndarray:
        if l_small.shape != ab_small.shape[:2] or ab_small.ndim != 3 or ab_small.shape[2] != 2:
            raise ValueError(f"expected L (h, w) and ab (h, w, 2), got {l_small.shape} and {ab_small.shape}")
        return self.blend(self.analyzer(l_small), ab_small)

    def blend(self, motion: Motion, ab_small: np.ndarray | None) -> np.ndarray:
        prev = next((r for r in self._recent if r[0].index == motion.after), None) if motion.follows else None
        if ab_small is None:
            if prev is None:
                raise ValueError(f"frame {motion.index}: no prediction and no previous frame to carry colour from")
            out = self._warp(prev[1], motion)  # carried: the previous frame's colour, moved with the picture
            seen = None if prev[2] is None else self._warp(prev[2], motion)
        else:
            ab_cur = np.ascontiguousarray(ab_small, dtype=np.float32)
            if prev is None:
                out, seen = ab_cur, np.ones(ab_cur.shape[:2], np.float32)
            else:
                out, seen = self._smooth(motion, prev[0], prev[1], prev[2], ab_cur)
        self._recent.append((motion, out, seen))
        return out

    @staticmethod
    def _warp(ab: np.ndarray, motion: Motion) -> np.ndarray:
        return MotionEstimator.warp(ab, motion.map_x, motion.map_y)

    def _smooth(self, motion: Motion, prev: Motion, prev_ab: np.ndarray, prev_seen: np.ndarray | None,
                ab_cur: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(smoothed ab, how many network frames each pixel's colour stands for: None unless in flow mode)."""
        if self.options.mode == "ema" and self.blend_weight > 0:  # (a patch frame is blended as a full one)
            return ab_cur + self.blend_weight * (prev_ab - ab_cur), None
        if self.options.mode != "flow" or self.blend_weight <= 0:
            return ab_cur, None
        flow_fwd = self._estimator.flow(prev.l_u8, motion.l_u8)  # frame t-1 -> t
        trust = warp_reliability(motion.flow_back, flow_fwd, motion.map_x, motion.map_y, motion.l,
                                 motion.l_prev_warped)
        ab_prev_warped = self._warp(prev_ab, motion)
        # A warped colour far from the new prediction is more likely a half-pixel slip across an
        # object's edge than flicker: trust it less, so edges leave no one-pixel trail.
        gap = ab_prev_warped - ab_cur
        gap2 = np.einsum("hwc,hwc->hw", gap, gap)
        trust *= np.exp(gap2 * (-1.0 / AB_TOLERANCE**2))
        # A pixel followed through n network frames takes their running mean (n / (n + 1) of the past), from
        # the strength up to self.most: a still background stops taking a fifth of each prediction's wobble
        # (MODEL_CARD.md). The count is forgotten where the warp is unreliable and as the new prediction
        # departs from the carried colour (COUNT_TOLERANCE): noise is averaged, a change is followed about as
        # fast as with the strength alone (a review: the count alone took 128 frames to follow a 10 ab change
        # of a still scene's colour, where the strength took 36).
        seen = np.ones_like(trust) if prev_seen is None else self._warp(prev_seen, motion)
        if motion.patch:  # carried wherever the warp is reliable; the new colour counts where it is not
            return ab_cur + trust[..., None] * (ab_prev_warped - ab_cur), trust * seen + (1.0 - trust)
        weight = np.clip(seen / (seen + 1.0), self.blend_weight, self.most)
        kept = trust * np.exp(gap2 * (-1.0 / COUNT_TOLERANCE**2))
        return (ab_cur + (weight * trust)[..., None] * (ab_prev_warped - ab_cur),
                np.minimum(kept * seen + 1.0, self.most / (1.0 - self.most)))
