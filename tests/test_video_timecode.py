"""SMPTE timecodes moved by frames: values from ST 12-1's counting (drop-frame: 107,892 frames an hour at
29.97, two labels skipped each minute but every tenth)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from filmcolor.video.timecode import advance

NTSC30, NTSC60 = Fraction(30000, 1001), Fraction(60000, 1001)


@pytest.mark.parametrize(("start", "frames", "rate", "expected"), [
    ("01:00:00:00", 10, Fraction(25), "01:00:00:10"),
    ("00:00:59:24", 1, Fraction(25), "00:01:00:00"),
    ("23:59:59:24", 1, Fraction(25), "00:00:00:00"),  # a day wraps
    ("10:00:00:00", 24, Fraction(24000, 1001), "10:00:01:00"),  # 23.976 counts 24 labels a second
    ("00:00:00:00", 1800, NTSC30, "00:01:00:00"),  # non-drop at 29.97: labels are frame counts
    ("00:00:59;29", 1, NTSC30, "00:01:00;02"),  # ;00 and ;01 are skipped at minute 1
    ("00:09:59;29", 1, NTSC30, "00:10:00;00"),  # but not at minute 10
    ("00:00:00;00", 107892, NTSC30, "01:00:00;00"),  # an hour of drop-frame
    ("00:00:00;00", 3600, NTSC60, "00:01:00;04"),  # 59.94 skips four
    ("01:00:00;10", 0, NTSC30, "01:00:00;10"),
])
def test_advance(start: str, frames: int, rate: Fraction, expected: str) -> None:
    assert advance(start, frames, rate) == expected


@pytest.mark.parametrize("text", ["1:00:00:00", "01:00:00:30", "banana", "01:61:00:00"])
def test_a_timecode_that_is_not_one_is_left(text: str) -> None:
    assert advance(text, 5, Fraction(30)) is None
