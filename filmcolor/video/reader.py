"""Demux and decode a video with PyAV: full-range 8-bit luma per frame, plus the other streams' packets.

Only the luma plane is read (no RGB round trip). Limited-range luma (16-235, what most video stores)
is mapped to full range here, so everything downstream sees sRGB gray levels.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from filmcolor.errors import InputError
from filmcolor.lab import limited_to_full_range_lut
from filmcolor.options import Options, option, parse_time
from filmcolor.video.avcol import AVCOL_RANGE_JPEG, AVCOL_RANGE_MPEG

_LIMITED_TO_FULL = limited_to_full_range_lut()
COPYABLE_TYPES = ("audio", "subtitle")


@dataclass(frozen=True)
class ReaderOptions(Options):
    """Which part of the input is read and what a corrupt frame does; times in seconds."""

    start: float = option(0.0, "Start at TIME (seconds or HH:MM:SS).", parse=parse_time, metavar="TIME",
                          at_least=0, default_text="")
    duration: float | None = option(None, "Colour only this long (seconds or HH:MM:SS).", parse=parse_time,
                                    metavar="TIME", above=0)
    on_error: str = option("repeat", "On a corrupt frame: repeat the last good one (and warn), or stop.",
                           choices=("repeat", "fail"))
    decoder_threads: int = 0  # 0: FFmpeg's choice


@dataclass(frozen=True)
class VideoInfo:
    """What the writer needs to reproduce the input's video stream; times in seconds."""

    width: int
    height: int
    time_base: Fraction
    frame_rate: Fraction | None
    frames: int | None  # expected number of output frames; None when unknown
    duration: float | None
    colorspace: int
    color_primaries: int
    color_trc: int
    rotation: float
    sample_aspect_ratio: Fraction | None
    metadata: dict[str, str] = field(default_factory=dict)
    stream_metadata: dict[str, str] = field(default_factory=dict)


@dataclass
class LumaFrame:
    """One decoded frame: its index in the output, pts in ``VideoInfo.time_base`` units (output timeline)."""

    index: int
    pts: int
    gray: np.ndarray  # (H, W) uint8, full range
    repeated: bool = False  # a copy of the last good frame standing in for a corrupt one


def _open_error(path: Path, err: BaseException) -> InputError:
    detail = (getattr(err, "strerror", None) or type(err).__name__).lower()
    return InputError(f"{path}: not a readable video file (truncated, corrupt or not a video: {detail})")


class VideoReader:
    """Iterate ``LumaFrame`` and passthrough ``av.Packet`` items in demux order; ``close()`` when done.

    ``options.start`` and ``options.duration`` select a slice; its timestamps are shifted to start at zero.
    Decode errors mid-stream repeat the last good frame (``on_error="repeat"``) or raise InputError.
    ``copy_streams=False`` leaves the audio and subtitle streams out.
    """

    def __init__(self, path: Path, options: ReaderOptions = ReaderOptions(), copy_streams: bool = True):
        self.path = Path(path)
        self.options = options
        self.repeated_frames = 0
        self.luma_seconds = 0.0  # time spent reading and range-mapping luma planes
        self.warnings: list[str] = []
        if not self.path.exists():
            raise InputError(f"{self.path}: file not found")
        if self.path.is_dir():
            raise InputError(f"{self.path}: is a folder, expected a video file")
        if self.path.stat().st_size == 0:
            raise InputError(f"{self.path}: file is empty (0 bytes)")
        try:
            self.container = av.open(str(self.path), metadata_errors="ignore")
        except (av.FFmpegError, UnicodeDecodeError, ValueError) as err:
            raise _open_error(self.path, err) from err
        try:
            self._setup(copy_streams)
        except BaseException:
            self.container.close()
            raise

    def _setup(self, copy_streams: bool) -> None:
        cover_art = av.stream.Disposition.attached_pic
        videos = [s for s in self.container.streams.video if not s.disposition & cover_art]
        if not videos:
            kinds = sorted({s.type for s in self.container.streams})
            what = "an audio-only file" if kinds == ["audio"] else "a file"
            raise InputError(f"{self.path}: {what} with no video stream")
        self.stream = videos[0]
        ctx = self.stream.codec_context
        if ctx is None or not ctx.is_decoder:
            raise InputError(f"{self.path}: video codec not supported by this FFmpeg build")
        ctx.thread_type = "AUTO"
        ctx.thread_count = self.options.decoder_threads
        self.passthrough = [s for s in self.container.streams
                            if copy_streams and s.type in COPYABLE_TYPES]
        self._demux_streams = [self.stream, *self.passthrough]
        self._offset_s = 0.0
        if self.options.start > 0:
            self._seek(self.options.start)
        self._items = self._iterate()
        first = self._first_frame()
        self.info = self._make_info(first)

    # ---- probing --------------------------------------------------------------------------------

    def _seek(self, start: float) -> None:
        base = (self.container.start_time or 0) / av.time_base
        self._offset_s = base + start
        try:
            self.container.seek(int(self._offset_s * av.time_base), backward=True)
        except av.FFmpegError as err:
            raise InputError(f"{self.path}: cannot seek to {start:.3f} s ({err})") from err

    def _first_frame(self) -> av.VideoFrame:
        """Decode up to the first kept frame so that unreadable files fail before any output exists."""
        self._pending: list[object] = []
        for item in self._items:
            self._pending.append(item)
            if isinstance(item, LumaFrame):
                return self._first_av_frame
        if self.options.start > 0:
            raise InputError(f"{self.path}: no video frames after --start {self.options.start:g} s")
        raise InputError(f"{self.path}: no decodable video frames (truncated or corrupt file?)")

    def _make_info(self, first: av.VideoFrame) -> VideoInfo:
        s = self.stream
        rate = s.average_rate or s.guessed_rate or s.codec_context.framerate or None
        duration = None
        if s.duration is not None and s.time_base:
            duration = float(s.duration * s.time_base)
        elif self.container.duration:
            duration = self.container.duration / av.time_base
        if duration is not None:
            duration = max(0.0, duration - max(0.0, self._offset_s - self._stream_start_s))
            if self.options.duration is not None:
                duration = min(duration, self.options.duration)
        frames: int | None = None
        if self.options.start == 0 and self.options.duration is None and s.frames:
            frames = int(s.frames)
        elif duration is not None and rate:
            frames = max(1, math.ceil(duration * float(rate) - 1e-6))
        return VideoInfo(
            width=first.width, height=first.height, time_base=s.time_base,
            frame_rate=Fraction(rate) if rate else None, frames=frames, duration=duration,
            colorspace=int(first.colorspace), color_primaries=int(first.color_primaries),
            color_trc=int(first.color_trc), rotation=float(first.rotation or 0.0),
            sample_aspect_ratio=s.sample_aspect_ratio,
            metadata=dict(self.container.metadata), stream_metadata=dict(s.metadata))

    @property
    def _stream_start_s(self) -> float:
        st = self.stream.start_time
        return float(st * self.stream.time_base) if st is not None else 0.0

    # ---- iteration ------------------------------------------------------------------------------

    def __iter__(self) -> Iterator[LumaFrame | av.Packet]:
        pending, self._pending = self._pending, []
        yield from pending
        yield from self._items

    def _iterate(self) -> Iterator[LumaFrame | av.Packet]:
        tb = self.stream.time_base
        start, duration = self.options.start, self.options.duration
        start_pts = None if start <= 0 else round(self._offset_s / tb)
        end_s = None if duration is None else self._offset_s + duration
        shift_pts: int | None = 0 if start <= 0 else None  # video pts subtracted on output
        index = 0
        last_gray: np.ndarray | None = None
        last_pts: int | None = None
        step = self._default_step()
        video_done = False
        for packet in self._demux():
            if packet.stream is not self.stream:
                if self._keep_packet(packet, end_s):
                    yield packet
                elif video_done and self._past_end(packet, end_s):
                    return
                continue
            if video_done:
                continue
            for frame, bad in self._decode(packet):
                pts = frame.pts if frame is not None else packet.pts
                if pts is None:
                    pts = (last_pts + step) if last_pts is not None else 0
                if start_pts is not None and pts < start_pts:
                    continue
                if end_s is not None and float(pts * tb) >= end_s - 1e-9:
                    video_done = True
                    break
                if shift_pts is None:
                    shift_pts = pts
                    self._offset_s = float(pts * tb)  # passthrough streams are shifted by the same time
                if bad:
                    if last_gray is None:
                        continue  # nothing to repeat yet: the file's first frames are unreadable
                    gray, repeated = last_gray, True
                    self.repeated_frames += 1
                else:
                    t0 = time.perf_counter()
                    gray, repeated = self._luma(frame), False
                    self.luma_seconds += time.perf_counter() - t0
                    if index == 0:
                        self._first_av_frame = frame
                last_gray, last_pts = gray, pts
                yield LumaFrame(index, pts - shift_pts, gray, repeated)
                index += 1
        if start <= 0 and duration is None:
            self._check_complete(index, last_pts)

    def _check_complete(self, frames: int, last_pts: int | None) -> None:
        """Raise InputError when the file ends well before its header says it does (a truncated file)."""
        declared = self.stream.frames
        info = getattr(self, "info", None)
        end_s = 0.0
        if last_pts is not None:
            end_s = float((last_pts + self._default_step()) * self.stream.time_base) - self._stream_start_s
        if declared and frames < declared - 2 and frames < 0.98 * declared:
            found = f"frame {frames} of {declared}"
        elif info is not None and info.duration and end_s < info.duration - max(2.0, 0.1 * info.duration):
            found = f"{end_s:.1f} s of {info.duration:.1f} s"
        else:
            return
        raise InputError(f"{self.path}: file is truncated or damaged: video data ends at {found} "
                         f"(use --duration {max(end_s, 0.0):.1f} to colour the readable part)")

    def _default_step(self) -> int:
        rate = self.stream.average_rate or self.stream.guessed_rate
        if rate and self.stream.time_base:
            return max(1, round(1 / (rate * self.stream.time_base)))
        return 1

    def _demux(self) -> Iterator[av.Packet]:
        try:
            yield from self.container.demux(*self._demux_streams)
        except av.FFmpegError as err:
            if self.options.on_error == "fail":
                raise InputError(f"{self.path}: unreadable data after frame {self.repeated_frames} ({err})") \
                    from err
            self.warnings.append(f"input stopped early: {err}")

    def _decode(self, packet: av.Packet) -> Iterator[tuple[av.VideoFrame | None, bool]]:
        try:
            frames = self.stream.codec_context.decode(packet if packet.size else None)
        except av.FFmpegError as err:
            t = float(packet.pts * packet.time_base) if packet.pts is not None else float("nan")
            if self.options.on_error == "fail":
                raise InputError(f"{self.path}: corrupt video data at {t:.3f} s ({err})") from err
            if packet.pts is None:
                return
            yield None, True
            return
        for frame in frames:
            if frame.is_corrupt and self.options.on_error == "fail":
                t = float(frame.pts * frame.time_base) if frame.pts is not None else float("nan")
                raise InputError(f"{self.path}: corrupt video frame at {t:.3f} s")
            yield frame, bool(frame.is_corrupt)

    def _keep_packet(self, packet: av.Packet, end_s: float | None) -> bool:
        if packet.pts is None or packet.size == 0:
            return False
        t = float(packet.pts * packet.time_base)
        if self.options.start > 0 and t < self._offset_s - 1e-9:
            return False
        if end_s is not None and t >= end_s - 1e-9:
            return False
        if self.options.start > 0:
            shift = round(self._offset_s / packet.time_base)
            packet.pts -= shift
            if packet.dts is not None:
                packet.dts -= shift
        return True

    @staticmethod
    def _past_end(packet: av.Packet, end_s: float | None) -> bool:
        if end_s is None or packet.pts is None:
            return False
        return float(packet.pts * packet.time_base) >= end_s + 1

    def _luma(self, frame: av.VideoFrame) -> np.ndarray:
        """Full-range uint8 luma (H, W), read straight from plane 0 when the format has one."""
        name = frame.format.name
        full = self._frame_full_range(frame)
        if name.startswith(("yuv", "nv", "gray")) and not name.startswith(("yuva", "gbr")):
            plane = frame.planes[0]
            depth = frame.format.components[0].bits
            if depth == 8:
                y = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[: frame.height, : frame.width]
            elif depth <= 16:
                y16 = np.frombuffer(plane, np.uint16).reshape(-1, plane.line_size // 2)
                y = (y16[: frame.height, : frame.width] >> (depth - 8)).astype(np.uint8)
            else:
                y = None
            if y is not None:
                return np.ascontiguousarray(y) if full else cv2.LUT(y, _LIMITED_TO_FULL)
        return frame.to_ndarray(format="gray")  # sws expands to full range

    def _frame_full_range(self, frame: av.VideoFrame) -> bool:
        """The frame's range flag, else the stream's, else what the stream's pixel format implies."""
        ctx = self.stream.codec_context
        for color_range in (frame.color_range, ctx.color_range):
            if color_range in (AVCOL_RANGE_JPEG, AVCOL_RANGE_MPEG):
                return color_range == AVCOL_RANGE_JPEG
        return (ctx.pix_fmt or "").startswith(("yuvj", "gray", "rgb", "bgr", "gbr", "pal"))

    def close(self) -> None:
        self.container.close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
