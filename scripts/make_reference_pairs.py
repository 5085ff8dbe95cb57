"""Build reference-colouring pairs from the colour clips: a frame, and a colour frame of its shot 20 frames away.

Writes OUT/frames/NAME.png and OUT/refs/NAME.png (paired by name, the folder form of `--reference-dir`),
short side 256. Shots are the clips' known ones (scene_cuts.mp4 cuts at frames 72 and 144; the others
are single shots). Both directions are used: (t, t + GAP) and (t + GAP, t).
Usage: python scripts/make_reference_pairs.py OUT_DIR [--data ../shared/data] [--gap 20] [--per-shot 4]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _checkout  # noqa: F401  (this checkout's filmcolor)
from make_unseen_set import short_side  # noqa: E402  (the same short side 256 as the unseen set)

from filmcolor.imageio import write_image  # noqa: E402

# clip -> first frames of its shots (the clip's end closes the last one)
SHOTS = {"davis_dance_twirl.mp4": [0], "scene_cuts.mp4": [0, 72, 144], "cctv_pedestrians.avi": [0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--gap", type=int, default=20)
    parser.add_argument("--per-shot", type=int, default=4, help="pairs per shot and direction")
    args = parser.parse_args()
    (args.out / "frames").mkdir(parents=True, exist_ok=True)
    (args.out / "refs").mkdir(parents=True, exist_ok=True)
    count = 0
    for clip, starts in SHOTS.items():
        with av.open(str(args.data / "videos" / clip)) as container:
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        ends = [*starts[1:], len(frames)]
        for shot, (a, b) in enumerate(zip(starts, ends, strict=True)):
            if b - a <= args.gap:
                continue
            for t in np.linspace(a, b - 1 - args.gap, args.per_shot).round().astype(int):
                for src, ref in ((t, t + args.gap), (t + args.gap, t)):
                    name = f"{Path(clip).stem}_s{shot}_{src:04d}_from_{ref:04d}.png"
                    write_image(args.out / "frames" / name, short_side(frames[src]))
                    write_image(args.out / "refs" / name, short_side(frames[ref]))
                    count += 1
    print(f"wrote {count} pairs to {args.out}")


if __name__ == "__main__":
    main()
