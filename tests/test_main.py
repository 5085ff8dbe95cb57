"""The `filmcolor` command's entry: Ctrl-C while the commands load is one line, as it is once one runs."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

# Ctrl-C at the moment torch is being imported (the longest part of the first second or two).
CTRL_C_DURING_IMPORTS = """
import sys
class CtrlC:
    def find_spec(self, name, path=None, target=None):
        if name == "torch":
            raise KeyboardInterrupt
sys.meta_path.insert(0, CtrlC())
sys.argv = ["filmcolor", "models"]
"""


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", CTRL_C_DURING_IMPORTS + code], capture_output=True, text=True,
                          timeout=120)


@pytest.mark.slow
def test_ctrl_c_while_loading_is_one_line_and_exit_130() -> None:
    proc = _run("from filmcolor.__main__ import run; run()")
    assert proc.returncode == 130 and proc.stderr == "error: interrupted while starting\n", proc.stderr
    # click's own entry (commands load lazily, inside it): click's "Aborted!" and exit 1, not 130
    control = _run("from filmcolor.cli import main; main()")
    assert control.returncode == 1 and "Aborted!" in control.stderr


def _wait_until_loading_torch(proc: subprocess.Popen, seconds: float = 60) -> None:
    """Until the process maps torch's libraries (so it is past Python's own start-up and inside the commands'
    loading), or 0.3 s where /proc is not there. A fixed sleep alone can land in the interpreter's start-up
    on a loaded machine, before the entry can do anything about a Ctrl-C."""
    maps = Path(f"/proc/{proc.pid}/maps")
    if not maps.parent.exists():
        time.sleep(0.3)
        return
    deadline = time.time() + seconds
    while time.time() < deadline and proc.poll() is None:
        try:
            if "torch" in maps.read_text():
                return
        except OSError:  # it ended meanwhile
            return
        time.sleep(0.005)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])  # (an audit: SIGTERM this early ended with 143)
def test_the_console_script_and_python_dash_m_use_that_entry(sig: int) -> None:
    # The project's declaration, not the installed metadata: an editable install made before the entry moved
    # keeps the old one until it is reinstalled, and the test is about the source.
    pyproject = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    scripts = pyproject.split("[project.scripts]", 1)[1].split("\n[", 1)[0]
    assert re.search(r'^filmcolor\s*=\s*"filmcolor\.__main__:run"\s*$', scripts, re.M), scripts
    proc = subprocess.Popen([sys.executable, "-m", "filmcolor", "models"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    _wait_until_loading_torch(proc)  # a real Ctrl-C, early: while the modules load
    assert proc.poll() is None, "it ended before the Ctrl-C"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err


def test_an_unexpected_error_with_nothing_to_say_is_named_cleanly() -> None:
    """A third audit: a MemoryError printed 'unexpected MemoryError:  (set ...)'."""
    from filmcolor.cli import unexpected

    assert unexpected(MemoryError()) == "unexpected MemoryError"
    assert unexpected(KeyError(3)) == "unexpected KeyError: 3"


@pytest.mark.parametrize("command", ["image", "video", "eval"])
def test_a_name_the_file_system_refuses_is_said_in_one_line(tmp_path, test_weights, command) -> None:
    """An audit: a 300-byte name as an output (or input) was 'unexpected OSError: [Errno 36] File name too long'
    (a check asked whether it existed)."""
    import cv2
    from click.testing import CliRunner
    from media import color_photo, make_clip

    from filmcolor.cli import main

    long = tmp_path / ("x" * 300)
    args = {"image": ["image", str(long) + ".jpg", "-o", str(tmp_path / "o.png")],
            "video": ["video", str(tmp_path / "in.mp4"), "-o", str(long) + ".mp4"],
            "eval": ["eval", str(tmp_path), "--json-out", str(long) + ".json"]}[command]
    make_clip(tmp_path / "in.mp4", frames=3)
    cv2.imwrite(str(tmp_path / "photo.png"), color_photo(0, 32, 32))
    result = CliRunner().invoke(main, [*args, "--model", str(test_weights)])
    assert result.exit_code == 1 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"error: {long}.") and result.stderr.endswith(": File name too long\n"), \
        result.stderr


def test_the_public_names_are_listed_before_they_load() -> None:
    """A library audit: dir(filmcolor) and completion listed no Colorizer (the names load on first use)."""
    import filmcolor

    assert {"Colorizer", "create_model", "list_models", "FilmcolorError"} <= set(dir(filmcolor))


def test_debugging_shows_an_oserrors_traceback(tmp_path, test_weights, monkeypatch) -> None:
    """A review: with FILMCOLOR_DEBUG=1 an OSError of a path was still one line, so a wrong path of our own
    (a missing package file) could not be traced."""
    from click.testing import CliRunner

    from filmcolor.cli import main

    monkeypatch.setenv("FILMCOLOR_DEBUG", "1")
    result = CliRunner().invoke(main, ["image", str(tmp_path / ("x" * 300)) + ".jpg", "-o", str(tmp_path / "o.png"),
                                       "--model", str(test_weights)])
    assert isinstance(result.exception, OSError) and result.exception.errno == 36, result.output


def test_a_batch_names_an_error_that_says_nothing_more_cleanly(tmp_path, monkeypatch, test_weights) -> None:
    """A fourth audit: batch still recorded 'MemoryError: ' with an empty message."""
    import cv2
    import numpy as np

    import filmcolor.batch.worker as worker
    from filmcolor.batch import BatchOptions, run_local
    from filmcolor.colorize import Colorizer

    (tmp_path / "in").mkdir()
    cv2.imwrite(str(tmp_path / "in" / "b.png"), np.full((24, 32), 90, np.uint8))
    monkeypatch.setattr(worker, "read_metadata", lambda path: (_ for _ in ()).throw(MemoryError()))
    result = run_local(tmp_path / "in", tmp_path / "out", Colorizer.from_pretrained(test_weights, runtime="torch",
                                                                                      render_size=64),
                       options=BatchOptions(retries=0))
    assert [r.error for r in result.failed] == ["MemoryError"]


def test_a_photo_is_coloured_with_stderr_closed(tmp_path: Path) -> None:
    """An audit: with stderr closed (`2>&-`, some daemons) Python leaves sys.stderr None, and every photo
    failed unseen: exit 1, nothing written."""
    import os

    import cv2
    import numpy as np

    cv2.imwrite(str(tmp_path / "p.png"), np.full((40, 60), 120, np.uint8))
    done = subprocess.run([sys.executable, "-m", "filmcolor", "image", str(tmp_path / "p.png"), "-o",
                           str(tmp_path / "out.png"), "--render-size", "64"], capture_output=False,
                          stdout=subprocess.DEVNULL, preexec_fn=lambda: os.close(2), timeout=120)
    assert done.returncode == 0 and (tmp_path / "out.png").exists()
