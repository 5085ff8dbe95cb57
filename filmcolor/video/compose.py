"""Output frames built in the encoder's YUV format: the input's own luma plane plus chroma from ab.

Only chroma is computed: Lab -> RGB -> Cb/Cr at the chroma resolution (a quarter of the pixels for
4:2:0), so there is no full-resolution RGB frame and no RGB -> YUV conversion by the encoder. The luma
written is the input's luma, exactly (limited range), so no detail or tone of the film is lost.
"""

from __future__ import annotations

import av
import cv2
import numpy as np

from filmcolor import lab
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


class YuvComposer:
    """(full-range gray (H, W) uint8, ab (h, w, 2)) -> av.VideoFrame in yuv420p or yuv444p."""

    def __init__(self, width: int, height: int, pix_fmt: str, colorspace: int):
        if pix_fmt not in COMPOSED_PIX_FMTS:
            raise ValueError(f"cannot compose {pix_fmt}")
        sub = COMPOSED_PIX_FMTS[pix_fmt]
        self.width, self.height, self.pix_fmt = width, height, pix_fmt
        self.chroma_size = (-(-width // sub), -(-height // sub))  # (w, h), rounded up
        self.matrix = cbcr_matrix(colorspace)

    def compose(self, gray_hw: np.ndarray, ab_small: np.ndarray) -> av.VideoFrame:
        y_plane = cv2.LUT(gray_hw, _FULL_TO_LIMITED)
        cw, ch = self.chroma_size
        gray_c = gray_hw if (cw, ch) == (self.width, self.height) else \
            cv2.resize(gray_hw, (cw, ch), interpolation=cv2.INTER_AREA)
        ab_c = cv2.resize(ab_small, (cw, ch), interpolation=cv2.INTER_LINEAR)
        rgb_c = lab.lab_to_rgb(cv2.merge([lab.gray_to_l(gray_c), *cv2.split(ab_c)]))  # (ch, cw, 3) in [0, 1]
        cb, cr = cv2.split(cv2.convertScaleAbs(cv2.transform(rgb_c, self.matrix)))  # values within 16..240
        if self.pix_fmt == "yuv444p":
            return av.VideoFrame.from_ndarray(np.stack([y_plane, cb, cr]), format="yuv444p")
        packed = np.concatenate([y_plane.ravel(), cb.ravel(), cr.ravel()]).reshape(-1, self.width)
        return av.VideoFrame.from_ndarray(packed, format="yuv420p")

    @staticmethod
    def full_rgb(gray_hw: np.ndarray, ab_small: np.ndarray) -> np.ndarray:
        """The full-resolution RGB of a frame (for previews and other pixel formats), keeping the input's L."""
        height, width = gray_hw.shape
        return lab.lab_to_rgb_uint8(lab.gray_to_l(gray_hw), Colorizer.upsample_ab(ab_small, height, width))
