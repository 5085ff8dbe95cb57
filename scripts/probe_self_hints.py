"""Issue 17 probe: the automatic colour fed back to the guided network as its own hints.

The question: does a hint commit the network to one hue where, unguided, it averages several into gray, so
that the picture gains colour without losing PSNR? Each picture is coloured automatically, then again with
GRID x GRID hints taken from that automatic colour (3x3 mean, as `filmcolor eval --hints` takes them from
the original): at each cell's most saturated pixel (--at max) or at its centre (--at centre). Printed per
set: PSNR gain over gray and colourfulness ratio, automatic and self-hinted, and the exchange rate (dB lost
per 0.1 of colourfulness gained; a uniform gain x1.1 pays 0.46 on the held-out split).

    .venv/bin/python scripts/probe_self_hints.py [--sets heldout unseen frames val] [--grid 4] [--at max]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import _checkout  # noqa: F401  (this checkout's filmcolor)
import numpy as np
from eval_bars import DATA, SETS, build_sets, trade_cells, trade_row

from filmcolor import guide as guidance
from filmcolor import lab
from filmcolor.colorize import Colorizer
from filmcolor.evaluate import luma_of, read_rgb


def self_hints(ab_hw2: np.ndarray, grid: int, at: str) -> guidance.Hints:
    height, width = ab_hw2.shape[:2]
    chroma = np.hypot(ab_hw2[..., 0], ab_hw2[..., 1])
    points = []
    for gy in range(grid):
        for gx in range(grid):
            y0, y1 = gy * height // grid, (gy + 1) * height // grid
            x0, x1 = gx * width // grid, (gx + 1) * width // grid
            cell = chroma[y0:y1, x0:x1]
            centre = (cell.shape[0] // 2, cell.shape[1] // 2)
            dy, dx = np.unravel_index(np.argmax(cell), cell.shape) if at == "max" else centre
            y, x = y0 + int(dy), x0 + int(dx)
            points.append((x, y, *ab_hw2[max(0, y - 1):y + 2, max(0, x - 1):x + 2].reshape(-1, 2).mean(0)))
    p = np.array(points, np.float32)
    return guidance.Hints(p[:, 0], p[:, 1], p[:, 2:4], np.zeros(len(p), np.float32))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", choices=SETS, default=["heldout", "unseen", "frames", "val"])
    parser.add_argument("--grid", type=int, default=4)
    parser.add_argument("--at", choices=("max", "centre"), default="max")
    parser.add_argument("--model", default="default")
    parser.add_argument("--work", type=Path, default=Path(".eval_sets"))
    args = parser.parse_args()
    colorizer = Colorizer.from_pretrained(args.model, runtime="onnx", render_size=256)
    sets = build_sets(args.work, DATA)
    print(f"| set | images | automatic: gain, colourfulness | self-hinted ({args.grid}x{args.grid}, {args.at}) "
          "| dB per 0.1 |")
    print("|---|---|---|---|---|")
    for name in args.sets:
        rows = []
        for path in sets[name]:
            rgb = read_rgb(path)
            gray = luma_of(rgb)
            l_hw = lab.gray_to_l(gray)
            auto_ab = colorizer.colorize_batch(l_hw[None])[0]
            hints = self_hints(auto_ab, args.grid, args.at)
            hinted_ab = colorizer.guided_ab(l_hw, colorizer.guide_for(l_hw, hints), hints)
            auto = lab.lab_to_rgb_levels(l_hw, auto_ab)
            hinted = lab.lab_to_rgb_levels(l_hw, colorizer.upsample_ab(hinted_ab, *l_hw.shape))
            rows.append(trade_row(rgb, gray, auto, hinted))
        automatic, hinted_cell, rate = trade_cells(rows)
        print(f"| {name} | {len(rows)} | {automatic} | {hinted_cell} | {rate} |", flush=True)


if __name__ == "__main__":
    main()
