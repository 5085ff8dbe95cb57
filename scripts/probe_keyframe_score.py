"""Probe: could a keyframe be dropped where a frame no longer shows its content (the shot after a dissolve), by
how well the frame matches it as a whole? Prints each case's whole-frame match score (guide.match_score, the
test references pass at REFERENCE_MIN_SCORE) from the keyframe to every 4th frame; nothing in filmcolor uses it
(MODEL_CARD.md, "Finding dissolves").

    python scripts/probe_keyframe_score.py

Cases: single real shots keyed at their first and last frames (the same shot throughout), and 16-frame dissolves
between scene_cuts' shots keyed on one side (bench_two_keyframes.dissolve): after the dissolve the frames are of
another shot. A gate would need the first kind's lowest score above the second kind's highest.
"""

from __future__ import annotations

import _checkout  # noqa: F401  (this checkout's filmcolor)
import cv2
import numpy as np
from bench_keyframes import frames_rgb
from bench_two_keyframes import VIDEOS, dissolve

from filmcolor import guide
from filmcolor.colorize import DEFAULT_VIDEO_RENDER_SIZE, Colorizer
from filmcolor.video.keyframes import network_l


def scores(colorizer: Colorizer, frames: list[np.ndarray], key: int) -> np.ndarray:
    reference = colorizer.reference(frames[key])
    out = []
    for rgb in frames:
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        l_net = network_l(gray, colorizer.network_shape(*gray.shape))
        out.append(guide.match_score(colorizer.match_features(l_net.astype(np.float32)), reference))
    return np.array(out)


def main() -> None:
    colorizer = Colorizer.from_pretrained("default", render_size=DEFAULT_VIDEO_RENDER_SIZE)
    cuts = frames_rgb(VIDEOS / "scene_cuts.mp4")
    a, b, c = cuts[:72], cuts[72:144], cuts[144:]
    dance, cctv = frames_rgb(VIDEOS / "davis_dance_twirl.mp4"), frames_rgb(VIDEOS / "cctv_pedestrians.avi")
    same = {"dance": dance, "cctv": cctv, "scene_cuts shot 1": a, "scene_cuts shot 2": b, "scene_cuts shot 3": c}
    print("| case | key | the same shot's frames: lowest | another shot's frames (after the dissolve) | every 4th |")
    print("|---|---|---|---|---|")
    for name, frames in same.items():
        for key in (0, len(frames) - 1):
            s = scores(colorizer, frames, key)
            print(f"| {name} | {key} | {s.min():.3f} | - | {' '.join(f'{v:.2f}' for v in s[::4])} |", flush=True)
    for name, first, second in (("1 > 2", a, b), ("2 > 3", b, c), ("3 > 1", c, a)):
        mixed = dissolve(first, second)
        ends = len(first)  # the first frame wholly of the second shot
        s = scores(colorizer, mixed, 0)
        print(f"| dissolve {name} | 0 | {s[:ends - 16].min():.3f} | {s[ends:].min():.3f}-{s[ends:].max():.3f} | "
              f"{' '.join(f'{v:.2f}' for v in s[::4])} |", flush=True)


if __name__ == "__main__":
    main()
