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


def texture(seed: int, size: tuple[int, int] = (96, 160)) -> np.ndarray:
    """A smooth random gray picture (8-bit levels 40-220): a shot's content."""
    rng = np.random.default_rng(seed)
    small = rng.uniform(40, 220, (size[0] // 8, size[1] // 8))
    return cv2.resize(small, (size[1], size[0]), interpolation=cv2.INTER_CUBIC).clip(0, 255)


def cuts_of(grays: list[np.ndarray]) -> list[int]:
    smoother = TemporalSmoother(TemporalOptions(mode="off"))
    for gray in grays:
        l_small = cv2.resize(gray_to_l(np.clip(gray, 0, 255).astype(np.uint8)), (80, 48), interpolation=cv2.INTER_AREA)
        smoother(l_small, np.zeros((*l_small.shape, 2), np.float32))
    return smoother.cuts


def drifting(picture: np.ndarray, frames: int, gain: float = 1.0) -> list[np.ndarray]:
    """A shot: ``picture`` panning right one pixel a frame, its levels times ``gain``."""
    return [np.roll(picture, i, axis=1) * gain for i in range(frames)]


def test_a_cut_in_a_night_scene_is_a_cut() -> None:
    """An audit: a hard cut between two shots at a fifth of their brightness scored 6 L units, under the
    floor's 8, and a keyframe's colour crossed it. The floor now follows the frames' contrast."""
    a, b = texture(1), texture(2)
    assert cuts_of(drifting(a, 12) + drifting(b, 12)) == [12]
    assert cuts_of(drifting(a, 12, 0.2) + drifting(b, 12, 0.2)) == [12]
    assert cuts_of(drifting(a, 24, 0.2)) == []  # and the dark shot alone has none


def test_a_fade_through_black_starts_a_shot_and_a_fade_in_alone_does_not_cut() -> None:
    """An audit: a fade out to black and in again (the old films' scene change) was no cut. The first frame
    after a black one starts a shot; a fade's change of the frame's mean lightness makes no cut of its own."""
    a, b = texture(1), texture(2)
    out = [frame * (1 - i / 8) for i, frame in enumerate(drifting(a, 8))]  # to black at the 9th frame
    black = [a * 0.0] * 3
    fade_in = [frame * (i + 1) / 8 for i, frame in enumerate(drifting(b, 8))]
    frames = drifting(a, 8) + out + black + fade_in + drifting(b, 8)
    assert cuts_of(frames) == [8 + 8 + 3]  # the fade in's first frame (levels 5-27), after the black ones
    pumping = [frame * (1.0 + 0.08 * (-1) ** i) for i, frame in enumerate(drifting(a, 24))]  # an old print's
    assert cuts_of(pumping) == []  # exposure flicker, 16% from frame to frame


def test_a_dark_flickering_scene_and_a_dim_fade_in_are_not_cut_up() -> None:
    """A review: with black at L 8, a night scene whose brightest pixels sat near it, flickering 8%, was cut on
    every other frame, and a fade in from black was cut in its middle. Black is now what shows nothing."""
    a = texture(1)
    dark = a * (26.0 / a.max())  # its brightest at gray 26: 99% of it about L 8, above or below as it flickers
    pumping = [frame * (1.0 + 0.1 * (-1) ** i) for i, frame in enumerate(drifting(dark, 30))]
    assert cuts_of(pumping) == []  # (with black at L 8: 14 cuts)
    fade_in = [a * 0.0] * 3 + [frame * (i + 1) / 20 for i, frame in enumerate(drifting(a, 20))]
    (cut,) = cuts_of(fade_in)
    assert cut <= 3 + 1, cut  # at the fade's start, not up it (with black at L 8: frame 5)


def test_a_flash_or_lightning_frame_is_no_cut_and_a_cut_still_is() -> None:
    """An audit: one overexposed frame (a photographer's flash, lightning; the RGB made 0.35x + 165) scored as
    two cuts, into it and out of it, and a keyframe's colour stopped there for the rest of its shot. A cut
    changes what is where; a flash changes the whole frame's lightness and contrast alike."""
    a, b = texture(1), texture(2)
    shot = drifting(a, 24)
    for flashed in ([12], [12, 13]):
        frames = [frame * 0.35 + 165 if i in flashed else frame for i, frame in enumerate(shot)]
        assert cuts_of(frames) == [], flashed
    assert cuts_of(shot + drifting(b, 12)) == [24]
    assert cuts_of(shot + [frame * 0.35 + 165 for frame in drifting(b, 12)]) == [24]  # a cut into a bright shot
