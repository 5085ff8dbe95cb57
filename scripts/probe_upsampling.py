"""Does edge-aware upsampling of the colour help? The automatic ab (at 1/4 of the render size) upsampled
bilinearly (shipped) or by a fast guided filter (He and Sun 2015) with the full-resolution L as its guide.

    python scripts/probe_upsampling.py        # ~2 minutes: PSNR gain over gray and colourfulness ratio per set

A probe, not shipped (MODEL_CARD.md). Render 256 as `filmcolor eval`, ONNX Runtime; the sets of probe_global_gain.
"""

from __future__ import annotations

from pathlib import Path

import _checkout  # noqa: F401  (this checkout's filmcolor)
import cv2
import numpy as np

from filmcolor import lab
from filmcolor.colorize import Colorizer
from filmcolor.evaluate import luma_of, read_rgb, source_of
from filmcolor.imageio import list_images
from filmcolor.metrics import colorfulness, psnr

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
HELD_OUT_SOURCES = ("debian", "dreambooth")  # as in scripts/train_default.sh
SETTINGS = [None] + [(r, eps) for r in (1, 2, 4) for eps in (1e-3, 1e-2, 1e-1)]  # None: bilinear


def box(x: np.ndarray, r: int) -> np.ndarray:
    return cv2.blur(x, (2 * r + 1, 2 * r + 1), borderType=cv2.BORDER_REFLECT)


def guided_upsample(ab: np.ndarray, l_full: np.ndarray, r: int, eps: float) -> np.ndarray:
    """ab (h, w, 2) -> (H, W, 2), locally linear in L: a and b fitted on the ab grid, upsampled, applied to L."""
    (h, w), (height, width) = ab.shape[:2], l_full.shape
    guide = cv2.resize(l_full / 100.0, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32)
    mean_i = box(guide, r)
    var_i = box(guide * guide, r) - mean_i * mean_i
    out = []
    for c in range(2):
        p = ab[..., c] / lab.AB_SCALE
        mean_p = box(p, r)
        a = (box(guide * p, r) - mean_i * mean_p) / (var_i + eps)
        b = mean_p - a * mean_i
        a_up, b_up = (cv2.resize(box(m, r), (width, height), interpolation=cv2.INTER_LINEAR) for m in (a, b))
        out.append((a_up * (l_full / 100.0) + b_up) * lab.AB_SCALE)
    return np.stack(out, -1).astype(np.float32)


def main() -> None:
    colorizer = Colorizer.from_pretrained("default", device="cpu", runtime="onnx", render_size=256)
    train = list_images([DATA / "photos" / "train"])
    sets = {"held-out split": [p for p in train if source_of(p) in HELD_OUT_SOURCES],
            "unseen": list_images([Path(".eval_sets/unseen")]),
            "video frames": list_images([Path(".eval_sets/pairs/frames")]),
            "val (first 150)": list_images([DATA / "photos" / "val"])[:150]}
    for name, paths in sets.items():
        scores: dict[object, list[tuple[float, float]]] = {s: [] for s in SETTINGS}
        grays, reals = [], []
        for path in paths:
            rgb = read_rgb(path)
            height, width = rgb.shape[:2]
            gray = luma_of(rgb)
            l_hw = lab.gray_to_l(gray)
            ab = colorizer.guided_ab(l_hw, None)
            grays.append(psnr(rgb, np.repeat(gray[..., None], 3, 2)))
            reals.append(colorfulness(rgb))
            for setting in SETTINGS:
                up = (cv2.resize(ab, (width, height), interpolation=cv2.INTER_LINEAR) if setting is None
                      else guided_upsample(ab, l_hw, *setting))
                pred = lab.lab_to_rgb_levels(l_hw, np.clip(up, -lab.AB_LIMIT, lab.AB_LIMIT))
                scores[setting].append((psnr(rgb, pred), colorfulness(pred)))
        print(f"\n{name} ({len(paths)} photos)\n| upsampling | PSNR gain | colourfulness ratio |\n|---|---|---|")
        for setting, rows in scores.items():
            label = "bilinear (shipped)" if setting is None else f"guided filter, r {setting[0]}, eps {setting[1]:g}"
            print(f"| {label} | {np.mean([p for p, _ in rows]) - np.mean(grays):+.3f} | "
                  f"{np.mean([c for _, c in rows]) / np.mean(reals):.3f} |")


if __name__ == "__main__":
    main()
