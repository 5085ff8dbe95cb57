"""SMPTE timecodes (ST 12-1) moved by a number of frames: a slice's first frame gets its own, not the film's."""

from __future__ import annotations

import re
from fractions import Fraction

_TIMECODE = re.compile(r"^(\d{2}):(\d{2}):(\d{2})([:;.,])(\d{2,3})$")
DAY_S = 24 * 3600
NTSC = Fraction(1000, 1001)  # 29.97 and 59.94 run slow by this against their nominal 30 and 60


def advance(timecode: str, frames: int, rate: Fraction) -> str | None:
    """``timecode`` ('HH:MM:SS:FF', or drop-frame 'HH:MM:SS;FF') plus ``frames`` at ``rate`` frames a second,
    in the same notation (wrapping at 24 hours); None when it cannot be read or the rate has no timecode."""
    match = _TIMECODE.match(timecode)
    nominal = round(rate)
    if match is None or nominal <= 0:
        return None
    hh, mm, ss, sep, ff = match.groups()
    h, m, s, f = int(hh), int(mm), int(ss), int(ff)
    drop = 2 * (nominal // 30) if sep in ";," and nominal % 30 == 0 and abs(rate / nominal - NTSC) < 1e-4 else 0
    if f >= nominal or m >= 60 or s >= 60:
        return None
    minutes = 60 * h + m
    number = (3600 * h + 60 * m + s) * nominal + f - drop * (minutes - minutes // 10)
    number = (number + frames) % (DAY_S * nominal - drop * (DAY_S // 60 - DAY_S // 600))
    if drop:  # frame numbers back to labels: each minute but every tenth skips its first ``drop`` labels
        per_ten, per_minute = 600 * nominal - 9 * drop, 60 * nominal - drop
        tens, rest = divmod(number, per_ten)
        number += 9 * drop * tens + (drop * ((rest - drop) // per_minute) if rest > drop else 0)
    f, seconds = number % nominal, number // nominal
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}{sep}{f:0{len(ff)}d}"
