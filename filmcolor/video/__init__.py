"""Streaming video colourisation: reader (PyAV decode), pipeline (batched network), writer (encode, mux).

The package's names load on first use, so that the modules photo code shares with it (scenecut, temporal)
import without PyAV: training and photo scoring run where no video library is installed.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from filmcolor.video.pipeline import VideoOptions, VideoReport, colorize_video

__all__ = ["VideoOptions", "VideoReport", "colorize_video"]


def __getattr__(name: str) -> object:
    if name in __all__:
        return getattr(import_module("filmcolor.video.pipeline"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
