"""The user's colour guide: hints (points, scribbles), reference photos, keyframes -> one dense map.

Every kind of guidance ends as the same (3, h, w) map at the network's render size: normalised a, b
and a confidence in [0, 1]. Sparse hints are spread by a Gaussian in space times a Gaussian in L (the
"naive propagation": alone, it is the floor the network must beat); a reference photo's ab moves to the
picture by matching the network encoder's features (cosine similarity, softmax over the reference's
cells). The network (models/guided.py) then finishes: it follows the guide where it is confident and
the picture's content agrees, and colours the rest itself.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from filmcolor import lab
from filmcolor.errors import InputError
from filmcolor.fsutil import not_a_file
from filmcolor.imageio import IMAGE_INPUT_EXTENSIONS, read_colour_image

GUIDE_CHANNELS = 3  # a_norm, b_norm, confidence in [0, 1]
SIGMA_SPACE = 0.15  # of the picture's long side: how far one hint reaches
SIGMA_L = 10.0  # L units: a hint fades across a change of lightness (an object's edge)
# After the network, what the hints tell of its colour (how far to trust its own guess, what it left of each
# hint) is spread this far (of the long side; with SIGMA_L). Chosen on our held-out split (10 random hints):
# with the residual alone 0.15 / 0.3 / 0.5 gave +0.10 / +0.20 / +0.23 dB over the network alone; once the
# residual follows content (CONTENT_TAU 0.1, coarse features), 0.5 / 0.8 / 1.2 / 3 gave +4.28 / +4.34 / +4.34
# / +4.34 dB over gray: 0.8, the least that reaches the plateau.
CORRECTION_SIGMA_SPACE = 0.8
# Which hints' residual a cell takes is also weighed by how alike the encoder sees the two places:
# exp((cosine - 1) / CONTENT_TAU) of their unit features (content_features). Only the mix, not the reach (the
# confidence): a cell of the sky takes the sky hint's residual, not the nearer roof's. On our held-out split,
# at a spread of 0.5 with the coarse features: 0.05 / 0.1 / 0.15 / 0.2 gave +4.15 / +4.28 / +4.28 / +4.27 dB
# (+4.05 without); with the fine share, a spread of 0.8: 0.1 / 0.2 / 0.3 gave +4.37 / +4.32 / +4.28. 0.2 is
# taken, not 0.1: at 0.1 a hint's colour glows past an object's edge (the surfer's skin onto the water of
# docs/surfer_hints.jpg), at 0.2 barely.
CONTENT_TAU = 0.2
# The content features are the matching features (strides 8 and 16) and, for sharper object edges, the
# encoder's stride-4 tap, this share of the cosine. On our held-out split (CONTENT_TAU 0.1, spread 0.8):
# 0 / 0.3 / 0.5 gave +4.34 / +4.37 / +4.34 dB; the glow past edges shrinks from ~3 cells to ~1.
CONTENT_FINE_SHARE = 0.3
MAX_HINTS_BYTES = 64 << 20  # a hints file of 20,000 points is 1.2 MB; past this it is something else
MAX_POINTS = 512  # scribbles are thinned to this many hint cells at the render size
PROPAGATE_CHUNK = 32  # hints spread at once: 512 at a 224x384 render would need 176 MB per temporary
MATCH_TEMPERATURE = 0.02  # softmax temperature over cosine similarities (../shared/CALIBRATION.md: +4.5 dB)
# Confidence of a matched cell from its best cosine similarity: 0 at or below MATCH_FLOOR, 1 at MATCH_FULL.
# Measured with the shipped encoder (short side 256): cells of a frame against a frame of the same shot 20
# frames later have best similarities of 0.63 (10th percentile) / 0.78 (mean) / 0.90 (90th); the raw
# transfer at full confidence is +6.4 dB over gray there, so a good match must reach confidence 1.
MATCH_FLOOR, MATCH_FULL = 0.45, 0.7
# A reference is used for a picture when its mean best similarity reaches this: pictures of other
# content scored 0.51-0.61 (val photos, frames of other clips), frames of the same shot 0.78-0.95.
REFERENCE_MIN_SCORE = 0.68

_HEX = re.compile(r"^(?:#?([0-9a-fA-F]{6})|#([0-9a-fA-F]{3}))$")  # #RRGGBB (or RRGGBB), or CSS's short #RGB


@dataclass(frozen=True)
class Hints:
    """Sparse colour hints in pixel coordinates of the picture: (P,) x, y, radius and (P, 2) ab."""

    x: np.ndarray
    y: np.ndarray
    ab: np.ndarray  # Lab units
    radius: np.ndarray  # pixels; 0: the pixel itself

    def __len__(self) -> int:
        return len(self.x)

    @classmethod
    def empty(cls) -> Hints:
        zero = np.zeros(0, np.float32)
        return cls(zero, zero, np.zeros((0, 2), np.float32), zero)

    def checked(self, width: int, height: int) -> Hints:
        """These hints as float32 arrays, checked against a W x H picture as parse_point checks a JSON's (hints
        made in Python reached numpy as an IndexError or a ValueError): an InputError naming the first bad one."""
        try:
            x, y, radius = (np.asarray(v, np.float32).reshape(-1) for v in (self.x, self.y, self.radius))
            ab = np.asarray(self.ab, np.float32).reshape(-1, 2)
        except (TypeError, ValueError) as err:
            raise InputError(f"hints: x, y and radius must be (P,) numbers and ab (P, 2) ({err})") from err
        if not len(x) == len(y) == len(radius) == len(ab):
            raise InputError(f"hints: {len(x)} x, {len(y)} y, {len(radius)} radii and {len(ab)} ab: one each per hint")
        bad = ~((x >= 0) & (x < width) & (y >= 0) & (y < height))  # (NaN is in no range)
        if bad.any():
            i = int(np.argmax(bad))
            raise InputError(f"hint {i}: ({x[i]:g}, {y[i]:g}) is outside the {width}x{height} picture")
        bad = ~((radius >= 0) & (radius <= max(width, height))) | ~np.isfinite(ab).all(1)
        if bad.any():
            i = int(np.argmax(bad))
            raise InputError(f"hint {i}: radius {radius[i]:g} must be between 0 and the picture's size, ab finite")
        return Hints(x, y, ab, radius)

    @classmethod
    def of(cls, points: list[tuple[float, float, np.ndarray, float]]) -> Hints:
        """Hints from (x, y, ab, radius) points (parse_point's)."""
        if not points:
            return cls.empty()
        xs, ys, abs_, radii = zip(*points, strict=True)
        return cls(np.array(xs, np.float32), np.array(ys, np.float32), np.stack(abs_), np.array(radii, np.float32))


def parse_color(text: object) -> np.ndarray:
    """'#aa3311' (or 'aa3311', or '#a31' as CSS writes #aa3311) -> its ab in Lab units (the hint's own lightness
    is not used)."""
    match = _HEX.match(text.strip()) if isinstance(text, str) else None
    if not match:
        raise ValueError(f"colour {text!r} is not #RRGGBB")
    digits = match.group(1) or "".join(d * 2 for d in match.group(2))
    rgb = np.frombuffer(bytes.fromhex(digits), np.uint8).reshape(1, 1, 3)
    return lab.rgb_to_lab(rgb)[0, 0, 1:].astype(np.float32)


def load_hints(path: Path, width: int, height: int) -> Hints:
    """HINTS.json ({"points": [{"x": 120, "y": 48, "color": "#aa3311", "radius": 3}, ...]}) for a W x H picture."""
    path = Path(path)
    if why := not_a_file(path):  # (a pipe hung for ever, /dev/zero filled the memory; an audit)
        raise InputError(why)
    try:
        with path.open("rb") as f:
            text = f.read(MAX_HINTS_BYTES + 1)
        if len(text) > MAX_HINTS_BYTES:
            raise InputError(f"{path}: over {MAX_HINTS_BYTES >> 20} MiB, not a hints file")
        data = json.loads(text)  # UTF-8, -16 or -32, with a byte-order mark or not (Notepad's)
    except FileNotFoundError as err:
        raise InputError(f"{path}: hints file not found") from err
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError, ValueError) as err:
        # (ValueError: a number of over 4300 digits, which Python refuses to read)
        raise InputError(f"{path}: not a readable hints JSON file ({err})") from err
    points = data.get("points") if isinstance(data, dict) else None
    if not isinstance(points, list):
        raise InputError(f'{path}: expected {{"points": [{{"x": .., "y": .., "color": "#rrggbb"}}, ...]}}')
    return Hints.of([parse_point(point, width, height, f"{path}: point {i}") for i, point in enumerate(points)])


def parse_point(point: object, width: int, height: int, where: str) -> tuple[float, float, np.ndarray, float]:
    """One hint of a hints JSON ({"x": 120, "y": 48, "color": "#aa3311", "radius": 3}) for a W x H picture,
    checked: (x, y, ab, radius). ``where`` starts the error's message ("HINTS.json: point 3")."""
    if not isinstance(point, dict):
        raise InputError(f"{where}: expected an object with x, y and color")
    values = [point.get("x"), point.get("y"), point.get("radius", 0)]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):  # JSON numbers only
        raise InputError(f"{where}: x and y must be numbers (pixels), radius a number if given")
    x, y, radius = (_as_float(v) for v in values)
    if not (0 <= x < width and 0 <= y < height):  # (NaN is in no range)
        raise InputError(f"{where}: ({x:g}, {y:g}) is outside the {width}x{height} picture")
    # (a float32 rounds 159.99999999 up to 160, outside a 160-pixel picture; the error then named no file and
    # a number not written; an audit): a point that passed stays inside
    x, y = min(x, float(np.nextafter(np.float32(width), 0))), min(y, float(np.nextafter(np.float32(height), 0)))
    if not 0 <= radius <= max(width, height):
        raise InputError(f"{where}: radius {radius:g} must be between 0 and the picture's size")
    if "color" not in point and (other := next((k for k in point if str(k).lower() in ("color", "colour")), None)):
        raise InputError(f'{where}: the key is "color", not "{other}"')
    try:
        ab = parse_color(point.get("color"))
    except ValueError as err:
        raise InputError(f"{where}: {err}") from err
    return x, y, ab, radius


def _as_float(value: int | float) -> float:
    """A JSON number as a float; an integer too large for one (400 digits) as infinity, which no check passes."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def hints_from_scribbles(path: Path, width: int, height: int) -> Hints:
    """An RGBA image the size of the picture: every opaque pixel (alpha >= 128) is a hint of its colour."""
    from filmcolor.imageio import declared_size_of, read_image

    declared = declared_size_of(Path(path))  # (a 12000x12000 one was decoded first: 1.4 GB; an audit)
    if declared is not None and sorted(declared) != sorted((width, height)):
        raise InputError(f"{path}: hints image is {declared[0]}x{declared[1]}, the picture {width}x{height}")
    image = read_image(Path(path))
    if image.ndim != 3 or image.shape[2] != 4:
        raise InputError(f"{path}: hints image must be RGBA (opaque strokes on a transparent background)")
    if image.shape[:2] != (height, width):
        raise InputError(f"{path}: hints image is {image.shape[1]}x{image.shape[0]}, the picture {width}x{height}")
    ys, xs = np.nonzero(image[..., 3] >= 128)
    if len(xs) == 0:
        return Hints.empty()
    ab = lab.rgb_to_lab(np.ascontiguousarray(image[ys, xs, :3][None]))[0, :, 1:]
    zero = np.zeros(len(xs), np.float32)
    return Hints(xs.astype(np.float32), ys.astype(np.float32), ab.astype(np.float32), zero)


def guidance_file(given: Path | None, image: Path, inputs: Iterable[Path], suffixes: tuple[str, ...]) -> Path | None:
    """The guidance file of one image: ``given`` itself when it is a file; when it is a folder, the file
    named like the image (its path under the input folder of ``inputs`` it was found in, with any of
    ``suffixes``), or None."""
    if given is None or not given.is_dir():
        return given
    root = next((Path(f) for f in inputs if Path(f).is_dir() and image.is_relative_to(f)), None)
    stem = image.relative_to(root).with_suffix("") if root is not None else Path(image.stem)
    for suffix in suffixes:  # 1890.05.12_pier.jpg takes 1890.05.12_pier.json (with_suffix: 1890.05.json)
        for case in (suffix, suffix.upper()):  # a camera's PIER.JPG, Windows' NOTES.JSON
            candidate = given / stem.parent / (stem.name + case)
            if candidate.is_file():
                return candidate
    return None


def concat_hints(a: Hints | None, b: Hints | None) -> Hints | None:
    if a is None or b is None:
        return a if b is None else b
    return Hints(*(np.concatenate([x, y]) for x, y in zip((a.x, a.y, a.ab, a.radius), (b.x, b.y, b.ab, b.radius),
                                                          strict=True)))


@dataclass(frozen=True)
class GuidanceFiles:
    """What the user gave to steer the colour of stills: each a file, or a folder of files named like the
    images (NAME.json, NAME.png, NAME.*); an image without one of its own is coloured without it."""

    hints: Path | None = None  # HINTS.json
    hints_image: Path | None = None  # RGBA scribbles the size of the image
    reference: Path | None = None  # a colour photo of similar content

    def check(self) -> None:
        for flag, path in (("--hints", self.hints), ("--hints-image", self.hints_image),
                           ("--reference", self.reference)):
            if path is None or path.is_dir():
                continue
            if (why := not_a_file(path)) is None:
                raise InputError(f"{path}: {flag} file or folder not found")
            if why:  # a link that loops, a pipe (said as "not found", or read for ever; an audit)
                raise InputError(why)
        if self.reference is not None and self.reference.is_file():  # one reference for all: said once, first
            read_colour_image(self.reference, "reference")

    def __bool__(self) -> bool:
        return any(p is not None for p in (self.hints, self.hints_image, self.reference))

    def picture_folders(self) -> tuple[Path, ...]:
        """The folder forms whose files are pictures (scribbles, references): none of them is a photo to colour."""
        return tuple(p for p in (self.hints_image, self.reference) if p is not None and p.is_dir())

    def _forms(self) -> tuple[tuple[Path | None, tuple[str, ...]], ...]:
        """Each of hints, scribbles and reference: what was given, and the suffixes of the files it takes."""
        return ((self.hints, (".json",)), (self.hints_image, (".png", ".webp", ".tif", ".tiff")),
                (self.reference, IMAGE_INPUT_EXTENSIONS))

    def files_for(self, image: Path, inputs: Iterable[Path]) -> tuple[Path | None, ...]:
        """The hints, scribbles and reference files of one image (None where it has none)."""
        inputs = list(inputs)
        return tuple(guidance_file(given, image, inputs, suffixes) for given, suffixes in self._forms())

    def folders_without(self, image: Path, inputs: Iterable[Path]) -> list[str]:
        """'--hints FOLDER' for each folder form that holds no file of this image."""
        files = self.files_for(image, inputs)
        return [f"{flag} {given}" for flag, (given, _), found in zip(("--hints", "--hints-image", "--reference"),
                                                                     self._forms(), files, strict=True)
                if given is not None and given.is_dir() and found is None]

    def unmatched(self, images: Iterable[Path], inputs: Iterable[Path]) -> list[Path]:
        """The files in the folder forms that no image of ``images`` takes (a misspelt name, say)."""
        inputs, used = list(inputs), set()
        for image in images:
            used.update(self.files_for(image, inputs))
        return [path for given, suffixes in self._forms() if given is not None and given.is_dir()
                for path in sorted(given.rglob("*"))
                if path.is_file() and path.suffix.lower() in suffixes and path not in used]

    def for_image(self, image: Path, inputs: Iterable[Path], width: int, height: int,
                  notes: list[str] | None = None) -> tuple[Hints | None, np.ndarray | None]:
        """The hints (pixel coordinates) and the reference picture (uint8 RGB) of one image, if any; what
        was given and takes no effect is said in ``notes``."""
        hints_path, scribbles_path, reference_path = self.files_for(image, inputs)
        hints = None if hints_path is None else load_hints(hints_path, width, height)
        if hints_path is not None and not hints and notes is not None:
            notes.append(f"{hints_path}: no points, so no hint")
        if scribbles_path is not None:
            scribbles = hints_from_scribbles(scribbles_path, width, height)
            if not scribbles and notes is not None:
                notes.append(f"{scribbles_path}: no opaque pixel (alpha 128 or more), so no hint")
            hints = concat_hints(hints, scribbles)
        reference = None if reference_path is None else read_colour_image(reference_path, "reference", notes)
        return hints, reference


def hints_at(hints: Hints, l_hw: np.ndarray, out_h: int, out_w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hints as cells of an out_h x out_w grid over the picture: (P, 2) yx cell centres, (P, 2) ab, (P,) L.

    A point's L is the picture's own (3x3 mean) at the point; a hint with a radius covers every cell of its
    disk, each with the L of its own cell (a disk across an edge keeps the edge). Hints falling in one cell
    are averaged; more than MAX_POINTS cells are thinned evenly. The hints' own lightness is never used.
    """
    height, width = l_hw.shape
    if len(hints) == 0:
        return np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32), np.zeros(0, np.float32)
    sy, sx = out_h / height, out_w / width
    l_blur = cv2.blur(l_hw, (3, 3))
    l_out = cv2.resize(l_hw, (out_w, out_h), interpolation=cv2.INTER_AREA)
    # each point into its cell, summed at once (a scribble of 20 million opaque pixels took minutes point by point)
    cy = np.minimum(out_h - 1, (hints.y * sy).astype(np.int64))
    cx = np.minimum(out_w - 1, (hints.x * sx).astype(np.int64))
    cell = cy * out_w + cx
    size = out_h * out_w
    count = np.bincount(cell, minlength=size).astype(np.float64)
    sums = [np.bincount(cell, weights=v, minlength=size) for v in
            (hints.ab[:, 0], hints.ab[:, 1], l_blur[hints.y.astype(np.int64), hints.x.astype(np.int64)])]
    l_flat = l_out.reshape(-1).astype(np.float64)
    for i in np.nonzero((hints.radius * sy >= 1) | (hints.radius * sx >= 1))[0]:  # a disk: every cell in it
        ry, rx, ky0, kx0 = hints.radius[i] * sy, hints.radius[i] * sx, int(cy[i]), int(cx[i])
        ys = np.arange(max(0, int(ky0 - ry)), min(out_h, int(ky0 + ry) + 1))
        xs = np.arange(max(0, int(kx0 - rx)), min(out_w, int(kx0 + rx) + 1))
        inside = (((ys[:, None] - ky0) / max(ry, 1e-6)) ** 2 + ((xs[None, :] - kx0) / max(rx, 1e-6)) ** 2) <= 1
        inside[ky0 - ys[0], kx0 - xs[0]] = False  # (its own cell holds the point already)
        k = (ys[:, None] * out_w + xs[None, :])[inside]  # cells of the disk, each once: with the L of its own
        count[k] += 1
        sums[0][k] += hints.ab[i, 0]
        sums[1][k] += hints.ab[i, 1]
        sums[2][k] += l_flat[k]
    keys = np.nonzero(count)[0]  # in (row, column) order
    if len(keys) > MAX_POINTS:
        keys = keys[np.linspace(0, len(keys) - 1, MAX_POINTS).round().astype(int)]
    yx = np.stack([keys // out_w + 0.5, keys % out_w + 0.5], axis=1).astype(np.float32)
    ab = np.stack([sums[0][keys], sums[1][keys]], axis=1) / count[keys, None]
    ab, l_pts = ab.astype(np.float32), (sums[2][keys] / count[keys]).astype(np.float32)
    return yx, ab, l_pts


def propagate(l_hw: torch.Tensor, yx: torch.Tensor, ab: torch.Tensor, l_pts: torch.Tensor,
              sigma_space: float | None = None, sigma_l: float = SIGMA_L,
              content: tuple[torch.Tensor, torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Spread P hints over an (H, W) L picture (L units): their ab (P, 2) Lab units (or any (P, C) values)
    -> (C, H, W), and a confidence (H, W).

    Each hint weighs w = exp(-d^2 / 2 sigma_space^2) * exp(-dL^2 / 2 sigma_l^2) (sigma_space defaults to
    SIGMA_SPACE of the long side); the values are the weighted mean of the hints', confidence 1 - prod(1 - w).
    ``content``: unit features of the picture (F, H, W) and of the hints (P, F); the mean then also weighs
    each hint by exp((cosine - 1) / CONTENT_TAU) (the confidence does not).
    """
    owner = torch.zeros(len(yx), dtype=torch.long, device=l_hw.device)
    batched = None if content is None else (content[0][None], content[1])
    mean, conf = propagate_batch(l_hw[None], yx, ab, l_pts, owner, sigma_space, sigma_l, batched)
    return mean[0], conf[0]


def propagate_batch(l_nhw: torch.Tensor, yx: torch.Tensor, values: torch.Tensor, l_pts: torch.Tensor,
                    owner: torch.Tensor, sigma_space: float | None = None, sigma_l: float = SIGMA_L,
                    content: tuple[torch.Tensor, torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """propagate() for N pictures at once, on their device: L (N, H, W) and Q hints of any of them, each
    with yx (Q, 2), values (Q, C), L (Q,) and the index of its picture ``owner`` (Q,); ``content``: (N, F,
    H, W) and (Q, F). -> (N, C, H, W) weighted means and (N, H, W) confidences (0 where no hint reaches).
    """
    n, height, width = l_nhw.shape
    if sigma_space is None:
        sigma_space = SIGMA_SPACE * max(height, width)
    gy = torch.arange(height, dtype=l_nhw.dtype, device=l_nhw.device) + 0.5
    gx = torch.arange(width, dtype=l_nhw.dtype, device=l_nhw.device) + 0.5
    total = l_nhw.new_zeros(n, height, width)
    mean = l_nhw.new_zeros(n, values.shape[1], height, width)
    log_miss = l_nhw.new_zeros(n, height, width)  # log prod(1 - w)
    for i in range(0, len(yx), PROPAGATE_CHUNK):  # a chunk of hints at a time: memory is chunk x H x W
        pts = slice(i, i + PROPAGATE_CHUNK)
        whose = owner[pts]
        dy2 = (gy[None, :] - yx[pts, 0:1]) ** 2  # (p, H)
        dx2 = (gx[None, :] - yx[pts, 1:2]) ** 2  # (p, W)
        log_w = -(dy2[:, :, None] + dx2[:, None, :]) / (2 * sigma_space**2)
        log_w -= (l_nhw[whose] - l_pts[pts, None, None]) ** 2 / (2 * sigma_l**2)  # (p, H, W)
        w = torch.exp(log_w)
        w_mix = w
        if content is not None:
            if n == 1:  # no copy of the picture's features per hint
                cosine = torch.einsum("fhw,pf->phw", content[0][0], content[1][pts])
            else:
                cosine = torch.einsum("pfhw,pf->phw", content[0][whose], content[1][pts])
            w_mix = torch.exp(log_w + (cosine - 1.0) / CONTENT_TAU)
        total.index_add_(0, whose, w_mix)
        mean.index_add_(0, whose, w_mix[:, None] * values[pts, :, None, None])
        log_miss.index_add_(0, whose, torch.log1p(-w.clamp(max=1.0 - 1e-6)))
    return mean / total.clamp_min(1e-6)[:, None], 1.0 - torch.exp(log_miss)


def pack_guide(ab_2hw: torch.Tensor, conf_hw: torch.Tensor) -> torch.Tensor:
    """ab (2, H, W) Lab units + confidence (H, W) -> the network's guide (3, H, W): a_norm, b_norm, conf.
    Also for a batch: (N, 2, H, W) and (N, H, W) -> (N, 3, H, W)."""
    conf = conf_hw.unsqueeze(-3)
    return torch.cat([lab.normalize_ab(ab_2hw) * (conf > 0), conf], -3)


def propagate_at(hints: Hints, l_hw: np.ndarray, out_h: int, out_w: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Hints on a picture with L ``l_hw`` (full resolution) spread over an out_h x out_w grid: ab, confidence."""
    yx, ab, l_pts = hints_at(hints, l_hw, out_h, out_w)
    l_small = cv2.resize(l_hw, (out_w, out_h), interpolation=cv2.INTER_AREA)
    return propagate(torch.from_numpy(l_small), torch.from_numpy(yx), torch.from_numpy(ab), torch.from_numpy(l_pts))


@dataclass(frozen=True)
class _HintCells:
    """Hints placed once on a grid over the picture (the network's output), to spread values from them."""

    yx: torch.Tensor  # (P, 2) cell centres
    ab: np.ndarray  # (P, 2) the hints' ab, Lab units
    l_pts: torch.Tensor  # (P,) the picture's L at each hint
    l_grid: torch.Tensor  # (h, w) the picture's L on the grid
    features: torch.Tensor | None = None  # (F, h, w) unit features on the grid (content_features)

    @classmethod
    def of(cls, hints: Hints, l_hw: np.ndarray, out_h: int, out_w: int,
           features: torch.Tensor | None = None) -> _HintCells | None:
        yx, ab, l_pts = hints_at(hints, l_hw, out_h, out_w)
        if len(yx) == 0:
            return None
        l_grid = cv2.resize(l_hw, (out_w, out_h), interpolation=cv2.INTER_AREA)
        if features is not None and features.shape[-2:] != (out_h, out_w):  # content_features are on the grid
            features = F.normalize(F.interpolate(features[None].float(), size=(out_h, out_w), mode="bilinear",
                                                 align_corners=False)[0], dim=0)
        return cls(torch.from_numpy(yx), ab, torch.from_numpy(l_pts), torch.from_numpy(l_grid), features)

    def at(self, values_hwc: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
        """(P, C) the values of a grid (h, w, C) in the hints' cells (numpy or torch)."""
        cells = self.yx.numpy().astype(int)  # centres (+0.5) -> indices
        return values_hwc[cells[:, 0], cells[:, 1]]

    def spread(self, values_pc: np.ndarray, by_content: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Per-hint values (P, C) spread like a hint, CORRECTION_SIGMA_SPACE of the long side: their weighted
        mean (h, w, C) and its confidence (h, w); ``by_content``: the mean also weighs how alike the encoder
        sees each cell and each hint's place (CONTENT_TAU), when the features are known."""
        content = None
        if by_content and self.features is not None:
            content = (self.features, self.at(self.features.permute(1, 2, 0)))
        mean, conf = propagate(self.l_grid, self.yx, torch.from_numpy(np.ascontiguousarray(values_pc, np.float32)),
                               self.l_pts, sigma_space=CORRECTION_SIGMA_SPACE * max(self.l_grid.shape),
                               content=content)
        return mean.permute(1, 2, 0).numpy(), conf.numpy()

    def add_residual(self, ab_hw2: np.ndarray) -> np.ndarray:
        """ab moved towards the hints by what it lacks at each (see honour_hints), clamped."""
        spread, conf = self.spread(self.ab - self.at(ab_hw2), by_content=True)
        return np.clip(ab_hw2 + spread * conf[..., None], -lab.AB_LIMIT, lab.AB_LIMIT).astype(np.float32)


def follow_hints(ab_guided: np.ndarray, ab_auto: np.ndarray, hints: Hints, l_hw: np.ndarray,
                 features: torch.Tensor | None = None) -> np.ndarray:
    """The network's ab with hints (h, w, 2) (Lab units, any grid over the picture) corrected by what the
    hints say of it, given its automatic ab on the same grid (no guide) and, if known, the picture's unit
    features (F, h', w') (content_features):

    1. **Trust.** Each hint measures how far the network's own guess can be trusted where it is: the
       least-squares scale t = clip(hint . auto / |auto|^2, 0, 1) of the automatic ab at the hint onto the
       hint (1: the guess points the hint's way; 0: it is unrelated or opposite). The scales are spread
       like a hint (a Gaussian in space, CORRECTION_SIGMA_SPACE of the long side, times one in L) and
       the colour is multiplied by 1 - confidence * (1 - t): where the hints show the network guessing
       wrong (the gray pavement it paints green), its colour fades; where no hint speaks, it stays.
    2. **Residual** (honour_hints): what is still left of each hint is spread the same way and added,
       each cell taking most from the hints on content like its own (CONTENT_TAU).
    """
    cells = _HintCells.of(hints, l_hw, *ab_guided.shape[:2], features=features)
    if cells is None:
        return ab_guided
    auto = cells.at(ab_auto)
    trust = np.clip((cells.ab * auto).sum(1) / np.maximum((auto * auto).sum(1), 1.0), 0.0, 1.0)
    spread, conf = cells.spread(trust[:, None])
    return cells.add_residual(ab_guided * (1.0 - conf * (1.0 - spread[..., 0]))[..., None])


def honour_hints(ab_hw2: np.ndarray, hints: Hints, l_hw: np.ndarray,
                 features: torch.Tensor | None = None) -> np.ndarray:
    """The network's ab (h, w, 2) (Lab units, any grid over the picture) moved towards the hints: each
    hint's residual (its ab minus the network's in its cell) spread like a hint (a Gaussian in space,
    CORRECTION_SIGMA_SPACE of the long side, times one in L), the weighted mean added by its confidence.
    With the picture's unit features (F, h', w') (content_features), the mean favours hints on content
    like the cell's.

    The network follows a hint only as far as its learned gate opens. A lone hint's cell gets the hint's
    colour; hints close together in one object blend their residuals (a smooth correction, not an
    interpolation through every hint).
    """
    cells = _HintCells.of(hints, l_hw, *ab_hw2.shape[:2], features=features)
    return ab_hw2 if cells is None else cells.add_residual(ab_hw2)


def guide_from_hints(hints: Hints, l_hw: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """The guide (3, out_h, out_w) float32 of sparse hints on a picture with L ``l_hw`` (full resolution)."""
    return pack_guide(*propagate_at(hints, l_hw, out_h, out_w)).numpy()


def naive_propagation(hints: Hints, l_hw: np.ndarray) -> np.ndarray:
    """The no-network floor: the hints' ab spread over the full-resolution picture, faded by confidence.

    Returns ab (H, W, 2) Lab units. Computed at a quarter of the size (the Gaussians are smooth), upsampled.
    """
    height, width = l_hw.shape
    ab_t, conf_t = propagate_at(hints, l_hw, max(1, height // 4), max(1, width // 4))
    faded = (ab_t * conf_t).permute(1, 2, 0).numpy()
    return cv2.resize(faded, (width, height), interpolation=cv2.INTER_LINEAR)


# ---- reference photos and keyframes: feature matching ----


def match_features(taps: list[torch.Tensor]) -> torch.Tensor:
    """Encoder taps (strides 4, 8, 16, 32; batch 1) -> (C, h8, w8) unit-norm features at stride 8."""
    s8, s16 = taps[1][0].float(), taps[2][0].float()
    s16_up = F.interpolate(s16[None], size=s8.shape[-2:], mode="bilinear", align_corners=False)[0]
    both = torch.cat([F.normalize(s8, dim=0), F.normalize(s16_up, dim=0)], 0)
    return F.normalize(both, dim=0)


def content_features(taps: list[torch.Tensor]) -> torch.Tensor:
    """Encoder taps (batch 1) -> (C, h4, w4) unit features at stride 4 that say what is where, for the
    hints' correction: the matching features upsampled, and the stride-4 tap (CONTENT_FINE_SHARE)."""
    s4 = F.normalize(taps[0][0].float(), dim=0)
    coarse = F.interpolate(match_features(taps)[None], size=s4.shape[-2:], mode="bilinear", align_corners=False)[0]
    share = CONTENT_FINE_SHARE
    return F.normalize(torch.cat([F.normalize(coarse, dim=0) * (1 - share) ** 0.5, s4 * share**0.5]), dim=0)


@dataclass(frozen=True)
class Reference:
    """A colour picture prepared for matching: unit features (C, h8, w8), its ab per quarter of a cell
    (2, 2 h8, 2 w8; or per cell, (2, h8, w8)) and L per cell (h8, w8)."""

    features: torch.Tensor
    ab_cells: torch.Tensor  # Lab units
    l_cells: torch.Tensor | None = None  # L units
    name: str = ""

    @property
    def parts(self) -> int:
        """q: the ab is per cell (1) or per quarter of a cell (2)."""
        return self.ab_cells.shape[-1] // self.features.shape[-1]

    def ab_rows(self) -> torch.Tensor:
        """(h8 * w8, 2 q^2) ab of each cell's q x q parts (q = parts), in the order (row, column, a/b)."""
        h8, w8 = self.features.shape[-2:]
        q = self.parts
        return self.ab_cells.reshape(2, h8, q, w8, q).permute(1, 3, 2, 4, 0).reshape(h8 * w8, 2 * q * q)


def cell_l(l_hw: np.ndarray, h8: int, w8: int) -> torch.Tensor:
    """A picture's mean L (L units) per matching cell, (h8, w8)."""
    return torch.from_numpy(np.ascontiguousarray(cv2.resize(l_hw, (w8, h8), interpolation=cv2.INTER_AREA)))


def reference_cells(ab_hw2: np.ndarray, h8: int, w8: int) -> torch.Tensor:
    """ab (H, W, 2) of a colour picture -> its mean ab per cell of an (h8, w8) grid (2, h8, w8), Lab units."""
    small = cv2.resize(ab_hw2, (w8, h8), interpolation=cv2.INTER_AREA)
    return torch.from_numpy(np.ascontiguousarray(small.transpose(2, 0, 1)))


def similarity(features: torch.Tensor, reference: Reference) -> torch.Tensor:
    """Cosine similarity (h8*w8, hr*wr) of every cell of a picture with every cell of a reference."""
    return features.flatten(1).T @ reference.features.flatten(1)


def match_score(features: torch.Tensor, reference: Reference) -> float:
    """How well a reference shows a picture's content: the mean over its cells of the best similarity."""
    return float(similarity(features, reference).amax(1).mean())


def best_reference(features: torch.Tensor, references: list[Reference],
                   scores: list[float] | None = None) -> tuple[Reference | None, float]:
    """The reference that shows a picture's content best, if any reaches REFERENCE_MIN_SCORE (else None), and
    the best score (``scores``: each reference's match_score, when known)."""
    if not references:
        return None, 0.0
    scores = [match_score(features, ref) for ref in references] if scores is None else scores
    best = int(np.argmax(scores))
    return (references[best] if scores[best] >= REFERENCE_MIN_SCORE else None), scores[best]


def unmatched_note(score: float, many: bool = False) -> str:
    """What a user is told when no reference was used: how close the best came."""
    which = "no reference shows" if many else "the reference does not show"
    return (f"{which} enough of this picture's content to be used (it matched {score:.2f}, "
            f"{REFERENCE_MIN_SCORE} is needed): coloured without it")


def transfer(features: torch.Tensor, reference: Reference, l_cells: torch.Tensor | None = None,
             temperature: float = MATCH_TEMPERATURE) -> tuple[torch.Tensor, torch.Tensor]:
    """The reference's ab moved onto a picture's cells: ab (2, q h8, q w8) Lab units and confidence (q h8, q w8),
    at the reference's ab resolution (q = 2: each cell's quarters take the matched cells' quarters, each its
    own, so that detail finer than a cell is kept where the match keeps its place: the CCTV clip's
    keyframe carried +0.7 dB more than at q = 1; MODEL_CARD.md).

    With the picture's L per cell (and the reference's), a match across a change of lightness is also
    weighed down by the Gaussian in L of the hints (SIGMA_L): +0.2 to +0.25 dB on same-shot frame pairs.
    """
    # Once per network frame of a guided film, so the softmax is written out to pass over the (P, R) matrix
    # four times, not nine (7.1 -> 5.0 ms at 480p, one thread): the logits are
    #   (S - best_p) / T - (l_p - l_r)^2 / (2 SIGMA_L^2),
    # at most 0 everywhere and at least -50 at each row's best match (L spans 100), so exp neither overflows
    # nor leaves a row all zero. Their row and column terms are one rank-3 update of S (addmm), and one
    # product with [ab, 1] gives both the softmax's sum and its weighted ab (of every quarter of the cells).
    h8, w8 = features.shape[-2:]
    logits = similarity(features, reference)  # (P, R), made into the logits in place
    best = logits.amax(1)
    rows_ab = reference.ab_rows()
    ones = torch.ones_like(rows_ab[:, 0])
    if l_cells is not None and reference.l_cells is not None:
        l_p, l_r, k = l_cells.flatten().float(), reference.l_cells.flatten().float(), 1.0 / (2 * SIGMA_L**2)
        rows = torch.stack([-best / temperature - k * l_p.square(), torch.ones_like(l_p), 2 * k * l_p], 1)
        cols = torch.stack([ones, -k * l_r.square(), l_r])
    else:
        rows, cols = (-best / temperature)[:, None], ones[None]
    logits.addmm_(rows, cols, beta=1.0 / temperature).exp_()
    sums = logits @ torch.cat([rows_ab, ones[:, None]], 1)  # (P, 2 q^2 + 1): weighted ab, weight
    q = reference.parts
    ab = sums[:, :-1] / sums[:, -1:].clamp_min(1e-30)  # (L outside 0-100: no NaN)
    ab = ab.reshape(h8, w8, q, q, 2).permute(4, 0, 2, 1, 3).reshape(2, q * h8, q * w8)
    conf = ((best.reshape(h8, w8) - MATCH_FLOOR) / (MATCH_FULL - MATCH_FLOOR)).clamp(0.0, 1.0)
    return ab, conf.repeat_interleave(q, 0).repeat_interleave(q, 1)


def guide_from_transfer(ab_2hw: torch.Tensor, conf_hw: torch.Tensor, out_h: int, out_w: int) -> np.ndarray:
    """A cell-level transfer -> the guide (3, out_h, out_w) at the render size (bilinear)."""
    guide = pack_guide(ab_2hw, conf_hw)[None]
    return F.interpolate(guide, size=(out_h, out_w), mode="bilinear", align_corners=False)[0].numpy()


# confidence: where one guide matches a cell this much worse than another, it weighs 1/e as much there
# (blend_guides). Two keyframes around a dissolve, or of one shot whose content changes, were mixed by their
# distance in frames alone: the nearer one's colours went onto content only the other shows (matched at
# 0.57-0.62 against 0.64-0.67). Chosen between 0.05 and 0.02 (alike) on a dissolve of scene_cuts' first
# shot into its second and the dance clip keyed at both ends (+0.35, +0.19 dB); then checked on two other
# dissolves, the CCTV clip keyed at both ends and scene_cuts keyed at both ends of each shot: +0.28,
# +0.24, +0.05, +0.08 dB (scripts/bench_two_keyframes.py, MODEL_CARD.md).
MATCH_PREFERENCE = 0.05


def blend_guides(guides: list[np.ndarray], weights: list[float]) -> np.ndarray:
    """Several guides (3, h, w) in one: ab averaged, cell by cell, by confidence x weight x how much the
    guide's match there trails the best one's (MATCH_PREFERENCE); confidence the best guide's."""
    if len(guides) == 1:
        return guides[0]
    conf = np.stack([g[2] for g in guides])  # (K, h, w)
    w = np.asarray(weights, np.float32)[:, None, None] / max(float(sum(weights)), 1e-6)
    w = w * np.exp((conf - conf.max(0, keepdims=True)) * (1.0 / MATCH_PREFERENCE)) * conf
    ab = np.stack([g[:2] for g in guides])  # (K, 2, h, w)
    ab_mix = (ab * w[:, None]).sum(0) / np.maximum(w.sum(0), 1e-6)
    return np.concatenate([ab_mix, np.clip(conf.max(0), 0, 1)[None]], 0).astype(np.float32)


def overlay_guides(guides: list[np.ndarray]) -> np.ndarray:
    """Guides (3, h, w) laid one over the other, the last on top: where it is confident it wins."""
    ab, conf = guides[0][:2] * guides[0][2], guides[0][2]
    for top in guides[1:]:
        under = conf * (1.0 - top[2])
        ab = top[:2] * top[2] + ab * (1.0 - top[2])
        conf = top[2] + under
    return np.concatenate([ab / np.maximum(conf, 1e-6) * (conf > 0), conf[None]], 0).astype(np.float32)


def naive_reference(l_hw: np.ndarray, ref_rgb: np.ndarray, bins: int = 16) -> np.ndarray:
    """The no-network reference floor: the reference's mean ab per L bin, applied by L. ab (H, W, 2)."""
    ref_lab = lab.rgb_to_lab(np.ascontiguousarray(ref_rgb[..., :3]))
    ref_bin = np.clip((ref_lab[..., 0] / 100.0 * bins).astype(int), 0, bins - 1).ravel()
    counts = np.bincount(ref_bin, minlength=bins).astype(np.float64)
    means = np.zeros((bins, 2), np.float64)
    for c in range(2):
        means[:, c] = np.bincount(ref_bin, weights=ref_lab[..., 1 + c].ravel(), minlength=bins)
    means = np.where(counts[:, None] > 0, means / np.maximum(counts[:, None], 1), 0.0)
    in_bin = np.clip((l_hw / 100.0 * bins).astype(int), 0, bins - 1)
    return means[in_bin].astype(np.float32)
