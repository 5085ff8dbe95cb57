"""Scoring a colourised video file: flicker, and ab error against its colour original (`filmcolor eval-video`).

Frames are decoded with PyAV, shrunk to the analysis size and measured by metrics.FlickerMeter.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import cv2
import numpy as np

from filmcolor import lab
from filmcolor.errors import InputError
from filmcolor.metrics import ANALYSIS_SHORT_SIDE, GRAY_CHROMA, FlickerMeter, analysis_shape
from filmcolor.video.scenecut import DEFAULT_CUT_THRESHOLD
from filmcolor.video.truncation import cut_short, truncated

# an original whose frames' shape differs from the output's by more than this is another film (an audit: a 4:3
# one was stretched onto a 16:9 output and scored); within it, a pixel or two of rounding (852 for 854 wide)
MAX_ASPECT_GAP = 0.03


def lab_frames(path: Path, short_side: int) -> Iterator[np.ndarray]:
    """Lab (h, w, 3) of each frame at the analysis size (RGB shrunk first: cheap on long films)."""
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, expected a video file")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as err:
        raise InputError(f"{path}: not a readable video ({err})") from err
    try:
        sizes = cut_short(path)
    except OSError:
        sizes = None
    if sizes is not None:  # (a cut MP4 scored its first 32 of 60 frames, exit 0; an audit)
        container.close()
        raise InputError(f"{truncated(path, sizes)}; its score would be of a part")
    with container:
        if not container.streams.video:
            raise InputError(f"{path}: no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            for frame in container.decode(stream):
                rgb = frame.to_ndarray(format="rgb24")
                h, w = analysis_shape(*rgb.shape[:2], short_side)
                if (h, w) != rgb.shape[:2]:
                    rgb = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
                yield lab.rgb_to_lab(rgb)
        except av.error.FFmpegError as err:
            raise InputError(f"{path}: decoding failed ({err})") from err


def evaluate_video(output: Path, original: Path | None = None, cut_threshold: float = DEFAULT_CUT_THRESHOLD,
                   short_side: int = ANALYSIS_SHORT_SIDE) -> dict:
    """The metrics of ``output`` (and against ``original``) as a JSON-ready dict; Lab units."""
    meter = FlickerMeter(short_side=short_side, cut_threshold=cut_threshold)
    out_frames = lab_frames(output, short_side)
    ref_frames = lab_frames(original, short_side) if original is not None else None
    output_count = original_count = 0
    chroma_out = chroma_ref = 0.0  # summed over the frames compared: a gray original has no colour to compare
    for lab_out in out_frames:
        output_count += 1
        ab_ref = None
        if ref_frames is not None:
            lab_ref = next(ref_frames, None)
            if lab_ref is None:
                break
            original_count += 1
            ab_ref = lab_ref[..., 1:]
            if original_count == 1 and abs(_aspect(ab_ref) / _aspect(lab_out) - 1) > MAX_ASPECT_GAP:
                raise InputError(f"{original}: its frames are {_aspect(ab_ref):.2f}:1, the output's "
                                 f"{_aspect(lab_out):.2f}:1: not the original of {output.name}")
            chroma_ref += float(np.hypot(ab_ref[..., 0], ab_ref[..., 1]).mean())
        chroma_out += float(np.hypot(lab_out[..., 1], lab_out[..., 2]).mean())
        # Flow and reliability come from the output's L (the input's own L, kept by the colouriser).
        meter.update(np.ascontiguousarray(lab_out[..., 0]), lab_out[..., 1:], ab_ref)
    warnings = []
    partial = False  # the original and the output differ in length: only their common frames were compared
    if ref_frames is not None:
        original_count += sum(1 for _ in ref_frames)
        output_count += sum(1 for _ in out_frames)
        if original_count != output_count:
            partial = True
            warnings.append(f"output has {output_count} frames, original {original_count}: "
                            f"compared the first {meter.result().frames}")
    if output_count == 0:
        raise InputError(f"{output}: no video frames decoded")
    result = meter.result()
    compared = max(1, result.frames)
    if original is not None and chroma_ref / compared < GRAY_CHROMA:  # (it scored a flicker ratio of 17692
        raise InputError(f"{original}: the original is gray (mean chroma {chroma_ref / compared:.2f}): no colour "
                         "to compare with; give the colour original")  # and exit 0; an audit)
    if chroma_out / compared < GRAY_CHROMA:
        warnings.append(f"{output}: has no colour (mean chroma {chroma_out / compared:.2f}): its flicker says "
                        "nothing")
    if result.pairs == 0:  # (a still read as one frame scored a flicker of 0.0, "perfectly steady", exit 0)
        raise InputError(f"{output}: {result.frames} frame{'s' if result.frames != 1 else ''} and no pair of "
                         "frames in one shot whose motion could be followed: no flicker to measure")
    return {
        "output": str(output),
        "original": None if original is None else str(original),
        "frames": result.frames,
        "pairs_measured": result.pairs,
        "reliable_fraction": round(result.reliable_fraction, 4),
        "cuts": result.cuts,
        "flicker": _rounded(result.flicker),
        "ab_error": _rounded(result.ab_error),
        "original_flicker": _rounded(result.reference_flicker),
        "flicker_ratio": _rounded(result.flicker_ratio),
        "units": "Lab",
        "analysis_short_side": short_side,
        "warnings": warnings,
        "partial": partial,
    }


def _aspect(frame: np.ndarray) -> float:
    """A frame's width / height."""
    return frame.shape[1] / frame.shape[0]


def _rounded(value: float | None) -> float | None:
    """To 4 decimals, as `filmcolor eval` gives its figures."""
    return None if value is None else round(value, 4)
