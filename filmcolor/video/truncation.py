"""Whether a video file was cut short, by its container's own structure: the sizes its top-level parts say.

FFmpeg reads a cut Matroska, AVI or fragmented MP4 file up to where it ends and says nothing (measured: an
MKV cut at 85% gave 214 of 250 frames, a camera's fragmented MP4 cut at 60% gave 76 of 100, each with no
error), and a header's duration is too loose a measure to tell a cut from a film whose sound outlasts its
picture. The sizes are exact: a part that says it holds more bytes than the file has left was cut.
Only headers are read, never the media data.
"""

from __future__ import annotations

import struct
from pathlib import Path

EBML_MAGIC = b"\x1a\x45\xdf\xa3"
MATROSKA_SEGMENT = 0x18538067
MP4_BOX_LIMIT = 1_000_000  # top-level boxes walked at most (a camera's fragments: a few a second)
# the boxes ISO 14496-12 and QuickTime put at the top level; anything else ends the walk with no claim (text a
# tool appended, an ID3 tag), since its first bytes would be read as a size
MP4_TOP_LEVEL = {b"ftyp", b"styp", b"moov", b"moof", b"mdat", b"free", b"skip", b"wide", b"mfra", b"sidx", b"ssix",
                 b"uuid", b"meta", b"pdin", b"udta", b"emsg", b"prft", b"pnot", b"PICT", b"junk", b"etyp", b"otyp",
                 b"imda", b"jumb", b"idat", b"meco", b"bloc", b"Xtra"}
RIFF_UNKNOWN = 0xFFFFFFFF  # FFmpeg's RIFF size when it wrote to a pipe and could not go back to set it
RIFF_CHUNK_LIMIT = 10_000_000  # chunks walked at most in a piped AVI (one a frame, and one a sound packet)


def truncated(path: Path, sizes: tuple[int, int]) -> str:
    """The start of the message for a file cut short (``sizes``: cut_short's)."""
    return f"{path}: file is truncated: it holds {sizes[1]:,} bytes, and its container says at least {sizes[0]:,}"


def cut_short(path: Path) -> tuple[int, int] | None:
    """(bytes the container's structure says the file holds at least, bytes it holds) when it holds fewer;
    None when it is whole, or not a Matroska, MP4/MOV or AVI file whose sizes say (a live Matroska stream's
    unknown size, trailing bytes that are no box). An AVI written to a pipe, its sizes unknown, is judged by
    its chunks."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(12)
        if head[:4] == EBML_MAGIC:
            promised = _matroska_size(f)
        elif head[:4] == b"RIFF" and head[8:12] == b"AVI ":
            promised = _riff_size(f, size)
        elif head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"styp"):
            promised = _mp4_size(f, size)
        else:
            return None
    return (promised, size) if promised is not None and promised > size else None


def _vint(f, keep_marker: bool) -> tuple[int, int] | None:
    """An EBML variable-length integer at the file's position: (value, its length in bytes); an element
    ID keeps its length marker, a size does not (all ones: unknown, returned as -1)."""
    first = f.read(1)
    if not first or first[0] == 0:
        return None
    length = 9 - first[0].bit_length()
    rest = f.read(length - 1)
    if len(rest) < length - 1:
        return None
    value = int.from_bytes(first + rest, "big")
    if keep_marker:
        return value, length
    value &= (1 << (7 * length)) - 1
    return (-1 if value == (1 << (7 * length)) - 1 else value), length


def _matroska_size(f) -> int | None:
    """Where a Matroska file's Segment says it ends (after the EBML header), or None (unknown size)."""
    f.seek(4)
    header = _vint(f, keep_marker=False)
    if header is None or header[0] < 0:
        return None
    f.seek(header[0], 1)
    element, size = _vint(f, keep_marker=True), _vint(f, keep_marker=False)
    if element is None or size is None or element[0] != MATROSKA_SEGMENT or size[0] < 0:
        return None
    return f.tell() + size[0]


def _riff_size(f, size: int) -> int | None:
    """Where an AVI's RIFF chunks ('RIFF' 'AVI ', then OpenDML's 'RIFF' 'AVIX' ones) say the file ends."""
    at = 0
    while at + 8 <= size:
        f.seek(at)
        kind, length = struct.unpack("<4sI", f.read(8))
        if kind != b"RIFF":
            return None if at == 0 else at  # what follows the last RIFF chunk is none of its
        if length == RIFF_UNKNOWN:  # written to a pipe: its chunks say it instead
            return _chunks_end(f, at + 12, size)
        at += 8 + length + (length & 1)
    return at - 1 if at == size + 1 else at  # (a last odd chunk's pad byte, which some writers leave out)


def _chunks_end(f, at: int, size: int) -> int | None:
    """Where the chunks from ``at`` on say the file ends, entering each list whose size is unknown (a piped
    AVI's 'movi'), for a RIFF chunk of unknown size; None when one is no chunk (four letters)."""
    for _ in range(RIFF_CHUNK_LIMIT):
        if at + 8 > size:
            return at if at > size else size
        f.seek(at)
        kind, length = struct.unpack("<4sI", f.read(8))
        if not all(32 <= c < 127 for c in kind):
            return None
        if kind in (b"LIST", b"RIFF") and length == RIFF_UNKNOWN:
            at += 12  # its list type, then its chunks
            continue
        at += 8 + length + (length & 1)
        if at > size + 1:  # (a last odd chunk's pad byte may be missing)
            return at
    return None


def _mp4_size(f, size: int) -> int | None:
    """Where an MP4's or MOV's top-level boxes say the file ends; None when a box is no box (four letters)."""
    at = 0
    for _ in range(MP4_BOX_LIMIT):
        if at + 8 > size:
            return at if at > size else size
        f.seek(at)
        length, kind = struct.unpack(">I4s", f.read(8))
        if kind not in MP4_TOP_LEVEL:
            return None
        if length == 1:  # a 64-bit size follows
            large = f.read(8)
            if len(large) < 8:
                return at + 16
            length = struct.unpack(">Q", large)[0]
        elif length == 0:  # to the end of the file
            return size
        if length < 8:
            return None
        at += length
    return None
