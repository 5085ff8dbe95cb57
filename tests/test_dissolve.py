"""Dissolves found in the shots' pre-pass: a mix of two real shots over 8-40 frames is one dissolve, cut near its
middle; fades (to and from black, to white, dim to bright) and the real clips' own frames are none."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from filmcolor.lab import gray_to_l
from filmcolor.video.dissolve import DissolveFinder
from filmcolor.video.temporal import MotionAnalyzer

AB_SIZE = (96, 56)  # (w, h): the ab resolution of 854x480 at the video render size (224)


def grays_of(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="gray") for frame in container.decode(video=0)]


def dissolves_in(grays: list[np.ndarray]) -> tuple[list[tuple[int, int]], list[int]]:
    """(dissolves, their cuts), as the pre-pass finds them: L at the ab size through the analyser."""
    analyzer = MotionAnalyzer()
    finder = DissolveFinder(analyzer)
    for gray in grays:
        l_hw = gray_to_l(cv2.resize(gray, (854, 480), interpolation=cv2.INTER_AREA))
        finder(analyzer(cv2.resize(l_hw, AB_SIZE, interpolation=cv2.INTER_AREA)))
    return finder.dissolves, finder.cuts


def mix(first: list[np.ndarray], second: list[np.ndarray], frames: int) -> list[np.ndarray]:
    """A dissolve as editors make one: the last ``frames`` of one shot mixed linearly with the next's first."""
    mixed = [np.clip((1 - a) * first[len(first) - frames + i] + a * second[i].astype(np.float32), 0, 255)
             .astype(np.uint8) for i, a in enumerate(np.arange(1, frames + 1) / (frames + 1))]
    return first[:-frames] + mixed + second[frames:]


@pytest.fixture(scope="module")
def shots(shared_data: Path) -> list[list[np.ndarray]]:
    grays = grays_of(shared_data / "videos" / "scene_cuts.mp4")
    return [grays[:60], grays[72:132], grays[144:194]]


@pytest.mark.parametrize(("first", "second", "frames"), [(0, 1, 8), (0, 1, 24), (1, 2, 16), (2, 0, 16),
                                                         (1, 0, 40)])
def test_a_dissolve_of_two_real_shots_is_found_and_cut_near_its_middle(shots, first, second, frames) -> None:
    clip = mix(shots[first], shots[second], frames)
    found, cuts = dissolves_in(clip)
    middle = len(shots[first]) - frames + (frames - 1) / 2
    assert len(found) == 1 and abs(cuts[0] - middle) <= frames / 2, (found, cuts, middle)


def test_fades_and_changes_of_light_are_no_dissolve(shots) -> None:
    shot = [gray.astype(np.float32) for gray in shots[0]]
    ramp = np.minimum(1.0, np.arange(len(shot)) / 24)
    fades = {"from black": [g * r for g, r in zip(shot, ramp, strict=True)],
             "to black": [g * r for g, r in zip(shot, ramp[::-1], strict=True)],
             "dim to bright": [g * (0.3 + 0.7 * r) for g, r in zip(shot, ramp, strict=True)],
             "to white": [g + (255 - g) * r for g, r in zip(shot, ramp, strict=True)]}
    for name, frames in fades.items():
        found, _ = dissolves_in([np.clip(f, 0, 255).astype(np.uint8) for f in frames])
        assert found == [], name


@pytest.mark.parametrize("name", ["davis_dance_twirl.mp4", "scene_cuts.mp4", "cctv_pedestrians.avi",
                                  "bw_film_excerpt.mp4", "bbb_with_audio.mp4"])
def test_the_real_clips_have_no_dissolve(shared_data: Path, name: str) -> None:
    assert dissolves_in(grays_of(shared_data / "videos" / name)) == ([], [])
