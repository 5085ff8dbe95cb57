"""Atomic file output: write under a temporary name in the target folder, fsync, rename."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import glob
import hashlib
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from filmcolor.errors import OutputError

PARTIAL_MARK = ".filmcolor-partial-"
_UMASK = os.umask(0o022)
os.umask(_UMASK)  # read once at import (os.umask can only be read by setting it)


PARTIAL_TOKEN_CHARS = 8  # the random part of a partial's name (hex)


def partial_name(target: Path) -> Path:
    """A hidden temporary name beside ``target`` that keeps its extension (muxers pick by it)."""
    return target.with_name(f".{_partial_stem(target)}{PARTIAL_MARK}{secrets.token_hex(PARTIAL_TOKEN_CHARS // 2)}"
                            f"{target.suffix}")


def _partial_stem(target: Path) -> str:
    """``target``'s stem, cut (at a character) so that its partial's name fits the folder's longest name: the
    marks add 28 bytes, and a legal name of 228 bytes (76 CJK characters) failed as 'File name too long'."""
    try:
        name_max = os.pathconf(target.parent, "PC_NAME_MAX")
    except (OSError, ValueError):
        name_max = 255
    room = name_max - len(os.fsencode(f".{PARTIAL_MARK}{'0' * PARTIAL_TOKEN_CHARS}{target.suffix}"))
    stem = os.fsencode(target.stem)
    if len(stem) <= room:
        return target.stem
    # cut, and marked with the whole stem's hash: two long names alike in their first bytes keep partials of
    # their own (one's cleanup took the other's; a review). A character cut in two is left out.
    tag = "~" + hashlib.blake2b(stem, digest_size=4).hexdigest()
    return stem[:max(room - len(tag), 1)].decode("utf-8", "ignore") + tag


def same_file(a: Path | str, b: Path | str) -> bool:
    """Whether two paths are one file or folder, however they are spelt (a bind mount, a link); False when
    either is not there."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_output_path(target: Path, inputs: list[Path] | tuple[Path, ...] = (), overwrite: bool = False) -> None:
    """Raise OutputError when ``target`` cannot or must not be written."""
    for src in inputs:
        if same_file(src, target) or src.resolve() == target.resolve():
            raise OutputError(f"{target}: output is the same file as the input; choose another output path")
    base = target.parent  # a folder not there yet is made when the output is written (atomic_output); its
    while not base.exists() and base != base.parent:  # nearest existing folder must take it (image, batch and
        base = base.parent  # demo made theirs, video and eval refused: one rule now; an audit)
    if not base.is_dir():
        raise OutputError(f"{target}: {base} is a file, not a folder")
    if target.is_dir():
        raise OutputError(f"{target}: output is a folder; give a file name")
    if os.path.lexists(target) and not overwrite:  # (a link to nothing too: it passed, and the finished output
        # was then refused as 'appeared meanwhile', after all the work; a review)
        dangling = " (a link to a file that is not there)" if not target.exists() else ""
        raise OutputError(f"{target}: output exists{dangling}; pass --overwrite to replace it")
    probe = base / partial_name(target).name  # a folder that exists but takes no file (read-only, /proc):
    try:  # found now, not after the work
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        probe.unlink(missing_ok=True)  # a cleanup beside us may have taken it
    except OSError as err:
        raise OutputError(f"{target}: cannot write output ({err.strerror or err})") from err


def make_output_folder(folder: Path) -> None:
    """Create ``folder`` (and its parents) for outputs, or raise OutputError saying why it cannot be."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError as err:
        raise OutputError(f"{err.filename or folder}: output folder is a file; give a folder") from err
    except OSError as err:
        raise OutputError(f"{folder}: cannot create the output folder ({err.strerror or err})") from err


@contextlib.contextmanager
def atomic_output(target: Path, replace: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it is fsynced and renamed onto ``target``.

    Any exception (KeyboardInterrupt included) removes the temporary file, so no half file is left. What a
    killed run (SIGKILL, power loss) left for the same target is removed first. The temporary file is locked
    while it is written, so that no cleanup removes a partial whose writer is still running. ``replace``
    False: a file that appeared at ``target`` meanwhile (another run's) is an OutputError, not replaced (it
    was: two runs without --overwrite both said ok, and one's output was gone; an audit). A file replaced
    keeps its permissions and group (an --overwrite made a 640 file readable by all; an audit).
    """
    with atomic_outputs([target], replace) as (tmp,):
        yield tmp


@contextlib.contextmanager
def atomic_outputs(targets: list[Path], replace: bool = True) -> Iterator[list[Path]]:
    """atomic_output for files written together (a film, its preview, its report): each renamed in order once
    all are written; a failure at any point, a rename's included, leaves none of them that this run made
    (``replace`` False; with it, one already renamed stays: the file it replaced is gone). An OSError while
    they are written is said of the first (a caller that knows which file failed says so itself)."""
    tmps = [partial_name(target) for target in targets]
    locks: list[int] = []
    made: list[Path] = []  # folders made for them, removed again if they are not written
    published: list[Path] = []
    try:
        for target, tmp in zip(targets, tmps, strict=True):
            made += _make_folders(target.parent)
            remove_stale_partials(target.parent, of=target)
            locks.append(_create_locked(tmp))
        yield tmps
        for target, tmp in zip(targets, tmps, strict=True):
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
                _take_mode(fh.fileno(), target)
        for target, tmp in zip(targets, tmps, strict=True):
            _publish(tmp, target, replace)
            published.append(target)
        for folder in {target.parent for target in targets}:
            with contextlib.suppress(OSError):
                dir_fd = os.open(folder, os.O_RDONLY)
                try:
                    os.fsync(dir_fd)
                finally:
                    os.close(dir_fd)
    except OSError as err:
        _undo(tmps, made, published, replace)
        at = targets[len(published)] if len(published) < len(targets) else targets[0]
        if err.errno == errno.ENOSPC:
            raise OutputError(f"{at}: disk full while writing the output") from err
        raise OutputError(f"{at}: cannot write output ({err.strerror or err})") from err
    except BaseException:
        _undo(tmps, made, published, replace)
        raise
    finally:
        for fd in locks:
            os.close(fd)


def _undo(tmps: list[Path], made: list[Path], published: list[Path], replace: bool) -> None:
    """After a failure: the temporary files gone, and the outputs this run made new (``replace`` False: none
    was there before) and the folders made for them."""
    if not replace:
        for target in published:
            with contextlib.suppress(OSError):
                target.unlink()
    for tmp in tmps:
        with contextlib.suppress(OSError):  # (one that could not even be made is no error)
            tmp.unlink(missing_ok=True)
    for folder in reversed(made):
        with contextlib.suppress(OSError):
            folder.rmdir()


def _take_mode(fd: int, target: Path) -> None:
    """The finished temporary file's permissions: those of the file it replaces, else the umask's (some
    writers create private temporary files)."""
    try:
        st = os.stat(target)
    except OSError:
        if os.fstat(fd).st_mode & 0o777 == 0o600:
            os.fchmod(fd, 0o666 & ~_UMASK)
        return
    os.fchmod(fd, stat.S_IMODE(st.st_mode))
    with contextlib.suppress(OSError):  # its group, where this user may give it
        os.fchown(fd, -1, st.st_gid)


# errors of a file system that has no hard links (FAT, some network shares): there the check comes just before
# the rename instead
_NO_LINKS = (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK, errno.ENOSYS)


def _publish(tmp: Path, target: Path, replace: bool) -> None:
    """Give ``tmp`` the name ``target``: replacing a file there, or (``replace`` False) never."""
    if replace:
        os.replace(tmp, target)
        return
    try:
        os.link(tmp, target)  # fails if the name is taken, at the moment it is taken
    except FileExistsError:
        raise OutputError(f"{target}: output appeared while this one was made (another run?); pass --overwrite "
                          "to replace it") from None
    except OSError as err:
        if err.errno not in _NO_LINKS:
            raise
        if os.path.lexists(target):
            raise OutputError(f"{target}: output appeared while this one was made (another run?); pass "
                              "--overwrite to replace it") from None
        os.replace(tmp, target)
        return
    tmp.unlink()


def _make_folders(folder: Path) -> list[Path]:
    """Make ``folder`` and its missing parents; the ones made, outermost first."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        path.mkdir(exist_ok=True)
    return missing[::-1]


def _create_locked(path: Path) -> int:
    """Create ``path`` empty and hold an exclusive lock on it (released by closing, or by the process dying)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    with contextlib.suppress(OSError):  # a file system without locks: the partial is just not protected
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


def write_bytes_atomic(target: Path, data: bytes, replace: bool = True) -> None:
    with atomic_output(target, replace) as tmp:
        tmp.write_bytes(data)


def remove_stale_partials(folder: Path, of: Path | None = None) -> int:
    """Delete the temporary outputs that killed runs left under ``folder`` (recursively), or only those of the
    target ``of`` (beside it); returns how many. A partial that a running writer holds locked is kept."""
    if of is not None:
        found = of.parent.glob(f".{glob.escape(_partial_stem(of))}{PARTIAL_MARK}*{glob.escape(of.suffix)}")
    else:
        found = folder.rglob(f".*{PARTIAL_MARK}*")
    count = 0
    for path in found:
        with contextlib.suppress(OSError):
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
            try:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    continue
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # its writer is alive
                path.unlink()
                count += 1
            finally:
                os.close(fd)
    return count


class FileBytes:
    """A file read as bytes where it is sliced (``data[a:b]``, ``len(data)``), for parsers that follow offsets
    through a large file (a TIFF's or JPEG 2000's metadata) without reading it whole. Unlike a memory map, a
    file that shrinks meanwhile gives short slices, which a parser refuses, not a bus error that ends the
    process."""

    def __init__(self, file: BinaryIO):
        self._file = file
        self._size = os.fstat(file.fileno()).st_size

    def __len__(self) -> int:
        return self._size

    def __getitem__(self, index: slice) -> bytes:
        start, stop, _ = index.indices(self._size)
        if stop <= start:
            return b""
        self._file.seek(start)
        return self._file.read(stop - start)


def not_a_file(path: Path) -> str | None:
    """Why ``path`` cannot be read as a file: a pipe, a socket or a device, a link whose target is not
    there, loops or may not be reached ("" when it is a regular file; None when it is gone altogether)."""
    try:
        st = path.stat()
    except OSError as err:
        try:
            path.lstat()
        except PermissionError:  # in a folder that may be listed but not entered (r--)
            return f"{path}: this user may not reach it (permission denied)"
        except OSError:
            return None
        target = os.readlink(path) if path.is_symlink() else "?"
        if err.errno == errno.ELOOP:
            return f"{path}: a link that loops ({target})"
        if err.errno == errno.EACCES:
            return f"{path}: a link to {target}, which this user may not reach (permission denied)"
        return f"{path}: a link to {target}, which is not there (a disk not mounted?)"
    if not stat.S_ISREG(st.st_mode):
        return f"{path}: not a regular file (a pipe, a socket or a device); give the file itself"
    return ""
