"""Scene-cut detection from L alone, adaptive to the shot's own motion level.

The change score of a frame is its motion-compensated L difference: mean |L_t - warp(L_{t-1})| in L units,
the previous frame warped by optical flow (see temporal.MotionEstimator). Within a shot the flow explains
the motion, so even a handheld dance or a fast pan scores 1-5 L units; across a hard cut nothing matches
and the score jumps to 20-30. A frame is a cut when its score exceeds ``threshold`` times the shot's
typical score (median of the last ``window`` frames, never below ``floor``).
"""

from __future__ import annotations

from collections import deque

import numpy as np

from filmcolor.errors import ConfigError

DEFAULT_CUT_THRESHOLD = 4.0  # cut when the score > 4x the shot's median score
DEFAULT_FLOOR = 2.0  # L units; a static shot's median (~0.3) is raised to this, so no cut below 8 L units
DEFAULT_WINDOW = 24  # frames of history that define "the shot's motion level"


def change_score(l_cur: np.ndarray, l_prev_warped: np.ndarray) -> float:
    """Mean |L_t - warp(L_{t-1})| in L units."""
    return float(np.abs(l_cur - l_prev_warped).mean())


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

    def level(self) -> float:
        """The shot's typical change score (L units), at least ``floor``."""
        if not self._history:
            return self.floor
        return max(self.floor, float(np.median(np.fromiter(self._history, dtype=np.float64))))

    def update(self, score: float) -> bool:
        is_cut = score > self.threshold * self.level()
        if not is_cut:
            self._history.append(score)
        return is_cut

    def reset(self) -> None:
        self._history.clear()
