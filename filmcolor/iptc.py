"""IPTC (IPTC-IIM records: captions, keywords, credits) as JPEG, TIFF and Photoshop keep it: a JPEG's APP13
holds Photoshop's image resources, one of which holds the record; a TIFF holds the resources (tag 34377)
and the record on its own (tag 33723)."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from filmcolor.tiffifd import quiet_tifffile

JPEG_HEADER = b"Photoshop 3.0\x00"
IPTC_TIFF_TAG, PHOTOSHOP_TIFF_TAG = 33723, 34377  # IPTC-NAA; Photoshop's image resources
IPTC_RESOURCE = b"8BIM\x04\x04"  # the Photoshop image resource that holds IPTC
RESOURCE_SIGNATURES = (b"8BIM", b"MeSa", b"PHUT", b"AgHg", b"DCSR")  # of image resources (Photoshop, ImageReady)


def from_tiff(path: Path) -> bytes | None:
    """A TIFF's IPTC as a JPEG's APP13 payload: the IPTC resource of its Photoshop resources (tag 34377), or
    else its IPTC-NAA record (tag 33723) put in such a resource. Read by tifffile: Pillow keeps one value of
    33723, which Photoshop types as LONGs."""
    import tifffile

    try:
        with quiet_tifffile(), tifffile.TiffFile(path) as tif:
            tags, order = tif.pages.first.tags, tif.byteorder
            resources, record = (tags[code].value if code in tags else None
                                 for code in (PHOTOSHOP_TIFF_TAG, IPTC_TIFF_TAG))
    except Exception:  # noqa: BLE001 - a TIFF tifffile cannot read has no IPTC to carry
        return None
    resource = _iptc_resource(resources)
    if resource is None:
        if isinstance(record, tuple | int):  # LONGs: their bytes, in the file's order
            record = np.asarray(record, dtype=np.int64).astype(order + "u4").tobytes()
        if isinstance(record, bytes):
            return as_app13(record)
    return JPEG_HEADER + resource if resource else None


def as_app13(record: bytes) -> bytes | None:
    """An IPTC record (IIM datasets) as a JPEG's APP13 payload: one Photoshop resource that holds it."""
    if not record.startswith(b"\x1c"):  # an IIM record starts with its tag marker
        return None
    record = record[:_record_length(record)]  # Photoshop's LONGs pad it to 4 bytes
    return (JPEG_HEADER + IPTC_RESOURCE + b"\x00\x00" + struct.pack(">I", len(record)) + record
            + bytes(len(record) % 2))


def record_of(iptc: bytes | None) -> bytes | None:
    """The IPTC record (IIM datasets) of a JPEG's APP13 payload: its IPTC resource's data."""
    resources = iptc.removeprefix(JPEG_HEADER) if iptc else None
    return next((data for block, data in _resources(resources) if block.startswith(IPTC_RESOURCE)), None)


def _record_length(record: bytes) -> int:
    """How many bytes of ``record`` its IIM datasets fill (0x1C, record, dataset, length, data: each in turn)."""
    at = 0
    while record[at:at + 1] == b"\x1c" and at + 5 <= len(record):
        length = struct.unpack(">H", record[at + 3:at + 5])[0]
        if length & 0x8000:  # an extended dataset: the next (length & 0x7FFF) bytes hold its length
            octets = length & 0x7FFF
            length = int.from_bytes(record[at + 5:at + 5 + octets], "big")
            at += octets
        at += 5 + length
    return min(at, len(record))


def _iptc_resource(resources: object) -> bytes | None:
    """The IPTC resource (id 0x0404) of Photoshop's image resources, as it is; None when there is none."""
    return next((block for block, _ in _resources(resources) if block.startswith(IPTC_RESOURCE)), None)


def _resources(resources: object) -> Iterator[tuple[bytes, bytes]]:
    """(the block, its data) of each of Photoshop's image resources ("8BIM", id, Pascal name, size, data)."""
    if not isinstance(resources, bytes):
        return
    at = 0
    while resources[at:at + 4] in RESOURCE_SIGNATURES and at + 8 <= len(resources):
        name_length = resources[at + 6]
        size_at = at + 6 + name_length + 1 + (name_length + 1) % 2  # the name is padded to an even length
        if size_at + 4 > len(resources):
            return
        size = struct.unpack(">I", resources[size_at:size_at + 4])[0]
        if size_at + 4 + size > len(resources):  # cut short: a block that says it holds more than is there
            return
        end = size_at + 4 + size + size % 2
        yield resources[at:end], resources[size_at + 4:size_at + 4 + size]
        at = end
