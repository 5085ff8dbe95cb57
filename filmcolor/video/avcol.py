"""FFmpeg's colour description codes (libavutil/pixfmt.h), as PyAV's frames and codec contexts give and take them.

PyAV's own ``Colorspace`` enum numbers swscale's tables, not these (its SMPTE170M is 5, FFmpeg's is 6).
"""

AVCOL_SPC_BT709, AVCOL_SPC_BT470BG, AVCOL_SPC_SMPTE170M = 1, 5, 6  # AVColorSpace: the YUV matrix
AVCOL_PRI_BT709, AVCOL_PRI_BT2020 = 1, 9  # AVColorPrimaries
AVCOL_TRC_BT709, AVCOL_TRC_SMPTE2084, AVCOL_TRC_ARIB_STD_B67 = 1, 16, 18  # AVColorTransferCharacteristic (PQ, HLG)
AVCOL_RANGE_MPEG, AVCOL_RANGE_JPEG = 1, 2  # AVColorRange: limited (16-235), full (0-255)
