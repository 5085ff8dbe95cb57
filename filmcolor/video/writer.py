"""Encode RGB frames and mux them with the input's other streams (copied packet by packet) using PyAV.

Frames keep their input pts and time base, so variable frame rate survives. 4:2:0 needs even sides,
so odd-sized video is encoded 4:2:2 or 4:4:4 (same codec) to keep the exact width and height. The output
is as deep as the input (10 bits for a 10-bit master) where the codec can hold it.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from filmcolor.errors import ConfigError, OutputError
from filmcolor.options import Options, option
from filmcolor.video.avcol import (
    AVCOL_PRI_BT709,
    AVCOL_PRI_BT2020,
    AVCOL_RANGE_JPEG,
    AVCOL_RANGE_MPEG,
    AVCOL_SPC_BT470BG,
    AVCOL_SPC_BT709,
    AVCOL_SPC_SMPTE170M,
    AVCOL_TRC_ARIB_STD_B67,
    AVCOL_TRC_BT709,
    AVCOL_TRC_SMPTE2084,
)
from filmcolor.video.compose import composed_layout, full_range
from filmcolor.video.reader import FIELD_PROGRESSIVE, TOP_FIELD_FIRST, VideoInfo, codec_name, ffmpeg_reason, mirrored
from filmcolor.video.subtitles import TextConverter, is_text, text_encoders

_SPC_TO_SWS = {AVCOL_SPC_BT709: "itu709", AVCOL_SPC_BT470BG: "itu601", AVCOL_SPC_SMPTE170M: "smpte170m"}
X264_LIKE = ("libx264", "libx265")
MPEG_VIDEO_ENCODERS = ("mpeg1video", "mpeg2video")
MPEG_RATES = tuple(Fraction(n, d) for n, d in ((24000, 1001), (24, 1), (25, 1), (30000, 1001), (30, 1), (50, 1),
                                               (60000, 1001), (60, 1)))  # the frame rates MPEG-1/2 can code
CRF_ENCODERS = ("libx26", "libvpx", "libaom", "libsvtav1")  # name prefixes of the encoders that take a crf
# Encoders of a fixed quantiser instead (FFmpeg's -q:v): left at their 200 kb/s default they wrote CCTV at 31.5 dB
# of luma PSNR; quantiser 2, the scale's finest in common use, keeps it (the "visually lossless" -q:v 2)
QSCALE_ENCODERS = ("mjpeg", "mpeg4", "mpeg2video", "mpeg1video", "msmpeg4", "msmpeg4v2", "h263p", "flv")
QSCALE, FF_QP2LAMBDA = 2, 118
DEFAULT_CODEC, DEFAULT_CRF = "libx264", 18
NAMES_SHOWN = 3  # attached files named in the warning that they were dropped
MOV_FAMILY = ("mov", "mp4", "ipod", "ismv", "3gp", "3g2")  # FFmpeg's MOV muxer and its ISO BMFF kin
TITLED_CHAPTER_FORMATS = MOV_FAMILY
# output containers named, in this order, for a stream the one asked for cannot hold as it is
KEEPING_FORMATS = ((".mkv", "matroska"), (".mov", "mov"), (".mp4", "mp4"))
CHAPTER_FORMATS = ("matroska", "webm", "mov", "mp4", "ipod", "ismv", "3gp", "3g2", "ogg")  # muxers that write them
# Encoders whose bitstream says the pixels' aspect ratio. Matroska's own field is one PyAV cannot set, so for the
# others (FFV1, VP9, AV1) a .mkv or .webm loses it, and so do AVI and NUT; MOV and MP4 write it from the
# encoder's settings.
SAR_IN_BITSTREAM = ("libx264", "libx265", "mpeg1video", "mpeg2video", "mpeg4")
TIMECODE_FORMATS = (*MOV_FAMILY, "matroska", "webm", "nut", "mxf")  # muxers that keep a start timecode
ROTATION_FORMATS = (*MOV_FAMILY, "matroska", "webm")  # muxers of a display matrix
# x264 "medium" costs ~4x "veryfast" on CCTV-like footage (26 vs 123 fps at 768x576 on 2 cores): on a CPU
# the encoder would take more time than the network. Slower presets only shrink the file at a given crf.
# Above 720p even veryfast is most of the work (30 fps for a 1080p encode alone on 2 cores): superfast
# encodes 1080p 1.7x faster, at the same crf, for files ~15% larger and 0.5 dB lower luma PSNR (still ~45 dB).
PRESET_UP_TO_720P, PRESET_ABOVE_720P = "veryfast", "superfast"
AUTO_PRESET_PIXELS = 1280 * 720


# What a muxer holds beyond what FFmpeg's query says: MPEG-TS answers the query for its defaults only
# (MPEG-2 video and audio), though broadcast TS carries H.264, HEVC, AAC and AC-3 every day.
ALSO_HOLDS = {"mpegts": {"h264", "libx264", "hevc", "libx265", "aac", "ac3", "eac3", "mp3", "opus", "dvb_subtitle"},
              # a DVD's sound, which the program streams' codec lists leave out (FFmpeg names .vob's 'svcd')
              **{name: {"ac3"} for name in ("mpeg", "vob", "dvd", "svcd")},
              # Ogg's own sound, which PyAV's lists for it leave out (an audit: Vorbis and Opus were re-encoded)
              **{name: {"vorbis", "opus", "flac", "speex", "theora", "vp8"} for name in ("ogg", "ogv", "oga")}}
# What a muxer takes and should not: Vorbis in AVI read back with 2 s of sound stamped within 21 ms, and in MP4
# FFmpeg writes it under a private code few players read (an audit). It is re-encoded, and .mkv named.
NOT_HELD = {"avi": {"vorbis"}, "mp4": {"vorbis"}, "mov": {"rawvideo"}}  # (MOV's 'raw ' is RGB: Y'CbCr unreadable)
SVT_LOG, SVT_LOG_ERRORS = "SVT_LOG", "1"  # SVT-AV1's log level, read when an encoder opens (1: errors only)
# Encoders that fail on a narrow frame: SVT-AV1 4.1 hangs for ever at its flush, deaf to SIGINT and SIGTERM,
# on 160x24, 100x24, 160x8 or 16x160 (24x24 and 64x8 pass, so the rule is not simple: 32 is safe)
MIN_SIDE = {"libsvtav1": 32}
X264_CRF_MAX = 51  # x264 and x265 take crf 0-51; --crf goes to 63 for VP9 and AV1
HDR_TRANSFERS = (AVCOL_TRC_SMPTE2084, AVCOL_TRC_ARIB_STD_B67)
# AVI has no timestamps: shifting every stream by the sound's lead-in (AAC's priming, 21 ms) rounded on its
# frame count to a hole after the first frame; left unshifted, the picture starts at 0 and the sound with it
MUXER_OPTIONS = {".avi": {"avoid_negative_ts": "disabled"}}
# A sound's offset from the picture that AVI loses and a warning names: 0.1 s, past what viewers notice (ITU-R
# BT.1359: 45 ms of sound ahead, 125 ms behind); AAC's own 21 ms lead-in is not one
AVI_OFFSET_SAID_S = 0.1
# Muxers that time MPEG video by its frames' count, with no way to skip one: a pause (no frames for a while:
# motion-triggered CCTV) read back closed up, everything after it seconds ahead of its sound (an audit). There
# the frame before a pause is repeated through it, as FFmpeg's constant-rate output does; AVI writes empty
# frames for a pause, and TS, MKV and MP4 keep the frames' times.
COUNTED_FORMATS = ("mpeg", "vob", "dvd", "svcd", "vcd", "mpeg1video", "mpeg2video")
# an audio container's default video codec: none, or a cover picture's (MP3, FLAC and AIFF: "try --codec png")
NO_VIDEO_DEFAULTS = ("none", "png")
FULL_RANGE_ONLY = ("mjpeg",)  # encoders FFmpeg lets take only full-range (JPEG) Y'CbCr: 'yuvj' formats
LOSSLESS_ENCODERS = ("ffv1",)  # --codec ffv1 keeps the input's luma level for level
FFV1_ARCHIVAL = {"level": "3", "g": "1", "slicecrc": "1"}  # FFV1 as RFC 9043 and preservation practice write it

X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow",
                "placebo")


def _preset(text: str) -> str:
    """--preset's text, checked: auto, an x264/x265 preset name, or a libsvtav1 number."""
    if text == "auto" or text in X264_PRESETS or text.isdigit():
        return text
    raise ValueError(f"{text!r} is not auto, a number or one of {', '.join(X264_PRESETS)}")


_ENV_LOCK = threading.Lock()


@contextlib.contextmanager
def _quiet_svt(encoder: str) -> Iterator[None]:
    """SVT-AV1 prints its banner and settings (20 lines) and a thread-priority warning on stderr unless SVT_LOG
    says otherwise when it opens: set for the opening alone (left set, it was the host program's for good; a
    library audit), and not at all where the user has set it."""
    if encoder != "libsvtav1":
        yield
        return
    with _ENV_LOCK:  # (asked under the lock: another thread's opening saw ours as the user's; a review)
        if SVT_LOG in os.environ:
            yield
            return
        os.environ[SVT_LOG] = SVT_LOG_ERRORS
        try:
            yield
        finally:
            os.environ.pop(SVT_LOG, None)


def writable(codec: av.codec.Codec | str) -> bool:
    """Whether this FFmpeg has the encoder and it takes a pixel format the writer makes (Y'CbCr it composes,
    or RGB)."""
    if isinstance(codec, str):
        try:
            codec = av.codec.Codec(codec, "w")
        except (av.FFmpegError, ValueError):  # (theora, Ogg's own: no encoder in this FFmpeg)
            return False
    formats = [f.name for f in codec.video_formats or ()]
    return not formats or any(composed_layout(f) or f in ("rgb24", "bgr24") for f in formats)


def auto_preset(width: int, height: int) -> str:
    """The x264/x265 preset ``--preset auto`` picks for this frame size."""
    return PRESET_UP_TO_720P if width * height <= AUTO_PRESET_PIXELS else PRESET_ABOVE_720P


@dataclass(frozen=True)
class EncoderOptions(Options):
    """How the video is encoded and what happens to the input's other streams."""

    codec: str = option(DEFAULT_CODEC, "Video encoder (libx264, libx265, ...).")
    crf: int | None = option(DEFAULT_CRF, "Encoder quality (lower is better; x264/x265 take 0-51, VP9 and AV1 0-63).",
                             at_least=0, at_most=63)
    preset: str | None = option("auto", "Encoder speed preset (libx264/libx265; a number for libsvtav1): slower "
                                f"presets make smaller files, not better colour. auto: {PRESET_UP_TO_720P} up to "
                                f"1280x720, {PRESET_ABOVE_720P} above (the encoder is most of the work at 1080p).",
                                parse=lambda text: _preset(text))
    audio: str = option("copy", "copy: audio packets untouched (re-encoded, with a warning, only where the output "
                        "container cannot hold the codec); reencode: always re-encode; none: drop audio, "
                        "subtitle streams and attached files.", choices=("copy", "reencode", "none"),
                        aliases=(("--no-audio", "none", "Drop audio, subtitles and attached files (--audio "
                                  "none)."),))
    bit_depth: str = option("auto", "Bits per sample of the output video. auto: the input's (10 for a 10-bit "
                            "master or scan) as far as the codec holds them, else 8; with ffv1, 10 for full-range "
                            "8-bit frames (PNG scans), whose 256 levels 8-bit video cannot hold. 10-bit H.264 does "
                            "not play in browsers and most phones and TVs: 8 for those.",
                            choices=("auto", "8", "10", "12", "16"))
    pix_fmt: str | None = None  # None: chosen by choose_pix_fmt
    encoder_threads: int = 0  # 0: the encoder's own choice


def choose_pix_fmt(codec: av.codec.Codec, width: int, height: int, wanted: str | None = None,
                   input_depth: int = 8, bit_depth: str = "auto") -> tuple[str, list[str]]:
    """(pixel format, warnings) for ``codec`` at this size: a planar Y'CbCr format the composer builds, as
    deep as the input (or ``bit_depth``) where the codec has one, else the nearest below; with the most
    chroma subsampling the size allows (4:2:0 needs even sides, 4:2:2 an even width); else RGB."""
    formats = [f.name for f in (codec.video_formats or [])]
    if min(width, height) < MIN_SIDE.get(codec.name, 1):
        raise ConfigError(f"--codec {codec.name} cannot encode a {width}x{height} frame (it takes sides of "
                          f"{MIN_SIDE[codec.name]} or more); try --codec libx264")
    if wanted:
        if formats and wanted not in formats:
            raise ConfigError(f"--codec {codec.name} cannot encode pixel format {wanted}")
        return wanted, []
    depth = min(16, max(8, input_depth)) if bit_depth == "auto" else int(bit_depth)
    if not formats:  # the encoder does not say: the common format, as deep as asked
        return "yuv420p" if depth == 8 else f"yuv420p{depth}le", []

    def best(even: bool) -> str | None:
        """Keep as many bits as asked, then the fewest beyond them, then the most chroma subsampling that fits
        the size (``even``: as if its sides were even)."""
        layouts = {f: layout for f in formats if (layout := composed_layout(f))
                   and full_range(f) == (codec.name in FULL_RANGE_ONLY)  # (x264 lists yuvj too: video range)
                   and (even or (not width % layout[0] and not height % layout[1]))
                   and (bit_depth == "auto" or layout[2] == depth)}
        return min(layouts, default=None,
                   key=lambda f: (-min(layouts[f][2], depth), layouts[f][2], -layouts[f][0] * layouts[f][1]))

    fmt = best(even=False)
    if fmt is None and bit_depth != "auto":
        held = sorted({layout[2] for f in formats if (layout := composed_layout(f))})
        raise ConfigError(f"--bit-depth {bit_depth}: --codec {codec.name} cannot encode it"
                          + (f" (it takes {', '.join(map(str, held))})" if held else ""))
    fmt = fmt or next((f for f in ("rgb24", "bgr24") if f in formats), None)
    if fmt is None and not writable(codec):  # (GIF's palettes: "cannot encode a 64x48 frame"; an audit)
        raise ConfigError(f"--codec {codec.name} takes none of the pixel formats filmcolor writes (Y'CbCr or "
                          f"RGB: it takes {', '.join(formats[:4])}{'...' if len(formats) > 4 else ''}); try "
                          "--codec libx264")
    if fmt is None:
        raise ConfigError(f"--codec {codec.name} cannot encode a {width}x{height} frame"
                          + ("; try --codec libx264, which keeps odd sides" if width % 2 or height % 2 else ""))
    out_depth = (composed_layout(fmt) or (0, 0, 8))[2]
    notes = []
    if (width % 2 or height % 2) and fmt != (best(even=True) or fmt):
        notes.append(f"odd frame size {width}x{height}: encoded as {fmt} to keep the exact size "
                     "(4:2:0 needs even sides, 4:2:2 an even width; some players only play 4:2:0)")
    if input_depth > out_depth and bit_depth == "auto":  # not when --bit-depth asked for it
        notes.append(f"{input_depth}-bit input written as {out_depth}-bit ({codec.name} has no deeper format; "
                     "ffv1 has)")
    if codec.name == "libx264" and out_depth > 8 and bit_depth == "auto":
        notes.append(f"written as {out_depth}-bit H.264 like the input: editors, VLC and mpv play it, browsers "
                     "and most phones and TVs do not (--bit-depth 8 for those)")
    return fmt, notes


class VideoWriter:
    """Write frames (``write``) and passthrough packets (``mux``) to ``path``; ``close()`` flushes."""

    def __init__(self, path: Path, info: VideoInfo, options: EncoderOptions,
                 passthrough: list[av.stream.Stream], display_path: Path | None = None,
                 attached: list[tuple[str, str, bytes]] = ()):
        self.path = Path(path)
        self.shown = display_path or self.path
        self.info = info
        self.warnings: list[str] = []
        self._fields: av.filter.Graph | None = None  # sets each frame's field flags (_keep_interlacing)
        self._grid: tuple[Fraction, int | None] | None = None  # MPEG video, AVI: (their time base, the last tick)
        self._grid_origin: tuple[Fraction, int] | None = None  # (the first frame's time, its tick)
        self.grid_name = ""  # what the frames are moved onto, for the warning
        codec = check_encoder(options)
        depth = info.bit_depth
        if codec.name in LOSSLESS_ENCODERS and info.full_range and depth == 8:  # video's 8-bit range holds 220
            # levels of a PNG frame's 256; 10 bits hold each of them
            if options.bit_depth == "auto":
                depth = 10
                self.warnings.append(f"full-range 8-bit input written at 10 bits, so that {codec.name} keeps each "
                                     "of its 256 levels (8-bit video holds 220)")
            elif options.bit_depth == "8":
                self.warnings.append("full-range 8-bit input written in 8-bit video range, which holds 220 of its "
                                     "256 levels (--bit-depth auto keeps them all, at 10 bits)")
        self.pix_fmt, notes = choose_pix_fmt(codec, info.width, info.height, options.pix_fmt, depth,
                                             options.bit_depth)
        self.warnings += notes
        if info.pix_fmt and any(c.is_alpha for c in av.VideoFormat(info.pix_fmt).components):  # (ProRes 4444,
            # FFV1's yuva: the see-through parts came out opaque without a word; an audit)
            self.warnings.append(f"the input's transparency ({info.pix_fmt}'s alpha) not kept: every pixel is "
                                 "written opaque")
        # MPEG-2 into .mpg goes in an MPEG-2 program stream (FFmpeg's 'vob'): its 'mpeg' muxer writes MPEG-1's
        # system stream, where a 23.976 fps film read back with frames a place late
        mpeg2_ps = codec.name == "mpeg2video" and self.shown.suffix.lower() in (".mpg", ".mpeg")
        try:
            self.container = av.open(str(self.path), "w", format="vob" if mpeg2_ps else None,
                                     options=MUXER_OPTIONS.get(self.shown.suffix.lower()))
        except (av.FFmpegError, ValueError) as err:
            raise OutputError(f"{self.shown}: cannot write this kind of file ({ffmpeg_reason(err)}); "
                              "use .mp4, .mkv or .mov") from err
        try:
            self._add_video(codec, options)
            self._attached = list(attached)  # (name, MIME type, bytes): an MKV's attached pictures
            self._stream_map = self._add_passthrough(passthrough, options.audio)
            self._add_chapters()
            self._start(codec)
        except BaseException:
            self.container.close()
            raise
        self._first_pts: int | None = None
        self._last_pts: int | None = None
        self._last_step = max(1, round(1 / (info.frame_rate * info.time_base))) if info.frame_rate else 1
        self._closed = False
        self.fixed_pts = 0
        self.gridded = 0  # frames moved onto MPEG video's frame grid (a variable-rate film)
        self.filled = 0  # frames repeated through pauses (COUNTED_FORMATS)
        self._previous: av.VideoFrame | None = None  # the last frame encoded, when pauses are filled
        self.grid_drift = 0.0  # the farthest (seconds) a frame was moved from its time, so from its sound
        self.bad_audio_packets = 0
        self.bad_subtitle_cues = 0  # cues of a converted subtitle stream that would not convert, left out
        self._decoded: set[av.stream.Stream] = set()  # copied audio streams whose decoder has worked on a packet
        self._checkers: dict[av.stream.Stream, av.codec.context.CodecContext | None] = {}  # see _decodes
        self._first_sound_s: dict[av.stream.Stream, float] = {}  # each sound stream's first packet's time

    # ---- setup ----------------------------------------------------------------------------------

    def _add_video(self, codec: av.codec.Codec, options: EncoderOptions) -> None:
        info = self.info
        supported = self._holds()
        if self.container.format.name.startswith("image2"):
            raise ConfigError(f"{self.shown}: a picture's name; give the video a video file name (.mp4, .mkv, .mov)")
        if supported and codec.name not in supported:
            own = self.container.default_video_codec
            if not own or own in NO_VIDEO_DEFAULTS:  # (.wav: "cannot hold libx264" said nothing of why; an audit)
                raise ConfigError(f"{self.shown}: {self.shown.suffix or 'these'} files hold no video; give the "
                                  "video a video file name (.mp4, .mkv, .mov)")
            hint = f"; try --codec {own}" if writable(own) else ""
            holds = self._holder(codec.name)
            if holds and codec.name != DEFAULT_CODEC:  # --codec ffv1 -o x.mov: a container that holds the codec
                # asked for, before a codec that would lose what it keeps (the default: the other way round)
                hint = f"; {holds} holds it" + (f" (or --codec {own})" if hint else "")
            raise ConfigError(f"--codec {codec.name}: {self.shown.suffix or 'this'} files cannot hold it{hint}")
        stream = self.container.add_stream(codec.name, rate=info.frame_rate or 25)
        stream.width, stream.height, stream.pix_fmt = info.width, info.height, self.pix_fmt
        stream.time_base = info.time_base
        ctx = stream.codec_context
        ctx.time_base = info.time_base
        if codec.name in MPEG_VIDEO_ENCODERS:  # their bitstream counts frames at a rate of their own few
            rate = info.frame_rate or Fraction(25)
            if not any(abs(rate - r) < Fraction(1, 1000) for r in MPEG_RATES):
                raise ConfigError(f"--codec {codec.name}: MPEG video codes 23.976, 24, 25, 29.97, 30, 50, 59.94 "
                                  f"and 60 fps, and this film is {float(rate):.3f} fps; try --codec libx264")
            ctx.time_base = 1 / rate  # frames are moved onto it in write_frame
            self._grid = (Fraction(1) / rate, None)
            self.grid_name = "the frame rate MPEG video codes"
        if self.container.format.name == "avi":  # AVI counts frames, at the rate its header declares: in the
            # film's time base that rate was 600 or 1000 fps, with thousands of empty frames between the real ones
            rate = info.frame_rate or Fraction(25)
            stream.time_base = ctx.time_base = 1 / rate
            self._grid = (Fraction(1) / rate, None)
            self.grid_name = "AVI's one frame rate"
        if info.sample_aspect_ratio:
            ctx.sample_aspect_ratio = info.sample_aspect_ratio
            if info.sample_aspect_ratio != 1 and self.container.format.name not in MOV_FAMILY \
                    and codec.name not in SAR_IN_BITSTREAM:  # (the MOV family writes it from the encoder's)
                sar = info.sample_aspect_ratio
                self.warnings.append(f"the pixels' aspect ratio ({sar.numerator}:{sar.denominator}) not kept: "
                                     f"{codec.name} in {self.shown.suffix} cannot say it here (the frames show "
                                     "square); --codec libx264, or a .mp4 or .mov, keeps it")
        ctx.thread_count = options.encoder_threads
        self.colorspace = info.colorspace if info.colorspace in _SPC_TO_SWS else AVCOL_SPC_BT709
        if codec.name in FULL_RANGE_ONLY:  # JPEG's matrix is BT.601 (JFIF), which FFmpeg's MJPEG decoder applies
            self.colorspace = AVCOL_SPC_BT470BG  # whatever the tags say (BT.709 colour read 0.7 dE off; a review)
        self.yuv = self.pix_fmt.startswith("yuv")
        if self.yuv:
            ctx.colorspace = self.colorspace
            ctx.color_range = AVCOL_RANGE_JPEG if full_range(self.pix_fmt) else AVCOL_RANGE_MPEG
            unknown = (0, 2)  # reserved, unspecified
            ctx.color_primaries = AVCOL_PRI_BT709 if info.color_primaries in unknown else info.color_primaries
            ctx.color_trc = AVCOL_TRC_BT709 if info.color_trc in unknown else info.color_trc
            # each frame carries them too (write_frame): ProRes writes every frame's own into its header
            self._frame_tags = (ctx.colorspace, ctx.color_range, ctx.color_primaries, ctx.color_trc)
            if info.color_trc in HDR_TRANSFERS or info.color_primaries == AVCOL_PRI_BT2020:
                self.warnings.append("HDR or wide-gamut input (BT.2020 / PQ / HLG): its luma, primaries and "
                                     "transfer are kept and its matrix is written as BT.709; the colour is computed "
                                     "for SDR BT.709 and will look off on an HDR display")
        opts: dict[str, str] = {}
        if codec.name in QSCALE_ENCODERS:  # (FFmpeg's 200 kb/s default for them: 31.5 dB of luma; an audit)
            ctx.qscale = True
            ctx.global_quality = QSCALE * FF_QP2LAMBDA
        if options.crf is not None and codec.name.startswith(CRF_ENCODERS):
            opts["crf"] = str(options.crf)
        elif options.crf not in (None, DEFAULT_CRF):  # asked for, and this encoder has no such setting
            self.warnings.append(f"--crf {options.crf} not used: {codec.name} takes no crf")
        if options.preset not in (None, "auto") and codec.name not in X264_LIKE \
                and not (codec.name == "libsvtav1" and options.preset.isdigit()):
            takes = "a number (0-13)" if codec.name == "libsvtav1" else "no preset"
            self.warnings.append(f"--preset {options.preset} not used: {codec.name} takes {takes}")
        preset = auto_preset(info.width, info.height) if options.preset == "auto" else options.preset
        numeric_preset = codec.name == "libsvtav1" and (preset or "").isdigit()
        if preset and (codec.name in X264_LIKE or numeric_preset):
            # Known, left: x264's MB-tree with B-frames (from veryfast up) reads memory it never wrote, so the
            # same frames can encode to different bits run to run (measured: MALLOC_PERTURB_ 0 / 77 / 165 gave
            # three bitstreams; mbtree=0, rc-lookahead=0 or bframes=0 one). The pictures differ only as two
            # encodes at this crf do; turning MB-tree off would cost every file size and quality.
            opts["preset"] = preset
        if codec.name == "libx265":
            opts["x265-params"] = "log-level=error"
        if codec.name == "ffv1":  # as archives keep masters: FFV1 version 3, every frame on its own, a CRC per
            # slice so that damage is found (measured on a 2K scan: the same speed, 1% larger)
            opts.update(FFV1_ARCHIVAL)
        if info.field_order > FIELD_PROGRESSIVE:
            self._keep_interlacing(codec.name, ctx, opts)
        if self.container.format.name == "avi":  # one time a frame, in decode order: B-frames read back shuffled
            if codec.name == "libx264":
                opts["bf"] = "0"
            elif codec.name == "libx265":
                opts["x265-params"] += ":bframes=0"
            late = f" (FFmpeg reads {codec.name} in AVI one frame late)" \
                if codec.name in X264_LIKE + MPEG_VIDEO_ENCODERS else ""
            self.warnings.append(f"{self.shown.suffix} files keep no timestamps: frames are timed by their "
                                 f"count{late}; .mkv or .mp4 keep every timestamp")
        stream.options = opts
        # what was used, for the report (--preset auto resolves here)
        self.encoder = " ".join([codec.name, *(f"{k} {opts[k]}" for k in ("preset", "crf") if k in opts),
                                 *([f"q {QSCALE}"] if codec.name in QSCALE_ENCODERS else [])])
        tags = {k: v for k, v in info.metadata.items() if k.lower() not in ("encoder", *BRAND_TAGS)}
        dropped = mov_dropped_tags(self.container.format.name, tags) if self.container.format.name in MOV_FAMILY \
            else []
        if dropped:  # an iPhone's make, model, place and time of shooting (com.apple.quicktime.*), an Android
            # phone's make and model: written only as QuickTime's metadata keys (they were lost in silence; an
            # audit). FFmpeg then writes every tag so, the title too, which some players read only from iTunes'
            self.container.container_options["movflags"] = "use_metadata_tags"
            if held := [k for k in tags if k not in dropped]:
                self.warnings.append(f"the file's tags written as QuickTime metadata keys, to keep "
                                     f"{', '.join(dropped)}: players that read only iTunes-style tags will not "
                                     f"show {', '.join(held)}")
        self.container.metadata.update(tags)
        stream.metadata.update(self._track_tags(info.stream_metadata, "the video stream", also=("handler_name",)))
        timecode = next((v for tags in (info.stream_metadata, info.metadata) for k, v in tags.items()
                         if k.lower() == "timecode"), None)  # (Matroska's tag is TIMECODE)
        if timecode and self.container.format.name not in TIMECODE_FORMATS:
            self.warnings.append(f"timecode {timecode} not kept: {self.shown.suffix or 'these'} files cannot hold it; "
                                 ".mov, .mp4 and .mkv can")
        turned = info.rotation or mirrored(info.display_matrix)
        if turned and self.container.format.name in ROTATION_FORMATS:
            if info.display_matrix is not None:  # as it is: its angle alone turned a mirrored film (an audit)
                stream.set_display_matrix(info.display_matrix)
            else:
                stream.set_display_rotation(info.rotation)
        elif turned:
            what = ("mirroring" if mirrored(info.display_matrix)  # (its angle means nothing alone)
                    else f"rotation ({info.rotation % 360:g} degrees)")
            self.warnings.append(f"the input's display {what} not kept: {self.shown.suffix or 'these'} files cannot "
                                 "hold it; .mp4, .mkv and .mov can")
        try:  # now, so that an encoder that refuses these settings says so before any frame is decoded
            with _quiet_svt(codec.name):
                stream.codec_context.open()
        except av.FFmpegError as err:
            raise ConfigError(f"--codec {codec.name} cannot encode this video as {self.pix_fmt} "
                              f"({ffmpeg_reason(err)})") from err
        self.stream = stream

    def _start(self, codec: av.codec.Codec) -> None:
        """Write the header now, so that a container that refuses the video stream says so before any frame is
        decoded, naming the codec and a container that takes it (MOV lists VP9 and AV1, then refuses them
        with 'Invalid argument'). The copied streams were each tried already (``_takes``)."""
        try:
            self.container.start_encoding()
        except (av.FFmpegError, ValueError) as err:
            if self._encodes_into(codec.name):
                raise OutputError(f"{self.shown}: cannot write output ({ffmpeg_reason(err)})") from err
            holds = self._holder(codec.name)
            where = f"; {holds} holds it" if holds else ""
            raise ConfigError(f"--codec {codec.name}: {self.shown.suffix or 'this'} files cannot hold it{where}") \
                from err

    def _encodes_into(self, encoder: str, format_name: str | None = None) -> bool:
        """Whether this container's muxer (or ``format_name``'s) holds a stream of ``encoder``."""
        return encodes_into(format_name or self.container.format.name, encoder, self.pix_fmt)

    def _holder(self, encoder: str) -> str | None:
        """The first of KEEPING_FORMATS, other than this container, that holds ``encoder`` ('.mkv')."""
        return next((suffix for suffix, name in KEEPING_FORMATS
                     if name != self.container.format.name and self._encodes_into(encoder, name)), None)

    def _keep_interlacing(self, codec: str, ctx: av.codec.context.CodecContext, opts: dict[str, str]) -> None:
        """Interlaced input stays interlaced where the encoder can code it so, in the input's field order:
        players then deinterlace it as they did the input. The colour is computed per frame either way (it
        is smooth, so both fields get the same); only the luma carries the two fields' motion. Each frame is
        flagged interlaced, in that order (FFmpeg's setfield: PyAV's frames cannot say it themselves), which
        FFV1 writes into every frame and ProRes and MPEG-2 code the fields by; the container says it too."""
        top = self.info.field_order in TOP_FIELD_FIRST
        if codec == "libx264":
            opts["flags"] = "+ildct+ilme"  # interlaced coding (MBAFF)
            opts["x264-params"] = "tff=1" if top else "bff=1"
        elif codec in ("prores_ks", "mpeg2video"):  # two pictures (fields) a frame, in the frames' field order
            opts["flags"] = "+ildct" if codec == "prores_ks" else "+ildct+ilme"
        elif codec != "ffv1":  # (FFV1 codes each frame whole and losslessly, flagged)
            self.warnings.append(f"interlaced input written as progressive by {codec} (not deinterlaced: combing "
                                 "stays); --codec libx264, ffv1, prores_ks or mpeg2video keeps it interlaced")
            return
        ctx.field_order = self.info.field_order  # for the container's own flag (MOV's fiel, MKV's FieldOrder)
        self._fields = graph = av.filter.Graph()
        source = graph.add_buffer(width=self.info.width, height=self.info.height, format=self.pix_fmt,
                                  time_base=self.info.time_base)
        flags, sink = graph.add("setfield", "tff" if top else "bff"), graph.add("buffersink")
        source.link_to(flags)
        flags.link_to(sink)
        graph.configure()

    def _add_chapters(self) -> None:
        if not self.info.chapters:
            return
        if self.container.format.name not in CHAPTER_FORMATS:
            count = len(self.info.chapters)
            self.warnings.append(f"{count} chapter{'s' if count > 1 else ''} not kept: {self.shown.suffix or 'these'} "
                                 "files cannot hold them; .mkv, .mp4 and .mov can")
            return
        chapters = list(self.info.chapters)
        if self.container.format.name in TITLED_CHAPTER_FORMATS:  # MP4/MOV drop a chapter without a title
            chapters = [c if c["metadata"].get("title") else
                        {**c, "metadata": {**c["metadata"], "title": f"Chapter {i}"}}
                        for i, c in enumerate(chapters, 1)]
        self.container.set_chapters(chapters)

    def _holds(self) -> set[str]:
        """The codec (and encoder) names the output container holds; empty: FFmpeg cannot tell."""
        name = self.container.format.name
        return (set(self.container.supported_codecs or ()) | ALSO_HOLDS.get(name, set())) - NOT_HELD.get(name, set())

    def _takes(self, src: av.stream.Stream, format_name: str | None = None) -> bool:
        """Whether this container's muxer (or ``format_name``'s) writes a header with ``src`` copied into it.
        Its codec list can claim more than it takes: MOV lists Opus and FLAC and then refuses them ("Invalid
        argument")."""
        return writes_header(format_name or self.container.format.name,
                             lambda scratch: scratch.add_stream_from_template(src))

    def _elsewhere(self, src: av.stream.Stream) -> str:
        """'; .mov keeps it untouched': the first output container that takes ``src`` as it is, if any."""
        for suffix, format_name in KEEPING_FORMATS:
            if format_name != self.container.format.name and self._takes(src, format_name):
                return f"; {suffix} keeps it untouched"
        return ""

    def _add_passthrough(self, streams: list[av.stream.Stream],
                         audio: str) -> dict[av.stream.Stream, av.stream.Stream]:
        """Map input stream -> output stream: copied, or (audio only) re-encoded where it must be. The streams
        may come from several files (the input, a --sound file): they are told apart as objects."""
        supported = self._holds()
        mapping: dict[av.stream.Stream, av.stream.Stream] = {}
        self._reencode: set[av.stream.Stream] = set()
        self._converters: dict[av.stream.Stream, TextConverter] = {}  # text subtitles in another codec
        self._add_attachments([s for s in streams if s.type == "attachment"])
        for src in streams:
            if src.type == "attachment":
                continue
            name = codec_name(src)
            listed = not supported or name in supported or (src.codec_context and src.codec_context.name in supported)
            fits = listed and (src.type != "audio" or audio == "reencode" or self._takes(src))
            if src.type == "audio" and audio == "none":
                continue
            if src.type == "audio" and (audio == "reencode" or not fits):
                mapping[src] = self._add_audio_encoder(src, keep_lossless=audio != "reencode")
                self._reencode.add(src)
                new = mapping[src].codec_context.name
                what = f"{self._label(src)} ({name}) re-encoded to {new}"
                held = f"this {name} stream as it is" if listed else name  # (a TS's AAC, in ADTS, into .avi)
                why = "--audio reencode" if fits else \
                    f"{self.shown.suffix} files cannot hold {held}{self._elsewhere(src)}"
                self.warnings.append(f"{what} ({why})")
                continue
            if not fits and is_text(src) and (converter := self._text_converter(src, supported)):
                mapping[src] = converter.stream
                self.warnings.append(f"{self._label(src)} ({name}) converted to {converter.stream.codec_context.name}: "
                                     f"{self.shown.suffix} files cannot hold {name}{self._elsewhere(src)}")
                continue
            if not fits:
                self.warnings.append(f"{self._label(src)} ({name}) dropped: "
                                     f"{self.shown.suffix} files cannot hold {name}{self._elsewhere(src)}")
                continue
            mapping[src] = out = self.container.add_stream_from_template(src)
            if src.type == "audio":
                out.codec_context.layout = named_layout(src.codec_context.layout)  # the packets stay as they are
                if name.startswith("pcm_") and self.container.format.name == "mp4":  # ISO 23003-5's ipcm, new
                    self.warnings.append(f"{self._label(src)} ({name}) copied into an .mp4 as 'ipcm', which few "
                                         "players play yet; .mov or .mkv keep PCM where every player reads it")
        for src in streams:  # language, title, default / commentary / forced: what players list the tracks by
            if src in mapping:
                mapping[src].metadata.update(self._track_tags(src.metadata, self._label(src)))
                mapping[src].disposition = src.disposition
        return mapping

    def _text_converter(self, src: av.stream.Stream, supported: set[str]) -> TextConverter | None:
        """A converter of the text subtitle stream ``src`` to the first text codec this container holds."""
        for encoder in text_encoders(self.container, supported):
            try:
                self._converters[src] = TextConverter(src, self.container, encoder)
            except (av.FFmpegError, ValueError):
                continue
            return self._converters[src]
        return None

    def _track_tags(self, tags: dict[str, str], label: str, also: tuple[str, ...] = ()) -> dict[str, str]:
        """A track's lasting tags (the picture's or a copied track's, named ``label`` in warnings) as this
        container keeps them: an MP4's or MOV's track name (FFmpeg reads it as 'name', writes 'title') as its
        title, and into a .mov a language in the form its muxer keeps, the ISO 639-2/B or /T code (it keeps
        'ger' not 'deu', 'fra' not 'fre'; an audit: those tracks lost their language), or a warning when it
        keeps neither (QuickTime's table lacks 'srp', 'hrv'...). The picture's went past this (its title and
        language were lost from MP4 input; an audit)."""
        kept = _lasting_tags(tags, also)
        if "name" in kept and "title" not in kept:
            kept["title"] = kept.pop("name")
        language = kept.get("language", "")
        if self.container.format.name == "mov" and language and language != "und":
            forms = [code for code in (language, ISO639_BIBLIOGRAPHIC.get(language),
                                       ISO639_TERMINOLOGY.get(language)) if code]
            held = next((code for code in forms if mov_keeps_language(code)), None)
            if held:
                kept["language"] = held
            else:
                self.warnings.append(f"{label}'s language ({language}) not kept: .mov files hold "
                                     "QuickTime's languages only; .mp4 and .mkv keep it")
        return kept

    def _label(self, src: av.stream.Stream) -> str:
        """'audio stream #1', and the file it is in when that is not the input (a --sound file)."""
        label = f"{src.type} stream #{src.index}"
        if self.info.source and src.container.name != self.info.source:
            label += f" of {Path(src.container.name).name}"
        return label

    def _add_attachments(self, streams: list[av.stream.Stream]) -> None:
        """An MKV's attached files (the subtitles' fonts, a cover picture) go into an MKV as they are."""
        files = [(s.metadata.get("filename") or f"attachment #{s.index}",
                  s.metadata.get("mimetype") or "application/octet-stream", s.data) for s in streams]
        files += self._attached
        if not files:
            return
        names = [name for name, _, _ in files]
        if self.container.format.name != "matroska":
            shown = ", ".join(names[:NAMES_SHOWN]) + (f" and {len(names) - NAMES_SHOWN} more"
                                                     if len(names) > NAMES_SHOWN else "")
            self.warnings.append(f"{len(names)} attached file{'s' if len(names) > 1 else ''} ({shown}) dropped: "
                                 f"{self.shown.suffix} files cannot hold them; .mkv keeps them")
            return
        for name, mimetype, data in files:
            self.container.add_attachment(name, mimetype or "application/octet-stream", data)

    def _add_audio_encoder(self, src: av.audio.stream.AudioStream, keep_lossless: bool = True) -> av.stream.Stream:
        """A stream of an encoder this container holds for ``src``'s sound: with ``keep_lossless`` (not asked
        for by --audio reencode, which wants what plays everywhere), a lossless one for lossless sound (FLAC
        into .mov was made AAC, where ALAC keeps every sample; an audit); else AAC or the container's own."""
        supported = self._holds()
        lossy = ("aac", self.container.default_audio_codec, "libopus", "mp3", "ac3")
        lossless = LOSSLESS_AUDIO_ENCODERS if keep_lossless and codec_name(src).startswith(LOSSLESS_AUDIO) else ()
        for name in (*lossless, *lossy):
            try:
                codec = av.codec.Codec(name, "w")
            except (av.FFmpegError, ValueError):
                continue
            if supported and codec.name not in supported:
                continue
            if name in lossless and not writes_header(self.container.format.name,  # (MOV lists FLAC, then
                                                      lambda scratch, n=name: scratch.add_stream(n, rate=48000)):
                continue  # refuses it at its header)
            rates = codec.audio_rates
            rate = src.codec_context.sample_rate
            if rates and rate not in rates:
                rate = min(rates, key=lambda r: abs(r - rate))
            out = self.container.add_stream(codec.name, rate=rate)
            out.layout = named_layout(src.codec_context.layout)
            return out
        raise OutputError(f"{self.shown}: no audio encoder for this container; use --no-audio or .mkv")

    # ---- writing --------------------------------------------------------------------------------

    def write(self, rgb_hw3: np.ndarray, pts: int) -> None:
        """Encode one RGB uint8 (H, W, 3) frame at ``pts`` (``info.time_base`` units)."""
        frame = av.VideoFrame.from_ndarray(rgb_hw3, format="rgb24")
        if self.yuv:
            frame = frame.reformat(format=self.pix_fmt, dst_colorspace=_SPC_TO_SWS[self.colorspace],
                                   dst_color_range="JPEG" if full_range(self.pix_fmt) else "MPEG", threads=1)
        elif self.pix_fmt != "rgb24":
            frame = frame.reformat(format=self.pix_fmt, threads=1)
        self.write_frame(frame, pts)

    def write_frame(self, frame: av.VideoFrame, pts: int) -> None:
        """Encode a frame already in the stream's pixel format (its range: limited, or full for 'yuvj';
        ``self.colorspace``)."""
        if self._last_pts is not None and pts <= self._last_pts:
            # Encoders need strictly increasing pts. One tick later packed frames 0.08 ms apart (issue 14);
            # one frame later keeps the timing even. The reader already gives increasing pts: a last resort.
            pts = self._last_pts + self._last_step
            self.fixed_pts += 1
        if self._first_pts is None:
            self._first_pts = pts
        elif self._last_pts is not None:
            self._last_step = pts - self._last_pts
        self._last_pts = pts
        frame.pts = pts
        frame.time_base = self.info.time_base
        if self.yuv:  # the encoder's tags on the frame too (untagged: 'unspecified' in ProRes' frame headers)
            frame.colorspace, frame.color_range, frame.color_primaries, frame.color_trc = self._frame_tags
        if self._fields is not None:
            self._fields.push(frame)
            frame = self._fields.pull()
        if self._grid is not None:  # MPEG video and AVI count frames: one tick each, in order, whatever the times
            grid, last = self._grid
            at = pts * self.info.time_base
            if self._grid_origin is None:  # ticks count from the first frame: a film starting half a tick in
                # (a TS's, after its sound) had a hole after it; in AVI, which has no times, from tick 0
                self._grid_origin = (at, 0 if self.container.format.name == "avi" else round(at / grid))
            origin, first_tick = self._grid_origin
            tick = first_tick + round((at - origin) / grid)
            if last is not None and tick <= last:
                tick = last + 1
            moved = abs((tick - first_tick) * grid - (at - origin))
            self.gridded += moved > Fraction(1, 1000)
            self.grid_drift = max(self.grid_drift, float(moved))
            if self.container.format.name in COUNTED_FORMATS:
                if self._previous is not None and last is not None:
                    for gap_tick in range(last + 1, tick):  # (a pause: the frame before it, again)
                        self._previous.pts = gap_tick
                        self._mux_all(self.stream.encode(self._previous))
                        self.filled += 1
                self._previous = frame
            frame.pts, frame.time_base = tick, grid
            self._grid = (grid, tick)
        self._mux_all(self.stream.encode(frame))

    def mux(self, packet: av.Packet) -> None:
        """Copy one packet of a passthrough stream (dropped when its stream was not kept)."""
        src = packet.stream
        out = self._stream_map.get(src)
        if out is None:
            return
        if src.type == "audio" and src not in self._first_sound_s and packet.pts is not None:
            self._first_sound_s[src] = float(packet.pts * packet.time_base)
        if src in self._converters:
            try:
                converted = self._converters[src].convert(packet)
            except av.FFmpegError:  # (one cue: the film fails no more for it; a review)
                self.bad_subtitle_cues += 1
                return
            self._mux_all([converted] if converted is not None else [])
            return
        if src not in self._reencode:
            if out.type == "audio" and not self._decodes(packet, src):
                self.bad_audio_packets += 1
                return
            packet.stream = out
            try:
                self.container.mux(packet)
            except av.FFmpegError as err:  # AVI times sound by its packets' lengths: uneven ones collide
                at = f" at {float(packet.pts * packet.time_base):.3f} s" if packet.pts is not None else ""
                raise OutputError(f"{self.shown}: cannot copy {self._label(src)} ({codec_name(src)}){at} into "
                                  f"{self.shown.suffix} ({ffmpeg_reason(err)}){self._elsewhere(src)}; "
                                  "--audio reencode writes it anew") from err
            return
        try:
            frames = packet.decode()
        except av.FFmpegError:
            self.bad_audio_packets += 1
            return
        for frame in frames:
            try:
                packets = out.encode(frame)
            except av.FFmpegError as err:
                raise OutputError(f"{self.shown}: cannot re-encode {self._label(src)} to "
                                  f"{out.codec_context.name} ({ffmpeg_reason(err)}); --no-audio drops it") from err
            self._mux_all(packets)

    def _decodes(self, packet: av.Packet, src: av.stream.Stream) -> bool:
        """Whether a copied audio packet decodes. Damaged data in the input's sound would otherwise be copied
        as it is, and players (or `ffmpeg -xerror`) stumble on it; a good packet is copied untouched. A
        stream is judged only once its decoder has decoded one of its packets (an FFmpeg without a decoder
        for that codec judges nothing and copies all)."""
        if src not in self._checkers:
            self._checkers[src] = self._checker(src.codec_context)
        checker = self._checkers[src]
        if checker is None:
            return True
        try:
            checker.decode(packet)
        except av.FFmpegError:
            return src not in self._decoded
        self._decoded.add(src)
        return True

    @staticmethod
    def _checker(ctx: av.codec.context.CodecContext) -> av.codec.context.CodecContext | None:
        """A decoder of the writer's own for a copied audio stream; None when FFmpeg cannot make one. Judged
        with the input stream's own decoder, one damaged AAC packet after another was taken or refused at
        random (1 run in 2 on a clip with 2 KB of noise); this one is the same on every run."""
        try:
            checker = av.CodecContext.create(ctx.name, "r")
            checker.extradata, checker.sample_rate, checker.layout = ctx.extradata, ctx.sample_rate, ctx.layout
        except (av.FFmpegError, ValueError):
            return None
        return checker

    def _mux_all(self, packets: list[av.Packet] | tuple[av.Packet, ...]) -> None:
        try:
            for packet in packets:
                self.container.mux(packet)
        except av.FFmpegError as err:
            raise OutputError(f"{self.shown}: cannot write output ({ffmpeg_reason(err)})") from err

    @property
    def duration_seconds(self) -> float:
        """Span of the frames written, the last one lasting as long as the one before it."""
        if self._first_pts is None or self._last_pts is None:
            return 0.0
        return float((self._last_pts - self._first_pts + self._last_step) * self.info.time_base)

    def close(self) -> None:
        """Flush the encoder and finish the file; calling it again does nothing."""
        if self._closed:
            return
        try:
            self._mux_all(self.stream.encode(None))
            for src in self._reencode:
                self._mux_all(self._stream_map[src].encode(None))
        finally:
            self.abort()
        self.warnings += self._offsets_lost()
        self.warnings += [f"{self._label(src)} ({converter.codec}) is not UTF-8 text: read as {converter.charset}"
                          for src, converter in self._converters.items() if converter.charset]

    def _offsets_lost(self) -> list[str]:
        """AVI starts every stream at 0: a sound track that started apart from the picture now plays off it
        (an audit: 0.3 s early, or 0.5 s late, without a word)."""
        if self.container.format.name != "avi" or self._first_pts is None:
            return []
        picture_s = float(self._first_pts * self.info.time_base)
        lines = []
        for src, sound_s in self._first_sound_s.items():
            lead = sound_s - picture_s
            if abs(lead) >= AVI_OFFSET_SAID_S:
                lines.append(f"{self._label(src)} starts {abs(lead):.2f} s {'after' if lead > 0 else 'before'} the "
                             f"picture; .avi files start every stream at once, so it plays {abs(lead):.2f} s "
                             f"{'early' if lead > 0 else 'late'}; .mkv or .mp4 keep the offset")
        return lines

    def abort(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.container.close()
        except av.FFmpegError as err:
            raise OutputError(f"{self.shown}: cannot finish output ({ffmpeg_reason(err)})") from err


def check_encoder(options: EncoderOptions) -> av.codec.Codec:
    """--codec, --crf and --preset checked as every film would refuse them, whatever the film: a batch says
    it once, before its first file (it failed each video with it, as though they were bad files)."""
    try:
        codec = av.codec.Codec(options.codec, "w")
    except (av.FFmpegError, ValueError) as err:
        raise ConfigError(f"--codec {options.codec}: not an encoder in this FFmpeg build") from err
    if codec.type != "video":
        raise ConfigError(f"--codec {options.codec}: not a video encoder")
    if codec.name in X264_LIKE and options.crf is not None and options.crf > X264_CRF_MAX:
        raise ConfigError(f"--crf {options.crf}: {codec.name} takes 0-{X264_CRF_MAX}")
    if codec.name in X264_LIKE and (options.preset or "").isdigit():
        raise ConfigError(f"--preset {options.preset}: a number is for libsvtav1; {codec.name} takes auto or one "
                          f"of {', '.join(X264_PRESETS)}")
    return codec


def holding_suffixes(codec: av.codec.Codec) -> tuple[str, ...]:
    """Which of KEEPING_FORMATS' suffixes ('.mkv', '.mov', '.mp4') hold ``codec``'s video."""
    pix_fmt = next((f.name for f in codec.video_formats or ()), "yuv420p")  # ProRes takes no 4:2:0
    return tuple(suffix for suffix, name in KEEPING_FORMATS if encodes_into(name, codec.name, pix_fmt))


def encodes_into(format_name: str, encoder: str, pix_fmt: str = "yuv420p") -> bool:
    """Whether ``format_name``'s muxer holds a stream of ``encoder`` (as it is asked to, and as NOT_HELD
    allows): a small one, its header written in memory."""
    if encoder in NOT_HELD.get(format_name, ()):
        return False

    def add(scratch: av.container.OutputContainer) -> None:
        stream = scratch.add_stream(encoder, rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 64, pix_fmt
        stream.options = {"x265-params": "log-level=error"} if encoder == "libx265" else {}

    return writes_header(format_name, add)


def writes_header(format_name: str, add: Callable[[av.container.OutputContainer], object]) -> bool:
    """Whether ``format_name``'s muxer writes a header, in memory, for what ``add`` puts in it."""
    scratch = av.open(io.BytesIO(), "w", format=format_name)
    try:
        add(scratch)
        scratch.start_encoding()
        return True
    except (av.FFmpegError, ValueError):
        return False
    finally:
        with contextlib.suppress(av.FFmpegError, ValueError):
            scratch.close()


# Sound that loses nothing as it is: re-encoded (where a container cannot hold it) with an encoder that loses
# nothing either, the first of these the container takes
LOSSLESS_AUDIO = ("flac", "alac", "pcm_", "wavpack", "tta", "truehd", "mlp")
LOSSLESS_AUDIO_ENCODERS = ("flac", "alac", "pcm_s24le", "pcm_s16le")

# FFmpeg's default layouts of the channel counts that have one standard name
_DEFAULT_LAYOUTS = {1: "mono", 2: "stereo", 6: "5.1", 8: "7.1"}


# tags that describe the bits rather than the content: wrong once the stream is re-encoded or cut (mkvmerge
# writes BPS, NUMBER_OF_FRAMES, NUMBER_OF_BYTES and _STATISTICS_*; the muxers write their own DURATION)
STALE_TAGS = ("encoder", "duration", "bps", "number_of_frames", "number_of_bytes")
BRAND_TAGS = ("major_brand", "minor_version", "compatible_brands")  # an MP4's or MOV's own, written anew
# ISO 639-2 terminology codes -> bibliographic ones, the only ones the MOV muxer packs (the 20 that differ)
ISO639_BIBLIOGRAPHIC = {"sqi": "alb", "hye": "arm", "eus": "baq", "mya": "bur", "zho": "chi", "ces": "cze",
                        "nld": "dut", "fra": "fre", "kat": "geo", "deu": "ger", "ell": "gre", "isl": "ice",
                        "mkd": "mac", "mri": "mao", "msa": "may", "fas": "per", "ron": "rum", "slk": "slo",
                        "bod": "tib", "cym": "wel"}
ISO639_TERMINOLOGY = {b: t for t, b in ISO639_BIBLIOGRAPHIC.items()}


@functools.cache
def mov_keeps_language(code: str) -> bool:
    """Whether FFmpeg's MOV muxer writes this ISO 639-2 language code (QuickTime's table of languages holds
    some in their /B form, some in their /T form, many not at all)."""
    _, stream_tags = _mux_one_sample("mov", {}, {"language": code})
    return stream_tags.get("language") == code


def mov_dropped_tags(format_name: str, tags: dict[str, str]) -> list[str]:
    """The file tags FFmpeg's MP4/MOV muxer (``format_name``) leaves out as it writes by default (QuickTime's
    user data and iTunes' tags hold a fixed set of names; a name's letter case does not matter: an MKV's
    COMMENT is kept, read back as comment)."""
    if not tags:
        return []
    kept, _ = _mux_one_sample(format_name, tags, {})
    kept_names = {key.lower() for key in kept}
    return [key for key in tags if key.lower() not in kept_names]


def _mux_one_sample(format_name: str, container_tags: dict[str, str],
                    stream_tags: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """The file's and the stream's tags as read back from one sample muxed in memory with these tags: what
    the muxer keeps of them."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=format_name) as scratch:
        scratch.metadata.update(container_tags)
        stream = scratch.add_stream("aac", rate=8000, layout="mono")  # (every MOV kin takes AAC: .m4v and .3gp
        stream.metadata.update(stream_tags)  # refused the PCM sample, and every film into them failed; a review)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 8000, 0
        scratch.mux(stream.encode(frame))
        scratch.mux(stream.encode(None))
    buffer.seek(0)
    with av.open(buffer, "r", format=format_name) as back:
        return dict(back.metadata), dict(back.streams[0].metadata)


def _lasting_tags(tags: dict[str, str], also: tuple[str, ...] = ()) -> dict[str, str]:
    """A stream's tags less those that would be stale in the output (any language variant: BPS-eng)."""
    return {k: v for k, v in tags.items()
            if k.lower().split("-")[0] not in STALE_TAGS + also and not k.startswith("_STATISTICS_")}


def named_layout(layout: av.AudioLayout) -> av.AudioLayout:
    """A layout with only a channel count ('2 channels': all Matroska and AVI keep of a PCM track's layout)
    -> the count's standard layout, as FFmpeg assumes on decoding. MP4 refuses a count alone, when it
    finishes the file (after the whole film); the AAC encoder refuses it on opening."""
    count = len(layout.channels)
    if layout.name == f"{count} channels" and count in _DEFAULT_LAYOUTS:
        return av.AudioLayout(_DEFAULT_LAYOUTS[count])
    return layout
