"""The README's promise that memory does not grow with the film's length (scripts/bench_memory.py, made small)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bench_memory.py"


@pytest.mark.slow
def test_peak_memory_of_a_30x_longer_film_is_flat() -> None:
    out = subprocess.run([sys.executable, str(SCRIPT), "--short", "3", "--long", "90", "--size", "160x120",
                          "--fps", "10"], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    rows = re.findall(r"^\| (\d+) s 160x120 \| (\d+) \| [\d.]+ \| (\d+) \|$", out.stdout, re.M)
    (short_s, short_frames, short_mb), (long_s, long_frames, long_mb) = rows
    assert (int(short_frames), int(long_frames)) == (30, 900)  # the long film really is 30x longer
    assert int(long_mb) < 1.1 * int(short_mb), out.stdout  # measured here: 191 -> 190 MB (0.99)
