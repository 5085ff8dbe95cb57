"""Colorizer: a trained generator + device + precision + render size. The home of device/dtype choices."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import torch
import torch.nn as nn

from filmcolor import lab
from filmcolor.errors import ConfigError, InputError
from filmcolor.weights import WeightsMeta, load_model, resolve_weights

DEFAULT_RENDER_SIZE = 256  # photos
# Video: chroma is low-frequency; 224 is the smallest size at which the shipped model keeps the quality
# bars on val and unseen material, and it still runs at > 30 fps at 480p on 2 CPU cores (MODEL_CARD.md).
DEFAULT_VIDEO_RENDER_SIZE = 224


def choose_device(name: str = "auto") -> torch.device:
    """'auto' picks cuda, then mps, then cpu; an unavailable explicit device is a ConfigError."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"--device {name}: CUDA is not available on this machine (use --device cpu)")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError("--device mps: Apple MPS is not available on this machine (use --device cpu)")
    if name not in ("cpu", "mps") and not name.startswith("cuda"):
        raise ConfigError(f"--device {name}: expected auto, cpu, cuda, cuda:N or mps")
    return torch.device(name)


MAX_RENDER_ASPECT = 8  # a 2 x 300 strip would otherwise render at 256 x 38400


def render_shape(height: int, width: int, render_size: int, multiple: int) -> tuple[int, int]:
    """Network input size: short side ~render_size, aspect kept (to 8:1), sides multiples of ``multiple``."""
    short, long = min(height, width), max(height, width)
    short_r = max(multiple, int(round(render_size / multiple)) * multiple)
    long_r = max(multiple, int(round(long * short_r / short / multiple)) * multiple)
    long_r = min(long_r, MAX_RENDER_ASPECT * short_r)
    return (short_r, long_r) if height <= width else (long_r, short_r)


class Runner(Protocol):
    """Runs the network: (N, 1, h, w) normalised L float32 -> (N, 2, h', w') normalised ab float32."""

    name: str

    def __call__(self, l_norm_n1hw: np.ndarray) -> np.ndarray: ...


class TorchRunner:
    name = "torch"

    def __init__(self, model: nn.Module, device: torch.device):
        self.device = device
        self.dtype = torch.float32
        if device.type == "cuda":
            self.dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        elif device.type == "cpu":
            torch.set_num_threads(max(1, os.cpu_count() or 1))
        self.model = model.eval().to(device=device, memory_format=torch.channels_last)

    @torch.inference_mode()
    def __call__(self, l_norm_n1hw: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(l_norm_n1hw).to(self.device, non_blocking=True)
        x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(self.device.type, dtype=self.dtype, enabled=self.dtype != torch.float32):
            ab = self.model(x)
        return ab.float().cpu().numpy()


class Colorizer:
    """Predicts ab for L frames; the caller's full-resolution L is never passed through the network."""

    def __init__(self, model: nn.Module, meta: WeightsMeta, path: Path | None = None, device: str = "auto",
                 render_size: int = DEFAULT_RENDER_SIZE, runtime: str = "auto"):
        if render_size < 32:
            raise ConfigError(f"--render-size {render_size}: must be at least 32")
        self.model = model.eval()
        self.meta = meta
        self.path = path
        self.device = choose_device(device)
        self.render_size = render_size
        self.size_multiple = int(getattr(model, "size_multiple", 32))
        self.output_stride = int(getattr(model, "output_stride", 1))
        self.ab_gain = float(meta.info.get("ab_gain", 1.0))
        self.runtime = self._choose_runtime(runtime)
        self._runners: dict[tuple[int, int, int], Runner] = {}
        self._torch_runner: TorchRunner | None = None

    @classmethod
    def from_pretrained(cls, name_or_path: str | Path | None = "default", device: str = "auto",
                        render_size: int = DEFAULT_RENDER_SIZE, runtime: str = "auto") -> Colorizer:
        path = resolve_weights(name_or_path)
        model, meta = load_model(path)
        return cls(model, meta, path=path, device=device, render_size=render_size, runtime=runtime)

    @property
    def model_name(self) -> str:
        return str(self.path) if self.path is not None else self.meta.arch

    def _choose_runtime(self, runtime: str) -> str:
        if runtime not in ("auto", "torch", "onnx"):
            raise ConfigError(f"--runtime {runtime}: expected auto, torch or onnx")
        if runtime == "auto":
            return "onnx" if self.device.type == "cpu" and _onnx_available() else "torch"
        if runtime == "onnx" and self.device.type != "cpu":
            raise ConfigError("--runtime onnx runs on the CPU only; use --runtime torch with a GPU")
        return runtime

    def _runner(self, n: int, h: int, w: int) -> Runner:
        if self.runtime == "torch":
            if self._torch_runner is None:
                self._torch_runner = TorchRunner(self.model, self.device)
            return self._torch_runner
        key = (n, h, w)
        if key not in self._runners:
            from filmcolor.runtime import OnnxRunner

            self._runners[key] = OnnxRunner.for_shape(self.model, self.meta, self.path, (n, 1, h, w))
        return self._runners[key]

    def network_shape(self, height: int, width: int) -> tuple[int, int]:
        return render_shape(height, width, self.render_size, self.size_multiple)

    def predict_ab(self, l_nhw: np.ndarray) -> np.ndarray:
        """L frames (N, H, W) in [0, 100] -> ab (N, h', w', 2) Lab units at the network's output size."""
        if l_nhw.ndim != 3:
            raise ValueError(f"expected L frames shaped (N, H, W), got {l_nhw.shape}")
        n, height, width = l_nhw.shape
        rh, rw = self.network_shape(height, width)
        l_norm = np.empty((n, 1, rh, rw), dtype=np.float32)
        for i in range(n):
            small = cv2.resize(l_nhw[i], (rw, rh), interpolation=cv2.INTER_AREA) if (rh, rw) != (height, width) \
                else l_nhw[i]
            l_norm[i, 0] = lab.normalize_l(small)
        ab_norm = self._runner(n, rh, rw)(l_norm)  # (N, 2, h', w')
        scale = lab.AB_SCALE * self.ab_gain
        ab = np.clip(ab_norm.transpose(0, 2, 3, 1) * scale, -lab.AB_LIMIT, lab.AB_LIMIT)
        return np.ascontiguousarray(ab, dtype=np.float32)

    @staticmethod
    def upsample_ab(ab_hw2: np.ndarray, height: int, width: int) -> np.ndarray:
        """ab (h', w', 2) -> (H, W, 2), bilinear; chroma is low-frequency."""
        if ab_hw2.shape[:2] == (height, width):
            return ab_hw2
        return cv2.resize(ab_hw2, (width, height), interpolation=cv2.INTER_LINEAR)

    def colorize_batch(self, l_nhw: np.ndarray) -> np.ndarray:
        """L frames (N, H, W) in [0, 100] -> ab (N, H, W, 2) Lab units at full resolution."""
        ab_small = self.predict_ab(l_nhw)
        n, height, width = l_nhw.shape
        return np.stack([self.upsample_ab(ab_small[i], height, width) for i in range(n)])

    def colorize_image(self, image: np.ndarray) -> np.ndarray:
        """uint8 gray (H, W), RGB (H, W, 3) or RGBA (H, W, 4) -> RGB(A) uint8 with the input's own L."""
        l_hw = image_l(image)
        ab = self.colorize_batch(l_hw[None])[0]
        rgb = lab.lab_to_rgb_uint8(l_hw, ab)
        if image.ndim == 3 and image.shape[2] == 4:
            return np.concatenate([rgb, image[..., 3:4]], axis=2)
        return rgb


def image_l(image: np.ndarray) -> np.ndarray:
    """L (H, W) float32 of a uint8 gray, RGB or RGBA image; only the luminance of tinted input is used."""
    if image.dtype != np.uint8:
        raise InputError(f"expected an 8-bit image, got {image.dtype}")
    if image.ndim == 2:
        return lab.gray_to_l(image)
    if image.ndim == 3 and image.shape[2] in (3, 4):
        return lab.rgb_to_lab(np.ascontiguousarray(image[..., :3]))[..., 0].copy()
    raise InputError(f"unsupported image shape {image.shape}")


def _onnx_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True
