"""Package trained weights as the shipped default: copy the tensors, record the colour gain and metrics.

Usage: python scripts/ship_weights.py RUN_DIR/best.safetensors --eval-json val.json [--ab-gain G] \
           [--unseen-json unseen.json] [--out filmcolor/weights/filmcolor-guided.safetensors]
The tensors are copied unchanged; only the metadata gains 'ab_gain' (applied by Colorizer at
inference; 1 = none) and the evaluation summaries shown by `filmcolor models` (with the guided
sections, "hints" and "reference", of the eval JSONs when they have them).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import _checkout  # noqa: F401  (this checkout's filmcolor)

from filmcolor.weights import DEFAULT_WEIGHTS_NAME, PACKAGE_WEIGHTS_DIR, load_model, save_weights

METRIC_KEYS = ("psnr", "gray_psnr", "psnr_gain", "colorfulness", "real_colorfulness", "colorfulness_ratio",
               "images")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("weights", type=Path)
    parser.add_argument("--ab-gain", type=float, default=1.0)
    parser.add_argument("--eval-json", type=Path, required=True, help="filmcolor eval JSON on photos/val")
    parser.add_argument("--unseen-json", type=Path, default=None, help="filmcolor eval JSON on unseen material")
    parser.add_argument("--render-size", type=int, default=None, help="render size the metrics were taken at")
    parser.add_argument("--out", type=Path, default=PACKAGE_WEIGHTS_DIR / f"{DEFAULT_WEIGHTS_NAME}.safetensors")
    args = parser.parse_args()
    model, meta = load_model(args.weights)
    val = json.loads(args.eval_json.read_text())
    info = dict(meta.info)
    info["ab_gain"] = args.ab_gain
    info["metrics"] = {k: val[k] for k in METRIC_KEYS if k in val}
    info["metrics_render_size"] = args.render_size or val.get("render_size")
    for section in ("hints", "reference"):
        if section in val:
            info["metrics"][section] = val[section]
    if args.unseen_json:
        unseen = json.loads(args.unseen_json.read_text())
        info["unseen_metrics"] = {k: unseen[k] for k in METRIC_KEYS if k in unseen}
        for section in ("hints", "reference"):
            if section in unseen:
                info["unseen_metrics"][section] = unseen[section]
    info["shipped_from"] = args.weights.name
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_weights(args.out, model, meta.arch, meta.arch_kwargs, info)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB), ab_gain {args.ab_gain}")


if __name__ == "__main__":
    main()
