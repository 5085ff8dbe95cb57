"""Tiny test clips made with PyAV and numpy: gray moving patterns, optional audio, VFR, MJPEG/AVI."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

VFR_DURATIONS_MS = (40, 40, 100, 33, 67, 200, 40)  # cycled: irregular frame durations


def gray_frame(index: int, height: int, width: int) -> np.ndarray:
    """A gray (H, W) uint8 picture that changes with ``index``: a gradient and a moving bright box."""
    yy, xx = np.mgrid[0:height, 0:width]
    img = (40 + 120 * xx / max(1, width - 1) + 60 * yy / max(1, height - 1)).astype(np.float32)
    x0 = (index * 5) % max(1, width - width // 4)
    img[height // 4: height // 2, x0: x0 + width // 4] = 230
    return np.clip(img, 0, 255).astype(np.uint8)


def make_clip(path: Path, *, width: int = 96, height: int = 64, frames: int = 12, fps: int = 10,
              codec: str = "libx264", pix_fmt: str = "yuv420p", audio: str | None = None,
              vfr: bool = False, bframes: bool = True, rotation: float = 0.0, display_matrix: tuple | None = None,
              title: str | None = None, codec_options: dict[str, str] | None = None, hidden: int = 0,
              chapters: list[tuple[float, float, str]] | None = None,
              attachments: dict[str, bytes] | None = None) -> Path:
    """Write a gray clip; ``audio`` is an encoder name ("aac", "libopus") for a tone of the clip's length.

    ``codec_options`` are added to the encoder's options (e.g. ``{"flags": "+ildct+ilme"}`` for interlaced).
    ``hidden``: the first frames get negative times, which an MP4's edit list hides (what `ffmpeg -ss X -c copy`
    makes): the header counts them, no player shows them.
    ``chapters``: (start s, end s, title) each; ``attachments``: file name -> bytes (MKV only).
    """
    container = av.open(str(path), "w")
    stream = container.add_stream(codec, rate=fps)
    stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
    if vfr:
        stream.codec_context.time_base = Fraction(1, 1000)
        stream.time_base = Fraction(1, 1000)
    if codec == "libx264":
        stream.options = {"preset": "veryfast", "crf": "20", **({} if bframes else {"bf": "0"})}
    if codec_options:
        stream.options = {**stream.options, **codec_options}
    if rotation:
        stream.set_display_rotation(rotation)
    if display_matrix is not None:
        stream.set_display_matrix(display_matrix)
    if title:
        container.metadata["title"] = title
    if chapters:
        container.set_chapters([{"id": i + 1, "start": round(a * 1000), "end": round(b * 1000),
                                 "time_base": Fraction(1, 1000), "metadata": {"title": name} if name else {}}
                                for i, (a, b, name) in enumerate(chapters)])
    for name, data in (attachments or {}).items():
        container.add_attachment(name, "image/jpeg" if name.endswith(".jpg") else "application/x-truetype-font", data)
    astream = _audio_stream(container, audio) if audio else None
    video_seconds = 0.0
    pts = 0
    for i in range(frames):
        gray = gray_frame(i, height, width)
        frame = av.VideoFrame.from_ndarray(np.repeat(gray[..., None], 3, axis=2), format="rgb24")
        if vfr:
            frame.pts = pts
            frame.time_base = Fraction(1, 1000)
            step = VFR_DURATIONS_MS[i % len(VFR_DURATIONS_MS)]
            pts += step
            video_seconds += step / 1000
        else:
            frame.pts = i - hidden
            video_seconds += 1 / fps
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)
    if astream is not None:
        _add_tone(container, astream, video_seconds)
    container.close()
    return path


def _audio_stream(container: av.container.OutputContainer, codec: str) -> av.audio.stream.AudioStream:
    astream = container.add_stream(codec, rate=48000)
    astream.layout = "stereo"
    if codec == "vorbis":  # FFmpeg's own Vorbis encoder (this build has no libvorbis) is marked experimental
        astream.codec_context.options = {"strict": "experimental"}
    return astream


def _add_tone(container: av.container.OutputContainer, astream: av.audio.stream.AudioStream,
              seconds: float) -> None:
    rate = 48000
    chunk = 960
    total = int(seconds * rate)
    t = np.arange(total) / rate
    tone = (0.3 * np.sin(2 * np.pi * 440 * t) * np.linspace(0.2, 1, total)).astype(np.float32)
    samples = np.stack([tone, tone[::-1]])  # (2, total)
    fmt = astream.codec_context.codec.audio_formats[0].name
    resampler = av.AudioResampler(format=fmt, layout="stereo", rate=rate)
    for start in range(0, total, chunk):
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[:, start:start + chunk]),
                                           format="fltp", layout="stereo")
        frame.sample_rate = rate
        frame.pts = start
        for rframe in resampler.resample(frame):
            for packet in astream.encode(rframe):
                container.mux(packet)
    for packet in astream.encode(None):
        container.mux(packet)


def make_audio_only(path: Path, seconds: float = 1.0, codec: str = "aac") -> Path:
    """A sound file: a stereo tone at 48 kHz (a .wav with ``codec`` pcm_s16le: a reel's soundtrack)."""
    container = av.open(str(path), "w")
    _add_tone(container, _audio_stream(container, codec), seconds)
    container.close()
    return path


def decode_video(path: Path) -> tuple[list[float], list[np.ndarray], tuple[int, int]]:
    """(frame times in seconds, RGB frames, (width, height)) as PyAV decodes them."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        times, frames = [], []
        for frame in container.decode(stream):
            times.append(float(frame.pts * frame.time_base))
            frames.append(frame.to_ndarray(format="rgb24"))
        return times, frames, (stream.codec_context.width, stream.codec_context.height)


def decode_audio(path: Path) -> list[np.ndarray]:
    """Decoded samples of every audio stream, one (channels, samples) float array each."""
    with av.open(str(path)) as container:
        count = len(container.streams.audio)
    out = []
    for i in range(count):
        with av.open(str(path)) as container:
            chunks = [f.to_ndarray() if f.format.is_planar else f.to_ndarray().reshape(-1, len(f.layout.channels)).T
                      for f in container.decode(container.streams.audio[i])]  # packed (PCM): interleaved
        out.append(np.concatenate(chunks, axis=1) if chunks else np.zeros((0, 0)))
    return out


def audio_packets(path: Path) -> list[list[bytes]]:
    with av.open(str(path)) as container:
        packets: dict[int, list[bytes]] = {s.index: [] for s in container.streams.audio}
        for packet in container.demux(*container.streams.audio):
            if packet.size:
                packets[packet.stream.index].append(bytes(packet))
        return list(packets.values())


def color_photo(index: int, height: int = 64, width: int = 64, seed: int = 0) -> np.ndarray:
    """A colourful RGB (H, W, 3) uint8 picture: smooth random colour blobs plus a little noise."""
    import cv2

    rng = np.random.default_rng((seed, index))
    coarse = rng.integers(0, 256, size=(4, 4, 3)).astype(np.float32)
    smooth = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    noisy = smooth + rng.normal(0, 6, size=smooth.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def write_photos(folder: Path, count: int, height: int = 64, width: int = 64, seed: int = 0) -> Path:
    """Write ``count`` colour PNGs (photo_000.png ...) into ``folder``; returns the folder."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        rgb = color_photo(i, height, width, seed)
        cv2.imwrite(str(folder / f"photo_{i:03d}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return folder


def remux(src: Path, dst: Path, edit: Callable[[int, av.Packet], av.Packet | None]) -> Path:
    """Copy ``src`` packet by packet; ``edit(n, packet)`` may change or replace the n-th video packet (decode
    order), or drop it (None). Audio packets are copied as they are."""
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        streams = {s.index: out.add_stream_from_template(s) for s in inp.streams}
        video = inp.streams.video[0].index
        n = 0
        for packet in inp.demux():
            if not packet.size:
                continue
            if packet.stream.index == video:
                edited = edit(n, packet)
                n += 1
                if edited is None:
                    continue
                packet = edited
            packet.stream = streams[packet.stream.index]
            out.mux(packet)
    return dst


def garbage_packet(packet: av.Packet, seed: int) -> av.Packet:
    """A packet with ``packet``'s timestamps and size whose payload is random bytes (the decoder rejects it)."""
    data = np.random.default_rng(seed).integers(0, 256, packet.size, dtype=np.uint8).tobytes()
    out = av.Packet(data)
    out.pts, out.dts, out.time_base = packet.pts, packet.dts, packet.time_base
    out.stream = packet.stream
    return out


def video_packet_times(path: Path) -> list[float]:
    """The pts (seconds) of every video packet of ``path``, sorted: the frames its container promises."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return sorted(float(p.pts * p.time_base) for p in container.demux(stream) if p.size and p.pts is not None)


def png_bomb(path: Path, width: int, height: int, rows: int | None = None) -> Path:
    """A valid gray PNG of zeros: about 1 KB per megapixel on disk, ``width * height`` bytes once decoded.
    With ``rows`` < ``height``, a broken one: it declares ``height`` rows and holds only ``rows``."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    packer = zlib.compressobj(9)
    row = bytes(width + 1)  # filter byte 0, then the row
    idat = b"".join(packer.compress(row) for _ in range(height if rows is None else rows)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit gray
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


def make_ten_bit_clip(path: Path, lumas: list[np.ndarray], fps: int = 10) -> Path:
    """A lossless (ffv1) 10-bit clip whose frames have these luma planes (uint16 levels) and no colour: the
    decoder gives back these very levels."""
    height, width = lumas[0].shape
    with av.open(str(path), "w") as out:
        stream = out.add_stream("ffv1", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p10le"
        for i, y10 in enumerate(lumas):
            frame = av.VideoFrame(width, height, "yuv420p10le")
            for index, plane in enumerate(frame.planes):
                view = np.frombuffer(plane, np.uint16).reshape(-1, plane.line_size // 2)
                view[...] = 512
                if index == 0:
                    view[:height, :width] = y10
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def mux_gray(container: av.container.OutputContainer, codec: str, rate: int, width: int, height: int,
             pix_fmt: str, frames: int) -> None:
    """``frames`` gray frames (gray_frame's), pts 0, 1, ..., encoded with ``codec`` into an open container."""
    stream = container.add_stream(codec, rate=rate)
    stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
    for i in range(frames):
        frame = av.VideoFrame.from_ndarray(gray_frame(i, height, width), format="gray").reformat(format=pix_fmt)
        frame.pts = i
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def damaged_after_keyframe(path: Path, key_s: int = 2) -> Path:
    """A 150-frame 24 fps Matroska film with B-frames and a keyframe every 24 (each frame its number in 16 black
    or white blocks), whose two packets after the keyframe at ``key_s`` seconds are garbage."""
    whole = path.with_name(path.stem + "_whole.mkv")
    with av.open(str(whole), "w") as out:
        stream = out.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.options = {"bf": "3", "g": "24", "crf": "18"}
        for i in range(150):
            blocks = np.repeat((np.array([(i >> b) & 1 for b in range(16)], np.uint8) * 200 + 28), 4)
            frame = av.VideoFrame.from_ndarray(np.tile(blocks, (48, 1)), format="gray").reformat(format="yuv420p")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    with av.open(str(whole)) as inp, av.open(str(path), "w") as out:
        source = inp.streams.video[0]
        copy = out.add_stream_from_template(source)
        packets = [p for p in inp.demux(source) if p.size]
        key = next(n for n, p in enumerate(packets) if p.is_keyframe and p.pts * source.time_base == key_s)
        for n, packet in enumerate(packets):
            packet = garbage_packet(packet, n) if n in (key + 1, key + 2) else packet
            packet.stream = copy
            out.mux(packet)
    return path
