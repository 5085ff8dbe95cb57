"""Before/after stills for the README and the model card, made by a model (default: the shipped one).

Usage: python scripts/make_readme_stills.py [--model PATH] [--out docs] [--data ../shared/data]
Writes docs/before_after_photos.jpg (historical B&W photographs), docs/before_after_video.jpg
(frames of the sample clips made gray, beside the colour originals) and docs/val_samples.jpg
(val photos: gray input | model | original), the model card's sample sheet.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import _checkout  # noqa: F401  (this checkout's filmcolor)
import av
import cv2
import numpy as np

from filmcolor import lab
from filmcolor.colorize import Colorizer
from filmcolor.evaluate import luma_of
from filmcolor.imageio import read_image, write_image

PHOTOS = ("1906_nyc_street_cleaning.jpg", "1890_hawaii_surfer.jpg", "1936_migrant_mother_lange.jpg",
          "c1900s_redwood_lumberjacks.jpg", "1911_easter_nyc.jpg", "1880s_locomotive.jpg")
CLIP_FRAMES = (("davis_dance_twirl.mp4", 40), ("scene_cuts.mp4", 20), ("scene_cuts.mp4", 100),
               ("scene_cuts.mp4", 170), ("cctv_pedestrians.avi", 60), ("bw_film_excerpt.mp4", 120))
VAL_SHEET_EVERY = 40  # every 40th val photo (sorted): 11 photos across the sources
TILE_HEIGHT = 240


def fit(image: np.ndarray, height: int = TILE_HEIGHT) -> np.ndarray:
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    h, w = image.shape[:2]
    return cv2.resize(image[..., :3], (round(w * height / h), height), interpolation=cv2.INTER_AREA)


def frame_at(path: Path, index: int) -> np.ndarray:
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i == index:
                return frame.to_ndarray(format="rgb24")
    raise ValueError(f"{path} has fewer than {index + 1} frames")


def colour_gray(colorizer: Colorizer, gray: np.ndarray) -> np.ndarray:
    l_hw = lab.gray_to_l(gray)
    return lab.lab_to_rgb_levels(l_hw, colorizer.colorize_batch(l_hw[None])[0])


def sheet(rows: list[list[np.ndarray]]) -> np.ndarray:
    lines = [np.concatenate([fit(t) for t in row], axis=1) for row in rows]
    width = max(line.shape[1] for line in lines)
    return np.concatenate([np.pad(line, ((0, 4), (0, width - line.shape[1]), (0, 0)), constant_values=255)
                           for line in lines], axis=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--out", type=Path, default=Path("docs"))
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--render-size", type=int, default=256)
    args = parser.parse_args()
    colorizer = Colorizer.from_pretrained(args.model, render_size=args.render_size)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in PHOTOS:
        image = read_image(args.data / "bw_photos" / name)
        gray = image if image.ndim == 2 else luma_of(np.ascontiguousarray(image[..., :3]))
        gray = fit(gray, 320)[..., 0]
        rows.append([gray, colour_gray(colorizer, gray)])
    pairs = [np.concatenate([fit(a), fit(b)], axis=1) for a, b in rows]
    grid = [np.concatenate(pairs[i:i + 2], axis=1) for i in range(0, len(pairs) - 1, 2)]
    write_image(args.out / "before_after_photos.jpg", sheet([[g] for g in grid]))
    rows = []
    for clip, index in CLIP_FRAMES:
        rgb = frame_at(args.data / "videos" / clip, index)
        gray = luma_of(rgb)
        row = [gray, colour_gray(colorizer, gray)]
        if "bw_film" not in clip:
            row.append(rgb)
        rows.append(row)
    write_image(args.out / "before_after_video.jpg", sheet(rows))
    rows = []
    for path in sorted((args.data / "photos" / "val").glob("*.jpg"))[::VAL_SHEET_EVERY]:
        rgb = read_image(path)
        gray = luma_of(rgb)
        rows.append([gray, colour_gray(colorizer, gray), rgb])
    write_image(args.out / "val_samples.jpg", sheet(rows))
    print(f"wrote before_after_photos.jpg, before_after_video.jpg and val_samples.jpg to {args.out}")


if __name__ == "__main__":
    main()
