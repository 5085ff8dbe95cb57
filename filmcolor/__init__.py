"""filmcolor: give colour back to black-and-white films, CCTV footage and old photos.

The public names load on first use, so that ``import filmcolor`` does not wait for torch: the command line
starts handling Ctrl-C before its heavy imports, and ``filmcolor.imageio`` alone stays small.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Colorizer", "FilmcolorError", "create_model", "list_models", "__version__"]

_HOMES = {"Colorizer": "filmcolor.colorize", "FilmcolorError": "filmcolor.errors",
          "create_model": "filmcolor.models", "list_models": "filmcolor.models"}

if TYPE_CHECKING:
    from filmcolor.colorize import Colorizer
    from filmcolor.errors import FilmcolorError
    from filmcolor.models import create_model, list_models


def __dir__() -> list[str]:
    """The loaded names and the lazy ones (dir() and completion listed no Colorizer; an audit)."""
    return sorted({*globals(), *_HOMES})


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'filmcolor' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name]), name)
    globals()[name] = value
    return value
