"""Keyframe benchmark: the colour clips made gray, coloured end to end by `filmcolor video` automatically and
with the colour original of each shot's first frame as --keyframe; PSNR of every frame against the original,
colourfulness and flicker against the original's, and speed, printed as a table.

    .venv/bin/python scripts/bench_keyframes.py [--model PATH] [--clips davis_dance_twirl.mp4 ...] [--work DIR]
        [--sheet OUT.jpg]   # per clip: the keyframe | a later frame gray | automatic | from the keyframe | original
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import av
import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _checkout  # noqa: F401  (this checkout's filmcolor)
from make_gray_clip import make_gray  # noqa: E402

from filmcolor import lab  # noqa: E402
from filmcolor.colorize import DEFAULT_VIDEO_RENDER_SIZE, Colorizer  # noqa: E402
from filmcolor.imageio import write_image  # noqa: E402
from filmcolor.metrics import FlickerMeter, colorfulness, psnr  # noqa: E402
from filmcolor.video.keyframes import Keyframe  # noqa: E402
from filmcolor.video.pipeline import VideoOptions, colorize_video  # noqa: E402

VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos"
# clip -> first frames of its shots (the clips' known cuts; see ../shared/data/README.md)
SHOTS = {"davis_dance_twirl.mp4": [0], "scene_cuts.mp4": [0, 72, 144], "cctv_pedestrians.avi": [0]}


def frames_rgb(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def score(original: list[np.ndarray], gray: list[np.ndarray], out: list[np.ndarray]) -> dict:
    if len(out) != len(original):
        raise SystemExit(f"output has {len(out)} frames, the original {len(original)}")
    meter = FlickerMeter()
    for rgb_out, rgb_true in zip(out, original, strict=True):
        lab_out, lab_true = lab.rgb_to_lab(rgb_out), lab.rgb_to_lab(rgb_true)
        meter.update(lab_out[..., 0], lab_out[..., 1:], lab_true[..., 1:])
    result = meter.result()
    return {"psnr": float(np.mean([psnr(t, o) for t, o in zip(original, out, strict=True)])),
            "gray_psnr": float(np.mean([psnr(t, g) for t, g in zip(original, gray, strict=True)])),
            "flicker": result.flicker, "ref_flicker": result.reference_flicker, "ratio": result.flicker_ratio,
            "colorfulness_ratio": float(np.mean([colorfulness(o) for o in out])
                                        / np.mean([colorfulness(t) for t in original]))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--clips", nargs="*", default=list(SHOTS))
    parser.add_argument("--render-size", type=int, default=DEFAULT_VIDEO_RENDER_SIZE)
    parser.add_argument("--work", type=Path, default=None, help="folder for the gray clips, keyframes, outputs")
    parser.add_argument("--sheet", type=Path, default=None, help="write a before/after sheet here")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="filmcolor-keyframes-"))
    work.mkdir(parents=True, exist_ok=True)
    colorizer = Colorizer.from_pretrained(args.model, render_size=args.render_size)
    print(f"model {colorizer.model_name}, runtime {colorizer.runtime}, render size {args.render_size}; "
          f"PSNR over every frame (8-bit RGB) against the colour original")
    # The first run of a process loads the graphs (and, with keyframes, torch): one warm-up run of each mode on
    # the first clip, timed apart, so that the fps below are the steady state a long film runs at.
    first = args.clips[0]
    make_gray(VIDEOS / first, work / "warmup_gray.mp4")
    write_image(work / "warmup_key.png", frames_rgb(VIDEOS / first)[0])
    warm = {mode: colorize_video(work / "warmup_gray.mp4", work / "warmup.mp4", colorizer,
                                 VideoOptions(keyframes=keys), overwrite=True).elapsed
            for mode, keys in (("automatic", ()), ("keyframes", (Keyframe(0, work / "warmup_key.png"),)))}
    print(f"warm-up on {first} (a process's first runs, not in the table): automatic {warm['automatic']:.2f} s, "
          f"then with a keyframe {warm['keyframes']:.2f} s\n")
    print("| clip | frames | shots | mode | PSNR | gray PSNR | gain | colourfulness ratio | flicker | original's "
          "| ratio | fps |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    for name in args.clips:
        src = VIDEOS / name
        gray_path = work / f"{Path(name).stem}_gray.mp4"
        make_gray(src, gray_path)
        original, gray = frames_rgb(src), frames_rgb(gray_path)
        keyframes = []
        for start in SHOTS[name]:
            key_path = work / f"{Path(name).stem}_key{start:04d}.png"
            write_image(key_path, original[start])
            keyframes.append(Keyframe(start, key_path))
        outputs = {}
        for mode, keys in (("automatic", ()), ("keyframe per shot", tuple(keyframes))):
            out_path = work / f"{Path(name).stem}_{'auto' if not keys else 'keys'}.mp4"
            report = colorize_video(gray_path, out_path, colorizer, VideoOptions(keyframes=keys), overwrite=True)
            outputs[mode] = frames_rgb(out_path)
            row = score(original, gray, outputs[mode])
            print(f"| {name} | {len(original)} | {len(SHOTS[name])} | {mode} | {row['psnr']:.2f} "
                  f"| {row['gray_psnr']:.2f} | {row['psnr'] - row['gray_psnr']:+.2f} | {row['colorfulness_ratio']:.2f} "
                  f"| {row['flicker']:.2f} "
                  f"| {row['ref_flicker']:.2f} | {row['ratio']:.2f} | {report.fps:.1f} |")
        start = SHOTS[name][-1]
        later = min(len(original) - 1, start + 40)  # 40 frames on from the last shot's keyframe
        cells = [original[start], gray[later], outputs["automatic"][later], outputs["keyframe per shot"][later],
                 original[later]]
        rows.append(np.concatenate([cv2.resize(c, (round(c.shape[1] * 180 / c.shape[0]), 180),
                                               interpolation=cv2.INTER_AREA) for c in cells], axis=1))
    if args.sheet is not None and rows:
        width = max(r.shape[1] for r in rows)
        write_image(args.sheet, np.concatenate(
            [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows], axis=0))
        print(f"\nsheet: {args.sheet} (per clip: keyframe | 40 frames later: gray | automatic | from the keyframe "
              "| original)")


if __name__ == "__main__":
    main()
