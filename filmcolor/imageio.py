"""Finding, reading and writing still images (OpenCV), with one-line errors for every bad file."""

from __future__ import annotations

import io
import mimetypes
import os
import re
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np
from PIL import Image

from filmcolor import iccprofile, jp2, photometa, tiffifd
from filmcolor.errors import InputError, OutputError
from filmcolor.fsutil import write_bytes_atomic
from filmcolor.photometa import PhotoMetadata
from filmcolor.pillowopen import PIXEL_LIMIT, open_image

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".jp2", ".bmp", ".webp")  # read and written
# read, not written: JPEG 2000's other names (JPX, a bare codestream; OpenCV writes .jp2 alone), copied as .jp2
READ_ONLY_IMAGE_EXTENSIONS = {".jpf": ".jp2", ".jpx": ".jp2", ".j2k": ".jp2", ".j2c": ".jp2"}
IMAGE_INPUT_EXTENSIONS = IMAGE_EXTENSIONS + tuple(READ_ONLY_IMAGE_EXTENSIONS)
SIXTEEN_BIT_EXTENSIONS = (".png", ".tif", ".tiff", ".jp2")  # outputs that keep 16 bits a channel
SAMPLES_PER_PIXEL, ORIENTATION, PHOTOMETRIC, EXTRA_SAMPLES = 277, 274, 262, 338  # TIFF tags
MAX_SIDE = {".webp": 16383, ".jpg": 65500, ".jpeg": 65500}  # the formats' own limits (libwebp, libjpeg)
JP2_MIN_SIDE = 32  # OpenJPEG codes 6 resolution levels, halving a side 5 times
# JPEG at quality 95; JPEG 2000 lossless (a rate of 1000/1000: OpenCV's default compresses 4:1, changing
# 99% of a grainy 16-bit scan's pixels, up to 311 levels)
ENCODER_PARAMS = {".jpg": [cv2.IMWRITE_JPEG_QUALITY, 95], ".jpeg": [cv2.IMWRITE_JPEG_QUALITY, 95],
                  ".jp2": [cv2.IMWRITE_JPEG2000_COMPRESSION_X1000, 1000]}
MAX_PIXELS = PIXEL_LIMIT  # 20000 x 20000: the Lab planes of anything larger need many GB (Pillow opens
# headers up to it too: pillowopen)


def is_image_path(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_INPUT_EXTENSIONS


def copy_suffix(suffix: str) -> str:
    """The extension of a picture's coloured copy: its own where we write it, else its format's (.jpf: .jp2),
    else .png."""
    return suffix if suffix.lower() in IMAGE_EXTENSIONS else READ_ONLY_IMAGE_EXTENSIONS.get(suffix.lower(), ".png")


def output_is_file(output: Path, inputs: Sequence[Path]) -> bool:
    """Whether an images' output path names one file (True) or a folder to write them into (False).

    A name with an extension we write is a file (so one input, and not a folder); a picture, video or sound
    extension we cannot write is an OutputError, not a folder named ``still.gif``, and so is any other
    extension for one input file (``photo.jpg -o out.txt``); an existing folder, or a name for the outputs
    of a folder or of several inputs (``-o results.v2``), is a folder.
    """
    output = Path(output)
    if output.is_dir():
        return False
    ext = output.suffix.lower()
    if ext in IMAGE_EXTENSIONS:
        if len(inputs) != 1 or Path(inputs[0]).is_dir():
            given = "the input is a folder" if len(inputs) == 1 else f"{len(inputs)} inputs were given"
            raise OutputError(f"{output}: names one image file, but {given}; name a folder instead")
        return True
    kind = (mimetypes.guess_type(output.name, strict=False)[0] or "").split("/")[0]
    one_file = len(inputs) == 1 and not Path(inputs[0]).is_dir()
    if kind in ("image", "video", "audio") or (ext and one_file):
        raise OutputError(f"{output}: cannot write {output.suffix} files; use {', '.join(IMAGE_EXTENSIONS)}, "
                          "or a folder name without an extension")
    return False


def list_images(paths: Iterable[Path]) -> list[Path]:
    """The image files under the given folders (recursively) and the given files themselves, sorted. Hidden
    files and folders under a folder are left out, as `batch` leaves them: a Mac writes "._photo.jpg" (not a
    picture) beside each photo on a non-Mac disk. A file reached twice by one name (a folder given twice, or
    inside another given) is listed once: `train --data A --data A/` trained on its photos twice and validated
    on some of them. A link beside a photo is a name of its own (its copy keeps it)."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_file():
            found.append(path)
        else:
            found += [p for p in path.rglob("*") if p.is_file() and is_image_path(p)
                      and not any(part.startswith(".") for part in p.relative_to(path).parts)]
    once = {Path(os.path.abspath(p)): p for p in reversed(found)}  # (the first spelling a name was found by)
    return sorted(once.values())


def _jpeg_truncated(data: bytes) -> bool:
    """True when the main image's scan data has no end-of-image marker after it.

    Walks the marker segments to the first start-of-scan (so an EXIF thumbnail's own markers are
    skipped), then looks for EOI after it; data appended after EOI (phone "motion photos") is fine.
    OpenCV decodes a truncated JPEG silently, filling the missing rows with gray.
    """
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return False  # not a marker where one should be: let the decoder judge it
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
        elif marker == 0xDA:  # start of scan: entropy-coded data follows, 0xFF bytes are stuffed
            return data.find(b"\xff\xd9", pos) == -1
        elif 0xD0 <= marker <= 0xD9 or marker == 0x01:  # markers without a length
            pos += 2
        else:
            pos += 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
    return True  # ended inside the headers


HEADER_BYTES = 1 << 20  # enough for a JPEG's frame header after its EXIF, XMP and ICC segments


def declared_size(data: bytes | memoryview) -> tuple[int, int] | None:
    """(width, height) from a PNG, JPEG, BMP, WebP, TIFF or PNM header, without decoding; None when unknown.

    A few hundred KB of PNG can declare 20000 x 20000 pixels (zeros compress ~1000:1): decoding it first
    is what took 19 GB. Formats not listed here are still size-checked, after decoding.
    """
    head = bytes(data[:1024])
    try:
        if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
            return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
        if head[:2] == b"\xff\xd8":
            return _jpeg_size(data)
        if head[:2] == b"BM":
            if int.from_bytes(head[14:18], "little") == 12:  # OS/2 core header: 16-bit sides
                return int.from_bytes(head[18:20], "little"), int.from_bytes(head[20:22], "little")
            width = int.from_bytes(head[18:22], "little", signed=True)
            height = int.from_bytes(head[22:26], "little", signed=True)  # negative: stored top-down
            return abs(width), abs(height)
        if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
            return _webp_size(head)
        if head[:4] in tiffifd.TIFF_HEADS:
            return _tiff_size(data)  # the directory may be anywhere, often after the pixels
        if head[:12] == jp2.SIGNATURE:
            return jp2.size(data)
        if head[:4] == jp2.CODESTREAM:  # SIZ: its length, capabilities, then the grid's size and offset
            width, height, x0, y0 = (int.from_bytes(head[8 + 4 * i:12 + 4 * i], "big") for i in range(4))
            return width - x0, height - y0
        if head[:1] == b"P" and head[1:2] in (b"1", b"2", b"3", b"4", b"5", b"6") and head[2:3].isspace():
            fields = re.sub(rb"#[^\n]*", b" ", head[2:]).split()
            return int(fields[0]), int(fields[1])
    except (IndexError, ValueError):
        return None
    return None


def _jpeg_size(data: bytes | memoryview) -> tuple[int, int] | None:
    """The main image's frame header (SOFn), walking the marker segments before it (EXIF thumbnail skipped)."""
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
        elif 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # start of frame (not DHT, JPG, DAC)
            height = int.from_bytes(data[pos + 5:pos + 7], "big")
            width = int.from_bytes(data[pos + 7:pos + 9], "big")
            return (width, height) if height else None  # 0: the height comes later (DNL); decode to know
        elif 0xD0 <= marker <= 0xD9 or marker == 0x01:
            pos += 2
        elif marker == 0xDA:
            return None
        else:
            pos += 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X":  # extended: the canvas size, 24-bit, minus one
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":  # lossy key frame: 14-bit sides
        return int.from_bytes(data[26:28], "little") & 0x3FFF, int.from_bytes(data[28:30], "little") & 0x3FFF
    if chunk == b"VP8L" and data[20] == 0x2F:  # lossless: 14-bit sides minus one, packed
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


def _tiff_size(data: bytes | memoryview) -> tuple[int, int] | None:
    """ImageWidth and ImageLength of the first directory (the page OpenCV reads)."""
    tags = tiffifd.first_values(data)
    return (tags[256], tags[257]) if 256 in tags and 257 in tags else None


def _jp2_full_range(path: Path, image: np.ndarray, bits: list[int]) -> np.ndarray:
    """A 16-bit JPEG 2000 picture of 9-15-bit components (OpenJPEG's 0..2^bits-1) on the full 16 bits, each
    channel by its component's depth (OpenCV's order is BGR(A), the codestream's RGB(A))."""
    channels = image.shape[2] if image.ndim == 3 else 1
    if len(bits) != channels:
        if len(set(bits)) > 1:
            raise InputError(f"{path}: JPEG 2000 components of {sorted(set(bits))} bits, not one per channel")
        bits = bits[:1] * channels
    order = [2, 1, 0, 3][:channels] if channels >= 3 else list(range(channels))  # OpenCV channel -> component
    out = image
    for channel, component in enumerate(order):
        depth = bits[component]
        if 8 < depth < 16:
            top = (1 << depth) - 1
            plane = image[..., channel] if image.ndim == 3 else image
            scaled = ((plane.astype(np.uint32) * 65535 + top // 2) // top).astype(np.uint16)
            if out is image:
                out = image.copy()
            if out.ndim == 3:
                out[..., channel] = scaled
            else:
                out = scaled
    return out


def _gray_and_extra(path: Path, gray: np.ndarray | None, tags: dict[int, int], said: list[str]) -> np.ndarray | None:
    """A TIFF of gray and one extra channel (SamplesPerPixel 2), which OpenCV reads as 8-bit gray alone, read
    whole by tifffile (Pillow for an 8-bit one in a compression tifffile lacks a codec for) and turned upright
    as libtiff turns it: with alpha (ExtraSamples 1 or 2; associated alpha unmultiplied), BGRA with the gray
    thrice; with another channel (0: a scanner's infrared dust map), the gray alone at its own depth, and a
    line in ``said``. MinIsWhite gray is inverted, as libtiff does. What cannot be read so is OpenCV's gray,
    with a line saying what was lost."""
    import tifffile

    extra = tags.get(EXTRA_SAMPLES, 0)
    photometric = tags.get(PHOTOMETRIC, 1)
    try:
        with tiffifd.quiet_tifffile(), tifffile.TiffFile(path) as tif:
            page = tif.pages.first
            pixels = np.moveaxis(page.asarray(), page.axes.index("S"), -1) if "S" in page.axes else None
        upright = False
    except Exception as err:  # noqa: BLE001 - LZW, JPEG, PackBits need imagecodecs, which tifffile may lack
        pixels, upright = _pillow_gray_alpha(path), True  # libtiff's reading, turned and inverted already
        if pixels is None:
            said.append(f"gray with {'alpha' if extra in (1, 2) else 'an extra channel'}, read as 8-bit gray "
                        f"without it (tifffile: {err}; 'pip install imagecodecs' reads it whole)")
            return gray
        photometric = 1
    if pixels is None or pixels.ndim != 3 or pixels.shape[2] != 2 or photometric not in (0, 1) \
            or (photometric == 0 and pixels.dtype.kind == "f"):
        return gray
    if not upright:
        pixels = photometa.upright(pixels, tags.get(ORIENTATION, 1) if 1 <= tags.get(ORIENTATION, 1) <= 8 else 1)
    luma, channel = pixels[..., 0], pixels[..., 1]
    top = np.iinfo(pixels.dtype).max if pixels.dtype.kind in "ui" else 1.0
    if photometric == 0:
        luma = top - luma
    if extra not in (1, 2):
        said.append(f"its second channel, not alpha (ExtraSamples {extra}: a scanner's infrared?), left out")
        return luma
    if extra == 1:  # associated: the gray is premultiplied by the alpha
        opaque = channel.astype(np.float64)
        luma = np.where(opaque > 0, np.minimum(luma * (float(top) / np.maximum(opaque, 1e-12)), top), 0)
        luma = (np.rint(luma) if pixels.dtype.kind in "ui" else luma).astype(pixels.dtype)
    return np.dstack([luma] * 3 + [channel])


def _pillow_gray_alpha(path: Path) -> np.ndarray | None:
    """An 8-bit gray+alpha TIFF as Pillow reads it (libtiff: LZW, JPEG, PackBits; turned upright and MinIsWhite
    inverted), (H, W, 2), premultiplied as stored when the alpha is associated ('La'); None when Pillow
    cannot."""
    try:
        with open_image(path) as image:
            return np.asarray(image) if image.mode in ("LA", "La") else None
    except Exception:  # noqa: BLE001 - the caller falls back to OpenCV's gray and says what was lost
        return None


# what OpenCV wraps a codec's reason in: "imdecode_(''): can't read data: OpenCV(5.1.0) /io/.../x.cpp:605:
# error: (-2:Unspecified error) ... in function 'readData'"
_OPENCV_NOISE = re.compile(r"imdecode_ |imdecode_\(''\): can't read data: |OpenCV\([^)]*\) \S+:\d+: error: "
                           r"\(-?\d+:[^)]*\) | in function '\w+'")


def _format_name(head: bytes) -> str | None:
    """'PNG', 'TIFF'...: the picture format of a file's first bytes, or None."""
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    if head[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if head[:2] == b"BM":
        return "BMP"
    if head[:4] in tiffifd.TIFF_HEADS + tiffifd.BIGTIFF_HEADS:
        return "TIFF"
    if photometa.is_webp(head):
        return "WebP"
    if head[:12] == jp2.SIGNATURE or head[:4] == jp2.CODESTREAM:
        return "JPEG 2000"
    return None


def _many_pictures_kind(head: bytes) -> str | None:
    """The name of a format whose file can hold several pictures, from its first bytes; None for others."""
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "animated GIF"
    if head[:4] in tiffifd.TIFF_HEADS:
        return "multi-page TIFF"
    if photometa.is_webp(head):
        return "animated WebP"
    if head[:8] == b"\x89PNG\r\n\x1a\n":  # (an APNG's first frame was coloured without a word; an audit)
        return "animated PNG"
    return None


def _frame_count(path: Path) -> int:
    """How many pictures a GIF, TIFF, WebP or PNG holds (1 when Pillow cannot say). Pillow's count, read with
    Python's own file: OpenCV's imcount crashed the process on a name that is not UTF-8 (an audit: a
    segfault, for any animated GIF or multi-page TIFF so named)."""
    try:
        with open_image(path) as picture:
            return max(1, int(getattr(picture, "n_frames", 1)))
    except Exception:  # noqa: BLE001 (Pillow raises what it likes on a file it cannot read: 1 picture then)
        return 1


def declared_size_of(path: Path) -> tuple[int, int] | None:
    """(width, height) a picture file's header declares (as stored, before any EXIF turn), or None: read
    before decoding, so that a picture of the wrong size is refused before it fills the memory."""
    try:
        with open(path, "rb") as f:
            head = f.read(HEADER_BYTES)
    except OSError:
        return None  # read_image says why
    return declared_size(head)


def read_image(path: Path, warnings: list[str] | None = None, deep: bool = False) -> np.ndarray:
    """Read an image as uint8 gray (H, W), RGB (H, W, 3) or RGBA (H, W, 4) in sRGB (an embedded ICC profile
    applied: `iccprofile`), upright as its EXIF says; with ``deep``, a 16-bit or float picture (a scan) as
    uint16 instead. A TIFF's gray + alpha keeps its alpha (tifffile), a 9-15-bit JPEG 2000 fills 16 bits.

    Only the first frame of an animated GIF or page of a TIFF is read; ``warnings``, when given, gets a line
    saying so, and one for each thing read otherwise than the file says.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not an image")
    if not path.is_file():
        raise InputError(f"{path}: not a regular file (a device, a pipe or a socket); give an image file")
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as err:
        raise InputError(f"{path}: cannot read ({err.strerror or err})") from err
    if data.size == 0:
        raise InputError(f"{path}: empty file (0 bytes)")
    size = declared_size(data.data)
    if size is not None and size[0] * size[1] > MAX_PIXELS:
        raise InputError(f"{path}: image too large ({size[0]}x{size[1]}, limit {MAX_PIXELS} pixels)")
    jpeg = data[:3].tobytes() == b"\xff\xd8\xff"
    if jpeg and _jpeg_truncated(data.tobytes()):
        raise InputError(f"{path}: truncated JPEG (no end-of-image marker)")
    # A picture is turned as its EXIF orientation says (a phone's photo of a print is stored sideways), as every
    # viewer shows it; OpenCV does that for any flags but IMREAD_UNCHANGED, which the alpha of a PNG needs, so
    # other formats are turned below
    flags = cv2.IMREAD_ANYCOLOR | cv2.IMREAD_ANYDEPTH if jpeg else cv2.IMREAD_UNCHANGED
    try:
        image, said = _decode(data, flags)
    except cv2.error as err:
        raise InputError(f"{path}: cannot decode image ({str(err).strip().splitlines()[-1]})") from err
    tags = tiffifd.first_values(data.data) if data[:4].tobytes() in tiffifd.TIFF_HEADS + tiffifd.BIGTIFF_HEADS else {}
    two_samples = tags.get(SAMPLES_PER_PIXEL) == 2  # gray and another channel: OpenCV drops it, reading 8 bits
    if image is None and two_samples:  # libtiff refuses float gray + alpha outright: tifffile reads it
        image = _gray_and_extra(path, None, tags, extra := [])
        if image is not None:  # read whole: what libtiff said of a file it could not read is of no use now
            said, two_samples = extra, False
    if image is None:
        why = _OPENCV_NOISE.sub("", said[-1]).strip() if said else "unknown format or corrupt"
        if kind := _format_name(data[:16].tobytes()):  # (raw OpenCV text with its source file's line said
            raise InputError(f"{path}: a damaged or cut-short {kind} file ({why})")  # nothing of it; an audit)
        raise InputError(f"{path}: not an image OpenCV can decode ({why})")
    if jpeg and (missing := next((line for line in said if _JPEG_DATA_MISSING.search(line)), None)):
        raise InputError(f"{path}: damaged JPEG ({missing}): part of the picture is missing (decoded as gray)")
    said = [f"{line} (the picture may be damaged)" if _LIBJPEG.match(line) else line for line in said]
    if image.dtype == np.uint16 and (data[:12].tobytes() == jp2.SIGNATURE or data[:4].tobytes() == jp2.CODESTREAM):
        image = _jp2_full_range(path, image, jp2.precision(data.data))
    if not jpeg:  # a PNG, WebP or JPEG 2000 (libtiff turns a TIFF itself, whatever the flags: photometa.orientation)
        image = photometa.upright(image, photometa.orientation(data.data))
    if image.ndim == 2 and two_samples:
        image = _gray_and_extra(path, image, tags, said)
    if warnings is not None:
        warnings.extend(f"{path}: {line}" for line in said)
    kind = _many_pictures_kind(data[:16].tobytes())
    if warnings is not None and kind:
        frames = _frame_count(path)
        if frames > 1:
            what = "pages" if kind == "multi-page TIFF" else "frames"
            warnings.append(f"{path}: {kind} ({frames} {what}): only the first {what[:-1]} is coloured")
    if image.shape[0] * image.shape[1] > MAX_PIXELS:
        raise InputError(
            f"{path}: image too large ({image.shape[1]}x{image.shape[0]}, limit {MAX_PIXELS} pixels)")
    top, dtype = (65535.0, np.uint16) if deep else (255.0, np.uint8)
    if image.dtype == np.uint16 and not deep:
        image = (image.astype(np.uint32) * 255 + 32767) // 65535
        image = image.astype(np.uint8)
    elif image.dtype in (np.float32, np.float64):
        image = image.astype(np.float32, copy=False)
        outside = [(float(share), what) for share, what in (
            ((image > 1.0).mean(), "above 1.0 (high dynamic range)"), ((image < 0.0).mean(), "below 0"),
            ((~np.isfinite(image)).mean(), "not numbers")) if share > 0]
        if warnings is not None and outside:
            warnings.append(f"{path}: values outside 0-1 clipped: "
                            + ", ".join(f"{max(share, 0.01):.0%} {what}" for share, what in outside))
        image = np.nan_to_num(image, nan=0.0, posinf=1.0, neginf=0.0)
        image = np.clip(image * top + 0.5, 0, top).astype(dtype)
    elif image.dtype not in (np.uint8, np.uint16):
        raise InputError(f"{path}: unsupported pixel type {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.ndim == 3:
        if image.shape[2] not in (3, 4):
            raise InputError(f"{path}: unsupported number of channels ({image.shape[2]})")
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB if image.shape[2] == 3 else cv2.COLOR_BGRA2RGBA)
    return _in_srgb(path, image, warnings)


def _in_srgb(path: Path, image: np.ndarray, warnings: list[str] | None) -> np.ndarray:
    """``image`` turned into sRGB from the ICC profile its file holds, if any (see `iccprofile`)."""
    icc = iccprofile.embedded(path)
    if icc is None:
        return image
    image, said = iccprofile.to_srgb(image, icc)
    if said and warnings is not None:
        warnings.append(f"{path}: {said}")
    return image


# OpenCV's log line prefix ("[ WARN:0@1.1] global grfmt_png.cpp:855 "); libpng and libtiff print their own
_OPENCV_LOG = re.compile(r"^\[\s*(?:WARN|ERROR|INFO)[^\]]*\]\s*(?:global\s+)?\S+:\d+\s+")
_STDERR_LOCK = threading.Lock()  # one redirection of fd 2 at a time
_LIBJPEG = re.compile(r"^(Corrupt JPEG data|Premature end of JPEG file|Invalid SOS parameters|"
                      r"Warning: unknown JFIF|Inconsistent progression)")
# what libjpeg says when the scan's data ran out before the picture did: it fills the rest with gray
_JPEG_DATA_MISSING = re.compile(r"premature end of (data segment|JPEG file)|Huffman", re.IGNORECASE)
# what libtiff says of tags it does not know (EXIF's XP* tags, which a TIFF keeps in IFD0), and OpenJPEG of a
# .jp2 whose colour space is an ICC profile (read by iccprofile) or none (sRGB, as for any picture): nothing is wrong
# ... and libpng of a gray PNG tagged with an RGB profile (read along its neutral axis by iccprofile)
_HARMLESS = re.compile(r"Unknown field with tag \d+|unknown or unspecified color space, SRGB is assumed"
                       r"|RGB color space not permitted on grayscale PNG")
T = TypeVar("T")


def _decode(data: np.ndarray, flags: int) -> tuple[np.ndarray | None, list[str]]:
    """cv2.imdecode, with what OpenCV, libpng and libtiff print to stderr while decoding (a broken PNG's "libpng
    error: Not enough image data", each on a line of its own) caught and returned instead: the caller makes
    it part of its own one-line message."""
    return _quietly(lambda: cv2.imdecode(data, flags))


def _quietly(call: Callable[[], T]) -> tuple[T, list[str]]:
    """``call()``, and the lines OpenCV, libpng and libtiff printed to stderr meanwhile, caught instead of
    printed. Anything else written to stderr meanwhile is passed on."""
    with _STDERR_LOCK, tempfile.TemporaryFile() as sink:
        if sys.stderr is not None:  # (None from Python when stderr was closed; the library has no CLI start)
            sys.stderr.flush()
        try:
            saved = os.dup(2)
        except OSError:  # no stderr to redirect
            return call(), []
        os.dup2(sink.fileno(), 2)
        try:
            result = call()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        sink.seek(0)
        lines = [line.strip() for line in sink.read().decode(errors="replace").splitlines() if line.strip()]
    native, others, within = [], [], False
    for line in lines:
        if _OPENCV_LOG.match(line) or line.startswith(("libpng", "TIFF")) or _LIBJPEG.match(line):
            native.append(line)
            within = True
        elif within and line.startswith((">", "where", ":")):  # the rest of an OpenCV check's message: its reason
            native[-1] += " " + line.lstrip("> ").strip("'")
        else:
            others.append(line)
            within = False
    if others:
        sys.stderr.write("\n".join(others) + "\n")
    return result, [_OPENCV_LOG.sub("", line) for line in native if not _HARMLESS.search(line)]


def write_image(path: Path, image: np.ndarray, metadata: PhotoMetadata | None = None,
                replace: bool = True) -> list[str]:
    """Write an RGB(A) or gray uint8 or uint16 image atomically (encode_image); returns a line for each part
    of ``metadata`` that this output could not keep. ``replace`` False: a file that appears at ``path``
    meanwhile is an OutputError (fsutil.atomic_output)."""
    encoded, left = encode_image(path, image, metadata)
    write_bytes_atomic(Path(path), encoded, replace)
    return [f"{path}: not kept: {what}" for what in left]


def encode_image(path: Path, image: np.ndarray, metadata: PhotoMetadata | None = None) -> tuple[bytes, list[str]]:
    """An RGB(A) or gray uint8 or uint16 image encoded as ``path``'s extension says (a uint16 image goes into a
    PNG or TIFF at 16 bits, into the others at 8), with ``metadata`` (the input photo's,
    `photometa.read_metadata`) in a JPEG, PNG or TIFF; and what of it this format could not keep."""
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in IMAGE_EXTENSIONS:
        raise OutputError(f"{path}: unsupported output extension '{path.suffix}' (use .png or .jpg)")
    left = []
    if image.dtype == np.uint16 and ext not in SIXTEEN_BIT_EXTENSIONS:
        image = cv2.convertScaleAbs(image, alpha=255.0 / 65535.0)
        left.append("16 bits a channel (written as 8; .png, .tif and .jp2 keep 16)")
    elif image.dtype == np.uint16 and image.ndim == 3 and ext == ".jp2" and min(image.shape[:2]) < JP2_MIN_SIDE:
        image = cv2.convertScaleAbs(image, alpha=255.0 / 65535.0)  # (a thumbnail: Pillow holds no 16-bit colour)
        left.append(f"16 bits a channel (written as 8: a colour .jp2 under {JP2_MIN_SIDE} pixels a side holds 8 "
                    "here; .png and .tif keep 16)")
    if image.ndim == 3 and image.shape[2] == 4 and ext in (".jpg", ".jpeg"):
        if int(image[..., 3].min()) < np.iinfo(image.dtype).max:  # (an opaque alpha loses nothing)
            left.append("transparency (a .jpg has none: what was transparent shows; .png and .tif keep it)")
        image = image[..., :3]
    if ext in (".tif", ".tiff"):  # tifffile: IFD0 tags for the metadata, alpha marked as alpha
        encoded, lost = photometa.tiff_with(image, metadata or PhotoMetadata())
    elif ext == ".jp2" and min(image.shape[:2]) < JP2_MIN_SIDE:  # fewer resolution levels than OpenCV codes
        encoded, lost = photometa.with_metadata(_small_jp2(image), ext, metadata or PhotoMetadata())
    else:
        if image.ndim == 3:
            code = cv2.COLOR_RGBA2BGRA if image.shape[2] == 4 else cv2.COLOR_RGB2BGR
            image = cv2.cvtColor(image, code)
        params = ENCODER_PARAMS.get(ext, [])
        side = MAX_SIDE.get(ext)
        if side and max(image.shape[:2]) > side:
            raise OutputError(f"{path}: a {ext} picture is at most {side} pixels a side, and this one is "
                              f"{image.shape[1]}x{image.shape[0]}; write .png or .tif")
        (ok, buf), said = _quietly(lambda: cv2.imencode(ext, image, params))
        if not ok:
            raise OutputError(f"{path}: could not encode the image" + (f" ({said[-1]})" if said else ""))
        encoded, lost = photometa.with_metadata(buf.tobytes(), ext, metadata or PhotoMetadata())
    return encoded, left + lost


def _small_jp2(image: np.ndarray) -> bytes:
    """A picture under JP2_MIN_SIDE pixels a side as a lossless .jp2 by Pillow (OpenJPEG too), with as many
    resolution levels as its short side holds (8-bit colour, or 8- or 16-bit gray: write_image sees to it)."""
    buffer = io.BytesIO()
    levels = max(1, int(np.log2(max(1, min(image.shape[:2])))) + 1)
    Image.fromarray(image).save(buffer, "JPEG2000", irreversible=False, num_resolutions=min(levels, 6))
    return buffer.getvalue()


def shrink(plane: np.ndarray, height: int, width: int) -> np.ndarray:
    """Area-average ``plane`` down to (height, width), halving first while it is 2x too large or more.

    OpenCV's exact 2x area reduction is ~20x faster than a general ratio (0.1 ms vs 2 ms for 1080p ->
    384 x 224), and the two box filters in a row average the same pixels to within a fraction of a level.
    """
    while plane.shape[0] >= 2 * height and plane.shape[1] >= 2 * width:
        plane = cv2.resize(plane, (plane.shape[1] // 2, plane.shape[0] // 2), interpolation=cv2.INTER_AREA)
    if plane.shape[:2] == (height, width):
        return plane
    return cv2.resize(plane, (width, height), interpolation=cv2.INTER_AREA)


def read_colour_image(path: Path, what: str, notes: list[str] | None = None) -> np.ndarray:
    """A colour picture (uint8 RGB) for guidance; a gray one is refused, it has no colour to give. ``notes``
    gets read_image's lines (an animated picture's first frame is the one used)."""
    said: list[str] = []
    image = read_image(Path(path), said)
    if notes is not None:  # (a reference's other frames went unsaid; an audit)
        notes += [line.replace(" is coloured", f" is the {what}") for line in said]
    if image.ndim == 2 or image.shape[2] < 3:
        raise InputError(f"{path}: {what} is a grayscale image; it must be a colour picture")
    rgb = np.ascontiguousarray(image[..., :3])
    chroma = np.abs(rgb.astype(np.int16) - rgb.mean(axis=2, keepdims=True).astype(np.int16)).max()
    if chroma <= 2:
        raise InputError(f"{path}: {what} has no colour (R = G = B); it must be a colour picture")
    return rgb
