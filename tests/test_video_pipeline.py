"""colorize_video end to end on generated clips: frames, timestamps, size, audio, colour, corrupt frames."""

from __future__ import annotations

import os
import re
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from media import audio_packets, decode_audio, decode_video, gray_frame, make_clip, make_ten_bit_clip, mux_gray
from skimage.color import rgb2lab

from filmcolor.colorize import Colorizer
from filmcolor.errors import ConfigError, InputError, OutputError
from filmcolor.lab import GRAY_TO_L
from filmcolor.video import VideoOptions, colorize_video
from filmcolor.video.reader import display_matrix
from filmcolor.video.temporal import TemporalOptions
from filmcolor.video.writer import auto_preset

FAST = dict(preset="ultrafast", temporal=TemporalOptions(mode="off"))


@pytest.fixture(scope="module")
def colorizer(test_weights: Path) -> Colorizer:
    return Colorizer.from_pretrained(test_weights, device="cpu", render_size=64, runtime="torch")


def container_duration(path: Path) -> float:
    with av.open(str(path)) as c:
        return c.duration / av.time_base


def frame_seconds(path: Path) -> float:
    times, _, _ = decode_video(path)
    return float(np.median(np.diff(times)))


CLIPS = {
    "h264_aac_mp4": dict(suffix=".mp4", out=".mp4", audio="aac"),
    "odd_vfr_opus_mkv": dict(suffix=".mkv", out=".mkv", audio="libopus", width=97, height=61, vfr=True,
                             pix_fmt="yuv444p"),
    "mjpeg_avi": dict(suffix=".avi", out=".mp4", codec="mjpeg", pix_fmt="yuvj420p"),
    "odd_h264_aac_mp4": dict(suffix=".mp4", out=".mp4", audio="aac", width=97, height=61, pix_fmt="yuv444p"),
    # Matroska keeps only the channel count of a PCM track ("2 channels"); MP4 refused that when finishing
    "pcm_mkv_to_mp4": dict(suffix=".mkv", out=".mp4", audio="pcm_s16le"),
}


@pytest.mark.parametrize("name", list(CLIPS))
def test_output_matches_input(tmp_path: Path, colorizer: Colorizer, name: str) -> None:
    spec = dict(CLIPS[name])
    suffix, out_suffix = spec.pop("suffix"), spec.pop("out")
    src = make_clip(tmp_path / f"in{suffix}", **spec)
    dst = tmp_path / f"out{out_suffix}"
    report = colorize_video(src, dst, colorizer, VideoOptions(**FAST))

    times_in, frames_in, size_in = decode_video(src)
    times_out, frames_out, size_out = decode_video(dst)
    assert size_out == size_in
    assert len(times_out) == len(times_in) == report.frames
    assert times_out == pytest.approx(times_in, abs=1e-4)  # every pts kept (VFR included)
    assert abs(container_duration(dst) - container_duration(src)) <= frame_seconds(src) + 1e-6

    if spec.get("audio"):
        audio_in, audio_out = decode_audio(src), decode_audio(dst)
        assert len(audio_out) == len(audio_in) == 1
        np.testing.assert_array_equal(audio_out[0], audio_in[0])  # the very same samples
        if spec["audio"].startswith("pcm"):  # MP4 cuts PCM into chunks of its own: the same bytes, other cuts
            assert [b"".join(p) for p in audio_packets(dst)] == [b"".join(p) for p in audio_packets(src)]
        else:
            assert audio_packets(dst) == audio_packets(src)  # and the same payloads: copied, not re-encoded

    lab_out = np.stack([rgb2lab(f) for f in frames_out])
    assert np.hypot(lab_out[..., 1], lab_out[..., 2]).mean() > 8  # coloured, not gray
    # the picture's brightness is the input's own (range handled: limited or full)
    l_in = np.stack([GRAY_TO_L[gray_frame(i, *size_in[::-1])] for i in range(len(frames_in))])
    assert np.abs(lab_out[..., 0] - l_in).mean() < 3.0
    assert not list(tmp_path.glob(".*partial*"))


@pytest.mark.parametrize("audio,codec,out,made", [("copy", "libopus", "out.avi", "aac"),  # AVI: no Opus
                                                   ("copy", "libopus", "out.mov", "aac"),  # MOV lists Opus and
                                                   ("copy", "flac", "out.mov", "alac"),  # FLAC, refuses them
                                                   ("reencode", "libopus", "out.mkv", "aac"),
                                                   ("reencode", "pcm_s16le", "out.mp4", "aac")])  # 2 channels
def test_audio_reencoded_only_where_it_must_be(tmp_path: Path, colorizer: Colorizer, audio: str, codec: str,
                                              out: str, made: str) -> None:
    """Lossless sound that must be re-encoded is re-encoded losslessly (an audit: FLAC into .mov was made AAC;
    ALAC keeps it); --audio reencode makes what plays everywhere, AAC."""
    src = make_clip(tmp_path / "in.mkv", audio=codec, frames=10)
    dst = tmp_path / out
    report = colorize_video(src, dst, colorizer, VideoOptions(**FAST, audio=audio))
    assert any("re-encoded" in w for w in report.warnings)
    with av.open(str(dst)) as c:
        assert [s.codec_context.name for s in c.streams.audio] == [made]
    samples_in, samples_out = (_as_float(decode_audio(p)[0]) for p in (src, dst))
    assert abs(samples_out.shape[1] - samples_in.shape[1]) / 48000 < 0.05
    if made in ("alac", "flac"):  # every sample kept
        np.testing.assert_array_equal(samples_out[:, :samples_in.shape[1]], samples_in)


def _as_float(samples: np.ndarray) -> np.ndarray:
    """Decoded samples as floats in [-1, 1] whatever the decoder's sample format (s16, s32, float)."""
    if np.issubdtype(samples.dtype, np.integer):
        return samples.astype(np.float64) / (np.iinfo(samples.dtype).max + 1)
    return samples.astype(np.float64)


def test_frames_an_edit_list_hides_are_not_a_truncation(tmp_path: Path, colorizer: Colorizer) -> None:
    """An `ffmpeg -ss X -c copy` cut: its header counts frames that its edit list hides. It was refused as
    "truncated or damaged: video data ends at frame 14 of 20"."""
    src = make_clip(tmp_path / "cut.mp4", frames=20, hidden=6, audio="aac")
    with av.open(str(src)) as c:
        assert c.streams.video[0].frames == 20  # the header counts the hidden frames
    times_in = decode_video(src)[0]
    assert len(times_in) == 14  # and no player shows them
    dst = tmp_path / "out.mp4"
    report = colorize_video(src, dst, colorizer, VideoOptions(**FAST))
    assert report.frames == 14 and decode_video(dst)[0] == pytest.approx(times_in, abs=1e-3)
    assert audio_packets(dst) == audio_packets(src)


def test_rotation_title_and_colour_tags_carried(tmp_path: Path, colorizer: Colorizer) -> None:
    src = make_clip(tmp_path / "in.mp4", frames=4, rotation=90, title="Night of the Living Dead")
    dst = tmp_path / "out.mp4"
    colorize_video(src, dst, colorizer, VideoOptions(**FAST))
    with av.open(str(dst)) as c:
        frame = next(c.decode(video=0))
        assert c.metadata.get("title") == "Night of the Living Dead"
        assert frame.rotation == 90
        assert (int(frame.color_range), int(frame.colorspace)) == (1, 1)  # tv range, BT.709: what was written
    for suffix in (".mkv", ".ts"):  # an audit: a phone's rotation was dropped in .ts, .flv, .avi, .mpg in silence
        report = colorize_video(src, tmp_path / f"out{suffix}", colorizer, VideoOptions(**FAST))
        with av.open(str(tmp_path / f"out{suffix}")) as c:
            kept = next(c.decode(video=0)).rotation == 90
        said = [w for w in report.warnings if "display rotation" in w]
        assert (kept, said) == ((True, []) if suffix == ".mkv" else (False, [
            "the input's display rotation (90 degrees) not kept: .ts files cannot hold it; .mp4, .mkv and .mov "
            "can"])), (kept, said)


@pytest.mark.parametrize("matrix", [(-65536, 0, 0, 0, 65536, 0, 0, 0, 1 << 30),  # mirrored left to right
                                    (65536, 0, 0, 0, -65536, 0, 0, 0, 1 << 30),  # top to bottom
                                    (0, 65536, 0, 65536, 0, 0, 0, 0, 1 << 30)])  # a quarter turn, mirrored
def test_a_mirrored_film_is_written_mirrored(tmp_path: Path, colorizer: Colorizer, matrix: tuple) -> None:
    """An audit: only the display matrix's angle was kept, so a film mirrored left to right came out turned a
    half turn (upside down) and one mirrored top to bottom came out unmirrored."""
    src = make_clip(tmp_path / "in.mp4", frames=3, display_matrix=matrix)
    for suffix in (".mp4", ".mkv", ".mov"):
        colorize_video(src, tmp_path / f"out{suffix}", colorizer, VideoOptions(**FAST))
        with av.open(str(tmp_path / f"out{suffix}")) as c:
            assert display_matrix(next(c.decode(video=0))) == matrix, suffix
    report = colorize_video(src, tmp_path / "out.ts", colorizer, VideoOptions(**FAST))
    assert [w for w in report.warnings if "mirroring" in w] == [
        "the input's display mirroring not kept: .ts files cannot hold it; .mp4, .mkv and .mov can"], report.warnings


def test_report_fields_and_stage_times(tmp_path: Path, colorizer: Colorizer) -> None:
    src = make_clip(tmp_path / "in.mp4", audio="aac", frames=6)
    report = colorize_video(src, tmp_path / "out.mp4", colorizer, VideoOptions(**FAST, batch_size=4))
    data = report.to_dict()
    for key in ("input", "output", "frames", "duration", "fps", "device", "model", "runtime", "render_size",
                "settings", "stage_seconds", "warnings", "cuts"):
        assert key in data
    assert data["frames"] == 6 and data["batch_size"] == 4 and data["render_size"] == 64
    assert set(data["stage_seconds"]) >= {"decode", "luma", "inference", "temporal", "chroma", "encode"}
    assert data["stage_seconds"]["inference"] > 0
    assert data["duration"] == pytest.approx(0.6, abs=1e-6)
    assert data["encoder"] == "libx264 preset ultrafast crf 18" and 1 <= data["network_frames"] <= 6
    # --preset auto resolves by frame size, and the report says what was used
    auto = colorize_video(src, tmp_path / "auto.mp4", colorizer, VideoOptions(temporal=TemporalOptions(mode="off")))
    assert auto.encoder == f"libx264 preset {auto_preset(96, 64)} crf 18"
    assert (auto_preset(854, 480), auto_preset(1280, 720), auto_preset(1920, 1080)) == \
        ("veryfast", "veryfast", "superfast")


def test_slice_start_duration(tmp_path: Path, colorizer: Colorizer) -> None:
    src = make_clip(tmp_path / "in.mp4", audio="aac", frames=30, bframes=False)
    dst = tmp_path / "out.mp4"
    report = colorize_video(src, dst, colorizer, VideoOptions(**FAST, start=1.0, duration=1.0))
    times, _, _ = decode_video(dst)
    assert report.frames == len(times) == 10
    assert times[0] == pytest.approx(0.0, abs=1e-4) and times[-1] == pytest.approx(0.9, abs=1e-3)
    audio = decode_audio(dst)[0]
    assert abs(audio.shape[1] / 48000 - 1.0) < 0.05  # audio sliced with it, packet-granular


def test_corrupt_frame_is_repeated_and_counted(tmp_path: Path, colorizer: Colorizer) -> None:
    src = make_clip(tmp_path / "in.avi", codec="mjpeg", pix_fmt="yuvj420p", frames=10)
    with av.open(str(src)) as c:
        packets = [(p.pos, p.size) for p in c.demux(c.streams.video[0]) if p.size]
    data = bytearray(src.read_bytes())
    pos, size = packets[4]
    data[pos + 2: pos + size] = bytes(size - 2)  # frame 4: a JPEG start marker and then zeros
    bad = tmp_path / "bad.avi"
    bad.write_bytes(data)

    dst = tmp_path / "out.mp4"
    report = colorize_video(bad, dst, colorizer, VideoOptions(**FAST))
    times, frames, _ = decode_video(dst)
    assert len(times) == report.frames == 10  # nothing dropped: audio would drift
    assert report.repeated_frames == 1
    assert any("corrupt" in w for w in report.warnings)
    assert np.abs(frames[4].astype(int) - frames[3].astype(int)).mean() < 2  # frame 3 stands in for 4

    with pytest.raises(InputError, match="corrupt"):
        colorize_video(bad, tmp_path / "fail.mp4", colorizer, VideoOptions(**FAST, on_error="fail"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.avi", "in.avi", "out.mp4"]


def test_interrupt_leaves_nothing(tmp_path: Path, colorizer: Colorizer) -> None:
    src = make_clip(tmp_path / "in.mp4", audio="aac", frames=20)

    def progress(done: int, total: int | None) -> None:
        if done == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        colorize_video(src, tmp_path / "out.mp4", colorizer, VideoOptions(**FAST), progress)
    assert [p.name for p in tmp_path.iterdir()] == ["in.mp4"]


def test_temporal_smoothing_runs_in_pipeline(tmp_path: Path, colorizer: Colorizer) -> None:
    src = make_clip(tmp_path / "in.mp4", frames=8)
    options = VideoOptions(preset="ultrafast", temporal=TemporalOptions(mode="flow", strength=0.6))
    report = colorize_video(src, tmp_path / "out.mp4", colorizer, options)
    assert report.frames == 8 and isinstance(report.cuts, list)


def test_preview_is_side_by_side(tmp_path: Path, colorizer: Colorizer) -> None:
    from filmcolor.imageio import read_image

    src = make_clip(tmp_path / "in.mp4", frames=12)
    preview = tmp_path / "p.png"
    colorize_video(src, tmp_path / "out.mp4", colorizer, VideoOptions(**FAST), preview_path=preview)
    image = read_image(preview)
    assert image.shape[:2] == (4 * 64, 2 * 96)  # 4 frames, before | after


def test_a_film_that_fails_at_its_last_step_leaves_no_preview_or_report(tmp_path: Path, colorizer: Colorizer,
                                                                       monkeypatch) -> None:
    """An audit: the preview was written under its own name as the frames ended; a film that then failed (a
    full disk for the report, the rename) left it behind, and the rerun was refused: 'output exists'."""
    from filmcolor import fsutil

    src = make_clip(tmp_path / "in.mp4", frames=6)
    real = fsutil._publish

    def film_fails(tmp: Path, target: Path, replace: bool) -> None:
        if target.suffix == ".mp4":
            raise OSError(28, "No space left on device")
        real(tmp, target, replace)

    monkeypatch.setattr(fsutil, "_publish", film_fails)
    with pytest.raises(OutputError, match="disk full"):
        colorize_video(src, tmp_path / "out.mp4", colorizer, VideoOptions(**FAST), preview_path=tmp_path / "p.png",
                       report_path=tmp_path / "r.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]
    monkeypatch.setattr(fsutil, "_publish", real)
    colorize_video(src, tmp_path / "out.mp4", colorizer, VideoOptions(**FAST), preview_path=tmp_path / "p.png",
                   report_path=tmp_path / "r.json")  # the rerun is not refused
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4", "out.mp4", "p.png", "r.json"]
    # the preview, or the report, written by another run meanwhile: an error, and nothing of this run's stays
    # (a review: the film was left, and the rerun refused; a second: with a report, the preview was left)
    for other, report in (("p.png", None), ("r.json", tmp_path / "r.json")):
        for name in ("out.mp4", "p.png", "r.json"):
            (tmp_path / name).unlink(missing_ok=True)

        def another_run(done: int, total: int | None, other: str = other) -> None:
            if done == 3:
                (tmp_path / other).write_bytes(b"the other run's")

        with pytest.raises(OutputError, match=f"{other}: output appeared while this one was made"):
            colorize_video(src, tmp_path / "out.mp4", colorizer, VideoOptions(**FAST),
                           preview_path=tmp_path / "p.png", report_path=report, progress=another_run)
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["in.mp4", other])
        assert (tmp_path / other).read_bytes() == b"the other run's"
    (tmp_path / "r.json").unlink()

    def interrupted_after_the_preview(tmp: Path, target: Path, replace: bool) -> None:
        if target.name == "r.json":  # the film and the preview renamed already
            raise KeyboardInterrupt
        real(tmp, target, replace)

    monkeypatch.setattr(fsutil, "_publish", interrupted_after_the_preview)
    with pytest.raises(KeyboardInterrupt):
        colorize_video(src, tmp_path / "out.mp4", colorizer, VideoOptions(**FAST), preview_path=tmp_path / "p.png",
                       report_path=tmp_path / "r.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]
    monkeypatch.setattr(fsutil, "_publish", real)
    from filmcolor.video.reader import VideoReader

    def close_fails(self) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(VideoReader, "close", close_fails)
    with pytest.raises(OSError):
        colorize_video(src, tmp_path / "out.mp4", colorizer, VideoOptions(**FAST), preview_path=tmp_path / "p.png",
                       report_path=tmp_path / "r.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]


def test_a_preview_that_cannot_be_written_is_named(tmp_path: Path, colorizer: Colorizer, monkeypatch) -> None:
    """A review: a full disk while the preview was written was said of the film ('out.mp4: disk full')."""
    src = make_clip(tmp_path / "in.mp4", frames=4)
    real = Path.write_bytes

    def full(self: Path, data: bytes) -> int:
        if self.name.startswith(".p") and self.suffix == ".png":
            raise OSError(28, "No space left on device")
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", full)
    with pytest.raises(OutputError, match=r"p\.png: cannot write output \(No space left on device\)"):
        colorize_video(src, tmp_path / "out.mp4", colorizer, VideoOptions(**FAST), preview_path=tmp_path / "p.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]


def test_an_output_made_meanwhile_by_another_run_is_not_replaced(tmp_path: Path, colorizer: Colorizer) -> None:
    """An audit: two runs without --overwrite writing one film both said ok, and the first's film was gone."""
    src, dst = make_clip(tmp_path / "in.mp4", frames=6), tmp_path / "out.mp4"

    def another_run_finishes(done: int, total: int | None) -> None:
        if done == 3:
            dst.write_bytes(b"the other run's film")

    with pytest.raises(OutputError, match="output appeared while this one was made"):
        colorize_video(src, dst, colorizer, VideoOptions(**FAST), progress=another_run_finishes)
    assert dst.read_bytes() == b"the other run's film"
    colorize_video(src, dst, colorizer, VideoOptions(**FAST), progress=another_run_finishes, overwrite=True)
    assert decode_video(dst)[1]  # with --overwrite, replaced


def test_shared_cctv_slice(tmp_path: Path, colorizer: Colorizer, shared_data: Path) -> None:
    src = shared_data / "videos" / "cctv_pedestrians.avi"
    dst = tmp_path / "cctv.mp4"
    report = colorize_video(src, dst, colorizer, VideoOptions(**FAST, duration=1.5))
    times, _, size = decode_video(dst)
    assert size == (768, 576) and report.frames == len(times) == 15


@pytest.mark.slow
def test_shared_film_with_audio(tmp_path: Path, colorizer: Colorizer, shared_data: Path) -> None:
    src = shared_data / "videos" / "bw_film_excerpt.mp4"
    dst = tmp_path / "film.mp4"
    report = colorize_video(src, dst, colorizer, VideoOptions(**FAST, crf=30))
    times_in, _, size_in = decode_video(src)
    times_out, _, size_out = decode_video(dst)
    assert size_out == size_in and times_out == pytest.approx(times_in, abs=1e-4) and report.frames == 241
    assert audio_packets(dst) == audio_packets(src)


def test_scene_cuts_are_reported_with_temporal_off(tmp_path: Path, colorizer: Colorizer) -> None:
    """The smoother runs in every mode, so --temporal off still finds (and reports) the cuts."""
    from fractions import Fraction

    src = tmp_path / "cut.mp4"
    rng = np.random.default_rng(0)
    second_shot = (rng.integers(0, 256, (8, 12)).astype(np.uint8))
    with av.open(str(src), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        for i in range(24):
            if i < 12:
                gray = gray_frame(i, 64, 96)
            else:  # a different, blocky scene drifting slowly
                gray = np.roll(np.kron(second_shot, np.ones((8, 8), np.uint8)), i - 12, axis=1)
            frame = av.VideoFrame.from_ndarray(gray, format="gray").reformat(format="yuv420p")
            frame.pts, frame.time_base = i, Fraction(1, 10)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    options = VideoOptions(preset="ultrafast", temporal=TemporalOptions(mode="off"))
    report = colorize_video(src, tmp_path / "out.mp4", colorizer, options)
    assert report.frames == 24
    assert report.cuts == [12]


FORMAT_CHANGES = {
    "interlaced, mpeg4": (dict(codec_options={"flags": "+ildct+ilme"}), "mpeg4",
                          "interlaced input written as progressive by mpeg4"),
    "10bit": (dict(pix_fmt="yuv420p10le"), "mpeg4", "10-bit input written as 8-bit (mpeg4 has no deeper format"),
}


@pytest.mark.parametrize("name", list(FORMAT_CHANGES))
def test_format_change_warns_and_still_writes(tmp_path: Path, colorizer: Colorizer, name: str) -> None:
    spec, codec, expected = FORMAT_CHANGES[name]
    src = make_clip(tmp_path / "in.mp4", frames=6, **spec)
    dst = tmp_path / "out.mkv"
    report = colorize_video(src, dst, colorizer, VideoOptions(**FAST, codec=codec))
    assert sum(expected in w for w in report.warnings) == 1, report.warnings
    times, _, size = decode_video(dst)
    assert len(times) == report.frames == 6 and size == (96, 64)
    with av.open(str(dst)) as c:
        frame = next(c.decode(video=0))
        assert frame.format.name == "yuv420p" and not frame.interlaced_frame
    plain = colorize_video(make_clip(tmp_path / "plain.mp4", frames=6), tmp_path / "plain_out.mkv", colorizer,
                           VideoOptions(**FAST, codec=codec))  # negative control: 8-bit progressive says nothing
    assert not any("progressive" in w or "8-bit" in w for w in plain.warnings), plain.warnings


def _field_order(path: Path) -> tuple[int, bool]:
    """(the decoder's field order after the whole stream, whether its first frame is interlaced)"""
    with av.open(str(path)) as c:
        frames = list(c.decode(video=0))
        return c.streams.video[0].codec_context.field_order, frames[0].interlaced_frame


@pytest.mark.parametrize("x264_params, order", [("tff=1", 2), ("bff=1", 3)])  # FFmpeg's AV_FIELD_TT, _BB
def test_interlaced_input_stays_interlaced_in_its_field_order(tmp_path: Path, colorizer: Colorizer,
                                                              x264_params: str, order: int) -> None:
    src = make_clip(tmp_path / "in.mp4", frames=6, codec_options={"flags": "+ildct+ilme", "x264-params": x264_params})
    assert _field_order(src) == (order, True)
    report = colorize_video(src, tmp_path / "out.mp4", colorizer, VideoOptions(**FAST))
    assert report.frames == 6 and not any("interlaced" in w for w in report.warnings), report.warnings
    assert _field_order(tmp_path / "out.mp4") == (order, True)
    # negative control: progressive input stays progressive
    colorize_video(make_clip(tmp_path / "p.mp4", frames=6), tmp_path / "p_out.mp4", colorizer, VideoOptions(**FAST))
    assert _field_order(tmp_path / "p_out.mp4") == (1, False)


@pytest.mark.parametrize("codec, ext, x264_params, kept", [
    ("ffv1", ".mkv", "tff=1", 2), ("ffv1", ".mkv", "bff=1", 3), ("prores_ks", ".mov", "bff=1", 3),
    ("prores_ks", ".mov", "tff=1", 2), ("mpeg2video", ".mkv", "bff=1", 3)])
def test_an_archives_codecs_keep_interlacing(tmp_path: Path, colorizer: Colorizer, codec: str, ext: str,
                                             x264_params: str, kept: int) -> None:
    """A tape transfer (DV, Digibeta: interlaced) coloured into FFV1 or ProRes, what archives keep masters in,
    came out flagged progressive, so players showed its combing. Then FFV1 kept it in the container's flag
    alone (an audit: its frames said progressive, which players and deinterlacers go by) and ProRes only
    bottom field first. Every frame is now flagged (setfield), so each codes it in either order."""
    src = make_clip(tmp_path / "in.mp4", frames=6, fps=25,  # (MPEG-2 codes broadcast rates only)
                    codec_options={"flags": "+ildct+ilme", "x264-params": x264_params})
    out = tmp_path / f"out{ext}"
    report = colorize_video(src, out, colorizer, VideoOptions(temporal=TemporalOptions(mode="off"), codec=codec))
    assert not [w for w in report.warnings if "interlaced" in w], report.warnings
    with av.open(str(out)) as c:
        frames = list(c.decode(video=0))
        assert c.streams.video[0].codec_context.field_order == kept
    assert len(frames) == 6 and all(f.interlaced_frame for f in frames)
    if codec == "prores_ks":  # the frame header's interlace mode: 1 top field first, 2 bottom field first
        with av.open(str(out)) as c:
            header = bytes(next(p for p in c.demux(video=0) if p.size))
        at = header.index(b"icpf") + 16
        assert (header[at] >> 2) & 3 == (1 if kept == 2 else 2)


def _chapters(path: Path) -> list[tuple[float, float, str]]:
    with av.open(str(path)) as c:
        return [(round(float(ch["start"] * ch["time_base"]), 3), round(float(ch["end"] * ch["time_base"]), 3),
                 ch["metadata"].get("title", "")) for ch in c.chapters()]


@pytest.mark.parametrize("src_ext, dst_ext", [(".mkv", ".mp4"), (".mp4", ".mkv")])
def test_chapters_are_kept_and_follow_a_slice(tmp_path: Path, colorizer: Colorizer, src_ext: str, dst_ext: str) -> None:
    chapters = [(0.0, 1.0, "One"), (1.0, 3.0, "Two")]
    src = make_clip(tmp_path / f"in{src_ext}", frames=30, fps=10, audio="aac", chapters=chapters)
    assert _chapters(src) == chapters
    whole = colorize_video(src, tmp_path / f"whole{dst_ext}", colorizer, VideoOptions(**FAST))
    assert _chapters(tmp_path / f"whole{dst_ext}") == chapters
    # an MP4 keeps chapter titles in a text track, which FFmpeg also lists as a data stream: not "not copied"
    assert not any("not copied" in w for w in whole.warnings), whole.warnings
    colorize_video(src, tmp_path / f"late{dst_ext}", colorizer, VideoOptions(**FAST, start=1.5))
    assert _chapters(tmp_path / f"late{dst_ext}") == [(0.0, 1.5, "Two")]  # shifted; "One" is before the slice
    colorize_video(src, tmp_path / f"mid{dst_ext}", colorizer, VideoOptions(**FAST, start=0.5, duration=1.0))
    assert _chapters(tmp_path / f"mid{dst_ext}") == [(0.0, 0.5, "One"), (0.5, 1.0, "Two")]  # cut at both ends


@pytest.mark.parametrize("dst_ext, untitled", [(".mkv", ""), (".mp4", "Chapter 2")])
def test_chapters_past_the_end_are_dropped_and_an_untitled_one_kept(tmp_path: Path, colorizer: Colorizer,
                                                                     dst_ext: str, untitled: str) -> None:
    src = make_clip(tmp_path / "in.mkv", frames=30, fps=10,
                    chapters=[(0.0, 1.0, "One"), (1.0, 2.0, ""), (2.0, 4.0, "Three"), (5.0, 6.0, "After")])
    colorize_video(src, tmp_path / f"out{dst_ext}", colorizer, VideoOptions(**FAST))
    # the video is 3 s long: "After" is dropped (an MP4 stretched "Three" to reach it), "Three" cut at 3 s;
    # an MP4 drops a chapter without a title, so it gets one
    assert _chapters(tmp_path / f"out{dst_ext}") == [(0.0, 1.0, "One"), (1.0, 2.0, untitled), (2.0, 3.0, "Three")]


def test_chapters_an_avi_cannot_hold_are_named_in_a_warning(tmp_path: Path, colorizer: Colorizer) -> None:
    src = make_clip(tmp_path / "in.mkv", frames=12, chapters=[(0.0, 0.6, "One"), (0.6, 1.2, "Two")])
    report = colorize_video(src, tmp_path / "out.avi", colorizer, VideoOptions(**FAST))
    assert sum("2 chapters not kept: .avi files cannot hold them" in w for w in report.warnings) == 1
    assert report.frames == 12 and _chapters(tmp_path / "out.avi") == []
    plain = colorize_video(make_clip(tmp_path / "plain.mkv", frames=12), tmp_path / "plain.avi", colorizer,
                           VideoOptions(**FAST))  # negative control: no chapters, nothing said about them
    assert not any("chapter" in w for w in plain.warnings)


def test_attached_files_are_copied_into_an_mkv_and_named_when_dropped(tmp_path: Path, colorizer: Colorizer) -> None:
    cover = cv2.imencode(".jpg", np.full((16, 16, 3), 200, np.uint8))[1].tobytes()
    fonts = {"DejaVuSans.ttf": bytes(range(256)) * 4, "Title.otf": b"OTTO" + bytes(500), "cover.jpg": cover}
    src = make_clip(tmp_path / "in.mkv", frames=8, audio="aac", attachments=fonts)

    def attached(path: Path) -> dict[str, bytes]:
        """Attached files by name; FFmpeg shows an attached picture as a picture stream whose packet is the file."""
        with av.open(str(path)) as c:
            files = {s.metadata["filename"]: bytes(s.data) for s in c.streams if s.type == "attachment"}
            pictures = {s.index: s.metadata["filename"] for s in c.streams if "filename" in s.metadata
                        and s.type == "video"}
            for packet in c.demux():
                if packet.stream.index in pictures and packet.size:
                    files.setdefault(pictures[packet.stream.index], bytes(packet))
        return files

    assert attached(src) == fonts
    kept = colorize_video(src, tmp_path / "out.mkv", colorizer, VideoOptions(**FAST))
    assert attached(tmp_path / "out.mkv") == fonts and not kept.warnings, kept.warnings  # the cover too
    dropped = colorize_video(src, tmp_path / "out.mp4", colorizer, VideoOptions(**FAST))
    assert attached(tmp_path / "out.mp4") == {}
    assert dropped.warnings == ["3 attached files (DejaVuSans.ttf, Title.otf, cover.jpg) dropped: .mp4 files cannot "
                                "hold them; .mkv keeps them"]


def _with_two_tagged_audio_tracks(src: Path, dst: Path) -> Path:
    """``src`` remuxed with its audio track twice: English, default, and French commentary (plus stale stats)."""
    tags = [({"language": "eng", "title": "Original", "BPS": "128000", "NUMBER_OF_FRAMES": "99"},
             av.stream.Disposition.default),
            ({"language": "fra", "title": "Commentary"}, av.stream.Disposition.comment)]
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        video = out.add_stream_from_template(inp.streams.video[0])
        audio = [out.add_stream_from_template(inp.streams.audio[0]) for _ in tags]
        for stream, (meta, disposition) in zip(audio, tags, strict=True):
            stream.metadata.update(meta)
            stream.disposition = disposition
        for packet in inp.demux():
            if packet.size == 0:
                continue
            targets = [video] if packet.stream.type == "video" else audio
            for target in targets:
                copy = av.Packet(bytes(packet))
                copy.pts, copy.dts, copy.time_base, copy.is_keyframe = (packet.pts, packet.dts, packet.time_base,
                                                                         packet.is_keyframe)
                copy.stream = target
                out.mux(copy)
    return dst


@pytest.mark.parametrize("ext", [".mkv", ".mp4"])
def test_audio_tracks_keep_their_language_title_and_role(tmp_path: Path, colorizer: Colorizer, ext: str) -> None:
    src = _with_two_tagged_audio_tracks(make_clip(tmp_path / "plain.mkv", frames=10, audio="aac"), tmp_path / "in.mkv")
    report = colorize_video(src, tmp_path / f"out{ext}", colorizer, VideoOptions(**FAST))
    assert report.frames == 10
    with av.open(str(tmp_path / f"out{ext}")) as c:
        tracks = [(s.metadata.get("language"), s.metadata.get("title") or s.metadata.get("name"), s.disposition)
                  for s in c.streams.audio]
        tags = dict(c.streams.audio[0].metadata)
    assert tracks == [("eng", "Original", av.stream.Disposition.default),
                      ("fra", "Commentary", av.stream.Disposition.comment)]
    assert "BPS" not in tags and "NUMBER_OF_FRAMES" not in tags  # the input's statistics would be stale


def test_luma_plane_is_kept_bit_for_bit(tmp_path: Path, colorizer: Colorizer) -> None:
    """README: the output keeps the input's own luma plane bit for bit (seen through a lossless encode)."""
    src = make_clip(tmp_path / "in.mp4", frames=6)

    def luma_planes(path: Path) -> list[np.ndarray]:
        with av.open(str(path)) as c:
            return [np.frombuffer(f.planes[0], np.uint8).reshape(-1, f.planes[0].line_size)[: f.height, : f.width]
                    .copy() for f in c.decode(video=0)]

    lossless = colorize_video(src, tmp_path / "out.mp4", colorizer, VideoOptions(**FAST, crf=0))
    assert lossless.frames == 6
    y_in, y_out = luma_planes(src), luma_planes(tmp_path / "out.mp4")
    assert len(y_out) == len(y_in) == 6
    assert all(np.array_equal(a, b) for a, b in zip(y_in, y_out, strict=True))
    _, frames_out, _ = decode_video(tmp_path / "out.mp4")
    assert np.hypot(*(rgb2lab(frames_out[0])[..., 1:].transpose(2, 0, 1))).mean() > 8  # chroma was added
    # negative control: a lossy encode does change the luma, so the check above can fail
    colorize_video(src, tmp_path / "lossy.mp4", colorizer, VideoOptions(**FAST, crf=40))
    assert not all(np.array_equal(a, b) for a, b in zip(y_in, luma_planes(tmp_path / "lossy.mp4"), strict=True))


def test_undecodable_audio_packet_is_dropped_and_the_rest_copied(tmp_path: Path, colorizer: Colorizer) -> None:
    """Damaged sound in the input: the packet the decoder rejects is left out (one counted warning), every
    other packet is copied byte for byte; a clean copy of the clip keeps all of them and warns of nothing."""
    src = make_clip(tmp_path / "in.mkv", frames=20, audio="aac")
    with av.open(str(src)) as container:
        payloads = [bytes(p) for p in container.demux(container.streams.audio[0]) if p.size]
    raw = src.read_bytes()
    at = raw.find(payloads[10])
    damaged = tmp_path / "damaged.mkv"
    damaged.write_bytes(raw[:at] + bytes(len(payloads[10])) + raw[at + len(payloads[10]):])  # zeroed
    report = colorize_video(damaged, tmp_path / "out.mkv", colorizer, VideoOptions(**FAST))
    assert audio_packets(tmp_path / "out.mkv") == [payloads[:10] + payloads[11:]]
    assert "1 undecodable audio packet(s) skipped" in report.warnings
    clean = colorize_video(src, tmp_path / "clean.mkv", colorizer, VideoOptions(**FAST))
    assert audio_packets(tmp_path / "clean.mkv") == [payloads] and not any("audio" in w for w in clean.warnings)


def test_avi_output_keeps_the_frames_in_time_order(tmp_path: Path, colorizer: Colorizer) -> None:
    """AVI keeps one time a frame, in decode order: H.264's B-frames read back with shuffled times."""
    src = make_clip(tmp_path / "in.mp4", frames=12)  # with B-frames
    report = colorize_video(src, tmp_path / "out.avi", colorizer, VideoOptions(**FAST))
    times, _, _ = decode_video(tmp_path / "out.avi")
    assert len(times) == 12 and times == sorted(times)  # in order (the last one's time FFmpeg guesses)
    assert np.allclose(np.diff(times[:-1]), 0.1)
    assert any("keep no timestamps" in w for w in report.warnings)
    with av.open(str(tmp_path / "out.avi")) as container:  # an audit: its header said 1000 fps (of the time
        stream = container.streams.video[0]  # base) and counted 1,100 frames, most of them empty
        assert stream.average_rate == 10 and stream.frames <= 13


def test_mpeg_ts_output_takes_h264(tmp_path: Path, colorizer: Colorizer) -> None:
    """FFmpeg's codec query answers for MPEG-TS's defaults only (MPEG-2): H.264 was refused."""
    src = make_clip(tmp_path / "in.mp4", frames=6, audio="aac")
    colorize_video(src, tmp_path / "out.ts", colorizer, VideoOptions(**FAST))
    with av.open(str(tmp_path / "out.ts")) as c:
        assert [s.codec_context.name for s in c.streams] == ["h264", "aac"]
    assert len(decode_video(tmp_path / "out.ts")[0]) == 6


@pytest.mark.parametrize("out,options,message", [
    ("out.webm", {}, "--codec libx264: .webm files cannot hold it; try --codec vp9"),
    ("out.png", {}, "out.png: a picture's name; give the video a video file name"),
    ("out.mp4", {"crf": 60}, "--crf 60: libx264 takes 0-51"),
    # an audit: MOV's muxer lists VP9 and AV1 and refuses them on writing its header ('cannot write output')
    ("out.mov", {"codec": "libvpx-vp9"}, "--codec libvpx-vp9: .mov files cannot hold it; .mkv holds it"),
    # a second: rawvideo into .mov gave a file nothing decodes (MOV's 'raw ' is RGB), exit 0
    ("out.mov", {"codec": "rawvideo"}, "--codec rawvideo: .mov files cannot hold it; .mkv holds it"),
    # and the lossless codec asked for was refused with 'try --codec h264', naming no container for it
    ("out.mov", {"codec": "ffv1"}, "--codec ffv1: .mov files cannot hold it; .mkv holds it (or --codec h264)"),
])
def test_an_output_the_encoder_cannot_make_is_refused_before_any_frame(tmp_path: Path, colorizer: Colorizer,
                                                                       out: str, options: dict, message: str) -> None:
    src = make_clip(tmp_path / "in.mp4", frames=4)
    with pytest.raises(ConfigError, match=re.escape(message)):
        colorize_video(src, tmp_path / out, colorizer, VideoOptions(**FAST, **options))
    assert not (tmp_path / out).exists() and not list(tmp_path.glob(".*partial*"))


def test_warnings_name_the_format_not_the_decoder(tmp_path: Path, colorizer: Colorizer) -> None:
    src = make_clip(tmp_path / "in.mkv", audio="libmp3lame", frames=6)
    report = colorize_video(src, tmp_path / "out.webm", colorizer, VideoOptions(**FAST, codec="libvpx-vp9"))
    assert any(w.startswith("audio stream #1 (mp3) re-encoded") for w in report.warnings), report.warnings


@pytest.mark.parametrize("codec", ["mjpeg", "mpeg4"])
def test_mjpeg_and_mpeg4_are_written_at_a_quality_that_keeps_the_film(tmp_path: Path, colorizer: Colorizer,
                                                                      codec: str) -> None:
    """MJPEG, which takes full-range Y'CbCr only, was refused (CCTV archives keep MJPEG AVIs); it is written
    full range, the film's own luma level for level before the JPEG coding. And MJPEG and MPEG-4 Part 2 were
    left at FFmpeg's 200 kb/s, 31.5 dB of luma on real CCTV: they are coded at quantiser 2 (FFmpeg's -q:v 2)."""
    src = make_clip(tmp_path / "in.mp4", width=320, height=240, frames=8)
    report = colorize_video(src, tmp_path / "out.avi", colorizer, VideoOptions(**FAST, codec=codec))
    assert report.encoder == f"{codec} q 2"
    _, gray_in = _luma_frames(src)
    frames, gray_out = _luma_frames(tmp_path / "out.avi")
    if codec == "mjpeg":
        assert frames[0].format.name == "yuvj420p" and int(frames[0].color_range) == 2
        # its chroma made, and tagged, with JPEG's BT.601 matrix, the one FFmpeg's MJPEG decoder applies (a
        # review: made and tagged BT.709, decoded 0.7 dE off)
        colorize_video(src, tmp_path / "out.mkv", colorizer, VideoOptions(**FAST, codec=codec))
        with av.open(str(tmp_path / "out.mkv")) as container:
            tagged = int(container.streams.video[0].codec_context.colorspace)
            decoded = {int(f.colorspace) for f in container.decode(video=0)}
        assert tagged == 5 and decoded == {5} and int(frames[0].colorspace) == 5, (tagged, decoded)
    mse = np.mean([(a.astype(float) - b) ** 2 for a, b in zip(gray_in, gray_out, strict=False)])
    assert 10 * np.log10(255 ** 2 / mse) > 40, mse
    assert len(gray_out) == 8


def _luma_frames(path: Path) -> tuple[list[av.VideoFrame], list[np.ndarray]]:
    """The frames and their full-range luma (gray), as PyAV decodes and converts them."""
    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
    return frames, [f.to_ndarray(format="gray") for f in frames]


def test_a_resolution_change_mid_stream_is_scaled_to_the_first_size(tmp_path: Path, colorizer: Colorizer) -> None:
    """Two MPEG-TS recordings of different sizes joined (a broadcast capture switching from SD to HD): the
    larger frames are scaled to the film's size and said; they were left-over memory in the luma plane."""

    def ts(path: Path, width: int, height: int, level: int, first: int) -> bytes:
        with av.open(str(path), "w", format="mpegts") as out:
            stream = out.add_stream("libx264", rate=25)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            stream.options = {"preset": "ultrafast"}
            for i in range(first, first + 6):
                frame = av.VideoFrame.from_ndarray(np.full((height, width), level, np.uint8), format="gray")
                frame = frame.reformat(format="yuv420p")
                frame.pts, frame.time_base = i, Fraction(1, 25)
                out.mux(stream.encode(frame))
            out.mux(stream.encode(None))
        return path.read_bytes()

    joined = tmp_path / "joined.ts"
    joined.write_bytes(ts(tmp_path / "a.ts", 96, 64, 60, 0) + ts(tmp_path / "b.ts", 160, 90, 180, 6))
    report = colorize_video(joined, tmp_path / "out.mkv", colorizer, VideoOptions(**FAST, crf=0))
    with av.open(str(tmp_path / "out.mkv")) as c:
        levels = [f.to_ndarray(format="gray").mean() for f in c.decode(video=0)]
    assert report.frames == len(levels) == 12
    assert levels == pytest.approx([60] * 6 + [180] * 6, abs=6)
    assert any("6 frame(s) of another picture size, from 0.240 s (160x90; the film is 96x64)" in w
               for w in report.warnings), report.warnings


def ten_bit_clip(path: Path, frames: int = 4, width: int = 96, height: int = 64) -> list[np.ndarray]:
    """A lossless 10-bit clip whose luma uses levels that 8 bits cannot hold; returns its luma planes."""
    ramp = 64 + (np.arange(width * height, dtype=np.uint32) * 7 % 877).reshape(height, width).astype(np.uint16)
    lumas = [np.roll(ramp, 3 * i, axis=1) for i in range(frames)]
    make_ten_bit_clip(path, lumas)
    return lumas


def planes_of(path: Path) -> tuple[str, list[list[np.ndarray]]]:
    """(pixel format, each frame's Y, Cb, Cr planes as int arrays) of a decoded planar Y'CbCr video."""
    with av.open(str(path)) as c:
        frames = list(c.decode(video=0))
    fmt = frames[0].format
    dtype = np.uint16 if fmt.components[0].bits > 8 else np.uint8
    sizes = [(frames[0].height, frames[0].width)] + [(fmt.chroma_height(), fmt.chroma_width())] * 2
    return fmt.name, [[np.frombuffer(p, dtype).reshape(-1, p.line_size // dtype().itemsize)[:h, :w].astype(int)
                       for p, (h, w) in zip(frame.planes, sizes, strict=True)] for frame in frames]


def test_ten_bit_input_keeps_every_luma_level_at_ten_bits(tmp_path: Path, colorizer: Colorizer) -> None:
    """A 10-bit master written at 10 bits gives back its luma level for level (ffv1: lossless); its colour is
    the 8-bit run's at 4x the levels."""
    lumas = ten_bit_clip(tmp_path / "in.mkv")
    report = colorize_video(tmp_path / "in.mkv", tmp_path / "out.mkv", colorizer, VideoOptions(**FAST, codec="ffv1"))
    assert not [w for w in report.warnings if "bit" in w], report.warnings
    pix_fmt, frames = planes_of(tmp_path / "out.mkv")
    assert pix_fmt == "yuv420p10le" and len(frames) == len(lumas) == report.frames
    colorize_video(tmp_path / "in.mkv", tmp_path / "eight.mkv", colorizer,
                   VideoOptions(**FAST, codec="ffv1", bit_depth="8"))
    eight_fmt, eight = planes_of(tmp_path / "eight.mkv")
    assert eight_fmt == "yuv420p"
    for (y, cb, cr), y10, (_, cb8, cr8) in zip(frames, lumas, eight, strict=True):
        assert np.array_equal(y, y10)
        assert np.abs(cb - 4 * cb8).max() <= 2 and np.abs(cr - 4 * cr8).max() <= 2
    assert max(np.ptp(cb8) for _, cb8, _ in eight) > 2  # there is colour to compare
    with av.open(str(tmp_path / "out.mkv")) as c:  # FFV1 as archives write it: every frame on its own
        assert all(p.is_keyframe for p in c.demux(video=0) if p.size)


def test_ten_bit_h264_says_where_it_plays_and_bit_depth_8_writes_8_bits(tmp_path: Path,
                                                                      colorizer: Colorizer) -> None:
    ten_bit_clip(tmp_path / "in.mkv")
    deep = colorize_video(tmp_path / "in.mkv", tmp_path / "deep.mp4", colorizer, VideoOptions(**FAST))
    assert [w for w in deep.warnings if "10-bit H.264" in w and "--bit-depth 8" in w]
    eight = colorize_video(tmp_path / "in.mkv", tmp_path / "eight.mp4", colorizer,
                           VideoOptions(**FAST, bit_depth="8"))
    assert not [w for w in eight.warnings if "bit" in w], eight.warnings  # it was asked for: no warning
    for path, expected in ((tmp_path / "deep.mp4", "yuv420p10le"), (tmp_path / "eight.mp4", "yuv420p")):
        with av.open(str(path)) as c:
            assert next(c.decode(video=0)).format.name == expected
    with pytest.raises(ConfigError, match="--bit-depth 16: --codec libx264 cannot encode it .it takes 8, 10."):
        colorize_video(tmp_path / "in.mkv", tmp_path / "x.mp4", colorizer, VideoOptions(**FAST, bit_depth="16"))
    assert not (tmp_path / "x.mp4").exists()


def test_prores_takes_an_eight_bit_film_at_ten_bits(tmp_path: Path, colorizer: Colorizer) -> None:
    """ProRes has only 10-bit 4:2:2 and 4:4:4 formats: it was refused ("cannot encode a 96x64 frame")."""
    src = make_clip(tmp_path / "in.mp4", frames=4)
    report = colorize_video(src, tmp_path / "out.mov", colorizer, VideoOptions(**FAST, codec="prores_ks"))
    pix_fmt, frames = planes_of(tmp_path / "out.mov")
    assert pix_fmt == "yuv422p10le" and len(frames) == report.frames == 4
    for (y, _, _), (y8, _, _) in zip(frames, planes_of(src)[1], strict=True):
        assert np.abs(y - 4 * y8).mean() < 4  # 8-bit luma at 10 bits is its level times 4 (ProRes: near-lossless)
    with av.open(str(tmp_path / "out.mov")) as container:  # an audit: the frame headers said 'unspecified'
        frame = next(container.decode(video=0))  # (ProRes writes each frame's tags), the MOV's colr BT.601
        assert [int(frame.colorspace), int(frame.color_primaries), int(frame.color_trc)] == [1, 1, 1]


def _across_the_wrap(path: Path, frames: int = 20, fps: int = 10) -> Path:
    """An MPEG-TS whose 33-bit clock wraps 1 s in (a recorder running past 26.5 hours), with MP2 sound: FFmpeg
    reads its first second at negative times."""
    tb, start = Fraction(1, 90000), 2**33 - 90000
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt, video.options = 64, 48, "yuv420p", {"bf": "0"}
        video.time_base = video.codec_context.time_base = tb
        sound = container.add_stream("mp2", rate=48000)
        sound.layout, samples = "mono", 0
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(gray_frame(i, 48, 64), format="gray").reformat(format="yuv420p")
            frame.pts, frame.time_base = start + i * 90000 // fps, tb
            container.mux(video.encode(frame))
            while samples <= (i + 1) * 48000 // fps:
                chunk = av.AudioFrame.from_ndarray(np.zeros((1, 1152), np.int16), format="s16", layout="mono")
                chunk.sample_rate, chunk.time_base = 48000, Fraction(1, 48000)
                chunk.pts = samples + start * 48000 // 90000  # with the picture, as a recorder starts both
                container.mux(sound.encode(chunk))
                samples += 1152
        container.mux(video.encode(None))
        container.mux(sound.encode(None))
    return path


@pytest.mark.parametrize("ext", [".mp4", ".mov", ".mkv"])
def test_a_film_read_at_negative_times_is_shown_whole(tmp_path: Path, colorizer: Colorizer, ext: str) -> None:
    """An audit: an MPEG-TS recorded across its clock's wrap reads its first second at negative times, which an
    MP4's or MOV's edit list then hid: 25 of 60 frames never shown, and the run said 60. Every stream is moved
    by the picture's start, so its first frame is at 0; the sound stays the same packets."""
    src = _across_the_wrap(tmp_path / "wrap.ts")
    times, _, _ = decode_video(src)
    assert times[0] < -0.5 and len(times) == 20
    report = colorize_video(src, tmp_path / f"out{ext}", colorizer, VideoOptions(**FAST))
    shown, _, _ = decode_video(tmp_path / f"out{ext}")
    assert report.frames == len(shown) == 20
    assert [t - shown[0] for t in shown] == pytest.approx([t - times[0] for t in times], abs=2e-3)
    # MKV holds no negative time: its muxer moves all by the sound's head start (the MP2 encoder's delay)
    assert shown[0] == pytest.approx(0.0, abs=2e-3 if ext != ".mkv" else 0.05)
    assert audio_packets(tmp_path / f"out{ext}") == audio_packets(src)


def _sound_from(path: Path, first_sample: int, packets: int = 60, codec: str = "aac", samples: int = 1024) -> Path:
    """An MP4 of 25 frames at 25 fps whose AAC sound starts at ``first_sample`` (48 kHz; negative: the edit
    list hides what comes before 0, as an `ffmpeg -ss X -c copy` cut, or an encoder's priming, leaves it)."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        sound = container.add_stream(codec, rate=48000)
        sound.layout = "mono"
        sound.time_base = sound.codec_context.time_base = Fraction(1, 48000)
        for i in range(25):
            frame = av.VideoFrame.from_ndarray(gray_frame(i, 48, 64), format="gray").reformat(format="yuv420p")
            frame.pts = i
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        tone = (0.1 * np.sin(np.arange(packets * samples) / 48000 * 2 * np.pi * 440)).astype(np.float32)
        layout = "fltp" if codec == "aac" else "flt"
        for k in range(packets):
            chunk = av.AudioFrame.from_ndarray(tone[None, k * samples:(k + 1) * samples], format=layout, layout="mono")
            chunk.sample_rate, chunk.pts, chunk.time_base = 48000, first_sample + k * samples, Fraction(1, 48000)
            container.mux(sound.encode(chunk))
        container.mux(sound.encode(None))
    return path


@pytest.mark.parametrize(("first_sample", "said"), [(14400, "s after the picture; .avi files start every stream at "
                                                               "once, so it plays 0.2"),  # (0.3 less AAC's lead-in)
                                                      (0, None)])
def test_a_sound_offset_an_avi_loses_is_said(tmp_path: Path, colorizer: Colorizer, first_sample: int,
                                             said: str | None) -> None:
    """An audit: sound starting 0.3 s after the picture played 0.3 s early in an .avi (every stream starts at
    once there), without a word; an .mkv keeps the offset and says nothing."""
    src = _sound_from(tmp_path / "late.mp4", first_sample)
    report = colorize_video(src, tmp_path / "out.avi", colorizer, VideoOptions(**FAST))
    lines = [w for w in report.warnings if "plays" in w]
    assert (lines[0].startswith("audio stream #1 starts 0.") and said in lines[0]) if said else not lines, lines
    report = colorize_video(src, tmp_path / "out.mkv", colorizer, VideoOptions(**FAST))
    assert not [w for w in report.warnings if "plays" in w], report.warnings


def test_sound_an_edit_list_hides_is_left_out_but_its_pre_roll(tmp_path: Path, colorizer: Colorizer) -> None:
    """An audit: an MP4 cut without re-encoding keeps the sound before its start, which its edit list hides;
    copied as ordinary sound, the output played 1 s of it before the first picture. The hidden packets are
    left out, and named, except the last before the first one played, which the decoder needs (an AAC
    file's priming packet is hidden too, and kept)."""
    cut = _sound_from(tmp_path / "cut.mp4", first_sample=-48000)
    with av.open(str(cut)) as c:
        hidden = [p.is_discard for p in c.demux(audio=0) if p.size]
    assert sum(hidden) == 46 and hidden[:47] == [True] * 46 + [False]
    report = colorize_video(cut, tmp_path / "cut_out.mkv", colorizer, VideoOptions(**FAST))
    assert audio_packets(tmp_path / "cut_out.mkv") == [audio_packets(cut)[0][45:]]  # the 46th: pre-roll
    assert report.warnings == ["audio stream #1: 45 packet(s) that the input's edit list hides "
                               "(no player plays them) left out"]
    primed = _sound_from(tmp_path / "primed.mp4", first_sample=0)  # negative control: the encoder's priming alone
    report = colorize_video(primed, tmp_path / "primed_out.mp4", colorizer, VideoOptions(**FAST))
    assert audio_packets(tmp_path / "primed_out.mp4") == audio_packets(primed) and not report.warnings


def test_a_codec_the_output_cannot_hold_names_one_that_can(tmp_path: Path, colorizer: Colorizer) -> None:
    """An audit: a CCTV AVI's G.711 sound (pcm_mulaw) into .mkv was re-encoded 'because .mkv files cannot hold
    pcm_mulaw; use .mkv to keep it untouched'. The warning names a container that keeps it, and that one does."""
    src = make_clip(tmp_path / "cam.avi", codec="mjpeg", pix_fmt="yuvj420p", audio="pcm_mulaw", frames=10)
    report = colorize_video(src, tmp_path / "cam.mkv", colorizer, VideoOptions(**FAST))
    assert [w for w in report.warnings if "pcm_mulaw" in w] == [
        "audio stream #1 (pcm_mulaw) re-encoded to flac (.mkv files cannot hold pcm_mulaw; .mov keeps it untouched)"]
    report = colorize_video(src, tmp_path / "cam.mov", colorizer, VideoOptions(**FAST))
    assert not [w for w in report.warnings if "pcm_mulaw" in w]
    assert [b"".join(p) for p in audio_packets(tmp_path / "cam.mov")] == [b"".join(p) for p in audio_packets(src)]


def test_a_setting_the_encoder_does_not_take_is_named(tmp_path: Path, colorizer: Colorizer) -> None:
    """An audit: --crf 30 --preset slow with ffv1 (lossless) ran in silence, as though they had been used."""
    src = make_clip(tmp_path / "in.mp4", frames=4)
    report = colorize_video(src, tmp_path / "out.mkv", colorizer,
                            VideoOptions(temporal=TemporalOptions(mode="off"), codec="ffv1", crf=30, preset="slow"))
    assert [w for w in report.warnings if "not used" in w] == ["--crf 30 not used: ffv1 takes no crf",
                                                               "--preset slow not used: ffv1 takes no preset"]
    plain = colorize_video(src, tmp_path / "plain.mkv", colorizer, VideoOptions(**FAST, crf=30))  # x264 takes both
    assert not [w for w in plain.warnings if "not used" in w]
    svt = colorize_video(src, tmp_path / "svt.mkv", colorizer,  # a second audit: a named preset, svt's default used
                         VideoOptions(temporal=TemporalOptions(mode="off"), codec="libsvtav1", preset="veryslow"))
    assert [w for w in svt.warnings if "not used" in w] == ["--preset veryslow not used: libsvtav1 takes a number "
                                                            "(0-13)"]


def test_a_frame_too_narrow_for_svt_av1_is_refused_before_it_hangs(tmp_path: Path, colorizer: Colorizer) -> None:
    """An audit: libsvtav1 on a 160x16 film hung for ever at its flush (SIGINT and SIGTERM unheard)."""
    src = make_clip(tmp_path / "in.mp4", width=160, height=16, frames=4)
    with pytest.raises(ConfigError, match="--codec libsvtav1 cannot encode a 160x16 frame .it takes sides of 32 "
                                          "or more.; try --codec libx264"):
        colorize_video(src, tmp_path / "out.mkv", colorizer,
                       VideoOptions(temporal=TemporalOptions(mode="off"), codec="libsvtav1"))
    assert not list(tmp_path.glob("*out*"))


def test_libsvtav1_prints_no_banner(tmp_path: Path, colorizer: Colorizer, capfd: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """An audit: SVT-AV1 wrote 20 lines of banner and settings to stderr around the run's one-line report."""
    monkeypatch.delenv("SVT_LOG", raising=False)
    src = make_clip(tmp_path / "in.mp4", frames=4)
    capfd.readouterr()
    colorize_video(src, tmp_path / "out.mkv", colorizer,
                   VideoOptions(temporal=TemporalOptions(mode="off"), codec="libsvtav1"))
    assert "Svt[" not in capfd.readouterr().err
    assert len(decode_video(tmp_path / "out.mkv")[0]) == 4
    assert "SVT_LOG" not in os.environ  # set for the encoder's opening alone (it stayed the host's; an audit)


def test_opus_keeps_its_80_ms_of_pre_roll(tmp_path: Path, colorizer: Colorizer) -> None:
    """A second audit: of the Opus packets an edit list hides, only the last was kept, and the first sound
    played came out wrong (SNR 19 dB over its first 20 ms); Opus's decoder needs 80 ms before it (RFC 7845)."""
    cut = _sound_from(tmp_path / "cut.mp4", first_sample=-48000, codec="libopus", samples=960)
    with av.open(str(cut)) as c:
        hidden = [p.is_discard for p in c.demux(audio=0) if p.size]
    first_played = hidden.index(False)
    colorize_video(cut, tmp_path / "out.mp4", colorizer, VideoOptions(**FAST))
    kept = audio_packets(tmp_path / "out.mp4")[0]
    source = audio_packets(cut)[0]
    assert kept == source[len(source) - len(kept):]  # a tail of the input's packets, as they were
    assert first_played - (len(source) - len(kept)) == 5  # the last hidden one and 80 ms (4 of 20 ms) before it


def test_mpeg2_codes_a_film_at_a_broadcast_rate_and_refuses_others(tmp_path: Path, colorizer: Colorizer) -> None:
    """--codec mpeg2video (DVD and broadcast deliveries) failed on every film: 'cannot encode this video
    (Invalid argument)', since its bitstream counts frames at one of a few rates, not in the film's time base."""
    src = make_clip(tmp_path / "in.mp4", frames=6, fps=25)
    colorize_video(src, tmp_path / "out.mkv", colorizer, VideoOptions(**FAST, codec="mpeg2video"))
    assert decode_video(tmp_path / "out.mkv")[0] == pytest.approx(decode_video(src)[0], abs=1e-3)
    colorize_video(src, tmp_path / "out.mpg", colorizer, VideoOptions(**FAST, codec="mpeg2video"))  # a third audit:
    with av.open(str(tmp_path / "out.mpg")) as c:  # '.mpg files cannot hold it' (an MPEG-2 program stream can)
        assert c.streams.video[0].codec_context.name == "mpeg2video" and len(list(c.decode(video=0))) == 6
    dvd = make_clip(tmp_path / "dvd.mkv", frames=6, fps=25, audio="ac3")  # a fourth: a DVD's AC-3 was re-encoded
    for out in ("dvd.mpg", "dvd.vob"):
        report = colorize_video(dvd, tmp_path / out, colorizer,
                                VideoOptions(temporal=TemporalOptions(mode="off"), codec="mpeg2video"))
        assert audio_packets(tmp_path / out) == audio_packets(dvd) and not report.warnings, report.warnings
    with pytest.raises(ConfigError, match="MPEG video codes 23.976, 24, 25, 29.97, 30, 50, 59.94 and 60 fps, and "
                                          "this film is 10.000 fps; try --codec libx264"):
        colorize_video(make_clip(tmp_path / "ten.mp4", frames=6, fps=10), tmp_path / "ten.mkv", colorizer,
                       VideoOptions(**FAST, codec="mpeg2video"))


def test_mpeg2_takes_a_variable_rate_film_onto_its_grid(tmp_path: Path, colorizer: Colorizer) -> None:
    """A third audit: a variable-rate film (frames 10 and 70 ms apart, 25 fps on average) into mpeg2video
    stopped with 'avcodec_send_frame() returned 22': two frames fell on one tick of MPEG's 25 fps."""
    src = tmp_path / "vfr.mkv"
    with av.open(str(src), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.time_base = stream.time_base = Fraction(1, 1000)
        t = 0
        for i in range(12):
            frame = av.VideoFrame.from_ndarray(gray_frame(i, 48, 64), format="gray").reformat(format="yuv420p")
            frame.pts, frame.time_base = t, Fraction(1, 1000)
            container.mux(stream.encode(frame))
            t += 10 if i % 2 == 0 else 70
        container.mux(stream.encode(None))
    report = colorize_video(src, tmp_path / "out.mkv", colorizer, VideoOptions(**FAST, codec="mpeg2video"))
    times = decode_video(tmp_path / "out.mkv")[0]
    assert len(times) == report.frames == 12 and times == sorted(set(times))
    assert any("moved onto the frame rate MPEG video codes" in w for w in report.warnings), report.warnings
    # a fourth: it counted the frames, not how far the picture falls behind its sound. The film's times
    # 0, 10, 80, 90, ... 410 ms on a 40 ms grid: frame 11 at 410 ms goes to tick 11, 440 ms: 30 ms late
    assert any("strays up to 0.03 s from its sound" in w for w in report.warnings), report.warnings


def test_the_pixels_aspect_ratio_is_kept_or_said(tmp_path: Path, colorizer: Colorizer) -> None:
    """PAL's 16:15 pixels: kept by H.264 anywhere and by MP4/MOV whatever the codec; FFV1, VP9 and AV1 in
    .mkv/.webm lost it without a word (an audit), and now say so."""
    src = tmp_path / "pal.mp4"
    with av.open(str(src), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        stream.codec_context.sample_aspect_ratio = Fraction(16, 15)
        for i in range(4):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(gray_frame(i, 64, 96), format="gray")
                                        .reformat(format="yuv420p")))
        container.mux(stream.encode(None))
    for name, codec, kept in (("x.mkv", "libx264", True), ("f.mp4", "ffv1", True), ("f.mkv", "ffv1", False),
                              ("f.avi", "ffv1", False)):
        report = colorize_video(src, tmp_path / name, colorizer, VideoOptions(**{**FAST, "codec": codec}))
        with av.open(str(tmp_path / name)) as container:
            assert (container.streams.video[0].sample_aspect_ratio == Fraction(16, 15)) == kept, name
        said = [w for w in report.warnings if "aspect ratio" in w]
        assert said == ([] if kept else [f"the pixels' aspect ratio (16:15) not kept: ffv1 in {name[1:]} cannot "
                                         "say it here (the frames show square); --codec libx264, or a .mp4 or "
                                         ".mov, keeps it"]), said


@pytest.mark.parametrize("out", ["out.avi", "out.mp4"])
def test_vorbis_is_re_encoded_where_it_would_not_play(tmp_path: Path, colorizer: Colorizer, out: str) -> None:
    """An audit: Vorbis copied into .avi read back with 2 s of sound stamped within 21 ms, and into .mp4 under
    FFmpeg's private code; both exit 0 without a word."""
    src = make_clip(tmp_path / "in.mkv", frames=10, audio="vorbis")
    report = colorize_video(src, tmp_path / out, colorizer, VideoOptions(**FAST))
    said = [w for w in report.warnings if "vorbis" in w]
    assert len(said) == 1 and "re-encoded" in said[0] and ".mkv keeps it untouched" in said[0], said
    with av.open(str(tmp_path / out)) as container:
        assert container.streams.audio[0].codec_context.name != "vorbis"


def test_hdr_input_is_said(tmp_path: Path, colorizer: Colorizer) -> None:
    """An audit: PQ / BT.2020 input came out with its primaries and transfer beside a BT.709 matrix, in silence."""
    src = tmp_path / "pq.mkv"
    with av.open(str(src), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p10le"
        ctx = stream.codec_context
        ctx.color_primaries, ctx.color_trc, ctx.colorspace = 9, 16, 9
        for i in range(3):
            frame = av.VideoFrame.from_ndarray(gray_frame(i, 48, 64), format="gray").reformat(format="yuv420p10le")
            frame.color_primaries, frame.color_trc, frame.colorspace = 9, 16, 9
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    report = colorize_video(src, tmp_path / "out.mkv", colorizer, VideoOptions(**FAST))
    assert [w for w in report.warnings if w.startswith("HDR")], report.warnings
    plain = colorize_video(make_clip(tmp_path / "sdr.mp4", frames=3), tmp_path / "sdr.mkv", colorizer,
                           VideoOptions(**FAST))
    assert not [w for w in plain.warnings if w.startswith("HDR")]


def test_a_listed_codec_the_container_will_not_take_as_it_is_is_said_so(tmp_path: Path,
                                                                        colorizer: Colorizer) -> None:
    """An audit: a TS's AAC (ADTS, no decoder config) into .avi read '.avi files cannot hold aac', though .avi
    takes the same AAC from an .mkv."""
    src = make_clip(tmp_path / "in.ts", frames=10, audio="aac")
    report = colorize_video(src, tmp_path / "out.avi", colorizer, VideoOptions(**FAST))
    assert [w for w in report.warnings if "(aac)" in w] == [
        "audio stream #1 (aac) re-encoded to aac (.avi files cannot hold this aac stream as it is; .mkv keeps it "
        "untouched)"], report.warnings


@pytest.mark.parametrize("source, codec", [("in.mp4", "ffv1"), ("in.ts", "ffv1"), ("in.mp4", "mpeg2video")])
def test_avi_counts_each_frame_once_from_tick_0(tmp_path: Path, colorizer: Colorizer, source: str,
                                                codec: str) -> None:
    """An audit: with AAC (21 ms of priming before the picture) AVI's muxer shifted every stream by it, which
    its frame count rounded to a hole after the first frame (25 counted for 24); from a TS, whose picture
    starts half a frame after its sound, two; and MPEG-2 into .avi still declared 600 fps."""
    src = make_clip(tmp_path / source, frames=12, fps=25, audio="aac")
    report = colorize_video(src, tmp_path / "out.avi", colorizer, VideoOptions(**{**FAST, "codec": codec}))
    with av.open(str(tmp_path / "out.avi")) as container:
        stream = container.streams.video[0]
        assert stream.average_rate == 25 and stream.frames == 12
        late = codec == "mpeg2video"  # its encoder's delay: FFmpeg reads it a frame late (said in a warning)
        assert [p.pts for p in container.demux(stream) if p.size] == list(range(late, 12 + late))
    assert not [w for w in report.warnings if "moved onto" in w], report.warnings


def test_a_variable_rate_film_into_avi_is_said_to_go_onto_avis_rate(tmp_path: Path, colorizer: Colorizer) -> None:
    src = make_clip(tmp_path / "vfr.mkv", frames=12, vfr=True)
    report = colorize_video(src, tmp_path / "out.avi", colorizer, VideoOptions(**{**FAST, "codec": "ffv1"}))
    assert [w for w in report.warnings if "moved onto AVI's one frame rate (a variable-rate film" in w], \
        report.warnings


def _paused_clip(path: Path) -> Path:
    """A 25 fps camera that records in bursts: frames 0-4 at 0-0.16 s, frames 5-9 at 5.0-5.16 s."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.time_base = stream.codec_context.time_base = Fraction(1, 90000)
        stream.options = {"bf": "0"}
        for i in range(10):
            frame = av.VideoFrame.from_ndarray(gray_frame(i, 48, 64), format="gray").reformat(format="yuv420p")
            frame.pts, frame.time_base = (i + (120 if i >= 5 else 0)) * 3600, Fraction(1, 90000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def _frame_times(path: Path) -> list[float]:
    with av.open(str(path)) as container:
        return [round(float(f.pts * f.time_base), 3) for f in container.decode(video=0)]


def test_a_camera_recording_in_bursts_keeps_its_rate_and_its_pauses(tmp_path: Path, colorizer: Colorizer) -> None:
    """An audit: a 25 fps camera's 4.8 s pause made its rate the average, 1.9 fps: an .avi put its frames
    0.52 s apart, MPEG-2 was refused ('this film is 1.923 fps'). The rate is its frames' own; an .avi keeps the
    pause, and MPEG video in an .mpg, which counts frames, repeats the frame before it through it (the pause
    read back closed up, everything after it 4.8 s early)."""
    src = _paused_clip(tmp_path / "cctv.mp4")
    with av.open(str(src)) as container:
        assert container.streams.video[0].average_rate < 2  # FFmpeg's average counts the pause
    wanted = [0.0, 0.04, 0.08, 0.12, 0.16, 5.0, 5.04, 5.08, 5.12, 5.16]
    assert _frame_times(src) == wanted
    colorize_video(src, tmp_path / "out.mkv", colorizer, VideoOptions(**FAST))
    with av.open(str(tmp_path / "out.mkv")) as container:
        assert container.streams.video[0].average_rate == 25
    times = _frame_times(tmp_path / "out.mkv")
    assert [round(t - times[0], 3) for t in times] == wanted
    colorize_video(src, tmp_path / "out.avi", colorizer, VideoOptions(**{**FAST, "codec": "mpeg4"}))
    assert _frame_times(tmp_path / "out.avi") == wanted
    report = colorize_video(src, tmp_path / "out.mpg", colorizer, VideoOptions(**{**FAST, "codec": "mpeg2video"}))
    times = _frame_times(tmp_path / "out.mpg")
    assert len(times) == 130 and times[-1] - times[0] == pytest.approx(5.16, abs=1e-3)
    assert [w for w in report.warnings if w.startswith("120 frame(s) repeated to fill the input's pauses")], \
        report.warnings


def test_a_transport_streams_clock_start_is_not_a_delay(tmp_path: Path, colorizer: Colorizer) -> None:
    """An audit: a DVB recording's times start where its clock was (600 s): an .mp4 opened with a 600 s empty
    edit (10 minutes of nothing in QuickTime and editors), an .mkv read 601 s long. Every stream is shifted by
    the picture's start; the sound is copied as it is, and its offset from the picture kept."""
    src = tmp_path / "dvb.ts"
    with av.open(str(src), "w", format="mpegts") as container:
        video = container.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        audio = container.add_stream("mp2", rate=48000, layout="mono")
        for i in range(25):
            frame = av.VideoFrame.from_ndarray(gray_frame(i, 48, 64), format="gray").reformat(format="yuv420p")
            frame.pts, frame.time_base = 15000 + i, Fraction(1, 25)  # 600 s on
            container.mux(video.encode(frame))
        for i in range(45):
            tone = (np.sin(np.arange(1152) / 9.0) * 8000).astype(np.int16)[None]
            sound = av.AudioFrame.from_ndarray(tone, format="s16", layout="mono")
            sound.sample_rate, sound.pts, sound.time_base = 48000, 600 * 48000 + 1152 * i, Fraction(1, 48000)
            container.mux(audio.encode(sound))
        container.mux(video.encode(None))
        container.mux(audio.encode(None))

    def starts(path: Path) -> tuple[float, float, float]:
        """(first frame s, first sound packet s, the file's length s): packets' own times (an MP4's edit
        list hides the sound's head start, before the picture, from its stream's start time)."""
        with av.open(str(path)) as c:
            first = {}
            for packet in c.demux():
                if packet.size and packet.pts is not None:
                    t = float(packet.pts * packet.time_base)
                    first[packet.stream.type] = min(t, first.get(packet.stream.type, t))
            return first["video"], first["audio"], c.duration / 1e6

    video_s, audio_s, _ = starts(src)
    assert video_s > 599 and audio_s > 599
    for ext in (".mp4", ".mkv"):
        out = tmp_path / f"out{ext}"
        colorize_video(src, out, colorizer, VideoOptions(**FAST))
        out_video_s, out_audio_s, length = starts(out)
        # (MKV holds no negative time: its muxer moves all by the sound's head start)
        assert out_video_s == pytest.approx(0.0, abs=1e-3 if ext != ".mkv" else 0.05) and length < 1.5, ext
        assert out_video_s - out_audio_s == pytest.approx(video_s - audio_s, abs=2e-3), ext
        assert audio_packets(out) == audio_packets(src), ext


def test_a_timecode_the_output_cannot_hold_is_said(tmp_path: Path, colorizer: Colorizer) -> None:
    """An audit: a MOV's start timecode (01:00:00:00) vanished into .avi, .ts, .flv and .mpg without a word."""
    src = tmp_path / "tc.mov"
    with av.open(str(src), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.metadata["timecode"] = "01:00:00:00"
        for i in range(3):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(gray_frame(i, 48, 64), format="gray")
                                        .reformat(format="yuv420p")))
        container.mux(stream.encode(None))
    for out, said in (("out.avi", ["timecode 01:00:00:00 not kept: .avi files cannot hold it; .mov, .mp4 and .mkv "
                                   "can"]), ("out.mkv", [])):
        report = colorize_video(src, tmp_path / out, colorizer, VideoOptions(**FAST))
        assert [w for w in report.warnings if "timecode" in w] == said, report.warnings
    with av.open(str(tmp_path / "out.mkv")) as container:
        assert container.streams.video[0].metadata.get("TIMECODE") == "01:00:00:00"


@pytest.mark.parametrize("ext", [".mov", ".mkv"])
def test_a_slice_starts_at_its_own_timecode(tmp_path: Path, colorizer: Colorizer, ext: str) -> None:
    """An audit: `--start 0.4` of a 25 fps film at 01:00:00:00 kept 01:00:00:00, the film's first frame's; its
    first frame, the film's 10th, is 01:00:00:10 (in the .mov's tag and its timecode track)."""
    src = tmp_path / f"tc{ext}"
    with av.open(str(src), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.metadata["timecode"] = "01:00:00:00"
        for i in range(25):
            frame = av.VideoFrame.from_ndarray(gray_frame(i, 48, 64), format="gray").reformat(format="yuv420p")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    out = tmp_path / f"cut{ext}"
    colorize_video(src, out, colorizer, VideoOptions(**FAST, start=0.4))
    with av.open(str(out)) as container:
        tags = [{k.lower(): v for k, v in s.metadata.items()}.get("timecode") for s in container.streams]
    assert tags[0] == "01:00:00:10" and set(tags) - {None} == {"01:00:00:10"}, tags


def _subtitled_clip(tmp_path: Path, lines: tuple[str, str] = ("Hello two", "Hello three"),
                    encodings: tuple[str, str] = ("utf-8", "utf-8")) -> Path:
    """A 7 s clip at 24 fps with two SubRip lines (2-3 s, 5-6 s) in an MKV, each line's text in its encoding."""
    (tmp_path / "s.srt").write_bytes(b"1\n00:00:02,000 --> 00:00:03,000\n" + lines[0].encode(encodings[0])
                                     + b"\n\n2\n00:00:05,000 --> 00:00:06,000\n" + lines[1].encode(encodings[1])
                                     + b"\n\n")
    clip = tmp_path / "subs.mkv"
    with av.open(str(tmp_path / "s.srt")) as srt, av.open(str(clip), "w") as out:
        video = out.add_stream("libx264", rate=24)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        sub = out.add_stream_from_template(srt.streams[0])
        for i in range(168):
            frame = av.VideoFrame.from_ndarray(gray_frame(i, 48, 64), format="gray").reformat(format="yuv420p")
            frame.pts, frame.time_base = i, Fraction(1, 24)
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        for packet in srt.demux(srt.streams[0]):
            if packet.size:
                packet.stream = sub
                out.mux(packet)
    return clip


def _subtitle_lines(path: Path) -> list[tuple[float, float, bytes]]:
    """(start s, length s, packet bytes) of the first subtitle stream's non-empty packets."""
    with av.open(str(path)) as container:
        return [(round(float(p.pts * p.time_base), 3), round(float(p.duration * p.time_base), 3), bytes(p))
                for p in container.demux(container.streams.subtitles[0]) if p.size]


def _subtitle_cues(path: Path) -> tuple[str, list[tuple[float, float, str]]]:
    """The first subtitle stream's codec and its cues as PyAV's decoder reads them: (start s, length s, text)."""
    with av.open(str(path)) as container:
        stream = container.streams.subtitles[0]
        cues = []
        for packet in container.demux(stream):
            for cue in packet.decode() if packet.size else []:  # (its rectangles: one text each here)
                cues.append((round(float(packet.pts * packet.time_base), 3),
                             round(float(packet.duration * packet.time_base), 3), cue.dialogue.decode()))
        return stream.codec_context.codec.canonical_name, cues


def test_subtitles_are_copied_and_a_line_on_screen_at_start_is_kept(tmp_path: Path, colorizer: Colorizer) -> None:
    """Subtitles are copied packet for packet; an audit: with --start, a line still on screen at the slice's
    first frame was dropped (only lines that begin inside the slice were kept)."""
    clip = _subtitled_clip(tmp_path)
    colorize_video(clip, tmp_path / "whole.mkv", colorizer, VideoOptions(**FAST))
    assert _subtitle_lines(tmp_path / "whole.mkv") == _subtitle_lines(clip) == [(2.0, 1.0, b"Hello two"),
                                                                                  (5.0, 1.0, b"Hello three")]
    colorize_video(clip, tmp_path / "cut.mkv", colorizer, VideoOptions(**FAST, start=2.5, duration=3.0))
    assert _subtitle_lines(tmp_path / "cut.mkv") == [(0.0, 0.5, b"Hello two"), (2.5, 1.0, b"Hello three")]


def test_text_subtitles_are_converted_where_the_container_cannot_hold_them(tmp_path: Path,
                                                                            colorizer: Colorizer) -> None:
    """An MKV's SubRip into an .mp4 becomes mov_text, and back into an .mkv FFmpeg's ASS, every cue at its time
    and with its text (they were dropped); an .avi holds no text subtitles, and says so."""
    clip = _subtitled_clip(tmp_path)
    expected = [(2.0, 1.0, "Hello two"), (5.0, 1.0, "Hello three")]
    assert _subtitle_cues(clip) == ("subrip", expected)
    report = colorize_video(clip, tmp_path / "out.mp4", colorizer, VideoOptions(**FAST))
    assert _subtitle_cues(tmp_path / "out.mp4") == ("mov_text", expected)
    assert "subtitle stream #1 (subrip) converted to mov_text: .mp4 files cannot hold subrip; .mkv keeps it " \
           "untouched" in report.warnings
    report = colorize_video(tmp_path / "out.mp4", tmp_path / "back.mkv", colorizer,
                            VideoOptions(**FAST, start=2.5, duration=3.0))
    assert _subtitle_cues(tmp_path / "back.mkv") == ("ass", [(0.0, 0.5, "Hello two"), (2.5, 1.0, "Hello three")])
    assert [w for w in report.warnings if "converted to ass" in w], report.warnings
    report = colorize_video(clip, tmp_path / "out.avi", colorizer, VideoOptions(**FAST))
    assert [w for w in report.warnings if w.startswith("subtitle stream #1 (subrip) dropped: .avi files cannot "
                                                       "hold subrip")], report.warnings
    with av.open(str(tmp_path / "out.avi")) as container:
        assert not container.streams.subtitles


def test_subtitles_that_are_not_utf_8_are_converted_as_windows_1252(tmp_path: Path, colorizer: Colorizer) -> None:
    """A review: an old SubRip file in Latin-1, converted for an .mp4, failed the whole film ('cannot convert
    ... Invalid data'); its text is read as Windows-1252, said, and a cue that still fails is left out alone."""
    clip = _subtitled_clip(tmp_path, ("Café crème", "Ça va, Gérard?"), ("latin-1", "latin-1"))
    report = colorize_video(clip, tmp_path / "out.mp4", colorizer, VideoOptions(**FAST))
    assert _subtitle_cues(tmp_path / "out.mp4") == ("mov_text", [(2.0, 1.0, "Café crème"),
                                                                 (5.0, 1.0, "Ça va, Gérard?")])
    # cue by cue: a UTF-8 cue after a Latin-1 one stays UTF-8 (a second review: it read 'GÃ©rard')
    (tmp_path / "mixed").mkdir()
    mixed = _subtitled_clip(tmp_path / "mixed", ("Café crème", "Ça va, Gérard?"), ("latin-1", "utf-8"))
    colorize_video(mixed, tmp_path / "mixed.mp4", colorizer, VideoOptions(**FAST))
    assert [t for *_, t in _subtitle_cues(tmp_path / "mixed.mp4")[1]] == ["Café crème", "Ça va, Gérard?"]
    assert "subtitle stream #1 (subrip) is not UTF-8 text: read as CP1252" in report.warnings, report.warnings


def test_a_raw_dv_file_keeps_its_rate_and_its_bottom_field_first(tmp_path: Path, colorizer: Colorizer) -> None:
    """An audit: a raw .dv (FFmpeg's dv muxer: time base 1/60000, average rate 60000) was read at 60000 fps,
    so an .mp4 failed after all the work ('fps 60000 is too large') and an .avi came out at 600 fps; and SD
    DV, bottom field first by its standard, came out top field first (its decoder does not say)."""
    src = tmp_path / "tape.dv"
    with av.open(str(src), "w", format="dv") as container:
        mux_gray(container, "dvvideo", 25, 720, 576, "yuv420p", 6)
    with av.open(str(src)) as c:
        assert c.streams.video[0].average_rate == 60000  # what FFmpeg says of it
    for ext in (".mp4", ".mkv"):
        out = tmp_path / f"out{ext}"
        report = colorize_video(src, out, colorizer, VideoOptions(**FAST))
        assert report.frames == 6
        times, _, _ = decode_video(out)
        assert times == pytest.approx([i / 25 for i in range(6)], abs=1e-3)
        assert _field_order(out) == (3, True)  # AV_FIELD_BB, interlaced


@pytest.mark.parametrize(("given", "in_mov"), [("deu", "ger"), ("fre", "fra"), ("srp", None)])
def test_a_tracks_title_and_language_reach_a_mov_and_an_mkv(tmp_path: Path, colorizer: Colorizer, given: str,
                                                           in_mov: str | None) -> None:
    """An audit: an MP4's track titles (FFmpeg reads them as 'name', writes 'title') were lost in every output,
    and a .mov dropped the language 'deu' (its muxer holds QuickTime's table: 'ger'); a second audit: mapping
    every code to its /B form lost 'fre' (the table holds 'fra'), and a language it lacks went without a word."""
    plain = make_clip(tmp_path / "plain.mp4", frames=6, audio="aac")
    src = tmp_path / "titled.mp4"
    with av.open(str(plain)) as inp, av.open(str(src), "w") as out:
        streams = {s.index: out.add_stream_from_template(s) for s in inp.streams}
        audio = streams[inp.streams.audio[0].index]
        audio.metadata["title"], audio.metadata["language"] = "Kommentar", given
        video = streams[inp.streams.video[0].index]  # the picture's own went past this (a third audit)
        video.metadata["title"], video.metadata["language"] = "Rolle 1", given
        for packet in inp.demux():
            if packet.size:
                packet.stream = streams[packet.stream.index]
                out.mux(packet)

    def tags(path: Path, kind: str) -> tuple[str | None, str | None]:
        with av.open(str(path)) as c:
            tags = dict(getattr(c.streams, kind)[0].metadata)
            return tags.get("title") or tags.get("name"), tags.get("language")

    assert (tags(src, "audio"), tags(src, "video")) == (("Kommentar", given), ("Rolle 1", given))
    for ext, language in ((".mp4", given), (".mov", in_mov), (".mkv", given)):
        out = tmp_path / f"out{ext}"
        report = colorize_video(src, out, colorizer, VideoOptions(**FAST))
        assert tags(out, "audio") == ("Kommentar", language), ext
        assert tags(out, "video") == ("Rolle 1", language), ext
        if ext == ".mkv":  # the track's own title (its Name element), not a tag called NAME
            with av.open(str(out)) as c:
                assert "NAME" not in c.streams.video[0].metadata
        said = [w for w in report.warnings if "language" in w]
        assert said == ([] if language else [
            f"{what}'s language ({given}) not kept: .mov files hold QuickTime's languages only; .mp4 and .mkv keep it"
            for what in ("the video stream", "audio stream #1")]), said


def with_file_tags(src: Path, dst: Path, tags: dict[str, str]) -> Path:
    """``src``'s picture remuxed into ``dst`` with these file tags (as QuickTime metadata keys in a .mov, as a
    phone writes them)."""
    options = {"movflags": "use_metadata_tags"} if dst.suffix == ".mov" else {}
    with av.open(str(src)) as inp, av.open(str(dst), "w", container_options=options) as out:
        out.metadata.update(tags)
        stream = out.add_stream_from_template(inp.streams.video[0])
        for packet in inp.demux(video=0):
            if packet.size:
                packet.stream = stream
                out.mux(packet)
    return dst


@pytest.mark.parametrize("ext", [".m4v", ".3gp"])
def test_the_mov_kin_take_a_film_and_its_tags(tmp_path: Path, colorizer: Colorizer, ext: str) -> None:
    """A review: the probe of which tags a MOV-family muxer keeps muxed a PCM sample, which .m4v and .3gp
    refuse: every film into them failed."""
    src = make_clip(tmp_path / "in.mp4", frames=3, audio="aac", title="Reel 3")
    report = colorize_video(src, tmp_path / f"out{ext}", colorizer, VideoOptions(**FAST))
    assert report.frames == 3 and len(decode_video(tmp_path / f"out{ext}")[0]) == 3


def test_an_mkv_comment_in_capitals_stays_an_itunes_tag(tmp_path: Path, colorizer: Colorizer) -> None:
    """A review: an MKV's COMMENT read back from the MP4 muxer as 'comment' was taken for a tag it drops, and
    every tag went into QuickTime metadata keys, where players that read iTunes' tags see no title."""
    plain = make_clip(tmp_path / "plain.mkv", frames=3)
    src = with_file_tags(plain, tmp_path / "tagged.mkv", {"title": "Reel 3", "COMMENT": "from the attic"})
    report = colorize_video(src, tmp_path / "out.mp4", colorizer, VideoOptions(**FAST))
    data = (tmp_path / "out.mp4").read_bytes()
    assert b"\xa9nam" in data and b"\xa9cmt" in data and b"mdta" not in data
    assert not any("QuickTime metadata keys" in w for w in report.warnings)


def test_a_films_transparency_that_is_not_kept_is_said(tmp_path: Path, colorizer: Colorizer) -> None:
    """An audit: FFV1's yuva420p (and ProRes 4444's alpha) came out opaque without a word."""
    said = "the input's transparency (yuva420p's alpha) not kept: every pixel is written opaque"
    src = make_clip(tmp_path / "alpha.mkv", frames=3, codec="ffv1", pix_fmt="yuva420p")
    report = colorize_video(src, tmp_path / "out.mkv", colorizer, VideoOptions(**FAST, codec="ffv1"))
    assert said in report.warnings and report.frames == 3
    plain = make_clip(tmp_path / "plain.mkv", frames=3, codec="ffv1", pix_fmt="yuv420p")
    report = colorize_video(plain, tmp_path / "plain_out.mkv", colorizer, VideoOptions(**FAST, codec="ffv1"))
    assert not any("transparency" in w for w in report.warnings), report.warnings


def test_a_phones_make_model_and_place_of_shooting_reach_an_mp4_and_a_mov(tmp_path: Path,
                                                                          colorizer: Colorizer) -> None:
    """An audit: an iPhone film's com.apple.quicktime.* keys (make, model, location, creation date) were lost
    in silence in .mp4 and .mov outputs (FFmpeg's muxer writes them only as QuickTime metadata keys)."""
    apple = {"com.apple.quicktime.make": "Apple", "com.apple.quicktime.model": "iPhone 12",
             "com.apple.quicktime.location.ISO6709": "+48.8584+002.2945+035.000/",
             "com.apple.quicktime.creationdate": "2021-05-01T12:20:30+0200"}
    plain = make_clip(tmp_path / "plain.mov", frames=4)
    src = with_file_tags(plain, tmp_path / "phone.mov", apple)
    for ext, brand in ((".mp4", "isom"), (".mov", "qt  ")):
        out_path = tmp_path / f"out{ext}"
        colorize_video(src, out_path, colorizer, VideoOptions(**FAST))
        with av.open(str(out_path)) as c:
            tags = dict(c.metadata)
        assert {k: tags.get(k) for k in apple} == apple, (ext, tags)
        assert tags["major_brand"] == brand  # the output's own, not the input's copied
    # a phone's keys beside a title: the title goes into the keys too, said
    both = with_file_tags(src, tmp_path / "both.mov", {**apple, "title": "Family film 1962"})
    report = colorize_video(both, tmp_path / "both_out.mp4", colorizer, VideoOptions(**FAST))
    assert [w for w in report.warnings if "QuickTime metadata keys" in w] == [
        f"the file's tags written as QuickTime metadata keys, to keep {', '.join(apple)}: players that read only "
        "iTunes-style tags will not show title"]
    titled = make_clip(tmp_path / "titled.mp4", frames=4, title="Family film 1962")
    colorize_video(titled, tmp_path / "titled_out.mp4", colorizer, VideoOptions(**FAST))
    with av.open(str(tmp_path / "titled_out.mp4")) as c:  # tags the muxer holds anyway stay iTunes' own
        assert c.metadata.get("title") == "Family film 1962"
    assert b"mdta" not in (tmp_path / "titled_out.mp4").read_bytes() and b"mdta" in out_path.read_bytes()


@pytest.mark.parametrize("codec", ["libopus", "vorbis"])  # (FFmpeg's own Vorbis encoder: no libvorbis here)
def test_oggs_own_sound_is_copied_into_an_ogv(tmp_path: Path, colorizer: Colorizer, codec: str) -> None:
    """An audit: Vorbis and Opus into an .ogv were re-encoded to FLAC (PyAV's codec list for Ogg leaves
    them out), and the sound moved by 30 ms."""
    src = make_clip(tmp_path / "in.mkv", audio=codec, frames=10)
    report = colorize_video(src, tmp_path / "out.ogv", colorizer, VideoOptions(**FAST, codec="libvpx"))
    assert not any("re-encoded" in w for w in report.warnings), report.warnings
    assert audio_packets(tmp_path / "out.ogv") == audio_packets(src)
