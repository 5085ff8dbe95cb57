"""JPEG 2000 boxes: what a .jp2 scan says of itself, and the same said in its coloured copy (ISO 15444-1, annex I).

OpenCV reads and writes a .jp2's picture (OpenJPEG) and none of its boxes; Pillow reads its header alone. A
library's JPEG 2000 scan keeps its description in boxes: XMP, EXIF and IPTC each in a 'uuid' box (as ExifTool,
Exiv2 and Kakadu write them) and its colour profile in the header's 'colr' box. Boxes are walked by their
headers, so a large scan's codestream is never read here.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from filmcolor.fsutil import FileBytes

SIGNATURE = b"\x00\x00\x00\x0cjP  \r\n\x87\n"  # the signature box: a .jp2 file's first 12 bytes
CODESTREAM = b"\xff\x4f\xff\x51"  # a JPEG 2000 codestream's start: SOC, then SIZ
UUID_EXIF = b"JpgTiffExif->JP2"  # the 'uuid' boxes' identifiers, as ExifTool and Exiv2 know them
UUID_XMP = bytes.fromhex("be7acfcb97a942e89c71999491e3afac")
UUID_IPTC = bytes.fromhex("33c7a4d2b81d4723a0baf1a3e097ad38")
ICC_METHODS = (2, 3)  # a 'colr' box's methods that hold an ICC profile (restricted, any)
INCH_M = 0.0254  # metres an inch
DPI_RANGE = (1.0, 1e6)  # a resolution outside this (dots per inch) is a broken box, not a scan's
MAX_BOX_READ = 64 << 20  # a metadata box larger than this is no description: left unread


@dataclass(frozen=True)
class Boxes:
    """The metadata boxes of a .jp2 file, as they are."""

    exif: bytes | None = None  # a TIFF structure (an "Exif\0\0" some writers put before it taken off)
    xmp: bytes | None = None
    iptc: bytes | None = None  # the IPTC record (IIM datasets)
    icc: bytes | None = None  # the header's colour profile
    dpi: tuple[float, float] | None = None  # (horizontal, vertical) from the header's capture resolution box


def read(path: Path) -> Boxes:
    """The metadata boxes of the .jp2 file ``path``; empty when it is none, or they cannot be read. Only the
    boxes' headers and the metadata boxes are read (`fsutil.FileBytes`), never the codestream."""
    try:
        with open(path, "rb") as file:
            return parse(FileBytes(file))
    except OSError:
        return Boxes()


def parse(data: bytes | memoryview | FileBytes) -> Boxes:
    """The metadata boxes of a .jp2 file's ``data`` (its bytes, or `read`'s FileBytes); empty when it is no
    .jp2, or they cannot be read (a file cut short meanwhile reads short)."""
    found: dict[str, bytes] = {}
    try:
        if bytes(data[:12]) != SIGNATURE:
            return Boxes()
        for kind, start, end in boxes(data, 12, len(data)):
            if end - start > MAX_BOX_READ:
                continue
            if kind == b"uuid":
                name = {UUID_EXIF: "exif", UUID_XMP: "xmp", UUID_IPTC: "iptc"}.get(bytes(data[start:start + 16]))
                if name and name not in found:
                    found[name] = bytes(data[start + 16:end])
            elif kind == b"xml " and any(mark in bytes(data[start:end]) for mark in (b"<x:xmpmeta", b"<rdf:RDF")):
                found.setdefault("xml", bytes(data[start:end]))  # XMP as some tools write it: if no uuid one
            elif kind == b"jp2h":
                header = bytes(data[start:end])
                found.update({k: v for k, v in (("icc", _colr_profile(header)), ("dpi", _resolution(header)))
                              if v})
    except (OSError, ValueError, struct.error):
        return Boxes()
    exif = found.get("exif")
    return Boxes(exif.removeprefix(b"Exif\x00\x00") if exif else None, found.get("xmp") or found.get("xml"),
                 found.get("iptc"), found.get("icc"), found.get("dpi"))


def precision(data: bytes | memoryview) -> list[int]:
    """Bits of each component, from the codestream's SIZ marker (a .jp2's 'jp2c' box, or a bare codestream
    ``data``); [] when not found. OpenJPEG hands a 12-bit picture over as 0-4095 in 16 bits."""
    start = 0 if bytes(data[:4]) == CODESTREAM else next(
        (at for kind, at, _ in boxes(data, 12, len(data)) if kind == b"jp2c"), None)
    if start is None or bytes(data[start:start + 4]) != CODESTREAM or start + 42 > len(data):
        return []
    count = struct.unpack(">H", bytes(data[start + 40:start + 42]))[0]  # Csiz, after SOC, SIZ, Lsiz, Rsiz, 8 sizes
    if start + 42 + 3 * count > len(data):
        return []
    return [(data[start + 42 + 3 * i] & 0x7F) + 1 for i in range(count)]  # Ssiz, XRsiz, YRsiz each


def size(data: bytes | memoryview) -> tuple[int, int] | None:
    """(width, height) from the header's 'ihdr' box (height, then width), without decoding; None if not found."""
    for kind, start, end in boxes(data, 12, len(data)):
        if kind == b"jp2h":
            for inner, at, _ in boxes(data, start, end):
                if inner == b"ihdr":
                    height, width = struct.unpack(">II", bytes(data[at:at + 8]))
                    return width, height
    return None


def with_boxes(encoded: bytes, exif: bytes | None, xmp: bytes | None, iptc: bytes | None,
               dpi: tuple[float, float] | None = None) -> bytes:
    """``encoded`` (OpenCV's .jp2) with 'uuid' boxes of ``exif`` (a TIFF structure), ``xmp`` and ``iptc`` (an IIM
    record) after its header box, where readers look for them, and ``dpi`` as the header's capture
    resolution ('res ', then 'resc')."""
    added = b"".join(_box(b"uuid", uuid + content) for uuid, content in
                     ((UUID_EXIF, exif), (UUID_XMP, xmp), (UUID_IPTC, iptc)) if content)
    header = next(((start, end) for kind, start, end in boxes(encoded, 12, len(encoded)) if kind == b"jp2h"), None)
    if header is None:
        return encoded
    start, end = header
    inner = encoded[start:end]
    if dpi and not any(kind == b"res " for kind, _, _ in boxes(inner, 0, len(inner))):
        inner += _box(b"res ", _box(b"resc", _resolution_fields(*dpi)))
    return encoded[:start - 8] + _box(b"jp2h", inner) + added + encoded[end:]


def _resolution(header: bytes) -> tuple[float, float] | None:
    """(horizontal, vertical) dots per inch of a header box's 'res ' box: its capture resolution ('resc'), else
    its default display resolution ('resd'); each is numerator / denominator x 10^exponent grid points a metre."""
    for kind, start, end in boxes(header, 0, len(header)):
        if kind == b"res ":
            found = {inner: header[at:stop] for inner, at, stop in boxes(header, start, end)}
            for fields in (found.get(b"resc"), found.get(b"resd")):
                if fields is None or len(fields) < 10:
                    continue
                vn, vd, hn, hd, ve, he = struct.unpack(">HHHHbb", fields[:10])
                if vn and vd and hn and hd:
                    dpi = (hn / hd * 10.0 ** he * INCH_M, vn / vd * 10.0 ** ve * INCH_M)
                    if all(DPI_RANGE[0] <= v <= DPI_RANGE[1] for v in dpi):
                        return dpi
            return None
    return None


def _resolution_fields(horizontal_dpi: float, vertical_dpi: float) -> bytes:
    """A 'resc' box's fields for a resolution in dots per inch: grid points a metre as N / 1 x 10^E."""
    def per_metre(dpi: float) -> tuple[int, int]:
        value, exponent = dpi / INCH_M, 0
        while round(value) > 65535:
            value, exponent = value / 10, exponent + 1
        return max(1, round(value)), exponent

    (hn, he), (vn, ve) = per_metre(horizontal_dpi), per_metre(vertical_dpi)
    return struct.pack(">HHHHbb", vn, 1, hn, 1, ve, he)


def boxes(data: bytes | memoryview, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, content start, box end) of each box of ``data[start:end]``, in order."""
    pos = start
    while pos + 8 <= end:
        length, kind = struct.unpack(">I4s", bytes(data[pos:pos + 8]))
        header = 8
        if length == 1:  # the length in the next 8 bytes
            if pos + 16 > end:
                return
            length, header = struct.unpack(">Q", bytes(data[pos + 8:pos + 16]))[0], 16
        elif length == 0:  # to the end
            length = end - pos
        if length < header or pos + length > end:
            return
        yield kind, pos + header, pos + length
        pos += length


def _colr_profile(header: bytes) -> bytes | None:
    """The ICC profile of a header box's first 'colr' box, when it holds one (readers use the first alone)."""
    for kind, start, end in boxes(header, 0, len(header)):
        if kind == b"colr":
            return header[start + 3:end] if end - start > 3 and header[start] in ICC_METHODS else None
    return None


def _box(kind: bytes, content: bytes) -> bytes:
    return struct.pack(">I", 8 + len(content)) + kind + content
