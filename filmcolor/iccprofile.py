"""Colour profiles: a picture's embedded ICC profile, and its levels turned into the sRGB the colouriser works in.

A scan's levels mean what its profile says. Photoshop keeps a grayscale scan in "Dot Gain 20%" or "Gray Gamma
2.2", a museum's scanner an RGB one in "Adobe RGB (1998)" or "ProPhoto RGB", and a colour-managed viewer shows
their tones through it. The colouriser's Lab is sRGB's, so a picture in another profile is turned into sRGB as
it is read, by LittleCMS (Pillow's ImageCms), and its coloured copy says it is sRGB (`photometa` embeds sRGB's
profile). A picture without a profile is sRGB, as the web has it, and is left as it is.
"""

from __future__ import annotations

import functools
import io
import struct
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms

from filmcolor import jp2, lab
from filmcolor.pillowopen import open_image

# A profile whose conversion moves no level by more than this many 8-bit levels is sRGB already (an sRGB
# profile of another maker: HP's moves none by more than 1); the picture is then left as it is
SAME_LEVELS = 1
ROWS_AT_ONCE = 1024  # rows of an RGB picture converted at once: a whole picture copied twice over is ~8 bytes a pixel
_D50 = (0.9642, 1.0, 0.8249)  # the ICC profile connection space's white (s15Fixed16 numbers)
_TRC_TAGS = (b"rTRC", b"gTRC", b"bTRC")
PROFILE_DATE = (2000, 1, 1, 0, 0, 0)  # the creation date written into sRGB's profile (srgb_profile)


def embedded(path: Path) -> bytes | None:
    """The ICC profile a JPEG, PNG, TIFF, WebP or JPEG 2000 file holds, read from its headers; None when it has
    none."""
    with open(path, "rb") as file:
        if file.read(12) == jp2.SIGNATURE:  # Pillow reads no profile from a .jp2
            return jp2.read(path).icc
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow warns on odd headers; what it can read is enough here
        try:
            with open_image(path) as image:
                return image.info.get("icc_profile") or None
        except Exception:  # noqa: BLE001 - a file Pillow cannot open has no profile it could read
            return None


def to_srgb(image: np.ndarray, icc: bytes) -> tuple[np.ndarray, str]:
    """``image`` (gray, RGB or RGBA in RGB order; uint8 or uint16) in the profile ``icc``, turned into sRGB
    (the image itself when the profile is sRGB's already), and a line for what could not be done: '' when all
    was. A profile that cannot be used leaves the image as sRGB, and the line says why. A gray profile of an
    RGB picture whose channels are equal (gray with alpha, read as RGBA) is applied to its gray."""
    icc = bytes(icc)
    try:
        name = _name(icc)
    except (OSError, ImageCms.PyCMSError):
        return image, "its ICC profile cannot be read: taken as sRGB"
    space = icc[16:20]
    gray = image.ndim == 2
    gray_in_rgb = not gray and space == b"GRAY" and _channels_equal(image)
    if gray and space == b"RGB ":  # a gray picture tagged with an RGB profile (ImageMagick writes them): its
        try:                       # levels are that profile's grays, R = G = B, on its neutral axis
            table = _neutral_lut(icc, 65535 if image.dtype == np.uint16 else 255)
            return (image if table is None else table[image]), ""
        except (ValueError, ImageCms.PyCMSError, OSError):
            pass  # no one neutral curve: said below
    if space != (b"GRAY" if gray or gray_in_rgb else b"RGB "):
        kind = space.decode("latin-1").strip() or "another colour space"
        return image, (f"its ICC profile {name} is for {kind} pictures, not {'gray' if gray else 'RGB'} ones: "
                       "taken as sRGB")
    top = 65535 if image.dtype == np.uint16 else 255
    try:
        if gray or gray_in_rgb:
            table = _gray_lut(icc, top)
            if table is None:
                return image, ""
            if gray:
                return table[image], ""
            out = image.copy()
            out[..., :3] = table[image[..., :1]]
            return out, ""
        return _rgb_to_srgb(image, icc, name)
    except (ImageCms.PyCMSError, ValueError, OSError) as err:
        return image, f"its ICC profile {name} cannot be used ({err}): taken as sRGB"


@functools.cache
def srgb_profile() -> bytes:
    """sRGB's ICC profile (LittleCMS's own, 588 bytes), which a coloured copy of a profiled picture carries. Its
    creation date is set to a fixed one (LittleCMS writes the time it was made), so that a coloured copy's
    bytes depend on its picture alone, as an archive's fixity checks need; the profile has no ID to match."""
    made = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    made[24:36] = struct.pack(">6H", *PROFILE_DATE)
    return bytes(made)


def gray_profile(trc: bytes, white: bytes | None = None, name: str = "gray") -> bytes:
    """A minimal ICC display profile for gray pictures: the tone curve tag ``trc`` (a 'curv' or 'para' tag's
    bytes), the white point tag ``white`` (an 'XYZ ' tag's bytes; D50 when None), and a name."""
    return display_profile(b"GRAY", {b"wtpt": white or xyz_tag(*_D50), b"kTRC": trc}, name)


def display_profile(space: bytes, tags: dict[bytes, bytes], name: str) -> bytes:
    """A minimal ICC (v2.1) display profile of colour space ``space`` (b"GRAY", b"RGB ") holding ``tags``
    (signature: the tag's bytes) and a name."""
    text = name.encode("ascii", "replace") + b"\x00"
    desc = b"desc" + bytes(4) + struct.pack(">I", len(text)) + text + bytes(8) + bytes(3) + bytes(67)
    every = [(b"desc", desc), *tags.items(), (b"cprt", b"text" + bytes(4) + b"none\x00")]
    start = 128 + 4 + 12 * len(every)
    table, body = b"", b""
    for sig, data in every:
        table += sig + struct.pack(">II", start + len(body), len(data))
        body += data + bytes(-len(data) % 4)
    header = (struct.pack(">I", start + len(body)) + b"lcms" + struct.pack(">I", 0x02100000) + b"mntr" + space
              + b"XYZ " + bytes(12) + b"acsp" + bytes(24) + struct.pack(">I", 0) + xyz_tag(*_D50)[8:] + bytes(48))
    return header + struct.pack(">I", len(every)) + table + body


def xyz_tag(x: float, y: float, z: float) -> bytes:
    """An ICC 'XYZ ' tag of one colour."""
    return b"XYZ " + bytes(4) + b"".join(_s15(v) for v in (x, y, z))


def _s15(value: float) -> bytes:
    """An ICC s15Fixed16Number."""
    return struct.pack(">i", round(value * 65536))


@functools.cache
def _srgb_gray() -> ImageCms.ImageCmsProfile:
    """A gray profile with sRGB's tone curve (a 'para' curve of type 3), the target of a gray picture."""
    g, offset, slope, knee = lab.SRGB_GAMMA, lab.SRGB_OFFSET, lab.SRGB_SLOPE, lab.SRGB_KNEE
    params = (g, 1 / (1 + offset), offset / (1 + offset), 1 / slope, knee)  # Y = (aX + b)^g above d, cX below
    curve = b"para" + bytes(4) + struct.pack(">HH", 3, 0) + b"".join(_s15(v) for v in params)
    return ImageCms.ImageCmsProfile(io.BytesIO(gray_profile(curve, name="sRGB gray")))


def _name(icc: bytes) -> str:
    """The profile's description, quoted; OSError or PyCMSError when it cannot be read at all."""
    name = ImageCms.getProfileDescription(_profile(icc)).strip()
    return repr(name[:60]) if name else "(unnamed)"


@functools.lru_cache(maxsize=16)
def _profile(icc: bytes) -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(io.BytesIO(icc))


def _channels_equal(image: np.ndarray) -> bool:
    return bool(np.array_equal(image[..., 0], image[..., 1]) and np.array_equal(image[..., 0], image[..., 2]))


def _gray_table(source: ImageCms.ImageCmsProfile, top: int) -> np.ndarray:
    """The sRGB level of each level 0..top (255 or 65535) of a gray picture in ``source``."""
    mode, dtype = ("I;16", np.uint16) if top == 65535 else ("L", np.uint8)
    # unoptimised: LittleCMS's precalculated curves put the shadows of a gamma-1.8 gray up to 1.5 8-bit levels
    # (350 16-bit ones) off; computed level by level, 0.5 (12). A table of 65536 levels takes 25 ms.
    transform = ImageCms.buildTransformFromOpenProfiles(source, _srgb_gray(), mode, mode,
                                                        flags=ImageCms.Flags.NOOPTIMIZE)
    ramp = np.arange(top + 1, dtype=dtype).reshape(-1, 256)
    return np.asarray(ImageCms.applyTransform(Image.fromarray(ramp), transform)).reshape(-1)


def _same(table: np.ndarray, top: int) -> bool:
    return bool(np.abs(table.astype(np.int64) - np.arange(top + 1)).max() <= SAME_LEVELS * (top // 255))


@functools.lru_cache(maxsize=16)
def _gray_lut(icc: bytes, top: int) -> np.ndarray | None:
    """The sRGB level of each gray level 0..top in the gray profile ``icc``; None when it is sRGB's already.
    Kept for the next picture: a folder's scans share a profile."""
    table = _gray_table(_profile(icc), top)
    return None if _same(table, top) else table


@functools.lru_cache(maxsize=16)
def _neutral_lut(icc: bytes, top: int = 65535) -> np.ndarray | None:
    """The table (levels 0..top) of an RGB matrix profile's neutral axis (see _neutral_axis), None when it is
    sRGB's; ValueError when the profile has no one neutral curve."""
    neutral = _neutral_axis(icc)
    if neutral is None:
        raise ValueError("no one curve for R, G and B")
    table = _gray_table(neutral, top)
    return None if _same(table, top) else table


@functools.lru_cache(maxsize=16)
def _rgb_transform(icc: bytes) -> ImageCms.ImageCmsTransform | None:
    """LittleCMS's 8-bit transform from the RGB profile ``icc`` to sRGB; None when it moves no colour of
    _probe_colours by more than SAME_LEVELS (an sRGB profile of another maker)."""
    transform = ImageCms.buildTransformFromOpenProfiles(_profile(icc), ImageCms.createProfile("sRGB"), "RGB", "RGB")
    probe = _probe_colours()
    return None if np.abs(_apply(transform, probe).astype(np.int16) - probe).max() <= SAME_LEVELS else transform


def _rgb_to_srgb(image: np.ndarray, icc: bytes, name: str) -> tuple[np.ndarray, str]:
    """An RGB(A) picture in ``icc`` as sRGB, and what the conversion could not keep. 8-bit pictures go through
    LittleCMS whole. Pillow holds no 16-bit RGB, so a 16-bit one is turned channel by channel along its
    profile's neutral axis when the profile is three matrix columns and one curve (Adobe RGB, ProPhoto RGB,
    sRGB): exact for a gray picture (what a black-and-white scan is; its L is all the colouriser takes), and
    0.7 L units off on average for a sepia print's tint (an audit's measure); with any other profile, at 8 bits."""
    if image.dtype == np.uint16:
        try:
            table = _neutral_lut(icc)
        except ValueError:
            image = ((image.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
            converted, _ = _rgb_to_srgb(image, icc, name)
            return converted, (f"its ICC profile {name} converted to sRGB at 8 bits (16 bits are kept when a "
                               "profile has one curve for R, G and B)")
        if table is None:
            return image, ""
        out = image.copy()
        out[..., :3] = table[image[..., :3]]
        return out, ""
    transform = _rgb_transform(icc)
    if transform is None:
        return image, ""
    out = image.copy()
    for y0 in range(0, image.shape[0], ROWS_AT_ONCE):
        out[y0:y0 + ROWS_AT_ONCE, :, :3] = _apply(transform, image[y0:y0 + ROWS_AT_ONCE, :, :3])
    return out, ""


def _apply(transform: ImageCms.ImageCmsTransform, rgb: np.ndarray) -> np.ndarray:
    return np.asarray(ImageCms.applyTransform(Image.fromarray(np.ascontiguousarray(rgb)), transform))


@functools.cache
def _probe_colours() -> np.ndarray:
    """Every 8-bit gray and a 6x6x6 cube of colours, (1, 472, 3) uint8: what tells an sRGB profile."""
    grays = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)
    steps = np.linspace(0, 255, 6).round().astype(np.uint8)
    cube = np.stack(np.meshgrid(steps, steps, steps, indexing="ij"), axis=-1).reshape(-1, 3)
    return np.concatenate([grays, cube])[None]


def _neutral_axis(icc: bytes) -> ImageCms.ImageCmsProfile | None:
    """A gray profile of an RGB matrix profile's neutral axis (R = G = B): its one tone curve, its white; None
    when its three curves differ or it is a table profile (A2B0), whose neutral axis is no one curve."""
    tags = _tags(icc)
    curves = [tags.get(sig) for sig in _TRC_TAGS]
    if b"A2B0" in tags or curves[0] is None or curves.count(curves[0]) != 3:
        return None
    return ImageCms.ImageCmsProfile(io.BytesIO(gray_profile(curves[0], tags.get(b"wtpt"), "neutral axis")))


def _tags(icc: bytes) -> dict[bytes, bytes]:
    """An ICC profile's tags by signature (their data's bytes); {} when its tag table is broken."""
    try:
        (count,) = struct.unpack_from(">I", icc, 128)
        tags = {}
        for i in range(min(count, 256)):
            sig, offset, size = struct.unpack_from(">4sII", icc, 132 + 12 * i)
            tags[sig] = bytes(icc[offset:offset + size])
        return tags
    except struct.error:
        return {}
