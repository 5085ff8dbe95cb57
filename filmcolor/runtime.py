"""The runners of the network: torch (any device) and ONNX Runtime (CPU).

ONNX Runtime runs one fixed-shape graph per input size, exported from our own model and cached.

Fixed-shape graphs run ~25% faster than dynamic ones (../shared/CALIBRATION.md). Cache entries are keyed by the
weights' digest, the shape and the torch/onnxruntime versions, written atomically, and rebuilt when
they fail to load.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
import torch.nn as nn

from filmcolor.fsutil import write_bytes_atomic
from filmcolor.guide import GUIDE_CHANNELS
from filmcolor.models import takes_guide
from filmcolor.weights import file_digest

# Part of every cache name: raised when graphs exported by earlier versions must not be reused
# (g2: graphs exported after a split export could carry BatchNorm statistics it had disturbed).
CACHE_FORMAT = "g2"
CACHE_ENV = "FILMCOLOR_CACHE"  # read once here, at the edge: where exported graphs are kept


def cache_dir() -> Path:
    base = os.environ.get(CACHE_ENV) or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "filmcolor"
    )
    return Path(base) / "onnx"


class Runner(Protocol):
    """Runs the network: (N, 1, h, w) normalised L [+ (N, 3, h, w) guide] float32 -> (N, 2, h', w') ab_norm."""

    name: str

    def __call__(self, l_norm_n1hw: np.ndarray, guide_n3hw: np.ndarray | None = None) -> np.ndarray: ...


class TorchRunner:
    name = "torch"

    def __init__(self, model: nn.Module, device: torch.device):
        self.device = device
        self.dtype = torch.float32
        if device.type == "cuda":
            self.dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        elif device.type == "cpu":
            torch.set_num_threads(default_threads())
        self.model = model.eval().to(device=device, memory_format=torch.channels_last)
        self.guided = takes_guide(model)

    @torch.inference_mode()
    def __call__(self, l_norm_n1hw: np.ndarray, guide_n3hw: np.ndarray | None = None) -> np.ndarray:
        x = torch.from_numpy(l_norm_n1hw).to(self.device, non_blocking=True)
        x = x.contiguous(memory_format=torch.channels_last)
        inputs = [x]
        if self.guided:
            guide = torch.from_numpy(guide_n3hw).to(self.device, non_blocking=True)
            inputs.append(guide.contiguous(memory_format=torch.channels_last))
        with torch.autocast(self.device.type, dtype=self.dtype, enabled=self.dtype != torch.float32):
            ab = self.model(*inputs)
        return ab.float().cpu().numpy()

    @torch.inference_mode()
    def encode(self, l_norm_n1hw: np.ndarray) -> list[torch.Tensor]:
        """Guided models: the encoder's taps (kept on the device)."""
        x = torch.from_numpy(l_norm_n1hw).to(self.device).contiguous(memory_format=torch.channels_last)
        with torch.autocast(self.device.type, dtype=self.dtype, enabled=self.dtype != torch.float32):
            return self.model.encode(x)

    @torch.inference_mode()
    def decode(self, taps: list[torch.Tensor], guide_n3hw: np.ndarray) -> np.ndarray:
        guide = torch.from_numpy(guide_n3hw).to(self.device).contiguous(memory_format=torch.channels_last)
        with torch.autocast(self.device.type, dtype=self.dtype, enabled=self.dtype != torch.float32):
            return self.model.decode(taps, guide).float().cpu().numpy()


TAP_NAMES = ("s4", "s8", "s16", "s32")  # encoder outputs of the split graphs (guided models)
PARTS = ("full", "encode", "decode")  # the whole network, or its encoder and decoder apart


class _Encode(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, l_norm: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(self.model.encode(l_norm))


class _Decode(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, s4: torch.Tensor, s8: torch.Tensor, s16: torch.Tensor, s32: torch.Tensor,
                guide: torch.Tensor) -> torch.Tensor:
        return self.model.decode([s4, s8, s16, s32], guide)


def export_onnx(model: nn.Module, shape: tuple[int, int, int, int], part: str = "full") -> bytes:
    """Trace ``model`` at a fixed input shape (N, 1, H, W) and return the ONNX bytes.

    Guided models take their (N, 3, H, W) guide too; ``part`` "encode" / "decode" exports the two halves
    apart (L -> taps; taps + guide -> ab), so that a reference can be matched on the taps in between.
    """
    model = model.eval().to("cpu", memory_format=torch.contiguous_format)
    n, _, h, w = shape
    l_norm = torch.zeros(shape)
    guide = torch.zeros(n, GUIDE_CHANNELS, h, w)
    # The wrappers are made in eval mode: torch.onnx.export restores the exported module's own mode when it
    # is done, and a new module is in train mode, which would leave ``model`` training (BatchNorm then
    # updates its statistics on every later call: seen as wrong reference features after an export).
    if part == "encode":
        net, args, names, outputs = _Encode(model).eval(), (l_norm,), ["l_norm"], list(TAP_NAMES)
    elif part == "decode":
        with torch.no_grad():
            taps = tuple(model.encode(l_norm))
        net, args, names, outputs = _Decode(model).eval(), (*taps, guide), [*TAP_NAMES, "guide"], ["ab_norm"]
    elif takes_guide(model):
        net, args, names, outputs = model, (l_norm, guide), ["l_norm", "guide"], ["ab_norm"]
    else:
        net, args, names, outputs = model, (l_norm,), ["l_norm"], ["ab_norm"]
    buf = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, args, buf, input_names=names, output_names=outputs, opset_version=17,
                          dynamo=False)
    return buf.getvalue()


def default_threads() -> int:
    return max(1, os.cpu_count() or 1)


class OnnxRunner:
    name = "onnx"

    def __init__(self, onnx_path: Path, threads: int | None = None):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or default_threads()
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # idle worker threads must sleep, not spin: the decoder and encoder share these cores
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
        self.path = onnx_path
        self.guided = any(i.name == "guide" for i in self.session.get_inputs())

    def __call__(self, l_norm_n1hw: np.ndarray, guide_n3hw: np.ndarray | None = None) -> np.ndarray:
        feeds = {"l_norm": np.ascontiguousarray(l_norm_n1hw, dtype=np.float32)}
        if self.guided:
            feeds["guide"] = np.ascontiguousarray(guide_n3hw, dtype=np.float32)
        return self.session.run(None, feeds)[0]

    def encode(self, l_norm_n1hw: np.ndarray) -> list[np.ndarray]:
        """The encode graph: the encoder's taps."""
        return self.session.run(None, {"l_norm": np.ascontiguousarray(l_norm_n1hw, dtype=np.float32)})

    def decode(self, taps: list[np.ndarray], guide_n3hw: np.ndarray) -> np.ndarray:
        """The decode graph: taps + guide -> ab_norm."""
        feeds = dict(zip(TAP_NAMES, taps, strict=True))
        feeds["guide"] = np.ascontiguousarray(guide_n3hw, dtype=np.float32)
        return self.session.run(None, feeds)[0]

    @classmethod
    def for_shape(cls, model: nn.Module, weights_path: Path | None, shape: tuple[int, int, int, int],
                  threads: int | None = None, part: str = "full") -> OnnxRunner:
        """Load the cached graph for this weights file, shape and part, exporting it on first use."""
        path = cache_path(model, weights_path, shape, part)
        if path.exists():
            try:
                return cls(path, threads)
            except Exception:  # a truncated or corrupt cache entry is rebuilt, never trusted
                with contextlib.suppress(OSError):
                    path.unlink()
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(path, export_onnx(model, shape, part))
        return cls(path, threads)


def cache_path(model: nn.Module, weights_path: Path | None, shape: tuple[int, int, int, int],
               part: str = "full") -> Path:
    import onnxruntime as ort

    if weights_path is not None:
        key = file_digest(weights_path)
    else:  # an in-memory model: key on its parameters
        digest = 0
        for t in model.state_dict().values():
            digest = hash((digest, t.float().sum().item(), tuple(t.shape)))
        key = f"mem{digest & 0xFFFFFFFFFFFF:012x}"
    n, c, h, w = shape
    versions = f"torch{torch.__version__.split('+')[0]}-ort{ort.__version__}"
    suffix = "" if part == "full" else f"-{part}"
    return cache_dir() / f"{key}-{n}x{c}x{h}x{w}{suffix}-{versions}-{CACHE_FORMAT}.onnx"
