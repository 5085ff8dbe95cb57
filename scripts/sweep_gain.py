"""Score one model at several colour gains (ab x G) on photo folders; prints a table.

Usage: python scripts/sweep_gain.py WEIGHTS FOLDER [FOLDER...] [--gains 1.0,1.2,1.4] [--render-size 256]
       [--limit N]
Used to calibrate the shipped model's ab_gain on material other than the reported validation set.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import _checkout  # noqa: F401  (this checkout's filmcolor)

from filmcolor.colorize import Colorizer
from filmcolor.evaluate import evaluate_images
from filmcolor.imageio import list_images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("weights")
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--gains", default="1.0,1.2,1.4")
    parser.add_argument("--render-size", type=int, default=256)
    parser.add_argument("--limit", type=int, default=0)
    args = parser.parse_args()
    colorizer = Colorizer.from_pretrained(args.weights, render_size=args.render_size)
    print("| folder | gain | PSNR | gray PSNR | gain dB | colourfulness | real | ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for folder in args.folders:
        paths = list_images([folder])
        paths = paths[: args.limit] if args.limit else paths
        for gain in (float(g) for g in args.gains.split(",")):
            colorizer.ab_gain = gain
            s = evaluate_images(colorizer, paths)
            print(f"| {folder.name} ({s['images']}) | {gain:.2f} | {s['psnr']:.3f} | {s['gray_psnr']:.3f} | "
                  f"{s['psnr_gain']:+.3f} | {s['colorfulness']:.1f} | {s['real_colorfulness']:.1f} | "
                  f"{s['colorfulness_ratio']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
