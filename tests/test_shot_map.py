"""The shots' map that the scan fills on its own thread while the colouring reads it (video/keyframes.py)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from filmcolor.errors import InputError
from filmcolor.video.keyframes import Keyframe, ScanStopped, ShotMap
from filmcolor.video.temporal import MAX_INSERT

WAIT = 5.0  # seconds a test waits for an answer that should come at once


class Scan:
    """Feeds a ShotMap frame by frame on a thread, up to a frame the test moves on (``release``)."""

    def __init__(self, cuts: dict[int, int | None], frames: int):
        self.shots = ShotMap()
        self.cuts, self.frames = cuts, frames  # cut frame -> the frame it resumes, or None
        self._upto, self._moved = 0, threading.Condition()
        self.thread = threading.Thread(target=self._feed, daemon=True)
        self.thread.start()

    def _feed(self) -> None:
        for index in range(self.frames):
            with self._moved:
                while index >= self._upto:
                    self._moved.wait()
            self.shots.add(index, index in self.cuts, self.cuts.get(index))
        self.shots.finish()

    def release(self, upto: int) -> None:
        """Let the scan go on to frame ``upto`` (exclusive), and wait until it has."""
        with self._moved:
            self._upto = upto
            self._moved.notify_all()
        while self.shots.frames < min(upto, self.frames) and self.thread.is_alive():
            threading.Event().wait(0.001)


def ask(function, *args):
    """``function(*args)`` on a thread of its own: (the thread, a box the answer or error goes into)."""
    box: dict = {}

    def call() -> None:
        try:
            box["answer"] = function(*args)
        except BaseException as err:  # noqa: BLE001
            box["error"] = err
    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    return thread, box


def keys(*indices: int) -> list[Keyframe]:
    return [Keyframe(i, Path(f"k{i}.png")) for i in indices]


def test_a_shots_keyframes_are_known_once_the_scan_has_left_the_shot_not_when_it_ends():
    """The whole film was decoded before its first frame was coloured; a shot now waits only for its own."""
    scan = Scan({10: None, 40: None}, frames=1000)
    scan.release(10 + MAX_INSERT)  # past the cut, but near enough for an insert to come back
    thread, box = ask(scan.shots.keyframes_of, 0, keys(3, 50))
    thread.join(0.2)
    assert thread.is_alive(), box  # frame 12 may still be shot 0 again, after an insert of MAX_INSERT frames
    scan.release(10 + MAX_INSERT + 1)
    thread.join(WAIT)
    assert box == {"answer": keys(3)} and not scan.shots.done  # frame 50 is not of it, known long before
    thread, box = ask(scan.shots.keyframes_of, 1, keys(3, 12, 50))
    thread.join(0.2)
    scan.release(40 + MAX_INSERT)
    thread.join(0.2)
    assert thread.is_alive()
    scan.release(40 + MAX_INSERT + 1)
    thread.join(WAIT)
    assert box == {"answer": keys(12)}
    scan.release(1000)


def test_a_keyframe_far_into_its_shot_is_waited_for():
    scan = Scan({}, frames=100)
    scan.release(40)
    thread, box = ask(scan.shots.keyframes_of, 0, keys(3, 60))
    thread.join(0.2)
    assert thread.is_alive()  # frame 60 may be of the shot: its colour reaches back to the first frame
    scan.release(61)
    thread.join(WAIT)
    assert box == {"answer": keys(3, 60)}
    scan.release(100)


def test_a_shot_resumed_after_an_insert_keeps_its_keyframes_from_after_it():
    scan = Scan({10: None, 12: 9, 30: None}, frames=100)  # frames 10-11 an insert, frame 12 back in shot 0
    scan.release(11 + MAX_INSERT + 2)
    thread, box = ask(scan.shots.keyframes_of, 0, keys(3, 20))
    thread.join(0.2)
    assert thread.is_alive()
    scan.release(100)
    thread.join(WAIT)
    assert box == {"answer": keys(3, 20)}
    assert [scan.shots.shot_of(i) for i in (0, 9, 10, 11, 12, 29, 30)] == [0, 0, 1, 1, 0, 0, 2]


def test_the_scans_error_reaches_whoever_waits_and_a_stop_frees_them():
    scan = Scan({}, frames=100)
    scan.release(5)
    thread, box = ask(scan.shots.shot_of, 50)
    thread.join(0.2)
    assert thread.is_alive()
    scan.shots.finish(InputError("k.png: keyframe 200 is past the end"))
    thread.join(WAIT)
    assert isinstance(box.get("error"), InputError)
    with pytest.raises(InputError, match="past the end"):
        scan.shots.shot_of(2)  # said to every later question too

    stopped = ShotMap()
    thread, box = ask(stopped.shot_of, 0)
    stopped.stop()  # the colouring stopped (Ctrl-C, a full disk): a thread waiting on the scan must end
    thread.join(WAIT)
    assert isinstance(box.get("error"), ScanStopped)


def test_a_whole_films_map_from_its_cuts():
    shots = ShotMap.of([10, 11, 30, 32], {11: 9})
    assert shots.done and shots.shots == 4
    assert [shots.shot_of(i) for i in (0, 9, 10, 11, 29, 30, 31, 32)] == [0, 0, 1, 0, 0, 2, 2, 3]


def test_a_map_made_from_cuts_alone_keeps_keyframes_after_the_last_cut():
    """A review: the map made from a cut list guessed the film ended two frames after its last cut, and a
    keyframe past that (every keyframe but frame 0's, in a film without cuts) was of no shot."""
    assert ShotMap.of([]).keyframes_of(0, keys(3, 50)) == keys(3, 50)
    assert ShotMap.of([10]).keyframes_of(0, keys(3, 50)) == keys(3)
    assert ShotMap.of([10]).keyframes_of(1, keys(3, 50)) == keys(50)
    assert ShotMap.of([10], frames=20).keyframes_of(1, keys(3, 50)) == []  # a film of 20 frames
