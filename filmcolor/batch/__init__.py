"""Whole folders, resumably: ``run_local`` on this machine, ``ray_runner.run_ray`` on a Ray cluster."""

from filmcolor.batch.manifest import MANIFEST_NAME, FileRecord, Manifest, read_manifest
from filmcolor.batch.runner import (
    IMAGE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    BatchOptions,
    BatchResult,
    BatchRunner,
    ModelSpec,
    run_local,
)

__all__ = ["IMAGE_EXTENSIONS", "MANIFEST_NAME", "VIDEO_EXTENSIONS", "BatchOptions", "BatchResult",
           "BatchRunner", "FileRecord", "Manifest", "ModelSpec", "read_manifest", "run_local"]
