"""Output frames built in the encoder's YUV format: the input's own luma plane plus chroma from ab.

Only chroma is computed, and at a reduced grid: colour is low-frequency (the network predicts it at 1/4 of a
224-line render), so Lab -> RGB -> Cb/Cr runs on a grid of about CHROMA_WORK_LINES lines, with L from the
input's own luma shrunk to it, and the Cb/Cr planes are then scaled up to the chroma resolution (a quarter of
the pixels for 4:2:0). Up to 480p that grid is the chroma grid itself (exact); at 1080p it is half of it
each way: against the exact conversion this adds a mean colour error of 0.15 Lab units on real footage
scaled to 1080p and 0.45 on pixel-sharp photos (the worst case, scripts/bench_chroma.py), for about a quarter
of the cost (4.9 ms instead of 17.8). There is no full-resolution RGB frame and no RGB -> YUV conversion
by the encoder. The luma written is the input's luma, exactly (limited range), so no detail or tone of
the film is lost.
"""

from __future__ import annotations

import av
import cv2
import numpy as np

from filmcolor import imageio, lab
from filmcolor.colorize import Colorizer
from filmcolor.video.avcol import AVCOL_SPC_BT470BG, AVCOL_SPC_BT709, AVCOL_SPC_SMPTE170M

# (Kr, Kb) of the luma equation Y' = Kr R' + (1 - Kr - Kb) G' + Kb B'
_LUMA_WEIGHTS = {AVCOL_SPC_BT709: (0.2126, 0.0722), AVCOL_SPC_BT470BG: (0.299, 0.114),
                 AVCOL_SPC_SMPTE170M: (0.299, 0.114)}
COMPOSED_PIX_FMTS = {"yuv420p": 2, "yuv444p": 1}  # pixel format -> chroma subsampling factor
_FULL_TO_LIMITED = lab.full_to_limited_range_lut()


def cbcr_matrix(colorspace: int) -> np.ndarray:
    """2x4 matrix (with offset column) from R'G'B' in [0, 1] to limited-range 8-bit Cb, Cr."""
    kr, kb = _LUMA_WEIGHTS.get(colorspace, _LUMA_WEIGHTS[AVCOL_SPC_BT709])
    kg = 1.0 - kr - kb
    luma = np.array([kr, kg, kb])
    cb = (np.array([0.0, 0.0, 1.0]) - luma) / (2.0 * (1.0 - kb))
    cr = (np.array([1.0, 0.0, 0.0]) - luma) / (2.0 * (1.0 - kr))
    rows = np.stack([cb, cr]) * 224.0
    return np.concatenate([rows, [[128.0], [128.0]]], axis=1).astype(np.float32)


CHROMA_WORK_LINES = 240  # Lab -> Cb/Cr is computed on a grid of at most about this many lines


def work_size(chroma_size: tuple[int, int], lines: int = CHROMA_WORK_LINES) -> tuple[int, int]:
    """(w, h) of the grid the colour conversion runs on: the chroma grid halved while it has > 2x ``lines``."""
    cw, ch = chroma_size
    while min(cw, ch) > 2 * lines:
        cw, ch = -(-cw // 2), -(-ch // 2)
    return cw, ch


class YuvComposer:
    """(full-range gray (H, W) uint8, ab (h, w, 2)) -> av.VideoFrame in yuv420p or yuv444p.

    ``work_lines`` sets the grid of the colour conversion (see work_size); 0 converts at chroma resolution.
    """

    def __init__(self, width: int, height: int, pix_fmt: str, colorspace: int,
                 work_lines: int = CHROMA_WORK_LINES):
        if pix_fmt not in COMPOSED_PIX_FMTS:
            raise ValueError(f"cannot compose {pix_fmt}")
        sub = COMPOSED_PIX_FMTS[pix_fmt]
        self.width, self.height, self.pix_fmt = width, height, pix_fmt
        self.chroma_size = (-(-width // sub), -(-height // sub))  # (w, h), rounded up
        self.work_size = work_size(self.chroma_size, work_lines) if work_lines else self.chroma_size
        self.matrix = cbcr_matrix(colorspace)

    def compose(self, gray_hw: np.ndarray, ab_small: np.ndarray) -> av.VideoFrame:
        ww, wh = self.work_size
        l_w = lab.gray_to_l(imageio.shrink(gray_hw, wh, ww))
        ab_w = cv2.resize(ab_small, (ww, wh), interpolation=cv2.INTER_LINEAR)
        rgb_w = lab.lab_to_rgb(cv2.merge([l_w, *cv2.split(ab_w)]))  # (wh, ww, 3) in [0, 1]
        cbcr = cv2.transform(rgb_w, self.matrix)  # float, values within 16..240
        if self.work_size != self.chroma_size:
            cbcr = cv2.resize(cbcr, self.chroma_size, interpolation=cv2.INTER_LINEAR)
        cb, cr = cv2.split(cv2.convertScaleAbs(cbcr))
        frame = av.VideoFrame(self.width, self.height, self.pix_fmt)
        cv2.LUT(gray_hw, _FULL_TO_LIMITED, dst=_plane(frame, 0, self.height, self.width))
        ch = self.chroma_size[1]
        for index, values in ((1, cb), (2, cr)):
            _plane(frame, index, ch, values.shape[1])[...] = values
        return frame

    @staticmethod
    def full_rgb(gray_hw: np.ndarray, ab_small: np.ndarray) -> np.ndarray:
        """The full-resolution RGB of a frame (for previews and other pixel formats), keeping the input's L."""
        height, width = gray_hw.shape
        return lab.lab_to_rgb_uint8(lab.gray_to_l(gray_hw), Colorizer.upsample_ab(ab_small, height, width))


def _plane(frame: av.VideoFrame, index: int, height: int, width: int) -> np.ndarray:
    """A writable (height, width) view of one of the frame's planes (its lines may be padded)."""
    plane = frame.planes[index]
    return np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[:height, :width]
