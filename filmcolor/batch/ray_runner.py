"""The same batch on Ray: one task per file, results recorded by the driver as tasks finish.

The driver (``BatchRunner``) discovers, plans, and is the only manifest writer, exactly as locally;
only the executor differs. Each task runs ``worker.process_file`` (the local code path) in a Ray worker with
its own model: ``num_gpus=1`` per task when colouring on CUDA (Ray then gives a GPU worker one file
and recycles it, so GPU memory is released), ``num_cpus=1`` otherwise (a CPU worker keeps its model
loaded between files).

Where it runs:
  filmcolor batch IN -o OUT --ray                  # a Ray instance started here (ray.init())
  filmcolor batch IN -o OUT --ray=auto             # the cluster this machine joined (`ray start` ran here)
  filmcolor batch IN -o OUT --ray=ray://HEAD:10001 # a remote cluster through Ray Client
On a cluster every node needs filmcolor installed (``pip install -e '.[ray]'`` in its checkout), and IN, OUT and
a --model file must be on storage that every node sees under the same path (NFS, a mounted bucket):
workers read inputs and write outputs there directly (atomically), the driver writes the manifest.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any

from filmcolor.batch.manifest import FileRecord
from filmcolor.batch.plan import FileJob
from filmcolor.batch.runner import BatchOptions, BatchResult, BatchRunner
from filmcolor.batch.worker import BatchEvent, process_file
from filmcolor.colorize import Colorizer
from filmcolor.errors import ConfigError, FilmcolorError, WeightsError
from filmcolor.fsutil import remove_stale_partials
from filmcolor.options import ModelSpec
from filmcolor.video.pipeline import VideoOptions
from filmcolor.weights import resolve_weights

LOCAL = "local"  # --ray with no address: start Ray on this machine


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as err:
        raise ConfigError("--ray needs Ray: pip install -e '.[ray]' in the filmcolor checkout") from err
    return ray


@functools.lru_cache(maxsize=2)
def _cached_colorizer(spec: ModelSpec) -> Colorizer:
    """One model per CPU worker process, reused by the files it is given."""
    return spec.load()


def colour_file_task(job: FileJob, spec: ModelSpec, video_options: VideoOptions, retries: int,
                     retry_delay: float) -> FileRecord:
    """Body of one Ray task: build (or reuse) the model, colour the file, return its record."""
    try:
        colorizer = _cached_colorizer(spec)
    except FilmcolorError as err:
        return job.record("failed", error=str(err))
    return process_file(job, colorizer, video_options, retries, retry_delay)


def ray_device(spec: ModelSpec, cluster_gpus: float) -> tuple[str, int]:
    """(device for the workers, GPUs per task): CUDA when asked for, or 'auto' and the cluster has GPUs."""
    if spec.device.startswith("cuda") or (spec.device == "auto" and cluster_gpus > 0):
        if cluster_gpus <= 0:
            raise ConfigError(f"--device {spec.device}: the Ray cluster has no GPUs (use --device cpu)")
        return "cuda", 1  # Ray sets CUDA_VISIBLE_DEVICES to the task's GPU
    if spec.device == "auto":
        return "cpu", 0
    return spec.device, 0


RAY_CONNECT_TIMEOUT_S = 10.0  # Ray itself retries an address where nothing answers for minutes, silently
# Ray's GCS and client server speak gRPC: HTTP/2, which answers a client's preface (and an empty SETTINGS
# frame) with a SETTINGS frame of its own (RFC 9113, 3.4); a web server or a database does not
HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
HTTP2_SETTINGS = 4  # the frame type, the 4th byte of a frame's header


def check_reachable(address: str) -> None:
    """ConfigError unless something accepts a TCP connection at a Ray address (HOST:PORT or ray://HOST:PORT)."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ConfigError(f"--ray {address}: expected auto, HOST:PORT (the head's GCS, 6379) or ray://HOST:PORT "
                          "(its client server, 10001)")
    tls = os.environ.get("RAY_USE_TLS", "").lower() in ("1", "true")  # (a TLS cluster answers no plain preface)
    reply = b""
    deadline = time.monotonic() + RAY_CONNECT_TIMEOUT_S  # for the whole check, however the answer trickles in
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=RAY_CONNECT_TIMEOUT_S) as conn:
            if tls:
                return
            conn.sendall(HTTP2_PREFACE)
            while len(reply) < 9 and (left := deadline - time.monotonic()) > 0:
                conn.settimeout(min(left, 1.0) if reply else left)  # (the rest of a frame comes at once)
                try:
                    part = conn.recv(9 - len(reply))
                except TimeoutError:
                    if reply:  # it answered, briefly: not gRPC (a TLS alert is 7 bytes)
                        break
                    raise
                if not part:
                    break
                reply += part
    except OSError as err:
        why = "no answer" if isinstance(err, TimeoutError) else (err.strerror or str(err))
        raise ConfigError(f"--ray {address}: nothing answers there ({why}); is the cluster's head running "
                          "('ray status' on it)?") from err
    if len(reply) < 9 or reply[3] != HTTP2_SETTINGS:  # (ray.init retried such a server for minutes, printing
        # a C++ warning every 5 s; an audit)
        raise ConfigError(f"--ray {address}: something answers, but not Ray (it speaks no gRPC); the head's "
                          "GCS port is 6379, its client server's 10001")


class RayExecutor:
    """Submits one Ray task per file and collects records with ``ray.wait`` as tasks finish."""

    def __init__(self, spec: ModelSpec, video_options: VideoOptions, options: BatchOptions,
                 address: str | None = LOCAL):
        ray = self._ray = _import_ray()
        self._owns_ray = not ray.is_initialized()
        main_thread = threading.current_thread() is threading.main_thread()  # (signals are set there alone)
        before = signal.getsignal(signal.SIGTERM) if main_thread else None
        if self._owns_ray:
            if address not in (None, LOCAL, "auto"):
                check_reachable(address)
            try:
                ray.init(address=None if address in (None, LOCAL) else address, include_dashboard=False,
                         log_to_driver=False, configure_logging=False)
            except (ConnectionError, RuntimeError, ValueError) as err:
                if address == "auto":
                    raise ConfigError("--ray auto: no Ray cluster runs on this machine (start one with 'ray start "
                                      "--head', or give --ray=ray://HEAD:10001)") from err
                raise ConfigError(f"--ray {address}: cannot connect to Ray ({err})") from err
            if before is not None and signal.getsignal(signal.SIGTERM) is not before:
                # ray.init put its own SIGTERM handler (sys.exit) in place of the CLI's clean stop: a batch
                # stopped by systemd or docker ended with exit 1, its files left 'running' (an audit)
                signal.signal(signal.SIGTERM, before)
        resources = ray.cluster_resources()
        device, gpus = ray_device(spec, float(resources.get("GPU", 0)))
        if Path(spec.model).exists():  # a weights file: workers need the same absolute path
            spec = dataclasses.replace(spec, model=str(Path(spec.model).resolve()))
        self.spec = dataclasses.replace(spec, device=device)
        if not resolve_weights(self.spec.model).exists():  # fail fast, here, not once per file
            raise WeightsError(f"{self.spec.model}: weights file not found")
        slots = resources.get("GPU", 0) if gpus else resources.get("CPU", 1)
        self.capacity = options.jobs or max(1, int(slots))
        self.inflight = 0
        self._video_options = video_options
        self._options = options
        # Ray retries a task whose worker died (OOM-killed, node lost); process_file retries errors itself
        self._task = ray.remote(num_cpus=1, num_gpus=gpus, max_retries=options.retries,
                                retry_exceptions=False)(colour_file_task)
        self._refs: dict[Any, FileJob] = {}

    def submit(self, job: FileJob) -> None:
        ref = self._task.remote(job, self.spec, self._video_options, self._options.retries,
                                self._options.retry_delay)
        self._refs[ref] = job
        self.inflight += 1

    def collect(self, timeout: float) -> list[FileRecord]:
        ray = self._ray
        if not self._refs:
            return []
        ready, rest = ray.wait(list(self._refs), num_returns=1, timeout=timeout)
        if ready and rest:
            ready += ray.wait(rest, num_returns=len(rest), timeout=0)[0]
        out = []
        for ref in ready:
            job = self._refs.pop(ref)
            self.inflight -= 1
            try:
                out.append(ray.get(ref))
            except ray.exceptions.TaskCancelledError:
                out.append(job.record("interrupted", error="interrupted"))
            except ray.exceptions.RayError as err:  # the worker or its node died, beyond max_retries
                lines = str(err).strip().splitlines()
                reason = f"ray: {type(err).__name__}: {lines[-1] if lines else ''}"
                out.append(job.record("failed", error=reason))
                if job.output_rel:  # the dead worker's partial output (it stayed until the next batch; an audit)
                    remove_stale_partials(job.output.parent, of=job.output)
        return out

    def cancel(self) -> None:
        for ref in list(self._refs):  # running tasks get a KeyboardInterrupt: their partials are removed
            self._ray.cancel(ref)

    def shutdown(self) -> None:
        if self._owns_ray and self._ray.is_initialized():
            self._ray.shutdown()


def run_ray(in_dir: Path, out_dir: Path, spec: ModelSpec, video_options: VideoOptions = VideoOptions(),
            options: BatchOptions = BatchOptions(), address: str | None = LOCAL,
            on_event: BatchEvent | None = None) -> BatchResult:
    """Like ``runner.run_local`` but each file is a Ray task; ``address`` as for ``ray.init``. The folders are
    made absolute: the workers of a cluster started elsewhere have their own working folder (an audit: with
    --ray=auto every file of a relative IN_DIR was 'not found', or its outputs went beside that folder)."""
    in_dir, out_dir = Path(in_dir).absolute(), Path(out_dir).absolute()
    runner = BatchRunner(in_dir, out_dir, options, on_event, video_options)  # checks them before Ray starts
    return runner.run(RayExecutor(spec, video_options, options, address))
