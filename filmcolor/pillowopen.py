"""Pillow's Image.open under filmcolor's own pixel limit (imageio.MAX_PIXELS), without raising Pillow's for the
whole process.

Pillow refuses to open, even for its header, a picture over 2 x its MAX_IMAGE_PIXELS (179 M); filmcolor reads
the metadata and profiles of scans up to 400 M pixels, whose size it checks itself before OpenCV decodes them.
Raised at import for the whole process, the limit weakened the decompression-bomb guard of any program that
imports filmcolor (a web server; an audit): it is raised here for the opening alone, under a lock.
"""

from __future__ import annotations

import io
import threading
from pathlib import Path

from PIL import Image

PIXEL_LIMIT = 400_000_000  # imageio.MAX_PIXELS: 20000 x 20000
_LOCK = threading.Lock()


def open_image(source: Path | str | io.BytesIO) -> Image.Image:
    """Image.open (headers read, pixels not) with Pillow's limit at least PIXEL_LIMIT meanwhile."""
    with _LOCK:
        before = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = max(before or 0, PIXEL_LIMIT) if before is not None else None
        try:
            return Image.open(source)
        finally:
            Image.MAX_IMAGE_PIXELS = before
