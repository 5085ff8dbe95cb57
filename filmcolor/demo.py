"""A built-in demo clip: scikit-image's bundled photos, made gray, panned and zoomed, with a sound track.

Needs nothing from the user and no network: the photos ship inside scikit-image's wheel.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

DEMO_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")  # skimage.data sample photos
DEMO_SIZE = (640, 360)  # width, height
DEMO_FPS = 24
SECONDS_PER_PHOTO = 1.5
AUDIO_RATE = 44100


def demo_photos() -> list[np.ndarray]:
    import skimage.data

    return [getattr(skimage.data, name)() for name in DEMO_PHOTOS]


def _pan_zoom(rgb: np.ndarray, t: float, size: tuple[int, int]) -> np.ndarray:
    """A crop of ``rgb`` that zooms in (1.0 -> 1.25) and drifts right as t goes 0 -> 1."""
    width, height = size
    h, w = rgb.shape[:2]
    base = min(w / width, h / height)  # scale that fits the output inside the photo
    zoom = 1.0 + 0.25 * t
    crop_w = width * base / zoom
    cx = crop_w / 2 + (w - crop_w) * (0.3 + 0.4 * t)
    cy = h / 2
    scale = width / crop_w
    matrix = np.array([[scale, 0, width / 2 - cx * scale], [0, scale, height / 2 - cy * scale]], np.float32)
    return cv2.warpAffine(rgb, matrix, size, flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)


def demo_frames(size: tuple[int, int] = DEMO_SIZE, fps: int = DEMO_FPS) -> list[np.ndarray]:
    """RGB frames of the colour demo sequence (the ground truth the gray clip is made from)."""
    frames = []
    per_photo = int(round(SECONDS_PER_PHOTO * fps))
    for photo in demo_photos():
        frames += [_pan_zoom(photo, i / max(1, per_photo - 1), size) for i in range(per_photo)]
    return frames


def _tone(seconds: float) -> np.ndarray:
    """A soft stereo chord, float32 (2, samples), for the sound track."""
    t = np.arange(int(seconds * AUDIO_RATE)) / AUDIO_RATE
    chord = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.18, 329.63)) / 6.0
    envelope = np.minimum(1.0, np.minimum(t, seconds - t) * 4.0)
    left = (chord * envelope).astype(np.float32)
    return np.stack([left, np.roll(left, 200)])


def write_demo_clip(path: Path, size: tuple[int, int] = DEMO_SIZE, fps: int = DEMO_FPS) -> int:
    """Write the gray demo clip (H.264 + AAC stereo) to ``path``; returns its number of frames."""
    frames = demo_frames(size, fps)
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = size[0], size[1], "yuv420p"
        video.options = {"crf": "20", "preset": "veryfast"}
        audio = container.add_stream("aac", rate=AUDIO_RATE, layout="stereo")
        samples = _tone(len(frames) / fps)
        for i, rgb in enumerate(frames):
            gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
            frame = av.VideoFrame.from_ndarray(np.repeat(gray[..., None], 3, axis=2), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            container.mux(video.encode(frame.reformat(format="yuv420p")))
        chunk = 1024
        for start in range(0, samples.shape[1], chunk):
            block = np.ascontiguousarray(samples[:, start:start + chunk])
            aframe = av.AudioFrame.from_ndarray(block, format="fltp", layout="stereo")
            aframe.sample_rate, aframe.pts = AUDIO_RATE, start
            container.mux(audio.encode(aframe))
        container.mux(audio.encode(None))
        container.mux(video.encode(None))
    return len(frames)
