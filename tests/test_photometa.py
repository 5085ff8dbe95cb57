"""A photo's EXIF, XMP and IPTC reach its coloured copy; its orientation is applied the same in every format."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import ExifTags, Image

from filmcolor import photometa, tiffifd
from filmcolor.imageio import read_image, write_image
from filmcolor.photometa import PhotoMetadata, read_metadata
from filmcolor.tiffifd import SUB_IFD_STAND_INS

CAPTION = "Harbour at low tide, 1921"
XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><dc:subject>harbour</dc:subject></x:xmpmeta>'
IIM_CAPTION = b"Fishing boats"


def _stored() -> np.ndarray:
    """A 40 x 60 gray picture with a bright corner top left, so every turn and flip tells apart."""
    gray = np.tile(np.linspace(20, 200, 60).astype(np.uint8), (40, 1))
    gray[:8, :12] = 255
    return gray


def _exif(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.ImageDescription] = CAPTION
    exif[ExifTags.Base.Artist] = "A. Photographer"
    exif[ExifTags.Base.Orientation] = orientation
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = "1921:06:01 10:00:00"
    exif.get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitudeRef] = "N"
    return exif


def _with_iptc(jpeg: bytes) -> bytes:
    """``jpeg`` with an APP13 IPTC caption after its first segment (as Photoshop writes one)."""
    iim = b"\x1c\x02\x78" + struct.pack(">H", len(IIM_CAPTION)) + IIM_CAPTION
    resource = b"8BIM\x04\x04\x00\x00" + struct.pack(">I", len(iim)) + iim
    payload = b"Photoshop 3.0\x00" + resource
    return jpeg[:2] + b"\xff\xed" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def _photo(path: Path, orientation: int = 6, **extra) -> Path:
    Image.fromarray(_stored()).save(path, exif=_exif(orientation), **extra)
    return path


# EXIF orientation -> the turn that shows it upright (the EXIF standard's table, as Pillow's exif_transpose has it)
TURNS = {1: None, 2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
         5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
         8: Image.Transpose.ROTATE_90}


@pytest.mark.parametrize("ext", [".jpg", ".png", ".webp", ".tif"])
@pytest.mark.parametrize("orientation", list(TURNS))
def test_every_format_is_read_upright_as_viewers_show_it(tmp_path: Path, ext: str, orientation: int) -> None:
    extra = {"quality": 100} if ext == ".jpg" else {"lossless": True} if ext == ".webp" else {}
    path = _photo(tmp_path / f"in{ext}", orientation, **extra)
    stored = Image.fromarray(_stored())
    shown = np.asarray(stored if TURNS[orientation] is None else stored.transpose(TURNS[orientation]))
    image = read_image(path)
    image = image[..., 0] if image.ndim == 3 else image  # WebP has no gray: R = G = B
    assert image.shape == shown.shape  # (60, 40) for the turned ones
    assert np.abs(image.astype(int) - shown.astype(int)).max() <= 3  # the same pixels, JPEG's rounding aside


def test_jpeg_keeps_exif_xmp_and_iptc_but_not_the_orientation(tmp_path: Path) -> None:
    buf = io.BytesIO()
    Image.fromarray(_stored()).save(buf, "JPEG", exif=_exif(6), xmp=XMP, quality=95)
    src = tmp_path / "scan.jpg"
    src.write_bytes(_with_iptc(buf.getvalue()))
    meta = read_metadata(src)
    assert meta.exif and meta.xmp == XMP and IIM_CAPTION in meta.iptc
    rgb = np.repeat(read_image(src)[..., None], 3, axis=2)
    assert write_image(tmp_path / "out.jpg", rgb, meta) == []
    out = Image.open(tmp_path / "out.jpg")
    exif = out.getexif()
    assert out.size == (40, 60)  # written upright ...
    assert exif.get(ExifTags.Base.Orientation, 1) == 1  # ... so its orientation no longer turns it
    assert exif[ExifTags.Base.ImageDescription] == CAPTION and exif[ExifTags.Base.Artist] == "A. Photographer"
    assert exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] == "1921:06:01 10:00:00"
    assert exif.get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitudeRef] == "N"
    assert out.info["xmp"] == XMP
    assert any(m == "APP13" and IIM_CAPTION in p for m, p in out.applist)
    assert np.abs(np.asarray(out.convert("RGB")).astype(int) - rgb).mean() < 2  # the picture is OpenCV's encode


def test_png_keeps_exif_and_xmp_and_says_iptc_has_no_place(tmp_path: Path) -> None:
    meta = PhotoMetadata(exif=_exif(1).tobytes().removeprefix(b"Exif\x00\x00"), xmp=XMP, iptc=b"Photoshop 3.0\x00")
    rgb = np.zeros((8, 8, 3), np.uint8)
    notes = write_image(tmp_path / "out.png", rgb, meta)
    assert notes == [f"{tmp_path / 'out.png'}: not kept: IPTC (a PNG has no place for it)"]
    out = Image.open(tmp_path / "out.png")
    out.load()  # the chunks are checked (CRCs) and read
    assert out.getexif()[ExifTags.Base.ImageDescription] == CAPTION
    assert out.info["XML:com.adobe.xmp"] == XMP.decode()
    assert np.array_equal(np.asarray(out), rgb)


def test_tiff_keeps_ifd0_the_sub_ifds_xmp_and_iptc(tmp_path: Path) -> None:
    """A TIFF master keeps what an archive wrote into the scan (it kept none): IFD0's caption and artist, the
    Exif and GPS sub-IFDs (the shooting date, the place: tifffile writes no sub-IFD, so they are added after
    it), the XMP, a JPEG's IPTC, and its alpha, at 8 and at 16 bits. Alpha is marked unassociated at 16 bits;
    at 8, OpenCV would read a marked one premultiplied (an audit: colouring the output again darkened it), so
    it comes back exactly."""
    buf = io.BytesIO()
    Image.fromarray(_stored()).save(buf, "JPEG", exif=_exif(6), xmp=XMP, quality=95)
    src = tmp_path / "scan.jpg"
    src.write_bytes(_with_iptc(buf.getvalue()))
    for dtype, alpha_kind in ((np.uint8, (0,)), (np.uint16, (2,))):
        rgba = np.zeros((8, 8, 4), dtype)
        rgba[..., :3], rgba[..., 3] = (175, 164, 130), 118
        out = tmp_path / f"out_{np.dtype(dtype).name}.tif"
        assert write_image(out, rgba, read_metadata(src)) == []
        with Image.open(out) as tif:
            tags = tif.tag_v2
            assert tags[ExifTags.Base.ImageDescription] == CAPTION and tags[ExifTags.Base.Artist] == "A. Photographer"
            exif = tif.getexif()
            assert exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] == "1921:06:01 10:00:00"
            assert exif.get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitudeRef] == "N"
            assert not set(SUB_IFD_STAND_INS.values()) & set(tags)  # renamed to the real pointers
        with tifffile.TiffFile(out) as tif:  # a second reader finds them too, where the standard puts them
            page_tags = tif.pages.first.tags
            assert page_tags["ExifTag"].value["DateTimeOriginal"] == "1921:06:01 10:00:00"
            assert page_tags["GPSTag"].value["GPSLatitudeRef"] == "N"
            assert bytes(tags[700]) == XMP and IIM_CAPTION in bytes(tags[34377])
            assert tags[338] == alpha_kind  # ExtraSamples
            assert tags.get(ExifTags.Base.Orientation, 1) == 1  # written upright
            assert ExifTags.Base.Software not in tags  # not "tifffile.py"
        assert np.array_equal(tifffile.imread(out), rgba)
        assert np.array_equal(read_image(out, deep=True), rgba)  # and as filmcolor reads it


def test_tiff_leaves_out_a_resolution_it_cannot_hold_and_says_so(tmp_path: Path, capfd) -> None:
    """XResolution 0/0 and a unit of 0 (both in the wild) stopped the run with a ValueError (an audit)."""
    exif = Image.Exif()
    exif[ExifTags.Base.ImageDescription] = CAPTION
    exif[ExifTags.Base.XResolution] = exif[ExifTags.Base.YResolution] = 0
    exif[ExifTags.Base.ResolutionUnit] = 0
    exif[ExifTags.Base.Software] = "ScanSoft 2.0"
    src = tmp_path / "in.png"
    Image.fromarray(_stored()).save(src, exif=exif)
    out = tmp_path / "out.tif"
    assert write_image(out, np.zeros((8, 8), np.uint8), read_metadata(src)) == [
        f"{out}: not kept: EXIF's Software, resolution (not a positive number) (a .tif keeps IFD0's description, "
        "camera, date, artist, copyright and resolution, and the Exif and GPS sub-IFDs less a maker note; .jpg and "
        ".png keep all)"]
    with Image.open(out) as tif:
        assert tif.tag_v2[ExifTags.Base.ImageDescription] == CAPTION
    assert "Warning" not in capfd.readouterr().err


def test_other_outputs_name_what_they_drop_and_plain_photos_change_nothing(tmp_path: Path) -> None:
    src = _photo(tmp_path / "in.png")
    rgb = np.zeros((8, 8, 3), np.uint8)
    assert write_image(tmp_path / "out.bmp", rgb, read_metadata(src)) == [
        f"{tmp_path / 'out.bmp'}: not kept: the photo's EXIF/XMP/IPTC (a .bmp output keeps none; .jpg, .tif and "
        ".jp2 keep all)"]
    Image.fromarray(_stored()).save(tmp_path / "plain.png")
    plain = read_metadata(tmp_path / "plain.png")
    assert not plain
    assert write_image(tmp_path / "a.jpg", rgb, plain) == [] and write_image(tmp_path / "b.jpg", rgb) == []
    assert (tmp_path / "a.jpg").read_bytes() == (tmp_path / "b.jpg").read_bytes()


def test_a_broken_or_oversized_block_is_left_behind_not_fatal(tmp_path: Path) -> None:
    buf = io.BytesIO()
    Image.fromarray(_stored()).save(buf, "JPEG", quality=90)
    jpeg = buf.getvalue()
    garbage = b"Exif\x00\x00" + b"MM\x00*\x00\x00\x00\x08\xff\xff" + bytes(20)  # an IFD claiming 65535 entries
    src = tmp_path / "broken.jpg"
    src.write_bytes(jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(garbage) + 2) + garbage + jpeg[2:])
    assert read_image(src).shape == (40, 60)
    assert read_metadata(src).exif is None
    huge = PhotoMetadata(xmp=b"<x>" + b" " * 70_000 + b"</x>")
    notes = write_image(tmp_path / "out.jpg", np.zeros((8, 8, 3), np.uint8), huge)
    assert notes == [f"{tmp_path / 'out.jpg'}: not kept: XMP (70036 bytes, more than a JPEG segment holds)"]
    assert Image.open(tmp_path / "out.jpg").size == (8, 8)


def test_a_huge_scans_metadata_is_read_from_its_header_alone(tmp_path: Path) -> None:
    """19000 x 19000 (361 M pixels, within filmcolor's limit, past Pillow's own bomb guard): header only."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 19000, 19000, 8, 0, 0, 0, 0)  # 8-bit gray
    exif = _exif(1).tobytes().removeprefix(b"Exif\x00\x00")
    path = tmp_path / "huge.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"eXIf", exif) + chunk(b"IEND", b""))
    meta = read_metadata(path)
    assert meta.exif is not None and CAPTION.encode() in meta.exif


def _png_with(chunks_after_data: list[tuple[bytes, bytes]], exif: bytes | None = None) -> bytes:
    """A small gray PNG (by Pillow), with an eXIf chunk before its picture data and ``chunks_after_data`` after."""
    buf = io.BytesIO()
    Image.fromarray(_stored()).save(buf, "PNG")
    data = buf.getvalue()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    head_end = 8 + 25  # signature and IHDR
    early = chunk(b"eXIf", exif) if exif else b""
    late = b"".join(chunk(kind, body) for kind, body in chunks_after_data)
    return data[:head_end] + early + data[head_end:-12] + late + data[-12:]


def test_text_keeps_its_bytes_and_an_xmp_orientation_is_set_upright_too(tmp_path: Path) -> None:
    """EXIF text in UTF-8 or Latin-1 (as cameras and Windows write it) comes back byte for byte (Pillow's
    rewrite made it '?'); an XMP that says the picture is turned is told it no longer is."""
    exif = _exif(6)
    exif[ExifTags.Base.Artist] = "Zoë Ångström".encode()  # UTF-8 bytes
    exif[ExifTags.Base.Copyright] = "© 2024 Archiv".encode("latin-1")
    xmp = b'<x:xmpmeta><rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="6"/></x:xmpmeta>'
    Image.fromarray(_stored()).save(tmp_path / "in.jpg", exif=exif, xmp=xmp, quality=95)
    meta = read_metadata(tmp_path / "in.jpg")
    write_image(tmp_path / "out.png", np.repeat(read_image(tmp_path / "in.jpg")[..., None], 3, 2), meta)
    out = Image.open(tmp_path / "out.png")
    out_exif = out.getexif()
    assert out_exif[ExifTags.Base.Artist].encode("latin-1") == "Zoë Ångström".encode()
    assert out_exif[ExifTags.Base.Copyright].encode("latin-1") == "© 2024 Archiv".encode("latin-1")
    assert out.size == (40, 60) and out_exif.get(ExifTags.Base.Orientation) == 1
    assert b'tiff:Orientation="1"' in meta.xmp and b'tiff:Orientation="6"' not in meta.xmp
    assert out.info["XML:com.adobe.xmp"] == meta.xmp.decode()


def test_png_metadata_after_the_picture_is_found_without_decoding_it(tmp_path: Path, monkeypatch) -> None:
    from PIL import PngImagePlugin

    def no_decoding(self):
        raise AssertionError("the picture was decoded to read its metadata")

    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/">late title</x:xmpmeta>'
    itxt = b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + xmp
    raw = _exif(6).tobytes().removeprefix(b"Exif\x00\x00")
    path = tmp_path / "late.png"
    path.write_bytes(_png_with([(b"iTXt", itxt)], exif=raw))
    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load", no_decoding)
    meta = read_metadata(path)
    assert meta.xmp == xmp and CAPTION.encode() in meta.exif
    assert photometa.orientation(path.read_bytes()) == 6
    plain = tmp_path / "plain.png"
    Image.fromarray(_stored()).save(plain)
    assert not read_metadata(plain) and photometa.orientation(plain.read_bytes()) == 1


def test_a_long_comment_too_big_for_a_jpeg_leaves_only_itself_behind(tmp_path: Path) -> None:
    exif = _exif(1)
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.UserComment] = b"ASCII\x00\x00\x00" + b"x" * 70_000
    Image.fromarray(_stored()).save(tmp_path / "in.png", exif=exif)
    notes = write_image(tmp_path / "out.jpg", np.zeros((8, 8, 3), np.uint8), read_metadata(tmp_path / "in.png"))
    assert notes == [f"{tmp_path / 'out.jpg'}: not kept: EXIF UserComment (more than a JPEG segment holds)"]
    out = Image.open(tmp_path / "out.jpg").getexif()
    assert out[ExifTags.Base.ImageDescription] == CAPTION
    assert out.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] == "1921:06:01 10:00:00"


def test_pillows_warnings_about_a_broken_exif_are_not_printed(tmp_path: Path, recwarn) -> None:
    exif = _exif(1)
    raw = bytearray(exif.tobytes())
    Image.fromarray(_stored()).save(tmp_path / "in.jpg", exif=bytes(raw[:-20]), quality=90)  # cut short
    read_metadata(tmp_path / "in.jpg")
    assert not [w for w in recwarn if "EXIF" in str(w.message) or "Corrupt" in str(w.message)]


@pytest.mark.parametrize("ext", [".jpg", ".png", ".tif"])
@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_a_photo_turned_a_quarter_swaps_its_resolutions_and_sizes(tmp_path: Path, ext: str, orientation: int) -> None:
    """A scan at 600 x 300 dpi stored sideways is 300 x 600 dpi upright; its EXIF's pixel sizes swap too."""
    exif = _exif(orientation)
    exif[ExifTags.Base.XResolution], exif[ExifTags.Base.YResolution] = 600, 300
    exif[ExifTags.Base.ResolutionUnit] = 2
    exif.get_ifd(ExifTags.IFD.Exif).update({ExifTags.Base.ExifImageWidth: 60, ExifTags.Base.ExifImageHeight: 40})
    src = tmp_path / f"in{ext}"
    Image.fromarray(_stored()).save(src, exif=exif, **({"dpi": (600, 300)} if ext == ".tif" else {}))
    dst = tmp_path / f"out{ext}"
    write_image(dst, np.dstack([read_image(src)] * 3), read_metadata(src))
    quarter = orientation in (6, 8)
    with Image.open(dst) as out:
        assert out.size == ((40, 60) if quarter else (60, 40))
        written = out.getexif()
        resolution = (float(written[ExifTags.Base.XResolution]), float(written[ExifTags.Base.YResolution]))
        assert resolution == ((300, 600) if quarter else (600, 300))
        if ext != ".tif":  # a .tif's Exif sub-IFD is rebuilt without the pixel sizes (DROPPED_EXIF)
            sizes = written.get_ifd(ExifTags.IFD.Exif)
            assert (sizes[ExifTags.Base.ExifImageWidth], sizes[ExifTags.Base.ExifImageHeight]) == (
                (40, 60) if quarter else (60, 40))


@pytest.mark.parametrize("where", ["IPTC-NAA as LONGs", "IPTC-NAA as bytes", "Photoshop resources"])
def test_a_tiff_scans_iptc_goes_into_its_copy(tmp_path: Path, where: str) -> None:
    """Archives' TIFF scans keep their caption in IPTC-NAA (tag 33723, which Photoshop types as LONGs, padding
    the record with zeros) or in Photoshop's resources (34377, among others such as a thumbnail): a JPEG or TIFF
    copy keeps the IPTC, and only it."""
    iim = b"\x1c\x02\x78" + struct.pack(">H", len(IIM_CAPTION)) + IIM_CAPTION + b"\x1c\x02\x50\x00\x02AB"
    iptc = b"8BIM\x04\x04\x00\x00" + struct.pack(">I", len(iim)) + iim + bytes(len(iim) % 2)
    thumbnail = b"8BIM\x04\x0c\x05thumb" + struct.pack(">I", 3) + b"xyz\x00"  # a name of odd length: no pad
    if where == "Photoshop resources":
        tag = (34377, "B", len(thumbnail + iptc), thumbnail + iptc, True)
    elif where == "IPTC-NAA as LONGs":
        padded = iim + bytes(-len(iim) % 4)
        tag = (33723, "I", len(padded) // 4, np.frombuffer(padded, "<u4").tolist(), True)
    else:
        tag = (33723, "B", len(iim), iim, True)
    src = tmp_path / "scan.tif"
    tifffile.imwrite(src, _stored(), extratags=[tag])
    for ext in (".jpg", ".tif"):
        dst = tmp_path / f"out{ext}"
        assert write_image(dst, np.dstack([read_image(src)] * 3), read_metadata(src)) == []
        with Image.open(dst) as out:
            from PIL import IptcImagePlugin

            info = IptcImagePlugin.getiptcinfo(out)
            assert info[(2, 120)] == IIM_CAPTION and info[(2, 80)] == b"AB"
            if ext == ".tif":
                assert bytes(out.tag_v2[34377]) == iptc  # only the IPTC resource, not the thumbnail


def test_a_quarter_turn_moves_a_lone_resolution_and_the_xmps_too(tmp_path: Path) -> None:
    """An audit: an EXIF with only XResolution kept it on the wrong axis, and the XMP's resolution and pixel
    sizes (attribute and element forms) disagreed with the EXIF's after the turn."""
    exif = _exif(6)
    exif[ExifTags.Base.XResolution] = 600
    xmp = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description tiff:XResolution="600/1" '
           b'tiff:YResolution="300/1" tiff:Orientation="6"><exif:PixelXDimension>60</exif:PixelXDimension>'
           b'<exif:PixelYDimension>40</exif:PixelYDimension></rdf:Description></x:xmpmeta>')
    src = tmp_path / "in.jpg"
    Image.fromarray(_stored()).save(src, exif=exif, xmp=xmp)
    meta = read_metadata(src)
    written = Image.Exif()
    written.load(b"Exif\x00\x00" + meta.exif)
    assert ExifTags.Base.XResolution not in written and float(written[ExifTags.Base.YResolution]) == 600
    assert meta.xmp == (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description tiff:YResolution="600/1" '
                        b'tiff:XResolution="300/1" tiff:Orientation="1"><exif:PixelYDimension>60'
                        b'</exif:PixelYDimension><exif:PixelXDimension>40</exif:PixelXDimension></rdf:Description>'
                        b'</x:xmpmeta>')


def test_photoshop_resources_of_other_signatures_and_cut_short_ones(tmp_path: Path) -> None:
    """An audit: the walk stopped at a block not signed 8BIM (ImageReady's MeSa), losing the IPTC after it, and
    copied an IPTC block that claims more bytes than it holds."""
    iim = b"\x1c\x02\x78" + struct.pack(">H", len(IIM_CAPTION)) + IIM_CAPTION
    iptc = b"8BIM\x04\x04\x00\x00" + struct.pack(">I", len(iim)) + iim + bytes(len(iim) % 2)
    other = b"MeSa\x0b\xb8\x00\x00" + struct.pack(">I", 2) + b"ok"
    for resources, kept in ((other + iptc, True), (iptc[:-4], False)):
        src = tmp_path / "scan.tif"
        tifffile.imwrite(src, _stored(), extratags=[(34377, "B", len(resources), resources, True)])
        meta = read_metadata(src)
        assert meta.iptc == (b"Photoshop 3.0\x00" + iptc if kept else None)


def _jp2_with_profile(jp2_bytes: bytes, icc: bytes) -> bytes:
    """A .jp2 whose header's 'colr' box holds ``icc`` (method 2), as a library's scanner writes it."""
    from filmcolor import jp2

    header = next((start, end) for kind, start, end in jp2.boxes(jp2_bytes, 12, len(jp2_bytes)) if kind == b"jp2h")
    inner = b"".join(struct.pack(">I", end - start + 8) + kind + jp2_bytes[start:end] if kind != b"colr" else
                     struct.pack(">I", 8 + 3 + len(icc)) + b"colr\x02\x00\x00" + icc
                     for kind, start, end in jp2.boxes(jp2_bytes, *header))
    return jp2_bytes[:header[0] - 8] + struct.pack(">I", 8 + len(inner)) + b"jp2h" + inner + jp2_bytes[header[1]:]


def test_a_jpeg_2000_scans_boxes_go_into_its_copies(tmp_path: Path) -> None:
    """A library's .jp2 scan says what it is in 'uuid' boxes (EXIF, XMP, IPTC) and its 'colr' profile, none of
    which OpenCV or Pillow read: it is turned upright by its EXIF, read through its profile, and a .jp2, .jpg
    or .tif copy keeps its caption, XMP and IPTC."""
    import cv2

    from filmcolor import iccprofile, jp2

    ok, encoded = cv2.imencode(".jp2", _stored())
    assert ok
    exif = _exif(6).tobytes().removeprefix(b"Exif\x00\x00")
    iim = b"\x1c\x02\x78" + struct.pack(">H", len(IIM_CAPTION)) + IIM_CAPTION
    gamma = iccprofile.gray_profile(b"curv" + bytes(4) + struct.pack(">IH", 1, round(1.8 * 256)), name="G18")
    src = tmp_path / "scan.jp2"
    src.write_bytes(jp2.with_boxes(_jp2_with_profile(encoded.tobytes(), gamma), exif, XMP, iim))
    image = read_image(src, notes := [])
    assert notes == [] and image.shape == (60, 40)  # upright, as its EXIF says
    turned = np.asarray(Image.fromarray(_stored()).transpose(Image.Transpose.ROTATE_270))
    assert np.abs(image.astype(int) - iccprofile.to_srgb(turned, gamma)[0]).max() <= 1  # through its profile
    meta = read_metadata(src)
    assert meta.icc == iccprofile.srgb_profile() and meta.xmp == XMP
    for ext in (".jp2", ".jpg", ".tif"):
        dst = tmp_path / f"out{ext}"
        assert write_image(dst, np.dstack([image] * 3), meta) == []
        if ext == ".jp2":
            boxes = jp2.read(dst)
            written = Image.Exif()
            written.load(b"Exif\x00\x00" + boxes.exif)
            assert written[ExifTags.Base.ImageDescription] == CAPTION and written[ExifTags.Base.Orientation] == 1
            assert boxes.xmp == XMP and boxes.iptc == iim
            assert cv2.imread(str(dst)).shape == (60, 40, 3)  # still a picture OpenCV reads
            continue
        with Image.open(dst) as out:
            from PIL import IptcImagePlugin

            assert out.getexif()[ExifTags.Base.ImageDescription] == CAPTION
            assert IptcImagePlugin.getiptcinfo(out)[(2, 120)] == IIM_CAPTION


def test_a_tif_copys_sub_ifds_keep_their_types_byte_order_and_interop(tmp_path: Path) -> None:
    """A second audit: the sub-IFDs rebuilt by Pillow changed types (UNDEFINED to BYTE, LONG to SHORT), lost the
    Interop IFD and garbled a big-endian EXIF's UCS-2 comment. They are now copied entry for entry, in the
    EXIF's own byte order."""
    exif = Image.Exif()
    exif.endian = ">"  # as Nikon and Photoshop write it
    exif[ExifTags.Base.ImageDescription] = CAPTION
    comment = b"UNICODE\x00" + "Grand-mère, 1952".encode("utf-16-be")
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    sub.update({ExifTags.Base.UserComment: comment, ExifTags.Base.DateTimeOriginal: "1952:06:01 10:00:00"})
    sub[ExifTags.IFD.Interop] = {1: "R98"}  # InteroperabilityIndex, in an IFD of the Exif IFD
    src = tmp_path / "in.jpg"
    Image.fromarray(_stored()).save(src, exif=exif)
    dst = tmp_path / "out.tif"
    assert write_image(dst, np.dstack([_stored()] * 3), read_metadata(src)) == []
    raw = dst.read_bytes()
    assert raw[:4] == b"MM\x00*" and comment in raw  # the comment's bytes as they were, in the file's order
    with tifffile.TiffFile(dst) as tif:
        exif_ifd = tif.pages.first.tags["ExifTag"].value
        assert exif_ifd["DateTimeOriginal"] == "1952:06:01 10:00:00"

    def entries(data: bytes, at: int) -> dict[int, tuple[int, int, bytes]]:  # tag -> (type, count, value field)
        count = struct.unpack(">H", data[at:at + 2])[0]
        return {tag: (kind, n, data[e + 8:e + 12]) for e in range(at + 2, at + 2 + 12 * count, 12)
                for tag, kind, n in [struct.unpack(">HHI", data[e:e + 8])]}

    def exif_ifd_of(data: bytes) -> dict[int, tuple[int, int, bytes]]:
        return entries(data, struct.unpack(">I", entries(data, struct.unpack(">I", data[4:8])[0])[34665][2])[0])

    before, after = exif_ifd_of(read_metadata(src).exif), exif_ifd_of(raw)
    assert {t: v[:2] for t, v in before.items()} == {t: v[:2] for t, v in after.items()}  # types and counts
    interop = entries(raw, struct.unpack(">I", after[ExifTags.IFD.Interop][2])[0])
    assert interop[1] == (2, 4, b"R98\x00")  # moved with the Exif IFD
    # and from that TIFF master to another (a third audit: a TIFF input's EXIF went through Pillow, its
    # UNDEFINED became BYTE and its Interop IFD was dropped)
    again = tmp_path / "again.tif"
    assert write_image(again, np.dstack([_stored()] * 3), read_metadata(dst)) == []
    raw = again.read_bytes()
    assert raw[:4] == b"MM\x00*" and {t: v[:2] for t, v in exif_ifd_of(raw).items()} == {
        t: v[:2] for t, v in before.items()}
    assert entries(raw, struct.unpack(">I", exif_ifd_of(raw)[ExifTags.IFD.Interop][2])[0])[1] == (2, 4, b"R98\x00")


def test_a_lone_resolution_and_the_sizes_turn_with_the_picture_found_by_a_second_audit(tmp_path: Path) -> None:
    """A .tif copy of a photo with one resolution tag was written at 1/1 without a word; IFD0's and the XMP's
    image width and length kept the stored sizes after a quarter turn (the pixel sizes were swapped)."""
    exif = _exif(6)
    exif[ExifTags.Base.YResolution] = 600
    exif[ExifTags.Base.ImageWidth], exif[ExifTags.Base.ImageLength] = 60, 40  # the stored picture's
    xmp = b'<rdf:Description tiff:ImageWidth="60" tiff:ImageLength="40" tiff:XResolutionUnit="x"/>'
    src = tmp_path / "in.jpg"
    Image.fromarray(_stored()).save(src, exif=exif, xmp=xmp)
    meta = read_metadata(src)
    written = Image.Exif()
    written.load(b"Exif\x00\x00" + meta.exif)
    assert (written[ExifTags.Base.ImageWidth], written[ExifTags.Base.ImageLength]) == (40, 60)
    assert meta.xmp == b'<rdf:Description tiff:ImageLength="60" tiff:ImageWidth="40" tiff:XResolutionUnit="x"/>'
    dst = tmp_path / "out.tif"
    assert write_image(dst, np.dstack([read_image(src)] * 3), meta) == []
    with Image.open(dst) as tif:
        assert tif.info["dpi"] == pytest.approx((600, 600))  # one resolution: square pixels


def test_a_tiffs_layout_description_is_no_caption(tmp_path: Path) -> None:
    """A second audit: tifffile's JSON shape in a scan's ImageDescription went into the copy, where tifffile
    then took it for the copy's own shape. A caption still goes."""
    for description, kept in (('{"shape": [40, 60]}', False), ("ImageJ=1.54f\nimages=1\n", False),
                              ("Harbour, 1921", True)):
        src = tmp_path / "scan.tif"
        tifffile.imwrite(src, _stored(), description=description, metadata=None)
        dst = tmp_path / "out.tif"
        write_image(dst, np.dstack([_stored()] * 3), read_metadata(src))
        with tifffile.TiffFile(dst) as tif:
            assert (tif.pages.first.description == description) == kept
            assert tif.series[0].shape == (40, 60, 3)


def test_an_interop_pointer_that_loops_is_not_followed_found_by_a_third_audit(tmp_path: Path) -> None:
    """An Interop IFD pointer back to the Exif IFD made the .tif writer recurse without end (RecursionError: a
    folder run stopped there); it is followed one level, and a GPS pointer inside the Exif IFD is left out."""
    exif = Image.Exif()
    exif.endian = "<"
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    sub.update({ExifTags.Base.DateTimeOriginal: "1931:05:01 10:00:00", ExifTags.IFD.Interop: {1: "R98"}})
    raw = bytearray(exif.tobytes().removeprefix(b"Exif\x00\x00"))

    def entry_of(ifd_at: int, wanted: int) -> int:
        count = struct.unpack("<H", raw[ifd_at:ifd_at + 2])[0]
        return next(e for e in range(ifd_at + 2, ifd_at + 2 + 12 * count, 12)
                    if struct.unpack("<H", raw[e:e + 2])[0] == wanted)

    exif_at = struct.unpack("<I", raw[entry_of(struct.unpack("<I", raw[4:8])[0], 34665) + 8:][:4])[0]
    at = entry_of(exif_at, ExifTags.IFD.Interop) + 8
    raw[at:at + 4] = struct.pack("<I", exif_at)  # the Interop IFD is the Exif IFD itself: a loop
    src = tmp_path / "loop.jpg"
    Image.fromarray(_stored()).save(src, exif=b"Exif\x00\x00" + bytes(raw))
    dst = tmp_path / "loop.tif"
    write_image(dst, np.dstack([_stored()] * 3), read_metadata(src))
    with tifffile.TiffFile(dst) as tif:
        assert tif.pages.first.tags["ExifTag"].value["DateTimeOriginal"] == "1931:05:01 10:00:00"


def test_jp2_xmp_in_an_xml_box_and_only_the_first_colr_box(tmp_path: Path) -> None:
    """A third audit: XMP in an 'xml ' box (as some tools write it) was lost, and a profile in a second 'colr'
    box was used where readers use the first alone."""
    import cv2

    from filmcolor import iccprofile, jp2

    ok, encoded = cv2.imencode(".jp2", _stored())
    data = encoded.tobytes()
    header = next((start, end) for kind, start, end in jp2.boxes(data, 12, len(data)) if kind == b"jp2h")
    profile = iccprofile.gray_profile(b"curv" + bytes(4) + struct.pack(">IH", 1, 461), name="G18")
    icc_colr = struct.pack(">I", 11 + len(profile)) + b"colr\x02\x00\x00" + profile
    xml = b'<x:xmpmeta xmlns:x="adobe:ns:meta/">caption</x:xmpmeta>'
    for extra_colr, icc_expected in ((b"", profile), (b"enum", None)):
        inner = data[header[0]:header[1]]
        if extra_colr:  # OpenCV's enumerated colr first, then the ICC one
            inner += icc_colr
        else:
            inner = b"".join(data[s - 8:e] if k != b"colr" else icc_colr for k, s, e in jp2.boxes(data, *header))
        src = tmp_path / "scan.jp2"
        src.write_bytes(data[:header[0] - 8] + struct.pack(">I", 8 + len(inner)) + b"jp2h" + inner
                        + struct.pack(">I", 8 + len(xml)) + b"xml " + xml + data[header[1]:])
        boxes = jp2.read(src)
        assert boxes.xmp == xml and boxes.icc == icc_expected


def test_a_jp2_scans_capture_resolution_goes_into_its_copies(tmp_path: Path) -> None:
    """A third audit: a .jp2's 'res ' box (600 x 300 dpi, as captured) was lost in every copy, and a .jp2 copy
    never had one, even of an EXIF with a resolution."""
    import cv2

    from filmcolor import jp2

    ok, encoded = cv2.imencode(".jp2", _stored())
    src = tmp_path / "scan.jp2"
    src.write_bytes(jp2.with_boxes(encoded.tobytes(), None, None, None, dpi=(600, 300)))
    with Image.open(src) as check:  # Pillow reads the capture resolution: an independent reader
        assert check.info["dpi"] == pytest.approx((600, 300), abs=0.01)
    meta = read_metadata(src)
    for ext in (".tif", ".jpg", ".jp2"):
        dst = tmp_path / f"out{ext}"
        write_image(dst, np.dstack([_stored()] * 3), meta)
        with Image.open(dst) as out:  # (Pillow's dpi of a JPEG takes the EXIF's X for both: its EXIF, then)
            exif = out.getexif()
            dpi = out.info["dpi"] if ext != ".jpg" else (exif[ExifTags.Base.XResolution],
                                                         exif[ExifTags.Base.YResolution])
            assert tuple(map(float, dpi)) == pytest.approx((600, 300), abs=0.01)


def test_a_broken_jp2_resolution_box_is_no_resolution() -> None:
    """A fifth audit: 65535/1 x 10^127 or 1/65535 became 1/0 or 0/1 in the copy's EXIF; a broken 'resc' now
    gives way to a good 'resd', and a resolution no scan has is none."""
    from filmcolor import jp2

    def header(*boxes: tuple[bytes, tuple[int, ...]]) -> bytes:
        inner = b"".join(struct.pack(">I4s", 18, kind) + struct.pack(">HHHHbb", *f) for kind, f in boxes)
        return struct.pack(">I4s", 8 + len(inner), b"res ") + inner

    assert jp2._resolution(header((b"resc", (65535, 1, 65535, 1, 127, 127)))) is None
    assert jp2._resolution(header((b"resc", (1, 65535, 1, 65535, 0, 0)))) is None
    assert jp2._resolution(header((b"resc", (0, 1, 0, 1, 0, 0)), (b"resd", (2835, 1, 2835, 1, 0, 0)))) == \
        pytest.approx((72.009, 72.009))


@pytest.mark.parametrize("ext", [".jpg", ".tif"])
def test_a_tag_pillow_cannot_write_leaves_only_itself_behind(tmp_path: Path, ext: str) -> None:
    """An audit: a scan whose Artist was stored as a RATIONAL (3/0) or Make as a DOUBLE lost its copy's whole
    EXIF, caption and copyright too, because Pillow cannot write those values as their tags' types."""
    src = tmp_path / "scan.tif"
    tifffile.imwrite(src, _stored(), metadata=None,
                     extratags=[(270, "s", 0, CAPTION, True), (271, 11, 1, 1.5, True), (315, 5, 1, (3, 0), True),
                                (33432, "s", 0, "Harbour Museum", True)])
    dst = tmp_path / f"out{ext}"
    write_image(dst, np.dstack([_stored()] * 3), read_metadata(src))
    with Image.open(dst) as copy:
        exif = copy.getexif()
    assert exif[ExifTags.Base.ImageDescription] == CAPTION and exif[ExifTags.Base.Copyright] == "Harbour Museum"
    assert ExifTags.Base.Artist not in exif and ExifTags.Base.Make not in exif


def test_a_tag_pillow_cannot_write_beside_sub_ifds_leaves_only_itself_behind(tmp_path: Path) -> None:
    """A second audit: with an Exif sub-IFD in the scan, an Artist stored as a RATIONAL still stopped the copy
    ('unexpected AttributeError', and `filmcolor image` gave up on the folder): the sub-IFD path wrote IFD0's
    tags without asking Pillow first."""
    raw = _exif(1).tobytes().removeprefix(b"Exif\x00\x00")
    scan = tmp_path / "scan.tif"
    write_image(scan, np.dstack([_stored()] * 3), PhotoMetadata(exif=raw))  # a .tif with an Exif sub-IFD
    data = bytearray(scan.read_bytes())
    order, _, entries = tiffifd.ifd0(bytes(data))
    assert ExifTags.Base.ExifOffset in [tag for _, tag, _, _ in entries]
    at = next(at for at, tag, _, _ in entries if tag == ExifTags.Base.Artist)
    value_at = struct.unpack(order + "I", data[at + 8:at + 12])[0]
    data[at + 2:at + 8] = struct.pack(order + "HI", 5, 1)  # RATIONAL, one: 3/0
    data[value_at:value_at + 8] = struct.pack(order + "II", 3, 0)
    scan.write_bytes(bytes(data))
    write_image(tmp_path / "out.jpg", np.dstack([_stored()] * 3), read_metadata(scan))
    with Image.open(tmp_path / "out.jpg") as copy:
        exif = copy.getexif()
    assert exif[ExifTags.Base.ImageDescription] == CAPTION and ExifTags.Base.Artist not in exif
    assert exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] == "1921:06:01 10:00:00"


@pytest.mark.parametrize("source", ["scan.jpg", "scan.png", "scan.bmp"])
def test_a_scans_resolution_kept_outside_exif_reaches_every_copy(tmp_path, source):
    """An audit: 600 dpi held in a JPEG's JFIF header or a PNG's pHYs (as scanners and Pillow write it, with
    no EXIF) was dropped in silence, and a PNG output never said its resolution where PNG readers look."""
    Image.fromarray(_stored()).save(tmp_path / source, dpi=(600, 600))
    meta = read_metadata(tmp_path / source)
    for ext in (".jpg", ".png", ".tif"):
        out = tmp_path / f"out{ext}"
        write_image(out, np.stack([_stored()] * 3, axis=2), meta)
        with Image.open(out) as copy:
            assert copy.info.get("dpi") == pytest.approx((600, 600), abs=0.01), (source, ext, copy.info)
            assert float(copy.getexif()[ExifTags.Base.XResolution]) == 600.0, (source, ext)


def test_a_pngs_text_and_a_jpegs_comment_go_to_copies_of_their_kind_and_are_named_elsewhere(tmp_path):
    """An audit: a PNG's Title, Copyright and Description and a JPEG's comment were dropped in silence."""
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Title", "Street 1906")
    info.add_text("Copyright", "(c) Archive", zip=True)
    info.add_itxt("Description", "Caption \u00fc")
    Image.fromarray(_stored()).save(tmp_path / "t.png", pnginfo=info)
    Image.fromarray(_stored()).save(tmp_path / "c.jpg", comment=b"Scan of print #1234")
    rgb = np.stack([_stored()] * 3, axis=2)
    assert write_image(tmp_path / "t_out.png", rgb, read_metadata(tmp_path / "t.png")) == []
    with Image.open(tmp_path / "t_out.png") as copy:
        assert {k: copy.info[k] for k in ("Title", "Copyright", "Description")} == {
            "Title": "Street 1906", "Copyright": "(c) Archive", "Description": "Caption \u00fc"}
    assert write_image(tmp_path / "t_out.jpg", rgb, read_metadata(tmp_path / "t.png")) == [
        f"{tmp_path / 't_out.jpg'}: not kept: the PNG's text (Title, Copyright, Description: a .jpg output keeps "
        "none, a .png keeps it)"]
    assert write_image(tmp_path / "c_out.jpg", rgb, read_metadata(tmp_path / "c.jpg")) == []
    with Image.open(tmp_path / "c_out.jpg") as copy:
        assert copy.info.get("comment") == b"Scan of print #1234"
    assert write_image(tmp_path / "c_out.tif", rgb, read_metadata(tmp_path / "c.jpg")) == [
        f"{tmp_path / 'c_out.tif'}: not kept: the JPEG's comment (a .tif output keeps none, a .jpg keeps it)"]


def test_pillows_pixel_limit_is_raised_for_filmcolors_opening_alone(tmp_path):
    """An audit: importing filmcolor raised Pillow's decompression-bomb limit for the whole process (a web
    server importing it lost its guard). Now it is raised only while filmcolor opens a header."""
    from media import png_bomb

    from filmcolor.pillowopen import open_image

    assert Image.MAX_IMAGE_PIXELS == int(1024 * 1024 * 1024 // 4 // 3)  # Pillow's own, filmcolor imported
    big = png_bomb(tmp_path / "big.png", 20000, 10000, rows=1)  # 200 M pixels declared: over 2 x Pillow's
    with pytest.raises(Image.DecompressionBombError):
        Image.open(big)
    with open_image(big) as image:
        assert image.size == (20000, 10000)
    assert Image.MAX_IMAGE_PIXELS == int(1024 * 1024 * 1024 // 4 // 3)


def test_a_pngs_large_xmp_is_kept(tmp_path):
    """A review: the 1 MiB cap on a PNG's text chunks dropped an XMP larger than that (Photoshop's history)."""
    from PIL import PngImagePlugin

    big = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><h>' + b"x" * (1_200_000) + b"</h></x:xmpmeta>"
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", big.decode())
    Image.fromarray(_stored()).save(tmp_path / "big.png", pnginfo=info)
    assert read_metadata(tmp_path / "big.png").xmp == big
