"""A TIFF's image file directories (IFDs) at the byte level, and so an EXIF block's, which is a small TIFF:
read, patched in place, and copied entry for entry (tag types, counts, value bytes) into another file.

Pillow rebuilds what it reads (UNDEFINED becomes BYTE, an Interop IFD is lost) and tifffile refuses to write
the EXIF's sub-IFD pointers, so what must stay as it was is moved here, by offsets. Classic TIFF; a
BigTIFF's first directory is read for its values only (`first_values`).
"""

from __future__ import annotations

import contextlib
import logging
import struct
from collections.abc import Collection, Iterator

from PIL import ExifTags

CLASSIC_MAGIC, BIG_MAGIC = 42, 43  # the header's number after the byte order
TIFF_HEADS = (b"II*\x00", b"MM\x00*")
BIGTIFF_HEADS = (b"II+\x00", b"MM\x00+")
TIFF_SHORT, TIFF_LONG = 3, 4  # entry types
# tifffile writes no Exif or GPS IFD pointer (it refuses the tags), so private tags next to them in number stand
# in for them, in the sorted place the real ones take, and are renamed once their IFDs are written
SUB_IFD_STAND_INS = {ExifTags.IFD.Exif: int(ExifTags.IFD.Exif) + 1, ExifTags.IFD.GPSInfo: int(ExifTags.IFD.GPSInfo) + 1}
# the bytes of one value of each TIFF type (129: EXIF 3.0's UTF-8); an entry of another type is left out
TIFF_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 129: 1}
DROPPED_SUB_IFD_TAGS = (ExifTags.Base.MakerNote,)  # its offsets point into the file it came from: named as lost


def ifd0(tiff: bytes) -> tuple[str, int, list[tuple[int, int, int, int]]] | None:
    """(byte order, offset of the next-IFD link, [(offset, tag, type, count)] of each entry) of IFD0."""
    if len(tiff) < 8 or tiff[:2] not in (b"II", b"MM"):
        return None
    order = "<" if tiff[:2] == b"II" else ">"
    magic, first = struct.unpack(order + "HI", tiff[2:8])
    parsed = ifd_at(tiff, order, first) if magic == CLASSIC_MAGIC else None
    return (order, *parsed) if parsed else None


def ifd_at(tiff: bytes, order: str, start: int) -> tuple[int, list[tuple[int, int, int, int]]] | None:
    """(offset of the next-IFD link, [(offset, tag, type, count)] of each entry) of the IFD at ``start``."""
    if start + 2 > len(tiff):
        return None
    count = struct.unpack(order + "H", tiff[start:start + 2])[0]
    link = start + 2 + 12 * count
    if link + 4 > len(tiff):
        return None
    return link, [(at, *struct.unpack(order + "HHI", tiff[at:at + 8])) for at in range(start + 2, link, 12)]


def swap_entries(out: bytearray, entries: list[tuple[int, int, int, int]], first: int, second: int) -> None:
    """Swap the values (type, count and value or its offset) of two tags of an IFD; when it has one of them,
    that one becomes the other (their numbers are next to each other, so the IFD stays in order)."""
    found = {tag: at for at, tag, _, _ in entries if tag in (first, second)}
    if len(found) == 2:
        a, b = found[first], found[second]
        out[a + 2:a + 12], out[b + 2:b + 12] = out[b + 2:b + 12], out[a + 2:a + 12]
    elif len(found) == 1:
        (tag, at), = found.items()
        order = "<" if out[:2] == b"II" else ">"
        out[at:at + 2] = struct.pack(order + "H", second if tag == first else first)


@contextlib.contextmanager
def quiet_tifffile() -> Iterator[None]:
    """tifffile's log lines (a tag it cannot read: "<TiffTag.fromfile> raised ...") kept off the terminal while
    it reads a file for us: what it cannot read, we say or do without."""
    log = logging.getLogger("tifffile")
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        log.setLevel(level)


def sub_ifd_offsets(exif: bytes) -> dict[ExifTags.IFD, int]:
    """Where an EXIF's Exif and GPS sub-IFDs start (IFD0's pointers), those it has."""
    parsed = ifd0(exif)
    if parsed is None:
        return {}
    order, _, entries = parsed
    return {ExifTags.IFD(tag): struct.unpack(order + "I", exif[at + 8:at + 12])[0]
            for at, tag, kind, count in entries if tag in SUB_IFD_STAND_INS and count == 1}


def add_sub_ifds(tiff: bytes, exif: bytes, sub_ifds: dict[ExifTags.IFD, int]) -> tuple[bytes, list[str]]:
    """``tiff`` (tifffile's, in the EXIF's byte order, with SUB_IFD_STAND_INS in IFD0) with the EXIF's
    ``sub_ifds`` (IFD -> where it starts in ``exif``) copied after it entry for entry, and pointed to from IFD0
    as the EXIF standard has them; and the names of those it could not copy (all of them in a BigTIFF)."""
    names = {ExifTags.IFD.Exif: "Exif", ExifTags.IFD.GPSInfo: "GPS"}
    parsed = ifd0(tiff)  # None for a BigTIFF
    if parsed is None:
        return tiff, [names[ifd] for ifd in sub_ifds]
    order, _, entries = parsed
    out, not_written = bytearray(tiff), []
    for ifd, start in sub_ifds.items():
        out += bytes(len(out) % 2)  # an IFD starts on a word boundary
        moved = moved_ifd(exif, order, start, len(out), DROPPED_SUB_IFD_TAGS, nested_ok=ifd == ExifTags.IFD.Exif)
        if moved is not None and len(moved) > len(exif):  # values that overlap or repeat: no EXIF makes more
            moved = None
        if moved is None:
            not_written.append(names[ifd])
            continue
        at = next(at for at, tag, _, _ in entries if tag == SUB_IFD_STAND_INS[ifd])
        out[at:at + 12] = struct.pack(order + "HHII", int(ifd), TIFF_LONG, 1, len(out))
        out += moved
    return bytes(out), not_written


def moved_ifd(exif: bytes, order: str, start: int, base: int, dropped: Collection[int],
               nested_ok: bool = True) -> bytes | None:
    """The IFD at ``start`` of an EXIF block, as it is (tag types, counts and value bytes), less ``dropped`` and
    pointers to IFDs that do not belong there, rewritten to sit at offset ``base`` of a file of the same byte
    order: its values follow it, and an Interop IFD it points to follows them (one level: an Interop IFD that
    points on, even to itself, is not followed). None when it cannot be followed."""
    parsed = ifd_at(exif, order, start)
    if parsed is None:
        return None
    misplaced = set(SUB_IFD_STAND_INS) | ({ExifTags.IFD.Interop} if not nested_ok else set())
    kept = [(at, tag, kind, count) for at, tag, kind, count in parsed[1]
            if tag not in dropped and tag not in misplaced and kind in TIFF_TYPE_SIZES]
    values_at = base + 2 + 12 * len(kept) + 4
    table, values, nested = bytearray(struct.pack(order + "H", len(kept))), bytearray(), []
    for at, tag, kind, count in kept:
        field, size = exif[at + 8:at + 12], TIFF_TYPE_SIZES[kind] * count
        if tag == ExifTags.IFD.Interop:
            nested.append((len(table) + 8, struct.unpack(order + "I", field)[0]))
        elif size > 4:
            offset = struct.unpack(order + "I", field)[0]
            if offset + size > len(exif):  # a value outside the block: no value to copy
                return None
            field = struct.pack(order + "I", values_at + len(values))
            values += exif[offset:offset + size] + bytes(size % 2)
        table += struct.pack(order + "HHI", tag, kind, count) + field
    table += bytes(4)  # no next IFD
    for pointer, offset in nested:
        inner = moved_ifd(exif, order, offset, values_at + len(values), (), nested_ok=False)
        if inner is None or len(inner) > len(exif):  # an Interop IFD that cannot be followed: its pointer goes
            return moved_ifd(exif, order, start, base, (*dropped, ExifTags.IFD.Interop), nested_ok)
        table[pointer:pointer + 4] = struct.pack(order + "I", values_at + len(values))
        values += inner
    return bytes(table + values)


def first_values(data: bytes | memoryview) -> dict[int, int]:
    """The first value of each SHORT or LONG tag of a TIFF's (or BigTIFF's) first directory (the page OpenCV
    reads), when it sits in the entry (one value; a SHORT's first of two or four)."""
    order = "little" if data[:2] == b"II" else "big"
    big = int.from_bytes(data[2:4], order) == BIG_MAGIC  # 8-byte offsets and counts, 20-byte entries
    ifd = int.from_bytes(data[8:16] if big else data[4:8], order)
    count_size, entry_size, field = (8, 20, 4) if big else (2, 12, 4)
    count = int.from_bytes(data[ifd:ifd + count_size], order)
    tags: dict[int, int] = {}
    for i in range(count):
        at = ifd + count_size + entry_size * i
        entry = data[at:at + entry_size]
        tag, kind = int.from_bytes(entry[0:2], order), int.from_bytes(entry[2:4], order)
        values = int.from_bytes(entry[field:field + (8 if big else 4)], order)
        value = entry[field + (8 if big else 4):]
        if kind == 3 and values <= (4 if big else 2) or kind == 4 and values == 1:
            tags[tag] = int.from_bytes(value[:2] if kind == 3 else value[:4], order)
    return tags
