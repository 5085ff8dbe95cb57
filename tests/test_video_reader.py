"""The reader's timeline on damaged input: a lost frame comes back as a repeat at its own timestamp, a damaged
timestamp takes the free slot, and whatever the damage the frames it yields are a valid, evenly timed timeline."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from media import decode_video, garbage_packet, make_clip, remux, video_packet_times

from filmcolor.errors import InputError
from filmcolor.video.reader import LumaFrame, ReaderOptions, VideoReader

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
