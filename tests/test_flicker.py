"""The flicker metric returns the known value on a moving clip with known ab jitter; eval-video prints it."""

from __future__ import annotations

import json
from pathlib import Path

import av
import cv2
import numpy as np
from click.testing import CliRunner

from filmcolor.cli import main
from filmcolor.lab import lab_to_rgb_levels
from filmcolor.metrics import FlickerMeter, flicker

H, W, FRAMES = 96, 160, 12  # short side under the analysis size: measured as given


def panning_clip(jitter_ab: tuple[float, float]):
    """A textured scene panning 2 px a frame; ab painted on the content, +-jitter on alternate frames."""
    rng = np.random.default_rng(0)
    big = cv2.GaussianBlur(rng.normal(0, 1, (H, W + 2 * FRAMES)).astype(np.float32), (0, 0), 2.5)
    big_l = np.clip(50 + 20 * big / big.std(), 5, 95).astype(np.float32)
    big_ab = np.stack([0.8 * (big_l - 50), -0.5 * (big_l - 50)], axis=-1)
    for t in range(FRAMES):
        sign = 1.0 if t % 2 == 0 else -1.0
        l_hw = np.ascontiguousarray(big_l[:, 2 * t:2 * t + W])
        ab_true = np.ascontiguousarray(big_ab[:, 2 * t:2 * t + W])
        yield l_hw, ab_true, ab_true + sign * np.array(jitter_ab, np.float32)


def test_flicker_of_known_jitter() -> None:
    frames = list(panning_clip((3.0, 4.0)))  # alternating +-(3, 4): every pair differs by exactly 10
    assert abs(flicker([f[0] for f in frames], [f[2] for f in frames]) - 10.0) < 0.3
    assert flicker([f[0] for f in frames], [f[1] for f in frames]) < 0.3  # the content itself is steady


def test_meter_against_the_original() -> None:
    meter = FlickerMeter()
    for l_hw, ab_true, ab_jittered in panning_clip((3.0, 4.0)):
        meter.update(l_hw, ab_jittered, ab_true)
    result = meter.result()
    assert result.frames == FRAMES and result.pairs == FRAMES - 1 and result.cuts == []
    assert abs(result.ab_error - 5.0) < 1e-3  # |(3, 4)| on every pixel
    assert abs(result.flicker - 10.0) < 0.3
    assert result.reference_flicker < 0.3
    assert result.flicker_ratio > 20


def write_clip(path: Path, frames: list[np.ndarray]) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10, options={"crf": "1"})
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv444p"
        for rgb in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode())


def test_eval_video_prints_json(tmp_path: Path) -> None:
    frames = list(panning_clip((6.0, 8.0)))
    write_clip(tmp_path / "original.mp4", [lab_to_rgb_levels(l, ab) for l, ab, _ in frames])
    write_clip(tmp_path / "output.mp4", [lab_to_rgb_levels(l, ab) for l, _, ab in frames])
    result = CliRunner().invoke(main, ["eval-video", str(tmp_path / "output.mp4"),
                                       "--original", str(tmp_path / "original.mp4")])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["frames"] == FRAMES and report["cuts"] == []
    # Encoding and the gamut move the numbers a little; the jitter still dominates by far.
    assert 14.0 < report["flicker"] < 21.0 and 7.0 < report["ab_error"] < 11.0
    assert report["flicker_ratio"] > 5


def test_eval_video_bad_input(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["eval-video", str(tmp_path / "missing.mp4")])
    assert result.exit_code == 1
    assert "missing.mp4: file not found" in result.output
    result = CliRunner().invoke(main, ["eval-video", str(tmp_path)])
    assert result.exit_code == 1 and "is a folder, expected a video file" in result.output


def test_eval_video_of_a_still_or_of_too_few_frames_measures_nothing_and_says_so(tmp_path: Path) -> None:
    """An audit: a still picture scored flicker 0.0 ("perfectly steady") and exit 0; a frame-count mismatch
    was said only inside the JSON; the figures came unrounded."""
    import cv2

    frames = list(panning_clip((6.0, 8.0)))
    cv2.imwrite(str(tmp_path / "still.png"), np.zeros((H, W, 3), np.uint8))
    result = CliRunner().invoke(main, ["eval-video", str(tmp_path / "still.png")])
    assert result.exit_code == 1 and "still.png: 1 frame and no pair of frames in one shot" in result.stderr
    write_clip(tmp_path / "output.mp4", [lab_to_rgb_levels(l, ab) for l, _, ab in frames])
    write_clip(tmp_path / "short.mp4", [lab_to_rgb_levels(l, ab) for l, ab, _ in frames[:5]])
    result = CliRunner().invoke(main, ["eval-video", str(tmp_path / "output.mp4"), "--original",
                                       str(tmp_path / "short.mp4")])
    # the first frames scored and said, and exit 1: the film was not scored whole (an audit: exit 0)
    assert result.exit_code == 1, result.stderr
    assert result.stderr.startswith(f"warning: output has {FRAMES} frames, original 5"), result.stderr
    report = json.loads(result.stdout)
    assert report["partial"] is True
    assert all(len(str(report[key]).split(".")[-1]) <= 4 for key in ("flicker", "ab_error", "flicker_ratio"))


def test_eval_video_refuses_a_gray_or_misshaped_original(tmp_path: Path) -> None:
    """An audit: a gray original scored a flicker ratio of 17692 and exit 0; a 4:3 original was stretched onto
    a 16:9 output and scored. A gray output is said."""
    frames = list(panning_clip((6.0, 8.0)))
    write_clip(tmp_path / "output.mp4", [lab_to_rgb_levels(l, ab) for l, _, ab in frames])
    gray = [lab_to_rgb_levels(l, np.zeros_like(ab)) for l, ab, _ in frames]
    write_clip(tmp_path / "gray.mp4", gray)
    result = CliRunner().invoke(main, ["eval-video", str(tmp_path / "output.mp4"), "--original",
                                       str(tmp_path / "gray.mp4")])
    assert result.exit_code == 1 and "the original is gray" in result.stderr, result.output
    with av.open(str(tmp_path / "square.mp4"), "w") as container:
        stream = container.add_stream("libx264", rate=10, options={"crf": "1"})
        stream.width, stream.height, stream.pix_fmt = H, H, "yuv444p"
        for l_hw, ab, _ in frames:
            rgb = np.ascontiguousarray(lab_to_rgb_levels(l_hw, ab)[:, :H])
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode())
    result = CliRunner().invoke(main, ["eval-video", str(tmp_path / "output.mp4"), "--original",
                                       str(tmp_path / "square.mp4")])
    assert result.exit_code == 1 and "not the original of output.mp4" in result.stderr, result.output
    result = CliRunner().invoke(main, ["eval-video", str(tmp_path / "gray.mp4")])
    assert result.exit_code == 0 and "has no colour" in result.output, result.output
    with av.open(str(tmp_path / "narrower.mp4"), "w") as container:  # two pixels narrower: the same film
        stream = container.add_stream("libx264", rate=10, options={"crf": "1"})
        stream.width, stream.height, stream.pix_fmt = W - 2, H, "yuv444p"
        for l_hw, _, ab in frames:
            rgb = np.ascontiguousarray(lab_to_rgb_levels(l_hw, ab)[:, :W - 2])
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode())
    write_clip(tmp_path / "original.mp4", [lab_to_rgb_levels(l, ab) for l, ab, _ in frames])
    result = CliRunner().invoke(main, ["eval-video", str(tmp_path / "narrower.mp4"), "--original",
                                       str(tmp_path / "original.mp4")])
    assert result.exit_code == 0, result.output  # (a review: 852 wide against 854 was refused)


def test_eval_video_refuses_a_truncated_file(tmp_path: Path) -> None:
    """An audit: an MP4 cut short (its index at the front) scored its first frames, exit 0, where `filmcolor
    video` refuses it."""
    frames = list(panning_clip((6.0, 8.0)))
    write_clip(tmp_path / "whole.mp4", [lab_to_rgb_levels(l, ab) for l, ab, _ in frames])
    with av.open(str(tmp_path / "whole.mp4")) as source, av.open(str(tmp_path / "front.mp4"), "w",
                                                                   options={"movflags": "faststart"}) as out:
        stream = out.add_stream_from_template(source.streams.video[0])
        for packet in source.demux(source.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)
    data = (tmp_path / "front.mp4").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[:int(len(data) * 0.6)])
    result = CliRunner().invoke(main, ["eval-video", str(tmp_path / "cut.mp4")])
    assert result.exit_code == 1 and "cut.mp4: file is truncated" in result.stderr, result.output
