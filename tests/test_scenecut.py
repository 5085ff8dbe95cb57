"""Scene cuts from L alone: exactly the real cuts of scene_cuts.mp4 made gray, none in one-shot clips."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from filmcolor.lab import gray_to_l
from filmcolor.video.scenecut import SceneCutDetector
from filmcolor.video.temporal import TemporalOptions, TemporalSmoother

AB_SIZE = (112, 64)  # (w, h): the ab resolution of 854x480 at the default render size


def cuts_in(path: Path) -> list[int]:
    """Decode as gray (what a black-and-white film gives us), shrink L to the ab size, run the smoother."""
    smoother = TemporalSmoother(TemporalOptions(mode="off"))
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            l_hw = gray_to_l(frame.to_ndarray(format="gray"))
            l_small = cv2.resize(l_hw, AB_SIZE, interpolation=cv2.INTER_AREA)
            smoother(l_small, np.zeros((*l_small.shape, 2), np.float32))
    return smoother.cuts


@pytest.mark.slow
def test_scene_cuts_clip_has_exactly_its_two_cuts(shared_data: Path) -> None:
    assert cuts_in(shared_data / "videos" / "scene_cuts.mp4") == [72, 144]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["davis_dance_twirl.mp4", "cctv_pedestrians.avi"])
def test_one_shot_clips_have_no_cut(shared_data: Path, name: str) -> None:
    assert cuts_in(shared_data / "videos" / name) == []


def test_detector_adapts_to_the_shots_motion_level() -> None:
    busy = SceneCutDetector(threshold=4.0)
    # A handheld shot changes by 3-5 L units every frame: 12 is within 4x its level, 30 is not.
    assert not any(busy.update(s) for s in [3.0, 4.0, 5.0, 3.5, 4.5] * 4)
    assert not busy.update(12.0)
    assert busy.update(30.0)
    still = SceneCutDetector(threshold=4.0)
    # A static camera's level is raised to the floor, so sensor noise and a walker never make a cut.
    assert not any(still.update(s) for s in [0.3, 0.2, 0.4, 1.0, 0.3] * 4)
    assert still.update(12.0)
