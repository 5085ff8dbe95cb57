"""The runners of the network: torch (any device) and ONNX Runtime (CPU).

ONNX Runtime runs one fixed-shape graph per input size, exported from our own model and cached.

Fixed-shape graphs run ~25% faster than dynamic ones (../shared/CALIBRATION.md). Cache entries are keyed by the
weights' digest, the shape and the torch/onnxruntime versions, written atomically, and rebuilt when
they fail to load.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import io
import json
import os
import threading
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from filmcolor.errors import FilmcolorWarning, OutputError
from filmcolor.fsutil import PARTIAL_MARK, remove_stale_partials, write_bytes_atomic
from filmcolor.weights import file_digest

if TYPE_CHECKING:  # torch loads only for the torch runner and for exporting graphs (~0.8 s): with a cached
    import torch  # graph, ONNX Runtime colours a film without it
    import torch.nn as nn

# Part of every cache name: raised when graphs exported by earlier versions must not be reused
# (g2: graphs exported after a split export could carry BatchNorm statistics it had disturbed).
CACHE_FORMAT = "g2"
_EXPORTING = threading.Lock()  # see OnnxRunner.for_shape
CACHE_ENV = "FILMCOLOR_CACHE"  # read once here, at the edge: where exported graphs are kept
# The graphs kept at most (2-16 MB each: one per weights file, input shape and part, so a folder of photos of
# many sizes, or weights retrained often, made one without end; an audit found 3.3 GB): past it, the graphs
# used longest ago are removed as a new one is written (a graph's time is set each time it is loaded)
CACHE_LIMIT_BYTES = 1 << 30


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
        import torch

        from filmcolor.models import takes_guide

        self.torch = torch
        self.device = device
        self.dtype = torch.float32
        if device.type == "cuda":
            self.dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        # torch's CPU thread count is the process's (the program's to set, e.g. train --threads): left alone
        self.model = model.eval().to(device=device, memory_format=torch.channels_last)
        self.guided = takes_guide(model)

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        x = self.torch.from_numpy(array).to(self.device, non_blocking=True)
        return x.contiguous(memory_format=self.torch.channels_last)

    def _autocast(self) -> Any:
        return self.torch.autocast(self.device.type, dtype=self.dtype, enabled=self.dtype != self.torch.float32)

    def __call__(self, l_norm_n1hw: np.ndarray, guide_n3hw: np.ndarray | None = None) -> np.ndarray:
        with self.torch.inference_mode():
            inputs = [self._tensor(l_norm_n1hw)]
            if self.guided:
                if guide_n3hw is None:  # a guided model used automatically: no guidance anywhere
                    from filmcolor.guide import GUIDE_CHANNELS

                    guide_n3hw = np.zeros((l_norm_n1hw.shape[0], GUIDE_CHANNELS, *l_norm_n1hw.shape[2:]), np.float32)
                inputs.append(self._tensor(guide_n3hw))
            with self._autocast():
                ab = self.model(*inputs)
            return ab.float().cpu().numpy()

    def encode(self, l_norm_n1hw: np.ndarray) -> list[torch.Tensor]:
        """Guided models: the encoder's taps (kept on the device)."""
        with self.torch.inference_mode(), self._autocast():
            return self.model.encode(self._tensor(l_norm_n1hw))

    def decode(self, taps: list[torch.Tensor], guide_n3hw: np.ndarray) -> np.ndarray:
        with self.torch.inference_mode(), self._autocast():
            return self.model.decode(taps, self._tensor(guide_n3hw)).float().cpu().numpy()


TAP_NAMES = ("s4", "s8", "s16", "s32")  # encoder outputs of the split graphs (guided models)


def _halves(model: nn.Module) -> tuple[nn.Module, nn.Module]:
    """Wrappers that export a guided model's encoder and decoder apart (made here: they need torch)."""
    import torch.nn as nn

    class Encode(nn.Module):
        def __init__(self, model: nn.Module):
            super().__init__()
            self.model = model

        def forward(self, l_norm: torch.Tensor) -> tuple[torch.Tensor, ...]:
            return tuple(self.model.encode(l_norm))

    class Decode(nn.Module):
        def __init__(self, model: nn.Module):
            super().__init__()
            self.model = model

        def forward(self, s4: torch.Tensor, s8: torch.Tensor, s16: torch.Tensor, s32: torch.Tensor,
                    guide: torch.Tensor) -> torch.Tensor:
            return self.model.decode([s4, s8, s16, s32], guide)

    return Encode(model), Decode(model)


def export_onnx(model: nn.Module, shape: tuple[int, int, int, int], part: str = "full") -> bytes:
    """Trace ``model`` at a fixed input shape (N, 1, H, W) and return the ONNX bytes.

    Guided models take their (N, 3, H, W) guide too; ``part`` "encode" / "decode" exports the two halves
    apart (L -> taps; taps + guide -> ab), so that a reference can be matched on the taps in between.
    """
    import torch

    from filmcolor.guide import GUIDE_CHANNELS
    from filmcolor.models import takes_guide

    model = model.eval().to("cpu", memory_format=torch.contiguous_format)
    n, _, h, w = shape
    l_norm = torch.zeros(shape)
    guide = torch.zeros(n, GUIDE_CHANNELS, h, w)
    # The wrappers are made in eval mode: torch.onnx.export restores the exported module's own mode when it
    # is done, and a new module is in train mode, which would leave ``model`` training (BatchNorm then
    # updates its statistics on every later call: seen as wrong reference features after an export).
    if part == "encode":
        net, args, names, outputs = _halves(model)[0].eval(), (l_norm,), ["l_norm"], list(TAP_NAMES)
    elif part == "decode":
        with torch.no_grad():
            taps = tuple(model.encode(l_norm))
        net, args, names, outputs = _halves(model)[1].eval(), (*taps, guide), [*TAP_NAMES, "guide"], ["ab_norm"]
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
    """The cores this process may use: its CPU affinity (a container's --cpuset-cpus, a Slurm job), or
    OMP_NUM_THREADS where set (Ray sets it to a task's CPUs), not every core of the host (an audit: each of
    a batch's Ray tasks asked ONNX Runtime for all of them)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    asked = os.environ.get("OMP_NUM_THREADS", "")
    return max(1, min(cores, int(asked)) if asked.isdigit() and int(asked) > 0 else cores)


class OnnxRunner:
    name = "onnx"

    def __init__(self, onnx_path: Path | bytes, threads: int | None = None):
        """``onnx_path``: the graph's file, or its bytes (when the cache cannot be written)."""
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or default_threads()
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # idle worker threads must sleep, not spin: the decoder and encoder share these cores
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        graph = onnx_path if isinstance(onnx_path, bytes) else str(onnx_path)
        self.session = ort.InferenceSession(graph, opts, providers=["CPUExecutionProvider"])
        self.path = None if isinstance(onnx_path, bytes) else onnx_path
        guide_inputs = [i for i in self.session.get_inputs() if i.name == "guide"]
        self.guided = bool(guide_inputs)
        self._no_guide = np.zeros(guide_inputs[0].shape, np.float32) if self.guided else None

    def __call__(self, l_norm_n1hw: np.ndarray, guide_n3hw: np.ndarray | None = None) -> np.ndarray:
        feeds = {"l_norm": np.ascontiguousarray(l_norm_n1hw, dtype=np.float32)}
        if self.guided:  # a guided model used automatically gets an empty guide
            feeds["guide"] = self._no_guide if guide_n3hw is None else np.ascontiguousarray(guide_n3hw, np.float32)
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
    def _cached(cls, path: Path, threads: int | None) -> OnnxRunner | None:
        """The cached graph at ``path`` loaded, or None: none there, or a truncated or corrupt one (removed, to
        be rebuilt, never trusted). Loading takes no lock: only exporting does."""
        if not path.exists():
            return None
        try:
            runner = cls(path, threads)
            with contextlib.suppress(OSError):  # used now: the last to be removed (prune_cache)
                os.utime(path)
            return runner
        except Exception:  # noqa: BLE001
            with contextlib.suppress(OSError):
                path.unlink()
            return None

    @classmethod
    def for_shape(cls, get_model: Callable[[], nn.Module], weights_path: Path | None,
                  shape: tuple[int, int, int, int], threads: int | None = None, part: str = "full") -> OnnxRunner:
        """Load the cached graph for this weights file, shape and part, exporting it on first use.

        ``get_model`` builds (or returns) the model: called only when the graph must be exported, or to key
        an in-memory model's graphs."""
        path = cache_path(get_model, weights_path, shape, part)
        if (cached := cls._cached(path, threads)) is not None:
            return cached
        with _EXPORTING:  # one export at a time (torch's exporter traces with global state); a thread that
            if (cached := cls._cached(path, threads)) is not None:  # waited here loads the first one's graph
                return cached
            graph = export_onnx(get_model(), shape, part)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                write_bytes_atomic(path, graph)
                prune_cache(path.parent, keep=path)
            except (OSError, OutputError) as err:  # a read-only home (a container, a cluster node): colour on
                reason = err.strerror if isinstance(err, OSError) else str(err).rpartition("(")[2].rstrip(")")
                warnings.warn(f"{path.parent}: cannot keep the network's graphs there ({reason}); they are "
                              f"built again on each run (set {CACHE_ENV} to a writable folder)",
                              FilmcolorWarning, stacklevel=2)
                return cls(graph, threads)
        return cls(path, threads)


def prune_cache(folder: Path, keep: Path, limit: int | None = None) -> int:
    """Remove the graphs in ``folder`` used longest ago until they hold at most ``limit`` bytes (default
    CACHE_LIMIT_BYTES; ``keep``, the one just written, stays); returns how many. Another process loading one
    as it goes still reads it whole (an open file outlives its name), or exports it again."""
    limit = CACHE_LIMIT_BYTES if limit is None else limit
    remove_stale_partials(folder)  # a killed export's (its key may never be exported again); live ones stay
    graphs = []
    for path in folder.glob("*.onnx"):
        if PARTIAL_MARK in path.name:  # another export still being written (killed ones went just above)
            continue
        with contextlib.suppress(OSError):
            st = path.stat()
            graphs.append((st.st_mtime_ns, st.st_size, path))
    total, removed = sum(size for _, size, _ in graphs), 0
    for _, size, path in sorted(graphs):
        if total <= limit:
            break
        if path != keep:
            with contextlib.suppress(OSError):
                path.unlink()
                total -= size
                removed += 1
    return removed


def cache_path(get_model: Callable[[], nn.Module], weights_path: Path | None, shape: tuple[int, int, int, int],
               part: str = "full") -> Path:
    import onnxruntime as ort

    if weights_path is not None:
        key = weights_key(weights_path)
    else:  # an in-memory model: key on its class and every byte of its tensors (a sum of each tensor took
        # a model whose a and b were swapped for another's, and coloured with that one's graph; an audit)
        import torch

        model = get_model()
        digest = hashlib.sha256(f"{type(model).__module__}.{type(model).__qualname__}".encode())
        for name, t in model.state_dict().items():
            t = t.detach().to("cpu").contiguous().reshape(-1)
            digest.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
            digest.update(t.view(torch.uint8).numpy().tobytes())
        key = f"mem{digest.hexdigest()[:16]}"
    n, c, h, w = shape
    versions = f"torch{importlib.metadata.version('torch').split('+')[0]}-ort{ort.__version__}"
    suffix = "" if part == "full" else f"-{part}"
    return cache_dir() / f"{key}-{n}x{c}x{h}x{w}{suffix}-{versions}-{CACHE_FORMAT}-{code_key()}.onnx"


@functools.lru_cache(maxsize=1)
def code_key() -> str:
    """A digest of the code a graph is exported from (the architectures and this module): a graph cached by
    other code is never loaded for this one (an audit: two checkouts with the same weights shared one graph,
    so a bench of a changed network timed the other's, and a changed network coloured as the old one). Taken
    when filmcolor.models is imported, so that a process whose files change under it (a pull while the studio
    runs) keys its graphs by the code it runs; read as package resources (a zip import has no files)."""
    import importlib.resources

    digest = hashlib.sha256()
    try:
        package = importlib.resources.files("filmcolor")
        sources = sorted((p for p in package.joinpath("models").iterdir() if p.name.endswith(".py")),
                         key=lambda p: p.name)
        for source in [*sources, package.joinpath("runtime.py")]:
            digest.update(source.name.encode() + b"\0" + source.read_bytes())
    except OSError:  # no sources to read (a bytecode-only install): the version stands for them
        digest.update(importlib.metadata.version("filmcolor").encode())
    return digest.hexdigest()[:8]


_DIGESTS: dict[tuple[str, int, int], str] = {}


def weights_key(path: Path) -> str:
    """The weights file's digest (file_digest), computed once per process for an unchanged file."""
    stat = Path(path).stat()
    key = (str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _DIGESTS:
        _DIGESTS[key] = file_digest(path)
    return _DIGESTS[key]


@dataclass(frozen=True)
class ModelFacts:
    """What the pipeline needs to know about a network besides its graph: input sides are multiples of
    ``size_multiple``, ab comes out at 1/``output_stride`` of the input, ``guided``: it takes a guide."""

    size_multiple: int
    output_stride: int
    guided: bool

    @classmethod
    def of(cls, model: nn.Module) -> ModelFacts:
        from filmcolor.models import takes_guide

        return cls(int(getattr(model, "size_multiple", 32)), int(getattr(model, "output_stride", 1)),
                   takes_guide(model))


def _facts_path(weights_path: Path) -> Path:
    return cache_dir() / f"{weights_key(weights_path)}-facts-{CACHE_FORMAT}-{code_key()}.json"


def cached_facts(weights_path: Path) -> ModelFacts | None:
    """The facts of this weights file noted by an earlier run (so that a run with cached graphs never
    builds the torch model), or None."""
    try:
        return ModelFacts(**json.loads(_facts_path(weights_path).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def note_facts(weights_path: Path, facts: ModelFacts) -> None:
    with contextlib.suppress(OSError):
        path = _facts_path(weights_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(path, json.dumps(asdict(facts)).encode())
