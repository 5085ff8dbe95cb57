"""Temporal smoothing on a still scene: how many frames the output takes to follow a step change of the
network's predicted colour, and how much of a per-frame wobble it lets through, per --temporal-strength.

The scene is a still textured L (64 x 112 ab pixels, a 480p film's ab grid); the prediction is a flat colour
that jumps by STEP Lab units in a at frame 60, or (for the wobble) one with a per-frame random offset (std 1
Lab unit a channel). It runs the pipeline's temporal stage: motion analysis, the network schedule, the blend.

    .venv/bin/python scripts/bench_step.py [--strength 0.3 0.8 1.0] [--every 1 4]
"""

from __future__ import annotations

import argparse

import _checkout  # noqa: F401  (this checkout's filmcolor)
import cv2
import numpy as np

from filmcolor.video.temporal import NetworkSchedule, TemporalOptions, TemporalSmoother

H, W, BEFORE, AFTER = 64, 112, 60, 200


def still_l() -> np.ndarray:
    noise = cv2.GaussianBlur(np.random.default_rng(9).normal(0, 1, (H, W)).astype(np.float32), (0, 0), 2.0)
    return np.clip(50 + 18 * noise / noise.std(), 2, 98).astype(np.float32)


def outputs(preds: list[np.ndarray], strength: float, every: int) -> list[np.ndarray]:
    smoother, schedule, l_hw = TemporalSmoother(TemporalOptions(strength=strength)), NetworkSchedule(every), still_l()
    outs = []
    for pred in preds:
        motion = smoother.analyzer(l_hw)
        outs.append(smoother.blend(motion, pred if schedule(motion) else None))
    return outs


def frames_to_follow(step: float, strength: float, every: int) -> int | None:
    preds = [np.full((H, W, 2), 10.0, np.float32) for _ in range(BEFORE + AFTER)]
    for pred in preds[BEFORE:]:
        pred[..., 0] += step
    outs = outputs(preds, strength, every)
    return next((t - BEFORE for t in range(BEFORE, BEFORE + AFTER) if np.abs(outs[t] - preds[t]).mean() < 1.0), None)


def wobbling() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [np.full((H, W, 2), 10.0, np.float32) + rng.normal(0, 1.0, 2).astype(np.float32) for _ in range(96)]


def wobble(frames: list[np.ndarray]) -> float:
    """Mean |ab_t - ab_t-1| over the last 32 frames."""
    return float(np.mean([np.abs(b - a).mean() for a, b in zip(frames[-33:-1], frames[-32:], strict=True)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--strength", type=float, nargs="*", default=[0.3, 0.5, TemporalOptions().strength, 1.0])
    parser.add_argument("--every", type=int, nargs="*", default=[1, TemporalOptions().network_every])
    parser.add_argument("--steps", type=float, nargs="*", default=[10.0, 20.0, 40.0])
    args = parser.parse_args()
    cv2.setNumThreads(1)
    raw = wobble(wobbling())
    print(f"| strength | network every | wobble let through (ab, frame to frame; {raw:.2f} unsmoothed) | "
          + " | ".join(f"frames to follow a {s:g} ab step (within 1)" for s in args.steps) + " |")
    print("|---|---|---|" + "---|" * len(args.steps))
    for strength in args.strength:
        for every in args.every:
            follow = [frames_to_follow(s, strength, every) for s in args.steps]
            print(f"| {strength:g} | {every} | {wobble(outputs(wobbling(), strength, every)):.3f} | "
                  + " | ".join("-" if f is None else str(f) for f in follow) + " |")


if __name__ == "__main__":
    main()
