"""The reader's timeline on damaged input: a lost frame comes back as a repeat at its own timestamp, a damaged
timestamp takes the free slot, and whatever the damage the frames it yields are a valid, evenly timed timeline."""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import av
import numpy as np
import pytest
from media import (
    damaged_after_keyframe,
    decode_video,
    garbage_packet,
    gray_frame,
    make_clip,
    make_ten_bit_clip,
    mux_gray,
    remux,
    video_packet_times,
)

from filmcolor.errors import InputError
from filmcolor.lab import limited_to_full_range_lut
from filmcolor.video.reader import LumaFrame, ReaderOptions, VideoReader
from filmcolor.video.writer import EncoderOptions, VideoWriter

FPS = 25
STEP = 1 / FPS


def read_times(path: Path, **options: object) -> tuple[list[float], list[bool], list[str]]:
    """(seconds of every frame the reader yields, which are repeats, its warnings)."""
    with VideoReader(path, ReaderOptions(**options)) as reader:  # type: ignore[arg-type]
        frames = [item for item in reader if isinstance(item, LumaFrame)]
        tb = reader.info.time_base
    return [float(f.pts * tb) for f in frames], [f.repeated for f in frames], reader.warnings


def decoded_times(path: Path) -> list[float]:
    """The frames PyAV itself returns from a damaged file, skipping the packets its decoder rejects."""
    times = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for packet in container.demux(stream):
            try:
                times += [float(f.pts * f.time_base) for f in packet.decode()]
            except av.FFmpegError:
                continue
    return sorted(times)


def decode_order_times(path: Path) -> list[float]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [float(p.pts * p.time_base) for p in container.demux(stream) if p.size]


@pytest.fixture(scope="module")
def h264(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 frames of H.264 with B-frames (decode order differs from display order) and AAC sound."""
    return make_clip(tmp_path_factory.mktemp("h264") / "clip.mp4", frames=30, fps=FPS, audio="aac")


def test_lost_frames_are_repeated_at_their_own_timestamps(tmp_path: Path, h264: Path) -> None:
    lost = (12, 13)  # decode order: the decoder rejects these two packets
    damaged = remux(h264, tmp_path / "damaged.mp4", lambda n, p: garbage_packet(p, n) if n in lost else p)
    lost_times = sorted(decode_order_times(h264)[n] for n in lost)
    promised = video_packet_times(h264)
    assert decoded_times(damaged) == pytest.approx(sorted(set(promised) - set(lost_times)))  # the bug's input

    times, repeated, warnings = read_times(damaged)
    assert times == pytest.approx(promised)  # every frame where the container put it: none squeezed, none lost
    assert [t for t, r in zip(times, repeated, strict=True) if r] == pytest.approx(lost_times)
    said = [w for w in warnings if "repaired" in w]
    assert len(said) == 1 and f"{lost_times[0]:.2f}-{lost_times[1]:.2f} s" in said[0], warnings

    clean_times, clean_repeated, clean_warnings = read_times(h264)  # negative control: nothing to repair
    assert clean_times == pytest.approx(promised) and not any(clean_repeated) and clean_warnings == []


def test_a_damaged_timestamp_takes_the_free_slot(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "clip.mkv", frames=30, fps=FPS, codec="mjpeg", pix_fmt="yuvj420p")

    def shift(n: int, packet: av.Packet) -> av.Packet:
        if n == 10:  # a damaged block timestamp: frame 10 claims to be 0.19 s later than it is
            packet.pts += round(0.19 / packet.time_base)
        return packet

    damaged = remux(clip, tmp_path / "damaged.mkv", shift)
    assert decoded_times(damaged)[10:] != pytest.approx(video_packet_times(clip)[10:])  # PyAV takes it as said
    times, repeated, warnings = read_times(damaged)
    assert times == pytest.approx([i * STEP for i in range(30)]) and not any(repeated)
    assert any("damaged timestamp" in w and "0.40 s" in w for w in warnings), warnings


def test_lost_composition_offsets_give_an_evenly_timed_timeline(tmp_path: Path, h264: Path) -> None:
    def decode_order(n: int, packet: av.Packet) -> av.Packet:
        packet.pts = packet.dts  # the MP4's ctts table lost: every B-frame's pts is wrong
        return packet

    damaged = remux(h264, tmp_path / "no_ctts.mp4", decode_order)
    raw = decoded_times(damaged)
    times, _, warnings = read_times(damaged)
    steps = np.diff(times)
    assert len(times) >= len(raw) - 1  # frames kept, not dropped for their timestamps
    assert np.allclose(steps, STEP, atol=1e-4), times  # evenly timed
    assert abs(times[0]) <= STEP + 1e-6  # and starting with the sound, within a frame
    assert any("damaged timestamp" in w for w in warnings)


def test_variable_frame_rate_is_left_as_it_is(tmp_path: Path) -> None:
    """Negative control: frames closer than half the average step are real, not damage."""
    clip = make_clip(tmp_path / "vfr.mp4", frames=14, vfr=True, bframes=False)
    times, repeated, warnings = read_times(clip)
    assert times == pytest.approx(decode_video(clip)[0]) and not any(repeated) and warnings == []


def _move_video_packet(src: Path, dst: Path, packet: int, after: int) -> Path:
    """Copy ``src`` with its ``packet``-th video packet stored after its ``after``-th, each keeping its pts: an
    intra-only decoder then returns that frame late, as damage made the H.264 decoder do (issue 14, MKV seed 10).
    The dts are renumbered 0, 1, 2... ticks so that they stay increasing and never above a pts."""
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        stream = out.add_stream_from_template(inp.streams.video[0])
        packets = [p for p in inp.demux(inp.streams.video[0]) if p.size]
        order = [n for n in range(len(packets)) if n != packet]
        order.insert(order.index(after) + 1, packet)
        for dts, n in enumerate(order):
            packets[n].dts = dts
            packets[n].stream = stream
            out.mux(packets[n])
    return dst


def test_a_frame_returned_late_is_dropped_and_the_frames_after_it_keep_their_timestamps(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "clip.mkv", frames=40, fps=FPS, codec="mjpeg", pix_fmt="yuvj420p")
    late = _move_video_packet(clip, tmp_path / "late.mkv", packet=13, after=25)
    with av.open(str(late)) as container:  # the bug's input: 0.52 s comes back after 1.00 s
        returned = [round(float(f.pts * f.time_base), 2) for f in container.decode(video=0)]
    assert returned[12:15] == [0.48, 0.56, 0.60] and returned[24:27] == [1.0, 0.52, 1.04]

    with VideoReader(late) as reader:
        frames = [item for item in reader if isinstance(item, LumaFrame)]
    times = [float(f.pts * reader.info.time_base) for f in frames]
    expected = [i * STEP for i in range(40) if i != 13]
    assert times == pytest.approx(expected)  # every intact timestamp kept: nothing pushed one frame late
    assert not any(f.repeated for f in frames)
    pictures = np.stack([gray_frame(i, 64, 96).astype(np.float32) for i in range(40)])
    shown = [int(((pictures - f.gray.astype(np.float32)) ** 2).mean(axis=(1, 2)).argmin()) for f in frames]
    assert shown == [i for i in range(40) if i != 13]  # and each picture stays at its own time
    assert [w for w in reader.warnings if "dropped" in w] == [
        "1 frame(s) the decoder returned after later ones dropped at 0.52 s (input time): their time had passed"]
    assert not any("damaged timestamp" in w for w in reader.warnings), reader.warnings


def test_frames_that_jump_ahead_and_come_back_name_the_input(tmp_path: Path) -> None:
    """Five blocks 3 s ahead (a damaged cluster time), then the rest at their own times: the frames after the jump
    all come back late. Moving them pushed the rest of the film 3 s late; dropping them would lose it: one line."""
    clip = make_clip(tmp_path / "clip.mkv", frames=40, fps=FPS, codec="mjpeg", pix_fmt="yuvj420p")
    damaged = tmp_path / "damaged.mkv"
    _shift_block_times(clip, damaged, "video", range(10, 15), 3000)
    with pytest.raises(InputError) as err, VideoReader(damaged) as reader:
        list(reader)
    assert str(err.value) == f"{damaged}: damaged video timestamps: the frames jump ahead to 3.56 s and go back " \
                             "to 0.60 s"


def test_a_broken_first_frame_is_named_not_lost_in_silence(tmp_path: Path) -> None:
    """No good frame before it to repeat: the film starts at the next one, and says so (it said nothing); with
    --on-error fail the error names its time, not that of the packet in flight when the decoder spoke."""
    clip = make_clip(tmp_path / "clip.mkv", frames=12, fps=FPS, codec="mjpeg", pix_fmt="yuvj420p")
    damaged = remux(clip, tmp_path / "damaged.mkv", lambda n, p: garbage_packet(p, n) if n == 0 else p)
    times, repeated, warnings = read_times(damaged)
    assert times == pytest.approx([i * STEP for i in range(1, 12)]) and not any(repeated)
    assert "1 corrupt frame(s) before the first good one skipped at 0.00 s" in warnings
    with pytest.raises(InputError, match=r"damaged.mkv: corrupt video data at 0.000 s \(Invalid data found when "
                                         r"processing input\)$"), \
            VideoReader(damaged, ReaderOptions(on_error="fail")) as reader:
        list(reader)


def test_frames_that_all_share_one_timestamp_are_placed_one_frame_apart(tmp_path: Path) -> None:
    """A muxer given no timestamps writes every frame at 0: that is no late frame to drop (the reader used to
    drop them and stop with "the frames jump ahead to 0.00 s and go back to 0.00 s")."""
    clip = make_clip(tmp_path / "clip.mkv", frames=30, fps=FPS, codec="mjpeg", pix_fmt="yuvj420p")

    def at_zero(n: int, packet: av.Packet) -> av.Packet:
        packet.pts = packet.dts = 0
        return packet

    flat = remux(clip, tmp_path / "flat.mkv", at_zero)
    assert set(video_packet_times(flat)) == {0.0}
    with VideoReader(flat) as reader:
        frames = [item for item in reader if isinstance(item, LumaFrame)]
    # the clip's rate (FFmpeg's MJPEG carries none) is known only from its timestamps: none here
    # 1/24 s apart, to Matroska's millisecond (adding a rounded 42 ms each frame drifted 29 s an hour)
    assert [f.pts for f in frames] == [round(i * 1000 / 24) for i in range(30)]
    pictures = np.stack([gray_frame(i, 64, 96).astype(np.float32) for i in range(30)])
    assert [int(((pictures - f.gray.astype(np.float32)) ** 2).mean(axis=(1, 2)).argmin()) for f in frames] == \
        list(range(30))  # each picture in its place
    assert [w for w in reader.warnings if "damaged timestamp" in w or "rate" in w] == [
        "29 frame(s) with a damaged timestamp placed one frame after the one before at 0.04-1.21 s",
        "the file gives no frame rate: those frames were placed 24 fps apart"]
    with VideoReader(flat, ReaderOptions(duration=0.2)) as reader:  # --duration ends by the time they are placed at
        assert [f.pts for f in reader if isinstance(f, LumaFrame)] == [0, 42, 83, 125, 167]
        assert [w for w in reader.warnings if "damaged timestamp" in w] == [
            "4 frame(s) with a damaged timestamp placed one frame after the one before at 0.04-0.17 s"]


def test_start_past_the_last_frame_is_one_line(tmp_path: Path) -> None:
    """It was an AttributeError (found by an audit): the reader's frame warnings asked for a field that only the
    first frame made."""
    clip = make_clip(tmp_path / "clip.mkv", frames=10, fps=FPS)
    with pytest.raises(InputError, match=r"clip.mkv: no video frames after --start 3 s$"):
        VideoReader(clip, ReaderOptions(start=3.0))


def test_start_in_a_container_without_an_index_loses_no_frame(tmp_path: Path) -> None:
    """An audit: MPEG-TS seeks by timestamps alone, to a packet that may be no keyframe, and the decoder shows
    nothing up to the next one: --start 0.5 in a clip with a keyframe each second lost every frame up to 1.0 s
    without a word (and a short --duration found 'no video frames'). The slice's frames, as decoded whole."""
    gop1s = make_clip(tmp_path / "gop1s.ts", frames=30, fps=10, bframes=False,
                      codec_options={"g": "10", "x264-params": "scenecut=0"})
    one_key = make_clip(tmp_path / "one_key.ts", frames=30, fps=10, codec_options={"g": "1000"})  # a web video's
    # (a third audit: a --start in the last frame's time landed on the last packet, a B-frame before it, and
    # found 'no video frames')
    for clip, start, duration in ((gop1s, 0.5, None), (gop1s, 1.25, 0.3), (gop1s, 0.05, None), (one_key, 1.5, 1),
                                  (one_key, 2.88, None)):
        with av.open(str(clip)) as c:
            everything = sorted(float(f.time) for f in c.decode(video=0))
        first = everything[0]  # the file's start: it has no other stream
        wanted = [t for t in everything if t >= first + start - 1e-6
                  and (duration is None or t < first + start + duration - 1e-6)]
        with VideoReader(clip, ReaderOptions(start=start, duration=duration)) as reader:
            got = [f.pts for f in reader if isinstance(f, LumaFrame)]
            seconds = [round(float(p * reader.stream.time_base), 3) for p in got]
        assert seconds == [round(t - wanted[0], 3) for t in wanted], (clip.name, start, duration)


def _shift_block_times(path: Path, dst: Path, stream_type: str, packets: range, ms: int) -> list[float]:
    """Copy a Matroska file with the block timestamps of its ``packets`` (n-th packets of its first
    ``stream_type`` stream) moved by ``ms``: damaged bytes in a block header, the data untouched. Returns the
    original times (s) of those packets."""
    data = bytearray(path.read_bytes())
    times = []
    with av.open(str(path)) as container:
        stream = getattr(container.streams, stream_type)[0]
        for n, packet in enumerate(p for p in container.demux(stream) if p.size):
            if n in packets:  # pos: the block's track number (one byte here), then its int16 time, in ms
                assert data[packet.pos] == 0x80 | (stream.index + 1)
                at = packet.pos + 1
                data[at:at + 2] = (int.from_bytes(data[at:at + 2], "big", signed=True) + ms).to_bytes(2, "big",
                                                                                                    signed=True)
                times.append(float(packet.pts * packet.time_base))
    dst.write_bytes(bytes(data))
    return times


def _copy_through_writer(src: Path, out: Path) -> list[str]:
    """What the pipeline does, without the network: read ``src``, write its gray frames, copy its sound."""
    with VideoReader(src) as reader:
        writer = VideoWriter(out, reader.info, EncoderOptions(preset="ultrafast"), reader.passthrough)
        try:
            for item in reader:
                if isinstance(item, LumaFrame):
                    writer.write(np.repeat(item.gray[..., None], 3, axis=2), item.pts)
                else:
                    writer.mux(item)
        finally:
            writer.close()
    return reader.warnings + writer.warnings


def _audio_packet_times(path: Path) -> list[tuple[float, bytes]]:
    with av.open(str(path)) as container:
        return [(float(p.pts * p.time_base), bytes(p)) for p in container.demux(audio=0) if p.size]


@pytest.fixture(scope="module")
def mkv_with_sound(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("mkv") / "clip.mkv", frames=40, fps=FPS, codec="mjpeg",
                     pix_fmt="yuvj420p", audio="aac")


def test_an_audio_packet_with_a_damaged_timestamp_is_dropped_and_the_rest_copied(tmp_path: Path,
                                                                                  mkv_with_sound: Path) -> None:
    clean = _audio_packet_times(mkv_with_sound)
    n = min(range(len(clean)), key=lambda i: abs(clean[i][0] - 1.131))
    [was] = _shift_block_times(mkv_with_sound, tmp_path / "damaged.mkv", "audio", range(n, n + 1), 7424)
    damaged = _audio_packet_times(tmp_path / "damaged.mkv")
    assert damaged[n][0] == pytest.approx(was + 7.424) and damaged[n + 1] == clean[n + 1]  # the input

    warnings = _copy_through_writer(tmp_path / "damaged.mkv", tmp_path / "out.mkv")  # was: OutputError
    assert [w for w in warnings if "audio" in w] == [
        f"audio stream #1: 1 packet(s) with a damaged timestamp dropped at {was:.2f} s (input time)"]
    copied = _audio_packet_times(tmp_path / "out.mkv")
    kept = clean[:n] + clean[n + 1:]
    assert [data for _, data in copied] == [data for _, data in kept]  # every other packet, bit-identical
    shifts = [t - t_in for (t, _), (t_in, _) in zip(copied, kept, strict=True)]
    assert max(shifts) - min(shifts) < 1e-6  # and at its own time (the muxer may move the whole stream)

    with pytest.raises(InputError) as err, VideoReader(tmp_path / "damaged.mkv", ReaderOptions(on_error="fail")) as r:
        list(r)  # --on-error fail stops there instead
    message = str(err.value)
    assert message.startswith(f"{tmp_path / 'damaged.mkv'}: audio stream #1: damaged timestamp at {was:.2f}")
    assert message.endswith(f" s (reads {was + 7.424:.3f} s)")

    warnings = _copy_through_writer(mkv_with_sound, tmp_path / "clean.mkv")  # negative control
    assert warnings == [] and _audio_packet_times(tmp_path / "clean.mkv") == clean


def test_audio_timestamps_that_jump_ahead_and_back_name_the_input(tmp_path: Path, mkv_with_sound: Path) -> None:
    """A run of packets a few seconds ahead (a damaged cluster time) cannot be undone once copied: one line."""
    clean = _audio_packet_times(mkv_with_sound)
    n = min(range(len(clean)), key=lambda i: abs(clean[i][0] - 0.5))
    damaged = tmp_path / "damaged.mkv"
    _shift_block_times(mkv_with_sound, damaged, "audio", range(n, n + 6), 3000)
    with pytest.raises(InputError) as err, VideoReader(damaged) as reader:
        list(reader)
    message = str(err.value)
    assert message.startswith(f"{damaged}: audio stream #1: timestamps go back") and "\n" not in message
    assert "--no-audio" in message
    with VideoReader(damaged, copy_streams=False) as reader:  # the way out it names works
        assert sum(isinstance(item, LumaFrame) for item in reader) == 40


def _corrupt(data: bytes, kind: str, rng: np.random.Generator) -> bytes:
    out = bytearray(data)
    size = len(out)
    if kind == "flip":  # 20 bytes anywhere after the first tenth
        for i in rng.integers(size // 10, size, 20):
            out[i] ^= int(rng.integers(1, 256))
    elif kind == "zero":  # a 512-byte hole
        i = int(rng.integers(size // 10, size - 600))
        out[i:i + 512] = bytes(512)
    elif kind == "random":  # 2 KB of noise, as in issue 14
        i = int(rng.integers(size // 10, size - 2100))
        out[i:i + 2048] = rng.integers(0, 256, 2048, dtype=np.uint8).tobytes()
    else:  # cut short
        out = out[: int(rng.integers(size // 10, size))]
    return bytes(out)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("fuzz")
    return {"mp4": make_clip(folder / "c.mp4", frames=40, fps=FPS, audio="aac"),
            "mkv": make_clip(folder / "c.mkv", frames=40, fps=FPS, audio="aac"),
            "avi": make_clip(folder / "c.avi", frames=40, fps=FPS, codec="mjpeg", pix_fmt="yuvj420p")}


@pytest.mark.parametrize("fmt", ["mp4", "mkv", "avi"])
def test_seeded_corruptions_give_a_valid_timeline_or_one_line(tmp_path: Path, clips: dict[str, Path],
                                                             fmt: str) -> None:
    outcomes = {"read": 0, "refused": 0}
    for kind in ("flip", "zero", "random", "truncate"):
        for seed in range(4):
            path = tmp_path / f"{kind}{seed}.{fmt}"
            path.write_bytes(_corrupt(clips[fmt].read_bytes(), kind, np.random.default_rng(seed)))
            try:
                times, _, warnings = read_times(path)
            except InputError as err:
                message = str(err)
                assert str(path) in message and "\n" not in message, message
                outcomes["refused"] += 1
                continue
            steps = np.diff(times)
            assert times and times[0] >= 0 and (steps >= STEP / 2 - 1e-6).all(), (kind, seed, times)
            assert all("\n" not in w for w in warnings)
            outcomes["read"] += 1
    assert outcomes["read"] >= 4, outcomes  # the damage is mostly survivable; a test that only refuses proves little


def matroska_clip(path: Path, first_ms: int, frames: int = 25, sound_s: float | None = None,
                  sound_codec: str = "pcm_s16le", times_ms: list[int] | None = None) -> Path:
    """A clip (1 ms ticks; Matroska unless ``path`` says otherwise) whose frames, 40 ms apart, start at
    ``first_ms`` (or are at ``times_ms``); ``sound_s`` seconds of silence from 0."""
    times_ms = times_ms or [first_ms + 40 * i for i in range(frames)]
    container = av.open(str(path), "w")
    video = container.add_stream("libx264", rate=FPS, options={"preset": "veryfast"})
    video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
    video.time_base = Fraction(1, 1000)
    sound = None
    if sound_s is not None:
        sound = container.add_stream(sound_codec, rate=48000)
        sound.layout = "stereo"
    for i, t in enumerate(times_ms):
        frame = av.VideoFrame.from_ndarray(np.repeat(gray_frame(i, 48, 64)[..., None], 3, axis=2), format="rgb24")
        frame.pts, frame.time_base = t, Fraction(1, 1000)
        for packet in video.encode(frame):
            container.mux(packet)
    for packet in video.encode(None):
        container.mux(packet)
    if sound is not None:
        for k in range(round(sound_s * 10)):
            chunk = av.AudioFrame.from_ndarray(np.zeros((1, 9600), np.int16), format="s16", layout="stereo")
            chunk.sample_rate, chunk.pts, chunk.time_base = 48000, 4800 * k, Fraction(1, 48000)
            for packet in sound.encode(chunk):
                container.mux(packet)
        for packet in sound.encode(None):
            container.mux(packet)
    container.close()
    return path


def test_a_matroska_film_that_starts_late_is_whole(tmp_path: Path) -> None:
    """Matroska's only duration counts from 0: a film starting at 10 s was refused as truncated (1 s of 11)."""
    clip = matroska_clip(tmp_path / "late.mkv", first_ms=10_000)
    times, _, warnings = read_times(clip)
    assert len(times) == 25 and warnings == []
    sliced, _, _ = read_times(clip, duration=0.5)  # counted from the file's start, not from 0
    assert len(sliced) == 13


def test_sound_that_outlasts_the_picture_is_not_a_truncated_file(tmp_path: Path) -> None:
    clip = matroska_clip(tmp_path / "long_sound.mkv", first_ms=0, sound_s=4.0)
    with VideoReader(clip) as reader:
        items = list(reader)
    frames = [i for i in items if isinstance(i, LumaFrame)]
    sound = [i for i in items if isinstance(i, av.Packet)]
    assert len(frames) == 25 and reader.warnings == []
    assert len(sound) == 40  # every packet of the 4 s of sound


def test_a_matroska_file_cut_short_says_so(tmp_path: Path) -> None:
    """Its video ends where the cut is, with no error from FFmpeg: 18 of 150 frames went without a word, then
    with a warning only (an audit: a run of a file cut at 85% ended 'ok', exit 0). Its Segment's size says
    how much is missing; --duration colours the part that is there."""
    whole = matroska_clip(tmp_path / "whole.mkv", first_ms=0, frames=150)
    data = whole.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[:int(len(data) * 0.9)])
    with pytest.raises(InputError, match=rf"cut.mkv: file is truncated: it holds {int(len(data) * 0.9):,} bytes, "
                                         rf"and its container says at least {len(data):,}; its video ends 5\.\d\d s "
                                         r"in \(filmcolor video --duration 5\.\d colours the readable part\)$") \
            as caught:
        read_times(cut)
    readable = float(str(caught.value).split("--duration ")[1].split(" ")[0])
    times, _, _ = read_times(cut, duration=readable)
    assert 120 < len(times) < 150
    assert read_times(whole)[0] == pytest.approx([n / 25 for n in range(150)], abs=1e-3)  # the whole file: no word
    # a second audit: with --start the hint counted from the file's start, and following it failed again
    with pytest.raises(InputError, match=r"its video ends \d\.\d\d s in \(filmcolor video --start 2 --duration") \
            as caught:  # a command for this file alone: batch's --duration would cut every file
        read_times(cut, start=2.0)
    readable = float(str(caught.value).split("--duration ")[1].split(" ")[0])
    assert 3.0 < readable < 3.6 and len(read_times(cut, start=2.0, duration=readable)[0]) > 70
    tiny = tmp_path / "tiny.mkv"  # too little for any hint: '--duration 0.0' is no duration
    tiny.write_bytes(data[:int(len(data) * 0.12)])
    with pytest.raises(InputError, match=r"too little of its video is there to colour|no decodable video frames"):
        read_times(tiny)


def test_a_short_matroska_file_damaged_midway_is_an_error(tmp_path: Path) -> None:
    """An audit: a 2 s MKV with one damaged block at 1 s read its first half and said so in a warning, exit 0
    (with --on-error fail too): a shortfall under 2 s was a warning however much of the film it was."""
    clip = make_clip(tmp_path / "whole.mkv", frames=24, fps=12)
    with av.open(str(clip)) as container:
        pos, size = [(p.pos, p.size) for p in container.demux(container.streams.video[0]) if p.size][12]
    data = bytearray(clip.read_bytes())
    data[pos:pos + size] = b"\xa5" * size
    damaged = tmp_path / "damaged.mkv"
    damaged.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"damaged.mkv: file is truncated or damaged: video data ends at 1\.0 s of "
                                         r"2\.0 s \(filmcolor video --duration 1\.0 colours the readable part\)"):
        read_times(damaged)
    assert len(read_times(clip)[0]) == 24  # the whole file: no word


def _one_long_packet(path: Path, frames: int, long_index: int, long_ms: int, picture) -> Path:
    """A 25 fps film (time base 1 ms, no B-frames) of ``picture(i)`` whose frame ``long_index``'s packet lasts
    ``long_ms``; the others 40 ms."""
    tb = Fraction(1, 1000)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.time_base = stream.codec_context.time_base = tb
        stream.options = {"bf": "0"}
        packets = []
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(picture(i), format="gray").reformat(format="yuv420p")
            frame.pts, frame.time_base = 40 * i, tb
            packets += stream.encode(frame)
        packets += stream.encode(None)
        for packet in packets:
            packet.duration = long_ms if packet.pts == 40 * long_index else 40
            container.mux(packet)
    return path


@pytest.mark.parametrize("ext", [".mkv", ".mp4"])
def test_a_last_frame_held_longer_is_not_a_damaged_end(tmp_path: Path, ext: str) -> None:
    """A review: a film whose last frame is held (an end title, a slideshow: its packet lasts 1.5 s) read as
    ending 1.5 s early, which the damaged-file check now refuses; where the video ends is its last packet's
    own end."""
    path = _one_long_packet(tmp_path / f"held{ext}", 50, 49, 1500, lambda i: gray_frame(i, 48, 64))
    times, _, warnings = read_times(path)
    assert len(times) == 50 and not warnings, warnings


def test_a_phones_jittering_rate_is_not_taken_for_pauses(tmp_path: Path) -> None:
    """A review: a 30 fps phone film whose frames come early and late in pairs (steps of 1/60 and 1/20 s
    among the 1/30) made FFmpeg guess 60 fps, which the paused-camera rule then took: an .mpg doubled its frames.
    Its frames' own steps (their median, 1/30 s) say it does not pause: its rate is its average."""
    rng = np.random.default_rng(1)
    steps = rng.choice([1 / 30] * 8 + [1 / 60, 1 / 20], size=300)
    times = np.concatenate([[0.0], np.cumsum(steps)[:-1]])
    path = tmp_path / "phone.mp4"
    tb = Fraction(1, 90000)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.time_base = stream.codec_context.time_base = tb
        for i, t in enumerate(times):
            frame = av.VideoFrame.from_ndarray(gray_frame(i, 48, 64), format="gray").reformat(format="yuv420p")
            frame.pts, frame.time_base = round(t / tb), tb
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
        guessed = stream.guessed_rate
    with av.open(str(path)) as container:
        average, guessed = container.streams.video[0].average_rate, container.streams.video[0].guessed_rate
    with VideoReader(path, ReaderOptions()) as reader:
        assert reader.info.frame_rate == average < 31, (reader.info.frame_rate, average, guessed)


def test_one_packet_claiming_a_long_duration_does_not_hide_damage(tmp_path: Path) -> None:
    """A review: a frame's packet claiming 6 s (frame 99 of 250) made the damaged file's video end read as 10 s
    once the held-last-frame rule took any packet's end: only the last frame's own packet counts."""
    path = _one_long_packet(tmp_path / "dmg.mkv", 250, 99, 6000,
                            lambda i: np.random.default_rng(i).integers(0, 255, (48, 64), np.uint8))
    data = bytearray(path.read_bytes())
    cut = int(len(data) * 0.45)
    data[cut:] = bytes(len(data) - cut)  # the rest zeroed, the size intact
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="file is truncated or damaged: video data ends at"):
        read_times(path)


def test_a_matroska_film_starting_late_is_counted_from_its_start(tmp_path: Path) -> None:
    """A studio audit: an MKV whose frames start at 600 s said 14,601 frames for 200 (its segment's duration
    counts from 0), and most of the studio's slider answered "past the end"."""
    path, tb = tmp_path / "late.mkv", Fraction(1, 1000)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.time_base = stream.codec_context.time_base = tb
        for i in range(200):
            frame = av.VideoFrame.from_ndarray(gray_frame(i, 48, 64), format="gray").reformat(format="yuv420p")
            frame.pts, frame.time_base = 600_000 + round(i * 1000 / 24), tb
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    with VideoReader(path, ReaderOptions()) as reader:
        assert abs(reader.info.frames - 200) <= 1 and reader.info.duration == pytest.approx(8.33, abs=0.05)


def test_a_slice_starting_just_before_damage_keeps_every_stand_in(tmp_path: Path) -> None:
    """A studio audit: a slice (--start) beginning at a keyframe followed by two damaged frames kept the first's
    stand-in and dropped the second's, which a read from the start keeps: the two steps across the lost frames
    made the slice's first frame step two frames long, and the second stand-in found no room."""
    damaged = damaged_after_keyframe(tmp_path / "damaged.mkv")  # the keyframe at 2.0 s, frame 48
    start = 2.0 - 0.25 / 24  # the keyframe at 2.0 s (frame 48), as the studio reads back from its mark there
    times, repeats, _ = read_times(damaged)
    tail = [(round(t, 3), r) for t, r in zip(times, repeats, strict=True) if t >= start]
    sliced, sliced_repeats, _ = read_times(damaged, start=start)
    assert [(round(t + 2.0, 3), r) for t, r in zip(sliced, sliced_repeats, strict=True)] == tail
    assert sum(r for _, r in tail) == 2


def test_a_start_before_the_first_frame_keeps_the_sound_in_step(tmp_path: Path) -> None:
    """Sound from 0, picture from 1.5 s, --start 1: the sound read while the decoder still held the first
    frames was shifted by 1 s, the rest by 1.5 s, and the run failed on "timestamps go back"."""
    clip = matroska_clip(tmp_path / "late_picture.mp4", first_ms=1500, frames=50, sound_s=3.0, sound_codec="aac")
    with VideoReader(clip, ReaderOptions(start=1.0)) as reader:
        items = list(reader)
    frames = [i for i in items if isinstance(i, LumaFrame)]
    sound = [float(p.pts * p.time_base) for p in items if isinstance(p, av.Packet)]
    assert len(frames) == 50 and frames[0].pts == 0  # the slice starts at its first frame
    assert sound == sorted(sound) and 0 <= sound[0] < 0.05 and sound[-1] == pytest.approx(1.5, abs=0.05)


def test_streams_that_are_not_copied_are_named(tmp_path: Path) -> None:
    """A second picture (another camera angle) is not coloured or copied: the user is told, not left to find out."""
    container = av.open(str(tmp_path / "two_angles.mkv"), "w")
    streams = [container.add_stream("libx264", rate=FPS) for _ in range(2)]
    for stream in streams:
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
    for i in range(5):
        for stream in streams:
            frame = av.VideoFrame.from_ndarray(np.repeat(gray_frame(i, 48, 64)[..., None], 3, axis=2),
                                               format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
    for stream in streams:
        for packet in stream.encode(None):
            container.mux(packet)
    container.close()
    times, _, warnings = read_times(tmp_path / "two_angles.mkv")
    assert len(times) == 5
    assert any(w.startswith("video stream #1 (h264) not copied") for w in warnings), warnings


def test_a_gap_in_the_frames_is_kept_and_named(tmp_path: Path) -> None:
    """Matroska resyncs past damaged data without an error: 40 of 150 frames went without a word."""
    times = [40 * i for i in range(10)] + [2000 + 40 * i for i in range(10)]
    got, _, warnings = read_times(matroska_clip(tmp_path / "gap.mkv", 0, times_ms=times))
    assert got == pytest.approx([t / 1000 for t in times])  # the gap is kept, not filled
    assert [w for w in warnings if "no frames for a while after 0.36 s" in w], warnings
    _, _, vfr_warnings = read_times(make_clip(tmp_path / "vfr.mkv", frames=30, vfr=True))
    assert not [w for w in vfr_warnings if "no frames" in w]  # irregular durations are no gap


def test_ten_bit_luma_is_kept_deep_and_rounded_once_to_eight_bits(tmp_path: Path) -> None:
    """10-bit Y 64..940: the deep luma maps it onto 0..65535 (so a 10-bit output gives back every level), and
    the 8-bit luma is it rounded once (rounding to 8 bits, then mapping the range, moved levels by one)."""
    width, height = 64, 16
    y10 = (64 + np.arange(width * height, dtype=np.uint16) % 877).reshape(height, width)  # every level, 64..940
    path = make_ten_bit_clip(tmp_path / "ten.mkv", [y10])
    with VideoReader(path) as reader:
        item = next(item for item in reader if isinstance(item, LumaFrame))
        assert reader.info.bit_depth == 10 and reader.info.pix_fmt == "yuv420p10le"
    black_to_white = (y10.astype(np.float64) - 64) / 876
    assert item.deep is not None and np.array_equal(item.deep, np.round(black_to_white * 65535))
    assert len(np.unique(item.deep)) == 877  # every level kept
    assert np.array_equal(item.gray, np.round(black_to_white * 255))
    truncated = limited_to_full_range_lut()[(y10 >> 2).astype(np.uint8)]
    assert not np.array_equal(item.gray, truncated)  # what truncating darkened


def test_eight_bit_input_has_no_deep_luma(tmp_path: Path) -> None:
    with VideoReader(make_clip(tmp_path / "in.mp4", frames=2)) as reader:
        item = next(item for item in reader if isinstance(item, LumaFrame))
        assert item.deep is None and reader.info.bit_depth == 8


def test_a_cameras_fragmented_mp4_cut_short_says_so(tmp_path: Path) -> None:
    """An audit: an IP camera's fragmented MP4 cut at 60% gave 76 of 100 frames and 'ok' (FFmpeg: one corrupt
    frame, then nothing). Its last box says how long it was; a whole file, or one with bytes after its last
    box, is no cut."""
    whole = tmp_path / "cam.mp4"
    with av.open(str(whole), "w", options={"movflags": "frag_keyframe+empty_moov+default_base_moof"}) as c:
        stream = c.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt, stream.options = 64, 48, "yuv420p", {"g": "25"}
        for i in range(100):
            frame = av.VideoFrame.from_ndarray(gray_frame(i, 48, 64), format="gray").reformat(format="yuv420p")
            frame.pts = i
            c.mux(stream.encode(frame))
        c.mux(stream.encode(None))
    data = whole.read_bytes()
    assert len(read_times(whole)[0]) == 100
    padded = tmp_path / "padded.mp4"
    padded.write_bytes(data + bytes(5))  # a copy tool's padding: no box, and no cut
    assert len(read_times(padded)[0]) == 100
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[:int(len(data) * 0.6)])
    with pytest.raises(InputError, match=rf"cut.mp4: file is truncated: it holds {int(len(data) * 0.6):,} bytes"):
        read_times(cut)
    tagged = tmp_path / "tagged.mp4"  # a second audit: a tool's words after the last box read as a box's size
    tagged.write_bytes(data + b"Created with SomeTool v1.2\n")
    assert len(read_times(tagged)[0]) == 100


def test_an_avi_written_to_a_pipe_is_whole(tmp_path: Path) -> None:
    """A second audit: FFmpeg writing AVI to a pipe cannot go back to set the RIFF size, and leaves it
    0xFFFFFFFF; the whole file was called truncated ('4,998 of the 4,294,967,304 bytes')."""
    class Pipe(io.RawIOBase):  # what a pipe lets a writer do: no going back
        def __init__(self, sink: BinaryIO):
            self.sink = sink

        def writable(self) -> bool:
            return True

        def write(self, data: bytes) -> int:
            return self.sink.write(data)

    piped = tmp_path / "piped.avi"
    with open(piped, "wb") as sink, av.open(Pipe(sink), "w", format="avi") as container:
        mux_gray(container, "mjpeg", 24, 64, 48, "yuvj420p", 12)
    assert piped.read_bytes()[4:8] == b"\xff\xff\xff\xff"  # its size unknown; a third audit: and its frame
    assert len(read_times(piped)[0]) == 12  # count FFmpeg's 2^30, its duration a guess (321 s for 2 s)
    cut = tmp_path / "piped_cut.avi"  # a fourth: such a file cut short went as whole; its chunks tell
    cut.write_bytes(piped.read_bytes()[:len(piped.read_bytes()) // 2])
    with pytest.raises(InputError, match="piped_cut.avi: file is truncated"):
        read_times(cut)


def test_h264_with_b_frames_in_avi_keeps_every_frame_in_order(tmp_path: Path) -> None:
    """AVI times its packets by their count in decode order, so with B-frames a frame's pts names its packet's
    place in the file: a healthy clip read as 13 damaged timestamps, and one frame was dropped. Each frame
    now takes the earliest slot still outstanding (the decoder returns them in display order)."""
    clip = make_clip(tmp_path / "bf.avi", frames=30, fps=25, bframes=True)

    def pattern(gray: np.ndarray) -> np.ndarray:  # level-free (the reader maps limited range to full)
        g = gray.astype(np.float32)
        return (g - g.mean()) / (g.std() + 1e-6)

    with av.open(str(clip)) as c:
        shown = [pattern(f.to_ndarray(format="gray")) for f in c.decode(video=0)]  # display order
    with av.open(str(clip)) as c:
        assert [p.pts for p in c.demux(video=0) if p.size][:6] == [1, 2, 3, 4, 5, 6]  # counts, decode order
    with VideoReader(clip) as reader:
        frames = [f for f in reader if isinstance(f, LumaFrame)]
        assert not reader.warnings, reader.warnings
    assert [f.pts for f in frames] == list(range(1, 31))
    nearest = [int(np.argmin([np.abs(pattern(f.gray) - s).mean() for s in shown])) for f in frames]
    assert nearest == list(range(30))  # each frame is the one shown there (they all differ: gray_frame moves)


@pytest.mark.parametrize("codec", ["mpeg4", "libx264"])
def test_start_in_an_avi_with_b_frames_lands_on_the_slice(tmp_path: Path, codec: str) -> None:
    """An audit: an Xvid-style AVI's seek landed on the keyframe after --start, and backing off to the file's
    start asked AVI for a time before its first entry, which it refuses ('cannot seek', exit 1); and the
    frames of the GOP decoded up to --start took the slice's slots."""
    options = {"g": "24", "bf": "2"} if codec == "mpeg4" else {"g": "24"}
    clip = make_clip(tmp_path / f"{codec}.avi", frames=72, fps=24, codec=codec, codec_options=options)
    with av.open(str(clip)) as c:
        everything = sorted(float(f.time) for f in c.decode(video=0))
    for start, duration in ((0.3, None), (0.9, None), (1.0, None), (0.0, 0.8), (0.5, 0.3)):  # (a third audit:
        with VideoReader(clip, ReaderOptions(start=start, duration=duration)) as reader:  # --duration ended by a
            frames = [f for f in reader if isinstance(f, LumaFrame)]  # P-frame's count, a frame or two short)
            assert not reader.warnings, reader.warnings
        end = start + duration if duration else 1e9
        assert len(frames) == sum(start - 1e-6 <= t < end - 1e-6 for t in everything), (start, duration)
        assert [f.pts - frames[0].pts for f in frames] == list(range(len(frames)))  # one frame apart


def test_damage_in_an_avi_with_b_frames_is_said(tmp_path: Path) -> None:
    """A fourth audit: one damaged packet in an H.264 AVI with B-frames left a frame's place unknown (AVI keeps
    no display times), and every later frame showed a frame early without a word. Where it cannot be mended,
    it is said."""
    clip = make_clip(tmp_path / "b.avi", frames=48, fps=24, codec_options={"g": "12"})
    with av.open(str(clip)) as c:
        packets = [(p.pos, p.size) for p in c.demux(video=0) if p.size]
    data = bytearray(clip.read_bytes())
    pos, size = packets[10]
    data[pos + 8:pos + size] = bytes(size - 8)  # its slices zeroed
    damaged = tmp_path / "damaged.avi"
    damaged.write_bytes(bytes(data))
    times, _, warnings = read_times(damaged)
    assert any("damaged video at about" in w and "AVI with B-frames" in w for w in warnings), warnings
    assert not [w for w in read_times(clip)[2]]  # the whole clip: no word
