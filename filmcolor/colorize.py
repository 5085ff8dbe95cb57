"""Colorizer: a trained generator + device + precision + render size. The home of device/dtype choices."""

from __future__ import annotations

import importlib.metadata
import os
import re
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from filmcolor import imageio, lab
from filmcolor.errors import ConfigError, InputError
from filmcolor.runtime import ModelFacts, Runner, cached_facts, note_facts
from filmcolor.weights import WeightsMeta, load_model, read_meta, resolve_weights

if TYPE_CHECKING:  # torch (~0.8 s to load) and guide.py (which needs it) load only when used: an automatic
    import torch  # film on the CPU with cached ONNX graphs runs without them
    import torch.nn as nn

    from filmcolor import guide as guidance
    from filmcolor.runtime import TorchRunner

DEFAULT_RENDER_SIZE = 256  # photos
# Video: chroma is low-frequency; 224 is the smallest size at which the shipped model keeps the quality
# bars on val and unseen material, and it still runs at > 30 fps at 480p on 2 CPU cores (MODEL_CARD.md).
DEFAULT_VIDEO_RENDER_SIZE = 224
MIN_RENDER_SIZE, MAX_RENDER_SIZE = 32, 2048  # the network was trained at 224-256; past 2048 only memory grows


def choose_device(name: str = "auto") -> str:
    """'auto' picks cuda, then mps, then cpu; an unavailable explicit device is a ConfigError."""
    if name == "cpu" or (name == "auto" and not _gpu_possible()):
        return "cpu"
    if name not in ("auto", "mps") and not re.fullmatch(r"cuda(:\d+)?", name):  # ('cudafoo', 'cuda:x': torch's
        raise ConfigError(f"--device {name}: expected auto, cpu, cuda, cuda:N or mps")  # RuntimeError; an audit)
    import torch

    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "mps" if mps else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"--device {name}: CUDA is not available on this machine (use --device cpu)")
    if name == "mps" and not mps:
        raise ConfigError("--device mps: Apple MPS is not available on this machine (use --device cpu)")
    if name.startswith("cuda:") and int(name[5:]) >= torch.cuda.device_count():
        raise ConfigError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA device(s), "
                          f"cuda:0 to cuda:{torch.cuda.device_count() - 1}")
    return str(torch.device(name))


GPU_DEVICE_NODES = ("/dev/nvidiactl", "/dev/dxg", "/dev/kfd")  # NVIDIA, WSL2 GPU passthrough, AMD ROCm


def _gpu_possible() -> bool:
    """False when torch certainly sees no GPU, known without loading it: a CPU-only torch build, or Linux
    with none of the device nodes a GPU driver makes. Otherwise torch is asked (an 0.8 s import)."""
    if "torch" in sys.modules:
        return True
    try:
        if importlib.metadata.version("torch").endswith("+cpu"):
            return False
    except importlib.metadata.PackageNotFoundError:
        return True  # the import that follows says what is missing
    return not (sys.platform.startswith("linux") and not any(os.path.exists(p) for p in GPU_DEVICE_NODES))


# A reference picture more than this many times the render size on both sides is shrunk to it first: it is
# matched at the render size and its colour read per 8x8 cell of that, so what is past 4x is never seen
# (references of ordinary sizes, the bars' included, are not touched)
REFERENCE_DETAIL = 4
MAX_RENDER_ASPECT = 8  # a 2 x 300 strip would otherwise render at 256 x 38400
# ONNX Runtime sessions kept per colouriser, one per network input shape (60-110 MB and a thread each): a
# folder of photos of many shapes kept one for each, for the whole run (an audit: 25 shapes, 1.8 GB and 31
# threads; a batch service would grow without end). A film uses one or two.
MAX_SESSIONS = 8


def rounded_render_size(render_size: int, multiple: int) -> int:
    """The short side the network sees for a --render-size: the nearest multiple, half up (round() took 80 to 64
    and 48 to 64, to the even multiple; an audit)."""
    return max(multiple, int(render_size / multiple + 0.5) * multiple)


def render_shape(height: int, width: int, render_size: int, multiple: int) -> tuple[int, int]:
    """Network input size: short side ~render_size, aspect kept (to 8:1), sides multiples of ``multiple``."""
    short, long = min(height, width), max(height, width)
    short_r = rounded_render_size(render_size, multiple)
    long_r = max(multiple, int(round(long * short_r / short / multiple)) * multiple)
    long_r = min(long_r, MAX_RENDER_ASPECT * short_r)
    return (short_r, long_r) if height <= width else (long_r, short_r)


class Colorizer:
    """Predicts ab for L frames; the caller's full-resolution L is never passed through the network.

    One Colorizer may serve several threads: its model and runners are built once, under a lock."""

    def __init__(self, model: nn.Module | None, meta: WeightsMeta, path: Path | None = None, device: str = "auto",
                 render_size: int = DEFAULT_RENDER_SIZE, runtime: str = "auto", facts: ModelFacts | None = None,
                 photo_render_size: int | None = None):
        """``model`` None: built from ``path`` when first needed (``facts`` must then be given).
        ``photo_render_size``: ``for_photos()``'s (default: ``render_size``)."""
        for size in (render_size, photo_render_size):  # (a photo size of 0 fell back in silence; an audit)
            if size is not None and not MIN_RENDER_SIZE <= size <= MAX_RENDER_SIZE:
                raise ConfigError(f"--render-size {size}: must be between {MIN_RENDER_SIZE} and {MAX_RENDER_SIZE}")
        if model is None and (path is None or facts is None):
            raise ValueError("a Colorizer without a model needs its weights path and facts")
        self._model = None if model is None else model.eval()
        self.meta = meta
        self.path = path
        self.device_name = choose_device(device)
        self.device_type = self.device_name.split(":")[0]
        self.render_size = render_size
        self.photo_render_size = photo_render_size or render_size
        self._for_photos: Colorizer | None = None
        self._model_from: Colorizer | None = None  # for_photos()'s: the torch model is the one it loads
        self.facts = facts or ModelFacts.of(self._model)
        self.ab_gain = float(meta.info.get("ab_gain", 1.0))
        self.runtime = self._choose_runtime(runtime)
        self._runners: OrderedDict[tuple[int, int, int], Runner] = OrderedDict()
        self._torch_runner: TorchRunner | None = None
        self._split: OrderedDict[tuple[int, int, int], tuple[Runner, Runner]] = OrderedDict()
        # Guards the lazy model and runners (shared with for_photos()'s, which share the model): two threads
        # building them at once crashed (model.to() on one model twice; torch's exporter twice at once).
        self._making = threading.RLock()
        self._key_locks: dict[tuple[int, tuple[int, int, int]], threading.Lock] = {}  # one per runner being built
        self._kept = threading.Lock()  # the runner caches' order and size alone: a lookup never waits for a
        # model being loaded under _making (a render of a size already built waited behind it)

    @classmethod
    def from_pretrained(cls, name_or_path: str | Path | None = "default", device: str = "auto",
                        render_size: int = DEFAULT_RENDER_SIZE, runtime: str = "auto",
                        photo_render_size: int | None = None) -> Colorizer:
        """The weights' metadata is read at once; the torch model is built when a runner needs it (ONNX
        Runtime with graphs cached by an earlier run never does) or when this file is new to the cache."""
        path = resolve_weights(name_or_path)
        facts = cached_facts(path) if path.exists() else None
        if facts is None:
            model, meta = load_model(path)
            note_facts(path, ModelFacts.of(model))
            return cls(model, meta, path=path, device=device, render_size=render_size, runtime=runtime,
                       photo_render_size=photo_render_size)
        return cls(None, read_meta(path), path=path, device=device, render_size=render_size, runtime=runtime,
                   facts=facts, photo_render_size=photo_render_size)

    def for_photos(self) -> Colorizer:
        """This colouriser at ``photo_render_size`` (itself when that is its size): the same weights, its own
        runners."""
        if self.photo_render_size == self.render_size:
            return self
        with self._making:
            if self._for_photos is None:
                photos = Colorizer(self._model, self.meta, path=self.path, device=self.device_name,
                                   render_size=self.photo_render_size, runtime=self.runtime, facts=self.facts)
                photos._model_from = self  # one torch model in memory, whichever loads it first
                photos._making, photos._key_locks = self._making, self._key_locks
                self._for_photos = photos
            return self._for_photos

    @property
    def model(self) -> nn.Module:
        """The torch model (built from the weights file on first use)."""
        with self._making:
            if self._model is None:
                self._model = self._model_from.model if self._model_from else load_model(self.path)[0].eval()
            return self._model

    @property
    def device(self) -> torch.device:
        import torch

        return torch.device(self.device_name)

    @property
    def model_name(self) -> str:
        return str(self.path) if self.path is not None else self.meta.arch

    def _choose_runtime(self, runtime: str) -> str:
        if runtime not in ("auto", "torch", "onnx"):
            raise ConfigError(f"--runtime {runtime}: expected auto, torch or onnx")
        if runtime == "auto":
            return "onnx" if self.device_type == "cpu" and _onnx_available() else "torch"
        if runtime == "onnx" and self.device_type != "cpu":
            raise ConfigError("--runtime onnx runs on the CPU only; use --runtime torch with a GPU")
        return runtime

    def _runner(self, n: int, h: int, w: int) -> Runner:
        if self.runtime == "torch":
            return self._runner_torch()
        from filmcolor.runtime import OnnxRunner

        return self._made(self._runners, (n, h, w),
                          lambda: OnnxRunner.for_shape(lambda: self.model, self.path, (n, 1, h, w)))

    def _made(self, cache: dict, key: tuple[int, int, int], build: Callable[[], object]) -> Any:
        """``cache[key]``, built once by ``build`` under a lock of its own key: a picture of a shape already
        built does not wait for another shape's graph being exported (3.5 s; a review: the studio's renders
        waited behind every new size)."""
        with self._kept:
            found = cache.get(key)
            if found is not None:
                cache.move_to_end(key)
                return found
            lock = self._key_locks.setdefault((id(cache), key), threading.Lock())
        with lock:
            with self._kept:
                found = cache.get(key)
            if found is None:
                found = build()
                with self._kept:
                    cache[key] = found
                    while len(cache) > MAX_SESSIONS:  # the shape used longest ago goes (a thread running it
                        cache.popitem(last=False)  # keeps it until it is done)
            return found

    def _runner_torch(self) -> TorchRunner:
        """The torch runner (made once): the network on the GPU, and reference matching on any device."""
        with self._making:
            if self._torch_runner is None:
                from filmcolor.runtime import TorchRunner

                self._torch_runner = TorchRunner(self.model, self.device)
            return self._torch_runner

    def _split_runners(self, n: int, h: int, w: int) -> tuple[Runner, Runner]:
        """The encoder and decoder apart (guided models), for guidance made from the encoder's features."""
        if self.runtime == "torch":
            runner = self._runner(n, h, w)
            return runner, runner
        from filmcolor.runtime import OnnxRunner

        return self._made(self._split, (n, h, w), lambda: tuple(
            OnnxRunner.for_shape(lambda: self.model, self.path, (n, 1, h, w), part=part)
            for part in ("encode", "decode")))

    @property
    def rendered_size(self) -> int:
        """The short side the network sees: render_size to the model's multiple (what reports say)."""
        return rounded_render_size(self.render_size, self.facts.size_multiple)

    def network_shape(self, height: int, width: int) -> tuple[int, int]:
        return render_shape(height, width, self.render_size, self.facts.size_multiple)

    def ab_shape(self, network_shape: tuple[int, int]) -> tuple[int, int]:
        """The (h, w) of the ab the network predicts for an input of ``network_shape``."""
        stride = self.facts.output_stride
        return network_shape[0] // stride, network_shape[1] // stride

    @property
    def guided(self) -> bool:
        """Whether the model takes a colour guide (hints, references, keyframes)."""
        return self.facts.guided

    def require_guided(self) -> None:
        if not self.guided:
            raise ConfigError(f"model {self.model_name} ({self.meta.arch}) takes no hints, references or "
                              "keyframes; use the default model or one trained as filmcolor-guided")

    def _network_input(self, l_hw: np.ndarray) -> np.ndarray:
        """L (H, W) in [0, 100] -> normalised L (h, w) at the render size."""
        rh, rw = self.network_shape(*l_hw.shape)
        small = cv2.resize(l_hw, (rw, rh), interpolation=cv2.INTER_AREA) if (rh, rw) != l_hw.shape else l_hw
        return lab.normalize_l(small).astype(np.float32)

    def predict_ab(self, l_nhw: np.ndarray, guides_n3hw: np.ndarray | None = None) -> np.ndarray:
        """L frames (N, H, W) in [0, 100] -> ab (N, h', w', 2) Lab units at the network's output size.

        ``guides_n3hw``: the colour guide of each frame at the render size (see guide_for); None: automatic.
        """
        if l_nhw.ndim != 3 or not l_nhw.size:
            raise InputError(f"expected L frames shaped (N, H, W), none empty, got {l_nhw.shape}")
        if l_nhw.dtype == np.float16:  # (OpenCV's resizing refuses half floats: its multi-line assertion)
            l_nhw = l_nhw.astype(np.float32)
        if not np.issubdtype(l_nhw.dtype, np.floating):  # gray levels given as L coloured wrong, in silence
            raise InputError(f"expected L in [0, 100] as floats, got {l_nhw.dtype} (gray levels: lab.gray_to_l; "
                             "a picture: colorize_image)")
        n, height, width = l_nhw.shape
        rh, rw = self.network_shape(height, width)
        l_norm = np.stack([self._network_input(l_nhw[i]) for i in range(n)])[:, None]  # (N, 1, h, w)
        if guides_n3hw is not None:
            from filmcolor.guide import GUIDE_CHANNELS

            self.require_guided()
            if guides_n3hw.shape != (n, GUIDE_CHANNELS, rh, rw):
                raise InputError(f"guides shaped {guides_n3hw.shape}, expected {(n, GUIDE_CHANNELS, rh, rw)}")
        ab_norm = self._runner(n, rh, rw)(l_norm, guides_n3hw)  # (N, 2, h', w')
        return self._to_ab(ab_norm)

    def predict_ab_matched(self, l_nhw: np.ndarray,
                           guide_of: Callable[[int, torch.Tensor, torch.Tensor], np.ndarray | None]) -> np.ndarray:
        """As predict_ab, with each frame's guide made from its own encoder features in one encoder pass.

        ``guide_of(i, features, l_cells)`` gets frame i's unit features (C, h/8, w/8) (guide.match_features)
        and its L per cell (h/8, w/8), and
        returns its guide (3, h, w) at the render size, or None.
        """
        import torch

        from filmcolor import guide as guidance

        self.require_guided()
        n, height, width = l_nhw.shape
        rh, rw = self.network_shape(height, width)
        l_norm = np.stack([self._network_input(l_nhw[i]) for i in range(n)])[:, None]
        encoder, decoder = self._split_runners(n, rh, rw)
        taps = encoder.encode(l_norm)
        guides = np.zeros((n, guidance.GUIDE_CHANNELS, rh, rw), np.float32)
        for i in range(n):
            tap_i = [torch.as_tensor(t[i:i + 1]) for t in taps]
            features = guidance.match_features(tap_i).cpu()
            guide = guide_of(i, features, guidance.cell_l(l_nhw[i], *features.shape[-2:]))
            if guide is not None:
                guides[i] = guide
        return self._to_ab(decoder.decode(taps, guides))

    def prepare_matched(self, n: int, height: int, width: int) -> None:
        """Load what predict_ab_matched on (n, height, width) network inputs needs (torch, the graphs) ahead
        of it, to overlap with other work. Best effort: a failure here is met again, and reported, there."""
        try:
            from filmcolor import guide  # noqa: F401

            self._split_runners(n, height, width)
        except Exception:  # noqa: BLE001
            return

    def _to_ab(self, ab_norm: np.ndarray) -> np.ndarray:
        """The network's (N, 2, h, w) normalised output -> ab (N, h, w, 2) Lab units, gain applied, clamped."""
        scale = lab.AB_SCALE * self.ab_gain
        ab = np.clip(ab_norm.transpose(0, 2, 3, 1) * scale, -lab.AB_LIMIT, lab.AB_LIMIT)
        return np.ascontiguousarray(ab, dtype=np.float32)

    # ---- guidance ----
    def match_features(self, l_hw: np.ndarray) -> torch.Tensor:
        """The encoder's unit features (C, h/8, w/8) of a picture at the render size, for reference matching."""
        import torch

        from filmcolor import guide as guidance

        self.require_guided()
        torch_runner = self._runner_torch()
        with torch.inference_mode():
            return guidance.match_features(torch_runner.encode(self._network_input(l_hw)[None, None])).cpu()

    def reference(self, rgb: np.ndarray, name: str = "") -> guidance.Reference:
        """A colour picture (uint8 RGB/RGBA) prepared as a reference: its features and ab per cell."""
        from filmcolor import guide as guidance

        if rgb.ndim != 3 or rgb.shape[2] not in (3, 4) or rgb.dtype != np.uint8 or not rgb.size:
            raise InputError(f"{name or 'reference'}: expected an 8-bit RGB or RGBA picture (H, W, 3 or 4), got "
                             f"{rgb.dtype} {rgb.shape}")
        rgb = np.ascontiguousarray(rgb[..., :3])
        rh, rw = self.network_shape(*rgb.shape[:2])
        if rgb.shape[0] > REFERENCE_DETAIL * rh and rgb.shape[1] > REFERENCE_DETAIL * rw:  # (a 12000x12000 one
            # took 7.9 GB as float Lab; an audit) it is matched at the render size, its colour per 8x8 cell of it
            rgb = imageio.shrink(rgb, REFERENCE_DETAIL * rh, REFERENCE_DETAIL * rw)
        lab_hw3 = lab.rgb_to_lab(rgb)
        features = self.match_features(np.ascontiguousarray(lab_hw3[..., 0]))
        h8, w8 = features.shape[-2:]
        return guidance.Reference(features, guidance.reference_cells(lab_hw3[..., 1:], 2 * h8, 2 * w8),
                                  guidance.cell_l(np.ascontiguousarray(lab_hw3[..., 0]), h8, w8), name)

    def guide_for(self, l_hw: np.ndarray, hints: guidance.Hints | None = None,
                  references: list[guidance.Reference] | None = None,
                  features: torch.Tensor | None = None, notes: list[str] | None = None) -> np.ndarray | None:
        """The guide (3, h, w) at the render size for a picture's L (H, W): its hints and/or best reference.

        A reference is used only when it matches the picture (guide.REFERENCE_MIN_SCORE; when none does,
        ``notes`` is told); hints are laid over it (where both speak, the hints win). None when there is no
        guidance.
        """
        if not hints and not references:
            return None
        from filmcolor import guide as guidance

        self.require_guided()
        rh, rw = self.network_shape(*l_hw.shape)
        hints = hints.checked(l_hw.shape[1], l_hw.shape[0]) if hints else None
        guides = []
        if references:
            features = self.match_features(l_hw) if features is None else features
            reference, score = guidance.best_reference(features, references)
            if reference is None and notes is not None:
                notes.append(guidance.unmatched_note(score, many=len(references) > 1))
            if reference is not None:
                l_cells = guidance.cell_l(l_hw, *features.shape[-2:])
                guides.append(guidance.guide_from_transfer(*guidance.transfer(features, reference, l_cells), rh, rw))
        if hints:
            guides.append(guidance.guide_from_hints(hints, l_hw, rh, rw))
        if not guides:
            return None
        return guidance.overlay_guides(guides)

    def guided_ab(self, l_hw: np.ndarray, guide: np.ndarray | None,
                  hints: guidance.Hints | None = None) -> np.ndarray:
        """ab (h', w', 2) at the network's output size for one picture's L (H, W) and its guide (guide_for;
        None: automatic); with hints, corrected by what they say of the network's colour
        (guide.follow_hints), which needs its automatic colour and its encoder's features too: one encoder
        pass, the decoder twice."""
        if not hints:
            return self.predict_ab(l_hw[None], None if guide is None else guide[None])[0]
        import torch

        from filmcolor import guide as guidance

        encoder, decoder = self._split_runners(1, *self.network_shape(*l_hw.shape))
        taps = encoder.encode(self._network_input(l_hw)[None, None])
        guided, auto = (self._to_ab(decoder.decode(taps, g[None]))[0] for g in (guide, np.zeros_like(guide)))
        features = guidance.content_features([torch.as_tensor(t) for t in taps]).cpu()
        return guidance.follow_hints(guided, auto, hints, l_hw, features)

    @staticmethod
    def upsample_ab(ab_hw2: np.ndarray, height: int, width: int) -> np.ndarray:
        """ab (h', w', 2) -> (H, W, 2), bilinear; chroma is low-frequency."""
        if ab_hw2.shape[:2] == (height, width):
            return ab_hw2
        return cv2.resize(ab_hw2, (width, height), interpolation=cv2.INTER_LINEAR)

    def colorize_batch(self, l_nhw: np.ndarray, guides_n3hw: np.ndarray | None = None) -> np.ndarray:
        """L frames (N, H, W) in [0, 100] -> ab (N, H, W, 2) Lab units at full resolution."""
        ab_small = self.predict_ab(l_nhw, guides_n3hw)
        n, height, width = l_nhw.shape
        return np.stack([self.upsample_ab(ab_small[i], height, width) for i in range(n)])

    def colorize_image(self, image: np.ndarray, hints: guidance.Hints | None = None,
                       references: list[guidance.Reference] | None = None,
                       notes: list[str] | None = None) -> np.ndarray:
        """Gray (H, W), RGB (H, W, 3) or RGBA (H, W, 4) -> RGB(A) with the input's own L, in the input's type:
        uint8, or uint16 (a 16-bit scan, whose L is then kept at 16 bits).

        ``hints`` (pixel coordinates of ``image``) and ``references`` steer the colour (guided models); a
        reference that matches too little is not used, and ``notes`` is told.
        The network sees a small picture; the full-resolution conversion runs in strips of STRIP_ROWS
        rows, so a large picture costs its input, its L (4 bytes a pixel) and its output, not ~48 bytes
        a pixel of whole-picture float arrays.
        """
        l_hw = image_l(image)  # (checked first: a 1-D array or None was a ValueError of the unpacking; an audit)
        height, width = image.shape[:2]
        hints = hints.checked(width, height) if hints else None
        ab_small = self.guided_ab(l_hw, self.guide_for(l_hw, hints, references, notes=notes), hints)
        channels = 4 if image.ndim == 3 and image.shape[2] == 4 else 3
        out = np.empty((height, width, channels), image.dtype)
        for y0 in range(0, height, STRIP_ROWS):
            y1 = min(height, y0 + STRIP_ROWS)
            out[y0:y1, :, :3] = lab.lab_to_rgb_levels(l_hw[y0:y1], upsample_rows(ab_small, height, width, y0, y1),
                                                      image.dtype)
        if channels == 4:
            out[..., 3] = image[..., 3]
        return out


STRIP_ROWS = 512  # rows of a picture converted at once (Lab -> RGB at full resolution)
# cv2.remap refuses a destination with a side of 32767 (SHRT_MAX) or more, so ab is upsampled in tiles of at
# most this side; each pixel depends only on its own map values, so the tiles give the one call's result
# exactly. 4096: ab of a 20000 x 8000 picture upsampled in 0.76 s (one call a strip: 0.70-1.11 s over three
# runs), with maps of 8 MB each, not 40 MB.
REMAP_TILE = 4096


def upsample_rows(ab_hw2: np.ndarray, height: int, width: int, y0: int, y1: int) -> np.ndarray:
    """Rows y0..y1 of ab (h', w', 2) upsampled bilinearly to (height, width), sampled at pixel centres as
    cv2.resize samples them; any size (in tiles of REMAP_TILE)."""
    h, w = ab_hw2.shape[:2]
    xs = (np.arange(width, dtype=np.float32) + 0.5) * (w / width) - 0.5
    ys = (np.arange(y0, y1, dtype=np.float32) + 0.5) * (h / height) - 0.5
    out = np.empty((y1 - y0, width, ab_hw2.shape[2]), ab_hw2.dtype)
    for r0 in range(0, y1 - y0, REMAP_TILE):
        ys_tile = ys[r0:r0 + REMAP_TILE]
        for c0 in range(0, width, REMAP_TILE):
            xs_tile = xs[c0:c0 + REMAP_TILE]
            map_x = xs_tile[None, :].repeat(len(ys_tile), 0)
            map_y = ys_tile[:, None].repeat(len(xs_tile), 1)
            out[r0:r0 + len(ys_tile), c0:c0 + len(xs_tile)] = cv2.remap(ab_hw2, map_x, map_y, cv2.INTER_LINEAR,
                                                                        borderMode=cv2.BORDER_REPLICATE)
    return out


def image_l(image: np.ndarray) -> np.ndarray:
    """L (H, W) float32 of a uint8 or uint16 gray, RGB or RGBA image; only the luminance of tinted input is
    used."""
    if not isinstance(image, np.ndarray):
        raise InputError(f"expected a numpy array (H, W[, 3 or 4]), got {type(image).__name__}")
    if image.dtype not in (np.uint8, np.uint16):
        raise InputError(f"expected an 8-bit or 16-bit image, got {image.dtype}")
    if not image.size:
        raise InputError(f"an empty image ({image.shape}): nothing to colour")
    if image.ndim == 2:
        return lab.gray_to_l(image)
    if image.ndim == 3 and image.shape[2] in (3, 4):
        l_hw = np.empty(image.shape[:2], np.float32)
        for y0 in range(0, image.shape[0], STRIP_ROWS):  # in strips: Lab of the whole picture is 12 bytes a pixel
            strip = np.ascontiguousarray(image[y0:y0 + STRIP_ROWS, :, :3])
            l_hw[y0:y0 + STRIP_ROWS] = lab.rgb_to_lab(strip)[..., 0]
        return l_hw
    raise InputError(f"unsupported image shape {image.shape}")


def _onnx_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError as err:
        # a Ctrl-C or SIGTERM while its extension loads comes out as an ImportError ("initialization
        # failed") caused by the KeyboardInterrupt: it is the stop, not a missing package (an audit: the
        # run went on with torch and ended 0)
        if isinstance(err.__cause__ or err.__context__, KeyboardInterrupt):
            raise (err.__cause__ or err.__context__) from None
        return False
    return True
