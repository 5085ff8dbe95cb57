"""Build a held-out 'unlike the training set' photo folder: classic test photographs and video frames.

Sources share nothing with photos/train: scikit-image's bundled sample photos, the Kodak originals in
bw_photos/with_original, and frames sampled from the colour clips in videos/. Prints what it wrote.
Usage: python scripts/make_unseen_set.py OUT_DIR [--data ../shared/data] [--frames-per-clip 6]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import _checkout  # noqa: F401  (this checkout's filmcolor)
import av
import cv2
import numpy as np
import skimage.data

from filmcolor.imageio import read_image, write_image
from filmcolor.metrics import colorfulness

SKIMAGE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "cat")
CLIPS = ("davis_dance_twirl.mp4", "scene_cuts.mp4", "cctv_pedestrians.avi", "bbb_with_audio.mp4")


def short_side(rgb: np.ndarray, size: int = 256) -> np.ndarray:
    h, w = rgb.shape[:2]
    scale = size / min(h, w)
    return cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--frames-per-clip", type=int, default=6)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in SKIMAGE_PHOTOS:
        path = args.out / f"skimage_{name}.png"
        write_image(path, short_side(getattr(skimage.data, name)()))
        written.append(path)
    originals = args.data / "bw_photos" / "with_original"
    for src in sorted(originals.glob("*")):
        image = read_image(src) if src.is_file() else None
        if image is not None and image.ndim == 3 and np.ptp(image[..., 0].astype(int) - image[..., 2]) > 10:
            path = args.out / f"kodak_{src.stem}.png"
            write_image(path, short_side(image[..., :3]))
            written.append(path)
    for clip in CLIPS:
        src = args.data / "videos" / clip
        if not src.exists():
            continue
        with av.open(str(src)) as container:
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        for i in np.linspace(0, len(frames) - 1, args.frames_per_clip).round().astype(int):
            if colorfulness(frames[i]) < 5.0:  # a black or title frame: nothing to score colour on
                continue
            path = args.out / f"video_{Path(clip).stem}_{i:04d}.png"
            write_image(path, short_side(frames[i]))
            written.append(path)
    print(f"wrote {len(written)} images to {args.out}")


if __name__ == "__main__":
    main()
