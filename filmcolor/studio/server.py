"""The studio's page and its HTTP API (Starlette), served by uvicorn on 127.0.0.1 and nowhere else.

  GET  /                              the page (static/: plain HTML, JS and CSS; nothing fetched from elsewhere)
  GET  /api/state                     the folder, its photos and films, the picture opened from the command line
  POST /api/open    {path}            open a photo or film under the folder -> the picture's info
  POST /api/upload?name=NAME          the body is a photo's bytes -> the picture's info
  POST /api/render  {picture, frame, points}               -> image/jpeg (films: header X-Frame-Time, seconds)
  POST /api/save    {picture, frame, points, name, overwrite} -> {written: [...], command: "filmcolor video ..."}

``points`` are the hints JSON's points in pixels of the full picture. A bad request gets {"error": one line}
(400; 500 for a bug of ours) and a log line; the server goes on. Every POST must carry the header
X-Filmcolor-Studio, which a page of another site cannot send without a CORS preflight that is never
answered, and the Host must be 127.0.0.1 or localhost (a rebound DNS name is refused).
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import cv2
import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.responses import JSONResponse as _JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from filmcolor.errors import ConfigError, FilmcolorError, InputError, described
from filmcolor.studio.session import PictureInfo, Studio

HOST = "127.0.0.1"  # the page reads and writes the user's files: it must never be reachable from another machine
STATIC = Path(__file__).parent / "static"
REQUEST_HEADER = "X-Filmcolor-Studio"
MAX_UPLOAD_BYTES = 256 * 1024 * 1024
MAX_JSON_BYTES = 1024 * 1024  # a request's JSON (2000 hints take ~120 KB)
# The preview goes back as JPEG: 2 ms to encode 1024 x 768 and 180 KB, where PNG takes 23 ms and 1 MB.
PREVIEW_JPEG_QUALITY = 92

Log = Callable[[str], None]


class JSONResponse(_JSONResponse):
    """JSON in ASCII: a file name that is not UTF-8 on disk (caf\xe9.jpg) is a lone surrogate in Python,
    which UTF-8 cannot encode (every /api/state failed); escaped, the page sends it back as it came."""

    def render(self, content: object) -> bytes:
        return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def create_app(studio: Studio, log: Log, opened: PictureInfo | None = None) -> Starlette:
    """The page and the API over ``studio``; ``log`` gets one line per open, save and error."""

    def api(handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            if request.method == "POST" and request.headers.get(REQUEST_HEADER) != "1":
                return JSONResponse({"error": f"requests must come from the studio's page ({REQUEST_HEADER})"}, 403)
            try:
                return await handler(request)
            except FilmcolorError as err:
                log(f"error: {err}")
                return JSONResponse({"error": str(err)}, 400)
            except Exception as err:  # a bug of ours: the page says so, the server goes on
                log(f"unexpected {described(err)} in {request.url.path}")
                return JSONResponse({"error": f"unexpected {described(err)}"}, 500)

        return endpoint

    async def state(request: Request) -> Response:
        files, count = await run_in_threadpool(studio.files)
        model = studio.colorizer
        return JSONResponse({"folder": str(studio.folder), "files": files, "listed_of": count,
                             "opened": opened.to_dict() if opened is not None else None,
                             "model": model.model_name, "render_size": model.rendered_size})

    async def open_file(request: Request) -> Response:
        body = await _json_body(request)
        info = await run_in_threadpool(studio.open, body.get("path"))
        log(f"opened {info.name} ({info.width}x{info.height} {info.kind})")
        return JSONResponse(info.to_dict())

    async def upload(request: Request) -> Response:
        name = request.query_params.get("name") or "upload"  # (made a file name by open_upload)
        data = await _read_capped(request, MAX_UPLOAD_BYTES, f"{Path(name).name}: larger than "
                                                             f"{MAX_UPLOAD_BYTES // 2**20} MiB")
        info = await run_in_threadpool(studio.open_upload, data, name)
        log(f"opened upload {info.name} ({info.width}x{info.height})")
        return JSONResponse(info.to_dict())

    async def render(request: Request) -> Response:
        body = await _json_body(request)
        t0 = time.perf_counter()
        rendered = await run_in_threadpool(studio.render, body.get("picture"), body.get("frame", 0),
                                           body.get("points", []))
        jpeg = await run_in_threadpool(_jpeg, rendered.rgb_hw3)
        headers = {"X-Render-Ms": f"{(time.perf_counter() - t0) * 1000:.1f}", "Cache-Control": "no-store"}
        if rendered.time_s is not None:
            headers["X-Frame-Time"] = f"{rendered.time_s:.6f}"
        return Response(jpeg, media_type="image/jpeg", headers=headers)

    async def save(request: Request) -> Response:
        body = await _json_body(request)
        saved = await run_in_threadpool(studio.save, body.get("picture"), body.get("frame", 0),
                                        body.get("points", []), body.get("name", ""), body.get("overwrite") is True)
        log(f"saved {', '.join(saved.written)} in {studio.folder}")
        if saved.command:
            log(f"colour the film with: {saved.command}")
        return JSONResponse({**saved.to_dict(), "folder": str(studio.folder)})

    async def page(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    routes = [
        Route("/", page),
        Route("/api/state", api(state)),
        Route("/api/open", api(open_file), methods=["POST"]),
        Route("/api/upload", api(upload), methods=["POST"]),
        Route("/api/render", api(render), methods=["POST"]),
        Route("/api/save", api(save), methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(routes=routes, middleware=[Middleware(TrustedHostMiddleware,
                                                           allowed_hosts=[HOST, "localhost"])])


async def _read_capped(request: Request, limit: int, too_large: str) -> bytes:
    """The request's body, read no further than ``limit`` bytes (then an InputError saying ``too_large``)."""
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise InputError(too_large)
    return bytes(data)


async def _json_body(request: Request) -> dict:
    data = await _read_capped(request, MAX_JSON_BYTES,  # a 200 MB path took 33 s, 2.7 GB and a 200 MB log line
                              f"{request.url.path}: the request is larger than {MAX_JSON_BYTES // 2**10} KiB")
    try:
        body = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError, ValueError) as err:
        # (ValueError: a number of over 4300 digits, which Python refuses to read: a 500; an audit)
        raise InputError(f"{request.url.path}: the request is not JSON ({err})") from err
    if not isinstance(body, dict):
        raise InputError(f"{request.url.path}: expected a JSON object")
    return body


def _jpeg(rgb_hw3) -> bytes:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb_hw3, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, PREVIEW_JPEG_QUALITY])
    if not ok:
        raise InputError("could not encode the preview")
    return buf.tobytes()


def bind_loopback(port: int = 0) -> socket.socket:
    """A listening TCP socket on 127.0.0.1 (IPv4 loopback only); port 0 lets the system pick a free one."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restart right after Ctrl-C
        sock.bind((HOST, port))
        sock.listen(64)
    except OSError as err:
        sock.close()
        raise ConfigError(f"--port {port}: cannot listen on {HOST} ({err.strerror or err}); "
                          "leave --port out to get a free one") from err
    return sock


def _not_cancelled(record: logging.LogRecord) -> bool:
    exc = record.exc_info[1] if record.exc_info else None
    return not isinstance(exc, asyncio.CancelledError) and not record.getMessage().startswith("Cancel ")


# Ctrl-C during a long request printed uvicorn's "Cancel 1 running task(s)" and a 50-line traceback of the
# cancelled request (an audit): a request cut short by the stop is no error to report.
logging.getLogger("uvicorn.error").addFilter(_not_cancelled)


class StudioServer:
    """uvicorn serving an app on a socket bound to 127.0.0.1: ``run()`` (blocks) or ``start()``/``stop()``."""

    def __init__(self, app: Starlette, port: int = 0):
        self.socket = bind_loopback(port)
        self.port = int(self.socket.getsockname()[1])
        self.url = f"http://{HOST}:{self.port}/"
        config = uvicorn.Config(app, log_config=None, access_log=False, log_level="warning", lifespan="off",
                                timeout_graceful_shutdown=2)
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def run(self) -> None:
        """Serve until Ctrl-C (in the main thread) or ``stop()``."""
        try:
            self._server.run(sockets=[self.socket])
        finally:
            self.socket.close()

    def start(self, timeout_s: float = 30.0) -> StudioServer:
        """Serve in a background thread; returns once it accepts requests."""
        self._thread = threading.Thread(target=self.run, name="filmcolor-studio", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise ConfigError(f"the studio's server did not start on {self.url}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
