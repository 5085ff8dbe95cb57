"""Issue 17 probe: automatic colour guided by a retrieved training photo (exemplar-based, no user reference).

The question: the network already takes a reference photo's colours where its features match a picture's
(`--reference`). Would the training photo that looks most like a gray picture, found automatically, commit
the network to vivid colour where it is sure of the match, so that colourfulness rises without PSNR falling
as a uniform gain makes it fall (held-out split: 0.46 dB per 0.1 of colourfulness)?

A bank of train photos (the held-out sources excluded), each described by its matching features
(`guide.match_features`) pooled over the picture; per test picture its K nearest by cosine are prepared as
references, and `Colorizer.guide_for` takes the one that matches it best if any reaches
`guide.REFERENCE_MIN_SCORE` (as `--reference` does); the network then colours with that guide. Printed per
set: automatic and retrieval-guided PSNR gain over gray and colourfulness ratio, how many pictures took a
reference, and the exchange rate (dB lost per 0.1 of colourfulness gained).

    .venv/bin/python scripts/probe_retrieval.py [--bank 2000] [--k 3] [--sets heldout unseen frames val]
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import _checkout  # noqa: F401  (this checkout's filmcolor)
import numpy as np
import torch
from eval_bars import DATA, SETS, build_sets, trade_cells, trade_row
from probe_global_gain import HELD_OUT_SOURCES

from filmcolor import guide as guidance
from filmcolor import lab
from filmcolor.colorize import Colorizer
from filmcolor.evaluate import luma_of, read_rgb, source_of
from filmcolor.imageio import list_images


def pooled(features: torch.Tensor) -> torch.Tensor:
    """Unit matching features (C, h, w) -> one unit descriptor (C,) of the whole picture."""
    return torch.nn.functional.normalize(features.flatten(1).mean(1), dim=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", choices=SETS, default=["heldout", "unseen", "frames", "val"])
    parser.add_argument("--bank", type=int, default=2000, help="train photos in the bank (random, seed 0)")
    parser.add_argument("--k", type=int, default=3, help="nearest bank photos tried as references")
    parser.add_argument("--min-score", type=float, default=guidance.REFERENCE_MIN_SCORE,
                        help="how well a bank photo must match to be used (guide.REFERENCE_MIN_SCORE, as --reference)")
    parser.add_argument("--model", default="default")
    parser.add_argument("--work", type=Path, default=Path(".eval_sets"))
    args = parser.parse_args()
    guidance.REFERENCE_MIN_SCORE = args.min_score  # read by guide.best_reference at each call
    colorizer = Colorizer.from_pretrained(args.model, runtime="onnx", render_size=256)
    sets = build_sets(args.work, DATA)
    train = [p for p in list_images([DATA / "photos" / "train"]) if source_of(p) not in HELD_OUT_SOURCES]
    bank = random.Random(0).sample(train, min(args.bank, len(train)))
    descriptors = []
    for path in bank:
        l_hw = lab.rgb_to_lab(read_rgb(path))[..., 0]
        descriptors.append(pooled(colorizer.match_features(np.ascontiguousarray(l_hw))))
    bank_nc = torch.stack(descriptors)
    print(f"bank: {len(bank)} train photos; K {args.k}; min score {args.min_score}\n")
    print("| set | images | automatic: gain, colourfulness | retrieval-guided | took a reference | dB per 0.1 |")
    print("|---|---|---|---|---|---|")
    for name in args.sets:
        rows, took = [], 0
        for path in sets[name]:
            rgb = read_rgb(path)
            gray = luma_of(rgb)
            l_hw = lab.gray_to_l(gray)
            auto_ab = colorizer.colorize_batch(l_hw[None])[0]
            features = colorizer.match_features(l_hw)
            nearest = torch.topk(bank_nc @ pooled(features), args.k).indices.tolist()
            references = [colorizer.reference(read_rgb(bank[i]), bank[i].name) for i in nearest]
            guide = colorizer.guide_for(l_hw, references=references, features=features)
            took += guide is not None
            guided_ab = colorizer.upsample_ab(colorizer.guided_ab(l_hw, guide), *l_hw.shape)
            auto = lab.lab_to_rgb_levels(l_hw, auto_ab)
            guided = lab.lab_to_rgb_levels(l_hw, guided_ab)
            rows.append(trade_row(rgb, gray, auto, guided))
        automatic, guided_cell, rate = trade_cells(rows)
        print(f"| {name} | {len(rows)} | {automatic} | {guided_cell} | {took} | {rate} |", flush=True)


if __name__ == "__main__":
    main()
