"""--sound: a film's sound from another file (a reel's soundtrack), copied untouched beside the coloured picture."""

from __future__ import annotations

import contextlib
import math
from pathlib import Path

import av
import numpy as np
import pytest
from click.testing import CliRunner
from media import audio_packets, decode_audio, gray_frame, make_audio_only, make_clip
from PIL import Image

from filmcolor.cli import main
from filmcolor.colorize import Colorizer
from filmcolor.errors import OutputError
from filmcolor.video.pipeline import VideoOptions, colorize_video
from filmcolor.video.reader import LumaFrame, VideoReader
from filmcolor.video.sound import SoundTrack
from filmcolor.video.temporal import TemporalOptions

FAST = dict(preset="ultrafast", temporal=TemporalOptions(mode="off"))
RATE = 48000


@pytest.fixture(scope="module")
def colorizer(test_weights: Path) -> Colorizer:
    return Colorizer.from_pretrained(test_weights, device="cpu", render_size=64, runtime="torch")


def reel(folder: Path, frames: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(frames):
        Image.fromarray(gray_frame(n, 48, 64)).save(folder / f"scan_{n:04d}.png")
    return folder


def packet_times(path: Path) -> list[tuple[str, float]]:
    """(stream type, seconds) of every packet in the order the file stores them."""
    with av.open(str(path)) as c:
        return [(p.stream.type, float(p.pts * p.time_base)) for p in c.demux() if p.size and p.pts is not None]


def test_a_reels_sound_is_copied_untouched_and_interleaved(tmp_path: Path, colorizer: Colorizer) -> None:
    sound = make_audio_only(tmp_path / "reel1.wav", seconds=2.0, codec="pcm_s16le")
    report = colorize_video(reel(tmp_path / "reel1", 48), tmp_path / "out.mkv", colorizer,
                            VideoOptions(**FAST, sound=sound))  # 48 frames at 24 fps: 2 s, as the sound
    assert report.frames == 48 and not [w for w in report.warnings if "sound" in w], report.warnings
    assert audio_packets(tmp_path / "out.mkv") == audio_packets(sound)  # every packet, byte for byte
    stored = packet_times(tmp_path / "out.mkv")
    assert stored[0][1] == pytest.approx(0.0, abs=0.03)  # the sound starts with the first frame
    # handed to the muxer among the frames (the muxer would hold whatever came early): up to LEAD_S ahead
    with VideoReader(tmp_path / "reel1") as reader, contextlib.closing(SoundTrack(sound)) as track:
        items = [("video", float(i.pts * reader.info.time_base)) if isinstance(i, LumaFrame)
                 else ("audio", float(i.pts * i.time_base)) for i in track.merge(iter(reader), reader.info.time_base)]
    assert sum(kind == "audio" for kind, _ in items) == len(audio_packets(sound)[0])
    frames = [t for kind, t in items if kind == "video"]
    for n, (kind, t) in enumerate(items):
        if kind == "audio":  # not early: at most LEAD_S ahead of the frame it goes with
            after = [u for k, u in items[n:] if k == "video"]
            assert t <= (after[0] if after else frames[-1]) + 0.5 + 1e-6
        else:  # not late: the sound up to a frame's time is with the muxer before it
            assert all(u > t for k, u in items[n:] if k == "audio")


@pytest.mark.parametrize("start", [1.0, 1.01])
def test_start_and_duration_cut_the_sound_as_the_picture(tmp_path: Path, colorizer: Colorizer, start: float) -> None:
    """The sound goes with the first frame at or after --start (at 1.01 s: frame 25, 1.0417 s in; the sound
    started at 1.01 s, 32 ms ahead of the picture, found by an audit)."""
    sound = make_audio_only(tmp_path / "s.wav", seconds=3.0, codec="pcm_s16le")
    report = colorize_video(reel(tmp_path / "r", 72), tmp_path / "out.mkv", colorizer,
                            VideoOptions(**FAST, sound=sound, start=start, duration=1.0))
    first_frame_s = math.ceil(start * 24 - 1e-9) / 24
    assert report.frames == 24
    (cut,), (whole,) = decode_audio(tmp_path / "out.mkv"), decode_audio(sound)
    with av.open(str(tmp_path / "out.mkv")) as c:
        first = next(p for p in c.demux(audio=0) if p.size)
        first_s = float(first.pts * first.time_base)
    assert 0 <= first_s < 4096 / RATE  # the first whole packet (a WAV's: 4096 samples) from the first frame on
    assert cut.shape[1] == pytest.approx(RATE, abs=0.1 * RATE)
    # the sound from the first frame on, placed where it is (to Matroska's millisecond)
    begin = round((first_frame_s + first_s) * RATE)
    found = [b for b in range(begin - RATE // 1000, begin + RATE // 1000 + 1)
             if np.array_equal(cut, whole[:, b:b + cut.shape[1]])]
    assert len(found) == 1, (begin, found)


def test_a_sound_of_another_length_names_the_rate_that_would_match(tmp_path: Path, colorizer: Colorizer) -> None:
    """30 frames at the default 24 fps run 1.25 s; a 2 s sound says they match it at 15 fps."""
    sound = make_audio_only(tmp_path / "s.wav", seconds=2.0, codec="pcm_s16le")
    report = colorize_video(reel(tmp_path / "r", 30), tmp_path / "out.mkv", colorizer,
                            VideoOptions(**FAST, sound=sound))
    assert f"{sound}: 2.00 s of sound for 1.25 s of picture (at 24 fps; the 30 frames last as long as the sound " \
           "at --frame-rate 15.000)" in report.warnings
    matched = colorize_video(tmp_path / "r", tmp_path / "out18.mkv", colorizer,
                             VideoOptions(**FAST, sound=sound, frame_rate=15))
    assert not [w for w in matched.warnings if "of sound" in w]


def test_an_aac_sounds_priming_packet_is_kept(tmp_path: Path, colorizer: Colorizer) -> None:
    """AAC starts with a packet before time 0 (the encoder's priming): it was left out, as before the film."""
    sound = make_audio_only(tmp_path / "s.m4a", seconds=1.0)
    with av.open(str(sound)) as c:
        assert next(p for p in c.demux(audio=0) if p.size).pts < 0
    colorize_video(reel(tmp_path / "r", 24), tmp_path / "out.mkv", colorizer, VideoOptions(**FAST, sound=sound))
    assert audio_packets(tmp_path / "out.mkv") == audio_packets(sound)


def test_sound_replaces_a_videos_own_audio(tmp_path: Path, colorizer: Colorizer) -> None:
    clip = make_clip(tmp_path / "in.mp4", frames=10, fps=10, audio="aac")
    sound = make_audio_only(tmp_path / "s.wav", seconds=1.0, codec="pcm_s16le")
    report = colorize_video(clip, tmp_path / "out.mkv", colorizer, VideoOptions(**FAST, sound=sound))
    assert not [w for w in report.warnings if "not copied" in w], report.warnings
    with av.open(str(tmp_path / "out.mkv")) as c:
        assert [s.codec_context.name for s in c.streams.audio] == ["pcm_s16le"]
    assert audio_packets(tmp_path / "out.mkv") == audio_packets(sound)


def test_pcm_copied_into_an_mp4_says_few_players_read_it(tmp_path: Path, colorizer: Colorizer) -> None:
    """An audit: a WAV's PCM goes into an .mp4 as ISO 23003-5's 'ipcm', which FFmpeg reads and few players do;
    copied as it is, and said; an .mkv or .mov says nothing."""
    clip = make_clip(tmp_path / "in.mp4", frames=10, fps=10)
    sound = make_audio_only(tmp_path / "s.wav", seconds=1.0, codec="pcm_s16le")
    report = colorize_video(clip, tmp_path / "out.mp4", colorizer, VideoOptions(**FAST, sound=sound))
    assert [w for w in report.warnings if "ipcm" in w] == [
        "audio stream #0 of s.wav (pcm_s16le) copied into an .mp4 as 'ipcm', which few players play yet; .mov or "
        ".mkv keep PCM where every player reads it"]
    assert [b"".join(p) for p in audio_packets(tmp_path / "out.mp4")] == [b"".join(p) for p in audio_packets(sound)]
    for ext in (".mkv", ".mov"):
        report = colorize_video(clip, tmp_path / f"out{ext}", colorizer, VideoOptions(**FAST, sound=sound))
        assert not [w for w in report.warnings if "ipcm" in w]


@pytest.mark.parametrize("case", ["missing", "empty", "picture", "no_audio_flag", "past_end", "truncated"])
def test_a_bad_sound_file_is_one_line_and_no_output(tmp_path: Path, test_weights: Path, case: str) -> None:
    folder = reel(tmp_path / "r", 48 if case == "past_end" else 4)
    sound = tmp_path / "s.wav"
    extra: list[str] = []
    if case == "empty":
        sound.write_bytes(b"")
    elif case == "picture":
        sound = folder / "scan_0000.png"
    elif case == "no_audio_flag":
        make_audio_only(sound, seconds=0.5, codec="pcm_s16le")
        extra = ["--no-audio"]
    elif case == "past_end":
        make_audio_only(sound, seconds=0.5, codec="pcm_s16le")
        extra = ["--start", "1"]
    elif case == "truncated":  # a copy cut short: FFmpeg reads what is there and says nothing
        data = make_audio_only(sound, seconds=1.0, codec="pcm_s16le").read_bytes()
        sound.write_bytes(data[: len(data) // 3])
    result = CliRunner().invoke(main, ["video", str(folder), "-o", str(tmp_path / "out.mkv"), "--sound", str(sound),
                                       "--model", str(test_weights), "--render-size", "64", *extra])
    expected = {"missing": f"error: {sound}: file not found (--sound)",
                "empty": f"error: {sound}: file is empty (0 bytes)",
                "picture": f"error: {sound}: no audio stream (--sound takes a sound file: WAV, FLAC, ...)",
                "no_audio_flag": f"error: --sound {sound} with --no-audio: give one or the other",
                "past_end": f"error: {sound}: --start 1 s is past the end of the sound (0.50 s)",
                "truncated": f"error: {sound}: sound file is truncated: it holds 63,948 of the 192,000 bytes of "
                             "sound its header says"}[case]
    assert result.exit_code == 1 and result.stderr.strip() == expected, result.output
    assert not (tmp_path / "out.mkv").exists()


def test_the_sound_file_is_never_the_output(tmp_path: Path, colorizer: Colorizer) -> None:
    sound = make_audio_only(tmp_path / "s.mkv", seconds=0.5, codec="pcm_s16le")
    size = sound.stat().st_size
    with pytest.raises(OutputError, match=f"{sound}: output is the same file as the input"):
        colorize_video(reel(tmp_path / "r", 4), sound, colorizer, VideoOptions(**FAST, sound=sound), overwrite=True)
    assert sound.stat().st_size == size
