"""Output frames built in the encoder's YUV format: the input's own luma plane plus chroma from ab.

Only chroma is computed, and at a reduced grid: colour is low-frequency (the network predicts it at 1/4 of a
224-line render), so Lab -> RGB -> Cb/Cr runs on a grid of about CHROMA_WORK_LINES lines, with L from the
input's own luma shrunk to it, and the Cb/Cr planes are then scaled up to the chroma resolution (a quarter of
the pixels for 4:2:0). Up to 480p that grid is the chroma grid itself (exact); at 1080p it is half of it
each way: against the exact conversion this adds a mean colour error of 0.15 Lab units on real footage
scaled to 1080p and 0.45 on pixel-sharp photos (the worst case, scripts/bench_chroma.py), for about a quarter
of the cost (4.9 ms instead of 17.8). There is no full-resolution RGB frame and no RGB -> YUV conversion
by the encoder. The luma written is the input's luma, exactly (in limited range; for MJPEG, full range:
a limited-range input's levels stretched to it), so no detail or tone of the film is lost: at 8 bits from
the 8-bit gray, deeper (10, 12, 16 bits) from the deep luma of an input deeper than 8 bits, so a 10-bit
master written at 10 bits keeps its luma level for level.
"""

from __future__ import annotations

import re

import av
import cv2
import numpy as np

from filmcolor import imageio, lab
from filmcolor.colorize import Colorizer
from filmcolor.video.avcol import AVCOL_SPC_BT470BG, AVCOL_SPC_BT709, AVCOL_SPC_SMPTE170M

# (Kr, Kb) of the luma equation Y' = Kr R' + (1 - Kr - Kb) G' + Kb B'
_LUMA_WEIGHTS = {AVCOL_SPC_BT709: lab.REC709_KR_KB, AVCOL_SPC_BT470BG: (0.299, 0.114),
                 AVCOL_SPC_SMPTE170M: (0.299, 0.114)}
_FULL_TO_LIMITED = lab.full_to_limited_range_lut()
# the planar Y'CbCr formats built here: 4:2:0, 4:2:2 or 4:4:4, 8 bits or 10-16 little-endian; 'yuvj': full
# range (JPEG's, which MJPEG takes), 8 bits
_COMPOSED = re.compile(r"yuv(?:(420|422|444)p(?:(9|10|12|14|16)le)?|j(420|422|444)p)")
_SUBSAMPLING = {"420": (2, 2), "422": (2, 1), "444": (1, 1)}  # chroma subsampling (across, down)


def composed_layout(pix_fmt: str) -> tuple[int, int, int] | None:
    """(chroma subsampling across, down, bits per sample) of a pixel format YuvComposer builds, else None."""
    match = _COMPOSED.fullmatch(pix_fmt)
    if match is None:
        return None
    return (*_SUBSAMPLING[match.group(1) or match.group(3)], int(match.group(2) or 8))


def full_range(pix_fmt: str) -> bool:
    """Whether a composed format is full range (JPEG's 0-255 Y'CbCr)."""
    return pix_fmt.startswith("yuvj")


def cbcr_matrix(colorspace: int, bits: int = 8, full: bool = False) -> np.ndarray:
    """2x4 matrix (with offset column) from R'G'B' in [0, 1] to ``bits``-bit Cb, Cr: limited range, or with
    ``full`` JPEG's full range (8 bits)."""
    kr, kb = _LUMA_WEIGHTS.get(colorspace, _LUMA_WEIGHTS[AVCOL_SPC_BT709])
    kg = 1.0 - kr - kb
    luma = np.array([kr, kg, kb])
    cb = (np.array([0.0, 0.0, 1.0]) - luma) / (2.0 * (1.0 - kb))
    cr = (np.array([1.0, 0.0, 0.0]) - luma) / (2.0 * (1.0 - kr))
    scale = float(1 << (bits - 8))
    rows = np.stack([cb, cr]) * (255.0 if full else 224.0) * scale
    return np.concatenate([rows, [[128.0 * scale], [128.0 * scale]]], axis=1).astype(np.float32)


CHROMA_WORK_LINES = 240  # Lab -> Cb/Cr is computed on a grid of at most about this many lines


def work_size(chroma_size: tuple[int, int], lines: int = CHROMA_WORK_LINES) -> tuple[int, int]:
    """(w, h) of the grid the colour conversion runs on: the chroma grid halved while it has > 2x ``lines``."""
    cw, ch = chroma_size
    while min(cw, ch) > 2 * lines:
        cw, ch = -(-cw // 2), -(-ch // 2)
    return cw, ch


class YuvComposer:
    """(full-range gray (H, W) uint8, ab (h, w, 2)[, deep luma]) -> av.VideoFrame in a format of
    ``composed_layout`` (yuv420p, yuv444p, yuv422p10le, ...).

    ``work_lines`` sets the grid of the colour conversion (see work_size); 0 converts at chroma resolution.
    ``keep_levels``: an 8-bit gray of 256 levels (full range) written at more bits keeps each of them (mapped
    as deep luma), rather than video's 220 widened.
    """

    def __init__(self, width: int, height: int, pix_fmt: str, colorspace: int,
                 work_lines: int = CHROMA_WORK_LINES, keep_levels: bool = False):
        layout = composed_layout(pix_fmt)
        if layout is None:
            raise ValueError(f"cannot compose {pix_fmt}")
        across, down, self.bits = layout
        self.width, self.height, self.pix_fmt = width, height, pix_fmt
        self.chroma_size = (-(-width // across), -(-height // down))  # (w, h), rounded up
        self.work_size = work_size(self.chroma_size, work_lines) if work_lines else self.chroma_size
        self.full = full_range(pix_fmt)
        self.matrix = cbcr_matrix(colorspace, self.bits, self.full)
        self.keep_levels = keep_levels

    def compose(self, gray_hw: np.ndarray, ab_small: np.ndarray, deep: np.ndarray | None = None) -> av.VideoFrame:
        """``deep``: the input's deep luma (lab.DEEP_MAX full range), written instead of ``gray`` when the
        format has more than 8 bits (an 8-bit gray is scaled up to them)."""
        ww, wh = self.work_size
        l_w = lab.gray_to_l(imageio.shrink(gray_hw, wh, ww))
        ab_w = cv2.resize(ab_small, (ww, wh), interpolation=cv2.INTER_LINEAR)
        rgb_w = lab.lab_to_rgb(cv2.merge([l_w, *cv2.split(ab_w)]))  # (wh, ww, 3) in [0, 1]
        cbcr = cv2.transform(rgb_w, self.matrix)  # float, values within 16..240 (full range: 0..255)
        if self.work_size != self.chroma_size:
            cbcr = cv2.resize(cbcr, self.chroma_size, interpolation=cv2.INTER_LINEAR)
        frame = av.VideoFrame(self.width, self.height, self.pix_fmt)
        if self.bits == 8:
            cb, cr = cv2.split(cv2.convertScaleAbs(cbcr))
            if self.full:  # the gray is full range already: written as it is
                _plane(frame, 0, self.height, self.width)[...] = gray_hw
            else:
                cv2.LUT(gray_hw, _FULL_TO_LIMITED, dst=_plane(frame, 0, self.height, self.width))
        else:
            cb, cr = cv2.split(np.clip(np.rint(cbcr), 0, (1 << self.bits) - 1).astype(np.uint16))
            y_plane = _plane(frame, 0, self.height, self.width, np.uint16)
            if deep is None and self.keep_levels:
                deep = cv2.multiply(gray_hw, 257, dtype=cv2.CV_16U)  # 255 -> 65535
            if deep is not None:
                lab.limited_luma(deep, self.bits, dst=y_plane)
            else:  # 8-bit luma at more bits: its level times 2^(bits - 8), as video tools widen it
                np.left_shift(cv2.LUT(gray_hw, _FULL_TO_LIMITED), self.bits - 8, out=y_plane, dtype=np.uint16)
        ch = self.chroma_size[1]
        for index, values in ((1, cb), (2, cr)):
            _plane(frame, index, ch, values.shape[1], values.dtype)[...] = values
        return frame

    @staticmethod
    def full_rgb(gray_hw: np.ndarray, ab_small: np.ndarray) -> np.ndarray:
        """The full-resolution RGB of a frame (for previews and other pixel formats), keeping the input's L."""
        height, width = gray_hw.shape
        return lab.lab_to_rgb_levels(lab.gray_to_l(gray_hw), Colorizer.upsample_ab(ab_small, height, width))


def _plane(frame: av.VideoFrame, index: int, height: int, width: int, dtype: type = np.uint8) -> np.ndarray:
    """A writable (height, width) view of one of the frame's planes (its lines may be padded)."""
    plane = frame.planes[index]
    size = np.dtype(dtype).itemsize
    return np.frombuffer(plane, dtype).reshape(-1, plane.line_size // size)[:height, :width]
