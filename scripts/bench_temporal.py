"""Temporal smoothing benchmark: flicker, flicker ratio to the colour original, ab error and CPU cost per
frame for --temporal off / ema / flow, and the scene cuts found, on real colour clips made gray.

Without --model a per-frame colouriser is simulated: the original's ab at the network's ab resolution,
softened and desaturated (a consistent bias), plus per-frame noise with the structure of a per-frame model's
mistakes: a global colour cast that wanders, a low-frequency spatial field, and independent shifts of the
dark / mid / bright regions (a coat that turns brown, then blue). With --model PATH the real model predicts
ab for each frame (Colorizer.predict_ab) instead.

    .venv/bin/python scripts/bench_temporal.py [--model PATH] [--clips a.mp4 b.avi] [--strength 0.6]
"""

from __future__ import annotations

import argparse
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import _checkout  # noqa: F401  (this checkout's filmcolor)
import av
import cv2
import numpy as np

from filmcolor.colorize import DEFAULT_VIDEO_RENDER_SIZE, Colorizer, render_shape
from filmcolor.lab import rgb_to_lab
from filmcolor.metrics import FlickerMeter, analysis_shape
from filmcolor.video.temporal import TEMPORAL_MODES, NetworkSchedule, TemporalOptions, TemporalSmoother

VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos"
CLIPS = ("davis_dance_twirl.mp4", "scene_cuts.mp4", "cctv_pedestrians.avi")
AB_STRIDE = 4  # the network predicts ab at 1/4 of its render size
MOVING_L_CHANGE = 10.0  # L units between consecutive frames: a pixel where something moved


@dataclass
class Clip:
    name: str
    l_small: list[np.ndarray]  # (h, w) L units at the ab resolution, what the pipeline hands the smoother
    ab_pred: list[np.ndarray]  # (h, w, 2) the per-frame colouriser's ab
    l_eval: list[np.ndarray]  # (h, w) L at the metric's analysis size
    ab_true: list[np.ndarray]  # (h, w, 2) the original's ab at the analysis size


class SimulatedColorizer:
    """A stand-in per-frame colouriser: truth softened x0.8, plus realistic per-frame noise (Lab units)."""

    def __init__(self, seed: int, cast_std: float = 2.5, field_std: float = 4.0, region_std: float = 3.0):
        self.rng = np.random.default_rng(seed)
        self.cast_std, self.field_std, self.region_std = cast_std, field_std, region_std
        self.cast = np.zeros(2, np.float32)
        self.field: np.ndarray | None = None

    def __call__(self, l_small: np.ndarray, ab_true_small: np.ndarray) -> np.ndarray:
        h, w = l_small.shape
        base = 0.8 * cv2.GaussianBlur(ab_true_small, (0, 0), 1.0)
        self.cast = 0.5 * self.cast + self.rng.normal(0, self.cast_std * 0.87, 2).astype(np.float32)
        grid = self.rng.normal(0, self.field_std, (3, 5, 2)).astype(np.float32)
        self.field = grid if self.field is None else 0.3 * self.field + 0.95 * grid
        field = cv2.resize(self.field, (w, h), interpolation=cv2.INTER_CUBIC)
        bands = np.digitize(l_small, np.quantile(l_small, [0.25, 0.5, 0.75]))  # dark .. bright regions
        region = self.rng.normal(0, self.region_std, (4, 2)).astype(np.float32)[bands]
        return (base + self.cast + field + region).astype(np.float32)


def load_clip(path: Path, colorizer: Colorizer | None, render_size: int) -> Clip:
    clip = Clip(path.name, [], [], [], [])
    simulated = SimulatedColorizer(seed=zlib.crc32(path.name.encode()))
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            lab = rgb_to_lab(frame.to_ndarray(format="rgb24"))  # (H, W, 3)
            height, width = lab.shape[:2]
            if colorizer is not None:
                ab_pred = colorizer.predict_ab(np.ascontiguousarray(lab[None, ..., 0]))[0]
                h, w = ab_pred.shape[:2]
            else:
                rh, rw = render_shape(height, width, render_size, 32)
                h, w = rh // AB_STRIDE, rw // AB_STRIDE
            l_small = cv2.resize(lab[..., 0], (w, h), interpolation=cv2.INTER_AREA)
            if colorizer is None:
                ab_true_small = cv2.resize(lab[..., 1:], (w, h), interpolation=cv2.INTER_AREA)
                ab_pred = simulated(l_small, ab_true_small)
            eh, ew = analysis_shape(height, width)
            clip.l_small.append(l_small)
            clip.ab_pred.append(ab_pred)
            clip.l_eval.append(cv2.resize(lab[..., 0], (ew, eh), interpolation=cv2.INTER_AREA))
            clip.ab_true.append(cv2.resize(lab[..., 1:], (ew, eh), interpolation=cv2.INTER_AREA))
    return clip


def run_mode(clip: Clip, options: TemporalOptions) -> dict:
    """The pipeline's temporal stage on a clip: motion analysis, the network schedule, the blend."""
    smoother = TemporalSmoother(options)
    schedule = NetworkSchedule(options.network_every)
    meter = FlickerMeter()
    seconds = moving_error = 0.0
    moving_pixels = network_frames = 0
    l_before = clip.l_eval[0]
    for l_small, ab_pred, l_eval, ab_true in zip(clip.l_small, clip.ab_pred, clip.l_eval, clip.ab_true,
                                                 strict=True):
        start = time.perf_counter()
        motion = smoother.analyzer(l_small)
        run = schedule(motion)
        ab_out = smoother.blend(motion, ab_pred if run else None)
        seconds += time.perf_counter() - start
        network_frames += run
        meter.update(l_eval, ab_out, ab_true)
        # Where L changed a lot since the previous frame something moved: trails and smears show up here.
        moving = np.abs(l_eval - l_before) > MOVING_L_CHANGE
        ab_up = cv2.resize(ab_out, l_eval.shape[::-1], interpolation=cv2.INTER_LINEAR)
        moving_error += float(np.linalg.norm(ab_up - ab_true, axis=-1)[moving].sum())
        moving_pixels += int(moving.sum())
        l_before = l_eval
    result = meter.result()
    return {"mode": options.mode, "every": options.network_every, "network": network_frames / len(clip.l_small),
            "flicker": result.flicker, "ratio": result.flicker_ratio,
            "ab_error": result.ab_error,
            "moving_error": moving_error / max(moving_pixels, 1), "ms": 1000 * seconds / len(clip.l_small),
            "cuts": smoother.cuts,
            "ref_flicker": result.reference_flicker, "shape": clip.l_small[0].shape}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="weights to run instead of the simulated colouriser")
    parser.add_argument("--clips", nargs="*", type=Path, default=[VIDEOS / c for c in CLIPS])
    parser.add_argument("--modes", nargs="*", default=list(TEMPORAL_MODES), choices=TEMPORAL_MODES)
    parser.add_argument("--strength", type=float, nargs="*", default=[TemporalOptions().strength])
    parser.add_argument("--network-every", type=int, nargs="*", default=sorted({1, TemporalOptions().network_every}),
                        help="--network-every values to compare (rows of the smoothing modes)")
    parser.add_argument("--render-size", type=int, default=DEFAULT_VIDEO_RENDER_SIZE)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    colorizer = None
    if args.model:
        colorizer = Colorizer.from_pretrained(args.model, device=args.device, render_size=args.render_size)
    source = f"model {args.model}" if args.model else "simulated per-frame colouriser"
    cv2.setNumThreads(1)  # the smoother's cost on one thread, as said (OpenCV's flow and warps took all; an audit)
    print(f"ab from: {source}; metric at short side 128; smoother cost measured on one thread of this CPU")
    print("vs every frame: against the same mode and strength with the network on every frame\n")
    print("| clip | ab size | mode | strength | network every | network frames | flicker | ratio to original "
          "| ab error | flicker vs off | ab error vs off | ab error vs every frame | ab error, moving pixels "
          "| ms/frame | cuts |")
    print("|" + "---|" * 15)
    for path in args.clips:
        clip = load_clip(path, colorizer, args.render_size)
        configs = [TemporalOptions(mode="off", network_every=1)]  # the baseline: the network on every frame, raw
        configs += [TemporalOptions(mode=m, strength=s, network_every=k) for m in args.modes if m != "off"
                    for s in args.strength for k in args.network_every]
        rows = [run_mode(clip, options) for options in configs]
        off = rows[0]
        for row, options in zip(rows, configs, strict=True):
            every = next(r for r, o in zip(rows, configs, strict=True)
                         if o.mode == options.mode and o.strength == options.strength and o.network_every == 1)
            h, w = row["shape"]
            print(f"| {clip.name} | {h}x{w} | {row['mode']} | {options.strength if options.mode != 'off' else 0:.2f} "
                  f"| {row['every']} | {100 * row['network']:.0f}% | {row['flicker']:.2f} "
                  f"| {row['ratio']:.2f} | {row['ab_error']:.2f} "
                  f"| {100 * (row['flicker'] / off['flicker'] - 1):+.0f}% "
                  f"| {100 * (row['ab_error'] / off['ab_error'] - 1):+.1f}% "
                  f"| {100 * (row['ab_error'] / every['ab_error'] - 1):+.1f}% | {row['moving_error']:.2f} "
                  f"| {row['ms']:.2f} | {row['cuts']} |")
        print(f"| {clip.name} | | original | | | | {off['ref_flicker']:.2f} | 1.00 | 0 | | | | | | |")


if __name__ == "__main__":
    main()
