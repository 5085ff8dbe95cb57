"""Text subtitles carried into a container that cannot hold them as they are: decoded and encoded anew by
FFmpeg's own subtitle codecs (an MP4's mov_text becomes an MKV's ASS, an MKV's SubRip an MP4's mov_text),
each cue keeping its time and length. Bitmap subtitles (DVD, Blu-ray) cannot be converted this way."""

from __future__ import annotations

import av

from filmcolor.video.reader import codec_name

# Text subtitle encoders, in the order tried after the container's own choice (FFmpeg's default for it, as the
# ffmpeg program picks): MP4 and MOV hold only mov_text, WebM only WebVTT, Matroska all of them.
TEXT_ENCODERS = ("mov_text", "ass", "subrip", "webvtt")
# Text that is not UTF-8 is read in this one: Windows' Western European, which holds Latin-1's letters, what old
# SubRip files of European films are written in
LEGACY_CHARSET = "CP1252"
PLAIN_TEXT = ("subrip", "srt", "ass", "ssa", "webvtt", "text")  # codecs whose packets are the text alone


def is_text(stream: av.stream.Stream) -> bool:
    """Whether ``stream`` is a text subtitle stream FFmpeg can decode."""
    try:
        return stream.type == "subtitle" and av.codec.Codec(codec_name(stream), "r").text_sub
    except (av.FFmpegError, ValueError):
        return False


def text_encoders(container: av.container.OutputContainer, held: set[str]) -> list[str]:
    """The text subtitle encoders ``container`` holds (``held``: its codec names), its own choice first."""
    default = container.default_subtitle_codec
    names = ((default,) if default in TEXT_ENCODERS else ()) + TEXT_ENCODERS
    return [name for name in dict.fromkeys(names) if name in held]


class TextConverter:
    """Turns one text subtitle stream's packets into packets of ``encoder`` in ``container``'s new stream."""

    def __init__(self, src: av.stream.Stream, container: av.container.OutputContainer, encoder: str):
        self.codec, self.extradata = codec_name(src), src.codec_context.extradata
        self.charset: str | None = None  # LEGACY_CHARSET once a cue was not UTF-8 (said by the writer)
        self.decoder = self._decoder()
        self._legacy: av.codec.context.CodecContext | None = None  # made for the first cue that needs it
        self.stream = container.add_stream(encoder)
        self.stream.codec_context.subtitle_header = self.decoder.subtitle_header  # (the encoder needs it open)
        self.stream.codec_context.time_base = src.time_base

    def _decoder(self, charset: str | None = None) -> av.codec.context.CodecContext:
        decoder = av.CodecContext.create(self.codec, "r")
        decoder.extradata = self.extradata
        if charset:
            decoder.options = {"sub_charenc": charset}
        decoder.open()  # makes its ASS header
        return decoder

    def convert(self, packet: av.Packet) -> av.Packet | None:
        """The cue of ``packet`` in the new codec, at its time, or None when it holds no text (mov_text's
        empty samples between cues, which only mark where one ends). A plain-text cue that is not UTF-8 (an
        old SubRip file's Latin-1: FFmpeg's decoder refused it, and the film failed; a review) is read as
        LEGACY_CHARSET, that cue alone. Raises av.FFmpegError for a cue that still does not convert."""
        try:
            cues = self.decoder.decode2(packet)
        except av.InvalidDataError:
            if self.codec not in PLAIN_TEXT:  # (mov_text's bytes hold a binary length: not text to recode)
                raise
            if self._legacy is None:
                self._legacy, self.charset = self._decoder(LEGACY_CHARSET), LEGACY_CHARSET
            cues = self._legacy.decode2(packet)
        if cues is None or not len(cues):
            return None
        out = self.stream.codec_context.encode_subtitle(cues)
        out.stream, out.time_base = self.stream, packet.time_base
        out.pts, out.dts, out.duration = packet.pts, packet.dts, packet.duration
        return out
