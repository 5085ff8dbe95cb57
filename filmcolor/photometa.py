"""A photo's own metadata carried into its coloured copy: EXIF, XMP and IPTC (captions, dates, places, credits).

Archives describe their scans in these: who took the picture, when, where, under what licence, with which
caption and keywords. The coloured picture keeps them in a JPEG or PNG output, less what would now be
wrong: the orientation (the output is written upright, as viewers show the input), the pixel dimensions,
the EXIF thumbnail (a gray picture), the maker notes (offsets into the old file) and the file-structure tags
of a TIFF. Pillow (a dependency of scikit-image) parses and writes the EXIF; the segments and chunks that
hold them are spliced into OpenCV's encoded bytes, so the picture itself is encoded as without metadata.
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image

# IFD0 tags that describe the picture rather than the file's layout (a TIFF's IFD0 also holds its strips)
KEPT_IFD0 = (
    ExifTags.Base.ImageDescription, ExifTags.Base.Make, ExifTags.Base.Model, ExifTags.Base.XResolution,
    ExifTags.Base.YResolution, ExifTags.Base.ResolutionUnit, ExifTags.Base.DateTime, ExifTags.Base.Artist,
    ExifTags.Base.Copyright, ExifTags.Base.XPTitle, ExifTags.Base.XPComment, ExifTags.Base.XPAuthor,
    ExifTags.Base.XPKeywords, ExifTags.Base.XPSubject,
)
# Exif sub-IFD tags that would be wrong or broken in the new file
DROPPED_EXIF = (ExifTags.Base.ExifImageWidth, ExifTags.Base.ExifImageHeight, ExifTags.Base.MakerNote,
                ExifTags.Base.ExifInteroperabilityOffset)
JPEG_APP_PAYLOAD_MAX = 65533  # a JPEG marker segment's length field counts itself: 65535 - 2
XMP_JPEG_NAMESPACE = b"http://ns.adobe.com/xap/1.0/\x00"
XMP_PNG_KEYWORD = b"XML:com.adobe.xmp"
IPTC_JPEG_HEADER = b"Photoshop 3.0\x00"
ORIENTATION = ExifTags.Base.Orientation


@dataclass(frozen=True)
class PhotoMetadata:
    exif: bytes | None = None  # a TIFF structure (no "Exif\0\0" prefix), orientation left out
    xmp: bytes | None = None  # the XMP packet
    iptc: bytes | None = None  # a JPEG's APP13 payload ("Photoshop 3.0" resources), carried JPEG to JPEG

    def __bool__(self) -> bool:
        return bool(self.exif or self.xmp or self.iptc)


def _open(source: bytes | memoryview | Path) -> Image.Image | None:
    """Pillow's lazy open (headers only) of encoded bytes or a file."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns on odd EXIF; what it can read is enough here
            return Image.open(io.BytesIO(source) if isinstance(source, bytes | memoryview) else source)
    except Exception:  # noqa: BLE001 - any format Pillow cannot open simply has no metadata to carry
        return None


def orientation(data: bytes | memoryview) -> int:
    """The EXIF orientation (1-8) of an encoded picture; 1 when it has none or it cannot be read."""
    image = _open(data)
    try:
        value = int(image.getexif().get(ORIENTATION, 1)) if image else 1
    except Exception:  # noqa: BLE001 - a broken EXIF block: shown as stored, as viewers do
        return 1
    return value if 1 <= value <= 8 else 1


def upright(image: np.ndarray, orientation: int) -> np.ndarray:
    """Turn (H, W[, C]) pixels stored with EXIF ``orientation`` the way viewers show them."""
    turns = {1: lambda a: a, 2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
             5: lambda a: a.swapaxes(0, 1), 6: lambda a: a.swapaxes(0, 1)[:, ::-1],
             7: lambda a: a.swapaxes(0, 1)[::-1, ::-1], 8: lambda a: a.swapaxes(0, 1)[::-1]}
    return np.ascontiguousarray(turns[orientation](image))


def read_metadata(path: Path) -> PhotoMetadata:
    """What of a picture file's EXIF, XMP and IPTC its coloured copy keeps; empty when it has none."""
    image = _open(Path(path))
    if image is None:
        return PhotoMetadata()
    try:
        exif = _kept_exif(image.getexif())
    except Exception:  # noqa: BLE001 - unreadable EXIF is left behind, the rest still carried
        exif = None
    xmp = image.info.get("xmp") or image.info.get(XMP_PNG_KEYWORD.decode())
    if isinstance(xmp, str):
        xmp = xmp.encode()
    iptc = next((payload for marker, payload in getattr(image, "applist", [])
                 if marker == "APP13" and payload.startswith(IPTC_JPEG_HEADER)), None)
    image.close()
    return PhotoMetadata(exif, xmp or None, iptc)


def _kept_exif(source: Image.Exif) -> bytes | None:
    kept = Image.Exif()
    for tag in KEPT_IFD0:
        if tag in source:
            kept[tag] = source[tag]
    sub = {k: v for k, v in source.get_ifd(ExifTags.IFD.Exif).items() if k not in DROPPED_EXIF}
    if sub:
        kept.get_ifd(ExifTags.IFD.Exif).update(sub)
    gps = source.get_ifd(ExifTags.IFD.GPSInfo)
    if gps:
        kept.get_ifd(ExifTags.IFD.GPSInfo).update(gps)
    if not kept and not sub and not gps:
        return None
    return kept.tobytes().removeprefix(b"Exif\x00\x00")


def with_metadata(encoded: bytes, ext: str, meta: PhotoMetadata) -> tuple[bytes, list[str]]:
    """``encoded`` (OpenCV's JPEG or PNG) with ``meta`` spliced in, and a line for each part left out."""
    if not meta:
        return encoded, []
    if ext in (".jpg", ".jpeg"):
        return _jpeg_with(encoded, meta)
    if ext == ".png":
        chunks = []
        if meta.exif:
            chunks.append(_png_chunk(b"eXIf", meta.exif))
        if meta.xmp:
            chunks.append(_png_chunk(b"iTXt", XMP_PNG_KEYWORD + b"\x00\x00\x00\x00\x00" + meta.xmp))
        end_of_header = 8 + 8 + 13 + 4  # signature, then IHDR: length, type, 13 bytes, CRC
        left = ["IPTC (a PNG has no place for it)"] if meta.iptc else []
        return encoded[:end_of_header] + b"".join(chunks) + encoded[end_of_header:], left
    return encoded, [f"the photo's EXIF/XMP/IPTC (a {ext} output keeps none; .jpg and .png do)"]


def _jpeg_with(encoded: bytes, meta: PhotoMetadata) -> tuple[bytes, list[str]]:
    segments, left = [], []
    for name, payload in (("EXIF", b"Exif\x00\x00" + meta.exif if meta.exif else None),
                          ("XMP", XMP_JPEG_NAMESPACE + meta.xmp if meta.xmp else None),
                          ("IPTC", meta.iptc)):
        if payload is None:
            continue
        if len(payload) > JPEG_APP_PAYLOAD_MAX:
            left.append(f"{name} ({len(payload)} bytes, more than a JPEG segment holds)")
            continue
        marker = b"\xff\xed" if name == "IPTC" else b"\xff\xe1"
        segments.append(marker + struct.pack(">H", len(payload) + 2) + payload)
    # after SOI and OpenCV's JFIF APP0, as exiftool places them
    at = 2
    if encoded[2:4] == b"\xff\xe0":
        at += 2 + struct.unpack(">H", encoded[4:6])[0]
    return encoded[:at] + b"".join(segments) + encoded[at:], left


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
