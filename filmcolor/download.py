"""Getting training data: resumable HTTP download, sha256 check, and a tar unpacker that stays inside its folder.

Library code: raises InputError / OutputError with one-line messages and reports progress through a
callback ``progress(done_bytes, total_bytes_or_None)``; it never prints.
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import io
import os
import re
import shutil
import socket
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from filmcolor import __version__
from filmcolor.errors import InputError, OutputError
from filmcolor.fsutil import PARTIAL_MARK
from filmcolor.imageio import list_images

# fast.ai's COCO sample (fastai ``URLs.COCO_SAMPLE``): about 21,800 COCO train2017 images, 3.2 GB.
# It unpacks to coco_sample/train_sample/*.jpg (+ coco_sample/annotations/train_sample.json).
COCO_SAMPLE_URL = "https://s3.amazonaws.com/fast-ai-coco/coco_sample.tgz"
# fast.ai publishes a size and an md5, no sha256; we do not invent one, so --sha256 is the user's check.
COCO_SAMPLE_SHA256: str | None = None

PART_SUFFIX = ".part"
CHUNK_BYTES = 1 << 20
TIMEOUT_S = 30.0  # a stalled socket for this long is an interrupted transfer

Progress = Callable[[int, "int | None"], None]


@dataclass(frozen=True)
class Download:
    """A complete, size-checked download."""

    path: Path
    size: int  # bytes
    sha256: str
    resumed_from: int  # bytes already on disk when this run started (0: fresh download)


def part_path(target: Path) -> Path:
    """Where an unfinished download of ``target`` lives (beside it, so a rerun resumes it)."""
    return target.with_name(target.name + PART_SUFFIX)


def archive_name(url: str) -> str:
    """The file name a URL's path ends with (``coco_sample.tgz``)."""
    name = Path(urllib.parse.unquote(urllib.parse.urlsplit(url).path)).name
    if not name:
        raise InputError(f"{url}: the URL does not end with a file name")
    return name


def _open(url: str, offset: int, timeout: float) -> http.client.HTTPResponse:
    headers = {"User-Agent": f"filmcolor/{__version__}", "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)


def _content_range(value: str | None) -> tuple[int | None, int | None]:
    """(first byte, total size) of a ``Content-Range: bytes A-B/N`` or ``bytes */N`` header."""
    match = re.fullmatch(r"\s*bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)\s*", value or "")
    if not match:
        return None, None
    start, total = match.groups()
    return (int(start) if start else None), (int(total) if total != "*" else None)


def _reason(err: BaseException) -> str:
    reason = getattr(err, "reason", None) or getattr(err, "strerror", None) or err
    return str(reason) or type(err).__name__


def _hash_file(path: Path, hasher: hashlib._Hash, limit: int | None = None) -> None:
    with open(path, "rb") as fh:
        remaining = limit
        while chunk := fh.read(CHUNK_BYTES if remaining is None else min(CHUNK_BYTES, remaining)):
            hasher.update(chunk)
            if remaining is not None:
                remaining -= len(chunk)


def _check_sha256(path: Path, digest: str, expected: str | None, keep_note: str) -> None:
    if expected and digest != expected.lower():
        raise InputError(f"{path.name}: sha256 mismatch: expected {expected.lower()}, got {digest}; {keep_note}")


def download(url: str, target: Path, expected_sha256: str | None = None, progress: Progress | None = None,
             timeout: float = TIMEOUT_S) -> Download:
    """Download ``url`` to ``target``, resuming ``target.part`` with an HTTP Range request when one exists.

    A server that ignores Range (200 instead of 206) restarts the file from byte 0. The size is checked
    against Content-Length / Content-Range, and the sha256 against ``expected_sha256`` when given.
    An interrupted transfer leaves the ``.part`` file for the next call to resume.
    """
    if target.exists():  # renamed from .part only once complete, so it is whole
        hasher = hashlib.sha256()
        _hash_file(target, hasher)
        _check_sha256(target, hasher.hexdigest(), expected_sha256, f"delete {target} to download it again")
        size = target.stat().st_size
        if progress:
            progress(size, size)
        return Download(target, size, hasher.hexdigest(), size)

    part = part_path(target)
    offset = part.stat().st_size if part.exists() else 0
    resumed_from = offset
    for _attempt in range(2):  # a second try only after throwing away an unusable .part
        try:
            response = _open(url, offset, timeout)
        except urllib.error.HTTPError as err:
            if err.code == 416 and offset:  # nothing left to send: complete, or the .part is longer
                _, total = _content_range(err.headers.get("Content-Range"))
                err.close()
                if total == offset:
                    response, total = None, offset
                    break
                part.unlink(missing_ok=True)
                offset = resumed_from = 0
                continue
            raise InputError(f"{url}: HTTP {err.code} {err.reason}") from err
        except urllib.error.URLError as err:
            raise InputError(f"{url}: cannot connect ({_reason(err)})") from err
        except (OSError, http.client.HTTPException) as err:
            raise InputError(f"{url}: cannot connect ({_reason(err)})") from err
        length = response.headers.get("Content-Length")
        if offset and response.status == 206:
            start, total = _content_range(response.headers.get("Content-Range"))
            if start == offset:
                if total is None and length and length.isdigit():
                    total = offset + int(length)
                break
            response.close()  # a range we did not ask for: start over
            part.unlink(missing_ok=True)
            offset = resumed_from = 0
            continue
        # 200: the whole file (the server ignored Range, or there was nothing to resume)
        offset = resumed_from = 0
        total = int(length) if length and length.isdigit() else None
        break
    else:
        raise InputError(f"{url}: the server's answers to a resumed download do not add up; try again")

    hasher = hashlib.sha256()
    if offset:
        _hash_file(part, hasher, offset)
    done = offset
    if progress:
        progress(done, total)
    if response is not None:
        with response:
            try:
                fh = open(part, "ab" if offset else "wb")
            except OSError as err:
                raise OutputError(f"{part}: cannot write the download ({err.strerror or err})") from err
            with fh:
                while True:
                    try:
                        chunk = response.read(CHUNK_BYTES)
                    except (OSError, http.client.HTTPException) as err:  # reset, timeout, bad chunking
                        if isinstance(err, socket.timeout):
                            err = OSError(f"no data for {timeout:g} s")
                        raise _interrupted(url, part, done, total, _reason(err)) from err
                    if not chunk:
                        break
                    try:
                        fh.write(chunk)
                    except OSError as err:
                        fh.close()
                        if err.errno == errno.ENOSPC:
                            raise OutputError(f"{part}: disk full while downloading; free space and run "
                                              "the same command again to resume") from err
                        raise OutputError(f"{part}: cannot write the download ({err.strerror or err})") from err
                    hasher.update(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, total)
                fh.flush()
                os.fsync(fh.fileno())
    if total is not None and done < total:  # the server closed the connection early
        raise _interrupted(url, part, done, total, "connection closed")
    if total is not None and done > total:
        part.unlink(missing_ok=True)
        raise InputError(f"{url}: received {done} bytes but the server announced {total}; the download was removed")
    digest = hasher.hexdigest()
    _check_sha256(part, digest, expected_sha256,
                  f"the download is kept at {part}: delete it to download again")
    os.replace(part, target)
    return Download(target, done, digest, resumed_from)


def _interrupted(url: str, part: Path, done: int, total: int | None, why: str) -> InputError:
    of_total = f" of {total}" if total is not None else ""
    return InputError(f"{url}: download interrupted after {done}{of_total} bytes ({why}); "
                      f"run the same command again to resume from {part.name}")


def _inside(root: str, path: str) -> bool:
    return os.path.commonpath([root, path]) == root


def check_member(member: tarfile.TarInfo, root: str) -> None:
    """Raise InputError unless ``member`` (and a link's target) stays inside the real folder ``root``.

    Paths are resolved through what is already unpacked, so a link planted by an earlier member
    cannot carry a later one out.
    """
    name = member.name
    parts = name.replace("\\", "/").split("/")
    if os.path.isabs(name) or name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        raise InputError(f"unsafe archive: member {name!r} has an absolute path; nothing was unpacked")
    if ".." in parts:
        raise InputError(f"unsafe archive: member {name!r} climbs out with '..'; nothing was unpacked")
    if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
        raise InputError(f"unsafe archive: member {name!r} is a device or fifo; nothing was unpacked")
    dest = os.path.realpath(os.path.join(root, name))
    if not _inside(root, dest):
        raise InputError(f"unsafe archive: member {name!r} would be written outside the folder; "
                         "nothing was unpacked")
    if member.issym() or member.islnk():
        link = member.linkname
        if os.path.isabs(link) or link.startswith(("/", "\\")):
            raise InputError(f"unsafe archive: link {name!r} points to the absolute path {link!r}; "
                             "nothing was unpacked")
        # symlinks resolve from their own folder, hard links from the archive root
        base = os.path.dirname(dest) if member.issym() else root
        if not _inside(root, os.path.realpath(os.path.join(base, link))):
            raise InputError(f"unsafe archive: link {name!r} points outside the folder ({link!r}); "
                             "nothing was unpacked")


def extract(archive: Path, dest: Path, progress: Progress | None = None) -> list[Path]:
    """Unpack a tar archive (any compression) into ``dest``; returns the top-level paths it created.

    Everything goes to a temporary folder inside ``dest`` first and is renamed into place only when
    every member was checked and written, so a refused or broken archive leaves nothing behind.
    """
    dest.mkdir(parents=True, exist_ok=True)
    size = archive.stat().st_size
    tmp = Path(tempfile.mkdtemp(prefix=f".{archive.name}{PARTIAL_MARK}", dir=dest))
    try:
        root = os.path.realpath(tmp)
        with open(archive, "rb") as raw:
            reader = _ReportingReader(raw, size, progress)
            try:
                with tarfile.open(fileobj=reader, mode="r:*") as tar:  # type: ignore[arg-type]
                    for member in tar:
                        check_member(member, root)
                        _extract_member(tar, member, root)
                reader.report(force=True)
            except (tarfile.TarError, EOFError, zlib.error) as err:
                raise InputError(f"{archive}: not a readable tar archive ({err})") from err
        created = sorted(tmp.iterdir())
        if not created:
            raise InputError(f"{archive}: the archive is empty")
        clashes = [p.name for p in created if (dest / p.name).exists() or (dest / p.name).is_symlink()]
        if clashes:
            raise OutputError(f"{dest / clashes[0]}: already exists; remove it to unpack again")
        moved = []
        for path in created:
            os.replace(path, dest / path.name)
            moved.append(dest / path.name)
        return moved
    except OSError as err:
        if err.errno == errno.ENOSPC:
            raise OutputError(f"{dest}: disk full while unpacking {archive.name}") from err
        raise OutputError(f"{dest}: cannot unpack {archive.name} ({err.strerror or err})") from err
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class _ReportingReader:
    """A read-only file wrapper that reports how far into the (compressed) archive reading has got."""

    def __init__(self, raw: io.BufferedReader, size: int, progress: Progress | None) -> None:
        self.raw, self.size, self.progress, self._reported = raw, size, progress, -CHUNK_BYTES
        self.report(force=True)

    def report(self, force: bool = False) -> None:
        done = self.raw.tell()
        if self.progress and (force or done - self._reported >= CHUNK_BYTES):
            self._reported = done
            self.progress(done, self.size)

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.report()
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.raw.seek(offset, whence)

    def tell(self) -> int:
        return self.raw.tell()


def _extract_member(tar: tarfile.TarFile, member: tarfile.TarInfo, root: str) -> None:
    # Directories keep default permissions until the end: a read-only one would block its own members.
    if hasattr(tarfile, "data_filter"):  # 3.12+, and 3.10.12+/3.11.4+ backports: a second line of defence
        try:
            tar.extract(member, root, set_attrs=not member.isdir(), filter="data")
        except tarfile.FilterError as err:
            raise InputError(f"unsafe archive: {err}; nothing was unpacked") from err
    else:
        tar.extract(member, root, set_attrs=not member.isdir())


def image_folder(paths: list[Path]) -> Path | None:
    """The folder under ``paths`` that holds the most images directly (the one to train on)."""
    counts = Counter(image.parent for image in list_images(p for p in paths if p.is_dir()))
    return max(counts, key=counts.__getitem__) if counts else None
