"""Model registry: every architecture registers a constructor under a name."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn as nn

from filmcolor.errors import ConfigError


@dataclass(frozen=True)
class ModelInfo:
    name: str
    builder: Callable[..., nn.Module]
    kind: str  # "generator" (L -> ab) or "discriminator"
    description: str


_REGISTRY: dict[str, ModelInfo] = {}


def register(name: str, kind: str, description: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    def wrap(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        _REGISTRY[name] = ModelInfo(name, builder, kind, description)
        return builder

    return wrap


def create_model(name: str, **kwargs) -> nn.Module:
    """Build the architecture registered as ``name`` with constructor arguments ``kwargs``; arguments it does
    not take, or values it cannot be built with, are a ConfigError (a weights file's or --arch-kwargs')."""
    info = model_info(name)
    try:
        inspect.signature(info.builder).bind(**kwargs)
    except TypeError as err:  # (an argument it does not take was Python's TypeError; an audit)
        raise ConfigError(f"arguments {kwargs} do not fit '{name}' ({err})") from err
    try:
        return info.builder(**kwargs)
    except (TypeError, ValueError, RuntimeError) as err:  # three channels given for four, a negative one: torch's
        # own errors, which named no file (an audit). Without arguments, or out of memory, the error is ours or
        # the machine's, not the arguments' (a review): it goes on as it is
        if not kwargs or isinstance(err, torch.OutOfMemoryError) or "out of memory" in str(err):
            raise
        raise ConfigError(f"arguments {kwargs} do not fit '{name}' ({str(err).splitlines()[0]})") from err


def takes_guide(model: nn.Module) -> bool:
    """Whether a generator takes a colour guide besides L (filmcolor-guided)."""
    return int(getattr(model, "guide_channels", 0)) > 0


def list_models(kind: str | None = None) -> list[str]:
    return sorted(n for n, info in _REGISTRY.items() if kind is None or info.kind == kind)


def model_info(name: str) -> ModelInfo:
    if name not in _REGISTRY:
        raise ConfigError(f"unknown architecture '{name}' (known: {', '.join(list_models())})")
    return _REGISTRY[name]


# Importing the architecture modules registers them.
from filmcolor.models import fast, guided, patchgan, pix2pix  # noqa: E402,F401
from filmcolor.runtime import code_key  # noqa: E402

code_key()  # the code as imported now is what graphs exported by this process are keyed by (runtime.code_key)
