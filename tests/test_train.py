"""filmcolor train: outputs of a short run, exact resume, overfitting, DDP (gloo) and the CLI's bad inputs."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from media import write_photos

from filmcolor.cli import main
from filmcolor.errors import ConfigError, FilmcolorError
from filmcolor.train import TrainConfig, train
from filmcolor.train.checkpoint import load_checkpoint
from filmcolor.weights import load_model, read_meta

# A pix2pix U-Net small enough for 64 px (6 downs: one level with the seed's dropout) and 4 filters.
TINY_PIX2PIX = {"n_down": 6, "num_filters": 4}


def tiny_config(data: Path, out: Path, **overrides) -> TrainConfig:
    """A CPU config of a few milliseconds per step: 64 px, batch 2, one thread, one epoch per phase."""
    base = dict(data=(str(data),), out=str(out), arch="pix2pix-unet", arch_kwargs=TINY_PIX2PIX,
                pretrained_encoder=False, image_size=64, batch_size=2, pretrain_epochs=1, epochs=1,
                workers=0, device="cpu", threads=1, val_size=2, val_images=2, render_size=64,
                sample_images=2, checkpoint_every=0, log_every=1)
    base.update(overrides)
    return TrainConfig(**base)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_photos(tmp_path_factory.mktemp("photos"), 8)


@pytest.fixture(autouse=True)
def _deterministic():
    torch.use_deterministic_algorithms(True)
    yield
    torch.use_deterministic_algorithms(False)


# ---- a short run through the CLI: every output, both phases ----

@pytest.mark.slow
def test_cli_run_writes_checkpoint_weights_samples_and_metrics(tmp_path: Path) -> None:
    train_dir = write_photos(tmp_path / "train", 4, seed=1)
    val_dir = write_photos(tmp_path / "val", 2, seed=2)
    out = tmp_path / "run"
    args = ["train", "--data", str(train_dir), "--val-data", str(val_dir), "--out", str(out),
            "--arch", "filmcolor-fast", "--image-size", "64", "--batch-size", "2", "--pretrain-epochs", "1",
            "--epochs", "1", "--workers", "0", "--device", "cpu", "--threads", "1", "--render-size", "64",
            "--val-images", "2", "--sample-images", "2", "--log-every", "1", "--checkpoint-every", "1", "-q"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output

    assert (out / "last.pt").is_file() and (out / "config.json").is_file()
    state = load_checkpoint(out / "last.pt")
    assert (state["epoch"], state["batch_in_epoch"], state["step"]) == (2, 0, 4)

    events = read_jsonl(out / "metrics.jsonl")
    steps = [e for e in events if e["event"] == "step"]
    assert [e["step"] for e in steps] == [1, 2, 3, 4]
    assert {e["phase"] for e in steps[:2]} == {"pretrain"} and {e["phase"] for e in steps[2:]} == {"gan"}
    assert all(np.isfinite(e["loss_pixel"]) for e in steps)
    assert all({"loss_d", "loss_g_gan"} <= e.keys() for e in steps[2:])
    epochs = [e for e in events if e["event"] == "epoch"]
    assert [e["epoch"] for e in epochs] == [1, 2]
    assert all({"val_l1", "psnr", "gray_psnr", "colorfulness"} <= e.keys() for e in epochs)

    for name in ("best.safetensors", "final.safetensors"):
        model, meta = load_model(out / name)
        assert meta.arch == "filmcolor-fast"
        assert meta.info["config"]["image_size"] == 64 and meta.info["config"]["arch"] == "filmcolor-fast"
        assert "psnr" in meta.info["metrics"]
    assert read_meta(out / "final.safetensors").info["steps"] == 4
    # final.safetensors holds the trained generator: the state in last.pt
    final, _ = load_model(out / "final.safetensors")
    for key, value in final.state_dict().items():
        assert torch.equal(value, state["generator"][key]), key

    # samples: one grid per epoch, rows of gray | prediction | ground truth at the training size
    for epoch in (1, 2):
        grid = cv2.imread(str(out / "samples" / f"epoch_{epoch:03d}.png"))
        assert grid.shape == (2 * 64, 3 * 64, 3)
    grid = cv2.cvtColor(cv2.imread(str(out / "samples" / "epoch_002.png")), cv2.COLOR_BGR2RGB)
    truth = cv2.cvtColor(cv2.imread(str(val_dir / "photo_000.png")), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(grid[:64, 128:], truth)
    gray = grid[:64, :64].astype(int)
    assert np.abs(gray[..., 0] - gray[..., 1]).max() <= 1 and np.abs(gray[..., 1] - gray[..., 2]).max() <= 1

    # --resume says where it resumed (it said nothing, and a mistyped --out silently began anew)
    result = CliRunner().invoke(main, [*args, "--resume", "--epochs", "2"])
    assert result.exit_code == 0, result.output
    assert f"resuming {out / 'last.pt'} at epoch 3, batch 0, step 4 (changed: --epochs 1 -> 2)" in result.output
    result = CliRunner().invoke(main, [*args[:6], str(tmp_path / "typo"), *args[7:], "--resume", "--max-steps", "1"])
    assert result.exit_code == 0 and f"no last.pt in {tmp_path / 'typo'}: starting a new run" in result.output
    result = CliRunner().invoke(main, ["image", str(train_dir / "photo_000.png"), "-o", str(tmp_path / "x.png"),
                                       "--model", str(out / "last.pt")])  # a checkpoint given as a model
    assert result.exit_code == 1 and "a training checkpoint (it resumes training); colour with its run's " \
        "best.safetensors or final.safetensors" in result.stderr, result.stderr


# ---- resume: the same weights as an uninterrupted run ----

def _final_state(run: Path) -> dict:
    return load_checkpoint(run / "last.pt")


def _assert_same_training_state(a: dict, b: dict) -> None:
    assert (a["epoch"], a["batch_in_epoch"], a["step"]) == (b["epoch"], b["batch_in_epoch"], b["step"])
    for net in ("generator", "discriminator"):
        assert a[net].keys() == b[net].keys()
        for key in a[net]:
            assert torch.equal(a[net][key], b[net][key]), f"{net}.{key} differs"
    for opt in ("opt_pre", "opt_g", "opt_d"):
        for pid, sa in a[opt]["state"].items():
            for key, value in sa.items():
                assert torch.equal(value, b[opt]["state"][pid][key]), f"{opt}[{pid}].{key} differs"
    assert torch.equal(a["rng"]["torch"], b["rng"]["torch"])


@pytest.mark.slow
@pytest.mark.parametrize("workers", [0, 2])
def test_resume_reaches_the_weights_of_an_uninterrupted_run(photos: Path, tmp_path: Path,
                                                             workers: int) -> None:
    # 8 photos -> 7 train + 1 val: 3 steps an epoch, 6 in all (3 L1, then 3 GAN with dropout in the U-Net).
    whole = train(tiny_config(photos, tmp_path / "whole"))
    assert whole.steps == 6
    # stops: in the middle of phase 1, at the phase boundary (an epoch end), in the middle of phase 2, the end
    run = tmp_path / "pieces"
    for max_steps in (2, 3, 5, 6):
        result = train(tiny_config(photos, run, workers=workers, max_steps=max_steps), resume=True)
        assert result.steps == max_steps
    _assert_same_training_state(_final_state(tmp_path / "whole"), _final_state(run))
    whole_log = [e for e in read_jsonl(tmp_path / "whole" / "metrics.jsonl") if e["event"] == "step"]
    piece_log = [e for e in read_jsonl(run / "metrics.jsonl") if e["event"] == "step"]
    drop_rate = ("img_s",)
    assert [{k: v for k, v in e.items() if k not in drop_rate} for e in piece_log] == \
        [{k: v for k, v in e.items() if k not in drop_rate} for e in whole_log]


def test_resume_when_already_at_max_steps_takes_no_step(photos: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    train(tiny_config(photos, run, max_steps=2))
    before = load_checkpoint(run / "last.pt")
    result = train(tiny_config(photos, run, max_steps=2), resume=True)
    assert result.steps == 2
    _assert_same_training_state(before, load_checkpoint(run / "last.pt"))


def test_resume_refuses_other_photos_seed_or_crops_and_says_what_else_changed(photos: Path, tmp_path: Path) -> None:
    """An audit: --resume with another --seed and --batch-size trained on silently (not the run it said it
    continued), and another --arch ended in a 16 KB 'unexpected RuntimeError'."""
    run = tmp_path / "run"
    train(tiny_config(photos, run, max_steps=1))
    for other, flag in (({"seed": 9}, "--seed 0"), ({"batch_size": 4}, "--batch-size 2"),
                        ({"arch": "filmcolor-fast", "arch_kwargs": {}}, "--arch pix2pix-unet")):
        with pytest.raises(ConfigError, match=f"last.pt: trained with {flag}[,;]") as err:
            train(tiny_config(photos, run, max_steps=2, **other), resume=True)
        assert "\n" not in str(err.value)
    events: list[dict] = []
    result = train(tiny_config(photos, run, max_steps=2, lr_pretrain=5e-4), resume=True, progress=events.append)
    start = events[0]
    assert result.steps == 2 and start["resumed"] and start["step"] == 1
    assert start["changed"] == ["--lr-pretrain 0.0001 -> 0.0005", "--max-steps 1 -> 2"], start["changed"]


def test_resume_knows_a_photo_folder_by_where_it_is_and_by_its_photos(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A second audit: --data given relative to the folder the run began in was compared from the folder it
    resumed in, so the same photos named from elsewhere were refused, other photos under the same relative
    name taken; and photos added to the folder went unnoticed."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    write_photos(tmp_path / "a" / "photos", 8)
    write_photos(tmp_path / "b" / "photos", 8, seed=5)
    run = tmp_path / "run"
    monkeypatch.chdir(tmp_path / "a")
    train(tiny_config(Path("photos"), run, max_steps=1))
    monkeypatch.chdir(tmp_path / "b")  # "photos" here is another folder
    with pytest.raises(ConfigError, match="last.pt: trained with --data .*a/photos"):
        train(tiny_config(Path("photos"), run, max_steps=2), resume=True)
    assert train(tiny_config(Path("../a/photos"), run, max_steps=2), resume=True).steps == 2  # the same one
    write_photos(tmp_path / "a" / "more", 2, seed=9)
    for extra in (tmp_path / "a" / "more").iterdir():
        extra.rename(tmp_path / "a" / "photos" / f"new_{extra.name}")
    with pytest.raises(ConfigError, match="the photos in --data are not the ones it was trained on"):
        train(tiny_config(Path("../a/photos"), run, max_steps=3), resume=True)


def test_a_run_stopped_before_its_first_checkpoint_can_begin_again(photos: Path, tmp_path: Path) -> None:
    """A second audit: its metrics.jsonl (and no last.pt) read as 'another run's outputs', so the very command
    that made it, with or without --resume, was refused for ever."""
    run = tmp_path / "run"
    (run / "samples").mkdir(parents=True)
    (run / "metrics.jsonl").write_text(json.dumps({"event": "start", "stopped": True}) + "\n")
    (run / "samples" / "epoch_009.png").write_bytes(b"stale")
    train(tiny_config(photos, run, max_steps=1), resume=True)
    assert "stopped" not in (run / "metrics.jsonl").read_text()
    assert not (run / "samples" / "epoch_009.png").exists()


def test_a_folder_with_another_runs_outputs_is_refused(photos: Path, tmp_path: Path) -> None:
    """An audit: a folder with an earlier run's best.safetensors and no last.pt was trained into, and the
    old best.safetensors reported as the new run's."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "best.safetensors").write_bytes(b"an earlier run's")
    with pytest.raises(ConfigError, match="holds another run's best.safetensors"):
        train(tiny_config(photos, run, max_steps=1), resume=True)
    assert (run / "best.safetensors").read_bytes() == b"an earlier run's"
    events: list[dict] = []
    train(tiny_config(photos, tmp_path / "new", max_steps=1), resume=True, progress=events.append)
    assert events[0]["resumed"] is False  # --resume with nothing to resume: a new run (the CLI says so)


def test_lines_logged_after_the_checkpoint_are_not_logged_twice(photos: Path, tmp_path: Path) -> None:
    """An audit: after a kill, the steps between the last checkpoint and the kill were in metrics.jsonl twice."""
    run = tmp_path / "run"
    train(tiny_config(photos, run, max_steps=2))
    before = (run / "metrics.jsonl").read_text()
    with open(run / "metrics.jsonl", "a") as fh:  # what a run killed at step 3 had logged past its checkpoint
        fh.write(json.dumps({"event": "step", "step": 3, "killed": True}) + "\n")
    train(tiny_config(photos, run, max_steps=3), resume=True)
    log = (run / "metrics.jsonl").read_text()
    assert log.startswith(before) and "killed" not in log
    assert [e["step"] for e in read_jsonl(run / "metrics.jsonl") if e["event"] == "step"] == [1, 2, 3]
    # a checkpoint from before it recorded its log's length: cut before the first step past its own
    old = tmp_path / "old"
    train(tiny_config(photos, old, max_steps=2))
    state = load_checkpoint(old / "last.pt")
    del state["log_bytes"]
    torch.save(state, old / "last.pt")
    with open(old / "metrics.jsonl", "a") as fh:
        fh.write(json.dumps({"event": "step", "step": 3, "killed": True}) + "\n")
    train(tiny_config(photos, old, max_steps=3), resume=True)
    assert "killed" not in (old / "metrics.jsonl").read_text()
    assert [e["step"] for e in read_jsonl(old / "metrics.jsonl") if e["event"] == "step"] == [1, 2, 3]


# ---- learning: 4 photos overfit ----

@pytest.mark.slow
def test_overfitting_four_photos_drives_the_l1_loss_down(tmp_path: Path) -> None:
    data = write_photos(tmp_path / "four", 4, seed=3)
    cfg = tiny_config(data, tmp_path / "run", val_data=(str(data),), batch_size=4, pretrain_epochs=60,
                      epochs=0, lr_pretrain=2e-3, arch_kwargs={"n_down": 6, "num_filters": 8}, val_images=0,
                      sample_images=0)
    train(cfg)
    losses = [e["loss_pixel"] for e in read_jsonl(tmp_path / "run" / "metrics.jsonl") if e["event"] == "step"]
    assert len(losses) == 60
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:3]), losses


# ---- bad training data: unreadable and grayscale files are skipped and counted ----

def _write_bad_files(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a picture")
    (folder / "empty.jpg").write_bytes(b"")
    gray = cv2.cvtColor(cv2.imread(str(write_photos(folder / "tmp", 1, seed=9) / "photo_000.png")),
                        cv2.COLOR_BGR2GRAY)
    cv2.imwrite(str(folder / "gray_one_channel.png"), gray)  # a single-channel file
    cv2.imwrite(str(folder / "gray_three_channels.jpg"), cv2.merge([gray, gray, gray]))  # R = G = B (+ JPEG noise)
    (folder / "tmp" / "photo_000.png").unlink()
    (folder / "tmp").rmdir()


@pytest.mark.parametrize("cache", [False, True])
def test_unreadable_and_gray_images_are_skipped_and_counted(tmp_path: Path, cache: bool) -> None:
    data = write_photos(tmp_path / "train", 4, seed=4)
    _write_bad_files(data)
    val = write_photos(tmp_path / "val", 2, seed=5)
    (val / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    events: list[dict] = []
    cfg = tiny_config(data, tmp_path / "run", val_data=(str(val),), val_size=3, cache_images=cache, max_steps=2)
    result = train(cfg, progress=events.append)
    assert result.steps == 2
    start = events[0]
    assert start["event"] == "start"
    assert (start["train_images"], start["val_images"]) == (4, 2)
    assert (start["skipped_unreadable"], start["skipped_gray"], start["val_skipped_unreadable"]) == (2, 2, 1)
    assert sorted(Path(line.split(":")[0]).name for line in start["unreadable"]) == \
        ["broken.jpg", "corrupt.png", "empty.jpg"]
    logged = read_jsonl(tmp_path / "run" / "metrics.jsonl")[0]
    assert logged == start


def test_cli_reports_the_skipped_images(tmp_path: Path) -> None:
    data = write_photos(tmp_path / "train", 4, seed=4)
    _write_bad_files(data)
    result = _invoke("--data", str(data), "--val-data", str(write_photos(tmp_path / "val", 1, seed=5)),
                     "--out", str(tmp_path / "run"), "--arch", "pix2pix-unet", "--arch-kwargs",
                     json.dumps(TINY_PIX2PIX), "--image-size", "64", "--batch-size", "2", "--pretrain-epochs", "1",
                     "--epochs", "0", "--workers", "0", "--device", "cpu", "--threads", "1", "--render-size", "64",
                     "--val-images", "1", "--sample-images", "1", "--max-steps", "1", "-q")
    assert result.exit_code == 0, result.output
    assert "skipped 2 unreadable and 2 grayscale images" in result.stderr, result.stderr


def test_cli_folder_of_only_bad_images(tmp_path: Path) -> None:
    _write_bad_files(tmp_path / "bad")
    result = _invoke("--data", str(tmp_path / "bad"), "--out", str(tmp_path / "run"), "--device", "cpu", "-q")
    assert result.exit_code == 1
    lines = _error_lines(result)
    assert len(lines) == 1 and "no usable training images" in lines[0], result.stderr
    assert "2 unreadable, 2 grayscale" in lines[0]
    assert not (tmp_path / "run").exists()


# ---- data-parallel: torchrun, 2 gloo processes on the CPU ----

def _torchrun_tiny(photos: Path, out: Path, *extra: str) -> list[str]:
    """torchrun with 2 CPU processes training the tiny pix2pix on ``photos`` into ``out``, plus ``extra``."""
    torchrun = Path(sys.executable).with_name("torchrun")
    return [str(torchrun), "--standalone", "--nproc_per_node=2", "-m", "filmcolor", "train",
            "--data", str(photos), "--out", str(out), "--arch", "pix2pix-unet",
            "--arch-kwargs", json.dumps(TINY_PIX2PIX), "--image-size", "64", "--batch-size", "1",
            "--workers", "0", "--device", "cpu", "--threads", "1", "--val-size", "2", "--val-images", "1",
            "--render-size", "64", "--sample-images", "1", "--log-every", "1", "-q", *extra]


@pytest.mark.slow
def test_torchrun_two_cpu_processes_train_and_only_rank0_writes(photos: Path, tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "FILMCOLOR_DEBUG": "1"}
    cmd = _torchrun_tiny(photos, out, "--pretrain-epochs", "1", "--epochs", "1")
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # 7 training photos over 2 ranks: 3 each, batch 1 -> 3 steps an epoch, 6 in all, each logged once
    steps = [e for e in read_jsonl(out / "metrics.jsonl") if e["event"] == "step"]
    assert [e["step"] for e in steps] == [1, 2, 3, 4, 5, 6]
    assert [e["epoch"] for e in read_jsonl(out / "metrics.jsonl") if e["event"] == "epoch"] == [1, 2]
    assert (proc.stdout + proc.stderr).count("done: 6 steps") == 1
    assert sorted(p.name for p in out.iterdir()) == ["best.safetensors", "config.json", "final.safetensors",
                                                     "last.pt", "metrics.jsonl", "samples"]
    state = load_checkpoint(out / "last.pt")
    assert not any(k.startswith("module.") for k in state["discriminator"])  # resumable by any world size
    load_model(out / "final.safetensors")


@pytest.mark.slow
def test_torchrun_stopped_by_sigterm_saves_one_step_all_processes_agree_on(photos: Path, tmp_path: Path) -> None:
    """An audit: a torchrun run was not stopped at a step boundary (its processes' signal handlers were left
    alone: SIGTERM lost every step since the last checkpoint). Both processes stop after the same step, and
    last.pt holds it."""
    import signal
    import time

    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = _torchrun_tiny(photos, out, "--pretrain-epochs", "200", "--epochs", "0", "--checkpoint-every", "1000")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 90
        while time.time() < deadline and proc.poll() is None:
            logged = (out / "metrics.jsonl").read_text() if (out / "metrics.jsonl").exists() else ""
            if logged.count('"event": "step"') >= 4:
                break
            time.sleep(0.05)
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        proc.send_signal(signal.SIGTERM)  # as a scheduler stops a job: to the agent, which passes it on
        output, _ = proc.communicate(timeout=90)
    finally:
        proc.kill()
    steps = [e["step"] for e in read_jsonl(out / "metrics.jsonl") if e["event"] == "step"]
    assert (out / "last.pt").exists(), output
    assert load_checkpoint(out / "last.pt")["step"] == steps[-1] >= 4, (steps, output)


# ---- the CLI: bad inputs, one line, exit code, nothing left behind ----

def _invoke(*args: str):
    return CliRunner().invoke(main, ["train", *args])


def _error_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


def test_cli_missing_data_is_a_usage_error(tmp_path: Path) -> None:
    result = _invoke("--out", str(tmp_path / "run"))
    assert result.exit_code == 2
    assert "--data" in result.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("kwargs", "message"), [
    ("{not json", "--arch-kwargs is not valid JSON"),
    ("[1, 2]", "--arch-kwargs must be a JSON object"),
    ('{"bogus": 1}', "--arch-kwargs"),
])
def test_cli_bad_arch_kwargs(photos: Path, tmp_path: Path, kwargs: str, message: str) -> None:
    result = _invoke("--data", str(photos), "--out", str(tmp_path / "run"), "--arch-kwargs", kwargs,
                     "--device", "cpu", "-q")
    assert result.exit_code == 1
    lines = _error_lines(result)
    assert len(lines) == 1 and message in lines[0] and "FILMCOLOR_DEBUG" not in lines[0], result.stderr
    assert not (tmp_path / "run").exists()


def test_cli_existing_run_needs_resume(photos: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    train(tiny_config(photos, run, max_steps=1))
    before = {p.name: p.stat().st_mtime_ns for p in run.iterdir()}
    result = _invoke("--data", str(photos), "--out", str(run), "--device", "cpu", "-q")
    assert result.exit_code == 1
    lines = _error_lines(result)
    assert len(lines) == 1 and "--resume" in lines[0]
    assert {p.name: p.stat().st_mtime_ns for p in run.iterdir()} == before


def test_cli_folder_without_images(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = _invoke("--data", str(empty), "--out", str(tmp_path / "run"), "--device", "cpu", "-q")
    assert result.exit_code == 1
    lines = _error_lines(result)
    assert len(lines) == 1 and "no training images" in lines[0]
    assert not (tmp_path / "run").exists()


def test_too_few_images_for_a_batch(photos: Path, tmp_path: Path) -> None:
    result = _invoke("--data", str(photos), "--out", str(tmp_path / "run"), "--batch-size", "64", "--device",
                     "cpu", "-q")
    assert result.exit_code == 1
    assert "fewer than one batch" in result.stderr
    assert not (tmp_path / "run").exists()


def test_too_few_usable_images_says_what_was_skipped(tmp_path: Path) -> None:
    data = write_photos(tmp_path / "train", 2, seed=6)
    gray = np.full((80, 96), 120, np.uint8)
    cv2.imwrite(str(data / "gray.png"), gray)
    result = _invoke("--data", str(data), "--out", str(tmp_path / "run"), "--batch-size", "4", "--device", "cpu",
                     "-q")
    assert result.exit_code == 1
    line = _error_lines(result)[0]
    assert "2 usable training images (3 found, 1 grayscale skipped)" in line, line


def test_no_validation_images_writes_no_nan_and_claims_no_best(tmp_path: Path) -> None:
    data = write_photos(tmp_path / "train", 2, seed=7)
    out = tmp_path / "run"
    result = _invoke("--data", str(data), "--out", str(out), "--arch", "pix2pix-unet", "--arch-kwargs",
                     json.dumps(TINY_PIX2PIX), "--no-pretrained-encoder", "--image-size", "64", "--batch-size", "2",
                     "--pretrain-epochs", "1", "--epochs", "0", "--val-size", "0", "--workers", "0", "--device",
                     "cpu", "--threads", "1", "--render-size", "64", "-q")
    assert result.exit_code == 0, result.stderr
    events = read_jsonl(out / "metrics.jsonl")  # every line is valid JSON (no bare NaN)
    assert events[0]["val_images"] == 0
    assert not (out / "best.safetensors").exists() and (out / "final.safetensors").exists()
    said = result.stdout + result.stderr
    assert "best.safetensors" not in said.replace("no best.safetensors", "")
    assert "only final.safetensors is written" in said


def test_val_every_validates_every_nth_epoch_and_the_last(photos: Path, tmp_path: Path) -> None:
    cfg = tiny_config(photos, tmp_path / "run", pretrain_epochs=3, epochs=0, val_every=2, select_metric="psnr")
    train(cfg)
    epochs = [e for e in read_jsonl(tmp_path / "run" / "metrics.jsonl") if e["event"] == "epoch"]
    assert [e["epoch"] for e in epochs] == [1, 2, 3]
    assert ["psnr" in e for e in epochs] == [False, True, True]
    assert (tmp_path / "run" / "best.safetensors").exists()


def test_holdout_trade_scores_the_held_out_photos_and_picks_best(photos: Path, tmp_path: Path) -> None:
    from filmcolor.train.loop import TRADE_DB_PER_RATIO

    held = write_photos(tmp_path / "held", 2, seed=5)
    for path in held.iterdir():
        path.rename(held / path.name.replace("photo", "heldout"))
    val = write_photos(tmp_path / "val", 2, seed=6)  # (val photos are never trained on: not the training ones)
    cfg = tiny_config(photos, tmp_path / "run", pretrain_epochs=1, epochs=0, val_size=0,
                      val_data=(str(val), str(held)), holdout_sources=("heldout",), select_metric="holdout_trade")
    train(cfg)
    (epoch,) = [e for e in read_jsonl(tmp_path / "run" / "metrics.jsonl") if e["event"] == "epoch"]
    expected = epoch["holdout_psnr_gain"] + TRADE_DB_PER_RATIO * epoch["holdout_colorfulness_ratio"]
    assert epoch["holdout_trade"] == pytest.approx(expected, abs=2e-4)
    assert epoch["holdout_psnr_gain"] != epoch["psnr_gain"]  # the held-out photos, not the scored ones
    assert (tmp_path / "run" / "best.safetensors").exists()


@pytest.mark.parametrize("name, value, said", [
    ("batch_size", 0, "--batch-size 0: must be at least 1"),
    ("image_size", 7, "--image-size 7: must be at least 32"),
    ("epochs", -1, "--epochs -1: must not be negative"), ("lr_g", -1.0, "--lr-g -1: must be between 0 and 1"),
    ("lr_pretrain", float("nan"), "--lr-pretrain nan: must be a finite number"),
    ("guide_none", 2.0, "--guide-none 2: must be between 0 and 1"),
    ("mode_sigma", 0.0, "--mode-sigma 0: must be positive"),
    ("select_metric", "banana", "--select-metric banana: expected one of psnr"),
])
def test_values_no_run_can_use_are_refused_by_name(photos: Path, tmp_path: Path, name, value, said) -> None:
    from filmcolor.errors import ConfigError

    with pytest.raises(ConfigError, match=re.escape(said)):
        tiny_config(photos, tmp_path / "run", **{name: value})
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("flag, value, limits", [("--batch-size", "0", "[x>=1]"), ("--beta2", "1", "[0<=x<1]"),
                                                  ("--mode-sigma", "0", "[x>0]"), ("--lr-g", "nan", "[0<=x<=1]"),
                                                  ("--val-every", "0", "[x>=1]")])
def test_train_help_shows_each_limit_and_the_command_line_refuses_as_the_config_does(
        photos: Path, tmp_path: Path, flag, value, limits) -> None:
    helped = CliRunner().invoke(main, ["train", "--help"], terminal_width=400)
    (line,) = [line for line in helped.output.splitlines() if line.strip().startswith(flag + " ")]
    assert limits in line  # (train's help showed no limits: they lived in TrainConfig alone)
    result = CliRunner().invoke(main, ["train", "--data", str(photos), "--out", str(tmp_path / "run"), flag, value])
    assert result.exit_code == 1 and f"{flag}" in result.output and "must" in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1 and not (tmp_path / "run").exists()


def test_a_run_that_diverges_stops_and_writes_no_weights_from_it(photos: Path, tmp_path: Path, monkeypatch) -> None:
    """An audit: a run at --lr-g 1e30 wrote NaN weights as best.safetensors and final.safetensors, exit 0,
    and they coloured every picture white. A loss that is no longer a number stops the run; and since a step's
    loss is taken before its update, the weights are checked before any is saved (a review: a checkpoint
    after each step held the NaN the next step's loss found). Divergence is made here, at step 2."""
    from filmcolor.train.loop import Trainer

    real = Trainer.gan_step

    def nan_loss(self, *args):
        losses = real(self, *args)
        return {**losses, "loss_pixel": float("nan")} if self.step == 1 else losses

    def nan_weights(self, *args):
        losses = real(self, *args)
        if self.step == 1:
            with torch.no_grad():
                next(self.generator.parameters()).fill_(float("nan"))
        return losses

    for spoil, said, every in ((nan_loss, r"diverged at step 2: the pixel loss is nan", 0),
                               (nan_weights, r"diverged by step 2: weight \S+ is no longer a number", 1)):
        monkeypatch.setattr(Trainer, "gan_step", spoil)
        out = tmp_path / spoil.__name__
        with pytest.raises(FilmcolorError, match=said):
            train(tiny_config(photos, out, pretrain_epochs=0, epochs=2, checkpoint_every=every))
        assert not (out / "best.safetensors").exists() and not (out / "final.safetensors").exists()
        if (out / "last.pt").exists():  # step 1's, good
            assert load_checkpoint(out / "last.pt")["step"] == 1


# ---- the options the shipped recipe uses (scripts/train_default.sh) ----

def fast_config(data: Path, out: Path, **overrides) -> TrainConfig:
    base = dict(arch="filmcolor-fast", arch_kwargs={}, crop_mode="random-crop", pixel_loss="smooth_l1",
                pretrain_epochs=1, epochs=0, max_steps=2, val_images=1, sample_images=1)
    base.update(overrides)
    return tiny_config(data, out, **base)


@pytest.mark.slow
def test_frozen_encoder_does_not_move_and_the_decoder_does(photos: Path, tmp_path: Path) -> None:
    from filmcolor.models import create_model
    from filmcolor.weights import save_weights

    start = tmp_path / "start.safetensors"
    save_weights(start, create_model("filmcolor-fast"), "filmcolor-fast", {})
    cfg = fast_config(photos, tmp_path / "run", init_weights=str(start), freeze_encoder_epochs=1)
    result = train(cfg)
    before, _ = load_model(start)
    after, _ = load_model(result.final_weights)
    b, a = before.state_dict(), after.state_dict()
    enc = [k for k in b if k.startswith("encoder.") and b[k].is_floating_point()]
    dec = [k for k in b if not k.startswith("encoder.") and k.endswith("weight")]
    assert all(torch.equal(b[k], a[k]) for k in enc)
    assert any(not torch.equal(b[k], a[k]) for k in dec)


def test_chroma_weight_weighs_saturated_pixels_more() -> None:
    from filmcolor.train.losses import pixel_loss

    target = torch.zeros(1, 2, 4, 4)
    target[..., :2] = 0.6  # a saturated half and a gray half
    pred_sat_wrong = target.clone()
    pred_sat_wrong[..., :2] = 0.4
    pred_gray_wrong = target.clone()
    pred_gray_wrong[..., 2:] = 0.2
    for weight, expect_more in ((0.0, False), (4.0, True)):
        sat = pixel_loss("l1", pred_sat_wrong, target, weight)
        gray = pixel_loss("l1", pred_gray_wrong, target, weight)
        assert (sat > gray * 1.5) == expect_more, (weight, sat, gray)


def test_mode_weight_prefers_one_of_two_colours_to_the_gray_between() -> None:
    from filmcolor.train.losses import pixel_loss

    target = torch.zeros(1, 2, 4, 4)
    target[:, 0, :, :2], target[:, 0, :, 2:] = 0.4, -0.4  # a place that is red in half the photos, green in half
    between, one_mode = torch.zeros_like(target), torch.zeros_like(target)
    one_mode[:, 0] = 0.4
    # L1 is indifferent anywhere between the two; the mode-seeking term makes the mode cheaper
    assert abs(pixel_loss("l1", between, target) - pixel_loss("l1", one_mode, target)) < 1e-6
    with_mode = {name: pixel_loss("l1", pred, target, mode_weight=0.1) for name, pred in
                 (("between", between), ("one_mode", one_mode))}
    assert with_mode["one_mode"] < with_mode["between"] - 0.02


def test_saturation_loss_is_blind_to_hue_and_place_and_asks_for_the_originals_saturation() -> None:
    from filmcolor.train.losses import saturation_loss

    stride = 4  # compared on a grid 4x coarser, as for filmcolor-guided
    gen = torch.Generator().manual_seed(0)
    blocks = torch.rand(2, 2, 6, 6, generator=gen) * 0.8 - 0.4  # normalised ab, one colour per output cell
    target = blocks.repeat_interleave(stride, 2).repeat_interleave(stride, 3)
    rotated = torch.stack([-target[:, 1], target[:, 0]], 1)  # every hue turned by 90 degrees
    moved = target.flip(2).roll(stride, 3)  # the same colours in other places
    assert saturation_loss(target, target, stride) == 0
    assert saturation_loss(rotated, target, stride) < 1e-6 and saturation_loss(moved, target, stride) < 1e-6
    gain = torch.tensor(0.5, requires_grad=True)
    paler = saturation_loss(gain * target, target, stride)
    paler.backward()
    assert paler > 0.02 and gain.grad < 0  # a paler picture is pushed toward the original's saturation
    gain = torch.tensor(1.5, requires_grad=True)
    saturation_loss(gain * target, target, stride).backward()
    assert gain.grad > 0  # and a garish one back


@pytest.mark.slow
def test_training_and_photo_scoring_run_without_pyav(tmp_path: Path) -> None:
    """A GPU box for training may have no video library: training, its validation and `eval` need none."""
    train_dir = write_photos(tmp_path / "train", 4, seed=1)
    val_dir = write_photos(tmp_path / "val", 2, seed=2)
    out = tmp_path / "run"
    code = (
        "import sys\n"
        "sys.modules['av'] = None  # import av now fails, as where PyAV is not installed\n"
        "from filmcolor.cli import main\n"
        "main(sys.argv[1:])\n"
    )
    common = ["--device", "cpu", "--render-size", "64", "-q"]
    runs = [["train", "--data", str(train_dir), "--val-data", str(val_dir), "--out", str(out), "--arch",
             "filmcolor-fast", "--image-size", "64", "--batch-size", "2", "--pretrain-epochs", "1", "--epochs", "0",
             "--workers", "0", "--threads", "1", "--val-images", "2", "--sample-images", "1", *common],
            ["eval", str(val_dir), "--model", str(out / "final.safetensors"), "--runtime", "torch", *common]]
    for args in runs:
        done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
    assert (out / "final.safetensors").is_file()
    assert json.loads(done.stdout)["images"] == 2


@pytest.mark.slow
def test_saturation_weight_adds_its_term_to_the_training_loss(photos: Path, tmp_path: Path) -> None:
    cfg = fast_config(photos, tmp_path / "plain", max_steps=1)
    train(cfg)
    train(dataclasses.replace(cfg, out=str(tmp_path / "sat"), saturation_weight=1.0))
    steps = [e for e in read_jsonl(tmp_path / "sat" / "metrics.jsonl") if "loss_saturation" in e]
    assert steps and steps[0]["loss_saturation"] > 0
    plain, _ = load_model(tmp_path / "plain" / "final.safetensors")
    sat, _ = load_model(tmp_path / "sat" / "final.safetensors")
    pairs = zip(plain.state_dict().values(), sat.state_dict().values(), strict=True)
    moved = max((a - b).abs().max().item() for a, b in pairs if a.is_floating_point())
    assert moved > 1e-6  # the term moves the weights by Adam steps (~lr 1e-4), not rounding (~1e-11)


def test_class_loss_is_lowest_for_the_targets_own_colour_class() -> None:
    from filmcolor.train.losses import AB_CENTRES, class_loss, soft_classes

    red = torch.tensor([[40.0, 30.0]])  # Lab a, b
    soft = soft_classes(red)
    assert soft.sum().item() == pytest.approx(1.0) and (soft > 0).sum().item() == 5
    own = int(torch.cdist(red, AB_CENTRES).argmin())
    assert int(soft.argmax()) == own
    target = (red / 110.0).reshape(1, 2, 1, 1).expand(1, 2, 4, 4)  # normalised ab, 4x4 pixels

    def peaked(at: int) -> torch.Tensor:
        logits = torch.zeros(1, len(AB_CENTRES), 2, 2)
        logits[:, at] = 8.0
        return logits
    gray = int(torch.cdist(torch.zeros(1, 2), AB_CENTRES).argmin())
    right, wrong = class_loss(peaked(own), target), class_loss(peaked(gray), target)
    assert right < wrong - 1.0, (right, wrong)


@pytest.mark.slow
def test_class_weight_trains_a_head_beside_the_network_and_resumes_with_it(photos: Path, tmp_path: Path) -> None:
    cfg = fast_config(photos, tmp_path / "run", arch="filmcolor-guided", class_weight=0.05, max_steps=1)
    train(cfg)
    first = _final_state(tmp_path / "run")["class_head"]
    train(dataclasses.replace(cfg, max_steps=2), resume=True)
    second = _final_state(tmp_path / "run")["class_head"]
    whole = tmp_path / "whole"
    train(dataclasses.replace(cfg, out=str(whole), max_steps=2))
    assert not torch.equal(first["weight"], second["weight"])  # it learns
    assert torch.equal(second["weight"], _final_state(whole)["class_head"]["weight"])  # and resumes exactly
    weights, _ = load_model(whole / "final.safetensors")
    assert not any("class" in key for key in weights.state_dict())  # not shipped


@pytest.mark.slow
def test_guided_generator_starts_from_automatic_weights_and_trains_with_guidance(photos: Path,
                                                                               tmp_path: Path) -> None:
    from filmcolor.models import create_model
    from filmcolor.weights import save_weights

    start = tmp_path / "fast.safetensors"
    fast = create_model("filmcolor-fast")
    save_weights(start, fast, "filmcolor-fast", {})
    cfg = fast_config(photos, tmp_path / "run", arch="filmcolor-guided", init_weights=str(start), max_steps=1,
                      lr_pretrain=0.0, guide_none=0.0, guide_reference=0.5)
    result = train(cfg)
    guided, meta = load_model(result.final_weights)
    assert meta.arch == "filmcolor-guided"
    # lr 0: every learned weight is the starting model's (the guide's new input channels at zero), and with
    # the same normalisation statistics the automatic colour is exactly the starting model's
    params = dict(guided.named_parameters())
    for name, p in fast.named_parameters():
        torch.testing.assert_close(params[name][:, : p.shape[1]] if p.ndim == 4 else params[name], p)
    guided.load_state_dict({**guided.state_dict(), **{k: v for k, v in fast.state_dict().items() if "running" in k}})
    x = torch.rand(1, 1, 64, 64) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(guided(x, torch.zeros(1, 3, 64, 64)), fast.eval()(x))
    epoch = [e for e in read_jsonl(tmp_path / "run" / "metrics.jsonl") if e["event"] == "epoch"]
    assert not epoch or "hints10_psnr_gain" in epoch[-1]


def test_paths_are_recorded_as_given_relative_to_the_working_folder(photos: Path, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "runs" / "r1"
    result = _invoke("--data", str(photos), "--out", str(out), "--arch", "pix2pix-unet", "--arch-kwargs",
                     json.dumps(TINY_PIX2PIX), "--no-pretrained-encoder", "--image-size", "64", "--batch-size", "2",
                     "--pretrain-epochs", "1", "--epochs", "0", "--max-steps", "1", "--workers", "0", "--device",
                     "cpu", "--threads", "1", "--render-size", "64", "--val-images", "1", "-q")
    assert result.exit_code == 0, result.stderr
    recorded = read_meta(out / "final.safetensors").info["config"]
    assert recorded["out"] == "runs/r1"
    assert recorded["data"] == [str(photos)]  # outside the working folder: as given


@pytest.mark.parametrize("content", [b"not a checkpoint", "foreign pickle"])
def test_a_broken_checkpoint_is_one_line(tmp_path: Path, content) -> None:
    from filmcolor.errors import WeightsError
    from filmcolor.train.checkpoint import load_checkpoint

    path = tmp_path / "last.pt"
    if content == "foreign pickle":  # weights_only refuses it with a message of many lines
        import argparse

        torch.save({"config": argparse.Namespace(epochs=1)}, path)
    else:
        path.write_bytes(content)
    with pytest.raises(WeightsError, match="cannot resume from this checkpoint") as info:
        load_checkpoint(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_an_image_size_the_generator_cannot_halve_is_refused_by_name(photos: Path, tmp_path: Path) -> None:
    from filmcolor.errors import ConfigError

    with pytest.raises(ConfigError, match="--image-size 96: 'pix2pix-unet' takes a multiple of 64"):
        train(tiny_config(photos, tmp_path / "run", image_size=96))  # TINY_PIX2PIX halves 6 times


# ---- a fifth audit: a researcher's days of training ----

def test_a_learning_rate_changed_on_resume_is_the_one_trained_with(photos: Path, tmp_path: Path) -> None:
    """An audit: --lr-g (and betas, weight decay) changed on --resume was said to change, recorded in the
    config, and ignored: the optimiser's state put the checkpoint's back."""
    run = tmp_path / "run"
    train(tiny_config(photos, run, max_steps=1))
    train(tiny_config(photos, run, max_steps=2, lr_pretrain=5e-4, beta1=0.9), resume=True)
    groups = load_checkpoint(run / "last.pt")["opt_pre"]["param_groups"]
    assert all(g["base_lr"] == 5e-4 and g["betas"][0] == 0.9 for g in groups), groups
    steps = [e for e in read_jsonl(run / "metrics.jsonl") if e["event"] == "step"]
    assert [e["step"] for e in steps] == [1, 2] and steps[1]["lr"] == pytest.approx(5e-4), steps


def test_what_cannot_change_on_resume_is_one_line(photos: Path, tmp_path: Path, monkeypatch) -> None:
    """An audit: adding --class-weight on --resume crashed ('different number of parameter groups'); a run
    resumed by another number of processes took other photos in its epochs without a word."""
    run = tmp_path / "run"
    cfg = fast_config(photos, run, arch="filmcolor-guided", max_steps=1)
    train(cfg)
    with pytest.raises(ConfigError, match="last.pt: trained without --class-weight; resume with it on or off"):
        train(dataclasses.replace(cfg, class_weight=0.05, max_steps=2), resume=True)
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ConfigError, match="last.pt: trained by 1 process\\(es\\), resumed by 2"):
        train(dataclasses.replace(cfg, max_steps=2), resume=True)


def test_two_trainers_in_one_folder_and_a_file_as_the_folder_are_refused(photos: Path, tmp_path: Path) -> None:
    """An audit: a --resume started while the run still ran trained beside it (exit 0 both, logs interleaved,
    checkpoints overwritten); an --out that is a file ended in an unexpected NotADirectoryError."""
    import fcntl
    import os

    from filmcolor.errors import OutputError
    from filmcolor.train.loop import RUN_LOCK

    run = tmp_path / "run"
    train(tiny_config(photos, run, max_steps=1))
    fd = os.open(run / RUN_LOCK, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a trainer at work
    try:
        with pytest.raises(ConfigError, match="another filmcolor train is running in this folder"):
            train(tiny_config(photos, run, max_steps=2), resume=True)
    finally:
        os.close(fd)
    assert train(tiny_config(photos, run, max_steps=2), resume=True).steps == 2
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(OutputError, match="output folder is a file"):
        train(tiny_config(photos, tmp_path / "a_file", max_steps=1))


def test_validation_of_gray_photos_or_of_one_guided_photo_does_not_crash(photos: Path, tmp_path: Path) -> None:
    """An audit: a --val-data of gray photos (skipped by the scoring) crashed the first validation with a
    KeyError 'psnr', and a guided run with --val-images 1 with a KeyError 'psnr_gain'; the epoch was lost."""
    gray = tmp_path / "gray"
    gray.mkdir()
    for i in range(2):
        cv2.imwrite(str(gray / f"g{i}.png"), np.full((80, 96), 60 + 40 * i, np.uint8))
    result = train(tiny_config(photos, tmp_path / "run", val_data=(str(gray),), val_size=0, max_steps=3))
    assert result.steps == 3
    result = train(fast_config(photos, tmp_path / "guided", arch="filmcolor-guided", val_images=1, max_steps=3))
    assert result.steps == 3
    assert any("hints10_psnr_gain" in e for e in read_jsonl(tmp_path / "guided" / "metrics.jsonl"))


def test_options_that_can_never_work_are_refused_before_the_run(photos: Path, tmp_path: Path) -> None:
    """An audit: --select-metric holdout_psnr with no --holdout-source (or hints10_* with an automatic
    model) ran to the end without a best.safetensors; zero epochs wrote a random network as final;
    --init-weights of other --arch-kwargs ended in a 4 KB RuntimeError."""
    with pytest.raises(ConfigError, match="--select-metric holdout_psnr: scored on --holdout-source photos"):
        tiny_config(photos, tmp_path / "a", select_metric="holdout_psnr")
    with pytest.raises(ConfigError, match="nothing to train"):
        tiny_config(photos, tmp_path / "b", pretrain_epochs=0, epochs=0)
    with pytest.raises(ConfigError, match="--select-metric hints10_psnr_gain: scored with hints"):
        train(tiny_config(photos, tmp_path / "c", select_metric="hints10_psnr_gain"))
    first = train(tiny_config(photos, tmp_path / "d", max_steps=1))
    other = {**TINY_PIX2PIX, "num_filters": 8}
    with pytest.raises(ConfigError, match="built with --arch-kwargs .*, another network than .*num_filters.: 8"):
        train(tiny_config(photos, tmp_path / "e", arch_kwargs=other, init_weights=str(first.final_weights)))
    same = {**TINY_PIX2PIX, "input_c": 1}  # the same network, a default written out (a review: refused)
    assert train(tiny_config(photos, tmp_path / "f", arch_kwargs=same, init_weights=str(first.final_weights),
                             max_steps=1)).steps == 1


def test_a_photo_is_trained_on_once_and_validation_photos_trained_on_are_said(photos: Path, tmp_path: Path) -> None:
    """An audit: --data A --data A/ listed 8 photos as 16, and the split put most of the val photos in training
    too; --val-data inside --data trained on the photos it validated on, unsaid."""
    from filmcolor.train.data import split_paths

    train_paths, val_paths = split_paths((str(photos), str(photos) + "/"), (), 100, 2, seed=0)
    assert len(train_paths) + len(val_paths) == 8 and not set(train_paths) & set(val_paths)
    events: list[dict] = []  # --val-data inside --data (an overfitting check, or a mistake): said
    inner = tmp_path / "inner"
    inner.mkdir()
    for photo in sorted(photos.glob("*"))[:3]:
        (inner / photo.name).symlink_to(photo)
    train(tiny_config(photos, tmp_path / "run", val_data=(str(inner),), val_size=0, max_steps=1),
          progress=events.append)
    assert events[0]["val_also_trained"] == 3 and events[0]["val_images"] == 3


def test_a_full_disk_is_said_as_one_when_a_checkpoint_or_weights_are_written(tmp_path: Path, monkeypatch) -> None:
    """An audit: last.pt on a full disk ended in 'unexpected RuntimeError: [enforce fail at inline_container.cc]',
    best.safetensors in an unexpected SafetensorError."""
    import errno

    from filmcolor.errors import OutputError
    from filmcolor.models import create_model
    from filmcolor.train.checkpoint import save_checkpoint
    from filmcolor.weights import save_weights

    def full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full)
    with pytest.raises(OutputError, match="last.pt: disk full while writing the output"):
        save_checkpoint(tmp_path / "last.pt", {"step": 1, "w": torch.zeros(3)})
    with pytest.raises(OutputError, match="w.safetensors: disk full while writing the output"):
        save_weights(tmp_path / "w.safetensors", create_model("pix2pix-unet", **TINY_PIX2PIX), "pix2pix-unet",
                     TINY_PIX2PIX)
    assert not list(tmp_path.iterdir())


def test_a_readable_file_that_is_no_checkpoint_is_one_line(photos: Path, tmp_path: Path) -> None:
    from filmcolor.errors import WeightsError

    run = tmp_path / "run"
    run.mkdir()
    torch.save({"a": 1}, run / "last.pt")
    with pytest.raises(WeightsError, match="last.pt: not a filmcolor training checkpoint \\(it holds no generator"):
        train(tiny_config(photos, run, max_steps=1), resume=True)


def test_a_terminal_gone_stops_the_telling_not_the_training(photos: Path, tmp_path: Path, monkeypatch) -> None:
    """An audit: `filmcolor train ... | head -1` ended the run after its first epoch (a BrokenPipeError while
    printing), before best.safetensors was written."""
    import filmcolor.cli.train as train_cli

    def gone(*args, **kwargs):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(train_cli.console, "print", gone)
    run = tmp_path / "run"
    result = _invoke("--data", str(photos), "--out", str(run), "--arch", "pix2pix-unet", "--arch-kwargs",
                     json.dumps(TINY_PIX2PIX), "--no-pretrained-encoder", "--image-size", "64", "--batch-size", "2",
                     "--pretrain-epochs", "1", "--epochs", "1", "--workers", "0", "--device", "cpu", "--threads",
                     "1", "--render-size", "64", "--val-size", "2")
    assert result.exit_code == 0, result.stderr
    assert (run / "final.safetensors").exists() and (run / "best.safetensors").exists()


def test_a_stop_saves_the_step_it_came_in_and_resumes_as_if_never_stopped(photos: Path, tmp_path: Path) -> None:
    """An audit: Ctrl-C (or SIGTERM) lost every step since the last checkpoint (up to --checkpoint-every, 200).
    A stop now saves last.pt after the step it came in; resumed, the run reaches the uninterrupted weights."""
    import os
    import signal

    whole = train(tiny_config(photos, tmp_path / "whole"))
    run = tmp_path / "stopped"
    events: list[dict] = []

    def stop_at_step_2(event: dict) -> None:
        events.append(event)
        if event["event"] == "step" and event["step"] == 2:
            os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C: handled after this step

    with pytest.raises(KeyboardInterrupt):
        train(tiny_config(photos, run), progress=stop_at_step_2)
    assert load_checkpoint(run / "last.pt")["step"] == 2
    assert train(tiny_config(photos, run), resume=True).steps == whole.steps
    _assert_same_training_state(_final_state(tmp_path / "whole"), _final_state(run))


def test_a_stopped_run_says_where_it_stands(photos: Path, tmp_path: Path, monkeypatch) -> None:
    """An audit: a clean stop that saved last.pt ended with the generic 'interrupted; nothing half-written was
    left', with no word of last.pt or --resume."""
    import filmcolor.cli.train as train_cli

    def stopped(cfg, resume, progress):
        (Path(cfg.out) / "last.pt").parent.mkdir(parents=True, exist_ok=True)
        (Path(cfg.out) / "last.pt").write_bytes(b"checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(train_cli, "train", stopped)
    monkeypatch.chdir(tmp_path)  # (the run folder is named as given, relative to the working folder: from a
    # working folder above the test's, an absolute --out was shown relative, and the test failed)
    result = CliRunner().invoke(main, ["train", "--data", str(photos), "--out", "run", "-q"])
    assert result.exit_code == 130
    assert f"interrupted: {Path('run') / 'last.pt'} holds the run as it stopped; the same command with --resume" \
        in result.output
