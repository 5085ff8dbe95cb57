"""Atomic outputs: a partial file left by a killed run is removed by the next write of the same target, and a
partial that a running writer holds is never removed (issue 14, item 5)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest

from filmcolor.errors import OutputError
from filmcolor.fsutil import PARTIAL_MARK, atomic_output, remove_stale_partials


def _partial(folder: Path, stem: str, token: str, suffix: str = ".mp4") -> Path:
    path = folder / f".{stem}{PARTIAL_MARK}{token}{suffix}"
    path.write_bytes(b"half a film")
    return path


def test_stale_partials_of_the_target_go_and_others_stay(tmp_path: Path) -> None:
    target = tmp_path / "film [1].mp4"  # glob characters in the name are taken literally
    stale = _partial(tmp_path, "film [1]", "dead0001")  # its writer was killed: nobody holds it
    live = _partial(tmp_path, "film [1]", "live0001")
    other = _partial(tmp_path, "film 1", "dead0002")  # another target's: not ours to judge
    holder = os.open(live, os.O_RDONLY)
    fcntl.flock(holder, fcntl.LOCK_EX)  # a writer still at work (another process, or another thread here)
    try:
        with atomic_output(target) as tmp:
            assert not stale.exists() and live.exists() and other.exists()
            tmp.write_bytes(b"film")
            assert remove_stale_partials(tmp_path) == 1  # the batch's sweep: only `other`, not tmp nor live
        assert target.read_bytes() == b"film" and live.exists() and not other.exists()
    finally:
        os.close(holder)
    assert remove_stale_partials(tmp_path) == 1 and not live.exists()  # its writer gone: now it is stale


def test_a_failed_write_leaves_no_partial(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt), atomic_output(tmp_path / "out.png") as tmp:
        tmp.write_bytes(b"half")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_unwritable_folder_is_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("running as root: permissions are not enforced")
        with pytest.raises(OutputError, match="cannot write output") as info, atomic_output(folder / "x.png"):
            pass
        assert str(folder / "x.png") in str(info.value) and "\n" not in str(info.value)
    finally:
        folder.chmod(0o700)


def test_a_folder_that_takes_no_file_is_refused_before_any_work(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from filmcolor import fsutil

    real_open = os.open

    def refuse_partials(path, *args, **kwargs):  # as /proc or a read-only mount answers, also to root
        if PARTIAL_MARK in str(path):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    fsutil.check_output_path(tmp_path / "report.json", overwrite=True)  # a folder that takes files: fine
    assert list(tmp_path.iterdir()) == []  # and the probe is gone
    monkeypatch.setattr(fsutil.os, "open", refuse_partials)
    with pytest.raises(OutputError, match="report.json: cannot write output \\(Permission denied\\)"):
        fsutil.check_output_path(tmp_path / "report.json", overwrite=True)


def test_two_long_names_alike_at_first_keep_partials_of_their_own(tmp_path):
    """A review: names cut to fit their partial's marks shared a prefix, and one's cleanup of stale partials
    removed the other's."""
    from filmcolor.fsutil import partial_name, remove_stale_partials

    a, b = (tmp_path / ("\u6771" * 80 + tail + ".mp4") for tail in ("a", "b"))
    partial_a, partial_b = partial_name(a), partial_name(b)
    assert len(os.fsencode(partial_a.name)) <= 255 and len(os.fsencode(partial_b.name)) <= 255
    partial_b.write_bytes(b"b's work")
    assert remove_stale_partials(tmp_path, of=a) == 0 and partial_b.exists()
    assert remove_stale_partials(tmp_path, of=b) == 1
    del partial_a


def test_an_output_that_appears_meanwhile_is_not_replaced_without_overwrite(tmp_path: Path) -> None:
    """An audit: two runs without --overwrite writing one output both said ok, and one's output was gone: the
    name was checked before the work, and the rename replaced whatever was there by then."""
    target = tmp_path / "film.mp4"
    with pytest.raises(OutputError, match="output appeared while this one was made"):
        with atomic_output(target, replace=False) as tmp:
            tmp.write_bytes(b"mine")
            target.write_bytes(b"the other run's")
    assert target.read_bytes() == b"the other run's" and sorted(tmp_path.iterdir()) == [target]
    fresh = tmp_path / "fresh.mp4"
    with atomic_output(fresh, replace=False) as tmp:
        tmp.write_bytes(b"mine")
    assert fresh.read_bytes() == b"mine" and fresh.stat().st_nlink == 1
    with atomic_output(fresh) as tmp:  # with --overwrite it is replaced, as before
        tmp.write_bytes(b"again")
    assert fresh.read_bytes() == b"again"


def test_a_replaced_output_keeps_its_permissions(tmp_path: Path) -> None:
    """An audit: --overwrite made a file its owner had kept to themselves (640) readable by all (644)."""
    target = tmp_path / "private.png"
    target.write_bytes(b"old")
    os.chmod(target, 0o640)
    with atomic_output(target) as tmp:
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new" and target.stat().st_mode & 0o777 == 0o640
    new = tmp_path / "new.png"
    with atomic_output(new) as tmp:
        tmp.write_bytes(b"x")
    umask = os.umask(0)
    os.umask(umask)
    assert new.stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_link_to_nothing_at_the_output_is_said_before_any_work(tmp_path: Path) -> None:
    """A review: a dangling link at the output passed the check (it does not 'exist'), and the finished output
    was refused after all the work as one that appeared meanwhile."""
    from filmcolor.fsutil import check_output_path

    target = tmp_path / "out.png"
    target.symlink_to(tmp_path / "gone.png")
    with pytest.raises(OutputError, match="output exists \\(a link to a file that is not there\\); pass --overwrite"):
        check_output_path(target)
    check_output_path(target, overwrite=True)
    with atomic_output(target) as tmp:  # with --overwrite the link itself is replaced, as before
        tmp.write_bytes(b"x")
    assert not target.is_symlink() and target.read_bytes() == b"x"
