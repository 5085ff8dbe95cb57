"""`filmcolor data coco-sample` against a local HTTP server: download, resume, integrity, safe unpacking."""

from __future__ import annotations

import hashlib
import io
import json
import re
import socket
import tarfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from filmcolor.cli import main
from filmcolor.download import download, extract, part_path
from filmcolor.errors import InputError, OutputError
from filmcolor.fsutil import PARTIAL_MARK

N_IMAGES = 4


@dataclass
class ServerState:
    payload: bytes = b""
    honor_range: bool = True
    cut_after: int | None = None  # body bytes sent before the connection is dropped (applies once)
    ranges: list[str | None] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    state: ServerState

    def log_message(self, *args: object) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        state, data = self.state, self.state.payload
        header = self.headers.get("Range")
        state.ranges.append(header)
        if self.path != "/coco_sample.tgz":
            self._head(404, {"Content-Length": "0"})
            return
        match = re.fullmatch(r"bytes=(\d+)-", header or "")
        if match and state.honor_range:
            start = int(match.group(1))
            if start >= len(data):
                self._head(416, {"Content-Range": f"bytes */{len(data)}", "Content-Length": "0"})
                return
            body = data[start:]
            self._head(206, {"Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}",
                             "Content-Length": str(len(body))})
        else:
            body = data
            self._head(200, {"Content-Length": str(len(body))})
        if state.cut_after is not None:
            body, state.cut_after = body[:state.cut_after], None
            self.wfile.write(body)
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)  # drop the connection mid-file
            self.close_connection = True
            return
        self.wfile.write(body)

    def _head(self, status: int, headers: dict[str, str]) -> None:
        self.state.statuses.append(status)
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()


@pytest.fixture
def server() -> Iterator[tuple[ServerState, str]]:
    state = ServerState()
    handler = type("Handler", (_Handler,), {"state": state})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{httpd.server_address[1]}/coco_sample.tgz"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _jpeg(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    ok, buf = cv2.imencode(".jpg", rng.integers(0, 256, (24, 32, 3), dtype=np.uint8))
    assert ok
    return buf.tobytes()


def _add(tar: tarfile.TarFile, name: str, data: bytes = b"", **attrs: object) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for key, value in attrs.items():
        setattr(info, key, value)
    tar.addfile(info, io.BytesIO(data) if data else None)


def make_tgz(extra: list[tuple[str, bytes, dict]] | None = None) -> tuple[bytes, dict[str, bytes]]:
    """A miniature coco_sample.tgz: coco_sample/train_sample/*.jpg + annotations, then ``extra`` members."""
    files = {f"coco_sample/train_sample/{i:012d}.jpg": _jpeg(i) for i in range(N_IMAGES)}
    files["coco_sample/annotations/train_sample.json"] = json.dumps({"images": N_IMAGES}).encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        _add(tar, "coco_sample", type=tarfile.DIRTYPE, mode=0o755)
        for name, data in files.items():
            _add(tar, name, data, mode=0o644)
        for name, data, attrs in extra or []:
            _add(tar, name, data, **attrs)
    return buf.getvalue(), files


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["data", "coco-sample", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def assert_no_partials(folder: Path) -> None:
    assert not list(folder.rglob(f"*{PARTIAL_MARK}*")), list(folder.rglob("*"))


def test_download_and_unpack(server, tmp_path: Path) -> None:
    state, url = server
    state.payload, files = make_tgz()
    out = tmp_path / "data"
    code, stdout, stderr = run(str(out), "--url", url, "--sha256", sha256(state.payload).upper())
    assert code == 0, stderr
    for name, data in files.items():
        assert (out / name).read_bytes() == data
    assert f"sha256 {sha256(state.payload)}" in stderr
    assert stdout.strip() == f"filmcolor train --data {out / 'coco_sample' / 'train_sample'} --out runs/coco-sample"
    assert not (out / "coco_sample.tgz").exists() and not part_path(out / "coco_sample.tgz").exists()
    assert state.ranges == [None]
    assert_no_partials(out)
    # A second run finds the data there and downloads nothing.
    code, stdout2, stderr = run(str(out), "--url", url)
    assert code == 0 and stdout2 == stdout and "already there" in stderr
    assert state.ranges == [None]


def test_interrupted_download_resumes_with_range(server, tmp_path: Path) -> None:
    state, url = server
    state.payload, _ = make_tgz()
    cut = len(state.payload) // 2
    state.cut_after = cut
    out = tmp_path / "data"
    code, stdout, stderr = run(str(out), "--url", url)
    assert code == 1 and stdout == ""
    assert len(error_lines(stderr)) == 1 and "interrupted" in stderr and "resume" in stderr
    assert "Traceback" not in stderr
    part = part_path(out / "coco_sample.tgz")
    assert part.read_bytes() == state.payload[:cut]
    assert not (out / "coco_sample").exists()

    code, stdout, stderr = run(str(out), "--url", url, "--keep-archive")
    assert code == 0, stderr
    assert state.ranges == [None, f"bytes={cut}-"] and state.statuses == [200, 206]
    assert f"resumed at byte {cut}" in stderr
    assert sha256((out / "coco_sample.tgz").read_bytes()) == sha256(state.payload)
    assert f"sha256 {sha256(state.payload)}" in stderr
    assert not part.exists()
    assert len(list((out / "coco_sample" / "train_sample").glob("*.jpg"))) == N_IMAGES


def test_server_ignoring_range_restarts(server, tmp_path: Path) -> None:
    state, url = server
    state.payload, _ = make_tgz()
    state.cut_after = len(state.payload) // 3
    out = tmp_path / "data"
    assert run(str(out), "--url", url)[0] == 1
    state.honor_range = False
    code, _, stderr = run(str(out), "--url", url, "--keep-archive", "--sha256", sha256(state.payload))
    assert code == 0, stderr
    assert state.ranges[1] == f"bytes={len(state.payload) // 3}-" and state.statuses == [200, 200]
    assert "resumed" not in stderr
    assert (out / "coco_sample.tgz").read_bytes() == state.payload


def test_complete_part_is_finished_by_416(server, tmp_path: Path) -> None:
    """A .part that already holds every byte (killed before the rename) needs no data: 416 ends it."""
    state, url = server
    state.payload, _ = make_tgz()
    target = tmp_path / "coco_sample.tgz"
    part_path(target).write_bytes(state.payload)
    seen: list[tuple[int, int | None]] = []
    got = download(url, target, expected_sha256=sha256(state.payload), progress=lambda d, t: seen.append((d, t)))
    assert state.statuses == [416] and got.size == len(state.payload) and got.sha256 == sha256(state.payload)
    assert target.read_bytes() == state.payload and seen[-1] == (len(state.payload), len(state.payload))


def test_longer_part_than_file_restarts(server, tmp_path: Path) -> None:
    state, url = server
    state.payload, _ = make_tgz()
    target = tmp_path / "coco_sample.tgz"
    part_path(target).write_bytes(state.payload + b"junk")
    got = download(url, target)
    assert state.statuses == [416, 200] and got.resumed_from == 0
    assert target.read_bytes() == state.payload


def test_wrong_sha256_is_one_line_and_unpacks_nothing(server, tmp_path: Path) -> None:
    state, url = server
    state.payload, _ = make_tgz()
    out = tmp_path / "data"
    code, stdout, stderr = run(str(out), "--url", url, "--sha256", "0" * 64)
    assert code == 1 and stdout == ""
    assert error_lines(stderr) == [stderr.strip()] and "sha256 mismatch" in stderr and sha256(state.payload) in stderr
    assert not (out / "coco_sample").exists() and not (out / "coco_sample.tgz").exists()
    assert_no_partials(out)


def test_malformed_sha256_is_bad_input(tmp_path: Path) -> None:
    code, _, stderr = run(str(tmp_path / "data"), "--sha256", "abc")
    assert code == 1 and "64 hexadecimal digits" in stderr
    assert not (tmp_path / "data").exists()


EVIL = {
    "dotdot": [("coco_sample/../../evil.txt", b"pwned", {})],
    "absolute": [("{outside}/abs_evil.txt", b"pwned", {})],
    "symlink_out": [("coco_sample/link", b"", {"type": tarfile.SYMTYPE, "linkname": "../../"}),
                    ("coco_sample/link/evil.txt", b"pwned", {})],
    "symlink_absolute": [("coco_sample/link", b"", {"type": tarfile.SYMTYPE, "linkname": "{outside}"})],
    "hardlink_out": [("coco_sample/hard", b"", {"type": tarfile.LNKTYPE, "linkname": "../evil.txt"})],
    # each link points inside when read on its own; together they climb out
    "symlink_chain": [("coco_sample/a", b"", {"type": tarfile.SYMTYPE, "linkname": "."}),
                      ("coco_sample/a/b", b"", {"type": tarfile.SYMTYPE, "linkname": ".."}),
                      ("coco_sample/c", b"", {"type": tarfile.SYMTYPE, "linkname": "a/b/.."}),
                      ("coco_sample/c/evil.txt", b"pwned", {})],
}


def _evil_tgz(kind: str, outside: Path) -> bytes:
    extra = [(name.format(outside=outside), data,
              {k: v.format(outside=outside) if isinstance(v, str) else v for k, v in attrs.items()})
             for name, data, attrs in EVIL[kind]]
    return make_tgz(extra)[0]


def _outside_files(tmp_path: Path, out: Path) -> list[Path]:
    return [p for p in tmp_path.rglob("*") if out not in p.parents and p != out]


@pytest.mark.parametrize("kind", sorted(EVIL))
def test_unsafe_archive_is_refused(server, tmp_path: Path, kind: str) -> None:
    state, url = server
    outside = tmp_path / "outside"
    outside.mkdir()
    state.payload = _evil_tgz(kind, outside)
    out = tmp_path / "data"
    code, stdout, stderr = run(str(out), "--url", url)
    assert code == 1 and stdout == ""
    assert error_lines(stderr) == [stderr.strip().splitlines()[-1]] and "unsafe archive" in stderr
    assert "Traceback" not in stderr
    assert _outside_files(tmp_path, out) == [outside]  # nothing written beside DIR or in the decoy
    # no unpacked files and no temp folder; the archive is kept for inspection (removed only after an unpack)
    assert [p.name for p in out.iterdir()] == ["coco_sample.tgz"]


@pytest.mark.parametrize("kind", sorted(EVIL))
def test_own_check_without_data_filter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    """Python 3.10/3.11 without the tarfile.data_filter backport rely on our check alone."""
    monkeypatch.delattr(tarfile, "data_filter", raising=False)
    outside = tmp_path / "outside"
    outside.mkdir()
    archive = tmp_path / "evil.tgz"
    archive.write_bytes(_evil_tgz(kind, outside))
    out = tmp_path / "data"
    with pytest.raises(InputError, match="unsafe archive"):
        extract(archive, out)
    assert list(out.iterdir()) == [] and list(outside.iterdir()) == []
    assert not (tmp_path / "evil.txt").exists()


def test_corrupt_archive_is_one_line(server, tmp_path: Path) -> None:
    state, url = server
    state.payload = b"this is not a tar archive" * 100
    code, _, stderr = run(str(tmp_path / "data"), "--url", url)
    assert code == 1 and len(error_lines(stderr)) == 1 and "not a readable tar archive" in stderr
    assert "delete it to download it again" in stderr and "\\n" not in stderr  # (an audit: kept, failing alike)
    assert_no_partials(tmp_path / "data")


def test_unreachable_url_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code, stdout, stderr = run(str(tmp_path / "w" / "a" / "data"), "--url",
                               f"http://127.0.0.1:{port}/coco_sample.tgz")
    assert code == 1 and stdout == ""
    assert error_lines(stderr) == [stderr.strip()] and "cannot connect" in stderr
    assert "Traceback" not in stderr
    assert not (tmp_path / "w").exists()  # (audits: an empty DIR was left, then its parents)


def test_http_error_is_one_line(server, tmp_path: Path) -> None:
    _, url = server
    code, _, stderr = run(str(tmp_path / "data"), "--url", url.replace("coco_sample", "missing"))
    assert code == 1 and error_lines(stderr) == [stderr.strip()] and "HTTP 404" in stderr
    assert not (tmp_path / "data").exists()  # nothing left, not even the folder it made


def test_url_without_file_name_is_one_line(tmp_path: Path) -> None:
    code, _, stderr = run(str(tmp_path / "data"), "--url", "http://127.0.0.1:9/")
    assert code == 1 and error_lines(stderr) == [stderr.strip()] and "file name" in stderr


def test_extract_reports_progress_and_returns_top_level(tmp_path: Path) -> None:
    archive = tmp_path / "coco_sample.tgz"
    archive.write_bytes(make_tgz()[0])
    seen: list[tuple[int, int | None]] = []
    created = extract(archive, tmp_path / "data", progress=lambda d, t: seen.append((d, t)))
    assert created == [tmp_path / "data" / "coco_sample"]
    size = archive.stat().st_size
    assert seen[0] == (0, size) and seen[-1] == (size, size)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    # unpacking again into the same folder refuses to mix the two and leaves no temp folder
    with pytest.raises(OutputError, match="already exists"):
        extract(archive, tmp_path / "data")
    assert_no_partials(tmp_path / "data")
