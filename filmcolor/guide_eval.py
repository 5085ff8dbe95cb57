"""Scoring guided colour: simulated user hints (Zhang et al. 2017's protocol) and reference photos.

Each score sits beside its naive floor (the same guidance with no network), so the network's value is
visible: hints spread by the Gaussian propagation of guide.py; a reference's mean ab per L bin.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from filmcolor import guide as guidance
from filmcolor import lab
from filmcolor.colorize import Colorizer
from filmcolor.imageio import read_image
from filmcolor.metrics import colorfulness, psnr


def random_hints(rgb: np.ndarray, count: int, rng: np.random.Generator) -> guidance.Hints:
    """``count`` points drawn uniformly from a colour photo, each with the 3x3 mean colour of the original."""
    height, width = rgb.shape[:2]
    ab = lab.rgb_to_lab(np.ascontiguousarray(rgb[..., :3]))[..., 1:]
    xs = rng.integers(0, width, count)
    ys = rng.integers(0, height, count)
    means = [ab[max(0, y - 1):y + 2, max(0, x - 1):x + 2].reshape(-1, 2).mean(0) for x, y in zip(xs, ys, strict=True)]
    zero = np.zeros(count, np.float32)
    return guidance.Hints(xs.astype(np.float32), ys.astype(np.float32), np.array(means, np.float32).reshape(-1, 2),
                          zero)


def _picture(l_hw: np.ndarray, ab_hw2: np.ndarray) -> np.ndarray:
    return lab.lab_to_rgb_uint8(l_hw, ab_hw2.astype(np.float32))


def score_guided(colorizer: Colorizer, rgb: np.ndarray, hints: guidance.Hints | None = None,
                 reference_rgb: np.ndarray | None = None) -> dict[str, float]:
    """PSNR of the guided picture, of the gray picture and of the naive floor of the same guidance."""
    from filmcolor.evaluate import luma_of

    gray = luma_of(np.ascontiguousarray(rgb[..., :3]))
    l_hw = lab.gray_to_l(gray)
    references = None
    if reference_rgb is not None:
        references = [colorizer.reference(reference_rgb)]
    guide = colorizer.guide_for(l_hw, hints, references)
    ab = colorizer.colorize_batch(l_hw[None], None if guide is None else guide[None])[0]
    pred = _picture(l_hw, ab)
    if reference_rgb is not None:
        floor = _picture(l_hw, guidance.naive_reference(l_hw, reference_rgb))
    elif hints is not None:
        floor = _picture(l_hw, guidance.naive_propagation(hints, l_hw))
    else:
        floor = np.repeat(gray[..., None], 3, axis=2)
    return {
        "psnr": psnr(rgb, pred),
        "gray_psnr": psnr(rgb, np.repeat(gray[..., None], 3, axis=2)),
        "naive_psnr": psnr(rgb, floor),
        "colorfulness": colorfulness(pred),
        "real_colorfulness": colorfulness(rgb),
    }


def summarize(rows: list[dict[str, float]]) -> dict[str, float]:
    keys = rows[0].keys() if rows else []
    out = {k: float(np.mean([r[k] for r in rows])) for k in keys}
    if rows:
        out["psnr_gain"] = out["psnr"] - out["gray_psnr"]
        out["naive_gain"] = out["naive_psnr"] - out["gray_psnr"]
        out["over_naive"] = out["psnr"] - out["naive_psnr"]
    out["images"] = len(rows)
    return out


def evaluate_hints(colorizer: Colorizer, paths: Iterable[Path], count: int, seed: int = 0,
                   progress: Callable[[int], None] | None = None) -> dict[str, float]:
    """Mean scores with ``count`` random hints per photo (a fixed seed per photo index)."""
    rows = []
    for i, path in enumerate(paths):
        rgb = _rgb(read_image(path))
        rows.append(score_guided(colorizer, rgb, hints=random_hints(rgb, count, np.random.default_rng((seed, i)))))
        if progress:
            progress(i + 1)
    return summarize(rows)


def evaluate_references(colorizer: Colorizer, pairs: Iterable[tuple[Path, Path]],
                        progress: Callable[[int], None] | None = None) -> dict[str, float]:
    """Mean scores of (photo, reference photo) pairs: each photo's luma coloured from its reference."""
    rows = []
    for i, (path, ref_path) in enumerate(pairs):
        rows.append(score_guided(colorizer, _rgb(read_image(path)), reference_rgb=_rgb(read_image(ref_path))))
        if progress:
            progress(i + 1)
    return summarize(rows)


def _rgb(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return np.repeat(image[..., None], 3, axis=2)
    return np.ascontiguousarray(image[..., :3])
