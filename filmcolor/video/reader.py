"""Demux and decode a video with PyAV: full-range luma per frame, plus the other streams' packets.

The input is a video file, or a folder of numbered frames (sequence.py) read by FFmpeg's image2 demuxer.

Only the luma plane is read (no RGB round trip). Limited-range luma (16-235, what most video stores)
is mapped to full range here, so everything downstream sees sRGB gray levels. Input deeper than 8 bits (a
10-bit master, a 16-bit DPX scan) also keeps its luma at 16 bits, for an output as deep as the input.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import itertools
import math
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from filmcolor.errors import ConfigError, InputError, NoPictureError
from filmcolor.lab import deep_luma, deep_luma_of_rgb, deep_to_gray, limited_to_full_range_lut
from filmcolor.options import MAX_RATE, MIN_RATE, Options, option, parse_rate, parse_time
from filmcolor.video import timecode
from filmcolor.video.avcol import AVCOL_RANGE_JPEG, AVCOL_RANGE_MPEG
from filmcolor.video.sequence import DEFAULT_FRAME_RATE, FrameSequence, find_sequence
from filmcolor.video.timeline import FrameTimeline, PacketTimes
from filmcolor.video.truncation import cut_short, truncated

_LIMITED_TO_FULL = limited_to_full_range_lut()
SHOWN_NAMES = 5  # frame files named in a warning
# A film whose data end this far (seconds), or this share of it, before its header says is damaged, an error;
# less is a warning (a header's duration can run past the data by a frame or a sound packet). Any shortfall
# of a short clip counted (an audit: 2 s Matroska with a damaged block at 1.08 s coloured its half, exit 0)
LOST_S, LOST_SHARE = 2.0, 0.1
# Containers timed by a free-running clock (MPEG-TS, MPEG program streams): their first time says nothing of
# the film: every stream is shifted by the picture's, the offsets between them kept
CLOCK_FORMATS = ("mpegts", "mpeg", "vob", "mpegvideo")
# a film averaging under this part of its frames' own rate (the median of their steps, RATE_PROBE_PACKETS of
# them) pauses between them (motion-triggered CCTV); a phone's variable rate stays near its nominal one (29.2
# of 30), a film with a few dropped frames too
PAUSED_RATIO = Fraction(2, 3)
RATE_PROBE_PACKETS = 240
COPYABLE_TYPES = ("audio", "subtitle", "attachment")  # an attachment (an MKV's fonts) has no packets
# how far before --start a seek tries, in turn, until no frame of the slice is lost (then the file's start)
SEEK_BACK_OFF_S = (0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, math.inf)
# seconds of sound a decoder needs before the first it plays, beyond one packet (RFC 7845: Opus, 80 ms)
PREROLL_S = {"opus": 0.08}
UNKNOWN_FRAME_COUNT = 1 << 30  # what FFmpeg's AVI writer leaves as the frame count when it cannot seek back
# ISO BMFF brands of a still picture (AVIF, HEIF/HEIC): FFmpeg's MOV demuxer reads one as a film of one frame
STILL_BRANDS = {"avif": "AVIF", "heic": "HEIC", "heix": "HEIC", "mif1": "HEIF"}
SEEK_PROBE_PACKETS = 2000  # a seek's check gives up without a frame after this many packets (a run then says why)


@dataclass(frozen=True)
class ReaderOptions(Options):
    """Which part of the input is read and what a corrupt frame does; times in seconds."""

    start: float = option(0.0, "Start at TIME (seconds or HH:MM:SS).", parse=parse_time, metavar="TIME",
                          at_least=0, default_text="")
    duration: float | None = option(None, "Colour only this long (seconds or HH:MM:SS).", parse=parse_time,
                                    metavar="TIME", above=0)
    on_error: str = option("repeat", "On a corrupt frame: repeat the last good one (and warn), or stop.",
                           choices=("repeat", "fail"))
    frame_rate: Fraction | None = option(None, "Frames per second of a film given as a folder of numbered frames "
                                         "(a scan: DPX, TIFF, PNG...; in batch, as --frame-folders says); "
                                         "default 24. A video file keeps its own.",
                                         parse=parse_rate, metavar="FPS", at_least=float(MIN_RATE),
                                         at_most=float(MAX_RATE), default_text="")
    sound: Path | None = option(None, "Take the film's sound from FILE (a reel's soundtrack transferred to WAV, "
                                "say) in place of INPUT's own audio: copied packet for packet, starting with the "
                                "first frame; --start and --duration cut it alike.", parse=Path, metavar="FILE")
    decoder_threads: int = 0  # 0: FFmpeg's choice


# FFmpeg's AVFieldOrder: how a frame's two fields are ordered in time (0 unknown, 1 progressive)
FIELD_PROGRESSIVE, FIELD_TT, FIELD_BB, FIELD_TB, FIELD_BT = 1, 2, 3, 4, 5
TOP_FIELD_FIRST = (FIELD_TT, FIELD_TB)
SD_DV_HEIGHTS = (480, 576)  # DV (NTSC, PAL): bottom field first; DVCPRO HD (720, 1080) is top field first


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
    field_order: int = FIELD_PROGRESSIVE  # FIELD_TT ... FIELD_BT: interlaced
    metadata: dict[str, str] = field(default_factory=dict)
    # the input's chapters on the output's timeline, as PyAV's set_chapters() takes them
    chapters: tuple[dict, ...] = ()
    stream_metadata: dict[str, str] = field(default_factory=dict)
    bit_depth: int = 8  # bits per sample of the input's first frame
    full_range: bool = False  # its levels span 0-255 (PNG or JPEG frames, MJPEG), not video's 16-235
    pix_fmt: str = ""  # the input's pixel format (of its first frame)
    source: str = ""  # the name FFmpeg opened the input by (its path; a folder's frame pattern)
    # the display matrix players apply (9 ints, FFmpeg's layout), None when there is none: ``rotation`` is
    # its angle alone, blind to a mirror (a mirrored film was written turned a half turn; an audit)
    display_matrix: tuple[int, ...] | None = None


@dataclass
class LumaFrame:
    """One decoded frame: its index in the output, pts in ``VideoInfo.time_base`` units (output timeline)."""

    index: int
    pts: int
    gray: np.ndarray  # (H, W) uint8, full range
    repeated: bool = False  # a copy of the last good frame standing in for a corrupt one
    deep: np.ndarray | None = None  # (H, W) uint16 full range on 0..lab.DEEP_MAX: input deeper than 8 bits


def _when(item: av.Packet | av.VideoFrame) -> str:
    """Where in the stream a packet or frame lies, for a message: "at 1.240 s" ("at an unknown time")."""
    if item.pts is None or item.time_base is None:
        return "at an unknown time"
    return f"at {float(item.pts * item.time_base):.3f} s"


def _open_error(path: Path, err: BaseException) -> InputError:
    if isinstance(err, PermissionError) or getattr(err, "errno", None) == errno.EACCES:
        return InputError(f"{path}: permission denied (this user may not read it)")
    detail = (getattr(err, "strerror", None) or type(err).__name__).lower()
    return InputError(f"{path}: not a readable video file (truncated, corrupt or not a video: {detail})")


class VideoReader:
    """Iterate ``LumaFrame`` and passthrough ``av.Packet`` items in demux order; ``close()`` when done.

    ``options.start`` and ``options.duration`` select a slice; its timestamps are shifted to start at zero.
    Decode errors mid-stream repeat the last good frame (``on_error="repeat"``) or raise InputError.
    ``copy_streams=False`` leaves the audio and subtitle streams out.
    """

    def __init__(self, path: Path, options: ReaderOptions = ReaderOptions(), copy_streams: bool = True,
                 not_frames: Iterable[Path] = ()):
        """``not_frames``: files of a folder of frames that are none of its frames (a keyframe kept among them)."""
        self.path = Path(path)
        self.options = options
        self.repeated_frames = 0
        self.luma_seconds = 0.0  # time spent reading and range-mapping luma planes
        self.warnings: list[str] = []
        self.sequence: FrameSequence | None = None
        if not self.path.exists():
            raise InputError(f"{self.path}: file not found")
        if self.path.is_dir():
            self.sequence = find_sequence(self.path, ignore=not_frames)
        elif options.frame_rate is not None:
            raise ConfigError(f"--frame-rate {options.frame_rate}: only for a folder of frames; {self.path} keeps "
                              "its own timing")
        elif not self.path.is_file():
            raise InputError(f"{self.path}: not a regular file (a device, a pipe or a socket); give a video file")
        elif self.path.stat().st_size == 0:
            raise InputError(f"{self.path}: file is empty (0 bytes)")
        try:
            if self.sequence:
                rate = options.frame_rate or DEFAULT_FRAME_RATE
                self.container = av.open(self.sequence.pattern, format="image2",
                                         options=self.sequence.demuxer_options(rate))
            else:
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
            raise (NoPictureError if "audio" in kinds else InputError)(f"{self.path}: {what} with no video stream")
        if not self.sequence and (self.container.format.name.endswith("_pipe")
                                  or self.container.format.name == "image2"):
            kind = self.container.format.name.removesuffix("_pipe").upper() if "_pipe" in \
                self.container.format.name else "still"
            raise InputError(f"{self.path}: a {kind} picture, not a video; colour it with 'filmcolor image'")
        brand = STILL_BRANDS.get(self.container.metadata.get("major_brand", "").strip().lower())
        if brand and not self.sequence:
            raise InputError(f"{self.path}: an {brand} picture, not a video; colour it with 'filmcolor image'")
        self.stream = videos[0]
        ctx = self.stream.codec_context
        if ctx is None or not ctx.is_decoder:  # no parameters at all: also what a cut-off file's header gives
            raise InputError(f"{self.path}: video codec not supported by this FFmpeg build, or the file is "
                             "truncated or corrupt")
        ctx.thread_type = "AUTO"
        # a folder that must fail at its first broken file decodes on one thread, so the error comes with the
        # file's own packet (frame threads report it a frame or two later) and names the right file
        exact = self.sequence is not None and self.options.on_error == "fail"
        ctx.thread_count = 1 if exact else self.options.decoder_threads
        # with --sound, that file's audio comes in place of the input's (sound.py; the pipeline adds it)
        copied_types = tuple(t for t in COPYABLE_TYPES if t != "audio" or self.options.sound is None)
        self.passthrough = [s for s in self.container.streams
                            if copy_streams and s.type in copied_types]
        self._copied = {s.index for s in self.passthrough}
        self._deeper_at: tuple[int, int] | None = None  # (pts, bits) of a frame deeper than the 8-bit first one
        # an MKV's attached picture (cover.jpg) is an attachment that FFmpeg shows as a picture stream whose one
        # packet, demuxed first, is the file: kept for the writer as an attached file
        self._covers = {s.index: s for s in self.container.streams if copy_streams and s is not self.stream
                        and s.type == "video" and s.disposition & cover_art and "filename" in s.metadata}
        self.covers: dict[int, tuple[str, str, bytes]] = {}  # stream index -> (file name, MIME type, bytes)
        if copy_streams:
            self.warnings += [f"{_stream_name(s, cover_art)} not copied: the output has the coloured picture, "
                              "the sound and the subtitles"
                              for s in self.container.streams
                              if s is not self.stream and s.index not in self._copied and s.index not in self._covers
                              and "timecode" not in s.metadata  # a timecode track comes back from the video's tag
                              and not (s.type == "audio" and self.options.sound is not None)  # replaced
                              and not self._is_chapter_track(s)]  # chapters are copied as chapters
        # every stream is demuxed (FFmpeg reads their packets anyway): where the other streams' data end tells
        # a film whose sound outlasts its picture from a truncated one
        self._demux_streams = list(self.container.streams)
        self._others_end_s = 0.0  # input seconds where the last packet of a stream other than the video ends
        self._hidden_frames = 0  # video packets an edit list hides (an `ffmpeg -ss X -c copy` cut): never shown
        self._preroll: dict[int, deque[av.Packet]] = {}  # per copied stream: hidden packets kept if one follows
        self._hidden_packets: dict[int, int] = {}  # per copied stream: hidden packets left out
        self._offset_s = 0.0
        if self.options.start > 0:
            self._seek(self.options.start)
        self._items = self._iterate()
        first = self._first_frame()
        self.info = self._make_info(first)

    def attached_pictures(self) -> list[tuple[str, str, bytes]]:
        """(file name, MIME type, bytes) of the MKV attached pictures read so far, for the writer to attach;
        one not read yet (its packet comes after the first frame's) is named in a warning instead."""
        for index in self._covers.keys() - self.covers.keys():
            self.warnings.append(f"cover art #{index} ({self._covers[index].metadata['filename']}) not copied: "
                                 "its picture comes late in the file")
        return list(self.covers.values())

    def _is_chapter_track(self, stream: av.stream.Stream) -> bool:
        """An MP4/MOV keeps its chapter titles in a text track, which FFmpeg shows as a data stream too."""
        return (stream.type == "data" and self.container.format.name.startswith("mov")
                and bool(self.container.chapters()))

    def _chapters(self, duration: float | None) -> tuple[dict, ...]:
        """The input's chapters moved onto the output's timeline: shifted by --start, cut at the end of the
        video (``duration`` seconds of it are read: --duration's, or the rest of the stream), those wholly
        outside it left out (an MP4 would stretch the chapter before one past the end to reach it)."""
        sliced = self.options.start > 0
        shift = self._shift_s
        end = None
        if duration is not None:
            end = (self._offset_s if sliced else self._stream_start_s) + duration - shift
        kept = []
        for chapter in self.container.chapters():
            tb = chapter["time_base"]
            start, stop = float(chapter["start"] * tb) - shift, float(chapter["end"] * tb) - shift
            if sliced:
                start = max(start, 0.0)
            if end is not None:
                stop = min(stop, end)
            if stop > start:
                kept.append({**chapter, "start": round(start / tb), "end": round(stop / tb)})
        return tuple(kept)

    # ---- probing --------------------------------------------------------------------------------

    def _seek(self, start: float) -> None:
        self._offset_s = self._file_start_s + start
        if self.sequence and start * (self.options.frame_rate or DEFAULT_FRAME_RATE) > self.sequence.count - 1:
            raise InputError(f"{self.path}: no video frames after --start {start:g} s (the folder's "
                             f"{self.sequence.count} frames end before)")
        if self.sequence:  # image2 seeks to the frame itself: every frame is a keyframe
            self._seek_to(self._offset_s, start)
            return
        # A container with no index (MPEG-TS and -PS) seeks by timestamps alone, to a packet that may be no
        # keyframe: the decoder then shows nothing up to the next one (a GOP of 1 s lost 0.5 s of the slice
        # without a word). Each try is checked, and the seek backs off until no frame of the slice is lost.
        for back in SEEK_BACK_OFF_S:
            at = self._offset_s - back
            if at <= self._file_start_s:
                self._seek_to_file_start(start)
                return
            self._seek_to(at, start)
            if not self._loses_frames(self._offset_s):
                break
        self._seek_to(at, start)

    def _seek_to(self, seconds: float, start: float) -> None:
        try:
            self.container.seek(int(seconds * av.time_base), backward=True)
        except av.FFmpegError as err:
            raise InputError(f"{self.path}: cannot seek to {start:.3f} s ({err})") from err

    def _seek_to_file_start(self, start: float) -> None:
        """Back to the first packet: a seek by timestamps to the start time itself can land on a later one
        (MPEG-TS), so well before it first; AVI and FLV refuse that, and take the start time or 0."""
        for seconds in (self._file_start_s - 60, self._file_start_s, 0.0):
            with contextlib.suppress(av.FFmpegError):
                self.container.seek(int(seconds * av.time_base), backward=True)
                return
        self._seek_to(0.0, start)  # says why none worked

    def _loses_frames(self, target_s: float) -> bool:
        """Whether decoding from where the container now stands loses frames at or after ``target_s``: packets
        of the slice that come before the first frame the decoder shows (it drops those before a keyframe).
        Reads the video stream up to that frame; the decoder is flushed again after."""
        ctx, tb = self.stream.codec_context, self.stream.time_base
        target = target_s / tb - 1e-6
        seen: list[int] = []
        try:
            for packet in self.container.demux(self.stream):
                if packet.pts is not None:
                    seen.append(packet.pts)
                if len(seen) == 1 and packet.pts is not None and packet.pts > target:
                    return True  # landed past it (AVI's keyframe after --start; its GOP before holds the slice's first)
                for frame in ctx.decode(packet if packet.size else None):
                    if frame.pts is not None:
                        return any(target <= pts < frame.pts for pts in seen)
                if len(seen) > SEEK_PROBE_PACKETS:
                    break
        except av.FFmpegError:
            return False  # what cannot be decoded here fails (or is repaired) in the run itself
        finally:
            ctx.flush_buffers()
        return True  # no frame at all: no keyframe after the seek (one a film), or its end (a B-frame, none)

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
        rate = self._stream_rate or s.codec_context.framerate or DEFAULT_FRAME_RATE  # see _default_step
        duration = None
        if s.duration is not None and s.time_base:
            duration = float(s.duration * s.time_base)
        elif self.container.duration:
            duration = self.container.duration / av.time_base
            if self.container.format.name.startswith("matroska"):  # a Matroska segment's duration counts from 0:
                duration -= max(0.0, self._file_start_s)  # one starting at 600 s said 14,601 frames for 200 (an audit)
        if duration is not None:
            duration = max(0.0, duration - max(0.0, self._offset_s - self._stream_start_s))
            if self.options.duration is not None:
                duration = min(duration, self.options.duration)
        frames: int | None = None
        if self.options.start == 0 and self.options.duration is None and s.frames:
            frames = int(s.frames)
        elif duration is not None and rate:
            frames = max(1, math.ceil(duration * float(rate) - 1e-6))
        metadata, stream_metadata = dict(self.container.metadata), dict(s.metadata)
        if self.options.start > 0:  # the slice's first frame's own timecode (it kept the film's; an audit)
            frames_in = max(0, math.ceil((self._offset_s - self._stream_start_s) * float(rate) - 1e-6))
            for tags in (metadata, stream_metadata):
                for key in [k for k in tags if k.lower() == "timecode"]:  # (Matroska's tag is TIMECODE)
                    tags[key] = timecode.advance(tags[key], frames_in, Fraction(rate)) or tags[key]
        return VideoInfo(
            width=first.width, height=first.height, time_base=s.time_base,
            frame_rate=Fraction(rate) if rate else None, frames=frames, duration=duration,
            colorspace=int(first.colorspace), color_primaries=int(first.color_primaries),
            color_trc=int(first.color_trc), rotation=float(first.rotation or 0.0),
            sample_aspect_ratio=s.sample_aspect_ratio, field_order=self._field_order(first),
            metadata=metadata, stream_metadata=stream_metadata,
            chapters=self._chapters(duration), bit_depth=_bit_depth(first.format), pix_fmt=first.format.name,
            display_matrix=display_matrix(first),
            full_range=self._frame_full_range(first), source=self.container.name)

    def _field_order(self, first: av.VideoFrame) -> int:
        """The stream's field order; an interlaced first frame of a stream that does not say is taken as top
        field first (PyAV does not show the frame's own flag; TT is H.264's and most HD's order), but for SD
        DV, which is bottom field first by its standard (IEC 61834; an audit: its fields came out swapped)."""
        order = getattr(self.stream.codec_context, "field_order", 0) or 0
        if order > FIELD_PROGRESSIVE:
            return order
        if not first.interlaced_frame:
            return FIELD_PROGRESSIVE
        sd_dv = self.stream.codec_context.name == "dvvideo" and first.height in SD_DV_HEIGHTS
        return FIELD_BB if sd_dv else FIELD_TT

    def input_seconds(self, item: LumaFrame) -> float:
        """A frame's time on the input's own clock (seconds), however it was read: from the start or a slice."""
        return float(item.pts * self.info.time_base) + self._shift_s

    @property
    def file_start_s(self) -> float:
        """Where --start counts from: the file's start (its earliest stream's), seconds on the input's clock."""
        return self._file_start_s

    @property
    def seconds_in(self) -> float:
        """How far into the film, from its first frame, the first frame read lies: 0, or where --start's first
        frame is (known once that frame is read)."""
        return max(0.0, self._offset_s - self._stream_start_s) if self.options.start > 0 else 0.0

    @property
    def _shift_s(self) -> float:
        """Input seconds less output seconds, for every stream: --start's first frame's time; else, for a film
        whose picture starts before 0 (an MPEG-TS recorded across its clock's wrap reads its first second
        negative), that start, which an MP4 or MOV would hide behind its edit list (not one frame shown); and for
        a transport or program stream, whose times are a free-running clock's (a DVB recording starting at 600 s
        came out as 10 minutes of nothing in an MP4's edit list: an audit), the picture's start too."""
        if self.options.start > 0:
            return self._offset_s
        if self.container.format.name in CLOCK_FORMATS:
            return self._stream_start_s
        return min(0.0, self._stream_start_s)

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
        start_pts = None if start <= 0 else math.ceil(self._offset_s / tb - 1e-9)  # the first frame at or after it
        # --duration counts from --start, which counts from the file's start (its earliest stream's)
        end_s = None if duration is None else (self._offset_s if start > 0 else self._file_start_s) + duration
        rate = self._stream_rate
        # AVI times its packets by their count, in decode order; FFmpeg mends that for MPEG-4 Part 2 (Xvid), not
        # for H.264 or HEVC, whose B-frames then read as damaged timestamps (measured: 13 in a healthy clip, and
        # a frame dropped). MJPEG has none to mend, and keeps its own: a frame lost is repaired in its place.
        decode_order = (self.container.format.name == "avi" and not self.sequence  # (with B-frames: without,
                        and self.stream.codec_context.name in ("h264", "hevc")  # decode order is display order,
                        and bool(self.stream.codec_context.has_b_frames))  # and a frame lost is mended in place)
        self._timeline = timeline = FrameTimeline(self._default_step(), start_pts, end_s, tb,
                                                  rate_known=rate is not None,
                                                  exact_step=1 / ((rate or DEFAULT_FRAME_RATE) * tb) if tb else None,
                                                  decode_order=decode_order)
        copied = PacketTimes(self.path, strict=self.options.on_error == "fail",
                              shift_s=lambda: self._shift_s)
        # video pts subtracted on output: --start's first frame's (known once it is read), or a negative start's
        shift_pts: int | None = round(self._shift_s / tb) if start <= 0 else None
        index = 0
        last_luma: tuple[np.ndarray, np.ndarray | None] | None = None  # the last good frame's (gray, deep)

        def start_at(pts: int) -> None:
            nonlocal shift_pts
            if shift_pts is None:
                shift_pts = pts
                self._offset_s = float(pts * tb)  # passthrough streams are shifted by the same time

        resized: list[tuple[int, int, int]] = []  # (pts, width, height) of frames not the first one's size
        repeated_at: list[int] = []  # pts of the frames that repeat the last good one

        def emit(pts: int, luma: tuple[np.ndarray, np.ndarray | None], repeated: bool) -> LumaFrame:
            nonlocal index
            start_at(pts)
            if repeated:
                repeated_at.append(pts)
            item = LumaFrame(index, pts - shift_pts, luma[0], repeated, luma[1])  # type: ignore[operator]
            index += 1
            return item

        def place(frame: av.VideoFrame | None, pts: int | None) -> Iterator[LumaFrame]:
            """The repeats owed before ``frame``, then ``frame`` itself; None: only the repeats still owed."""
            nonlocal last_luma, placed_past_end
            can_show = frame is not None and (not frame.is_corrupt or last_luma is not None)
            missing, shown = timeline.place(pts, can_repeat=last_luma is not None, can_show=can_show)
            if timeline.past_end(pts):  # placed past --duration's end (its own pts said otherwise: retimed)
                placed_past_end, shown = True, False
                timeline.unplace(pts)
            for missing_pts in (m for m in missing if not timeline.past_end(m)):
                self.repeated_frames += 1
                yield emit(missing_pts, last_luma, True)  # type: ignore[arg-type]
            if frame is None or pts is None or not shown:
                return
            if frame.is_corrupt:  # shown as the last good frame
                self.repeated_frames += 1
                timeline.repaired.append(pts)
                yield emit(pts, last_luma, True)  # type: ignore[arg-type]
                return
            t0 = time.perf_counter()
            luma = self._luma(frame)
            if index == 0:
                self._first_av_frame = frame
                self._deep = luma[1] is not None
            else:
                luma = self._conform(luma, pts, frame, resized)
            self.luma_seconds += time.perf_counter() - t0
            last_luma = luma
            yield emit(pts, luma, False)

        held: tuple[av.VideoFrame, int] | None = None  # a frame is placed once the next one's pts is known
        placed_past_end = False

        def arrive(frame: av.VideoFrame | None, own: int | None = None) -> Iterator[LumaFrame]:
            """``frame`` at ``own`` (its pts, or its display slot: timeline.in_display_order); None: the end."""
            nonlocal held
            pts = None if frame is None else timeline.pts_of(own, held[1] if held else timeline.last)
            if pts is not None and start_pts is not None:
                if pts < start_pts:
                    return
                start_at(pts)  # now, not when it is placed: the audio read meanwhile is shifted alike
            if held is not None:
                settled = timeline.settle(held[1], pts)
                if settled is not None:
                    yield from place(held[0], settled)
                elif timeline.dropped_in_a_row > FrameTimeline.MAX_DROPPED:  # the frames before jumped ahead
                    back = float(timeline.dropped[-timeline.dropped_in_a_row] * tb) - self._stream_start_s
                    ahead = float(timeline.last * tb) - self._stream_start_s  # type: ignore[operator]
                    raise InputError(f"{self.path}: damaged video timestamps: the frames jump ahead to {ahead:.2f} s "
                                     f"and go back to {back:.2f} s")
            held = None if frame is None or pts is None else (frame, pts)

        past_the_end = False  # a frame came at or after --duration's end: the slice is read

        def take(frames: Iterable[av.VideoFrame]) -> Iterator[LumaFrame]:
            """Decoded ``frames`` placed at their slots, up to the first past --duration's end."""
            nonlocal past_the_end
            for frame in frames:
                own = timeline.in_display_order(frame.pts)
                if timeline.past_end(own) or placed_past_end:
                    past_the_end = True
                    return
                yield from arrive(frame, own)

        # With --start, the packets of the other streams read before the slice's first frame is decoded wait
        # for it: the slice starts there, and they are shifted by its time (by the seek's time before, they
        # went back in time once it was known: "timestamps go back")
        early: list[av.Packet] = []

        def release_early() -> Iterator[av.Packet]:
            waiting = list(early)
            early.clear()
            for packet in waiting:
                if self._keep_packet(packet, end_s):
                    yield from copied.arrive(packet)

        video_done = flushed = False
        for packet in self._demux():
            if early and shift_pts is not None:
                yield from release_early()
            if packet.stream is not self.stream:
                self._note_end(packet)
                if packet.stream.index in self._covers and packet.stream.index not in self.covers:
                    cover = self._covers[packet.stream.index].metadata
                    self.covers[packet.stream.index] = (cover["filename"], cover.get("mimetype", ""), bytes(packet))
                if packet.stream.index not in self._copied:
                    continue
                ended = False
                for shown in self._unhidden(packet):
                    if shift_pts is None:
                        early.append(shown)
                    elif self._keep_packet(shown, end_s):
                        yield from copied.arrive(shown)
                    elif video_done and self._past_end(shown, end_s):
                        ended = True
                if ended:
                    break
                continue
            yield from copied.passed(packet)
            if video_done:
                continue
            self._hidden_frames += bool(packet.size and packet.is_discard)
            flushed = not packet.size
            timeline.sent(packet)
            yield from take(self._decode(packet))
            video_done = past_the_end
        if not flushed and not video_done:  # the demuxer stopped early: the decoder still holds frames
            yield from take(self._decode(None))
        if not past_the_end:  # frames sent that never came back, nor failed: decode the tail again, see there
            yield from take(self._recover_tail(timeline.outstanding(held[1] if held else None)))
        yield from arrive(None)  # the last frame
        yield from place(None, None)  # and the frames lost to decode errors at the very end
        if shift_pts is not None:
            yield from release_early()
        yield from copied.arrive(None)  # the last packet of each copied stream
        self.warnings += timeline.warnings(self._stream_start_s) + copied.warnings()
        self.warnings += self._frame_warnings(resized, repeated_at)
        if start <= 0:  # (with --start, they lie before the slice anyway)
            self.warnings += [f"{self.container.streams[index].type} stream #{index}: {count} packet(s) that the "
                              "input's edit list hides (no player plays them) left out"
                              for index, count in sorted(self._hidden_packets.items())]
        if not video_done:  # read to the end of the file, not only to --duration's
            self._check_whole(timeline.last, end_s)
        if start <= 0 and duration is None:
            self._check_complete(index, timeline.last, timeline.last_sent)

    def _frame_warnings(self, resized: list[tuple[int, int, int]], repeated_at: list[int]) -> list[str]:
        """Frames of another picture size (scaled to the first frame's in ``_iterate``) and, in a folder of
        frames, the files that could not be read, by name."""
        notes = []
        if resized:
            pts, width, height = resized[0]
            first = self._first_av_frame
            notes.append(f"{len(resized)} frame(s) of another picture size, from {self._frame_name(pts)} "
                         f"({width}x{height}; the film is {first.width}x{first.height}): scaled to the film's size")
        if self.sequence and repeated_at:
            names = [self._frame_name(pts) for pts in repeated_at]
            more = f" and {len(names) - SHOWN_NAMES} more" if len(names) > SHOWN_NAMES else ""
            notes.append(f"{self.path}: unreadable frame file(s) {', '.join(names[:SHOWN_NAMES])}{more}, each "
                         "replaced by the frame before it")
        if self._deeper_at is not None:  # the output's depth follows the first frame (a slate, a leader)
            pts, bits = self._deeper_at
            notes.append(f"{bits}-bit frames from {self._frame_name(pts)} on, after an 8-bit first frame: the "
                         "output's depth follows the first frame unless --bit-depth sets it")
        first = self._timeline.first
        if self.sequence and self.options.start <= 0 and first:  # no frame before them to stand in
            names = [self._frame_name(pts) for pts in range(min(first, SHOWN_NAMES))]
            more = f" and {first - SHOWN_NAMES} more" if first > SHOWN_NAMES else ""
            notes.append(f"{self.path}: unreadable frame file(s) {', '.join(names)}{more} left out: the film "
                         f"starts at {self._frame_name(first)}, {float(first * self.stream.time_base):.3f} s in")
        return notes

    def _frame_name(self, pts: int) -> str:
        """'scan_000123.dpx' in a folder of frames (image2 numbers them from 0 at the first file), else '1.240 s'."""
        if self.sequence:
            return Path(self.sequence.pattern % (self.sequence.first + pts)).name
        return f"{float(pts * self.stream.time_base):.3f} s"

    def _note_end(self, packet: av.Packet) -> None:
        if packet.pts is not None and packet.time_base:
            end = float((packet.pts + max(0, packet.duration or 0)) * packet.time_base)
            self._others_end_s = max(self._others_end_s, end)

    def _check_complete(self, frames: int, last_pts: int | None, last_sent: tuple[int, int] | None = None) -> None:
        """Raise InputError when the file ends well before its header says it does (a truncated file).

        The header's word is the video stream's own duration, else the container's (Matroska has only that:
        it covers every stream and counts from 0, wherever the video starts), which the file's data fall
        short of when it was cut, the sound's included. A shorter shortfall is a warning: the video of a
        damaged Matroska file silently ends where the damage starts (measured: 9 of 50 frames).
        """
        if self.stream.frames >= UNKNOWN_FRAME_COUNT:  # an AVI written to a pipe: FFmpeg could not go back to
            return  # count its frames, and its durations are guesses (a 2 s clip read as 321 s)
        declared_frames = self.stream.frames and self.stream.frames - self._hidden_frames  # the header counts those
        if not frames:
            return  # nothing decoded at all: _first_frame says so
        tb = self.stream.time_base
        step_s = float(self._default_step() * tb)
        video_end = float(last_pts * tb) + step_s if last_pts is not None else 0.0  # input time, as --duration
        if last_sent is not None and last_sent[0] == last_pts:  # a last frame held longer (an end title, a
            video_end = max(video_end, float(last_sent[1] * tb))  # slideshow) ends where its own packet says
            # (it read as 3 s missing; a review); no other packet's word counts (a damaged file passed on one)
        declared: float | None = None
        if self.stream.duration:
            declared, data_end, slack = self._stream_start_s + float(self.stream.duration * tb), video_end, 1.0
        elif self.container.duration:  # the earlier of its two readings (from 0 / from the start) is taken
            declared, data_end, slack = self.container.duration / av.time_base, max(video_end, self._others_end_s), 0.2
        if declared_frames and frames < declared_frames - 2 and frames < 0.98 * declared_frames:
            found = f"frame {frames} of {declared_frames}"
        elif declared and data_end < declared - max(slack, 3 * step_s, min(LOST_S, LOST_SHARE * declared)):
            found = f"{video_end:.1f} s of {declared:.1f} s"
        elif declared and data_end < declared - max(slack, 3 * step_s) and self.options.on_error != "fail":
            self.warnings.append(f"video data ends at {video_end:.2f} s of {declared:.2f} s: the rest of "
                                 "the input is unreadable")
            return
        elif declared and data_end < declared - max(slack, 3 * step_s):
            found = f"{video_end:.2f} s of {declared:.2f} s"
        else:
            return
        readable = max(video_end - self._file_start_s, 0.0)
        raise InputError(f"{self.path}: file is truncated or damaged: video data ends at {found} "
                         f"({self._remedy(math.floor(readable * 10) / 10)})")

    def _check_whole(self, last_pts: int | None, end_s: float | None) -> None:
        """Raise InputError when the file's container says it holds more bytes than it does (`truncation`):
        a copy or a recording cut short, however little is missing; not when the video read reaches
        ``end_s`` (--duration's end, input seconds: the part asked for is whole)."""
        tb = self.stream.time_base
        video_end = float(last_pts * tb) + float(self._default_step() * tb) if last_pts is not None else 0.0
        if (end_s is not None and video_end >= end_s - 1e-6) or self.sequence:
            return
        sizes = cut_short(self.path)
        if sizes is None:
            return
        # --duration counts from --start's first frame
        readable = max(video_end - (self._offset_s if self.options.start > 0 else self._file_start_s), 0.0)
        hint = math.floor(readable * 10) / 10
        part = (f"its video ends {readable:.2f} s in ({self._remedy(hint)})" if hint > 0
                else "too little of its video is there to colour")
        raise InputError(f"{truncated(self.path, sizes)}; {part}")

    def _remedy(self, seconds: float) -> str:
        """How to colour a damaged file's readable part: a command for this file alone (batch's --duration
        would cut every file of the batch)."""
        start = f" --start {self.options.start:g}" if self.options.start > 0 else ""
        return f"filmcolor video{start} --duration {seconds:.1f} colours the readable part"

    @property
    def _file_start_s(self) -> float:
        return (self.container.start_time or 0) / av.time_base

    def _default_step(self) -> int:
        """One frame in pts units, from the stream's frame rate; DEFAULT_FRAME_RATE's when it has none."""
        tb = self.stream.time_base
        if not tb:
            return 1
        return max(1, round(1 / ((self._stream_rate or DEFAULT_FRAME_RATE) * tb)))

    @property
    def _stream_rate(self) -> Fraction | None:
        """The frame rate the stream says (from its timestamps or its codec), or None. A film recorded in bursts
        (motion-triggered CCTV) averages far fewer frames a second than its frames' own rate, which FFmpeg's
        guess finds from their steps: that one is its rate (an audit: a 25 fps camera's pauses made it 1.9 fps,
        its frames 0.52 s apart in an .avi, an MPEG-2 output refused). A rate of one frame per
        time-base tick is FFmpeg saying it does not know: a guessed 1000 fps in Matroska, an average 60000 fps
        in a raw .dv whose frames are 2400 ticks apart and whose codec says 25 (an AVI's or a folder of
        frames' 25 on a 1/25 time base, which the codec's rate confirms, is their rate)."""
        s = self.stream
        tb = s.time_base
        codec_rate = s.codec_context.framerate
        if (s.average_rate and s.guessed_rate and tb and s.guessed_rate * tb < 1
                and s.average_rate < PAUSED_RATIO * s.guessed_rate
                and (steady := self._steady_rate) is not None and s.average_rate < PAUSED_RATIO * steady):
            return steady  # frames at one rate, with pauses between them
        if s.average_rate and (not tb or s.average_rate * tb < 1 or not codec_rate
                               or s.average_rate in (codec_rate, s.guessed_rate)):
            return Fraction(s.average_rate)
        for rate in (s.guessed_rate, codec_rate):
            if rate and (not tb or rate * tb < 1):
                return Fraction(rate)
        return Fraction(s.average_rate) if s.average_rate else None

    @functools.cached_property
    def _steady_rate(self) -> Fraction | None:
        """The rate of most of the first frames' steps (their median), read from the packets' times alone: what
        a film recorded in bursts runs at between its pauses. FFmpeg's guess is no such thing for a phone's
        film whose frames come early and late in pairs: it said 60 for a 30 fps film (a review)."""
        times: list[int] = []
        try:
            with av.open(str(self.path)) as probe:
                stream = probe.streams[self.stream.index]
                for packet in probe.demux(stream):
                    if packet.pts is not None and packet.size:
                        times.append(packet.pts)
                    if len(times) >= RATE_PROBE_PACKETS:
                        break
        except av.FFmpegError:
            return None
        steps = sorted(b - a for a, b in itertools.pairwise(sorted(set(times))))
        if len(steps) < 2 or not steps[len(steps) // 2]:
            return None
        return 1 / (steps[len(steps) // 2] * self.stream.time_base)

    def _demux(self) -> Iterator[av.Packet]:
        try:
            yield from self.container.demux(*self._demux_streams)
        except av.FFmpegError as err:
            if self.options.on_error == "fail":
                raise InputError(f"{self.path}: unreadable data after frame {self.repeated_frames} ({err})") \
                    from err
            self.warnings.append(f"input stopped early: {err}")

    def _decode(self, packet: av.Packet | None, decoder: av.CodecContext | None = None) -> Iterator[av.VideoFrame]:
        """Decoded frames (corrupt ones flagged); a packet the decoder rejects is recorded on the timeline."""
        draining = packet is None or not packet.size
        try:
            frames = (decoder or self.stream.codec_context).decode(None if draining else packet)
        except av.FFmpegError as err:
            if self.options.on_error == "fail":
                if self.sequence and not draining and packet.pts is not None:
                    raise InputError(f"{self.path}: unreadable frame file {self._frame_name(packet.pts)} "
                                     f"({ffmpeg_reason(err)})") from err
                raise InputError(f"{self.path}: corrupt video data {self._where_damaged(packet, draining)} "
                                 f"({ffmpeg_reason(err)})") from err
            self._timeline.decode_error()
            return
        for frame in frames:
            if frame.is_corrupt and self.options.on_error == "fail":
                raise InputError(f"{self.path}: corrupt video frame {_when(frame)}")
            yield frame

    def _where_damaged(self, packet: av.Packet | None, draining: bool) -> str:
        """Where a packet the decoder rejected lies: the earliest frame sent and not come back (frame threads
        report an error a frame or two after its packet), else ``packet``'s time."""
        held = self._timeline.outstanding(None)
        if held:
            return f"at {float(min(held) * self.stream.time_base) - self._stream_start_s:.3f} s"
        return "at the end of the stream" if draining or packet is None else _when(packet)

    def _recover_tail(self, wanted: set[int]) -> Iterator[av.VideoFrame]:
        """The frames sent to the decoder that neither came back nor failed by the end of the stream, decoded
        again on one thread from the keyframe before them. A frame-threaded decoder drained at the end can
        keep good frames behind an error (PyAV's drain stops at the error), or drop a bad last frame without
        any error (measured on a folder of PNG frames with 3 decoder threads: a broken next-to-last file lost
        the good last frame too; a broken last file vanished, unnamed). On one thread each frame comes back
        or fails, and a failed one is repaired as any other."""
        if not wanted:
            return
        ctx = self.stream.codec_context
        try:
            decoder = av.CodecContext.create(ctx.name, "r")
            decoder.extradata, decoder.thread_count = ctx.extradata, 1
            decoder.width, decoder.height = ctx.width, ctx.height  # what a raw decoder cannot find in the data
            self.container.seek(min(wanted), stream=self.stream, backward=True)
        except (av.FFmpegError, ValueError):
            return
        packets = self.container.demux(self.stream)  # the tail: from that keyframe to the end, one at a time
        while wanted:
            try:
                packet = next(packets)
            except (StopIteration, av.FFmpegError):
                return
            for frame in self._decode(packet, decoder):
                if frame.pts in wanted:
                    wanted.discard(frame.pts)
                    yield frame

    def _unhidden(self, packet: av.Packet) -> Iterator[av.Packet]:
        """A copied stream's packets less those an edit list hides (flagged discard: the sound an `ffmpeg -ss X
        -c copy` cut leaves before its start, which no player plays), except those just before each packet
        shown that its decoder needs first: the last one (an AAC file's priming packet, hidden too, is what
        its first sound is decoded from), and as many as its codec's pre-roll takes (Opus: 80 ms)."""
        index = packet.stream.index
        held = self._preroll.setdefault(index, deque())
        if packet.is_discard:
            held.append(packet)
            preroll = PREROLL_S.get(codec_name(packet.stream), 0.0) / float(packet.time_base or 1)
            while len(held) > 1 and packet.pts is not None and held[0].pts is not None \
                    and held[1].pts is not None and packet.pts - held[1].pts >= preroll:
                held.popleft()  # (the next one still reaches back far enough)
                self._hidden_packets[index] = self._hidden_packets.get(index, 0) + 1
            return
        yield from held
        held.clear()
        yield packet

    def _still_shown(self, packet: av.Packet, t: float) -> bool:
        """Whether a subtitle that begins before --start's first frame is still on screen then: it is kept,
        from that frame on, for the rest of its time (a line said across the cut was dropped, an audit)."""
        if packet.stream.type != "subtitle" or not packet.duration:
            return False
        end = packet.pts + packet.duration
        if float(end * packet.time_base) <= self._offset_s + 1e-9:
            return False
        start = math.ceil(self._offset_s / packet.time_base - 1e-6)
        packet.pts, packet.dts, packet.duration = start, start, end - start
        return True

    def _keep_packet(self, packet: av.Packet, end_s: float | None) -> bool:
        if packet.pts is None or packet.size == 0:
            return False
        t = float(packet.pts * packet.time_base)
        if self.options.start > 0 and t < self._offset_s - 1e-9:
            if not self._still_shown(packet, t):
                return False
        if end_s is not None and t >= end_s - 1e-9:
            return False
        if self._shift_s:
            shift = round(self._shift_s / packet.time_base)
            packet.pts -= shift
            if packet.dts is not None:
                packet.dts -= shift
        return True

    @staticmethod
    def _past_end(packet: av.Packet, end_s: float | None) -> bool:
        if end_s is None or packet.pts is None:
            return False
        return float(packet.pts * packet.time_base) >= end_s + 1

    def _luma(self, frame: av.VideoFrame) -> tuple[np.ndarray, np.ndarray | None]:
        """(full-range uint8 luma (H, W), deep luma (H, W) uint16 or None), read straight from plane 0 when the
        format has one. Deep luma comes with input deeper than 8 bits; the 8-bit luma is then made from it,
        rounded once (rounding to 8 bits and then mapping the range moved some levels by one)."""
        name = frame.format.name
        deep = _bit_depth(frame.format) > 8
        if name.startswith(("yuv", "nv", "gray")) and not name.startswith(("yuva", "gbr")):
            full = self._frame_full_range(frame)
            plane = frame.planes[0]
            depth = frame.format.components[0].bits
            if depth == 8:
                y = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[: frame.height, : frame.width]
                return (np.ascontiguousarray(y) if full else cv2.LUT(y, _LIMITED_TO_FULL)), None
            if depth <= 16:
                words = np.dtype(">u2" if frame.format.is_big_endian else "<u2")  # gray16be: a 16-bit DPX's order
                y16 = np.frombuffer(plane, words).reshape(-1, plane.line_size // 2)[: frame.height, : frame.width]
                deep_y = deep_luma(y16.astype(np.uint16), depth, full)  # astype: native order, contiguous
                return deep_to_gray(deep_y), deep_y
        if deep:  # RGB (a 10-bit DPX is gbrp10le) or another layout: Y' of its RGB (sws's own gray16 was up to
            # 3 levels of 10 bits off on neutral gray)
            deep_y = self._rgb_luma(frame)
            return deep_to_gray(deep_y), deep_y
        return frame.to_ndarray(format="gray"), None  # sws expands to full range

    @staticmethod
    def _rgb_luma(frame: av.VideoFrame) -> np.ndarray:
        """Deep luma of a frame deeper than 8 bits that has no luma plane: straight from a planar RGB scan's
        planes (G, B, R: a DPX's gbrp10le), else from its RGB made 16-bit by sws (exact for 10-bit)."""
        fmt = frame.format
        bits = fmt.components[0].bits
        if fmt.name.startswith("gbr") and bits <= 16 and not any(c.bits != bits for c in fmt.components):
            words = np.dtype(">u2" if fmt.is_big_endian else "<u2")
            g, b, r = (np.frombuffer(p, words).reshape(-1, p.line_size // 2)[: frame.height, : frame.width]
                       for p in frame.planes[:3])
            if fmt.is_big_endian:
                g, b, r = (x.astype(np.uint16) for x in (g, b, r))
            return deep_luma_of_rgb(r, g, b, bits)
        rgb = frame.to_ndarray(format="rgb48le")
        return deep_luma_of_rgb(rgb[..., 0], rgb[..., 1], rgb[..., 2], 16)

    def _conform(self, luma: tuple[np.ndarray, np.ndarray | None], pts: int, frame: av.VideoFrame,
                 resized: list[tuple[int, int, int]]) -> tuple[np.ndarray, np.ndarray | None]:
        """A later frame's luma made like the first frame's: its size (a film keeps its first frame's size,
        noted in ``resized``), and deep luma when the first frame had it (a deeper frame after an 8-bit first
        one keeps its own, noted in ``_deeper_at``)."""
        gray, deep = luma
        if deep is not None and not self._deep and self._deeper_at is None:
            self._deeper_at = (pts, _bit_depth(frame.format))
        elif deep is None and self._deep:
            deep = (gray.astype(np.uint16) * 257).astype(np.uint16)  # 255 -> 65535
        size = (self._first_av_frame.height, self._first_av_frame.width)
        if gray.shape != size:
            resized.append((pts, frame.width, frame.height))
            interpolation = cv2.INTER_AREA if gray.shape[0] > size[0] else cv2.INTER_LINEAR
            gray = cv2.resize(gray, size[::-1], interpolation=interpolation)
            deep = None if deep is None else cv2.resize(deep, size[::-1], interpolation=interpolation)
        return gray, deep

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


def display_matrix(frame: av.VideoFrame) -> tuple[int, ...] | None:
    """The frame's display matrix (FFmpeg's 3x3 of 32-bit ints, row by row: rotation and mirroring), or None."""
    try:
        sides = list(frame.side_data)
    except ValueError:  # side data of a kind PyAV has no name for (a TIFF frame's, 31): its rotation stands
        return None
    for side in sides:
        if side.type.name == "DISPLAYMATRIX" and len(bytes(side)) == 36:
            return tuple(int(v) for v in np.frombuffer(bytes(side), np.int32))
    return None


def mirrored(matrix: tuple[int, ...] | None) -> bool:
    """Whether a display matrix mirrors the picture (its 2x2 part's determinant is negative)."""
    return matrix is not None and matrix[0] * matrix[4] - matrix[1] * matrix[3] < 0


def _bit_depth(fmt: av.VideoFormat) -> int:
    """Bits per sample of a pixel format (its deepest component; 8 for the 8-bit and smaller ones)."""
    return max((c.bits for c in fmt.components), default=8)


def ffmpeg_reason(err: BaseException) -> str:
    """FFmpeg's words for an error, without PyAV's errno and function name."""
    text = getattr(err, "strerror", None) or str(err)
    return text.split(": '")[0]


def codec_name(stream: av.stream.Stream) -> str:
    """The format's name ('mp3'), not its decoder's ('mp3float')."""
    if stream.codec_context is None:
        return "unknown"
    return getattr(stream.codec_context.codec, "canonical_name", None) or stream.codec_context.name


def _stream_name(stream: av.stream.Stream, cover_art: int) -> str:
    """'video stream #2 (h264)', 'data stream #3', 'cover art #1 (mjpeg)'."""
    kind = "cover art" if stream.type == "video" and stream.disposition & cover_art else f"{stream.type} stream"
    codec = codec_name(stream) if stream.codec_context else None
    return f"{kind} #{stream.index}" + (f" ({codec})" if codec else "")
