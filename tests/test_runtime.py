"""ONNX Runtime path (issue 11): same ab as torch, and an on-disk cache that builds once, loads, and heals."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from filmcolor import runtime
from filmcolor.colorize import Colorizer, image_l
from filmcolor.fsutil import PARTIAL_MARK
from filmcolor.imageio import read_image
from filmcolor.models import create_model
from filmcolor.weights import save_weights

ort = pytest.importorskip("onnxruntime")
RENDER = 64  # short side: keeps each export and run small


def onnx_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.onnx") if PARTIAL_MARK not in p.name)


@pytest.mark.slow
def test_onnx_gives_the_same_ab_as_torch_on_real_photos(busy_weights, shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv(runtime.CACHE_ENV, str(tmp_path / "cache"))
    on_torch = Colorizer.from_pretrained(busy_weights, device="cpu", runtime="torch", render_size=RENDER)
    on_onnx = Colorizer.from_pretrained(busy_weights, device="cpu", runtime="onnx", render_size=RENDER)
    photos = sorted((shared_data / "photos" / "val").glob("*.jpg"))
    full = read_image(photos[0])
    images = [full, full[5:102, 11:72], read_image(photos[3])[:61, :97]]  # as shot, and two odd crops
    shapes = set()
    for image in images:
        l_nhw = image_l(image)[None]
        shapes.add(on_onnx.network_shape(*l_nhw.shape[1:]))
        ab_torch, ab_onnx = on_torch.predict_ab(l_nhw), on_onnx.predict_ab(l_nhw)
        assert ab_onnx.shape == ab_torch.shape
        assert np.abs(ab_torch).std() > 1.0  # a real comparison, not of constants
        assert np.abs(ab_onnx - ab_torch).max() < 1e-3, image.shape  # Lab units
        full_torch, full_onnx = on_torch.colorize_batch(l_nhw), on_onnx.colorize_batch(l_nhw)
        assert full_onnx.shape == (1, *image.shape[:2], 2)
        assert np.abs(full_onnx - full_torch).max() < 1e-3
    assert len(shapes) == 2  # the odd 97 x 61 crop rounds to the full photo's graph; 61 x 97 needs its own
    assert len(onnx_files(tmp_path / "cache")) == len(shapes)  # one fixed-shape graph per network input size


def test_auto_runtime_is_onnx_on_cpu(test_weights):
    assert Colorizer.from_pretrained(test_weights, device="cpu").runtime == "onnx"
    assert Colorizer.from_pretrained(test_weights, device="cpu", runtime="torch").runtime == "torch"


def test_the_torch_runner_leaves_the_process_thread_count_alone(test_weights):
    """A library audit: building a CPU torch runner set torch's thread count for the whole process (a program
    that had chosen 1 thread found every core busy after colouring one picture)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        colorizer = Colorizer.from_pretrained(test_weights, device="cpu", runtime="torch")
        ab = colorizer.colorize_batch(np.full((1, 32, 32), 50.0, np.float32))
        assert ab.shape[0] == 1
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


@pytest.mark.slow
def test_cache_builds_once_loads_after_and_rebuilds_a_truncated_entry(test_weights, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv(runtime.CACHE_ENV, str(cache))
    l_nhw = np.linspace(0, 100, 48 * 80, dtype=np.float32).reshape(1, 48, 80)

    def fresh_prediction() -> np.ndarray:  # a new Colorizer each time: no in-memory runner to reuse
        return Colorizer.from_pretrained(test_weights, device="cpu", runtime="onnx", render_size=RENDER) \
            .predict_ab(l_nhw)

    first = fresh_prediction()
    (entry,) = onnx_files(cache)
    assert entry.parent == cache / "onnx" and runtime.file_digest(test_weights) in entry.name
    inode, mtime, size = entry.stat().st_ino, entry.stat().st_mtime_ns, entry.stat().st_size

    real_export = runtime.export_onnx

    def no_export(*args, **kwargs):
        raise AssertionError("the cached graph should have been loaded, not exported again")

    monkeypatch.setattr(runtime, "export_onnx", no_export)
    np.testing.assert_array_equal(fresh_prediction(), first)
    assert entry.stat().st_ino == inode  # not written again; its time says it was used (prune_cache)
    assert entry.stat().st_mtime_ns >= mtime

    exports = []
    monkeypatch.setattr(runtime, "export_onnx", lambda *a, **k: exports.append(1) or real_export(*a, **k))
    entry.write_bytes(entry.read_bytes()[: size // 3])  # truncated, as by a crash or a full disk
    np.testing.assert_array_equal(fresh_prediction(), first)
    assert entry.stat().st_size == size and len(exports) == 1  # rebuilt whole, once
    assert onnx_files(cache) == [entry] and not list(cache.rglob(f"*{PARTIAL_MARK}*"))


def test_cache_key_follows_the_weights_and_the_shape(tmp_path, test_weights):
    model = create_model("filmcolor-fast")
    other = tmp_path / "other.safetensors"
    save_weights(other, model, "filmcolor-fast", {}, {"note": "different bytes"})
    a = runtime.cache_path(model, test_weights, (1, 1, 64, 96))
    assert a != runtime.cache_path(model, other, (1, 1, 64, 96))
    assert a != runtime.cache_path(model, test_weights, (1, 1, 96, 64))
    assert a == runtime.cache_path(model, test_weights, (1, 1, 64, 96))


def test_the_graph_cache_keeps_the_graphs_used_last_within_its_limit(tmp_path, monkeypatch, test_weights):
    """An audit: the cache grew without end (3.3 GB here): one graph per weights file, shape and part."""
    import os

    folder = tmp_path / "onnx"
    folder.mkdir()
    for age, name in enumerate(["newest", "newer", "older", "oldest"]):
        path = folder / f"{name}.onnx"
        path.write_bytes(b"x" * 100)
        os.utime(path, ns=(10**18 - age * 10**9, 10**18 - age * 10**9))
    (folder / "facts.json").write_text("{}")
    partial = folder / f".another{PARTIAL_MARK}0123abcd.onnx"  # another process's export, still being written
    partial.write_bytes(b"x" * 100)
    os.utime(partial, ns=(1, 1))
    dead = folder / f".killed{PARTIAL_MARK}89abcdef.onnx"  # a killed export's, whose key may never come again
    dead.write_bytes(b"x" * 100)
    import fcntl

    with open(partial, "rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # its writer holds it
        assert runtime.prune_cache(folder, keep=folder / "oldest.onnx", limit=250) == 2
    assert sorted(p.name for p in folder.iterdir()) == [partial.name, "facts.json", "newest.onnx", "oldest.onnx"]
    # every export prunes, and a graph loaded from the cache counts as used
    cache = tmp_path / "cache"
    monkeypatch.setenv(runtime.CACHE_ENV, str(cache))
    monkeypatch.setattr(runtime, "CACHE_LIMIT_BYTES", 1)
    model = create_model("filmcolor-fast").eval()
    first = runtime.OnnxRunner.for_shape(lambda: model, None, (1, 1, 32, 32)).session
    (one,) = onnx_files(cache)
    os.utime(one, ns=(10**9, 10**9))
    assert runtime.OnnxRunner.for_shape(lambda: model, None, (1, 1, 32, 32)).session is not first
    assert one.stat().st_mtime_ns > 10**9
    runtime.OnnxRunner.for_shape(lambda: model, None, (1, 1, 64, 32))
    assert [p.name for p in onnx_files(cache)] != [one.name] and len(onnx_files(cache)) == 1


def test_the_cache_key_follows_the_network_code(tmp_path, monkeypatch, test_weights):
    """An audit: graphs were keyed by the weights alone, so a checkout whose network code differed (same
    weights) loaded the other's graph: a benchmark of a changed network timed the old one. A review: the key
    is the code as imported (files changed under a running process do not move it), read as resources."""
    import importlib.resources
    import shutil

    here = Path(runtime.__file__).parent
    copy = tmp_path / "filmcolor"
    shutil.copytree(here / "models", copy / "models")
    shutil.copy(here / "runtime.py", copy / "runtime.py")
    ours = runtime.code_key()
    assert ours in runtime.cache_path(lambda: None, test_weights, (1, 1, 64, 96)).name
    monkeypatch.setattr(importlib.resources, "files", lambda package: copy)
    try:
        with open(copy / "models" / "fast.py", "a") as fh:
            fh.write("\n# changed\n")
        assert runtime.code_key() == ours  # taken once, when the models were imported
        runtime.code_key.cache_clear()
        assert runtime.code_key() != ours  # another process, started now, runs other code
        (copy / "runtime.py").unlink()
        runtime.code_key.cache_clear()
        assert runtime.code_key()  # no sources to read: the version stands for them
    finally:
        runtime.code_key.cache_clear()


def test_an_in_memory_models_cache_key_follows_every_byte_of_it():
    """An audit: the key summed each tensor, so a model whose last layer's a and b were swapped (the same sums)
    was coloured with the other's cached graph."""
    import torch

    torch.manual_seed(0)
    a = create_model("filmcolor-fast").eval()
    b = create_model("filmcolor-fast").eval()
    b.load_state_dict(a.state_dict())
    key = runtime.cache_path(lambda: a, None, (1, 1, 64, 96))
    assert key == runtime.cache_path(lambda: b, None, (1, 1, 64, 96))  # the same bytes: the same graph
    with torch.no_grad():
        b.head.bias.copy_(b.head.bias.flip(0))  # a and b swapped: every sum and shape as before
    assert not torch.equal(a.head.bias, b.head.bias)
    assert key != runtime.cache_path(lambda: b, None, (1, 1, 64, 96))


def test_onnx_threads_are_the_cores_this_process_may_use(monkeypatch):
    """An audit: every Ray task (OMP_NUM_THREADS=1) and every process pinned to some cores asked ONNX Runtime
    for all of the host's."""
    import os

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert runtime.default_threads() == 1
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert runtime.default_threads() == 2
    monkeypatch.setenv("OMP_NUM_THREADS", "junk")
    assert runtime.default_threads() == 8


CHILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import numpy as np
    from filmcolor import runtime
    from filmcolor.colorize import Colorizer

    weights, barrier, me, out = sys.argv[1], Path(sys.argv[2]), sys.argv[3], sys.argv[4]
    real_export = runtime.export_onnx

    def export_then_wait(model, shape, part="full"):  # both processes have exported before either writes
        data = real_export(model, shape, part)
        (barrier / me).touch()
        deadline = time.time() + 120
        while len(list(barrier.iterdir())) < 2 and time.time() < deadline:
            time.sleep(0.01)
        return data

    runtime.export_onnx = export_then_wait
    colorizer = Colorizer.from_pretrained(weights, device="cpu", runtime="onnx", render_size=64)
    np.save(out, colorizer.predict_ab(np.linspace(0, 100, 48 * 80, dtype=np.float32).reshape(1, 48, 80)))
""")


@pytest.mark.slow
def test_two_processes_building_the_same_entry(test_weights, tmp_path):
    cache, barrier = tmp_path / "cache", tmp_path / "barrier"
    barrier.mkdir()
    env = {**os.environ, runtime.CACHE_ENV: str(cache), "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, str(test_weights), str(barrier), name,
                               str(tmp_path / f"{name}.npy")], env=env, stderr=subprocess.PIPE, text=True)
             for name in ("a", "b")]
    for proc in procs:
        _, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
    assert sorted(p.name for p in barrier.iterdir()) == ["a", "b"]  # both really built the entry
    (entry,) = onnx_files(cache)
    assert not list(cache.rglob(f"*{PARTIAL_MARK}*"))
    ort.InferenceSession(str(entry), providers=["CPUExecutionProvider"])  # one valid file
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))


def test_a_stop_while_onnxruntime_loads_is_a_stop_not_a_missing_package(monkeypatch):
    """An audit: a SIGTERM landing in onnxruntime's import came out as ImportError('initialization failed')
    caused by the KeyboardInterrupt; --runtime auto then took torch and the batch ran to the end, exit 0."""
    import builtins

    from filmcolor import colorize

    real_import = builtins.__import__

    def interrupted(name, *args, **kwargs):
        if name == "onnxruntime":
            try:
                raise KeyboardInterrupt
            except KeyboardInterrupt as stop:
                raise ImportError("initialization failed") from stop
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(__import__("sys").modules, "onnxruntime", raising=False)
    monkeypatch.setattr(builtins, "__import__", interrupted)
    with pytest.raises(KeyboardInterrupt):
        colorize._onnx_available()

    def missing(name, *args, **kwargs):
        if name == "onnxruntime":
            raise ImportError("No module named 'onnxruntime'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", missing)
    assert colorize._onnx_available() is False  # a package that is not there is still just not there


def test_two_threads_needing_the_same_graph_export_it_once(test_weights, tmp_path, monkeypatch):
    """A save in the studio colours outside its lock, beside renders: torch's exporter must not run in two
    threads at once (it traces with global state), and the second thread loads the first one's graph."""
    import threading
    import time

    monkeypatch.setenv(runtime.CACHE_ENV, str(tmp_path / "cache"))
    exports, real_export = [], runtime.export_onnx

    def slow_export(*args, **kwargs):
        exports.append(threading.current_thread().name)
        time.sleep(0.3)  # long enough for the other thread to arrive while this one exports
        return real_export(*args, **kwargs)

    monkeypatch.setattr(runtime, "export_onnx", slow_export)
    colorizer = Colorizer.from_pretrained(test_weights, device="cpu", runtime="onnx", render_size=RENDER)
    shape = (1, 1, RENDER, RENDER)

    runners, errors = in_two_threads(lambda: runtime.OnnxRunner.for_shape(lambda: colorizer.model, test_weights,
                                                                         shape))
    assert not errors and len(runners) == 2
    assert len(exports) == 1, exports
    assert len(onnx_files(tmp_path / "cache")) == 1


@pytest.mark.parametrize("engine", ["onnx", "torch"])
def test_one_colorizer_used_from_two_threads_builds_its_runner_once(test_weights, tmp_path, monkeypatch, engine):
    """An audit: two threads colouring with one new Colorizer crashed (torch: a segfault, model.to() run twice
    at once on one model; onnx: torch's exporter run twice at once)."""
    import threading
    import time

    monkeypatch.setenv(runtime.CACHE_ENV, str(tmp_path / "cache"))
    built, real = [], {"onnx": runtime.OnnxRunner.for_shape, "torch": runtime.TorchRunner}[engine]

    def slow_build(*args, **kwargs):
        built.append(threading.current_thread().name)
        time.sleep(0.3)
        return real(*args, **kwargs)

    if engine == "onnx":
        monkeypatch.setattr(runtime.OnnxRunner, "for_shape", staticmethod(slow_build))
    else:
        monkeypatch.setattr(runtime, "TorchRunner", slow_build)
    colorizer = Colorizer.from_pretrained(test_weights, device="cpu", runtime=engine, render_size=RENDER)
    image = np.random.default_rng(0).integers(0, 255, (RENDER, RENDER), dtype=np.uint8)
    results, errors = in_two_threads(lambda: colorizer.colorize_image(image))
    assert not errors and len(results) == 2, errors
    assert len(built) == 1, built
    np.testing.assert_array_equal(results[0], results[1])


def test_a_cache_that_cannot_be_written_colours_on_and_says_so(test_weights, tmp_path, monkeypatch):
    """An audit: a read-only home (a container, a cluster node) stopped ONNX colouring with an unexpected
    NotADirectoryError; the graph is now kept in memory for the run, and a warning names the folder."""
    from click.testing import CliRunner

    from filmcolor.cli import main
    from filmcolor.errors import FilmcolorWarning
    from filmcolor.imageio import write_image

    (tmp_path / "file").write_bytes(b"")
    monkeypatch.setenv(runtime.CACHE_ENV, str(tmp_path / "file" / "cache"))
    colorizer = Colorizer.from_pretrained(test_weights, device="cpu", runtime="onnx", render_size=RENDER)
    image = np.random.default_rng(0).integers(0, 255, (RENDER, RENDER), dtype=np.uint8)
    with pytest.warns(FilmcolorWarning, match="cannot keep the network's graphs there"):
        colored = colorizer.colorize_image(image)
    torch_colored = Colorizer.from_pretrained(test_weights, device="cpu", runtime="torch",
                                              render_size=RENDER).colorize_image(image)
    assert np.abs(colored.astype(int) - torch_colored.astype(int)).max() <= 1

    write_image(tmp_path / "in.png", image)
    result = CliRunner().invoke(main, ["image", str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png"),
                                       "--model", str(test_weights), "--render-size", str(RENDER)])
    assert result.exit_code == 0, result.stderr
    said = [line for line in result.stderr.splitlines() if "cannot keep" in line]
    assert len(said) == 1 and said[0].startswith(f"warning: {tmp_path / 'file' / 'cache'}"), result.stderr
    assert (tmp_path / "out.png").is_file()


def in_two_threads(call) -> tuple[list, list]:
    """(results, errors) of ``call()`` run in two threads at once (named t0 and t1)."""
    import threading

    results, errors = [], []

    def run() -> None:
        try:
            results.append(call())
        except Exception as err:  # noqa: BLE001 (the caller asserts on them)
            errors.append(err)

    threads = [threading.Thread(target=run, name=f"t{i}") for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results, errors


def test_a_shape_already_built_does_not_wait_for_another_being_exported(test_weights, tmp_path, monkeypatch):
    """A review: the Colorizer's one lock was held across an export (3.5 s for the shipped model), so a picture
    of a size already built waited behind another size's graph (the studio's renders, behind each new size)."""
    import threading
    import time

    monkeypatch.setenv(runtime.CACHE_ENV, str(tmp_path / "cache"))
    colorizer = Colorizer.from_pretrained(test_weights, device="cpu", runtime="onnx", render_size=RENDER)
    small = np.random.default_rng(0).integers(0, 255, (RENDER, RENDER), dtype=np.uint8)
    colorizer.colorize_image(small)  # its graph built
    exporting, real_export = threading.Event(), runtime.export_onnx

    def slow_export(*args, **kwargs):
        exporting.set()
        time.sleep(2.0)
        return real_export(*args, **kwargs)

    monkeypatch.setattr(runtime, "export_onnx", slow_export)
    wide = np.zeros((RENDER, 3 * RENDER), np.uint8)  # another network shape: a new graph
    other = threading.Thread(target=colorizer.colorize_image, args=(wide,))
    other.start()
    assert exporting.wait(30)
    started = time.perf_counter()
    colorizer.colorize_image(small)
    waited = time.perf_counter() - started
    other.join(60)
    assert waited < 1.5, waited  # (it waited the 2 s export before)
