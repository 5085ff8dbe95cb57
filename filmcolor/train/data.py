"""Training data: any folder(s) of colour images -> (normalised L, normalised ab) pairs.

Augmentation randomness is derived from (seed, epoch, index) alone, so a resumed run sees exactly
the batches an uninterrupted one would, whatever the number of loader workers.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from filmcolor import lab
from filmcolor.errors import FilmcolorError, InputError
from filmcolor.imageio import list_images, read_image
from filmcolor.metrics import GRAY_CHROMA, mean_chroma


def split_paths(data: tuple[str, ...], val_data: tuple[str, ...], train_size: int, val_size: int,
                seed: int, holdout_sources: tuple[str, ...] = ()) -> tuple[list[Path], list[Path]]:
    """The seed's split: sample train_size + val_size images with a fixed seed (or use val_data).

    Photos of ``holdout_sources`` never enter training (they are scored separately at validation).
    """
    from filmcolor.evaluate import source_of

    paths = [p for p in list_images(Path(d) for d in data) if source_of(p) not in holdout_sources]
    if not paths:
        raise InputError(f"no training images found in {', '.join(data)}")
    order = np.random.default_rng(seed).permutation(len(paths))
    if val_data:
        val = list_images(Path(d) for d in val_data)
        if not val:
            raise InputError(f"no validation images found in {', '.join(val_data)}")
        return [paths[i] for i in order[:train_size]], val[:val_size] if val_size else val
    n_train = min(train_size, max(1, len(paths) - min(val_size, len(paths) // 5)))
    train = [paths[i] for i in order[:n_train]]
    val = [paths[i] for i in order[n_train:n_train + val_size]]
    return train, val


def to_rgb(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return np.repeat(image[..., None], 3, axis=2)
    return np.ascontiguousarray(image[..., :3])


@dataclass
class ScreenedImages:
    """The usable images of a list, what was skipped, and (when kept) the decoded RGB of each usable one."""

    paths: list[Path]
    images: list[np.ndarray] | None
    unreadable: list[tuple[Path, str]]  # (path, one-line reason)
    gray: list[Path]


def screen_images(paths: list[Path], skip_gray: bool = True, keep: bool = False,
                  threads: int = 1) -> ScreenedImages:
    """Decode every image once: skip unreadable ones and (``skip_gray``) those without chroma.

    Order is kept, so the usable list is the same on every run over the same files (exact resume).
    ``keep`` returns the decoded images so that --cache-images need not decode them again.
    """
    def check(path: Path) -> tuple[str, np.ndarray | str]:
        try:
            image = read_image(path)
        except FilmcolorError as err:
            return "unreadable", str(err)
        if skip_gray and (image.ndim == 2 or mean_chroma(to_rgb(image)) < GRAY_CHROMA):
            return "gray", ""
        return "ok", to_rgb(image) if keep else ""

    with ThreadPoolExecutor(max(1, threads)) as pool:  # OpenCV decodes without the GIL
        verdicts = list(pool.map(check, paths))
    screened = ScreenedImages([], [] if keep else None, [], [])
    for path, (verdict, payload) in zip(paths, verdicts, strict=True):
        if verdict == "unreadable":
            screened.unreadable.append((path, payload))
        elif verdict == "gray":
            screened.gray.append(path)
        else:
            screened.paths.append(path)
            if keep:
                screened.images.append(payload)
    return screened


def lab_pair(rgb: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """RGB uint8 (H, W, 3) -> L_norm (1, H, W) and ab_norm (2, H, W) float32 tensors."""
    lab_hw3 = lab.rgb_to_lab(rgb)
    l_norm = lab.normalize_l(lab_hw3[..., 0])[None]
    ab_norm = lab.normalize_ab(lab_hw3[..., 1:]).transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(l_norm)), torch.from_numpy(np.ascontiguousarray(ab_norm))


class ColorImages(Dataset):
    """Colour photos as Lab training pairs; ``train`` adds the random crop/scale and flip."""

    def __init__(self, paths: list[Path], size: int, train: bool, crop_mode: str = "resize", seed: int = 0,
                 cache: bool = False, images: list[np.ndarray] | None = None):
        """``images``: the already decoded RGB of ``paths`` (from screen_images), used as the cache."""
        self.paths = paths
        self.size = size
        self.train = train
        self.crop_mode = crop_mode
        self.seed = seed
        if images is not None and len(images) != len(paths):
            raise ValueError(f"{len(images)} decoded images for {len(paths)} paths")
        self._cache: list[np.ndarray] | None = images
        if self._cache is None and cache:
            self._cache = [self._load(i) for i in range(len(paths))]

    def __len__(self) -> int:
        return len(self.paths)

    def _load(self, index: int) -> np.ndarray:
        return to_rgb(read_image(self.paths[index]))

    def image(self, index: int) -> np.ndarray:
        return self._cache[index] if self._cache is not None else self._load(index)

    def __getitem__(self, key: int | tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        """``key`` is an index, or (epoch, index) from EpochOrder so that workers need no epoch state."""
        epoch, index = key if isinstance(key, tuple) else (0, key)
        rgb = self.image(index)
        rng = np.random.default_rng((self.seed, epoch, index)) if self.train else None
        return lab_pair(self.transform(rgb, rng))

    def transform(self, rgb: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
        size = self.size
        h, w = rgb.shape[:2]
        if self.crop_mode == "resize":
            out = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_CUBIC)
        elif rng is None:  # validation with crops: short side to size, centre crop
            scale = size / min(h, w)
            rgb = cv2.resize(rgb, (max(size, round(w * scale)), max(size, round(h * scale))),
                             interpolation=cv2.INTER_AREA)
            y0, x0 = (rgb.shape[0] - size) // 2, (rgb.shape[1] - size) // 2
            out = rgb[y0:y0 + size, x0:x0 + size]
        else:  # random short side in [1.125 size, 2 size] (capped by the image), random crop
            short = rng.uniform(size * 1.125, max(size * 1.125, min(2.0 * size, min(h, w))))
            scale = short / min(h, w)
            nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
            rgb = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
            y0 = int(rng.integers(0, nh - size + 1))
            x0 = int(rng.integers(0, nw - size + 1))
            out = rgb[y0:y0 + size, x0:x0 + size]
        if rng is not None and rng.random() < 0.5:
            out = out[:, ::-1]
        return np.ascontiguousarray(out)


class EpochOrder(torch.utils.data.Sampler):
    """Shuffled (epoch, index) keys from (seed, epoch); shard ``rank`` of ``world``; may skip batches."""

    def __init__(self, n: int, seed: int, batch_size: int, rank: int = 0, world: int = 1):
        self.n, self.seed, self.batch_size, self.rank, self.world = n, seed, batch_size, rank, world
        self.epoch = 0
        self.skip_batches = 0

    def set_epoch(self, epoch: int, skip_batches: int = 0) -> None:
        self.epoch, self.skip_batches = epoch, skip_batches

    def _indices(self) -> list[int]:
        order = np.random.default_rng((self.seed, 7919, self.epoch)).permutation(self.n)
        per_rank = self.n // self.world
        return order[self.rank * per_rank:(self.rank + 1) * per_rank].tolist()

    def batches_per_epoch(self) -> int:
        return len(self._indices()) // self.batch_size  # drop_last

    def __iter__(self):
        idx = self._indices()
        usable = (len(idx) // self.batch_size) * self.batch_size
        return iter([(self.epoch, i) for i in idx[self.skip_batches * self.batch_size:usable]])

    def __len__(self) -> int:
        return max(0, (self.batches_per_epoch() - self.skip_batches) * self.batch_size)
