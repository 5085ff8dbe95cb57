"""Dissolves: one shot mixed into the next over several frames, found in the shots' pre-pass.

A dissolve is no cut to the frame-by-frame detector (each frame changes a little from the one before), so
the keyframe of one shot reached through it into the next: 1.0-1.8 dB below automatic colour there
(MODEL_CARD.md). In a dissolve from frame s to frame e each frame between is a mix of the two ends,
F_t = F_s + a_t (F_e - F_s), a_t rising evenly from 0 to 1, and the two ends show different things: what
the cut detector calls a cut between them, after the motion. Frames of one shot N apart are rarely such a
mix, and when they are (a slow change of light, a fade), their ends are no cut. Each frame is tried as the
end of a dissolve of each of LENGTHS frames; the windows found overlap, and each run of them is one dissolve,
cut at its middle.

Checked on the five real clips of ../shared/data/videos (about 930 frames, every window: none found) and on
dissolves of 8-40 frames made between their shots (32 of 32 found; tests/test_dissolve.py). Only films with
keyframes or references take the pre-pass: automatic colour follows a dissolve by the motion (its colour
lags by about 1 ab unit over 8 frames).
"""

from __future__ import annotations

from collections import deque

import numpy as np

from filmcolor.video.scenecut import is_black
from filmcolor.video.temporal import Motion, MotionAnalyzer

LENGTHS = (8, 12, 16, 24, 32, 48)  # frames a dissolve may span (a third of a second to two at 24 fps)
# the part of the ends' difference the mix leaves unexplained in the frames between (mean |F_t - mix| over mean
# |F_e - F_s|): the made dissolves leave 0.07-0.35 (motion in both shots), windows of real shots as low as 0.19
# (so this alone tells nothing: the cut between the ends does)
MIX_RESIDUAL = 0.35
MIX_EVENNESS = 0.2  # the most a_t may stray from an even ramp (a hard cut inside is a step: 0.6 and more)
# the most contrast (standard deviation of L) the middle frame may have, as a share of the ends' (interpolated):
# the made dissolves' windows reach 0.60-0.87, made fades (to and from black and white, dim to bright, 24
# frames, on the real clips' shots) 0.89 and more: 0.8 leaves a margin on the fades' side, where a mistake
# would cut a shot in two; it misses 5 of the 24 made dissolves (the ones whose shots look alike)
MIX_CONTRAST = 0.8


def cut_of(dissolve: tuple[int, int]) -> int:
    """The first frame of the shot after a dissolve (first, last): its middle."""
    return (dissolve[0] + dissolve[1] + 1) // 2


class DissolveFinder:
    """Feed the analyser's Motion of each frame, in order; ``dissolves`` lists (first, last) frame of each
    found (the two ends, both of which are mixes or the shots' own frames), ``cuts`` the frame each is cut at."""

    def __init__(self, analyzer: MotionAnalyzer):
        self.analyzer = analyzer
        self.dissolves: list[tuple[int, int]] = []
        # (frame, its L, the L's standard deviation)
        self._window: deque[tuple[int, np.ndarray, float]] = deque(maxlen=max(LENGTHS) + 1)

    @property
    def cuts(self) -> list[int]:
        return [cut_of(dissolve) for dissolve in self.dissolves]

    def __call__(self, motion: Motion) -> None:
        if not motion.follows:  # a cut (not an insert's end): no dissolve spans it
            self._window.clear()
        self._window.append((motion.index, motion.l, float(motion.l.std())))
        found = [n for n in LENGTHS if n < len(self._window) and self._mix(n)]
        if not found:
            return
        first = motion.index - max(found)
        if self.dissolves and first <= self.dissolves[-1][1]:  # the same dissolve, seen in another window
            self.dissolves[-1] = (min(first, self.dissolves[-1][0]), motion.index)
        else:
            self.dissolves.append((first, motion.index))

    def _mix(self, n: int) -> bool:
        """Whether the last n + 1 frames are a dissolve of their two ends (the cheap tests first: most windows
        of a film fail on their middle frame alone)."""
        window = list(self._window)[-(n + 1):]
        (first, start, start_std), (last, end, end_std) = window[0], window[-1]
        if last - first != n or is_black(start) or is_black(end):
            return False  # (from or to black is a fade: scenecut's black frames start a shot)
        span = (end - start).ravel()
        size = float(span @ span)
        if size < 1e-6:
            return False
        k = n // 2
        share_k = float((window[k][1] - start).ravel() @ span) / size  # a_t of the middle frame
        # two different pictures mixed half and half have less contrast than either (0.71 of it, for pictures
        # of equal contrast that have nothing in common); a fade to or from black or white, or a change of light,
        # is one picture's contrast scaled: on the line between the ends'
        if abs(share_k - k / n) > MIX_EVENNESS or window[k][2] >= MIX_CONTRAST * (
                (1.0 - share_k) * start_std + share_k * end_std):
            return False
        middle = np.stack([l_hw.ravel() for _, l_hw, _ in window[1:-1]]) - start.ravel()
        share = middle @ span / size  # a_t
        if np.abs(share - np.arange(1, n) / n).max() > MIX_EVENNESS:
            return False
        residual = np.abs(middle - share[:, None] * span[None]).mean() / (np.abs(span).mean() + 1e-6)
        return bool(residual < MIX_RESIDUAL) and self.analyzer.cut_between(start, end)
