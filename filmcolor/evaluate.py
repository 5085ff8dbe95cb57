"""Scoring a colouriser on colour photos: the photo's 8-bit luma in, RGB PSNR and colourfulness out.

The do-nothing baseline is the gray picture itself (the luma replicated to RGB), scored the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path

import cv2
import numpy as np

from filmcolor import lab
from filmcolor.colorize import Colorizer
from filmcolor.imageio import is_image_path, read_image
from filmcolor.metrics import colorfulness, psnr


def list_images(folders: Iterable[Path]) -> list[Path]:
    """All image files under the given folders (recursively), sorted, or the files themselves."""
    found: list[Path] = []
    for folder in folders:
        folder = Path(folder)
        if folder.is_file():
            found.append(folder)
        else:
            found += [p for p in folder.rglob("*") if p.is_file() and is_image_path(p)]
    return sorted(found)


def luma_of(rgb: np.ndarray) -> np.ndarray:
    """The 8-bit luma (BT.601, as a B&W scan or cv2 gives it) of an RGB uint8 image."""
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def source_of(path: Path) -> str:
    """The data source of a photo, from its file name prefix (ade20k_..., coco_..., dreambooth_dog2_...)."""
    stem = path.stem
    match = re.match(r"^(dreambooth|imagenette)_([a-z0-9]+)", stem)
    return match.group(1) if match else stem.split("_")[0]


def score_image(colorizer: Colorizer, rgb: np.ndarray) -> dict[str, float]:
    gray = luma_of(rgb)
    l_hw = lab.gray_to_l(gray)
    ab = colorizer.colorize_batch(l_hw[None])[0]
    out = lab.lab_to_rgb_uint8(l_hw, ab)
    gray_rgb = np.repeat(gray[..., None], 3, axis=2)
    return {
        "psnr": psnr(rgb, out),
        "gray_psnr": psnr(rgb, gray_rgb),
        "colorfulness": colorfulness(out),
        "real_colorfulness": colorfulness(rgb),
    }


def evaluate_images(colorizer: Colorizer, paths: list[Path],
                    progress: Callable[[int, int], None] | None = None) -> dict:
    """Mean metrics over ``paths`` plus a per-source breakdown; PSNR in dB over 8-bit RGB."""
    rows: list[tuple[str, dict[str, float]]] = []
    for i, path in enumerate(paths):
        image = read_image(path)
        rgb = image[..., :3] if image.ndim == 3 else np.repeat(image[..., None], 3, axis=2)
        rows.append((source_of(path), score_image(colorizer, np.ascontiguousarray(rgb))))
        if progress is not None:
            progress(i + 1, len(paths))
    return summarize(rows)


def summarize(rows: list[tuple[str, dict[str, float]]]) -> dict:
    def mean_of(items: list[dict[str, float]]) -> dict[str, float]:
        keys = items[0].keys()
        means = {k: float(np.mean([it[k] for it in items])) for k in keys}
        means["psnr_gain"] = means["psnr"] - means["gray_psnr"]
        means["colorfulness_ratio"] = means["colorfulness"] / max(means["real_colorfulness"], 1e-9)
        return {k: round(v, 4) for k, v in means.items()} | {"images": len(items)}

    if not rows:
        return {"images": 0}
    by_source: dict[str, list[dict[str, float]]] = {}
    for src, row in rows:
        by_source.setdefault(src, []).append(row)
    result = mean_of([r for _, r in rows])
    result["by_source"] = {src: mean_of(items) for src, items in sorted(by_source.items())}
    return result
