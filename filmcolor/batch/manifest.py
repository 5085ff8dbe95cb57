"""The batch manifest: a JSON line per event in OUT_DIR/.filmcolor-batch.jsonl; the last line per input wins.

Appends are one ``os.write`` of a whole line on an O_APPEND descriptor followed by fsync, so a crash
(kill -9, power loss) can at worst leave a torn last line, which the next reader skips. One process
writes at a time (an exclusive ``flock``); inside it, one thread (the batch's driver) calls ``append``.
On open the file is compacted to one line per input, atomically, so it never grows without bound.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filmcolor.errors import OutputError
from filmcolor.fsutil import write_bytes_atomic

MANIFEST_NAME = ".filmcolor-batch.jsonl"


@dataclass
class FileRecord:
    """What the batch knows about one input. Paths are POSIX, relative to IN_DIR / OUT_DIR."""

    path: str
    size: int  # bytes
    mtime_ns: int
    status: str  # running | done | failed | interrupted
    output: str
    kind: str = "video"  # video | image
    frames: int = 0
    seconds: float = 0.0  # of footage written
    elapsed: float = 0.0  # wall seconds the last attempt took
    fps: float = 0.0
    attempts: int = 0
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    sound: list[int] | None = None  # [size, mtime_ns] of a video file's sound file beside it (plan.Found.sound_id)
    digest: str = ""  # a film folder's frames' names, sizes and times (plan.Found.digest)
    updated: float = 0.0  # unix time of this record
    source: str = ""  # IN_DIR, resolved: whose batch this is ("": a record from before it was kept)

    def to_json(self) -> str:
        """One JSON line, readable as UTF-8: a name that is not valid UTF-8 (Python keeps its bytes as lone
        surrogates) is written escaped, \\udcXX, and read back as the same name."""
        data = dataclasses.asdict(self)
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        try:
            text.encode()
        except UnicodeEncodeError:
            text = json.dumps(data, separators=(",", ":"))
        return text

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FileRecord:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


class Manifest:
    """Resumable state of a batch; ``records`` maps input path -> latest FileRecord."""

    def __init__(self, out_dir: Path, source: str = ""):
        """``source``: the batch's IN_DIR, resolved, stamped on every record appended."""
        self.path = Path(out_dir) / MANIFEST_NAME
        self.source = source
        self.records: dict[str, FileRecord] = {}
        self.torn_lines = 0
        self._fd: int | None = None

    def open(self) -> Manifest:
        """Lock, read and compact the manifest; raises OutputError when another batch holds it."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            lock_fd = os.open(self.path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:  # a read-only folder or mount
            raise OutputError(f"{self.path.parent}: cannot keep the batch's manifest there "
                              f"({err.strerror or err})") from err
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(lock_fd)
            raise OutputError(f"{self.path.parent}: another filmcolor batch is writing here") from None
        self._lock_fd = lock_fd
        try:
            self.records = self._read()
            if self.path.exists():
                body = "".join(r.to_json() + "\n" for r in self.records.values())
                write_bytes_atomic(self.path, body.encode())
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as err:
            self.close()
            raise OutputError(f"{self.path}: cannot write the batch manifest ({err.strerror or err})") from err
        except BaseException:
            self.close()  # the lock too: the next batch here may start
            raise
        return self

    def _read(self) -> dict[str, FileRecord]:
        records: dict[str, FileRecord] = {}
        try:
            lines = self.path.read_bytes().splitlines()
        except FileNotFoundError:
            return records
        except OSError as err:  # a folder in its place, unreadable
            raise OutputError(f"{self.path}: cannot read the batch manifest ({err.strerror or err})") from err
        for line in lines:
            try:
                record = FileRecord.from_dict(json.loads(line))
                if not isinstance(record.path, str) or not isinstance(record.output, str):
                    raise TypeError("not a record")
            except (ValueError, TypeError, AttributeError):  # torn by a crash mid-append, or not a record
                self.torn_lines += 1
                continue
            records[record.path] = record
        return records

    def append(self, record: FileRecord) -> None:
        """Durably record ``record`` as the latest state of its input."""
        if self._fd is None:
            raise RuntimeError("Manifest.append before open()")
        record.updated = time.time()
        record.source = self.source or record.source
        data = (record.to_json() + "\n").encode()
        try:
            written = os.write(self._fd, data)
            if written != len(data):
                raise OSError(f"short write ({written} of {len(data)} bytes)")
            os.fsync(self._fd)
        except OSError as err:
            raise OutputError(f"{self.path}: cannot update the batch manifest ({err})") from err
        self.records[record.path] = record

    def other_sources(self) -> list[str]:
        """The input folders, other than this batch's, whose batches wrote the records here."""
        return sorted({r.source for r in self.records.values() if r.source and r.source != self.source})

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if getattr(self, "_lock_fd", None) is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> Manifest:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_manifest(out_dir: Path) -> dict[str, FileRecord]:
    """The latest record per input, without locking or rewriting (for reports and tests)."""
    return Manifest(out_dir)._read()
