"""Scene-cut detection from L alone, adaptive to the shot's own motion level.

The change score of a frame is its motion-compensated L difference: mean |L_t - warp(L_{t-1})| in L units,
the previous frame warped by optical flow (see temporal.MotionEstimator). Within a shot the flow explains
the motion, so even a handheld dance or a fast pan scores 1-5 L units; across a hard cut nothing matches
and the score jumps to 20-30. A frame is a cut when its score exceeds ``threshold`` times the shot's
typical score (median of the last ``window`` frames, never below ``floor``). A cut's score scales with the
frames' contrast, so the floor does too below a typical frame's (a cut in a night scene scored 6, under the
floor's 8). The first frame after a black one also starts a shot: a fade out to black and in again
changes too little from frame to frame to be seen as a cut, and a keyframe's colour crossed it (an audit).
(A dip to black of a frame or two between frames of one shot is an insert, after which the shot goes on:
temporal.MotionAnalyzer.)
"""

from __future__ import annotations

from collections import deque

import numpy as np

from filmcolor.errors import ConfigError

DEFAULT_CUT_THRESHOLD = 4.0  # cut when the score > 4x the shot's median score
DEFAULT_FLOOR = 2.0  # L units; a static shot's median (~0.3) is raised to this, so no cut below 8 L units
DEFAULT_WINDOW = 24  # frames of history that define "the shot's motion level"
# The standard deviation of L over a frame, in L units, at which the floor applies whole: the clips of
# ../shared/data/videos measure 16-25 (median of each); a night scene made of them 4-5, a fog less.
FLOOR_CONTRAST = 16.0
MIN_FLOOR_SHARE = 0.25  # the floor never falls below a quarter of itself (0.5 L units: a black frame's 0)
# L units: a frame with 99% of its pixels darker than this shows nothing (8-bit gray 8) and is black. At 8
# (gray 20), a dark scene's frames that crossed it flickering were cuts, one every other frame (a review)
BLACK_L = 3.0
# the most one frame's contrast is scaled to match the other's in cut_score: a flash frame's (RGB x0.35 + 165)
# is 3-4x flatter than its shot's; a frame from black, or one almost flat, stays as it is beyond that
MAX_CONTRAST_GAIN = 6.0


def change_score(l_cur: np.ndarray, l_prev_warped: np.ndarray) -> float:
    """Mean |L_t - warp(L_{t-1})| in L units."""
    return float(np.abs(l_cur - l_prev_warped).mean())


def cut_score(l_cur: np.ndarray, l_prev_warped: np.ndarray) -> float:
    """change_score less the change of the frame's mean and contrast: what a cut changes is what is where; a
    fade, an old print's exposure pumping, a photographer's flash or lightning changes the whole frame's
    lightness alike (an audit: a flash frame scored as two cuts, into it and out of it, and a keyframe's
    colour stopped there, the rest of its shot coloured as if it had none)."""
    prev_std, cur_std = float(l_prev_warped.std()), float(l_cur.std())
    if min(prev_std, cur_std) > 1e-3:  # the flatter frame brought to the other's contrast (the floor follows
        # the higher of the two: a cut into a washed-out shot scored at its low contrast was missed)
        gain = min(MAX_CONTRAST_GAIN, max(prev_std, cur_std) / min(prev_std, cur_std))
        diff = l_cur * gain - l_prev_warped if cur_std < prev_std else l_cur - l_prev_warped * gain
    else:
        diff = l_cur - l_prev_warped
    return float(np.abs(diff - diff.mean()).mean())


def is_black(l_hw: np.ndarray) -> bool:
    """Whether a frame's L (L units) is black: 99% of it below BLACK_L (a dust speck or a scratch allowed)."""
    flat = l_hw.reshape(-1)
    k = min(flat.size - 1, int(0.99 * flat.size))
    return bool(np.partition(flat, k)[k] < BLACK_L)


class SceneCutDetector:
    """Feed one change score per frame (from the second frame of a shot on); ``update`` says if it is a cut.

    ``threshold`` is the ratio of a frame's score to the shot's typical score that makes a cut (default 4;
    lower finds more cuts). Scores of frames found to be cuts never enter the history, and the history is kept
    across a cut so the next shot's first frames are judged against a sensible motion level.
    """

    def __init__(self, threshold: float = DEFAULT_CUT_THRESHOLD, floor: float = DEFAULT_FLOOR,
                 window: int = DEFAULT_WINDOW):
        if threshold <= 1.0:
            raise ConfigError(f"--cut-threshold {threshold}: must be above 1 (a ratio to the shot's level)")
        self.threshold = threshold
        self.floor = floor
        self._history: deque[float] = deque(maxlen=window)
        self._looked: tuple[np.ndarray, tuple[bool, float]] | None = None

    def level(self, contrast: float | None = None) -> float:
        """The shot's typical change score (L units), at least ``floor`` (scaled by ``contrast``, the frames'
        standard deviation of L, below FLOOR_CONTRAST)."""
        floor = self.floor
        if contrast is not None:
            floor *= min(1.0, max(MIN_FLOOR_SHARE, contrast / FLOOR_CONTRAST))
        if not self._history:
            return floor
        return max(floor, float(np.median(np.fromiter(self._history, dtype=np.float64))))

    def update(self, score: float, l_prev: np.ndarray | None = None, l_cur: np.ndarray | None = None) -> bool:
        """Whether the frame of change ``score`` starts a shot (``judge``); a frame that does not enters the
        shot's history."""
        is_cut = self.judge(score, l_prev, l_cur)
        if not is_cut:
            self._history.append(score)
        return is_cut

    def judge(self, score: float, l_prev: np.ndarray | None = None, l_cur: np.ndarray | None = None) -> bool:
        """Whether a change ``score`` between two frames is a cut, against the shot's history as it is; with
        the two frames' L (l_prev: the earlier frame, unwarped), the floor follows their contrast and the
        first frame after a black one is a cut."""
        contrast = None
        if l_prev is not None and l_cur is not None:
            (prev_black, prev_std), (black, std) = self._looks(l_prev), self._looks(l_cur)
            self._looked = (l_cur, (black, std))  # this frame is the next one's l_prev: looked at once
            if prev_black and not black:
                return True
            contrast = max(prev_std, std)
        return score > self.threshold * self.level(contrast)

    def _looks(self, l_hw: np.ndarray) -> tuple[bool, float]:
        """(is_black, standard deviation of L) of a frame, from the last call when it was that frame's."""
        if self._looked is not None and self._looked[0] is l_hw:
            return self._looked[1]
        return is_black(l_hw), float(l_hw.std())

    def reset(self) -> None:
        self._history.clear()
