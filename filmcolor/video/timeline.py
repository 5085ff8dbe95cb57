"""Timestamps as a film's frames and packets arrive: where each decoded frame goes on the output timeline
(FrameTimeline), and which copied packets keep their place (PacketTimes). Damaged, missing and late
timestamps are mended or dropped here, and said."""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import av

from filmcolor.errors import InputError
from filmcolor.video.sequence import DEFAULT_FRAME_RATE


class FrameTimeline:
    """Where each decoded frame goes on the output timeline (input pts units), so that pts strictly increase.

    Every video packet sent to the decoder is expected back as a frame at its own pts. When the decoder
    rejects a packet, the frame it would have made shows as a gap in the expected pts that the next frames
    leave, and a repeat of the last good frame takes that pts: with frame threads the error surfaces a few
    packets after the packet that caused it (measured on a damaged H.264 clip: two packets later), so the
    error itself does not say which frame was lost. A gap is filled only when a decode error explains it,
    since packets that make no frame of their own (the first field of a field-coded frame) leave gaps too.

    Each frame is placed once the next one is known: a frame whose pts is out of place between its
    neighbours (a damaged timestamp: measured +0.19 s on one Matroska block), or that has none, takes the
    slot one frame step after the frame before it, unless it is a frame the decoder returned late (see
    ``settle``): that one is dropped. A repeat keeps at least half a frame step from its neighbours.
    """

    MAX_DROPPED = 10  # late frames in a row: more say that the frames before them jumped ahead
    # A jump between frames in order this long (and this many steps) is named: frames the demuxer skipped with
    # damaged data (Matroska resyncs past it, no error), or a pause in a recording (motion-triggered CCTV)
    GAP_S, GAP_STEPS = 1.0, 8

    def __init__(self, step: int, start_pts: int | None, end_s: float | None, time_base: Fraction,
                 rate_known: bool = True, exact_step: Fraction | None = None, decode_order: bool = False):
        """``decode_order``: the packets' pts count them in decode order (``in_display_order``)."""
        self.decode_order = decode_order
        self._rate_step = step  # from the stream's frame rate, until the frames themselves say
        self._rate_known = rate_known  # False: the stream says no rate; ``step`` assumes DEFAULT_FRAME_RATE
        self._exact_step = exact_step if exact_step is not None else Fraction(step)  # the rate's, unrounded
        self._run: tuple[int, int, int] | None = None  # frames placed one step apart: (anchor, count, last pts)
        self._steps: deque[int] = deque(maxlen=15)  # the last gaps between frames in order
        self.start_pts = start_pts
        self.end_s = end_s
        self.time_base = time_base
        self.last: int | None = None  # pts of the last frame placed
        self.last_sent: tuple[int, int] | None = None  # (pts, end by its own duration) of the latest packet sent
        self.first: int | None = None  # pts of the first frame placed
        self._placed: deque[int] = deque(maxlen=64)  # pts of the last frames placed, repeats included
        self._moved: set[int] = set()  # pts given to frames that were not their own (retimed or guessed)
        self._expected: list[int] = []  # heap: pts of packets sent whose frames have not come back yet
        self._sent_max: int | None = None
        self._errors: deque[int] = deque()  # per unexplained decode error: the highest pts sent by then
        self.repaired: list[int] = []  # pts given to a repeat of the last good frame
        self.retimed: list[int] = []  # pts given to frames whose own pts was out of place
        self.guessed: list[int] = []  # pts given to frames that had none
        self.skipped: list[int] = []  # corrupt frames before the first good one: nothing to repeat yet
        self.dropped: list[int] = []  # own pts of frames returned after their time had passed
        self.dropped_in_a_row = 0  # since the last frame placed
        self.gaps: list[int] = []  # pts of the frames after which the input has no frames for a while
        self.unordered: list[int] = []  # decode_order: where a damaged packet left a frame's place unknown

    @property
    def step(self) -> int:
        """One frame, in pts units: the median gap between recent frames in order, else the stream's rate.

        The rate FFmpeg guesses is not enough: one damaged timestamp among a Matroska file's first frames
        made it guess 100 fps for a 25 fps film.
        """
        if len(self._steps) < 3:
            return self._rate_step
        return sorted(self._steps)[len(self._steps) // 2]

    def past_end(self, pts: int | None) -> bool:
        return self.end_s is not None and pts is not None and float(pts * self.time_base) >= self.end_s - 1e-9

    def sent(self, packet: av.Packet) -> None:
        """A video packet goes to the decoder: a frame at its pts is expected back."""
        pts = packet.pts
        if pts is None or not packet.size or packet.is_discard:
            return
        # (counted in decode order, a packet before --start's first frame, or after --duration's end, can hold a
        # frame within them: all count)
        if not self.decode_order and ((self.start_pts is not None and pts < self.start_pts) or self.past_end(pts)):
            return
        heapq.heappush(self._expected, pts)
        self._sent_max = pts if self._sent_max is None else max(self._sent_max, pts)
        if self.last_sent is None or pts >= self.last_sent[0]:  # the latest frame's own packet
            self.last_sent = (pts, pts + max(0, packet.duration or 0))

    def outstanding(self, held: int | None) -> set[int]:
        """The pts of the frames sent to the decoder that have not come back, after ``held`` (the last one that
        has, not yet placed: frames come back in order, so one before it is lost for good, and repaired)."""
        return {pts for pts in self._expected if held is None or pts > held}

    def decode_error(self) -> None:
        """The decoder rejected a packet: one of the frames sent so far will not come back."""
        if self._sent_max is not None:
            self._errors.append(self._sent_max)
            if self.decode_order:  # which slot it leaves empty cannot be told: said (``warnings``)
                self.unordered.append(self._sent_max)

    def in_display_order(self, pts: int | None) -> int | None:
        """A decoded frame's pts: with ``decode_order`` (H.264 in AVI: a B-frame's pts names its packet's place
        in the file, not on screen), the earliest slot sent and not come back, which the decoder, returning
        frames in display order, fills next (it is no longer outstanding); else, or when none is, its own."""
        if not self.decode_order or pts is None or not self._expected:
            return pts
        return heapq.heappop(self._expected)

    def pts_of(self, pts: int | None, after: int | None) -> int:
        """The frame's own pts, or one frame step after ``after`` (the frame before it) when it has none."""
        if pts is not None:
            return pts
        guess = self._place_after(after) if after is not None else 0
        self.guessed.append(guess)
        self._moved.add(guess)
        return guess

    def settle(self, pts: int, next_pts: int | None) -> int | None:
        """The pts a frame gets, knowing the next frame's pts (None at the end); None: the frame is dropped.

        Decoders return frames in presentation order, so a frame whose pts is out of order between its
        neighbours has a damaged pts, not a wrong place: it takes the grid slot one frame step after the
        frame before it (measured on an MP4 whose composition offsets were damaged: all 48 decodable frames
        kept, evenly timed, where dropping the out-of-order ones kept 40 and moving them half-way between
        their neighbours broke the even timing). There, the slot a frame's own pts names holds a frame that
        was itself moved there, so each frame moved makes room for the next.

        A damaged decoder can also return a frame late, at its own, intact pts (measured on a damaged H.264
        Matroska clip: the frame at 0.52 s came back after the one at 1.00 s). Its slot already passed,
        empty; moving it to the slot after the last frame took the next frame's own slot, that frame took
        the one after, and so on: every later frame one frame late, the picture behind its sound. So when
        the slot after the last frame is the next frame's own, a late frame is dropped instead, unless the
        slot its pts names holds a frame moved there (the chain above, which the next frames end) or is
        before the first frame.
        """
        last = self.last
        if last is None:
            if next_pts is None or next_pts > pts or next_pts - self.step < (self.start_pts or 0):
                return pts
            new = next_pts - self.step  # the first frame is the one out of place
        elif pts > last and (next_pts is None or next_pts > pts or next_pts <= last):
            if pts - last > max(self.GAP_STEPS * self.step, self.GAP_S / self.time_base):
                self.gaps.append(last)
            if not any(last < q < pts for q in self._expected):  # not across a frame lost to damage: two such
                self._steps.append(pts - last)  # steps among a slice's first three made a frame step two, and
                # the second lost frame found no room for its stand-in (one frame fewer than a read from the start)
            return pts  # in order (a variable frame rate may space frames closer than half a step)
        else:
            new = self._slot_after(last)[0]
            # (a late frame: the next frame moves on from it; frames that all share one pts, as a muxer given no
            # timestamps writes them, are retimed one frame apart instead)
            if pts <= last and next_pts is not None and pts < next_pts and next_pts - new < self.step / 2 \
                    and self._passed(pts):
                self._forget(pts)
                self.dropped.append(pts)
                self.dropped_in_a_row += 1
                return None
        self._forget(pts)
        if last is not None:
            new = self._place_after(last)
        self.retimed.append(new)
        self._moved.add(new)
        return new

    def _slot_after(self, last: int) -> tuple[int, tuple[int, int, int]]:
        """(the pts one frame after ``last``, the run it makes). Frames placed so in a row (a stream whose frames
        all carry one timestamp) count their steps from the run's start, unrounded: 1/24 s in Matroska's
        milliseconds is 41.67 ticks, and adding a rounded 42 each time ran the picture 29 s behind its sound
        in an hour."""
        step = self._exact_step if abs(self._exact_step - self.step) <= 1 else Fraction(self.step)  # the rate's,
        # unless the frames say it is wrong
        anchor, count = (self._run[0], self._run[1] + 1) if self._run and self._run[2] == last else (last, 1)
        slot = anchor + round(count * step)
        return slot, (anchor, count, slot)

    def _place_after(self, last: int) -> int:
        slot, self._run = self._slot_after(last)
        return slot

    def _passed(self, pts: int) -> bool:
        """Whether the slot ``pts`` names, behind the last frame placed, passed empty or with a frame at its
        own pts; not when it holds a frame moved there, or is before the first frame."""
        near = [q for q in self._placed if abs(q - pts) < self.step / 2]
        if not near:
            return self.first is not None and pts > self.first
        return min(near, key=lambda q: abs(q - pts)) not in self._moved

    def place(self, pts: int | None, can_repeat: bool, can_show: bool) -> tuple[list[int], bool]:
        """(pts of the repeats owed before a frame at ``pts``, whether that frame is shown).

        ``pts`` None: the stream ended; every frame still expected is owed. ``can_repeat``: a good frame
        exists to repeat; ``can_show``: the frame can be shown (a corrupt one needs a good one before it).
        """
        missing: list[int] = []
        half = self.step / 2
        while self._expected and (pts is None or self._expected[0] < pts):
            lost = heapq.heappop(self._expected)
            while self._errors and self._errors[0] < lost:
                self._errors.popleft()  # errors surface after their packet was sent, never before
            fits = (self.last is not None and lost - self.last >= half) and (pts is None or pts - lost >= half)
            if self._errors and can_repeat and fits:
                self._errors.popleft()
                missing.append(lost)
                self._placed_at(lost)
            elif self._errors and self.last is None:  # lost before the first good frame: nothing to repeat
                self._errors.popleft()
                self.skipped.append(lost)
        self.repaired += missing
        if pts is None:
            return missing, False
        self._forget(pts)
        if can_show:
            self._placed_at(pts)
        else:
            self.skipped.append(pts)
        return missing, can_show

    def unplace(self, pts: int) -> None:
        """A frame placed at ``pts`` is not shown after all (past the end): no repair is said of it."""
        for placed in (self.retimed, self.guessed):
            if placed and placed[-1] == pts:
                placed.pop()

    def _placed_at(self, pts: int) -> None:
        self.last = pts
        self.dropped_in_a_row = 0
        self.first = pts if self.first is None else self.first
        self._placed.append(pts)

    def _forget(self, pts: int) -> None:
        if pts in self._expected:
            self._expected.remove(pts)
            heapq.heapify(self._expected)

    def warnings(self, stream_start_s: float) -> list[str]:
        """One line per kind of repair, naming the seconds of the input where it happened."""
        kinds = ((self.repaired, "corrupt video repaired at {} s (input time): those frames repeat the last "
                  "good one at their own timestamps"),
                 (self.retimed, "{n} frame(s) with a damaged timestamp placed one frame after the one before "
                  "at {} s"),
                 (self.guessed, "{n} frame(s) without a timestamp placed one frame apart at {} s"),
                 (self.skipped, "{n} corrupt frame(s) before the first good one skipped at {} s"),
                 (self.dropped, "{n} frame(s) the decoder returned after later ones dropped at {} s (input time): "
                  "their time had passed"),
                 (self.gaps, "the input has no frames for a while after {} s (input time): damaged data skipped "
                  "by the demuxer, or a pause in the recording; the gap is kept"),
                 (self.unordered, "damaged video at about {} s (input time) of an AVI with B-frames: AVI keeps no "
                  "display times, so the frames after may show a frame early; an MKV or MP4 of it keeps them"))
        out = []
        for pts_list, what in kinds:
            if pts_list:
                seconds = [float(p * self.time_base) - stream_start_s for p in pts_list]
                out.append(what.format(_spans(seconds, 1.5 * float(self.step * self.time_base)), n=len(pts_list)))
        if (self.retimed or self.guessed) and not self._rate_known and len(self._steps) < 3:
            out.append(f"the file gives no frame rate: those frames were placed {DEFAULT_FRAME_RATE} fps apart")
        return out


class PacketTimes:
    """Checks the timestamps of the copied (audio, subtitle) streams' packets; a damaged one is dropped.

    The muxer refuses a packet whose dts goes back (audio: or repeats), and one refused packet failed the
    whole run with an error about the output: a damaged Matroska block time (1.131 s read as 8.555 s) was
    copied, and the next packet, at 1.152 s, was refused. Each packet is released once the next one of its
    stream is known: a packet whose dts goes back, or whose pts is before its dts, is dropped, and so is one
    ahead of the packet after it (the one further from where the stream had got to is the damaged one).
    ``strict``: raise InputError instead. Packets kept are untouched. A packet is released without waiting
    for the next one once the demuxer is ``WAIT_S`` past it (a sparse subtitle stream, a sound track that
    ends before the film), so that the muxer still gets every stream in time order.

    A run of packets ahead and then back (a damaged cluster time) cannot be undone once the run is copied:
    more than ``MAX_DROPPED`` packets in a row dropped raise InputError.
    """

    MAX_DROPPED = 10
    WAIT_S = 1.0

    def __init__(self, path: Path, strict: bool, shift_s: Callable[[], float]):
        self.path = path
        self.strict = strict
        self.shift_s = shift_s  # input seconds - packet seconds: --start moves the packets kept
        self._held: dict[int, av.Packet] = {}  # per stream: the packet waiting for its successor
        self._kept: dict[int, tuple[int, int]] = {}  # per stream: (dts, dts + duration) of the last packet kept
        self._in_a_row: dict[int, int] = {}  # per stream: packets dropped since the last one kept
        self._dropped: dict[int, tuple[str, list[float]]] = {}  # per stream: (type, seconds where dropped)

    def arrive(self, packet: av.Packet | None) -> Iterator[av.Packet]:
        """Packets released by ``packet``'s arrival: its stream's one before it, unless damaged. None: the end."""
        if packet is None:
            held, self._held = list(self._held.values()), {}
            for h in held:
                yield from self._settle(h, None)
            return
        held = self._held.get(packet.stream.index)
        self._held[packet.stream.index] = packet
        if held is not None:
            yield from self._settle(held, packet)

    def passed(self, packet: av.Packet) -> Iterator[av.Packet]:
        """The held packets the demuxer, now at ``packet`` (any stream, not shifted), is ``WAIT_S`` past."""
        t = _dts(packet)
        if t is None or not self._held:
            return
        now = float(t * packet.time_base) - self.shift_s()
        for index, held in list(self._held.items()):
            t_held = _dts(held)
            if t_held is not None and float(t_held * held.time_base) < now - self.WAIT_S:
                del self._held[index]
                yield from self._settle(held, None)

    def input_seconds(self, seconds: float) -> float:
        return seconds + self.shift_s()

    def _settle(self, packet: av.Packet, after: av.Packet | None) -> Iterator[av.Packet]:
        index, t = packet.stream.index, _dts(packet)
        if t is None or not self._damaged(packet, t, after):
            self._in_a_row[index] = 0
            if t is not None:
                self._kept[index] = (t, t + max(0, packet.duration or 0))
            yield packet
            return
        kind, seconds = packet.stream.type, float(t * packet.time_base)
        kept = self._kept.get(index)
        at = kept[1] if kept else _dts(after) if after is not None else None  # where the stream had got to
        where = self.input_seconds(float(at * packet.time_base) if at is not None else seconds)
        if self.strict:
            raise InputError(f"{self.path}: {kind} stream #{index}: damaged timestamp at {where:.3f} s "
                             f"(reads {self.input_seconds(seconds):.3f} s)")
        self._in_a_row[index] = self._in_a_row.get(index, 0) + 1
        if self._in_a_row[index] > self.MAX_DROPPED and kept is not None:
            last = self.input_seconds(float(kept[0] * packet.time_base))
            raise InputError(f"{self.path}: {kind} stream #{index}: timestamps go back from {last:.2f} s to "
                             f"{self.input_seconds(seconds):.2f} s (damaged; --no-audio colours the video "
                             "without the other streams)")
        self._dropped.setdefault(index, (kind, []))[1].append(where)

    def _damaged(self, packet: av.Packet, t: int, after: av.Packet | None) -> bool:
        if packet.pts is not None and packet.dts is not None and packet.pts < packet.dts:
            return True
        t_next = _dts(after) if after is not None else None
        kept = self._kept.get(packet.stream.index)
        if kept is None:  # the first packet: ahead of the next one, keeping it would drop every one before it
            return t_next is not None and t_next < t
        last, end = kept
        if t < last or (t == last and packet.stream.type != "subtitle"):
            return True  # what the muxer refuses (equal subtitle times are allowed)
        if t_next is not None and last < t_next < t:  # one of the two is out of place
            return abs(t - end) > abs(t_next - (end + max(0, packet.duration or 0)))
        return False

    def warnings(self) -> list[str]:
        return [f"{kind} stream #{index}: {len(seconds)} packet(s) with a damaged timestamp dropped at "
                f"{_spans(seconds, 0.5)} s (input time)" for index, (kind, seconds) in sorted(self._dropped.items())]


def _dts(packet: av.Packet) -> int | None:
    """The packet's dts, else its pts: the time the muxer checks."""
    return packet.dts if packet.dts is not None else packet.pts


def _spans(seconds: list[float], gap: float, shown: int = 5) -> str:
    """'1.12-1.20, 7.00' for times in seconds; times up to ``gap`` apart (consecutive frames) join a span."""
    spans: list[list[float]] = []
    for t in sorted(seconds):
        if spans and t - spans[-1][1] <= gap:
            spans[-1][1] = t
        else:
            spans.append([t, t])
    text = [f"{a:.2f}" if a == b else f"{a:.2f}-{b:.2f}" for a, b in spans[:shown]]
    if len(spans) > shown:
        text.append(f"and {len(spans) - shown} more")
    return ", ".join(text)
