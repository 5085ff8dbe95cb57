"""TemporalSmoother: no colour leaks across a hard cut; a moving object keeps its colour without a trail.
NetworkSchedule: the network runs on each shot's first frame and whenever much has moved; carried colour
follows the motion."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from filmcolor.errors import ConfigError
from filmcolor.video.temporal import MotionAnalyzer, NetworkSchedule, TemporalOptions, TemporalSmoother

H, W = 64, 112  # the ab resolution of a 480p film


def texture(seed: int, shape: tuple[int, int], mean: float, sigma: float = 2.0) -> np.ndarray:
    """A smooth random L texture (L units) that optical flow can lock on to."""
    noise = np.random.default_rng(seed).normal(0, 1, shape).astype(np.float32)
    field = cv2.GaussianBlur(noise, (0, 0), sigma)
    return np.clip(mean + 18.0 * field / field.std(), 2, 98).astype(np.float32)


def jitter(rng: np.random.Generator, std: float = 4.0) -> np.ndarray:
    return rng.normal(0, std, 2).astype(np.float32)


@pytest.mark.parametrize("mode", ["ema", "flow"])
def test_hard_cut_leaks_no_colour_from_the_first_shot(mode: str) -> None:
    rng = np.random.default_rng(0)
    big_a, big_b = texture(1, (H, W + 60), 40.0), texture(2, (H, W + 60), 65.0)
    red, blue = np.array([45.0, 35.0], np.float32), np.array([-15.0, -45.0], np.float32)
    smoother = TemporalSmoother(TemporalOptions(mode=mode, strength=0.9))
    cut = 12
    for t in range(24):
        l_hw = big_a[:, t:t + W] if t < cut else big_b[:, 2 * t:2 * t + W]  # both shots pan
        colour = red if t < cut else blue
        ab_pred = np.broadcast_to(colour + jitter(rng, 1.0), (H, W, 2)).copy()
        out = smoother(np.ascontiguousarray(l_hw), ab_pred)
        if t >= cut:
            # Every pixel of every frame after the cut is as far from red as the prediction itself is.
            assert np.abs(out - ab_pred).max() < 4.0, f"frame {t}: colour of the first shot leaked"
    assert smoother.cuts == [cut]


def moving_square_clip(frames: int, speed: int):
    """A textured bright square moving right over a textured background, each with its own ab."""
    background = texture(3, (H, W), 35.0)
    patch = texture(4, (16, 16), 75.0, sigma=1.5)
    obj_ab, bg_ab = np.array([50.0, 40.0], np.float32), np.array([-20.0, 10.0], np.float32)
    for t in range(frames):
        x0 = 10 + speed * t
        l_hw = background.copy()
        l_hw[24:40, x0:x0 + 16] = patch
        ab_true = np.broadcast_to(bg_ab, (H, W, 2)).copy()
        ab_true[24:40, x0:x0 + 16] = obj_ab
        yield t, x0, l_hw, ab_true


def run_moving_square(mode: str, speed: int = 2, frames: int = 20) -> tuple[float, float]:
    """Max ab error inside the square (1 px in from its edges) and in the strip it just left, last frame."""
    rng = np.random.default_rng(5)
    smoother = TemporalSmoother(TemporalOptions(mode=mode, strength=0.6))
    for t, x0, l_hw, ab_true in moving_square_clip(frames, speed):
        out = smoother(l_hw, ab_true + jitter(rng, 0.5))
        if t == frames - 1:
            inside = np.linalg.norm(out - ab_true, axis=-1)[25:39, x0 + 1:x0 + 15].max()
            behind = np.linalg.norm(out - ab_true, axis=-1)[24:40, x0 - 3 * speed:x0].max()
            return float(inside), float(behind)
    raise AssertionError("unreachable")


def test_moving_object_keeps_its_colour_without_a_trail() -> None:
    inside, behind = run_moving_square("flow")
    # The square's colour is 72 Lab units from the background's: a smear or trail would show as tens of units.
    assert inside < 10.0, f"the square's colour was smeared (max error {inside:.1f} Lab units)"
    assert behind < 10.0, f"a trail of the square's colour stays behind it (max error {behind:.1f})"
    # The same clip through a plain EMA does leave a trail: the test can see one.
    _, ema_behind = run_moving_square("ema")
    assert ema_behind > 20.0


def test_flow_and_ema_reduce_jitter_on_a_static_shot() -> None:
    rng = np.random.default_rng(7)
    l_hw = texture(6, (H, W), 50.0)
    smoothers = {m: TemporalSmoother(TemporalOptions(mode=m)) for m in ("off", "ema", "flow")}
    outs: dict[str, list[np.ndarray]] = {m: [] for m in smoothers}
    for _ in range(30):
        ab_pred = np.full((H, W, 2), 10.0, np.float32) + jitter(rng)
        for m, smoother in smoothers.items():
            outs[m].append(smoother(l_hw, ab_pred))
    steps = {m: np.mean([np.abs(b - a).mean() for a, b in zip(o[:-1], o[1:], strict=True)])
             for m, o in outs.items()}
    assert steps["ema"] < 0.5 * steps["off"] and steps["flow"] < 0.5 * steps["off"]
    assert all(not s.cuts for s in smoothers.values())


def test_off_and_zero_strength_return_the_prediction() -> None:
    l_hw = texture(8, (H, W), 50.0)
    for options in (TemporalOptions(mode="off"), TemporalOptions(mode="flow", strength=0.0)):
        smoother = TemporalSmoother(options)
        for value in (5.0, -30.0):
            ab = np.full((H, W, 2), value, np.float32)
            np.testing.assert_array_equal(smoother(l_hw, ab), ab)


def test_reset_forgets_the_previous_frame() -> None:
    l_hw = texture(9, (H, W), 50.0)
    smoother = TemporalSmoother(TemporalOptions(mode="ema", strength=0.9))
    smoother(l_hw, np.full((H, W, 2), 40.0, np.float32))
    smoother.reset()
    out = smoother(l_hw, np.full((H, W, 2), -40.0, np.float32))
    np.testing.assert_array_equal(out, -40.0)


@pytest.mark.parametrize("kwargs", [{"mode": "bilateral"}, {"strength": 1.5}, {"strength": -0.1},
                                    {"cut_threshold": 0.5}])
def test_bad_options_are_config_errors(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        TemporalOptions(**kwargs)


def schedule_of(frames: list[np.ndarray], every: int) -> list[int]:
    analyzer, schedule = MotionAnalyzer(), NetworkSchedule(every)
    return [i for i, l_hw in enumerate(frames) if schedule(analyzer(np.ascontiguousarray(l_hw)))]


def still_camera(l_hw: np.ndarray, frames: int, seed: int, noise: float = 1.5) -> list[np.ndarray]:
    """A still camera's frames: the same picture with its sensor's noise (L units) on each, so that no frame is
    the one before held (temporal.HELD_L; 0.8 would be: its worst patch changes by 0.95)."""
    rng = np.random.default_rng(seed)
    return [l_hw + rng.normal(0, noise, l_hw.shape).astype(np.float32) for _ in range(frames)]


def test_schedule_runs_the_network_every_n_frames_on_a_still_shot_and_at_each_cut() -> None:
    still, other = texture(10, (H, W), 45.0), texture(11, (H, W), 60.0)
    frames = still_camera(still, 10, 10) + still_camera(other, 10, 11)  # a hard cut at frame 10
    assert schedule_of(frames, 1) == list(range(20))
    assert schedule_of(frames, 4) == [0, 4, 8, 10, 14, 18]


def test_held_frames_do_not_count_toward_network_every() -> None:
    """A film transferred with repeated frames (each picture held for 2 or 3 frames, as a silent film's 16
    pictures a second at 25 fps): the network runs every 4 pictures, not every 4 frames, never on a held
    frame, and a held frame's colour is the frame before's."""
    pictures = still_camera(texture(13, (H, W), 50.0), 12, 13)
    holds = [2, 1, 2, 2, 1, 2, 3, 1, 2, 1, 2, 2]
    frames = [picture for picture, hold in zip(pictures, holds, strict=True) for _ in range(hold)]
    first = np.cumsum([0, *holds[:-1]])  # each picture's first frame
    smoother, schedule = TemporalSmoother(TemporalOptions()), NetworkSchedule(4)
    runs, outs, held = [], [], []
    for i, l_hw in enumerate(frames):
        motion = smoother.analyzer(np.ascontiguousarray(l_hw))
        run = schedule(motion)
        runs += [i] * run
        held += [i] * motion.held
        ab = np.full((H, W, 2), 20.0 + (i % 5), np.float32)  # a wobbling prediction
        outs.append(smoother.blend(motion, ab if run else None))
    # (not frame 1: the shot's first picture's change is unknown, and a frame is counted when in doubt)
    assert held == [i for i in range(2, len(frames)) if i not in first]
    assert runs == [0, first[3], first[7], first[11]]  # every 4 pictures (frame 1 counted as a picture)
    for i in held:
        np.testing.assert_allclose(outs[i], outs[i - 1], atol=0.01)


def test_slow_motion_over_a_clean_picture_is_no_run_of_held_frames() -> None:
    """A review: a small object moving slowly over a clean, still picture changes each frame by less than
    HELD_L, as a held frame does; taken for held frames, it stopped the network (2 runs in 40 frames) and its
    colour stayed where it had been. Each frame changes as much as the one before: none is held."""
    big = cv2.resize(texture(3, (H, W), 35.0), (4 * W, 4 * H), interpolation=cv2.INTER_CUBIC)  # the film's size
    square = np.full((24, 24), 65.0, np.float32)
    frames = []
    for t in range(40):  # 0.25 pixels a frame at the film's size (a sixteenth of an ab pixel)
        at = np.float32([[1, 0, 80 + 0.25 * t], [0, 1, 100]])
        mask = cv2.warpAffine(np.ones_like(square), at, (4 * W, 4 * H), flags=cv2.INTER_LINEAR)
        l_hw = big * (1 - mask) + cv2.warpAffine(square, at, (4 * W, 4 * H), flags=cv2.INTER_LINEAR)
        frames.append(cv2.resize(l_hw, (W, H), interpolation=cv2.INTER_AREA))
    analyzer = MotionAnalyzer()
    motions = [analyzer(np.ascontiguousarray(f)) for f in frames]
    assert sum(m.miss < 1.0 for m in motions[1:]) > 30  # each frame changes as little as a held one
    assert not any(m.held for m in motions)
    assert schedule_of(frames, 4) == list(range(0, 40, 4))


def test_a_slow_pan_of_a_flat_picture_is_no_held_frame() -> None:
    """A dim, flat picture panning 0.3 ab pixels a frame changes by less than HELD_L (0.2-0.6 L units): its
    colour must move with it on the carried frames, not be held where it was (a review of the rule)."""
    wide = 30.0 + (texture(21, (H, W + 40), 50.0) - 50.0) * 3.0 / 18.0  # L 30, spread 3 L units
    smoother, schedule = TemporalSmoother(TemporalOptions()), NetworkSchedule(4)
    ab_wide = np.stack([wide - 30.0, 30.0 - wide], axis=-1) * 10.0  # colour tied to the picture
    outs = []
    for t in range(4):
        shift = np.float32([[1, 0, -0.3 * t], [0, 1, 0]])
        l_hw = cv2.warpAffine(wide, shift, (W + 40, H), flags=cv2.INTER_CUBIC)[:, 10:10 + W]
        ab = cv2.warpAffine(ab_wide, shift, (W + 40, H), flags=cv2.INTER_CUBIC)[:, 10:10 + W]
        motion = smoother.analyzer(np.ascontiguousarray(l_hw))
        assert motion.index == 0 or (motion.miss < 1.0 and not motion.held)
        outs.append(smoother.blend(motion, np.ascontiguousarray(ab) if schedule(motion) else None))
    assert not any(np.array_equal(a, b) for a, b in zip(outs[:-1], outs[1:], strict=True))


def test_schedule_runs_the_network_sooner_when_the_picture_moves() -> None:
    wide = texture(12, (H, W + 200), 50.0)
    # (speeds well clear of the 3 px limit: the measured flow is within ~0.01 px of the true motion)
    slow = [wide[:, 2 * t:2 * t + W] for t in range(12)]  # 2 px a frame: past the 3 px limit after 2 frames
    fast = [wide[:, 4 * t:4 * t + W] for t in range(12)]  # 4 px a frame: past the limit every frame
    assert schedule_of(slow, 6) == [0, 2, 4, 6, 8, 10]
    assert schedule_of(fast, 6) == list(range(12))


def test_carried_colour_moves_with_the_picture() -> None:
    """A frame the network skips gets the previous frame's colour, warped by the motion."""
    l_frames = [np.ascontiguousarray(l_hw) for _, _, l_hw, _ in moving_square_clip(4, 2)]
    truths = [ab for _, _, _, ab in moving_square_clip(4, 2)]
    smoother = TemporalSmoother(TemporalOptions(mode="flow"))
    out = smoother.blend(smoother.analyzer(l_frames[0]), truths[0])
    for t in range(1, 4):
        out = smoother.blend(smoother.analyzer(l_frames[t]), None)
    x0 = 10 + 2 * 3
    inside = np.s_[26:38, x0 + 2:x0 + 14]
    error = np.linalg.norm(out - truths[3], axis=-1)[inside]
    assert np.percentile(error, 90) < 5.0  # the square's colour went with it, 6 px on (edges blur a little)
    stale = np.linalg.norm(truths[0] - truths[3], axis=-1)[inside]
    assert np.percentile(stale, 90) > 50.0  # not warping would leave it behind


def test_a_frame_without_prediction_needs_a_previous_frame() -> None:
    smoother = TemporalSmoother()
    with pytest.raises(ValueError, match="no prediction"):
        smoother.blend(smoother.analyzer(texture(13, (H, W), 50.0)), None)


def test_a_small_fast_object_runs_the_network_though_the_frame_barely_moves() -> None:
    """An audit: the carry rule summed the frame's mean motion, so a small object crossing a still shot fast
    (here 4 px a frame, the background still) let the colour be carried, dragged into a trail of its colour
    around it. The fastest 1% of the frame counts."""
    background, patch = texture(3, (H, W), 35.0), texture(4, (12, 12), 75.0, sigma=1.5)
    frames = []
    for t in range(12):
        l_hw = background.copy()
        l_hw[26:38, 8 + 4 * t:20 + 4 * t] = patch
        frames.append(l_hw)
    runs = schedule_of(frames, 6)
    # (was [0, 6], as for the still background alone: the frame's mean motion, 0.1 px, carried on)
    assert len(runs) >= 6 and max(b - a for a, b in zip(runs[:-1], runs[1:], strict=True)) <= 2, runs
    assert schedule_of(still_camera(background, 12, 3, noise=1.0), 6) == [0, 6]


def test_film_grain_is_not_taken_for_motion() -> None:
    """An audit: heavy grain (new in every frame) lowered the warp's trust and ran the network on almost every
    frame of a slowly panning shot: flicker 1.47x the colour original's. L is smoothed (GRAIN_SIGMA) before
    the motion is found: the grain's predictions are smoothed as a clean film's are."""
    rng = np.random.default_rng(11)
    wide = texture(12, (H, W + 40), 50.0)
    smoother, schedule = TemporalSmoother(TemporalOptions()), NetworkSchedule(4)
    outs, runs = [], 0
    for t in range(24):
        l_hw = np.ascontiguousarray(wide[:, t // 2:t // 2 + W] + rng.normal(0, 4.0, (H, W)).astype(np.float32))
        motion = smoother.analyzer(l_hw)
        run = schedule(motion)
        runs += run
        ab_pred = np.full((H, W, 2), 10.0, np.float32) + jitter(rng)  # a per-frame model's wobble
        outs.append(smoother.blend(motion, ab_pred if run else None))
    steps = np.mean([np.abs(b - a).mean() for a, b in zip(outs[:-1], outs[1:], strict=True)])
    assert runs <= 12, runs  # the grain is no motion: the colour is carried between network frames (was 24)
    assert steps < 1.0, steps  # ab change from frame to frame; unsmoothed ~4.5, and 1.9 before


def test_a_small_object_the_flow_misses_leaves_no_trail_on_the_carried_frames() -> None:
    """A 6 x 10 object crossing a still shot at 3 px a frame is too small for the flow to follow (its fastest
    1% read well under a pixel a frame), so neither the frame's change nor its motion stopped the carry: the
    object's colour was left on the street behind it (scripts/bench_trails.py). The worst patch's change is
    summed too (CARRY_MAX_MISS): the network runs sooner and the street keeps its colour."""
    background, patch = texture(3, (H, W), 35.0), texture(4, (6, 10), 60.0, sigma=1.0)
    obj_ab, bg_ab = np.array([55.0, 40.0], np.float32), np.array([-10.0, 15.0], np.float32)
    smoother, schedule = TemporalSmoother(TemporalOptions()), NetworkSchedule(4)
    wrong = []
    for t in range(24):
        x0 = 6 + 3 * t
        l_hw = background.copy()
        l_hw[30:36, x0:x0 + 10] = patch
        ab_true = np.broadcast_to(bg_ab, (H, W, 2)).copy()
        ab_true[30:36, x0:x0 + 10] = obj_ab
        motion = smoother.analyzer(l_hw)
        out = smoother.blend(motion, ab_true if schedule(motion) else None)  # a perfect per-frame colouriser
        street = np.ones((H, W), bool)
        street[29:37, x0 - 1:x0 + 11] = False  # the object and a pixel around it
        wrong.append(int((np.linalg.norm(out - ab_true, axis=-1)[street] > 10.0).sum()))
    # Street pixels more than 10 ab off, in any frame: at most the 3 x 6 strip one frame's motion uncovers (a
    # single carried frame; the carry went on for three and left up to 58).
    assert max(wrong) <= 18, wrong


def test_a_patch_frame_leaves_the_still_background_as_carried() -> None:
    """The network runs for what the motion missed (a patch) without the still background taking its new
    prediction's wobble: run as full frames, a static CCTV camera's flicker rose from 1.14x to 1.22x the
    original's."""
    rng = np.random.default_rng(21)
    background, patch = texture(3, (H, W), 35.0), texture(4, (6, 10), 60.0, sigma=1.0)
    smoother, schedule = TemporalSmoother(TemporalOptions()), NetworkSchedule(4)
    prev_out, steps = None, []
    for t in range(24):
        l_hw = background.copy()
        l_hw[30:36, 6 + 3 * t:16 + 3 * t] = patch
        motion = smoother.analyzer(l_hw)
        run = schedule(motion)
        ab_pred = np.full((H, W, 2), 10.0, np.float32) + jitter(rng, 2.0)  # a per-frame model's wobble
        out = smoother.blend(motion, ab_pred if run else None)
        if motion.patch:
            steps.append(float(np.abs(out - prev_out)[2:20, 2:-2].mean()))  # the rows above the object: still
        prev_out = out
    assert len(steps) >= 3, steps
    # ab change of the still rows on the patch frames: a full frame moves them by a fifth of the wobble (0.5)
    assert np.mean(steps) < 0.15, steps


def insert_clip(insert: int, back_to_first: bool = True) -> list[np.ndarray]:
    """A panning shot, ``insert`` frames of another shot at frame 10, then the first shot again (or a third)."""
    wide, other, third = texture(1, (H, W + 60), 40.0), texture(2, (H, W), 65.0), texture(5, (H, W + 60), 55.0)
    after = wide if back_to_first else third
    return [np.ascontiguousarray(wide[:, t:t + W] if t < 10 else other if t < 10 + insert else after[:, t:t + W])
            for t in range(24)]


@pytest.mark.parametrize("insert", [1, 2])
def test_after_an_insert_the_shot_goes_on_with_its_colour(insert: int) -> None:
    """A frame or two of another shot (or a damaged frame) inside a shot made it three shots: a keyframe's
    colour stopped at the insert and the smoothing started over after it. The shot now goes on."""
    rng = np.random.default_rng(3)
    smoother = TemporalSmoother(TemporalOptions(strength=0.9))
    red, blue = np.array([45.0, 35.0], np.float32), np.array([-15.0, -45.0], np.float32)
    outs, preds = [], []
    back = 10 + insert
    for t, l_hw in enumerate(insert_clip(insert)):
        colour = blue if 10 <= t < back else red
        wobble = np.array([8.0, -8.0], np.float32) if t == back else jitter(rng, 1.0)
        preds.append(np.broadcast_to(colour + wobble, (H, W, 2)).copy())
        outs.append(smoother(l_hw, preds[-1]))
    assert smoother.cuts == [10, back] and smoother.analyzer.resumed == {back: 9}
    for t in range(10, back):  # the insert: its own colour, none of the shot's around it
        assert np.abs(outs[t] - blue).max() < 5.0
    # after it: the shot's smoothed colour goes on (most of it: 0.9 less the trust lost to the prediction's
    # 11 Lab units of wobble), not the new prediction alone, which starting over took whole
    centre = np.s_[16:48, 20:90]
    assert np.linalg.norm(outs[back][centre] - outs[9][centre], axis=-1).mean() < 3.0
    assert np.linalg.norm(outs[back][centre] - preds[back][centre], axis=-1).mean() > 8.0


@pytest.mark.parametrize("insert, back_to_first", [(3, True), (1, False)])
def test_a_longer_insert_or_a_third_shot_is_a_new_shot(insert: int, back_to_first: bool) -> None:
    analyzer = MotionAnalyzer()
    motions = [analyzer(l_hw) for l_hw in insert_clip(insert, back_to_first)]
    assert analyzer.cuts == [10, 10 + insert] and analyzer.resumed == {}
    assert not motions[10 + insert].follows


def still_shot_outputs(preds: list[np.ndarray], every: int, strength: float = 0.8) -> list[np.ndarray]:
    stills = still_camera(texture(9, (H, W), 50.0), len(preds), 9)
    smoother, schedule = TemporalSmoother(TemporalOptions(strength=strength)), NetworkSchedule(every)
    outs = []
    for pred, still in zip(preds, stills, strict=True):
        motion = smoother.analyzer(still)
        outs.append(smoother.blend(motion, pred if schedule(motion) else None))
    return outs


@pytest.mark.parametrize("every", [1, 4])
def test_a_still_shot_takes_the_running_mean_of_its_predictions(every: int) -> None:
    """With a fixed weight of the past (0.8) a still background took a fifth of each new prediction's wobble:
    a static CCTV camera flickered 0.65x its original, its every-frame run 1.19x. A pixel followed through n
    network frames now keeps n / (n + 1) of the past, up to 0.95 (carried frames pass the count on)."""
    rng = np.random.default_rng(8)
    preds = [np.full((H, W, 2), 10.0, np.float32) + jitter(rng, 1.0) for _ in range(48)]
    steps = {}
    for strength in (0.8, 0.95):  # 0.95 at once: what the running mean reaches
        outs = still_shot_outputs(preds, every, strength)
        steps[strength] = np.mean([np.abs(b - a).mean() for a, b in zip(outs[-17:-1], outs[-16:], strict=True)])
        assert np.abs(outs[-1] - 10.0).mean() < 1.0  # the mean, not a stale early guess
    assert steps[0.8] < 1.5 * steps[0.95], steps  # (a fixed 0.8 wobbles 4 times as much as 0.95)


def test_a_still_shots_colour_change_is_followed_as_with_the_strength_alone() -> None:
    """A review: the count alone took 128 frames (network every 4) to follow a 10 ab change of a still scene's
    predicted colour, where the fixed weight took 36; the count is forgotten as the prediction departs."""
    preds = [np.full((H, W, 2), 10.0 + (10.0 if t >= 60 else 0.0), np.float32) for t in range(160)]
    outs = still_shot_outputs(preds, 1)
    followed = next(t for t in range(60, 160) if np.abs(outs[t] - 20.0).mean() < 1.0) - 60
    assert followed <= 14, followed  # (the count alone: 33 frames; the fixed weight: 9)


def test_two_frames_of_other_material_in_a_row_are_one_insert() -> None:
    """A review: two damaged frames in a row, or a frame each of two other shots, were three shots: the second
    cut's frame before it (the first damaged one) became the one to come back to, and the shot was not
    resumed."""
    frames = insert_clip(1)
    frames[11] = texture(6, (H, W), 80.0)  # frames 10 and 11: two different inserts
    analyzer = MotionAnalyzer()
    for l_hw in frames:
        analyzer(l_hw)
    assert analyzer.cuts == [10, 11, 12] and analyzer.resumed == {12: 9}


def test_the_strength_orders_the_running_mean() -> None:
    """A review: the running mean reached 0.95 of the past at every strength, so --temporal-strength made no
    difference on a still scene. It may average MEAN_SPAN times the strength's own past frames."""
    rng = np.random.default_rng(9)
    preds = [np.full((H, W, 2), 10.0, np.float32) + jitter(rng, 1.0) for _ in range(48)]
    wobble = {}
    for strength in (0.3, 0.8):
        outs = still_shot_outputs(preds, 1, strength)
        wobble[strength] = np.mean([np.abs(b - a).mean() for a, b in zip(outs[-17:-1], outs[-16:], strict=True)])
    assert wobble[0.3] > 1.5 * wobble[0.8], wobble


def test_a_long_still_shot_follows_a_change_as_a_short_one_does() -> None:
    """A review: the count grew without bound, so after a long still stretch a change was followed slower."""
    def followed(still: int) -> int:
        preds = [np.full((H, W, 2), 10.0 + (10.0 if t >= still else 0.0), np.float32) for t in range(still + 60)]
        outs = still_shot_outputs(preds, 1)
        return next(t for t in range(still, still + 60) if np.abs(outs[t] - 20.0).mean() < 1.0) - still

    assert followed(800) <= followed(60) + 1
