"""Issue 17's bars in one table: automatic colour, 10 hints and a reference, on val and on held-out material.

The sets (built once under --work, then reused):
- held-out split: the train photos of the sources `filmcolor train --holdout-source` keeps out of training
  (debian, dreambooth: 134 photos), read in place;
- unseen: `scripts/make_unseen_set.py` (scikit-image's photos, the Kodak originals, frames of the colour clips);
- video frames: `scripts/make_reference_pairs.py` (frames of the DAVIS, three-shot and CCTV clips, each with a
  colour frame of its shot 20 frames away as its reference);
- val: ../shared/data/photos/val.
Each set goes through the same functions as `filmcolor eval` (render 256, ONNX Runtime on CPU, hints seed 0).
The keyframe bar has its own benchmark (scripts/bench_keyframes.py).
--by-vividness adds, per set, how the automatic colour follows each picture's own: the slope of the
predicted on the original colourfulness over the pictures, and the least and most vivid quarters (by the
originals' colourfulness) with their colourfulness and PSNR gain.

    .venv/bin/python scripts/eval_bars.py [--model PATH] [--work .eval_sets] [--sets heldout unseen frames val]
        [--ab-gain G] [--no-hints] [--by-vividness] [--json-out bars.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import _checkout  # noqa: F401  (this checkout's filmcolor)
import numpy as np

from filmcolor.colorize import Colorizer
from filmcolor.evaluate import evaluate_hints, evaluate_images, evaluate_references, source_of
from filmcolor.imageio import list_images
from filmcolor.metrics import colorfulness, psnr

SCRIPTS = Path(__file__).resolve().parent
DATA = SCRIPTS.parents[1] / "shared" / "data"
HOLDOUT_SOURCES = ("debian", "dreambooth")
SETS = ("heldout", "unseen", "frames", "val")
HINTS = 10
# issue 17's "Done when", as (PSNR gain over gray, colourfulness ratio) floors
AUTO_BARS = {"val": (1.5, 0.75), "heldout": (0.0, 0.75), "unseen": (0.0, 0.75), "frames": (0.0, 0.75)}
HINT_BARS = (3.5, 0.5)        # over gray, over the naive propagation of the same hints
REFERENCE_BARS = (4.0, 1.0)   # over gray, over the naive transfer


def build_sets(work: Path, data: Path) -> dict[str, list[Path]]:
    """Each set's photos; the generated ones are made under ``work`` the first time."""
    for folder, script in (("unseen", "make_unseen_set.py"), ("pairs", "make_reference_pairs.py")):
        if not (work / folder).is_dir():
            subprocess.run([sys.executable, str(SCRIPTS / script), str(work / folder), "--data", str(data)],
                           check=True)
    train = list_images([data / "photos" / "train"])
    return {"heldout": [p for p in train if source_of(p) in HOLDOUT_SOURCES],
            "unseen": list_images([work / "unseen"]),
            "frames": list_images([work / "pairs" / "frames"]),
            "val": list_images([data / "photos" / "val"])}


class Vividness:
    """Per picture: the original's colourfulness, the automatic colour's, and its PSNR gain over gray (an
    evaluate_images on_image sink)."""

    def __init__(self) -> None:
        self.rows: list[tuple[float, float, float]] = []

    def __call__(self, path: Path, gray: np.ndarray, pred: np.ndarray, original: np.ndarray) -> None:
        self.rows.append((colorfulness(original), colorfulness(pred), psnr(original, pred) - psnr(original, gray)))

    def summary(self) -> dict[str, float]:
        rows = np.array(self.rows)
        real, pred, gain = rows.T
        low, high = real <= np.quantile(real, 0.25), real >= np.quantile(real, 0.75)
        return {"slope": float(np.polyfit(real, pred, 1)[0]), "correlation": float(np.corrcoef(real, pred)[0, 1]),
                **{f"{name}_{key}": float(values[part].mean())
                   for name, part in (("dull", low), ("vivid", high))
                   for key, values in (("real", real), ("pred", pred), ("gain", gain))}}


def trade_row(rgb: np.ndarray, gray: np.ndarray, auto: np.ndarray, other: np.ndarray) -> list[float]:
    """One picture's row for ``trade_cells``: PSNR of gray, automatic and other colour, then colourfulness of
    the original, the automatic and the other colour (uint8 RGB pictures; ``gray`` the luma, (H, W))."""
    return [psnr(rgb, np.repeat(gray[..., None], 3, axis=2)), psnr(rgb, auto), psnr(rgb, other),
            colorfulness(rgb), colorfulness(auto), colorfulness(other)]


def trade_cells(rows: list[list[float]]) -> tuple[str, str, str]:
    """The probes' table cells from ``trade_row`` rows: automatic and other colour as 'gain over gray,
    colourfulness / the originals'', and the exchange rate: dB lost per 0.1 of colourfulness gained."""
    gray_db, auto_db, other_db, real, auto_c, other_c = np.mean(rows, axis=0)
    delta_c = (other_c - auto_c) / real
    rate = (auto_db - other_db) / (delta_c * 10) if abs(delta_c) > 1e-6 else float("nan")
    return (f"{auto_db - gray_db:+.3f}, {auto_c / real:.3f}", f"{other_db - gray_db:+.3f}, {other_c / real:.3f}",
            f"{rate:.2f}")


def verdict(ok: bool) -> str:
    return "yes" if ok else "**no**"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default", help="shipped name or a .safetensors file")
    parser.add_argument("--work", type=Path, default=Path(".eval_sets"), help="where the generated sets live")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--sets", nargs="+", choices=SETS, default=list(SETS))
    parser.add_argument("--render-size", type=int, default=256)
    parser.add_argument("--ab-gain", type=float, default=None, help="multiply predicted ab (as filmcolor eval)")
    parser.add_argument("--no-hints", action="store_true", help="automatic colour only")
    parser.add_argument("--by-vividness", action="store_true", help="also how colour follows each picture's own")
    parser.add_argument("--json-out", type=Path, default=None)
    args = parser.parse_args()

    sets = build_sets(args.work, args.data)
    colorizer = Colorizer.from_pretrained(args.model, render_size=args.render_size)
    if args.ab_gain is not None:
        colorizer.ab_gain = args.ab_gain
    results: dict[str, dict] = {}
    for name in args.sets:
        start = time.perf_counter()
        vividness = Vividness() if args.by_vividness else None
        auto = evaluate_images(colorizer, sets[name], on_image=vividness)
        auto.pop("by_source", None)
        results[name] = {"automatic": auto}
        if vividness is not None:
            results[name]["vividness"] = vividness.summary()
        if not args.no_hints:
            results[name]["hints"] = evaluate_hints(colorizer, sets[name], HINTS)
        if name == "frames":
            frames = sets["frames"]
            results[name]["reference"] = evaluate_references(
                colorizer, [(p, args.work / "pairs" / "refs" / p.name) for p in frames])
        print(f"{name}: {len(sets[name])} images in {time.perf_counter() - start:.0f} s", file=sys.stderr)

    print(f"model: {args.model}, render {args.render_size}, ab gain {colorizer.ab_gain}\n")
    print("| set | images | automatic: gain over gray | colourfulness ratio | bar | met? |"
          + ("" if args.no_hints else " 10 hints: gain | over naive | met? |"))
    print("|---|---|---|---|---|---|" + ("" if args.no_hints else "---|---|---|"))
    for name in args.sets:
        auto = results[name]["automatic"]
        gain_bar, cf_bar = AUTO_BARS[name]
        row = (f"| {name} | {auto['images']} | {auto['psnr_gain']:+.3f} | {auto['colorfulness_ratio']:.3f} | "
               f">= {gain_bar:+.1f} dB, >= {cf_bar:.2f} | "
               f"{verdict(auto['psnr_gain'] >= gain_bar and auto['colorfulness_ratio'] >= cf_bar)} |")
        if not args.no_hints:
            hints = results[name]["hints"]
            ok = hints["psnr_gain"] >= HINT_BARS[0] and hints["over_naive"] >= HINT_BARS[1]
            row += f" {hints['psnr_gain']:+.3f} | {hints['over_naive']:+.3f} | {verdict(ok)} |"
        print(row)
    if "frames" in results:
        ref = results["frames"]["reference"]
        ok = ref["psnr_gain"] >= REFERENCE_BARS[0] and ref["over_naive"] >= REFERENCE_BARS[1]
        print(f"\nreference 20 frames away ({ref['images']} frames): {ref['psnr_gain']:+.3f} dB over gray, "
              f"{ref['over_naive']:+.3f} over the naive transfer ({ref['naive_gain']:+.3f}); "
              f"bar >= +{REFERENCE_BARS[0]:.1f} and >= +{REFERENCE_BARS[1]:.1f}: {verdict(ok).strip('*')}")
    if args.by_vividness:
        print("\n| set | slope of predicted on real colourfulness | correlation | least vivid quarter: real, "
              "predicted, gain | most vivid quarter: real, predicted, gain |\n|---|---|---|---|---|")
        for name in args.sets:
            v = results[name]["vividness"]
            print(f"| {name} | {v['slope']:.2f} | {v['correlation']:.2f} | {v['dull_real']:.1f}, {v['dull_pred']:.1f}, "
                  f"{v['dull_gain']:+.2f} | {v['vivid_real']:.1f}, {v['vivid_pred']:.1f}, {v['vivid_gain']:+.2f} |")
    if args.json_out is not None:
        args.json_out.write_text(json.dumps({"model": args.model, "render_size": args.render_size} | results,
                                            indent=2) + "\n")


if __name__ == "__main__":
    main()
