"""Weights as .safetensors with metadata (architecture, its arguments, normalisation, training info).

Loading never unpickles anything.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from safetensors import SafetensorError, safe_open

from filmcolor import lab
from filmcolor.errors import FilmcolorError, WeightsError
from filmcolor.fsutil import write_bytes_atomic

if TYPE_CHECKING:  # torch is imported only where tensors are read or written: it takes ~0.8 s to load
    import torch
    import torch.nn as nn

FORMAT_VERSION = "1"
PACKAGE_WEIGHTS_DIR = Path(__file__).parent / "weights"
DEFAULT_WEIGHTS_NAME = "filmcolor-guided"  # shipped file: filmcolor/weights/filmcolor-guided.safetensors


@dataclass(frozen=True)
class WeightsMeta:
    arch: str
    arch_kwargs: dict[str, Any]
    normalization: dict[str, float]
    info: dict[str, Any] = field(default_factory=dict)


def lab_normalization() -> dict[str, float]:
    return {"l_scale": lab.L_SCALE, "l_shift": lab.L_SHIFT, "ab_scale": lab.AB_SCALE}


def save_weights(path: Path, model: nn.Module, arch: str, arch_kwargs: dict[str, Any],
                 info: dict[str, Any] | None = None) -> None:
    """Write the model's state dict and metadata to ``path`` atomically."""
    from safetensors.torch import save

    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    metadata = {
        "format": "filmcolor",
        "format_version": FORMAT_VERSION,
        "arch": arch,
        "arch_kwargs": json.dumps(arch_kwargs),
        "normalization": json.dumps(lab_normalization()),
        "info": json.dumps(info or {}),
    }
    write_bytes_atomic(Path(path), save(state, metadata=metadata))  # (in memory first: a full disk is said as
    # one, where safetensors' own writing raised a SafetensorError)


def read_meta(path: Path) -> WeightsMeta:
    """Read only the metadata of a weights file."""
    path = Path(path)
    meta, _ = _open(path, load_tensors=False)
    return meta


def _open(path: Path, load_tensors: bool) -> tuple[WeightsMeta, dict[str, torch.Tensor]]:
    if not path.exists():
        raise WeightsError(f"{path}: weights file not found")
    if path.is_dir():
        raise WeightsError(f"{path}: is a folder, not a .safetensors weights file")
    if not path.is_file():  # a pipe waited for ever, /dev/zero was read for ever (an audit)
        raise WeightsError(f"{path}: not a file (a pipe or a device); give a .safetensors weights file")
    try:
        with safe_open(str(path), framework="pt" if load_tensors else "numpy") as fh:
            raw = fh.metadata() or {}
            tensors = {k: fh.get_tensor(k) for k in fh.keys()} if load_tensors else {}
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        if path.suffix == ".pt":  # RUN_DIR/last.pt, given as --model
            raise WeightsError(f"{path}: a training checkpoint (it resumes training); colour with its run's "
                               "best.safetensors or final.safetensors") from err
        raise WeightsError(f"{path}: not a valid .safetensors weights file ({err})") from err
    if raw.get("format") != "filmcolor" or "arch" not in raw:
        raise WeightsError(f"{path}: safetensors file without filmcolor metadata (no architecture recorded)")
    version = raw.get("format_version", FORMAT_VERSION)
    if not version.isdigit() or int(version) > int(FORMAT_VERSION):
        raise WeightsError(f"{path}: weights format version {version}, newer than this filmcolor reads "
                           f"({FORMAT_VERSION}); update filmcolor")
    try:
        meta = WeightsMeta(
            arch=raw["arch"],
            arch_kwargs=json.loads(raw.get("arch_kwargs", "{}")),
            normalization=json.loads(raw.get("normalization", "{}")),
            info=json.loads(raw.get("info", "{}")),
        )
    except json.JSONDecodeError as err:
        raise WeightsError(f"{path}: corrupt metadata ({err})") from err
    for key in ("arch_kwargs", "normalization", "info"):
        if not isinstance(getattr(meta, key), dict):
            raise WeightsError(f"{path}: corrupt metadata ('{key}' is not a JSON object)")
    gain = meta.info.get("ab_gain", 1.0)  # (a word there was a ValueError at Colorizer's making; an audit)
    if isinstance(gain, bool) or not isinstance(gain, (int, float)) or not math.isfinite(gain) or gain < 0:
        raise WeightsError(f"{path}: corrupt metadata (ab_gain {gain!r} is not a number of 0 or more)")
    if meta.normalization and meta.normalization != lab_normalization():
        raise WeightsError(f"{path}: trained with another Lab normalisation {meta.normalization}")
    return meta, tensors


def load_model(path: Path) -> tuple[nn.Module, WeightsMeta]:
    """Build the recorded architecture and load the tensors strictly; model in eval mode."""
    from filmcolor.models import create_model, model_info

    path = Path(path)
    meta, tensors = _open(path, load_tensors=True)
    try:
        kind = model_info(meta.arch).kind
        model = create_model(meta.arch, **meta.arch_kwargs)
    except FilmcolorError as err:
        raise WeightsError(f"{path}: {err}") from err
    if kind != "generator":  # (a PatchGAN's failed on the first photo, naming the photo; an audit)
        raise WeightsError(f"{path}: '{meta.arch}' is a {kind}, not a colouring network")
    own = model.state_dict()
    floats = [k for k, t in own.items() if t.is_floating_point() and k in tensors]
    bad = next((k for k in floats if not tensors[k].is_floating_point()), None)
    if bad is not None:  # (torch casts them in silence: every picture came out white; an audit)
        raise WeightsError(f"{path}: tensor {bad} holds {str(tensors[bad].dtype).removeprefix('torch.')}, not "
                           "floating-point numbers")
    bad = next((k for k in floats if not tensors[k].isfinite().all()), None)
    if bad is not None:  # a training run that diverged: every picture came out white (an audit)
        raise WeightsError(f"{path}: tensor {bad} holds NaN or infinity (a training run that diverged?)")
    try:
        result = model.load_state_dict(tensors, strict=False)
    except RuntimeError as err:  # shape mismatches; torch's message spans several lines
        detail = next((ln.strip() for ln in str(err).splitlines() if "mismatch" in ln), "shape mismatch")
        raise WeightsError(f"{path}: tensors do not match architecture '{meta.arch}' ({detail})") from err
    if result.missing_keys or result.unexpected_keys:
        missing = ", ".join(result.missing_keys[:3])
        extra = ", ".join(result.unexpected_keys[:3])
        raise WeightsError(
            f"{path}: tensors do not match architecture '{meta.arch}'"
            + (f"; missing {len(result.missing_keys)} ({missing}...)" if result.missing_keys else "")
            + (f"; unexpected {len(result.unexpected_keys)} ({extra}...)" if result.unexpected_keys else "")
        )
    return model.eval(), meta


def file_digest(path: Path) -> str:
    """Short sha256 of a file, to key caches on the exact weights."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def shipped_weights() -> dict[str, Path]:
    """Weights that ship inside the package, by name."""
    return {p.stem: p for p in sorted(PACKAGE_WEIGHTS_DIR.glob("*.safetensors"))}


def resolve_weights(name_or_path: str | Path | None) -> Path:
    """A shipped weights name ('default' or its stem) or a file path -> an existing file path."""
    name = str(name_or_path) if name_or_path is not None else "default"
    shipped = shipped_weights()
    if name == "default":
        name = DEFAULT_WEIGHTS_NAME
    if name in shipped:
        return shipped[name]
    path = Path(name).expanduser()
    if path.exists() or path.suffix or "/" in name:
        return path
    if name == DEFAULT_WEIGHTS_NAME:
        raise WeightsError(
            "no trained default weights are installed; train some with 'filmcolor train' "
            "and pass them with --model PATH"
        )
    known = ", ".join(["default", *shipped]) or "none shipped"
    raise WeightsError(f"unknown model '{name}': not a shipped weights name ({known}) nor an existing file")
