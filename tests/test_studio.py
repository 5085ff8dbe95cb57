"""`filmcolor studio`: its HTTP API driven on a real server (127.0.0.1, a free port), the command, and the page
itself in headless Chromium (skipped where Chromium or Playwright is absent)."""

from __future__ import annotations

import io
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from email.message import Message
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import make_guided_weights
from media import decode_video, make_clip
from skimage.color import rgb2lab

from filmcolor import guide
from filmcolor.cli import main
from filmcolor.colorize import Colorizer
from filmcolor.errors import ConfigError
from filmcolor.imageio import read_image, write_image

pytest.importorskip("starlette", reason="the studio extra is not installed: pip install -e '.[studio]'")
pytest.importorskip("uvicorn", reason="the studio extra is not installed: pip install -e '.[studio]'")

from filmcolor.studio.server import HOST, REQUEST_HEADER, StudioServer, create_app  # noqa: E402
from filmcolor.studio.session import Studio  # noqa: E402

W, H = 160, 96
RENDER = 96
HINT = (40, 48)  # on the dark left half of the scene
RED = "#c8321e"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def scene() -> np.ndarray:
    """A gray photo: a dark textured left half and a light right half (another object, an edge in L)."""
    rng = np.random.default_rng(0)
    gray = np.full((H, W), 70.0)
    gray[:, W // 2:] = 190.0
    gray += rng.normal(0, 4, gray.shape)
    return np.clip(gray, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_guided_weights(tmp_path_factory.mktemp("studio-weights") / "guided.safetensors")


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The studio's folder shared by the module's tests (saves add files to it: see make_place)."""
    return make_place(tmp_path_factory.mktemp("studio"))


def make_place(base: Path) -> Path:
    """base/folder (the studio's folder, with a photo, a film and a broken photo) beside base/outside."""
    folder = base / "folder"
    folder.mkdir()
    (base / "outside").mkdir()
    write_image(folder / "scene.png", scene())
    make_clip(folder / "clip.mp4", width=96, height=64, frames=12, fps=10)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a JPEG")
    (folder / "broken.mkv").write_bytes(b"\x1a\x45\xdf\xa3 this is not a film" * 4)
    (folder / "link").symlink_to(base / "outside")
    return folder


class Served:
    """A studio served in this process on 127.0.0.1, and its log lines."""

    def __init__(self, folder: Path, weights: Path):
        colorizer = Colorizer.from_pretrained(weights, device="cpu", runtime="torch", render_size=RENDER)
        self.studio = Studio(colorizer, folder)
        self.logs: list[str] = []
        self.server = StudioServer(create_app(self.studio, self.logs.append)).start()
        self.url = self.server.url.rstrip("/")

    def call(self, path: str, body: object = None, *, raw: bytes | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, Message, bytes]:
        """(status, headers, body) of a GET (no body) or a POST as the page sends it."""
        data, sent = None, dict(headers if headers is not None else {REQUEST_HEADER: "1"})
        if raw is not None:
            data = raw
            sent.setdefault("Content-Type", "application/octet-stream")
        elif body is not None:
            data = json.dumps(body).encode()
            sent.setdefault("Content-Type", "application/json")
        request = urllib.request.Request(self.url + path, data=data, headers=sent)
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as err:
            return err.code, err.headers, err.read()

    def json(self, path: str, body: object = None, **kwargs) -> tuple[int, dict]:
        status, _, data = self.call(path, body, **kwargs)
        return status, json.loads(data)

    def open(self, path: str) -> dict:
        status, info = self.json("/api/open", {"path": path})
        assert status == 200, info
        return info

    def render(self, picture: str, points: list[dict], frame: int = 0) -> tuple[np.ndarray, Message]:
        status, headers, data = self.call("/api/render", {"picture": picture, "frame": frame, "points": points})
        assert status == 200, data
        assert headers["Content-Type"] == "image/jpeg"
        bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), headers


@pytest.fixture(scope="module")
def served(place: Path, weights: Path):
    served = Served(place, weights)
    yield served
    served.server.stop()
    served.studio.close()


def hint(x: int = HINT[0], y: int = HINT[1], color: str = RED, radius: float = 3) -> dict:
    return {"x": x, "y": y, "color": color, "radius": radius}


def renders_within(served: Served, picture_id: str, seconds: float) -> bool:
    """Whether a render of the picture (with a hint) answers within ``seconds``, other requests pending."""
    import threading

    rendered: list[np.ndarray] = []
    rendering = threading.Thread(target=lambda: rendered.append(served.render(picture_id, [hint()])[0]),
                                 daemon=True)
    rendering.start()
    rendering.join(seconds)
    return bool(rendered)


def tree(path: Path) -> list[str]:
    return sorted(p.relative_to(path).as_posix() for p in path.rglob("*"))


# ---- the server ----

def test_it_listens_on_the_loopback_address_only(served):
    host, port = served.server.socket.getsockname()
    assert served.server.socket.family == socket.AF_INET and host == HOST == "127.0.0.1"
    assert served.url == f"http://127.0.0.1:{port}"
    with pytest.raises(ConfigError, match=f"--port {port}: cannot listen on 127.0.0.1"):
        StudioServer(create_app(served.studio, served.logs.append), port)  # taken: one line, no traceback


def test_state_lists_the_folders_photos_and_films(weights, tmp_path):
    served = Served(make_place(tmp_path), weights)  # a folder of its own: other tests save into the shared one
    try:
        status, state = served.json("/api/state")
    finally:
        served.server.stop()
        served.studio.close()
    assert status == 200
    assert state["files"] == ["broken.jpg", "broken.mkv", "clip.mp4", "scene.png"]  # link/ (to outside/) has none
    assert state["render_size"] == RENDER and state["opened"] is None


def test_the_page_and_its_files_come_from_the_server_alone(served):
    status, _, page = served.call("/")
    assert status == 200
    text = page.decode()
    assert "/static/studio.js" in text and "/static/studio.css" in text
    for name in ("studio.js", "studio.css"):
        status, _, body = served.call(f"/static/{name}")
        assert status == 200 and len(body) > 500
        text += body.decode()
    assert "http://" not in text and "https://" not in text and "@import" not in text  # nothing from elsewhere


def test_a_hint_changes_the_colour_where_it_is_and_barely_elsewhere(served):
    picture = served.open("scene.png")
    assert (picture["width"], picture["height"], picture["kind"]) == (W, H, "photo")
    auto, _ = served.render(picture["id"], [])
    again, _ = served.render(picture["id"], [])
    hinted, _ = served.render(picture["id"], [hint()])
    lab_auto, lab_again, lab_hinted = (rgb2lab(x) for x in (auto, again, hinted))
    x, y = HINT
    near = (slice(y - 6, y + 7), slice(x - 6, x + 7))
    red_a = rgb2lab(np.array([[[0xC8, 0x32, 0x1E]]], np.uint8))[0, 0, 1]
    assert np.abs(lab_again - lab_auto).max() < 1e-6  # the automatic colour is repeatable
    a_auto, a_hinted = lab_auto[near][..., 1].mean(), lab_hinted[near][..., 1].mean()
    assert a_hinted > a_auto + 0.4 * (red_a - a_auto)  # well on the way to the hint's red
    moved = np.abs(lab_hinted[..., 1:] - lab_auto[..., 1:]).max(axis=2)
    assert np.median(moved[:, W // 2 + 8:]) < 2.0  # the other object barely changes
    assert np.abs(lab_hinted[..., 0] - lab_auto[..., 0]).mean() < 1.5  # the picture's own L is kept


def test_the_saved_picture_and_hints_are_what_the_image_command_makes_of_them(served, place, weights):
    picture = served.open("scene.png")
    assert picture["save_stem"] == "scene_color"
    points = [hint(), hint(120, 20, "#2255aa", 0)]
    status, saved = served.json("/api/save", {"picture": picture["id"], "points": points, "name": "scene_color"})
    assert status == 200, saved
    assert saved["written"] == ["scene_color.png", "scene_color.json"] and saved["command"] is None
    hints = guide.load_hints(place / "scene_color.json", W, H)  # the format `image --hints` reads
    assert hints.x.tolist() == [40, 120] and hints.y.tolist() == [48, 20] and hints.radius.tolist() == [3, 0]
    np.testing.assert_allclose(hints.ab[1], guide.parse_color("#2255aa"))
    out = place.parent / "outside" / "by_the_command.png"
    result = CliRunner().invoke(main, ["image", str(place / "scene.png"), "-o", str(out), "--hints",
                                       str(place / "scene_color.json"), "--model", str(weights), "--device", "cpu",
                                       "--runtime", "torch", "--render-size", str(RENDER)])
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(read_image(place / "scene_color.png"), read_image(out))
    out.unlink()
    status, again = served.json("/api/save", {"picture": picture["id"], "points": [], "name": "scene_color"})
    assert status == 400 and "exists" in again["error"]
    status, again = served.json("/api/save", {"picture": picture["id"], "points": [], "name": "scene_color.png",
                                              "overwrite": True})
    assert status == 200 and json.loads((place / "scene_color.json").read_text()) == {"points": []}


@pytest.mark.parametrize("name, message", [
    ("../escaped", "outside the studio's folder"),
    ("sub/../../escaped", "outside the studio's folder"),
    ("link/escaped", "outside the studio's folder"),  # a link inside the folder to a folder outside it
    ("{outside}/escaped", "not an absolute one"),  # an absolute path, to the folder beside the studio's
    ("", "no file name given"),
    (".", "outside the studio's folder"),  # an audit: it wrote folder.png and folder.json beside the folder
    ("sub/..", "outside the studio's folder"),  # and with overwrite, replaced the folder's own .json there
    ("x" * 300, "a name longer than this disk takes (255 bytes)"),  # a 500 before
    (None, "name None: expected a file name"),  # saved as None.png
])
def test_a_save_never_leaves_the_folder(served, place, name, message):
    picture = served.open("scene.png")
    before, outside = tree(place.parent), place.parent / "outside"
    name = name.format(outside=outside.resolve()) if isinstance(name, str) else name
    status, body = served.json("/api/save", {"picture": picture["id"], "points": [hint()], "name": name,
                                             "overwrite": True})
    assert status == 400 and message in body["error"]
    assert tree(place.parent) == before and not list(outside.iterdir())
    assert any(message in line for line in served.logs)  # the terminal hears of it too


def test_odd_requests_get_one_line_not_a_500(served, place):
    """An audit: a NUL in an upload's name, JSON nested 100,000 deep and a 2 MB path were 500s ('a bug of
    ours'); the path's whole text went into the error and the log."""
    good = cv2.imencode(".png", scene())[1].tobytes()
    status, info = served.json("/api/upload?name=a%00b.png", raw=good)
    assert status == 200 and info["name"] == "ab.png", info
    status, body = served.json("/api/open", raw=b"[" * 100_000 + b"]" * 100_000,
                               headers={REQUEST_HEADER: "1", "Content-Type": "application/json"})
    assert status == 400 and "the request is not JSON" in body["error"]
    status, body = served.json("/api/open", {"path": "a" * 2_000_000})
    assert status == 400 and "larger than 1024 KiB" in body["error"] and len(body["error"]) < 200
    status, body = served.json("/api/save", {"picture": info["id"], "points": [], "name": "x.PNG"})
    assert status == 200 and body["written"] == ["x.png", "x.json"], body  # not x.PNG.png
    status, body = served.json("/api/save", {"picture": info["id"], "points": [], "name": "x"})
    assert status == 400 and body["error"].endswith("output exists; tick 'overwrite' to replace it"), body


def test_names_that_are_not_utf_8_are_listed_and_opened(weights, tmp_path):
    """An audit: one photo named in Latin-1 (caf\xe9.jpg, from an old disk) made every /api/state a 500."""
    folder = make_place(tmp_path)
    latin = os.fsdecode(b"caf\xe9.png")
    write_image(folder / latin, scene())
    served = Served(folder, weights)
    try:
        status, state = served.json("/api/state")
        assert status == 200 and latin in state["files"] and state["listed_of"] == 5
        info = served.open(latin)
        assert info["name"] == latin
    finally:
        served.server.stop()
        served.studio.close()


def test_a_saved_photo_keeps_its_metadata_and_depth(served, place):
    """An audit: the studio's save lost the photo's EXIF caption and wrote a 16-bit scan at 8 bits, where
    `filmcolor image` keeps both."""
    deep = (scene().astype(np.uint16) * 257)
    cv2.imwrite(str(place / "deep.tif"), deep)
    picture = served.open("deep.tif")
    status, body = served.json("/api/save", {"picture": picture["id"], "points": [hint()], "name": "deep_out"})
    assert status == 200, body
    assert read_image(place / "deep_out.png", deep=True).dtype == np.uint16


def test_a_render_is_answered_while_a_save_colours(served, place, monkeypatch):
    """A save of a big photo (48 MP: 23 s) held the studio's lock, and every render waited behind it. Now
    the save colours and writes outside the lock; a second save to the same name meanwhile is refused."""
    import threading

    from filmcolor.studio import session

    started, release = threading.Event(), threading.Event()
    real_encode = session.encode_image

    def held_encode(*args, **kwargs):
        started.set()
        release.wait(30)
        return real_encode(*args, **kwargs)

    monkeypatch.setattr(session, "encode_image", held_encode)
    picture = served.open("scene.png")
    body = {"picture": picture["id"], "points": [hint()], "name": "held"}
    saved: list[tuple[int, dict]] = []
    saving = threading.Thread(target=lambda: saved.append(served.json("/api/save", body)))
    saving.start()
    try:
        assert started.wait(30)
        assert renders_within(served, picture["id"], 10), "the render waited for the save"
        status, second = served.json("/api/save", body)
        assert status == 400 and "held.png: being saved by another request" in second["error"], second
    finally:
        release.set()
        saving.join(60)
    assert saved and saved[0][0] == 200, saved
    assert read_image(place / "held.png").shape[:2] == (H, W)


def test_a_save_into_a_new_subfolder_stays_inside(served, place):
    picture = served.open("scene.png")
    status, body = served.json("/api/save", {"picture": picture["id"], "points": [hint()], "name": "keys/a"})
    assert status == 200 and body["written"] == ["keys/a.png", "keys/a.json"]
    assert (place / "keys" / "a.png").is_file() and (place / "keys" / "a.json").is_file()


def test_a_bad_upload_is_a_message_and_the_server_goes_on(served, place):
    truncated = cv2.imencode(".jpg", scene())[1].tobytes()[:-200]
    for name, data, message in [
        ("photo.jpg", b"\x00\x01 not an image", "photo.jpg: not an image OpenCV can decode"),
        ("cut.jpg", truncated, "cut.jpg: truncated JPEG"),
        ("empty.png", b"", "empty.png: empty file"),
        ("film.mp4", b"\x00" * 64, "film.mp4: films are opened from the folder's list"),
    ]:
        status, body = served.json(f"/api/upload?name={name}", raw=data)
        assert status == 400 and body["error"].startswith(message), body
        assert "/proc/" not in body["error"] and any(line.endswith(body["error"]) for line in served.logs)
    for path, message in [("broken.jpg", "broken.jpg: truncated JPEG"),
                          ("broken.mkv", "broken.mkv: not a readable video file"),
                          ("gone.png", "gone.png: file not found"), ("../outside", "outside the studio's folder")]:
        status, body = served.json("/api/open", {"path": path})
        assert status == 400 and message in body["error"], body
    good = cv2.imencode(".png", scene())[1].tobytes()
    status, info = served.json("/api/upload?name=mine.png", raw=good)
    assert status == 200 and (info["width"], info["height"], info["save_stem"]) == (W, H, "mine_color")
    rendered, _ = served.render(info["id"], [hint()])
    assert rendered.shape == (H, W, 3)
    assert "mine.png" not in tree(place)  # an upload is not written to the folder


@pytest.mark.parametrize("body, message", [
    ({"picture": "nope", "points": []}, "no longer open"),
    ({"picture": None, "points": [{"x": 1, "y": 1, "color": "red"}]}, "no longer open"),
])
def test_bad_requests_get_one_line(served, body, message):
    status, answer = served.json("/api/render", body)
    assert status == 400 and message in answer["error"]


def test_a_number_too_long_to_read_is_a_bad_request(served, place):
    """An audit: a frame number of 5001 digits was a 500 (Python's ValueError from json.loads)."""
    film = served.open("clip.mp4")
    body = f'{{"picture": "{film["id"]}", "frame": 1{"0" * 5000}, "points": []}}'.encode()
    status, answer = served.json("/api/render", raw=body)
    assert status == 400 and "the request is not JSON" in answer["error"], answer


@pytest.mark.parametrize("point, message", [
    ({"x": W, "y": 1, "color": RED}, "outside the 160x96 picture"),
    ({"x": 1, "y": 1, "color": "red"}, "is not #RRGGBB"),
    ({"x": "a", "y": 1, "color": RED}, "must be numbers"),
    ({"x": 1, "y": 1, "color": RED, "radius": -2}, "radius -2"),
])
def test_bad_hints_get_one_line(served, point, message):
    picture = served.open("scene.png")
    status, answer = served.json("/api/render", {"picture": picture["id"], "points": [hint(), point]})
    assert status == 400 and answer["error"].startswith("hint 1: ") and message in answer["error"]


def test_requests_from_other_pages_are_refused(served, place):
    picture = served.open("scene.png")
    before = tree(place)
    body = {"picture": picture["id"], "points": [], "name": "forged"}
    status, _, _ = served.call("/api/save", body, headers={"Content-Type": "text/plain"})  # a form or no-cors fetch
    assert status == 403
    status, _, _ = served.call("/api/save", body, headers={REQUEST_HEADER: "1", "Host": "evil.example"})
    assert status == 400  # a DNS name rebound to 127.0.0.1
    assert tree(place) == before


def test_a_films_frames_are_numbered_as_the_video_command_counts(served, place):
    film = served.open("clip.mp4")
    assert (film["kind"], film["width"], film["height"], film["frames"]) == ("video", 96, 64, 12)
    times, frames_rgb, _ = decode_video(place / "clip.mp4")
    gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).astype(float) for f in frames_rgb]
    for index in (7, 2, 9):  # on, back (decoded again from the start), on
        rendered, headers = served.render(film["id"], [], frame=index)
        luma = cv2.cvtColor(rendered, cv2.COLOR_RGB2GRAY).astype(float)
        errors = [np.abs(luma - g).mean() for g in gray]
        assert int(np.argmin(errors)) == index and errors[index] < 3.0, errors
        assert float(headers["X-Frame-Time"]) == pytest.approx(times[index], abs=1e-6)
    for frame, message in [(12, "frame 12 is past the end (the film has 12 frames, 0 to 11)"),
                           (-1, "counted from 0"), ("3", "expected a whole number")]:
        status, body = served.json("/api/render", {"picture": film["id"], "frame": frame, "points": []})
        assert status == 400 and message in body["error"]
    rendered, _ = served.render(film["id"], [], frame=3)  # and the film still reads after the end
    assert rendered.shape == (64, 96, 3)


def test_a_back_seek_past_damage_just_after_a_mark_is_the_frame_asked_for(tmp_path):
    """A studio audit: two damaged frames just after a mark in a Matroska film (B-frames, a keyframe every
    24): reading back from that mark numbered the frames one off (a slice from it drops a stand-in a read from
    the start keeps), and a keyframe was saved for the wrong frame. A mark followed by a stand-in is not read
    from; an earlier clean one is."""
    from media import damaged_after_keyframe

    from filmcolor.studio.session import FilmFrames

    damaged = damaged_after_keyframe(tmp_path / "damaged.mkv")
    film = FilmFrames(damaged)
    try:
        ahead = [film.frame(i)[0] for i in range(150)]  # from the start: the numbering --keyframe counts
        for index in (149, 77, 55, 120, 60):
            assert np.array_equal(film.frame(index)[0], ahead[index]), index
    finally:
        film.close()


def test_a_film_copied_over_in_place_is_said_not_shown(tmp_path):
    """A studio audit: a film copied over its own file (the same inode) while open showed the new film's
    frames under the old one's numbering, and saved one as a keyframe."""
    from filmcolor.studio.session import FilmFrames

    path = make_clip(tmp_path / "film.mkv", width=64, height=48, frames=40, fps=10)
    other = make_clip(tmp_path / "other.mkv", width=64, height=48, frames=30, fps=10)
    film = FilmFrames(path)
    try:
        film.frame(10)
        time.sleep(0.01)
        path.write_bytes(other.read_bytes())  # in place: the same inode
        with pytest.raises(Exception, match="film.mkv: changed on disk since it was opened; open it again"):
            film.frame(5)
    finally:
        film.close()


def test_a_keyframe_name_saved_for_another_film_or_a_replaced_film_leaves_the_commands(served, place):
    """A studio audit: shared_key saved for film A's frame 5, then (overwrite) for film B's frame 7, stayed in
    A's command as 5=shared_key.png (B's picture); and a film replaced by another kept its old keyframes
    (frame 150 of a 200-frame film printed for an 80-frame one, a command that failed)."""
    make_clip(place / "filmA.mp4", width=96, height=64, frames=12, fps=10)
    make_clip(place / "filmB.mp4", width=96, height=64, frames=12, fps=10)
    a, b = served.open("filmA.mp4"), served.open("filmB.mp4")
    status, _ = served.json("/api/save", {"picture": a["id"], "frame": 5, "points": [], "name": "shared_key"})
    assert status == 200
    status, _ = served.json("/api/save", {"picture": b["id"], "frame": 7, "points": [], "name": "shared_key",
                                          "overwrite": True})
    assert status == 200
    status, body = served.json("/api/save", {"picture": a["id"], "frame": 2, "points": [], "name": "a_key2"})
    assert status == 200 and "shared_key" not in body["command"], body
    make_clip(place / "staging.mp4", width=96, height=64, frames=8, fps=10)
    os.replace(place / "staging.mp4", place / "filmA.mp4")  # another film under the name
    again = served.open("filmA.mp4")
    status, body = served.json("/api/save", {"picture": again["id"], "frame": 3, "points": [], "name": "a_key3"})
    assert status == 200 and "a_key2" not in body["command"] and "--keyframe 3=a_key3.png" in body["command"]


def test_a_scans_folder_of_frames_is_a_film(weights, tmp_path, monkeypatch):
    """A studio audit: a film scan (a folder of numbered DPX frames) could not be opened ("is a folder, not an
    image"), its frames were listed as photos, and a photo saved among them stopped `filmcolor video` reading
    the folder. It is listed and opened as one film, numbered as `filmcolor video FOLDER` counts its frames,
    and its keyframe is saved beside the folder, with the command that colours it."""
    from filmcolor.video.reader import VideoReader

    frames = tmp_path / "reel1"
    frames.mkdir()
    for n in range(6):
        ctx = av.CodecContext.create("dpx", "w")
        ctx.width, ctx.height, ctx.pix_fmt, ctx.time_base = 64, 48, "gray16be", Fraction(1, 24)
        picture = av.VideoFrame.from_ndarray((np.full((48, 64), 30 + 30 * n, np.uint16) * 257), format="gray16le")
        (frames / f"scan_{n:06d}.dpx").write_bytes(b"".join(bytes(p) for p in ctx.encode(
            picture.reformat(format="gray16be"))))
    studio = Studio(Colorizer.from_pretrained(weights, device="cpu", runtime="torch", render_size=RENDER),
                    tmp_path)
    try:
        listed, _ = studio.files()
        assert "reel1/" in listed and not [f for f in listed if f.endswith(".dpx")], listed
        film = studio.open("reel1/")
        assert (film.kind, film.frames) == ("video", 6)
        with VideoReader(frames) as reader:
            levels = [item.gray.mean() for item in reader if hasattr(item, "gray")]
        rendered = studio.render(film.id, 4, [])
        gray = cv2.cvtColor(rendered.rgb_hw3, cv2.COLOR_RGB2GRAY).astype(float).mean()
        assert abs(gray - levels[4]) < abs(gray - levels[3]) and abs(gray - levels[4]) < abs(gray - levels[5])
        saved = studio.save(film.id, 4, [], "reel1_key4")
        assert (tmp_path / "reel1_key4.png").is_file() and not (frames / "reel1_key4.png").exists()
        assert saved.command == "filmcolor video reel1 -o reel1_color.mkv --keyframe 4=reel1_key4.png"
    finally:
        studio.close()


def test_a_film_replaced_on_disk_is_said_not_mixed(served, place):
    """An audit: a film replaced while open gave the new film's frames under the old one's size and frame count,
    and a save of a hint placed in the old size failed with an IndexError (a 500)."""
    make_clip(place / "swap.mp4", width=96, height=64, frames=40, fps=10)
    film = served.open("swap.mp4")
    served.render(film["id"], [], frame=30)  # frame 2 is no longer kept: going back decodes again
    make_clip(place / "other.mp4", width=64, height=48, frames=20, fps=10)
    os.replace(place / "other.mp4", place / "swap.mp4")
    status, body = served.json("/api/render", {"picture": film["id"], "frame": 2, "points": []})  # decodes again
    assert status == 400 and body["error"] == "swap.mp4: changed on disk since it was opened; open it again", body
    again = served.open("swap.mp4")
    assert (again["width"], again["frames"]) == (64, 20)


def test_a_keyframe_save_gives_the_command_that_colours_the_film(served, place, weights, monkeypatch):
    film = served.open("clip.mp4")
    assert film["save_stem"] == "clip_key"
    for frame in (4, 9, 4):  # frame 4 saved twice: the command names its latest keyframe once
        overwrite = frame == 4 and (place / "clip_key4.png").exists()
        status, saved = served.json("/api/save", {"picture": film["id"], "frame": frame, "points": [hint(30, 30)],
                                                  "name": f"clip_key{frame}", "overwrite": overwrite})
        assert status == 200, saved
    assert saved["command"] == ("filmcolor video clip.mp4 -o clip_color.mp4 "
                                "--keyframe 4=clip_key4.png --keyframe 9=clip_key9.png")
    assert read_image(place / "clip_key9.png").shape == (64, 96, 3)  # the film's size, as --keyframe wants
    monkeypatch.chdir(place)  # the command is run in the studio's folder
    args = shlex.split(saved["command"])[1:] + ["--model", str(weights), "--device", "cpu", "--runtime", "torch",
                                                "--render-size", str(RENDER)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert len(decode_video(place / "clip_color.mp4")[1]) == 12


# ---- the command ----

@pytest.mark.slow
def test_the_command_serves_on_127_0_0_1_prints_the_address_and_stops_on_ctrl_c(place, weights):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "filmcolor", "studio", str(place / "scene.png"), "--dir",
                             str(place), "--no-browser", "--model", str(weights), "--device", "cpu", "--runtime",
                             "torch", "--render-size", str(RENDER)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/"), (url, proc.stderr.read())
        with urllib.request.urlopen(url + "api/state", timeout=60) as response:
            state = json.loads(response.read())
        assert state["opened"]["name"] == "scene.png" and state["folder"] == str(place.resolve())
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "studio stopped" in err


def test_an_unguided_model_is_refused_in_one_line(tmp_path):
    from conftest import make_test_weights

    plain = make_test_weights(tmp_path / "plain.safetensors")
    result = CliRunner().invoke(main, ["studio", "--dir", str(tmp_path), "--no-browser", "--model", str(plain),
                                       "--runtime", "torch"])
    assert result.exit_code == 1 and "takes no hints" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_without_the_studio_extra_the_command_names_it(monkeypatch, tmp_path):
    for name in [name for name in sys.modules if name.split(".")[0] == "starlette"] + ["starlette"]:
        monkeypatch.setitem(sys.modules, name, None)  # as if not installed
    monkeypatch.delitem(sys.modules, "filmcolor.studio.server")
    result = CliRunner().invoke(main, ["studio", "--dir", str(tmp_path), "--no-browser"])
    assert result.exit_code == 1
    assert "filmcolor studio needs the studio extra" in result.output and "pip install -e '.[studio]'" in result.output
    assert len(result.output.strip().splitlines()) == 1


# ---- the page, in a real browser ----

def _browser():
    if not CHROMIUM.exists():
        pytest.skip(f"end-to-end test needs Chromium at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="end-to-end test needs Playwright "
                                                                 "(pip install playwright)")
    return sync_api


PIXEL_JS = """([x, y]) => {
  const img = document.getElementById('picture');
  const canvas = document.createElement('canvas');
  canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
  const g = canvas.getContext('2d');
  g.drawImage(img, 0, 0);
  const d = g.getImageData(x - 2, y - 2, 5, 5).data;
  const mean = [0, 0, 0];
  for (let i = 0; i < d.length; i += 4) for (let c = 0; c < 3; c++) mean[c] += d[i + c] / 25;
  return mean;
}"""


def _a_of(rgb: list[float]) -> float:
    return float(rgb2lab(np.array([[rgb]], np.float64) / 255.0)[0, 0, 1])


def test_the_page_in_chromium_places_a_hint_with_a_click_and_deletes_it(served, place, tmp_path):
    sync_api = _browser()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 640})
            requests: list[str] = []
            page.on("request", lambda request: requests.append(request.url))
            page.goto(served.url + "/")

            def rendered(count: int) -> None:
                page.wait_for_function(f"Number(document.body.dataset.renders || 0) >= {count} "
                                       "&& !document.body.dataset.busy", timeout=60_000)

            page.select_option("#files", "scene.png")
            rendered(1)
            x, y = HINT
            before, far_before = page.evaluate(PIXEL_JS, [x, y]), page.evaluate(PIXEL_JS, [140, 48])
            page.fill("#color", RED)
            box = page.locator("#picture").bounding_box()
            page.mouse.click(box["x"] + (x + 0.5) * box["width"] / W, box["y"] + (y + 0.5) * box["height"] / H)
            rendered(2)
            assert page.locator(".mark").count() == 1
            after = page.evaluate(PIXEL_JS, [x, y])
            assert _a_of(after) > _a_of(before) + 10  # redder where clicked
            assert abs(_a_of(page.evaluate(PIXEL_JS, [140, 48])) - _a_of(far_before)) < 2  # the other object
            page.screenshot(path=str(tmp_path / "studio.png"))
            assert (tmp_path / "studio.png").stat().st_size > 5000
            page.keyboard.press("Delete")
            rendered(3)
            assert page.locator(".mark").count() == 0
            assert abs(_a_of(page.evaluate(PIXEL_JS, [x, y])) - _a_of(before)) < 2  # back to the automatic colour
            page.set_input_files("#upload", str(place / "broken.jpg"))
            message = page.locator("#message")
            message.wait_for(state="visible", timeout=30_000)
            assert "broken.jpg" in message.inner_text()
            assert all(url.startswith(served.url) or url.startswith("blob:") for url in requests), requests
        finally:
            browser.close()


# ---- a fifth audit ----

def test_a_keyframe_file_saved_again_for_another_frame_is_that_frames_alone(served, place):
    """An audit: saving film_key5 for frame 5, then again (overwrite) for frame 30, printed a command with
    '--keyframe 5=film_key5.png' beside '30=film_key5.png': frame 5 took frame 30's colours, 'ok'."""
    film = served.open("clip.mp4")
    for frame, overwrite in ((2, False), (9, True)):
        status, body = served.json("/api/save", {"picture": film["id"], "frame": frame, "points": [hint()],
                                                 "name": "again_key", "overwrite": overwrite})
        assert status == 200, body
    assert "--keyframe 9=again_key.png" in body["command"] and "2=again_key.png" not in body["command"]
    (place / "again_key.png").unlink()  # deleted on disk: gone from the next command too
    status, body = served.json("/api/save", {"picture": film["id"], "frame": 4, "points": [], "name": "other_key"})
    assert status == 200 and "again_key" not in body["command"], body


@pytest.mark.parametrize("rotation", [90, 180])
def test_a_turned_film_is_shown_upright_and_its_keyframe_saved_as_stored(served, place, rotation):
    """An audit: a phone's film (stored sideways, upright by its display rotation) was shown sideways. It is
    shown as players show it, hints go where the user sees them, and the keyframe is saved as the frames are
    stored, which `filmcolor video --keyframe` takes whatever the turn (a half turn keeps the size)."""
    name, quarters = f"turned{rotation}.mp4", rotation // 90
    make_clip(place / name, width=96, height=64, frames=6, fps=10, rotation=rotation)
    film = served.open(name)
    assert (film["width"], film["height"]) == ((64, 96) if quarters % 2 else (96, 64))
    stored = cv2.cvtColor(decode_video(place / name)[1][3], cv2.COLOR_RGB2GRAY).astype(float)
    rendered, _ = served.render(film["id"], [], frame=3)
    shown = np.rot90(stored, k=quarters)  # PyAV's rotation: counterclockwise degrees
    assert rendered.shape[:2] == shown.shape
    assert np.abs(cv2.cvtColor(rendered, cv2.COLOR_RGB2GRAY) - shown).mean() < 3.0
    status, body = served.json("/api/save", {"picture": film["id"], "frame": 3, "name": f"turned{rotation}_key",
                                             "points": [hint(x=4, y=4, radius=3)]})  # the shown top left
    assert status == 200, body
    key = read_image(place / f"turned{rotation}_key.png")
    assert key.shape == (64, 96, 3)
    stored_l = rgb2lab(np.repeat(stored[..., None], 3, axis=2).astype(np.uint8))[..., 0]
    assert np.abs(rgb2lab(key)[..., 0] - stored_l).mean() < 2.0  # the frame as stored, coloured
    a_shown = rgb2lab(np.rot90(key, k=quarters))[..., 1]
    assert a_shown[:10, :10].mean() > a_shown[-10:, -10:].mean() + 10  # red where it was placed
    # its hints file beside it is in the keyframe's own (stored) pixels, where the red is (an audit: it was in
    # the shown frame's, outside the keyframe or mirrored)
    (point,) = json.loads((place / f"turned{rotation}_key.json").read_text())["points"]
    a_stored = rgb2lab(key)[..., 1]
    x, y = int(point["x"]), int(point["y"])
    assert 0 <= x < 96 and 0 <= y < 64, point
    near = a_stored[max(0, y - 2):y + 3, max(0, x - 2):x + 3].mean()
    assert near > a_stored[2:7, 2:7].mean() + 10, (point, rotation)  # not where the shown frame's (4, 4) is


def test_a_mirrored_film_is_shown_as_stored_not_turned(served, place):
    """A mirrored film's display matrix reads as a half turn (its angle alone): it was shown upside down."""
    make_clip(place / "mirrored.mp4", width=96, height=64, frames=4, fps=10,
              display_matrix=(-65536, 0, 0, 0, 65536, 0, 0, 0, 1 << 30))
    film = served.open("mirrored.mp4")
    stored = cv2.cvtColor(decode_video(place / "mirrored.mp4")[1][2], cv2.COLOR_RGB2GRAY).astype(float)
    rendered, _ = served.render(film["id"], [], frame=2)
    assert np.abs(cv2.cvtColor(rendered, cv2.COLOR_RGB2GRAY) - stored).mean() < 3.0


def test_a_hint_at_the_pictures_edge_is_saved_inside_it_and_a_long_name_is_one_line(served, place):
    """An audit: x 159.999 in a 160-pixel picture was saved as 160.0, which `filmcolor image --hints` refuses;
    a name of 251-255 bytes was a 500 (File name too long, with .json after it)."""
    picture = served.open("scene.png")
    status, body = served.json("/api/save", {"picture": picture["id"], "name": "edge",
                                             "points": [hint(x=W - 0.001, y=H - 0.004)]})
    assert status == 200, body
    (point,) = json.loads((place / "edge.json").read_text())["points"]
    assert point["x"] < W and point["y"] < H, point
    status, body = served.json("/api/save", {"picture": picture["id"], "name": "c" * 252, "points": []})
    assert status == 400 and "a name longer than this disk takes with .json after it" in body["error"], body


def test_an_upload_saves_as_the_same_file_opened_from_the_folder_does(served, place):
    """An audit: an uploaded 16-bit photo saved at 8 bits, and its EXIF caption was lost (the folder's kept
    both)."""
    from PIL import Image

    deep = (scene().astype(np.uint16) * 257)
    buffer = cv2.imencode(".png", deep)[1].tobytes()
    status, info = served.json("/api/upload?name=deep16.png", raw=buffer)
    assert status == 200, info
    status, body = served.json("/api/save", {"picture": info["id"], "points": [], "name": "up_deep"})
    assert status == 200 and read_image(place / "up_deep.png", deep=True).dtype == np.uint16, body
    exif = Image.Exif()
    exif[0x010E] = "Grandma at the beach, 1952"
    with io.BytesIO() as jpeg:
        Image.fromarray(scene()).save(jpeg, "JPEG", exif=exif.tobytes())
        status, info = served.json("/api/upload?name=meta.jpg", raw=jpeg.getvalue())
    status, body = served.json("/api/save", {"picture": info["id"], "points": [], "name": "up_meta"})
    assert status == 200, body
    with Image.open(place / "up_meta.png") as saved:
        assert saved.getexif().get(0x010E) == "Grandma at the beach, 1952"


def test_a_films_frame_time_counts_from_its_first_frame(served, place):
    """An audit: a film whose first frame is at 5 s said 5.0 s for frame 0 (X-Frame-Time)."""
    src = make_clip(place / "late_src.mkv", width=96, height=64, frames=6, fps=10)
    with av.open(str(src)) as inp, av.open(str(place / "late.mkv"), "w") as out:
        stream = out.add_stream_from_template(inp.streams.video[0])
        for packet in inp.demux(video=0):
            if packet.size:
                shift = round(5 / packet.time_base)
                packet.pts += shift
                if packet.dts is not None:
                    packet.dts += shift
                packet.stream = stream
                out.mux(packet)
    film = served.open("late.mkv")
    _, headers = served.render(film["id"], [], frame=0)
    assert float(headers["X-Frame-Time"]) == 0.0
    _, headers = served.render(film["id"], [], frame=3)
    assert float(headers["X-Frame-Time"]) == pytest.approx(0.3, abs=1e-6)


def test_a_photo_renders_while_a_film_seeks(served, place, monkeypatch):
    """An audit: a frame far into a long film took 38 s to decode under the studio's one lock, and a render of
    a photo in another tab waited those 38 s. Each picture now has its own."""
    import threading

    from filmcolor.studio import session

    started, release = threading.Event(), threading.Event()
    real_frame = session.FilmFrames.frame

    def slow_frame(self, index):
        started.set()
        release.wait(30)
        return real_frame(self, index)

    monkeypatch.setattr(session.FilmFrames, "frame", slow_frame)
    film, photo = served.open("clip.mp4"), served.open("scene.png")
    seeking = threading.Thread(target=lambda: served.render(film["id"], [], frame=5))
    seeking.start()
    try:
        assert started.wait(30)
        assert renders_within(served, photo["id"], 10), "the photo's render waited for the film's frame"
    finally:
        release.set()
        seeking.join(60)


def test_a_film_dropped_while_a_request_holds_it_is_not_opened_again(weights, tmp_path):
    """A review: a request that took a film just before it was dropped read it again after it was closed, and
    left its reader open for good. It now says the picture is no longer open (the page opens it again)."""
    from filmcolor.errors import InputError as Refused
    from filmcolor.studio import session

    folder = make_place(tmp_path)
    studio = Studio(Colorizer.from_pretrained(weights, device="cpu", runtime="torch", render_size=RENDER), folder)
    try:
        film = studio.open("clip.mp4")
        picture = studio._pictures[film.id]
        session._close_film(picture)  # dropped (the list is past MAX_PICTURES) after the request took it
        with pytest.raises(Refused, match="no longer open"):
            picture.full(2)
        assert picture.film is not None and picture.film._reader is None  # not opened again
    finally:
        studio.close()


@pytest.mark.parametrize("bframes, vfr", [(True, False), (False, False), (True, True)])
def test_a_films_frames_read_again_from_marks_are_the_frames_read_in_order(tmp_path, monkeypatch, bframes, vfr):
    """A studio audit: going back in a long film decoded it from its start every time (38 s a step at 8
    minutes). Frames read again from a mark (a slice, as --start reads) are the same frames, numbered alike."""
    from filmcolor.studio import session
    from filmcolor.video.reader import LumaFrame, VideoReader

    clip = make_clip(tmp_path / "long.mkv", width=64, height=48, frames=300, fps=24, bframes=bframes, vfr=vfr)
    with VideoReader(clip, copy_streams=False) as reader:
        truth = [(item.gray, reader.input_seconds(item)) for item in reader if isinstance(item, LumaFrame)]
    starts: list[float] = []
    real_reader = session.VideoReader

    def counted(path, options=None, **kwargs):
        starts.append(options.start if options is not None else 0.0)
        return real_reader(path, options, **kwargs) if options is not None else real_reader(path, **kwargs)

    monkeypatch.setattr(session, "VideoReader", counted)
    film = session.FilmFrames(clip)
    try:
        for index in (250, 10, 200, 100, 260, 299, 49, 48):
            gray, seconds = film.frame(index)
            np.testing.assert_array_equal(gray, truth[index][0], err_msg=f"frame {index}")
            assert seconds == pytest.approx(truth[index][1] - truth[0][1], abs=1e-6), index
    finally:
        film.close()
    assert sum(start > 0 for start in starts) >= 3, starts  # 200, 100 and 49/48 read from marks, not the start


def test_a_film_whose_frames_are_counted_not_timed_is_read_from_its_start(tmp_path, monkeypatch):
    """Marks only where every frame carries its own time: an AVI's frames are counted, and a slice of it could
    number them otherwise than a read from the start."""
    from filmcolor.studio import session

    clip = make_clip(tmp_path / "long.avi", width=64, height=48, frames=150, fps=24, codec="mjpeg",
                     pix_fmt="yuvj420p")
    starts: list[float] = []
    real_reader = session.VideoReader
    monkeypatch.setattr(session, "VideoReader", lambda path, options=None, **kwargs: (
        starts.append(options.start if options is not None else 0.0),
        real_reader(path, options, **kwargs) if options is not None else real_reader(path, **kwargs))[1])
    film = session.FilmFrames(clip)
    try:
        for index in (140, 60, 100):
            film.frame(index)
    finally:
        film.close()
    assert starts and not any(starts), starts


def test_a_photo_saved_over_a_films_keyframe_leaves_its_command(served, place):
    """A studio audit: a photo saved (overwrite) as a film's keyframe name stayed in the film's command as
    --keyframe 10=k.png, now the photo: the command failed on its size, or coloured frame 10 from it."""
    film = served.open("clip.mp4")
    status, _ = served.json("/api/save", {"picture": film["id"], "frame": 4, "points": [], "name": "taken_key"})
    assert status == 200
    photo = served.open("scene.png")
    status, _ = served.json("/api/save", {"picture": photo["id"], "frame": 0, "points": [], "name": "taken_key",
                                          "overwrite": True})
    assert status == 200
    status, body = served.json("/api/save", {"picture": film["id"], "frame": 8, "points": [], "name": "taken_key8"})
    assert status == 200 and "taken_key.png" not in body["command"], body


@pytest.mark.parametrize("ext, other", [(".png", ".json"), (".json", ".png")])
def test_a_file_that_appears_while_a_save_colours_is_not_replaced(served, place, monkeypatch, ext, other):
    """A studio audit: the output was checked, the picture coloured (seconds for a big photo), then written
    over whatever another program had put at NAME.png meanwhile; and (a review) with NAME.json appeared, the
    save was refused but its picture left, so that saving again was refused too."""
    photo = served.open("scene.png")
    colorize = served.studio.colorizer.colorize_image
    name = f"appeared{ext.replace('.', '_')}"

    def meanwhile(*args, **kwargs):
        (place / (name + ext)).write_bytes(b"another program's")
        return colorize(*args, **kwargs)

    monkeypatch.setattr(served.studio.colorizer, "colorize_image", meanwhile)
    status, body = served.json("/api/save", {"picture": photo["id"], "frame": 0, "points": [], "name": name})
    assert status == 400 and "tick 'overwrite'" in body["error"], body
    assert (place / (name + ext)).read_bytes() == b"another program's"
    assert not (place / (name + other)).exists()  # neither file of the save


@pytest.mark.parametrize("request_path, body", [
    ("/api/open", {"path": "\ud800.png"}),
    ("/api/save", {"picture": "x", "frame": 0, "points": [], "name": "\ud800"}),
])
def test_a_name_no_file_can_have_is_a_bad_request(served, request_path, body):
    """A studio audit: a lone surrogate in a path or a name was a 500 (UnicodeEncodeError)."""
    if request_path == "/api/save":
        body = {**body, "picture": served.open("scene.png")["id"]}
    status, _, data = served.call(request_path, raw=json.dumps(body).encode(),
                                  headers={REQUEST_HEADER: "1", "Content-Type": "application/json"})
    assert status == 400 and b"not a file name" in data, data


def test_a_save_name_with_a_control_character_is_refused(served, place):
    photo = served.open("scene.png")
    status, body = served.json("/api/save", {"picture": photo["id"], "frame": 0, "points": [], "name": "x\ny"})
    assert status == 400 and "control characters" in body["error"], body
    assert not list(place.glob("x*y.png"))


def test_the_command_lines_picture_stays_open_however_many_others_are(weights, tmp_path):
    """A studio audit: FILE from the command line was closed once eight others had been opened, and the page
    could not open it again (it has no path under the folder): its hints could not be saved."""
    from filmcolor.studio import session

    folder = make_place(tmp_path)
    studio = Studio(Colorizer.from_pretrained(weights, device="cpu", runtime="torch", render_size=RENDER), folder)
    try:
        write_image(tmp_path / "outside" / "given.png", scene())
        given = studio.open_file(tmp_path / "outside" / "given.png", keep=True)
        for i in range(session.MAX_PICTURES + 2):
            write_image(folder / f"other{i}.png", scene())
            studio.open(f"other{i}.png")
        assert studio.render(given.id, 0, [hint()]).rgb_hw3.shape[:2] == (H, W)
        assert len(studio._pictures) == session.MAX_PICTURES + 1  # the others are still limited
    finally:
        studio.close()


def test_a_photo_is_read_outside_the_studios_lock(weights, tmp_path, monkeypatch):
    """A studio audit: opening a 48 MP scan (2 s) held the studio's lock, and every tab's renders waited."""
    from filmcolor.studio import session

    folder = make_place(tmp_path)
    studio = Studio(Colorizer.from_pretrained(weights, device="cpu", runtime="torch", render_size=RENDER), folder)
    held = []
    read = session.read_image
    monkeypatch.setattr(session, "read_image", lambda *a, **k: (held.append(studio._lock.locked()), read(*a, **k))[1])
    try:
        studio.open("scene.png")
        assert held == [False]
    finally:
        studio.close()


def test_stopping_ends_a_far_seek_under_way(weights, tmp_path):
    """A studio audit: Ctrl-C during a far seek waited (12 s) for the decode to reach its frame, and printed
    uvicorn's traceback of the cancelled request. A stop ends the decode at its next frame; the cancelled
    request is not logged."""
    import asyncio
    import logging

    from filmcolor.errors import InputError as Refused
    from filmcolor.studio import server, session

    make_clip(tmp_path / "film.mp4", width=96, height=64, frames=40, fps=10)
    film = session.FilmFrames(tmp_path / "film.mp4")
    try:
        film.stop()
        with pytest.raises(Refused, match="stopping"):
            film.frame(30)
    finally:
        film.close()
    cancelled = logging.LogRecord("uvicorn.error", logging.ERROR, __file__, 1, "Exception in ASGI application",
                                  None, (asyncio.CancelledError, asyncio.CancelledError(), None))
    other = logging.LogRecord("uvicorn.error", logging.WARNING, __file__, 1, "Invalid HTTP request received.",
                              None, None)
    assert not server._not_cancelled(cancelled) and server._not_cancelled(other)


def test_log_lines_show_control_characters_as_escapes() -> None:
    from filmcolor.cli import plain as printable  # what the studio's log prints its lines with

    assert printable("opened \x1b[31mred\x1b]0;title\x07.png\n") == "opened \\x1b[31mred\\x1b]0;title\\x07.png\\n"
    assert printable("café ½.jpg") == "café ½.jpg"


def test_a_film_closed_for_others_stops_its_seek(weights, tmp_path):
    """A review: a film dropped from the list (eight others opened) went on decoding to a far frame, and the
    process waited for it at exit (14 s)."""
    from filmcolor.studio import session

    folder = make_place(tmp_path)
    studio = Studio(Colorizer.from_pretrained(weights, device="cpu", runtime="torch", render_size=RENDER), folder)
    try:
        film = studio._pictures[studio.open("clip.mp4").id].film
        for i in range(session.MAX_PICTURES):
            write_image(folder / f"other{i}.png", scene())
            studio.open(f"other{i}.png")
        assert film is not None and film._stop.is_set()
        with pytest.raises(session.InputError, match="no longer open"):
            film.frame(11)
    finally:
        studio.close()


def test_a_film_replaced_while_it_is_opened_is_said(weights, tmp_path, monkeypatch):
    """A review: the film is read outside the lock; replaced meanwhile, an older open could drop the newer
    one's keyframes. It is checked again under the lock."""
    from filmcolor.studio import session

    folder = make_place(tmp_path)
    studio = Studio(Colorizer.from_pretrained(weights, device="cpu", runtime="torch", render_size=RENDER), folder)
    frames = session.FilmFrames

    class Replaced(frames):
        def __init__(self, path):
            super().__init__(path)
            make_clip(tmp_path / "staging.mp4", width=96, height=64, frames=7, fps=10)
            os.replace(tmp_path / "staging.mp4", path)

    monkeypatch.setattr(session, "FilmFrames", Replaced)
    try:
        with pytest.raises(session.InputError, match="changed on disk"):
            studio.open("clip.mp4")
    finally:
        studio.close()


def test_a_hints_file_that_cannot_be_written_is_named_and_nothing_is_left(served, place, monkeypatch):
    """A review: the hints file's write error was said of the picture (atomic_outputs names the first file)."""
    import errno

    real = Path.write_bytes

    def full_disk(self, data):
        if ".json" in self.name:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, data)

    photo = served.open("scene.png")
    monkeypatch.setattr(Path, "write_bytes", full_disk)
    status, body = served.json("/api/save", {"picture": photo["id"], "frame": 0, "points": [], "name": "nospace"})
    monkeypatch.undo()
    assert status == 400 and body["error"].startswith("nospace.json: cannot write output"), body
    assert not list(place.glob("nospace*")) and not list(place.glob(".nospace*"))
