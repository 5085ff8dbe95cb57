"""A film's sound from another file (--sound): a reel's soundtrack, scanned or transferred apart from its picture.

Archives scan a reel's picture to frames (DPX) and its sound to a file of its own (a WAV, often Broadcast WAV).
The sound file's audio streams are copied packet for packet beside the coloured picture, as the input's own
audio would be: its start falls on the film's first frame, --start and --duration cut it as they cut the
picture, and its packets are handed to the muxer interleaved with the frames, so that memory stays flat. A
sound whose length differs from the picture's says so, with the frame rate that would match it: a reel scanned
at 24 fps but shot at 18 runs a third short of its sound.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import av

from filmcolor.errors import InputError
from filmcolor.video.reader import LumaFrame, ffmpeg_reason
from filmcolor.video.timeline import PacketTimes

LEAD_S = 0.5  # sound packets go to the muxer up to this far ahead of the frame just read
MISMATCH_S = 0.5  # a sound longer or shorter than the picture by more than this is named


def has_sound(path: Path) -> bool:
    """Whether a video file has an audio stream of its own; False when it cannot be opened (colouring it then
    says why)."""
    return "audio" in stream_types(path)


def stream_types(path: Path, header_only: bool = False) -> set[str]:
    """The kinds of stream a media file holds ("video", "audio", ...); none when it cannot be opened.
    ``header_only``: read no more than a header that lists them (an MXF's), not FFmpeg's usual 5 MB probe."""
    options = {"probesize": "32768", "analyzeduration": "0"} if header_only else {}
    try:
        with av.open(str(path), options=options) as container:
            return {stream.type for stream in container.streams}
    except (av.FFmpegError, OSError, ValueError):
        return set()


def sound_problem(path: Path, start: float = 0.0) -> str:
    """Why ``path`` cannot be a film's sound from ``start`` s on (what SoundTrack refuses); '' when it can."""
    try:
        SoundTrack(path, start).close()
    except InputError as err:
        return str(err)
    return ""


class SoundTrack:
    """The audio streams of ``path``, to copy beside a film's picture. ``close()`` when done."""

    def __init__(self, path: Path, start: float = 0.0, duration: float | None = None, strict: bool = False):
        self.path = Path(path)
        self.start, self.duration, self.strict = start, duration, strict
        self.warnings: list[str] = []
        if not self.path.exists():
            raise InputError(f"{self.path}: file not found (--sound)")
        if not self.path.is_file():
            raise InputError(f"{self.path}: not a regular file (--sound takes a sound file: WAV, FLAC, ...)")
        if self.path.stat().st_size == 0:
            raise InputError(f"{self.path}: file is empty (0 bytes)")
        try:
            self.container = av.open(str(self.path), metadata_errors="ignore")
        except (av.FFmpegError, UnicodeDecodeError, ValueError) as err:
            raise InputError(f"{self.path}: not a readable sound file ({ffmpeg_reason(err)})") from err
        try:
            self._check(start)
        except BaseException:
            self.container.close()
            raise
        self._first_s: float | None = None  # output time of the film's first frame
        self._end_s = 0.0  # output time where the last sound packet copied ends
        self._shift_s = 0.0  # sound-file seconds minus output seconds

    def _check(self, start: float) -> None:
        """Refuse what cannot be the film's sound, and seek to --start."""
        self.streams = list(self.container.streams.audio)
        if not self.streams:
            raise InputError(f"{self.path}: no audio stream (--sound takes a sound file: WAV, FLAC, ...)")
        self._t0 = (self.container.start_time or 0) / av.time_base  # the file's own first time
        self.length_s = (self.container.duration or 0) / av.time_base or None  # what the file says it holds
        if start > 0 and self.length_s is not None and start >= self.length_s:
            raise InputError(f"{self.path}: --start {start:g} s is past the end of the sound ({self.length_s:.2f} s)")
        self._check_size()
        if start > 0:
            try:
                self.container.seek(int((self._t0 + start) * av.time_base), backward=True)
            except av.FFmpegError as err:
                raise InputError(f"{self.path}: cannot seek to {start:.3f} s ({ffmpeg_reason(err)})") from err

    def merge(self, items: Iterator[LumaFrame | av.Packet], time_base: Fraction,
              seconds_in: Callable[[], float] = lambda: 0.0) -> Iterator[LumaFrame | av.Packet]:
        """``items`` (a VideoReader's) with this sound's packets placed among them, LEAD_S ahead of the frames.
        ``seconds_in()``, asked at the first frame, says how far into the film that frame lies (--start's first
        frame, which may lie after --start): the sound from there goes with it."""
        packets: Iterator[av.Packet] | None = None
        waiting: av.Packet | None = None
        last_s = 0.0
        for item in items:
            if isinstance(item, LumaFrame):
                last_s = float(item.pts * time_base)
                if packets is None:
                    packets = self._packets(last_s, seconds_in())
                    waiting = next(packets, None)
                while waiting is not None and float(waiting.pts * waiting.time_base) <= last_s + LEAD_S:
                    yield waiting
                    waiting = next(packets, None)
            yield item
        if packets is not None:
            if waiting is not None:
                yield waiting
            yield from packets

    def _packets(self, first_s: float, into_s: float) -> Iterator[av.Packet]:
        """The sound's packets shifted onto the output's timeline: ``into_s`` seconds into the sound at the film's
        first frame, ``first_s``."""
        self._first_s = first_s
        self._shift_s = self._t0 + into_s - first_s
        end_s = None if self.duration is None else first_s + self.duration
        checked = PacketTimes(self.path, self.strict, shift_s=lambda: self._shift_s)
        try:
            for packet in self.container.demux(*self.streams):
                if self._shifted(packet, end_s):
                    for kept in checked.arrive(packet):
                        yield self._counted(kept)
        except av.FFmpegError as err:  # damage past which the demuxer cannot go: the sound ends there
            self.warnings.append(f"{self.path}: the sound ends early at {self._end_s + self._shift_s:.2f} s "
                                 f"({ffmpeg_reason(err)})")
        for kept in checked.arrive(None):
            yield self._counted(kept)
        self.warnings += checked.warnings()

    def _shifted(self, packet: av.Packet, end_s: float | None) -> bool:
        """Move ``packet`` onto the output's timeline; False (and left alone) when it lies outside the slice, or
        is empty. Without --start every packet from the file's start is kept, an encoder's priming packet
        (AAC's, before time 0) too, as the input's own audio keeps it."""
        if packet.pts is None or not packet.size:
            return False
        out_s = float(packet.pts * packet.time_base) - self._shift_s
        before = self.start > 0 and out_s < self._first_s - 1e-9
        if before or (end_s is not None and out_s >= end_s - 1e-9):
            return False
        shift = round(self._shift_s / packet.time_base)
        packet.pts -= shift
        if packet.dts is not None:
            packet.dts -= shift
        return True

    def _counted(self, packet: av.Packet) -> av.Packet:
        end = float((packet.pts + max(0, packet.duration or 0)) * packet.time_base)
        self._end_s = max(self._end_s, end)
        return packet

    def _check_size(self) -> None:
        """A WAV whose header promises more sound than the file holds was cut short (FFmpeg reads what is there
        and says no more): say so before the film is coloured."""
        promised, held = _wav_data_sizes(self.path)
        if promised is not None and held < promised:
            raise InputError(f"{self.path}: sound file is truncated: it holds {held:,} of the {promised:,} bytes of "
                             "sound its header says")

    def length_note(self, picture_s: float, frames: int, frame_rate: Fraction | None) -> str | None:
        """A line when the sound copied runs longer or shorter than the ``picture_s`` seconds of picture (not
        when --duration cut both); ``frame_rate``, for a folder of frames, adds the rate that would match."""
        if self._first_s is None:
            return None
        sound_s = self._end_s - self._first_s
        if self.duration is not None and sound_s >= self.duration - MISMATCH_S:
            return None
        if abs(sound_s - picture_s) <= MISMATCH_S:
            return None
        note = f"{self.path}: {sound_s:.2f} s of sound for {picture_s:.2f} s of picture"
        if frame_rate is not None and sound_s > 0:
            note += (f" (at {float(frame_rate):g} fps; the {frames} frames last as long as the sound at "
                     f"--frame-rate {frames / sound_s:.3f})")
        return note

    def close(self) -> None:
        self.container.close()


def _wav_data_sizes(path: Path) -> tuple[int | None, int]:
    """(bytes of sound a RIFF WAV's data chunk header promises, bytes after it in the file); (None, 0) for other
    files, and for RF64 / BW64 (whose sizes live elsewhere)."""
    with open(path, "rb") as f:
        if f.read(12)[8:12] != b"WAVE":
            return None, 0
        size = path.stat().st_size
        while True:
            head = f.read(8)
            if len(head) < 8:
                return None, 0
            kind, length = head[:4], struct.unpack("<I", head[4:])[0]
            if kind == b"data":
                return (None, 0) if length == 0xFFFFFFFF else (length, size - f.tell())
            f.seek(length + (length & 1), 1)  # chunks are padded to an even length
