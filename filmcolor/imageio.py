"""Finding, reading and writing still images (OpenCV), with one-line errors for every bad file."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

from filmcolor.errors import InputError, OutputError
from filmcolor.fsutil import write_bytes_atomic

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp")
MAX_PIXELS = 400_000_000  # 20000 x 20000: the Lab planes of anything larger need many GB


def is_image_path(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def list_images(paths: Iterable[Path]) -> list[Path]:
    """The image files under the given folders (recursively) and the given files themselves, sorted."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_file():
            found.append(path)
        else:
            found += [p for p in path.rglob("*") if p.is_file() and is_image_path(p)]
    return sorted(found)


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


def read_image(path: Path) -> np.ndarray:
    """Read an image as uint8 gray (H, W), RGB (H, W, 3) or RGBA (H, W, 4)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not an image")
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as err:
        raise InputError(f"{path}: cannot read ({err.strerror or err})") from err
    if data.size == 0:
        raise InputError(f"{path}: empty file (0 bytes)")
    if data[:3].tobytes() == b"\xff\xd8\xff" and _jpeg_truncated(data.tobytes()):
        raise InputError(f"{path}: truncated JPEG (no end-of-image marker)")
    try:
        image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    except cv2.error as err:
        raise InputError(f"{path}: cannot decode image ({str(err).strip().splitlines()[-1]})") from err
    if image is None:
        raise InputError(f"{path}: not an image OpenCV can decode (unknown format or corrupt)")
    if image.shape[0] * image.shape[1] > MAX_PIXELS:
        raise InputError(
            f"{path}: image too large ({image.shape[1]}x{image.shape[0]}, limit {MAX_PIXELS} pixels)")
    if image.dtype == np.uint16:
        image = (image.astype(np.uint32) * 255 + 32767) // 65535
        image = image.astype(np.uint8)
    elif image.dtype in (np.float32, np.float64):
        image = np.clip(np.nan_to_num(image) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise InputError(f"{path}: unsupported pixel type {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.ndim == 2:
        return image
    if image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA)
    raise InputError(f"{path}: unsupported number of channels ({image.shape[2]})")


def write_image(path: Path, image: np.ndarray) -> None:
    """Write an RGB(A) or gray uint8 image atomically; the format follows the extension."""
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in IMAGE_EXTENSIONS:
        raise OutputError(f"{path}: unsupported output extension '{path.suffix}' (use .png or .jpg)")
    if image.ndim == 3 and image.shape[2] == 4 and ext in (".jpg", ".jpeg"):
        image = image[..., :3]
    if image.ndim == 3:
        code = cv2.COLOR_RGBA2BGRA if image.shape[2] == 4 else cv2.COLOR_RGB2BGR
        image = cv2.cvtColor(image, code)
    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if ext in (".jpg", ".jpeg") else []
    ok, buf = cv2.imencode(ext, image, params)
    if not ok:
        raise OutputError(f"{path}: could not encode the image")
    write_bytes_atomic(path, buf.tobytes())
