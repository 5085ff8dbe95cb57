"""Keyframes around dissolves (keyed on both sides, or on one side), and single shots keyed at both ends: PSNR
against the colour original, end to end through `filmcolor video`; prints a table.

    python scripts/bench_two_keyframes.py                      # this tree
    python scripts/bench_two_keyframes.py --against ../base41  # and another checkout, the same clips

Cases (from ../shared/data/videos): "tune" ones were used to choose guide.MATCH_PREFERENCE, "check" ones
were not. A dissolve is made the way editors make one, a linear mix of the last 16 frames of one shot with
the first 16 of the next (scene_cuts' three shots); the keyframes are the original frames named. "first
part": the frames before the dissolve (the first shot's own) or the first half of a single shot.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import _checkout  # noqa: F401  (this checkout's filmcolor)

if "--tree" in sys.argv:  # --against's child: the other checkout's filmcolor, before anything imports it
    sys.path.insert(0, str(Path(sys.argv[sys.argv.index("--tree") + 1]).resolve()))
import av  # noqa: E402
import numpy as np
from bench_keyframes import frames_rgb  # noqa: E402
from make_gray_clip import make_gray  # noqa: E402

VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos"
DISSOLVE = 16


def dissolve(first: list[np.ndarray], second: list[np.ndarray], frames: int = DISSOLVE) -> list[np.ndarray]:
    """The last ``frames`` of one shot mixed linearly with the next's first (as editors make a dissolve), in the
    shots' own dtype."""
    mixed = [np.clip((1 - a) * first[len(first) - frames + i].astype(np.float32) + a * second[i], 0, 255)
             .astype(first[0].dtype) for i, a in enumerate(np.arange(1, frames + 1) / (frames + 1))]
    return first[:-frames] + mixed + second[frames:]


def cases() -> list[tuple[str, str, list[np.ndarray], list[int], int]]:
    """(use, name, frames, keyframes, where the first part ends)."""
    cuts = frames_rgb(VIDEOS / "scene_cuts.mp4")
    a, b, c = cuts[:72], cuts[72:144], cuts[144:]
    dance, cctv = frames_rgb(VIDEOS / "davis_dance_twirl.mp4"), frames_rgb(VIDEOS / "cctv_pedestrians.avi")
    return [("tune", "dissolve shot 1 > 2, keys 0, 72", dissolve(a, b), [0, 72], 56),
            ("tune", "dance, keys 0, 89", dance, [0, 89], 45),
            ("check", "dissolve shot 2 > 3, keys 0, 72", dissolve(b, c), [0, 72], 56),
            ("check", "dissolve shot 3 > 1, keys 0, 50", dissolve(c, a), [0, 50], 34),
            ("check", "dissolve shot 1 > 2, a key on shot 1 only (0)", dissolve(a, b), [0], 56),
            ("check", "dissolve shot 1 > 2, a key on shot 2 only (72)", dissolve(a, b), [72], 56),
            ("check", "dissolve shot 2 > 3, a key on shot 2 only (0)", dissolve(b, c), [0], 56),
            ("check", "cctv, keys 0, 119", cctv, [0, 119], 60),
            ("check", "scene_cuts, keys at both ends of each shot", cuts, [0, 71, 72, 143, 144, 193], 97)]


def write(frames: list[np.ndarray], path: Path) -> None:
    height, width = frames[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "16"}
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def run(label: str) -> None:
    from filmcolor.colorize import DEFAULT_VIDEO_RENDER_SIZE, Colorizer
    from filmcolor.imageio import write_image
    from filmcolor.metrics import psnr
    from filmcolor.video.keyframes import Keyframe
    from filmcolor.video.pipeline import VideoOptions, colorize_video

    colorizer = Colorizer.from_pretrained("default", render_size=DEFAULT_VIDEO_RENDER_SIZE)
    with tempfile.TemporaryDirectory(prefix="filmcolor-keys-") as name:
        work = Path(name)
        for use, case, frames, keys, split in cases():
            original, gray, out = work / "original.mp4", work / "gray.mp4", work / "out.mp4"
            write(frames, original)
            make_gray(original, gray)
            truth = frames_rgb(original)
            keyframes = []
            for k in keys:
                write_image(work / f"key{k}.png", truth[k])
                keyframes.append(Keyframe(k, work / f"key{k}.png"))
            colorize_video(gray, out, colorizer, VideoOptions(keyframes=tuple(keyframes)), overwrite=True)
            per_frame = [psnr(t, o) for t, o in zip(truth, frames_rgb(out), strict=True)]
            print(f"| {case} | {use} | {label} | {np.mean(per_frame):.2f} | {np.mean(per_frame[:split]):.2f} "
                  f"| {np.mean(per_frame[split:]):.2f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", type=Path, metavar="DIR", help="another checkout, run on the same clips")
    parser.add_argument("--tree", type=Path, help=argparse.SUPPRESS)  # (read before the imports above)
    args = parser.parse_args()
    if args.tree is None:
        print("| case | use | tree | PSNR, all frames | first part | the rest |\n|---|---|---|---|---|---|", flush=True)
    run(str(args.tree) if args.tree else "this tree")
    if args.against:  # this script, with the other checkout's filmcolor
        subprocess.run([sys.executable, __file__, "--tree", str(args.against)], check=True)


if __name__ == "__main__":
    main()
