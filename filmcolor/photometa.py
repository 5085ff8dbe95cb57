"""A photo's own metadata carried into its coloured copy: EXIF, XMP and IPTC (captions, dates, places, credits).

Archives describe their scans in these: who took the picture, when, where, under what licence, with which
caption and keywords. The coloured picture keeps them in a JPEG or PNG output, less what would now be
wrong: the orientation (the output is written upright, as viewers show the input: set to 1, in the XMP
too) and the EXIF thumbnail (a gray picture: unlinked). A JPEG's, PNG's or WebP's EXIF block is otherwise
copied byte for byte (text in any encoding, maker notes, tag types); a TIFF's descriptive tags are rebuilt
by Pillow (a dependency of scikit-image), since its IFD0 also lays out its strips. Nothing is decoded
here; the segments and chunks are spliced into OpenCV's encoded bytes, so the picture is encoded as
without metadata. A photo that had an ICC profile was read into sRGB (`iccprofile`): its copy carries sRGB's.
"""

from __future__ import annotations

import io
import re
import struct
import warnings
import zlib
from collections.abc import Collection
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from PIL import ExifTags, Image, TiffImagePlugin

from filmcolor import iccprofile, iptc, jp2, tiffifd
from filmcolor.fsutil import FileBytes
from filmcolor.pillowopen import open_image

# Windows' text tags: UCS-2, stored as bytes
XP_TAGS = (ExifTags.Base.XPTitle, ExifTags.Base.XPComment, ExifTags.Base.XPAuthor, ExifTags.Base.XPKeywords,
           ExifTags.Base.XPSubject)
# IFD0 tags that describe the picture rather than the file's layout (a TIFF's IFD0 also holds its strips)
KEPT_IFD0 = (
    ExifTags.Base.ImageDescription, ExifTags.Base.Make, ExifTags.Base.Model, ExifTags.Base.XResolution,
    ExifTags.Base.YResolution, ExifTags.Base.ResolutionUnit, ExifTags.Base.DateTime, ExifTags.Base.Artist,
    ExifTags.Base.Copyright, *XP_TAGS,
)
# Exif sub-IFD tags that would be wrong or broken in the new file
DROPPED_EXIF = (ExifTags.Base.ExifImageWidth, ExifTags.Base.ExifImageHeight, ExifTags.Base.MakerNote,
                ExifTags.Base.ExifInteroperabilityOffset)
JPEG_APP_PAYLOAD_MAX = 65533  # a JPEG marker segment's length field counts itself: 65535 - 2
XMP_JPEG_NAMESPACE = b"http://ns.adobe.com/xap/1.0/\x00"
XMP_PNG_KEYWORD = b"XML:com.adobe.xmp"
# what exif_transpose rewrites too: the attribute and the element forms
XMP_ORIENTATION = re.compile(rb"""(tiff:Orientation\s*=\s*["']|<tiff:Orientation>)[0-9](?=["']|</tiff:Orientation>)""")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_TEXT_MAX = 1 << 20  # bytes: a text chunk larger than this (an XMP aside) is not read (nor kept)
PNG_KEYWORD_MAX = 79  # bytes of a text chunk's keyword (the PNG standard's limit)
ICC_JPEG_HEADER = b"ICC_PROFILE\x00"  # APP2, then the part's number and the count of parts
ICC_TIFF_TAG = 34675  # InterColorProfile
ORIENTATION = ExifTags.Base.Orientation
OME_XML = re.compile(r"\s*(<\?xml[^>]*\?>\s*)?(<!--.*?-->\s*)*<(\w+:)?OME[\s>]", re.DOTALL)  # OME-XML's root
MACHINE_DESCRIPTIONS = ('{"shape":', "ImageJ=")  # TIFF ImageDescriptions that describe the file, not the picture
QUARTER_TURNS = (5, 6, 7, 8)  # orientations whose upright picture swaps width and height
XMP_SWAPPED = ((b"tiff:XResolution", b"tiff:YResolution"), (b"exif:PixelXDimension", b"exif:PixelYDimension"),
               (b"tiff:ImageWidth", b"tiff:ImageLength"))


@dataclass(frozen=True)
class PhotoMetadata:
    exif: bytes | None = None  # a TIFF structure (no "Exif\0\0" prefix), orientation 1, no thumbnail
    xmp: bytes | None = None  # the XMP packet (its tiff:Orientation 1 when the picture was turned)
    iptc: bytes | None = None  # a JPEG's APP13 payload ("Photoshop 3.0" resources), carried JPEG to JPEG
    icc: bytes | None = None  # sRGB's ICC profile when the photo had a profile (it was read into sRGB)
    # a PNG's text chunks (Title, Author, Description, Copyright...: (type, data) as they were) and a JPEG's
    # comments (COM segments): carried into a copy of their own format, named as left out in any other
    png_text: tuple[tuple[bytes, bytes], ...] = ()
    comments: tuple[bytes, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.exif or self.xmp or self.iptc or self.icc or self.png_text or self.comments)

    def text_left(self, ext: str) -> list[str]:
        """A line for the PNG text or JPEG comments an output of ``ext`` does not keep."""
        left = []
        if self.png_text and ext != ".png":
            keywords = ", ".join(dict.fromkeys(data.partition(b"\x00")[0].decode("latin-1")
                                               for _, data in self.png_text))
            left.append(f"the PNG's text ({keywords}: a {ext} output keeps none, a .png keeps it)")
        if self.comments and ext not in (".jpg", ".jpeg"):
            left.append(f"the JPEG's comment (a {ext} output keeps none, a .jpg keeps it)")
        return left


def _open(source: io.BytesIO | Path) -> Image.Image | None:
    """Pillow's lazy open (headers only; the caller ignores Pillow's warnings)."""
    try:
        return open_image(source)
    except Exception:  # noqa: BLE001 - any format Pillow cannot open simply has no metadata to carry
        return None


def orientation(data: bytes | memoryview) -> int:
    """The EXIF orientation (1-8, a SHORT in IFD0 as the standard has it, which OpenCV also reads in a JPEG)
    of a PNG, WebP or JPEG 2000, read without decoding its picture; 1 when it has none. (OpenCV turns a JPEG
    itself, libtiff a TIFF.)"""
    head = bytes(data[:12])
    if head[:8] == PNG_SIGNATURE:
        raw, _, _ = _png_metadata(io.BytesIO(data))
    elif head == jp2.SIGNATURE:
        return _orientation_of(jp2.parse(data).exif)
    elif is_webp(head):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image = _open(io.BytesIO(data))
            raw = image.info.get("exif") if image else None
    else:
        return 1
    return _orientation_of(_strip(raw))


def is_webp(head: bytes) -> bool:
    """Whether a file's first 12 bytes are a WebP's RIFF header."""
    return head[:4] == b"RIFF" and head[8:12] == b"WEBP"


def upright(image: np.ndarray, orientation: int) -> np.ndarray:
    """Turn (H, W[, C]) pixels stored with EXIF ``orientation`` the way viewers show them."""
    turns = {1: lambda a: a, 2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
             5: lambda a: a.swapaxes(0, 1), 6: lambda a: a.swapaxes(0, 1)[:, ::-1],
             7: lambda a: a.swapaxes(0, 1)[::-1, ::-1], 8: lambda a: a.swapaxes(0, 1)[::-1]}
    return np.ascontiguousarray(turns[orientation](image))


def read_metadata(path: Path) -> PhotoMetadata:
    """What of a picture file's EXIF, XMP and IPTC its coloured copy keeps (and sRGB's profile when it had
    one); empty when it has none.

    The EXIF block of a JPEG, PNG, WebP or JPEG 2000 is copied byte for byte (text in any encoding, maker
    notes and tag types as they were), with IFD0's orientation set to 1, the link to the thumbnail cut and,
    for a quarter turn, X and Y swapped; a TIFF's descriptive tags are rebuilt by Pillow (its IFD0 also
    describes its strips), its IPTC read by tifffile, a .jp2's boxes by `jp2`. Nothing is decoded."""
    path = Path(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow warns on odd EXIF; what it can read is enough here
        image = _open(path)
        if image is None:
            return PhotoMetadata()
        with image:
            boxes = jp2.read(path) if image.format == "JPEG2000" else None  # Pillow reads none of its boxes
            png_text: tuple[tuple[bytes, bytes], ...] = ()
            if image.format == "PNG":
                with path.open("rb") as file:
                    raw, xmp, png_text = _png_metadata(file)
            elif boxes is not None:  # a capture resolution and no EXIF: an EXIF that holds it, for any copy
                raw, xmp = boxes.exif or _resolution_exif(boxes.dpi), boxes.xmp
            else:
                raw, xmp = image.info.get("exif"), image.info.get("xmp")
            if not raw and image.format != "TIFF":  # a scan's resolution in a JPEG's JFIF header, a PNG's pHYs
                raw = _resolution_exif(_whole(image.info.get("dpi")))  # or a BMP's: kept as an EXIF's (an audit)
            raw = _strip(raw)
            if image.format == "TIFF":
                turned = _tag(image, ORIENTATION)
                exif = _tiff_file_exif(path, _turned(_tiff_exif(image), turned), turned)
            else:
                turned = _orientation_of(raw)
                exif = _patched(raw) if raw else None
                if raw and exif is None:  # not a TIFF structure this parser follows: Pillow's reading of it
                    exif = _rebuilt(_turned(_exif_of(raw), turned))
            app13 = next((payload for marker, payload in getattr(image, "applist", [])
                          if marker == "APP13" and payload.startswith(iptc.JPEG_HEADER)), None)
            comments = tuple(payload for marker, payload in getattr(image, "applist", []) if marker == "COM")
            if image.format == "TIFF":
                app13 = iptc.from_tiff(path)
            if boxes is not None:
                app13 = iptc.as_app13(boxes.iptc) if boxes.iptc else None
            had_profile = image.info.get("icc_profile") or (boxes is not None and boxes.icc)
            icc = iccprofile.srgb_profile() if had_profile else None
    if isinstance(xmp, str):
        xmp = xmp.encode()
    if xmp and turned != 1:  # written upright: an orientation left in the XMP would turn it again
        xmp = XMP_ORIENTATION.sub(rb"\g<1>1", xmp)
        if turned in QUARTER_TURNS:
            xmp = _turned_xmp(xmp)
    return PhotoMetadata(exif, xmp or None, app13, icc, png_text, comments)


def _strip(raw: bytes | None) -> bytes | None:
    return raw.removeprefix(b"Exif\x00\x00") if raw else None


def _png_metadata(file: BinaryIO) -> tuple[bytes | None, bytes | None, tuple[tuple[bytes, bytes], ...]]:
    """(eXIf data, XMP, the other text chunks as (type, data)) of a PNG wherever their chunks are (after the
    picture data too), reading chunk heads and skipping the rest: Pillow would decode the whole picture to
    find chunks after IDAT."""
    exif = xmp = None
    text: list[tuple[bytes, bytes]] = []
    if file.read(8) != PNG_SIGNATURE:
        return None, None, ()
    while len(head := file.read(8)) == 8:
        length, kind = struct.unpack(">I4s", head)
        if kind == b"IEND":
            break
        if kind == b"eXIf" and exif is None:
            exif = file.read(length)
        elif kind in (b"iTXt", b"tEXt", b"zTXt"):
            head = file.read(min(length, PNG_KEYWORD_MAX + 1))  # the keyword first: an XMP of any size is read,
            keyword = head.partition(b"\x00")[0]  # other text up to PNG_TEXT_MAX (a review: the cap lost XMPs)
            xmp_chunk = kind == b"iTXt" and keyword == XMP_PNG_KEYWORD
            if not xmp_chunk and (length > PNG_TEXT_MAX or keyword.startswith(b"Raw profile type")):
                file.seek(length - len(head), io.SEEK_CUR)  # (ImageMagick's EXIF copy: its orientation would
            else:  # turn the upright copy again)
                data = head + file.read(length - len(head))
                rest = data.partition(b"\x00")[2]
                if xmp_chunk and xmp is None and len(rest) >= 2:
                    compressed, packet = rest[0], rest[2:].split(b"\x00", 2)[-1]  # past language, translated key
                    try:
                        xmp = zlib.decompress(packet) if compressed else packet
                    except zlib.error:
                        pass
                elif not xmp_chunk:
                    text.append((kind, data))
        else:
            file.seek(length, io.SEEK_CUR)
        file.seek(4, io.SEEK_CUR)  # CRC
    return exif, xmp, tuple(text)


def _orientation_of(tiff: bytes | None) -> int:
    parsed = tiffifd.ifd0(tiff) if tiff else None
    if parsed is None:
        return 1
    order, _, entries = parsed
    value = next((struct.unpack(order + "H", tiff[at + 8:at + 10])[0] for at, tag, kind, count in entries
                  if tag == ORIENTATION and kind == tiffifd.TIFF_SHORT and count == 1), 1)
    return value if 1 <= value <= 8 else 1


def _patched(tiff: bytes) -> bytes | None:
    """The EXIF block as it is, with IFD0's orientation set to 1 and the link to IFD1 (the thumbnail) cut; for
    a picture turned a quarter (orientations 5-8), its X and Y resolutions and pixel dimensions swapped."""
    parsed = tiffifd.ifd0(tiff)
    if parsed is None:
        return None
    order, link, entries = parsed
    out = bytearray(tiff)
    for at, tag, kind, count in entries:
        if tag == ORIENTATION and kind == tiffifd.TIFF_SHORT and count == 1:
            out[at + 8:at + 10] = struct.pack(order + "H", 1)
    out[link:link + 4] = bytes(4)
    if _orientation_of(tiff) in QUARTER_TURNS:
        tiffifd.swap_entries(out, entries, ExifTags.Base.XResolution, ExifTags.Base.YResolution)
        tiffifd.swap_entries(out, entries, ExifTags.Base.ImageWidth, ExifTags.Base.ImageLength)
        sub = next((struct.unpack(order + "I", tiff[at + 8:at + 12])[0] for at, tag, _, count in entries
                    if tag == ExifTags.Base.ExifOffset and count == 1), None)
        parsed_sub = tiffifd.ifd_at(tiff, order, sub) if sub else None
        if parsed_sub:
            tiffifd.swap_entries(out, parsed_sub[1], ExifTags.Base.ExifImageWidth, ExifTags.Base.ExifImageHeight)
    return bytes(out)


def _turned(exif: Image.Exif | None, orientation: int) -> Image.Exif | None:
    """Pillow's reading of an EXIF, its X and Y resolutions swapped when the picture was turned a quarter."""
    x, y = ExifTags.Base.XResolution, ExifTags.Base.YResolution
    if exif is not None and orientation in QUARTER_TURNS:
        values = {tag: exif.pop(tag) for tag in (x, y) if tag in exif}
        exif.update({y if tag == x else x: value for tag, value in values.items()})
    return exif


def _turned_xmp(xmp: bytes) -> bytes:
    """An XMP packet's X and Y resolution and sizes swapped, for a picture turned a quarter: their property
    names swap, in the attribute and element forms alike, so a lone one moves too (whole names only)."""
    for first, second in XMP_SWAPPED:
        xmp = re.sub(rb"(?<![\w:])(?:" + re.escape(first) + b"|" + re.escape(second) + rb")(?![\w])",
                     lambda m, f=first, s=second: s if m.group(0) == f else f, xmp)
    return xmp


def _tag(image: Image.Image, tag: int) -> int:
    try:
        return int(image.getexif().get(tag, 1))
    except Exception:  # noqa: BLE001 - unreadable: as if absent
        return 1


def _exif_of(raw: bytes) -> Image.Exif | None:
    exif = Image.Exif()
    try:
        exif.load(b"Exif\x00\x00" + raw)
    except Exception:  # noqa: BLE001 - not EXIF at all
        return None
    return exif


def _tiff_exif(image: Image.Image) -> Image.Exif | None:
    try:
        return image.getexif()
    except Exception:  # noqa: BLE001
        return None


def _rebuilt(source: Image.Exif | None, leave_out: Collection[int] = ()) -> bytes | None:
    """The descriptive part of an EXIF rebuilt by Pillow: IFD0's KEPT_IFD0 tags, the Exif sub-IFD less
    DROPPED_EXIF, GPS. Text that is not ASCII goes back as the bytes it was read from (Pillow reads Latin-1)."""
    if source is None:
        return None
    try:
        entries = [(None, tag, _as_read(source[tag])) for tag in KEPT_IFD0
                   if tag in source and tag not in leave_out and not _machine_description(tag, source[tag])]
        entries += [(ifd, k, _as_read(v)) for ifd, dropped in ((ExifTags.IFD.Exif, DROPPED_EXIF),
                                                                (ExifTags.IFD.GPSInfo, ()))
                    for k, v in source.get_ifd(ifd).items() if k not in dropped and k not in leave_out]
    except Exception:  # noqa: BLE001 - a sub-IFD Pillow cannot read back
        return None
    if not entries:
        return None
    try:
        return _exif_bytes(entries)
    except Exception:  # noqa: BLE001 - a value Pillow cannot write as its tag's type (an Artist as a RATIONAL)
        writable = [entry for entry in entries if _writes(entry)]  # the rest is kept: the caption, the date
        return _exif_bytes(writable) if writable else None


def _exif_bytes(entries: list[tuple[int | None, int, Any]]) -> bytes:
    """An EXIF of (sub-IFD or None for IFD0, tag, value) entries, written by Pillow."""
    exif = Image.Exif()
    for ifd, tag, value in entries:
        (exif if ifd is None else exif.get_ifd(ifd))[tag] = value
    return exif.tobytes().removeprefix(b"Exif\x00\x00")


def _writes(entry: tuple[int | None, int, Any]) -> bool:
    """Whether Pillow can write one EXIF entry on its own."""
    try:
        _exif_bytes([entry])
        return True
    except Exception:  # noqa: BLE001
        return False


def _resolution_exif(dpi: tuple[float, float] | None) -> bytes | None:
    """An EXIF (with its "Exif" prefix, as Pillow reads one) that holds a resolution in dots per inch alone."""
    if dpi is None:
        return None
    exif = Image.Exif()
    exif[ExifTags.Base.XResolution], exif[ExifTags.Base.YResolution] = (
        TiffImagePlugin.IFDRational(Fraction(v).limit_denominator(10000)) for v in dpi)
    exif[ExifTags.Base.ResolutionUnit] = 2
    return exif.tobytes()


def _whole(dpi: tuple[float, float] | None) -> tuple[float, float] | None:
    """Dots per inch as a file stores them, read back: 600 dpi kept in pixels per metre (a PNG's pHYs, a BMP's)
    reads 599.9988, which is 600."""
    if not dpi or not all(isinstance(v, int | float) and v > 0 for v in dpi):
        return None
    return tuple(float(round(v)) if abs(v - round(v)) < 0.01 else float(v) for v in dpi)  # type: ignore[return-value]


def _dpi_of(exif: bytes | None) -> tuple[float, float] | None:
    """(horizontal, vertical) dots per inch of an EXIF's resolution; None when it has none to trust."""
    source = _exif_of(exif) if exif else None
    resolution, unit = _resolution(source) if source is not None else (None, None)
    if resolution is None or unit not in (2, 3):
        return None
    per_inch = 2.54 if unit == 3 else 1.0  # unit 3: per centimetre
    return tuple(n / d * per_inch for n, d in resolution)  # type: ignore[return-value]


def _tiff_file_exif(path: Path, source: Image.Exif | None, turned: int = 1) -> bytes | None:
    """A TIFF scan's EXIF: IFD0's descriptive tags rebuilt by Pillow (the file's IFD0 also lays out its strips),
    its Exif and GPS sub-IFDs copied from the file entry for entry, as a JPEG's are (`tiffifd.moved_ifd`; the file is
    read where the IFDs point, not whole); all of it rebuilt by Pillow when the sub-IFDs cannot be copied (a
    BigTIFF)."""
    if source is None:
        return None
    try:
        with open(path, "rb") as file:
            data = FileBytes(file)
            offsets = tiffifd.sub_ifd_offsets(data)  # {} for a BigTIFF (tiffifd.ifd0 reads classic TIFF alone)
            if not offsets:
                return _rebuilt(source)
            kept = Image.Exif()
            kept.endian = "<" if data[:2] == b"II" else ">"  # the file's: its entries are copied as they are
            for tag in KEPT_IFD0:  # (a value Pillow cannot write as its tag's type is left out alone: _rebuilt)
                entry = (None, tag, _as_read(source[tag])) if tag in source else None
                if entry and not _machine_description(tag, source[tag]) and _writes(entry):
                    kept[tag] = entry[2]
            for ifd in offsets:
                kept[tiffifd.SUB_IFD_STAND_INS[ifd]] = 0
            blob = kept.tobytes().removeprefix(b"Exif\x00\x00")
            blob, not_copied = tiffifd.add_sub_ifds(blob, data, offsets)
    except (OSError, ValueError, struct.error):
        return _rebuilt(source)
    if not_copied:
        return _rebuilt(source)
    exif_at = tiffifd.sub_ifd_offsets(blob).get(ExifTags.IFD.Exif)
    parsed = tiffifd.ifd_at(blob, "<" if blob[:2] == b"II" else ">", exif_at) if exif_at and turned in QUARTER_TURNS \
        else None
    if parsed:  # libtiff turned the picture: its pixel sizes turn with it, as a JPEG's do (_patched)
        out = bytearray(blob)
        tiffifd.swap_entries(out, parsed[1], ExifTags.Base.ExifImageWidth, ExifTags.Base.ExifImageHeight)
        blob = bytes(out)
    return blob


def _machine_description(tag: int, value: object) -> bool:
    """Whether a TIFF's ImageDescription is what a program wrote of the file's layout, not a caption: tifffile's
    JSON shape (which tifffile would take for the copy's own), ImageJ's settings or OME-XML."""
    return tag == ExifTags.Base.ImageDescription and isinstance(value, str) and (
        value.startswith(MACHINE_DESCRIPTIONS) or OME_XML.match(value) is not None)


def _as_read(value: object) -> object:
    """Pillow writes text back as ASCII, '?' for the rest: text that is not ASCII goes back as its bytes."""
    if isinstance(value, str) and not value.isascii():
        return value.encode("latin-1", "replace")
    return value


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
        if meta.icc:  # a profile's name, compression method 0 (zlib), the profile
            chunks.append(_png_chunk(b"iCCP", b"sRGB\x00\x00" + zlib.compress(meta.icc)))
        if dpi := _dpi_of(meta.exif):  # where PNG readers look for it: pixels per metre, unit 1
            chunks.append(_png_chunk(b"pHYs", struct.pack(">IIB", *(round(v / 0.0254) for v in dpi), 1)))
        chunks += [_png_chunk(kind, data) for kind, data in meta.png_text]
        end_of_header = 8 + 8 + 13 + 4  # signature, then IHDR: length, type, 13 bytes, CRC
        left = ["IPTC (a PNG has no place for it)"] if meta.iptc else []
        return encoded[:end_of_header] + b"".join(chunks) + encoded[end_of_header:], left + meta.text_left(ext)
    if ext == ".jp2":  # in 'uuid' boxes and the header's resolution; OpenCV's own 'colr' box already says sRGB
        return (jp2.with_boxes(encoded, meta.exif, meta.xmp, iptc.record_of(meta.iptc), _dpi_of(meta.exif)),
                meta.text_left(ext))
    if not (meta.exif or meta.xmp or meta.iptc):  # a picture without a profile is sRGB: nothing is lost
        return encoded, meta.text_left(ext)
    return encoded, [f"the photo's EXIF/XMP/IPTC (a {ext} output keeps none; .jpg, .tif and .jp2 keep all)",
                     *meta.text_left(ext)]


def tiff_with(image: np.ndarray, meta: PhotoMetadata) -> tuple[bytes, list[str]]:
    """``image`` (gray, RGB or RGBA, uint8 or uint16, RGB order) as a TIFF holding ``meta``, and a line
    for each part left out. The EXIF's descriptive IFD0 tags (KEPT_IFD0: description, camera, date, artist,
    copyright, resolution) go in as TIFF tags, its Exif and GPS sub-IFDs (shooting date and details, place)
    after the picture (`tiffifd.add_sub_ifds`), the XMP as tag 700, the IPTC as Photoshop writes it; the rest of
    the EXIF is named as left out."""
    import tifffile

    tags: list[tuple[int, str, int, object, bool]] = []
    left: list[str] = []
    resolution, unit, sub_ifds = None, None, {}
    if meta.exif:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns on odd EXIF (as it reads it); what it reads is enough
            exif_tags, resolution, unit, lost = _ifd0_tags(meta.exif)
            sub_ifds = tiffifd.sub_ifd_offsets(meta.exif)
        tags += exif_tags + [(tiffifd.SUB_IFD_STAND_INS[ifd], "I", 1, 0, True) for ifd in sub_ifds]
        if lost:
            left.append("the EXIF (unreadable)" if lost == ["all"] else f"EXIF's {', '.join(lost)} (a .tif keeps "
                         "IFD0's description, camera, date, artist, copyright and resolution, and the Exif and GPS "
                         "sub-IFDs less a maker note; .jpg and .png keep all)")
    if meta.xmp:
        tags.append((700, "B", len(meta.xmp), meta.xmp, True))
    if meta.iptc:  # as Photoshop writes it: in its resources, and the IPTC record on its own (IPTC-NAA)
        resources = meta.iptc.removeprefix(iptc.JPEG_HEADER)
        tags.append((iptc.PHOTOSHOP_TIFF_TAG, "B", len(resources), resources, True))
        record = iptc.record_of(meta.iptc)
        if record:
            tags.append((iptc.IPTC_TIFF_TAG, "B", len(record), record, True))
    if meta.icc:
        tags.append((ICC_TIFF_TAG, "B", len(meta.icc), meta.icc, True))
    left += meta.text_left(".tif")
    buffer = io.BytesIO()
    channels = image.shape[2] if image.ndim == 3 else 1
    # Alpha is marked unassociated at 16 bits; at 8, OpenCV (and so filmcolor itself) reads a marked one
    # premultiplied, darkening it, so it goes in as an extra sample of no stated kind, as OpenCV writes it.
    alpha = ("unassalpha" if image.dtype == np.uint16 else "unspecified",) if channels == 4 else None
    # Deflate at level 1 after horizontal differencing: a 24-megapixel 16-bit scan in 1.8 s and 68 MB (OpenCV's
    # LZW: 2.2 s, 85 MB; level 6: 5.2 s, 61 MB)
    tifffile.imwrite(buffer, image, photometric="minisblack" if channels == 1 else "rgb", extrasamples=alpha,
                     compression="zlib", compressionargs={"level": 1}, predictor=True, resolution=resolution,
                     resolutionunit=unit, metadata=None, software=False, extratags=tags,
                     byteorder=">" if meta.exif and meta.exif[:2] == b"MM" else "<")  # the EXIF's: copied as is
    tiff = buffer.getvalue()
    if sub_ifds:
        tiff, not_written = tiffifd.add_sub_ifds(tiff, meta.exif, sub_ifds)
        if not_written:
            left.append(f"EXIF's {' and '.join(not_written)} sub-IFD{'s' if len(not_written) > 1 else ''}")
    return tiff, left


def _ifd0_tags(raw: bytes) -> tuple[list[tuple[int, str, int, object, bool]], tuple | None, int | None, list[str]]:
    """(tifffile extratags of an EXIF's KEPT_IFD0 tags, resolution, unit, what of the EXIF they leave out:
    ["all"] when it cannot be read)."""
    exif = _exif_of(raw)
    if exif is None:
        return [], None, None, ["all"]
    resolution, unit = _resolution(exif)
    # a maker note's offsets point into the file it came from (the rest of DROPPED_EXIF the new file makes up)
    lost = ["MakerNote"] if ExifTags.Base.MakerNote in exif.get_ifd(ExifTags.IFD.Exif) else []
    kept = {int(tag) for tag in KEPT_IFD0}
    lost += [ExifTags.TAGS.get(tag, f"tag {tag}") for tag in exif if tag not in kept and tag not in _LAYOUT_TAGS]
    tags = []
    for tag in KEPT_IFD0:
        value = exif.get(tag)
        if isinstance(value, str):
            value = value.encode("latin-1", "replace")
        if not isinstance(value, bytes) or tag in _RESOLUTION_TAGS:
            if value is not None and tag not in _RESOLUTION_TAGS:
                lost.append(ExifTags.TAGS.get(tag, f"tag {tag}"))  # a kept tag of an odd type
            continue
        xp = tag in XP_TAGS
        tags.append((int(tag), "B" if xp else "s", len(value) if xp else 0, value, True))
    if (ExifTags.Base.XResolution in exif or ExifTags.Base.YResolution in exif) and resolution is None:
        lost.append("resolution (not a positive number)")
    return tags, resolution, unit, lost


_RESOLUTION_TAGS = (ExifTags.Base.XResolution, ExifTags.Base.YResolution, ExifTags.Base.ResolutionUnit)
# IFD0 entries that describe a file's layout or point elsewhere, not the picture: not named as lost
_LAYOUT_TAGS = {int(t) for t in (ExifTags.Base.Orientation, ExifTags.Base.ExifOffset, ExifTags.Base.GPSInfo,
                                 ExifTags.Base.ImageWidth, ExifTags.Base.ImageLength, ExifTags.Base.BitsPerSample,
                                 ExifTags.Base.Compression, ExifTags.Base.PhotometricInterpretation,
                                 ExifTags.Base.StripOffsets, ExifTags.Base.SamplesPerPixel,
                                 ExifTags.Base.RowsPerStrip, ExifTags.Base.StripByteCounts,
                                 ExifTags.Base.PlanarConfiguration, ExifTags.Base.YCbCrPositioning,
                                 ExifTags.Base.JpegIFOffset, ExifTags.Base.JpegIFByteCount, *_RESOLUTION_TAGS)}


def _resolution(exif: Image.Exif) -> tuple[tuple[tuple[int, int], tuple[int, int]] | None, int | None]:
    """(X and Y resolution as TIFF rationals, the unit 1-3) of an EXIF, or (None, None) when they are not
    positive numbers a TIFF can hold (0/0 and a unit of 0 occur in the wild)."""
    values = []
    x, y = exif.get(ExifTags.Base.XResolution), exif.get(ExifTags.Base.YResolution)
    for value in (x if x is not None else y, y if y is not None else x):  # one alone: square pixels
        try:
            ratio = Fraction(float(value)).limit_denominator(2**32 - 1)
        except (TypeError, ValueError, OverflowError, ZeroDivisionError):
            return None, None
        if not 0 < ratio < 2**32:
            return None, None
        values.append((ratio.numerator, ratio.denominator))
    unit = exif.get(ExifTags.Base.ResolutionUnit, 2)
    return (values[0], values[1]), (unit if unit in (1, 2, 3) else 2)


def _jpeg_with(encoded: bytes, meta: PhotoMetadata) -> tuple[bytes, list[str]]:
    segments, left = [], []
    exif = meta.exif
    if exif and len(exif) + 6 > JPEG_APP_PAYLOAD_MAX:
        exif, dropped = _fit_exif(exif)
        left.append(f"EXIF {', '.join(dropped)} (more than a JPEG segment holds)" if exif else
                    f"EXIF ({len(meta.exif)} bytes, more than a JPEG segment holds)")
    for name, payload in (("EXIF", b"Exif\x00\x00" + exif if exif else None),
                          ("XMP", XMP_JPEG_NAMESPACE + meta.xmp if meta.xmp else None),
                          ("IPTC", meta.iptc),
                          ("ICC", ICC_JPEG_HEADER + b"\x01\x01" + meta.icc if meta.icc else None)):  # part 1 of 1
        if payload is None:
            continue
        if len(payload) > JPEG_APP_PAYLOAD_MAX:
            left.append(f"{name} ({len(payload)} bytes, more than a JPEG segment holds)")
            continue
        marker = {"IPTC": b"\xff\xed", "ICC": b"\xff\xe2"}.get(name, b"\xff\xe1")
        segments.append(marker + struct.pack(">H", len(payload) + 2) + payload)
    segments += [b"\xff\xfe" + struct.pack(">H", len(c) + 2) + c for c in meta.comments]  # (each fit its segment)
    left += meta.text_left(".jpg")
    # after SOI and OpenCV's JFIF APP0, as exiftool places them
    at = 2
    if encoded[2:4] == b"\xff\xe0":
        at += 2 + struct.unpack(">H", encoded[4:6])[0]
        dpi = _dpi_of(meta.exif)
        if encoded[6:11] == b"JFIF\x00" and dpi and all(1 <= round(v) <= 65535 for v in dpi):
            # its density too (OpenCV writes 1:1, no unit), which some readers take before the EXIF's
            encoded = encoded[:13] + struct.pack(">BHH", 1, *(round(v) for v in dpi)) + encoded[18:]
    return encoded[:at] + b"".join(segments) + encoded[at:], left


def _fit_exif(tiff: bytes) -> tuple[bytes | None, list[str]]:
    """An EXIF too large for a JPEG segment (a long comment), rebuilt without its largest tags until it fits:
    (the EXIF or None, the names of the tags left out)."""
    source = _exif_of(tiff)
    if source is None:
        return None, []
    values = [(tag, value) for tag, value in source.items() if tag in KEPT_IFD0]
    values += [(tag, value) for ifd in (ExifTags.IFD.Exif, ExifTags.IFD.GPSInfo)
               for tag, value in source.get_ifd(ifd).items()]
    by_size = sorted(values, key=lambda tv: -len(tv[1]) if isinstance(tv[1], bytes | str) else 0)
    left_out: list[int] = []
    for tag, _ in by_size:
        rebuilt = _rebuilt(source, left_out)
        if rebuilt is None or len(rebuilt) + 6 <= JPEG_APP_PAYLOAD_MAX:
            break
        left_out.append(tag)
    names = [ExifTags.TAGS.get(tag, f"tag {tag:#06x}") for tag in left_out]
    return (rebuilt if rebuilt and len(rebuilt) + 6 <= JPEG_APP_PAYLOAD_MAX else None), names


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
