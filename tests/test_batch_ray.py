"""`filmcolor batch --ray`: the same folder gives the same outputs and manifest on a local Ray instance."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
import pytest
from media import decode_video
from test_batch import BAD, GOOD, VIDEO, make_tree, outputs, partials

from filmcolor.batch import BatchOptions, read_manifest, run_local
from filmcolor.options import ModelSpec

ray = pytest.importorskip("ray")

SAME_FIELDS = ("path", "size", "mtime_ns", "status", "output", "kind", "frames", "seconds", "warnings",
               "error")


@pytest.mark.slow
def test_ray_matches_local(tmp_path: Path, test_weights: Path) -> None:
    tree = make_tree(tmp_path / "in")
    spec = ModelSpec(str(test_weights), device="cpu", runtime="torch", render_size=64)
    local_out, ray_out = tmp_path / "local", tmp_path / "ray"
    local = run_local(tree, local_out, spec.load(), VIDEO, BatchOptions(retries=0))

    from filmcolor.batch.ray_runner import run_ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        started = time.perf_counter()
        result = run_ray(tree, ray_out, spec, VIDEO, BatchOptions(retries=0))
        print(f"ray batch: {time.perf_counter() - started:.1f} s")
        rerun = run_ray(tree, ray_out, spec, VIDEO, BatchOptions(retries=0))
    finally:
        ray.shutdown()

    assert sorted(r.path for r in result.done) == sorted(r.path for r in local.done) == sorted(GOOD)
    assert sorted(r.path for r in result.failed) == sorted(BAD)
    assert (len(rerun.done), len(rerun.skipped), len(rerun.failed)) == (0, 4, 2)  # same resume semantics
    local_records, ray_records = read_manifest(local_out), read_manifest(ray_out)
    assert ray_records.keys() == local_records.keys()
    for key, record in ray_records.items():
        mine, theirs = dataclasses.asdict(record), dataclasses.asdict(local_records[key])
        assert {f: mine[f] for f in SAME_FIELDS} == {f: theirs[f] for f in SAME_FIELDS}, key
    assert sorted(outputs(ray_out)) == sorted(outputs(local_out)) and not partials(ray_out)
    for dst in GOOD.values():
        if dst.endswith(".png"):
            continue
        a, b = decode_video(local_out / dst)[1], decode_video(ray_out / dst)[1]
        assert len(a) == len(b)
        assert max(int(np.abs(x.astype(int) - y).max()) for x, y in zip(a, b, strict=True)) <= 2


class _StubRay:
    """Just what RayExecutor asks of Ray before any task runs; init() puts its own SIGTERM handler in place,
    as the real one does (sys.exit)."""

    exceptions = ray.exceptions

    def __init__(self) -> None:
        self.started = False

    def is_initialized(self) -> bool:
        return self.started

    def init(self, **kwargs) -> None:
        self.started = True
        import signal
        import sys

        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(signum))

    def cluster_resources(self) -> dict:
        return {"CPU": 2.0}

    def remote(self, **kwargs):
        return lambda func: func

    def shutdown(self) -> None:
        self.started = False


def test_sigterm_stops_a_ray_batch_as_ctrl_c_does(monkeypatch, test_weights: Path) -> None:
    """An audit: ray.init put its own SIGTERM handler (sys.exit) in place of the CLI's, so a --ray batch
    stopped by systemd or docker ended with exit 1, no summary, its files left 'running'."""
    import signal

    from filmcolor.batch import ray_runner

    monkeypatch.setattr(ray_runner, "_import_ray", _StubRay)
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)  # what the CLI puts there
    try:
        ray_runner.RayExecutor(ModelSpec(str(test_weights), device="cpu"), VIDEO, BatchOptions())
        assert signal.getsignal(signal.SIGTERM) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_ray_batches_give_the_workers_absolute_folders(monkeypatch, tmp_path: Path, test_weights: Path) -> None:
    """An audit: with --ray=auto (a cluster started in another folder) every file of a relative IN_DIR was
    'not found', and a relative OUT_DIR's outputs went beside the cluster's working folder."""
    from filmcolor.batch import ray_runner

    given = {}

    class Stop(Exception):
        pass

    def runner(in_dir, out_dir, *args):
        given.update(in_dir=in_dir, out_dir=out_dir)
        raise Stop

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(ray_runner, "BatchRunner", runner)
    with pytest.raises(Stop):
        ray_runner.run_ray(Path("in"), Path("out"), ModelSpec(str(test_weights), device="cpu"))
    assert given == {"in_dir": tmp_path / "in", "out_dir": tmp_path / "out"}


def test_a_dead_workers_partial_output_is_removed_with_its_failure(tmp_path: Path) -> None:
    """An audit: a file whose worker was killed (beyond its retries) was marked failed, and its partial output
    stayed in OUT_DIR until the next batch."""
    from filmcolor.batch.plan import FileJob
    from filmcolor.batch.ray_runner import RayExecutor
    from filmcolor.fsutil import PARTIAL_MARK

    (tmp_path / "cam").mkdir()
    partial = tmp_path / "cam" / f".a{PARTIAL_MARK}0123abcd.mp4"
    partial.write_bytes(b"half a film")
    job = FileJob(rel="cam/a.mp4", path=tmp_path / "in" / "cam" / "a.mp4", size=1, mtime_ns=0,
                  output_rel="cam/a.mp4", output=tmp_path / "cam" / "a.mp4", kind="video")

    class DeadRay(_StubRay):
        def wait(self, refs, num_returns, timeout):
            return refs, []

        def get(self, ref):
            raise ray.exceptions.WorkerCrashedError()

    executor = RayExecutor.__new__(RayExecutor)
    executor._ray, executor._refs, executor.inflight = DeadRay(), {"ref": job}, 1
    (record,) = executor.collect(timeout=0)
    assert record.status == "failed" and "WorkerCrashedError" in record.error
    assert not partial.exists()
