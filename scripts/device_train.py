"""Train for a fixed number of minutes on a lent machine: measure the speed, fit a whole schedule, return weights.

    python scripts/device_train.py --minutes 8 --out "$OUT" [--pack .pack] [--store /tmp/filmcolor_pack]
                                   [--stage-only] [--gan] -- TRAIN_OPTION ...
    python scripts/device_train.py --epochs 6 --val-every 3 --out "$OUT" ... -- TRAIN_OPTION ...

A device machine is lent for minutes and takes 64 MiB a call, so the training photos travel packed
(scripts/pack_photos.py) as PACK/train_* shards and PACK/val* ones. They are copied into STORE, outside the
working tree, where shards carried by earlier calls to the same (still warm) machine are kept:
--stage-only stops there, so that two calls can carry all the photos.

Then `filmcolor train TRAIN_OPTION ...` runs twice on every train_* shard in STORE (--data) and every
val* one (--val-data): first one short epoch of CALIBRATION_STEPS steps, with its validation, to time this
machine's steps (from when they appear in its log) and one validation; it runs two epochs of
CALIBRATION_STEPS / 2 steps, because with --cache-images the first epoch decodes every photo and runs
several times slower than the rest (161 against 700 img/s on an H200); then as many whole epochs
(--pretrain-epochs) as fit in the minutes left, validated every few (--val-every) so that validation
takes at most VALIDATION_SHARE of the time, and the learning-rate schedule ends where the time does.
With --gan the epochs are the conditional GAN's (--epochs) instead, with no pixel-loss phase.
--epochs N skips the calibration and runs N epochs, validated every --val-every: for a machine whose speed
is known from an earlier call. The calibration can under-count it: on 2026-12-04 (runs/gpu3) its short
second epoch ran at 188 img/s, so it planned one epoch for 7 minutes, and the run ended after 251 s.
Both GPU runs so far sped up within their first epoch only (150-160 img/s over it, 700-870 after), and
a validation of 294 photos took 44 s. Not measured yet, a guess to test first on the next machine:
kernels chosen per new tensor shape (the reference samples' encoder pass has a random batch size, every
validation photo its own shape). On a 2-core CPU a batch size the encoder has not seen costs ~100 ms more
on its first pass; 294 shapes in 44 s would be ~0.15 s a shape there.
TRAIN_OPTION must not set --data, --val-data, --out, --pretrain-epochs, --epochs, --max-steps or
--val-every. The run's final and best weights, metrics and config are copied to --out, with a log of
both runs.

A shard travels best as one tar file (PACK/train_0.tar): the 64 MiB is counted in disk blocks, and
thousands of small photos take a third more blocks than bytes. The repository itself takes about 20 MiB.

A GPU session's recipe (the held-out split travels in val_holdout, so that --holdout-source scores it):

    # here, once (.pack and .pack_b listed in .git/info/exclude); 37 MB, 37 MB, 3.7 MB and 2.2 MB
    python scripts/pack_photos.py ../shared/data/photos/train --out .pack/train_0.tar --shards 2 --shard 0 \
        --exclude-source debian --exclude-source dreambooth          # and --shard 1 --out .pack_b/train_1.tar
    python scripts/pack_photos.py ../shared/data/photos/val --out .pack_b/val.tar --no-crop --size 256 \
        --quality 85 --first 160
    python scripts/pack_photos.py ../shared/data/photos/train --out .pack_b/val_holdout.tar --no-crop \
        --size 256 --quality 85 --only-source debian --only-source dreambooth
    # device call 1, carry [".pack"]:   PYTHONPATH=$PWD python3 scripts/device_train.py --stage-only
    # device call 2 at once (a warm machine waits 30 s), carry [".pack_b"]:
    #   PYTHONPATH=$PWD python3 scripts/device_train.py --pack .pack_b --minutes 9 --out "$OUT" -- \
    #       --device cuda --workers 12 --holdout-source debian --holdout-source dreambooth ...  (the run's options)
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import _checkout  # noqa: F401  (this checkout's filmcolor)

from filmcolor.imageio import list_images
from filmcolor.train.config import TrainConfig

CALIBRATION_STEPS = 60
VALIDATION_SHARE = 0.15  # of the time left: validations every few epochs cost at most this much
RESERVED_S = 90.0  # the real run's start-up (its photos decoded into memory), last save and the copy back
POLL_S = 0.2
OWNED = ("--data", "--val-data", "--out", "--pretrain-epochs", "--epochs", "--max-steps", "--val-every")


def stage(pack: Path, store: Path) -> list[Path]:
    """Copy the carried shards (folders, or NAME.tar files of one) into ``store``, keeping earlier calls'
    ones; the training shards there."""
    store.mkdir(parents=True, exist_ok=True)
    for shard in sorted(pack.glob("*")) if pack.is_dir() else []:
        if shard.is_dir() and not (store / shard.name).exists():
            shutil.copytree(shard, store / shard.name)
        elif shard.suffix == ".tar" and not (store / shard.stem).exists():
            with tarfile.open(shard) as archive:
                archive.extractall(store / shard.stem, filter="data")
    return sorted(p for p in store.glob("train_*") if p.is_dir())


def train(options: list[str], log, **owned: object) -> tuple[list[tuple[float, int]], float]:
    """Run `filmcolor train` with ``options`` plus the owned ones; when (seconds from its start) each step
    its log showed appeared there, and when it ended."""
    args = [sys.executable, "-m", "filmcolor", "train", *options, "-q"]
    for name, value in owned.items():
        for item in value if isinstance(value, list) else [value]:
            args += [f"--{name.replace('_', '-')}", str(item)]
    log.write(f"$ {' '.join(args)}\n")
    log.flush()
    metrics = Path(str(owned["out"])) / "metrics.jsonl"
    start, seen, lines = time.monotonic(), [], 0
    process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    while True:
        ended = process.poll() is not None
        events = metrics.read_text().splitlines() if metrics.exists() else []
        for line in events[lines:]:
            if '"event": "step"' in line:
                seen.append((time.monotonic() - start, int(json.loads(line)["step"])))
        lines = len(events)
        if ended:
            break
        time.sleep(POLL_S)
    if process.returncode:
        raise SystemExit(f"filmcolor train failed (exit {process.returncode}); see device_train.log")
    return seen, time.monotonic() - start


def images_per_second(seen: list[tuple[float, int]], batch: int) -> float:
    """The steady speed of a run: images between the first and the last step it logged, over the time
    between them (the first step's start-up left out)."""
    if len(seen) < 2 or seen[-1][0] <= seen[0][0]:
        raise SystemExit("the calibration run logged too few steps to time; raise CALIBRATION_STEPS")
    return (seen[-1][1] - seen[0][1]) * batch / (seen[-1][0] - seen[0][0])


def option(options: list[str], name: str, default: object) -> object:
    """The value ``options`` give the `filmcolor train` option ``name`` (the last one wins), else ``default``."""
    value = default
    for i, item in enumerate(options):
        if item == name and i + 1 < len(options):
            value = options[i + 1]
        elif item.startswith(name + "="):
            value = item.split("=", 1)[1]
    return value


def calibrate(options: list[str], log, common: dict, phase: str, idle: str, seconds: float) -> tuple[int, int]:
    """Time two short epochs of ``options`` on this machine; the epochs that fit in ``seconds`` (less
    RESERVED_S) and how often to validate them."""
    start = time.monotonic()
    calibration = Path("/tmp/filmcolor_calibration")
    shutil.rmtree(calibration, ignore_errors=True)
    batch = int(option(options, "--batch-size", TrainConfig.batch_size))
    half = CALIBRATION_STEPS // 2
    seen, end = train(options, log, **common, out=calibration, **{phase: 2, idle: 0}, train_size=half * batch,
                      val_every=2)
    cold = images_per_second([s for s in seen if s[1] <= half], batch)
    rate = images_per_second([s for s in seen if s[1] > half], batch)
    validation = end - seen[-1][0]  # one validation, the saves and the exit (a bound)
    size = min(int(option(options, "--train-size", TrainConfig.train_size)), len(list_images(common["data"])))
    first_s, epoch_s = size // batch * batch / cold, size // batch * batch / rate
    left = seconds - (time.monotonic() - start) - RESERVED_S
    checks = max(1, math.floor(VALIDATION_SHARE * left / validation))
    epochs = 1 + max(0, math.floor((left - checks * validation - first_s) / epoch_s))
    every = max(1, math.ceil(epochs / checks))
    print(f"{cold:.0f} img/s in the first epoch, {rate:.0f} after: {first_s:.0f} s, then {epoch_s:.0f} s an "
          f"epoch; {validation:.0f} s a validation; {left:.0f} s left: {epochs} epoch(s), validated every {every}")
    return epochs, every


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, help="wall-clock minutes for this whole script")
    parser.add_argument("--epochs", type=int, help="run this many epochs, without calibrating (not with --minutes)")
    parser.add_argument("--val-every", type=int, default=1, help="with --epochs: validate every this many")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--pack", type=Path, default=Path(".pack"))
    parser.add_argument("--store", type=Path, default=Path("/tmp/filmcolor_pack"))
    parser.add_argument("--stage-only", action="store_true")
    parser.add_argument("--gan", action="store_true", help="fit GAN epochs (--epochs), not pixel-loss ones")
    parser.add_argument("train_options", nargs="*", metavar="TRAIN_OPTION")
    args = parser.parse_args()
    start = time.monotonic()
    clash = [o for o in args.train_options if o.split("=")[0] in OWNED]
    if clash:
        parser.error(f"{', '.join(clash)}: set by this script")
    shards = stage(args.pack, args.store)
    print(f"{args.store}: {len(shards)} training shard(s): {', '.join(s.name for s in shards)}")
    if args.stage_only:
        return
    if (args.minutes is None) == (args.epochs is None) or args.out is None:
        parser.error("--out and one of --minutes and --epochs are needed unless --stage-only")
    if args.epochs is not None and (args.epochs < 1 or args.val_every < 1):
        parser.error("--epochs and --val-every must be at least 1")
    vals = sorted(p for p in args.store.glob("val*") if p.is_dir())
    if not shards or not vals:
        raise SystemExit(f"{args.store}: needs train_* and val* shards (scripts/pack_photos.py)")
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "device_train.log", "w") as log:
        common = dict(data=shards, val_data=vals)
        phase = "epochs" if args.gan else "pretrain_epochs"  # the phase whose epochs fill the time
        idle = "pretrain_epochs" if args.gan else "epochs"
        if args.epochs is not None:
            epochs, every = args.epochs, args.val_every
        else:
            epochs, every = calibrate(args.train_options, log, common, phase, idle, args.minutes * 60.0 - (
                time.monotonic() - start))
        run = Path("/tmp/filmcolor_run")
        shutil.rmtree(run, ignore_errors=True)
        took = train(args.train_options, log, **common, out=run, **{phase: epochs, idle: 0}, val_every=every)[1]
    print(f"trained {epochs} epoch(s) in {took:.0f} s; {time.monotonic() - start:.0f} s in all")
    for name in ("final.safetensors", "best.safetensors", "metrics.jsonl", "config.json"):
        if (run / name).exists():
            shutil.copy2(run / name, args.out / name)


if __name__ == "__main__":
    main()
