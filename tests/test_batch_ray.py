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
