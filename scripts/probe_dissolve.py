"""Probe: can a dissolve be told from a change of light? Prints, per kind of clip, how many clips a dissolve test
flags, without and with a smooth-gain test; nothing in filmcolor uses it (MODEL_CARD.md, "Finding dissolves").

    python scripts/probe_dissolve.py [--detail 0.5]

The dissolve test is the one withdrawn at stop 42 (a window of 8-48 frames whose frames between are an even
mix of its ends, the ends a cut apart after the motion, the middle frame's contrast below 0.8 of the ends').
A review found it fooled by half the frame lighting up, a light crossing the frame, large occluders and a
title over a dimming picture. The gain test added here: a change of light multiplies the picture by a smooth
gain, so the log-ratio of the two ends (after the motion) has little detail of its own; a mix of two
different pictures leaves both pictures' detail in it. "detail" = mean |R - blur(R)| of that log-ratio R,
over the same of the end frame's own log-L. A third test, a change of light keeps the picture's structure: the
ends' local correlation (after the motion; Gaussian windows of sigma 1.5 ab pixels, where both ends have a local
contrast over 1.5 L units, weighted by it) is printed beside. Clips are made from the real shots of
../shared/data/videos.
"""

from __future__ import annotations

import argparse
from collections import deque
from pathlib import Path

import _checkout  # noqa: F401  (this checkout's filmcolor)
import av
import cv2
import numpy as np
from bench_two_keyframes import dissolve

from filmcolor.lab import gray_to_l
from filmcolor.video.scenecut import cut_score, is_black
from filmcolor.video.temporal import MotionAnalyzer, MotionEstimator, l_to_u8

VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos"
AB_SIZE = (96, 56)
LENGTHS = (8, 12, 16, 24, 32, 48)


def grays(name: str, first: int = 0, count: int = 60) -> list[np.ndarray]:
    with av.open(str(VIDEOS / name)) as container:
        frames = [f.to_ndarray(format="gray") for f in container.decode(video=0)]
    return [cv2.resize(g, (854, 480), interpolation=cv2.INTER_AREA).astype(np.float32)
            for g in frames[first:first + count]]


def log_detail(image: np.ndarray) -> float:
    return float(np.abs(image - cv2.GaussianBlur(image, (0, 0), 2.0)).mean())


def local_correlation(a: np.ndarray, b: np.ndarray, sigma: float = 1.5, floor: float = 1.5) -> float:
    """The mean local correlation of two pictures, where both have local contrast (nan where too few do)."""
    def blur(x: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(x, (0, 0), sigma)
    mean_a, mean_b = blur(a), blur(b)
    std_a = np.sqrt(np.maximum(blur(a * a) - mean_a**2, 0))
    std_b = np.sqrt(np.maximum(blur(b * b) - mean_b**2, 0))
    weight = np.minimum(std_a, std_b)
    mask = weight > floor
    if mask.mean() < 0.05:
        return float("nan")
    r = (blur(a * b) - mean_a * mean_b) / (std_a * std_b + 1e-6)
    return float((r * weight)[mask].sum() / weight[mask].sum())


def window_details(frames: list[np.ndarray]) -> list[tuple[float, float]]:
    """The gain test's detail ratio and the ends' local correlation of each window of the clip that passes the
    dissolve test, in order (the clip is a dissolve to both tests when one reaches the threshold)."""
    details: list[tuple[float, float]] = []
    analyzer, flow = MotionAnalyzer(), MotionEstimator()
    window: deque[tuple[np.ndarray, float]] = deque(maxlen=max(LENGTHS) + 1)
    changes: list[float] = []
    for frame in frames:
        l_ab = cv2.resize(gray_to_l(np.clip(frame, 0, 255).astype(np.uint8)), AB_SIZE, interpolation=cv2.INTER_AREA)
        motion = analyzer(l_ab)
        if not motion.follows:
            window.clear()
        else:
            changes.append(motion.change)
        window.append((motion.l, float(motion.l.std())))
        for n in LENGTHS:
            if n >= len(window):
                continue
            frames_n = list(window)[-(n + 1):]
            (start, s_std), (end, e_std) = frames_n[0], frames_n[-1]
            if is_black(start) or is_black(end):
                continue
            span = (end - start).ravel()
            size = float(span @ span)
            if size < 1e-6:
                continue
            middle = np.stack([m.ravel() for m, _ in frames_n[1:-1]]) - start.ravel()
            share = middle @ span / size
            if np.abs(share - np.arange(1, n) / n).max() > 0.2:
                continue
            k = n // 2
            if frames_n[k][1] >= 0.8 * ((1 - share[k - 1]) * s_std + share[k - 1] * e_std):
                continue
            if np.abs(middle - share[:, None] * span[None]).mean() / (np.abs(span).mean() + 1e-6) >= 0.35:
                continue
            back = flow.flow(l_to_u8(end), l_to_u8(start))
            warped = flow.warp(start, *flow.coords(back))
            level = max(2.0, float(np.median(changes[-24:])) if changes else 2.0)
            if cut_score(end, warped) <= 4.0 * level:
                continue
            ratio = np.log(end + 5.0) - np.log(warped + 5.0)  # (a smooth gain, a change of light: little detail)
            details.append((log_detail(ratio) / log_detail(np.log(end + 5.0)), local_correlation(end, warped)))
    return details


def ramp(count: int, start: int, n: int) -> np.ndarray:
    return np.clip((np.arange(count) - start) / n, 0, 1)


def kinds(shots: dict[str, list[np.ndarray]]) -> dict[str, list[list[np.ndarray]]]:
    names = list(shots)
    out: dict[str, list[list[np.ndarray]]] = {"dissolve": [], "fade": [], "half the frame lights up": [],
                                              "a light crosses the frame": [], "dark occluder crosses": [],
                                              "title over a dimming picture": []}
    top = np.zeros((480, 854), np.float32)
    top[:240] = 1
    left = np.zeros((480, 854), np.float32)
    left[:, :427] = 1
    title = np.zeros((480, 854), np.float32)
    for y in range(150, 330, 40):
        for x in range(120, 730, 50):
            title[y:y + 22, x:x + 30] = 1  # blocks of "text"
    for i, name in enumerate(names):
        shot = shots[name]
        for n in (8, 16, 24, 40):
            out["dissolve"].append(dissolve(shot, shots[names[(i + 1) % len(names)]], n))
        r = ramp(len(shot), 20, 24)
        out["fade"] += [[g * a for g, a in zip(shot, r, strict=True)],
                        [g * (1 - a) for g, a in zip(shot, r, strict=True)]]
        out["half the frame lights up"].append([g * (1 - top + top * (0.25 + 0.75 * a))
                                                for g, a in zip(shot, r, strict=True)])
        out["a light crosses the frame"].append([g * (left * (1 - 0.75 * a) + (1 - left) * (0.25 + 0.75 * a))
                                                 for g, a in zip(shot, r, strict=True)])
        band = []
        for t, g in enumerate(shot):
            x = int(-1100 + 2000 * t / (len(shot) - 1))
            frame = g.copy()
            frame[:, max(0, x):max(0, min(854, x + 1000))] = 30.0
            band.append(frame)
        out["dark occluder crosses"].append(band)
        out["title over a dimming picture"].append([g * (1 - 0.6 * a) * (1 - title * a) + 235 * title * a
                                                    for g, a in zip(shot, r, strict=True)])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--detail", type=float, nargs="*", default=[0.3, 0.5, 0.7])
    args = parser.parse_args()
    shots = {"camel": grays("scene_cuts.mp4", 0), "car": grays("scene_cuts.mp4", 72),
             "horse": grays("scene_cuts.mp4", 144, 50), "dance": grays("davis_dance_twirl.mp4"),
             "cctv": grays("cctv_pedestrians.avi"), "film": grays("bw_film_excerpt.mp4")}
    print("| clips | count | dissolve test | " + " | ".join(f"+ gain test, detail >= {d}" for d in args.detail)
          + " | detail of the windows the dissolve test passed | the ends' local correlation there |")
    print("|---|---|---|" + "---|" * (len(args.detail) + 2))
    for kind, clips in kinds(shots).items():
        details = [window_details(clip) for clip in clips]
        firsts = [found[0] for found in details if found]  # each flagged clip's first window
        counts = [len(firsts)] + [sum(any(r >= d for r, _ in found) for found in details) for d in args.detail]
        spreads = []
        for column in (0, 1):
            values = [w[column] for w in firsts if w[column] == w[column]]  # (nan: too little contrast)
            spreads.append(f"{min(values):.2f}-{max(values):.2f}" if values else "-")
        print(f"| {kind} | {len(clips)} | " + " | ".join(str(c) for c in counts) + f" | {spreads[0]} | {spreads[1]} |",
              flush=True)


if __name__ == "__main__":
    main()
