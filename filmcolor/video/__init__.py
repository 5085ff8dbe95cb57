"""Streaming video colourisation: reader (PyAV decode), pipeline (batched network), writer (encode, mux)."""

from filmcolor.video.pipeline import VideoOptions, VideoReport, colorize_video

__all__ = ["VideoOptions", "VideoReport", "colorize_video"]
