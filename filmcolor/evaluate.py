"""Scoring colour: a colouriser on colour photos (``evaluate_images``), guided by simulated hints or
reference photos (``evaluate_hints``, ``evaluate_references``); a colourised video file is scored by
filmcolor.video.quality, and the metrics themselves are in metrics.py.

Photos: the photo's 8-bit luma in; PSNR, SSIM, colourfulness, ab error out. The do-nothing baseline is the
gray picture itself (the luma replicated to RGB), scored the same way. Guided scores sit beside the naive
floor of the same guidance with no network (guide.naive_propagation, guide.naive_reference), so that the
network's own value is visible.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path

import cv2
import numpy as np

from filmcolor import guide as guidance
from filmcolor import lab
from filmcolor.colorize import Colorizer
from filmcolor.errors import ConfigError, InputError, OutputError
from filmcolor.fsutil import make_output_folder
from filmcolor.imageio import read_colour_image, read_image, write_image
from filmcolor.metrics import (
    GRAY_CHROMA,
    ab_auc,
    ab_error,
    colorfulness,
    mean_chroma,
    psnr,
    ssim,
)


def luma_of(rgb: np.ndarray) -> np.ndarray:
    """The 8-bit luma (BT.601, as a B&W scan or cv2 gives it) of an RGB uint8 image."""
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def source_of(path: Path) -> str:
    """The data source of a photo, from its file name prefix (ade20k_..., coco_..., dreambooth_dog2_...)."""
    stem = path.stem
    match = re.match(r"^(dreambooth|imagenette)_([a-z0-9]+)", stem)
    return match.group(1) if match else stem.split("_")[0]


def colorize_luma(colorizer: Colorizer, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The gray baseline (the luma replicated to RGB) and the colouriser's picture from that luma, uint8 RGB."""
    gray = luma_of(rgb)
    l_hw = lab.gray_to_l(gray)
    ab = colorizer.colorize_batch(l_hw[None])[0]
    return np.repeat(gray[..., None], 3, axis=2), lab.lab_to_rgb_levels(l_hw, ab)


def score_prediction(rgb: np.ndarray, gray_rgb: np.ndarray, pred_rgb: np.ndarray) -> dict[str, float]:
    """Every per-image metric of a prediction and of the gray baseline against the original (all uint8 RGB).

    ab errors (Lab units) compare the ab of the pictures as written, at full resolution; the gray
    baseline's ab is 0.
    """
    ab_true = lab.rgb_to_lab(rgb)[..., 1:]
    ab_pred = lab.rgb_to_lab(pred_rgb)[..., 1:]
    ab_gray = np.zeros_like(ab_true)
    return {
        "psnr": psnr(rgb, pred_rgb),
        "gray_psnr": psnr(rgb, gray_rgb),
        "colorfulness": colorfulness(pred_rgb),
        "real_colorfulness": colorfulness(rgb),
        "gray_colorfulness": colorfulness(gray_rgb),
        "ssim": ssim(rgb, pred_rgb),
        "gray_ssim": ssim(rgb, gray_rgb),
        "ab_error": ab_error(ab_true, ab_pred),
        "gray_ab_error": ab_error(ab_true, ab_gray),
        "auc": ab_auc(ab_true, ab_pred),
        "gray_auc": ab_auc(ab_true, ab_gray),
    }


# Called with (path, gray, prediction, original) for every scored image, all uint8 RGB (H, W, 3).
ImageSink = Callable[[Path, np.ndarray, np.ndarray, np.ndarray], None]


# Scoring costs ~180 bytes a pixel (Lab planes, SSIM's windows, ab error): a photo above this is scored
# shrunk to it (2.2 GB), and says so. A 225-megapixel scan took all of a 24 GB machine and was killed.
EVAL_MAX_PIXELS = 12_000_000


class NoColourError(InputError):
    """A photo with no colour to score a colouriser against (a gray one in a folder of colour photos)."""


def read_rgb(path: Path, notes: list[str] | None = None) -> np.ndarray:
    """A photo to score against: uint8 RGB, at most EVAL_MAX_PIXELS (shrunk, said in ``notes``); a gray
    one is a NoColourError (it would score the gray picture at 100 dB)."""
    image = read_image(path)
    if image.ndim == 2 or mean_chroma(np.ascontiguousarray(image[..., :3])) < GRAY_CHROMA:
        raise NoColourError(f"{path}: a gray photo: no colour to score against")
    rgb = np.ascontiguousarray(image[..., :3])
    height, width = rgb.shape[:2]
    if height * width > EVAL_MAX_PIXELS:
        scale = (EVAL_MAX_PIXELS / (height * width)) ** 0.5
        size = (max(1, int(width * scale)), max(1, int(height * scale)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        if notes is not None:
            notes.append(f"{path}: {width}x{height}, scored (and saved, with --save) at {size[0]}x{size[1]}")
    return rgb


def evaluate_images(colorizer: Colorizer, paths: list[Path],
                    progress: Callable[[int, int], None] | None = None,
                    on_image: ImageSink | None = None,
                    unreadable: list[tuple[Path, str]] | None = None, notes: list[str] | None = None) -> dict:
    """Mean metrics over ``paths`` plus a per-source breakdown; PSNR in dB over 8-bit RGB.

    ``on_image`` receives each gray / prediction / original triple (to save them or make a sheet).
    An image that cannot be read is skipped, as ``train`` does, and so is a gray one: counted in
    ``skipped_unreadable`` and ``skipped_gray`` and, when ``unreadable`` is given, added to it as (path,
    one-line reason). A photo too large to score whole is scored shrunk (read_rgb), said in ``notes``.
    """
    rows: list[tuple[str, dict[str, float]]] = []
    skipped = gray = 0
    for i, path in enumerate(map(Path, paths)):  # (a str path was an AttributeError on .stem; an audit)
        try:
            rgb = read_rgb(path, notes)
        except InputError as err:
            gray += isinstance(err, NoColourError)
            skipped += not isinstance(err, NoColourError)
            if unreadable is not None:
                unreadable.append((path, str(err)))
            if progress is not None:
                progress(i + 1, len(paths))
            continue
        gray_rgb, pred_rgb = colorize_luma(colorizer, rgb)
        rows.append((source_of(path), score_prediction(rgb, gray_rgb, pred_rgb)))
        if on_image is not None:
            on_image(path, gray_rgb, pred_rgb, rgb)
        if progress is not None:
            progress(i + 1, len(paths))
    return summarize(rows) | {"skipped_unreadable": skipped, "skipped_gray": gray}


def summarize(rows: list[tuple[str, dict[str, float]]]) -> dict:
    def mean_of(items: list[dict[str, float]]) -> dict:
        keys = items[0].keys()
        means = {k: float(np.mean([it[k] for it in items])) for k in keys}
        means["psnr_gain"] = means["psnr"] - means["gray_psnr"]
        means["colorfulness_ratio"] = means["colorfulness"] / max(means["real_colorfulness"], 1e-9)
        means["delta_colorfulness"] = abs(means["colorfulness"] - means["real_colorfulness"])
        means["gray_delta_colorfulness"] = abs(means["gray_colorfulness"] - means["real_colorfulness"])
        return {k: round(v, 4) for k, v in means.items()} | {"images": len(items), "n": len(items)}

    if not rows:
        return {"images": 0, "n": 0}
    by_source: dict[str, list[dict[str, float]]] = {}
    for src, row in rows:
        by_source.setdefault(src, []).append(row)
    result = mean_of([r for _, r in rows])
    result["by_source"] = {src: mean_of(items) for src, items in sorted(by_source.items())}
    return result


# ---- guided colour ----

def random_hints(rgb: np.ndarray, count: int, rng: np.random.Generator) -> guidance.Hints:
    """``count`` points drawn uniformly from a colour photo, each with the 3x3 mean colour of the original
    (the protocol of Zhang et al. 2017)."""
    height, width = rgb.shape[:2]
    ab = lab.rgb_to_lab(rgb)[..., 1:]
    xs, ys = rng.integers(0, width, count), rng.integers(0, height, count)
    means = [ab[max(0, y - 1):y + 2, max(0, x - 1):x + 2].reshape(-1, 2).mean(0) for x, y in zip(xs, ys, strict=True)]
    return guidance.Hints(xs.astype(np.float32), ys.astype(np.float32), np.array(means, np.float32).reshape(-1, 2),
                          np.zeros(count, np.float32))


def score_guided(colorizer: Colorizer, rgb: np.ndarray, hints: guidance.Hints | None = None,
                 reference_rgb: np.ndarray | None = None) -> dict[str, float]:
    """PSNR and colourfulness of the guided picture, of the gray picture and of the naive floor of the same
    guidance (gray when there is none)."""
    gray = luma_of(rgb)
    gray_rgb = np.repeat(gray[..., None], 3, axis=2)
    l_hw = lab.gray_to_l(gray)
    references = None if reference_rgb is None else [colorizer.reference(reference_rgb)]
    guide = colorizer.guide_for(l_hw, hints, references)
    pred = lab.lab_to_rgb_levels(l_hw, colorizer.upsample_ab(colorizer.guided_ab(l_hw, guide, hints), *l_hw.shape))
    floor = gray_rgb
    if reference_rgb is not None:
        floor = lab.lab_to_rgb_levels(l_hw, guidance.naive_reference(l_hw, reference_rgb))
    elif hints is not None:
        floor = lab.lab_to_rgb_levels(l_hw, guidance.naive_propagation(hints, l_hw))
    return {"psnr": psnr(rgb, pred), "gray_psnr": psnr(rgb, gray_rgb), "naive_psnr": psnr(rgb, floor),
            "colorfulness": colorfulness(pred), "real_colorfulness": colorfulness(rgb),
            "used_guide": float(guide is not None)}


def summarize_guided(rows: list[dict[str, float]]) -> dict[str, float]:
    if not rows:
        return {"images": 0}
    out = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    out["psnr_gain"] = out["psnr"] - out["gray_psnr"]
    out["naive_gain"] = out["naive_psnr"] - out["gray_psnr"]
    out["over_naive"] = out["psnr"] - out["naive_psnr"]
    out["colorfulness_ratio"] = out["colorfulness"] / max(out["real_colorfulness"], 1e-9)
    return {k: round(v, 4) for k, v in out.items()} | {"images": len(rows)}


def evaluate_hints(colorizer: Colorizer, paths: list[Path], count: int, seed: int = 0,
                   progress: Callable[[int, int], None] | None = None) -> dict[str, float]:
    """Mean scores with ``count`` random hints per photo (photo i's points drawn with seed (seed, i)); a gray
    photo, which has no colour to draw hints from, is skipped and counted (it crashed a caller that had not
    left it out; an audit)."""
    if count < 0:
        raise ConfigError(f"{count} hints: the count must not be negative")
    rows, gray = [], 0
    for i, path in enumerate(paths):
        try:
            rgb = read_rgb(path)
        except NoColourError:
            gray += 1
        else:
            rows.append(score_guided(colorizer, rgb,
                                     hints=random_hints(rgb, count, np.random.default_rng((seed, i)))))
        if progress is not None:
            progress(i + 1, len(paths))
    return summarize_guided(rows) | {"hints": count, "seed": seed} | ({"skipped_gray": gray} if gray else {})


def evaluate_references(colorizer: Colorizer, pairs: list[tuple[Path, Path]],
                        progress: Callable[[int, int], None] | None = None,
                        unreadable: list[tuple[Path, str]] | None = None) -> dict[str, float]:
    """Mean scores of (photo, reference) pairs: each photo's luma coloured from its colour reference. A
    reference that cannot be read as a colour picture skips its pair (added to ``unreadable``)."""
    rows, skipped = [], 0
    for i, (path, ref_path) in enumerate(pairs):
        try:
            reference_rgb = read_colour_image(ref_path, "reference")
            failed = None
        except InputError as err:
            failed = (ref_path, str(err))
        if failed is None:
            try:
                rgb = read_rgb(path)
            except NoColourError as err:  # a gray photo: nothing to score against (it crashed; an audit)
                failed = (path, str(err))
        if failed is not None:
            skipped += 1
            if unreadable is not None:
                unreadable.append(failed)
        else:
            rows.append(score_guided(colorizer, rgb, reference_rgb=reference_rgb))
        if progress is not None:
            progress(i + 1, len(pairs))
    return summarize_guided(rows) | {"skipped_unreadable": skipped}


def mirrored_name(path: Path, folders: Iterable[Path]) -> Path:
    """``path`` relative to the input folder it was found in (prefixed by that folder's name when several)."""
    folders = [Path(f) for f in folders]
    for folder in folders:
        if folder.is_dir() and path.is_relative_to(folder):
            relative = path.relative_to(folder)
            return Path(folder.resolve().name) / relative if len(folders) > 1 else relative
    return Path(path.name)


class PredictionWriter:
    """An ImageSink that writes each prediction to ``out_dir`` under its mirrored name (atomic writes)."""

    def __init__(self, out_dir: Path, folders: Iterable[Path]):
        self.out_dir = Path(out_dir)
        self.folders = [Path(f) for f in folders]

    def check(self, paths: Iterable[Path], overwrite: bool = False) -> None:
        """Raise OutputError before any work when a prediction would replace a file (without ``overwrite``), or
        two photos' predictions would go to one file (a/val/x.jpg and b/val/x.jpg: one was lost; an audit)."""
        taken: dict[Path, Path] = {}
        for path in paths:
            target = self._target(path)
            if target.exists() and not overwrite:
                raise OutputError(f"{target}: output exists; pass --overwrite to replace it")
            if (other := taken.setdefault(target, Path(path))) != Path(path):
                raise OutputError(f"{target}: the predictions of {other} and {path} would both be saved there; "
                                  "give the input folders different names, or score them one at a time")

    def _target(self, path: Path) -> Path:
        """Where ``path``'s prediction goes; an OutputError when that is the photo itself."""
        target = self.out_dir / mirrored_name(path, self.folders)
        if target.resolve() == Path(path).resolve():
            raise OutputError(f"{target}: saving there would overwrite the original; choose another --save folder")
        return target

    def __call__(self, path: Path, gray: np.ndarray, pred: np.ndarray, original: np.ndarray) -> None:
        target = self._target(path)
        make_output_folder(target.parent)
        write_image(target, pred)


SHEET_TILE_HEIGHT = 200  # pixels


class ContactSheet:
    """An ImageSink that keeps the first ``rows`` images as gray | prediction | original tiles."""

    def __init__(self, rows: int = 12, tile_height: int = SHEET_TILE_HEIGHT):
        self.rows, self.tile_height = rows, tile_height
        self._strips: list[np.ndarray] = []

    def __call__(self, path: Path, gray: np.ndarray, pred: np.ndarray, original: np.ndarray) -> None:
        if len(self._strips) < self.rows:
            self._strips.append(np.concatenate([self._tile(im) for im in (gray, pred, original)], axis=1))

    def _tile(self, rgb: np.ndarray) -> np.ndarray:
        h, w = rgb.shape[:2]
        width = max(1, round(w * self.tile_height / h))
        interpolation = cv2.INTER_AREA if h > self.tile_height else cv2.INTER_CUBIC
        return cv2.resize(rgb, (width, self.tile_height), interpolation=interpolation)

    def image(self) -> np.ndarray:
        """The sheet, uint8 RGB; rows narrower than the widest are padded with black on the right."""
        if not self._strips:
            raise OutputError("contact sheet: no images were scored")
        width = max(s.shape[1] for s in self._strips)
        return np.concatenate([np.pad(s, ((0, 0), (0, width - s.shape[1]), (0, 0))) for s in self._strips])

    def write(self, path: Path) -> None:
        write_image(Path(path), self.image())
