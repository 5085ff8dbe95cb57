"""Before/after sheet of guided colour: gray | automatic | 10 hints (dots shown) | reference | original.

Each row is a held-out picture (not in ../shared's training photos); its reference is another colour frame
of the same shot (or, for stills, the picture's horizontal mirror shifted by a tenth: same content, other
places). Usage: python scripts/make_guided_stills.py OUT.jpg PAIR_FRAMES_DIR PAIR_REFS_DIR NAME... [--model M]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import _checkout  # noqa: F401  (this checkout's filmcolor)
import cv2
import numpy as np

from filmcolor.colorize import Colorizer
from filmcolor.evaluate import luma_of, random_hints, read_rgb
from filmcolor.imageio import write_image

TILE_HEIGHT = 200


def label(image: np.ndarray, text: str) -> np.ndarray:
    out = image.copy()
    cv2.putText(out, text, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(out, text, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def tile(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    return cv2.resize(image, (round(w * TILE_HEIGHT / h), TILE_HEIGHT), interpolation=cv2.INTER_AREA)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("frames", type=Path)
    parser.add_argument("refs", type=Path)
    parser.add_argument("names", nargs="+")
    parser.add_argument("--model", default="default")
    args = parser.parse_args()
    colorizer = Colorizer.from_pretrained(args.model)
    rows = []
    for i, name in enumerate(args.names):
        rgb, ref = read_rgb(args.frames / name), read_rgb(args.refs / name)
        gray = luma_of(rgb)
        auto = colorizer.colorize_image(gray)
        hints = random_hints(rgb, 10, np.random.default_rng((0, i)))
        shown = colorizer.colorize_image(gray, hints=hints)  # what `filmcolor image --hints` writes
        for x, y in zip(hints.x.astype(int), hints.y.astype(int), strict=True):
            colour = tuple(int(c) for c in rgb[y, x])
            cv2.circle(shown, (x, y), 5, (255, 255, 255), 2)
            cv2.circle(shown, (x, y), 3, colour, -1)
        referenced = colorizer.colorize_image(gray, references=[colorizer.reference(ref)])
        cells = [label(np.repeat(gray[..., None], 3, 2), "gray input"), label(auto, "automatic"),
                 label(shown, "10 hints"), label(ref, "reference (colour)"),
                 label(referenced, "from the reference"), label(rgb, "original")]
        rows.append(np.concatenate([tile(c) for c in cells], axis=1))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    write_image(args.out, np.concatenate(rows, axis=0))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
